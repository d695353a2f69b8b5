//! The operator key commands: `operator key-status`, `operator rotate` (a new barrier key), `operator rekey` and
//! `operator rotate-keys` (new unseal key shares, with optional verification), and `operator generate-root` (a new
//! root token from a quorum of shares, returned XORed with a one-time pad).
//!
//! As in the reference, `rekey` is the deprecated form: it calls the legacy unauthenticated `sys/rekey/*`
//! endpoints (which servers answer 405 unless their listener enables them), while `rotate-keys` calls the
//! authenticated `sys/rotate/root/*`. Both share one implementation with their own wording ([`Flavor`]).
//! Answers are read the way the reference's API structs decode them (absent fields are zero values) and printed in
//! those structs' field order.

use std::io::Read;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::basic::{read_hidden_then, USER_CANCELED};
use super::{client, cmd, fail, no_args, tri};
use crate::cli::api::{ApiError, Client, Request, Secret};
use crate::cli::base::{no_flags, Base, Command, FORMAT, HTTP};
use crate::cli::flags::{flag, Def, Flags, Kind};
use crate::cli::format::{columnize, go_json_ordered, ordered_to_value, table_output, wrap_at_length};
use crate::cli::output::{output_data, output_secret, print_raw, Data};

pub fn commands() -> Vec<Command> {
    vec![
        cmd("operator key-status", "Provides information about the active encryption key", "[options]", "  Provides information about the active barrier encryption key: its term, when it was installed and how\n  many encryptions it has done.\n\n      $ vault operator key-status\n", HTTP | FORMAT, no_flags, key_status),
        cmd("operator rotate", "Rotates the underlying encryption key", "[options]", "  Installs a new barrier encryption key in the keyring. New data is written with the new key; older keys\n  stay in the keyring to read older data. The server stays online.\n\n      $ vault operator rotate\n", HTTP | FORMAT, no_flags, rotate),
        cmd("operator rekey", "Generates new unseal keys", "[options] [KEY]", "  Deprecated form of \"vault operator rotate-keys\": it uses the legacy unauthenticated sys/rekey\n  endpoints, which servers refuse unless their listener enables them.\n\n  Generates a new set of unseal key shares from a quorum of the current ones. KEY is an unseal key share;\n  \"-\" reads it from stdin, and without it the key is asked for on the terminal without echo.\n\n      $ vault operator rekey -init -key-shares=5 -key-threshold=3\n      $ vault operator rekey -nonce=... KEY\n", HTTP | FORMAT, rekey_flags, rekey),
        cmd("operator rotate-keys", "Rotates barrier root key, unseal keys or recovery keys depending on parameters and the type of seal used.", "[options] [KEY]", "  Generates a new set of unseal key shares from a quorum of the current ones. This can change the number\n  of shares and the threshold. The server stays online. KEY is an unseal key share; \"-\" reads it from\n  stdin, and without it the key is asked for on the terminal without echo.\n\n  Start a rotation, then enter a quorum of current shares:\n\n      $ vault operator rotate-keys -init -key-shares=5 -key-threshold=3\n      $ vault operator rotate-keys -nonce=... KEY\n\n  With -verify at -init, the new shares only take effect once a quorum of them is entered with -verify.\n", HTTP | FORMAT, rotate_keys_flags, rotate_keys),
        cmd("operator generate-root", "Generates a new root token", "[options] [KEY]", "  Generates a new root token from a quorum of unseal key shares. The token is returned XORed with a\n  one-time password (OTP): start with -init (an OTP is generated and shown, or give yours with -otp), enter\n  the shares, then decode the encoded token with -decode and -otp.\n\n      $ vault operator generate-root -generate-otp\n      $ vault operator generate-root -init -otp=...\n      $ vault operator generate-root -nonce=... KEY\n      $ vault operator generate-root -decode=... -otp=...\n", HTTP | FORMAT, generate_root_flags, generate_root),
    ]
}

// Reading answers as the reference's structs decode them.

fn int(v: &Value, k: &str) -> Value {
    Value::from(v.get(k).and_then(Value::as_i64).unwrap_or(0))
}

fn boolean(v: &Value, k: &str) -> Value {
    Value::Bool(v.get(k).and_then(Value::as_bool).unwrap_or(false))
}

fn string(v: &Value, k: &str) -> Value {
    Value::from(v.get(k).and_then(Value::as_str).unwrap_or_default())
}

/// A `[]string` field: `null` when absent.
fn list(v: &Value, k: &str) -> Value {
    match v.get(k) {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ => Value::Null,
    }
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

fn get_str(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn get_int(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn get_bool(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// `RotateStatusResponse` (`complete`, `keys` and `keys_base64` are omitted when empty).
fn rotate_status_fields(v: &Value) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if get_bool(v, "complete") {
        out.push(("complete", Value::Bool(true)));
    }
    for k in ["keys", "keys_base64"] {
        if !strings(v, k).is_empty() {
            out.push((k, list(v, k)));
        }
    }
    out.extend([
        ("nonce", string(v, "nonce")),
        ("started", boolean(v, "started")),
        ("t", int(v, "t")),
        ("n", int(v, "n")),
        ("progress", int(v, "progress")),
        ("required", int(v, "required")),
        ("pgp_fingerprints", list(v, "pgp_fingerprints")),
        ("backup", boolean(v, "backup")),
        ("verification_required", boolean(v, "verification_required")),
        ("verification_nonce", string(v, "verification_nonce")),
    ]);
    out
}

/// `RotateUpdateResponse` (`verification_nonce` omitted when empty).
fn rotate_update_fields(v: &Value) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ("nonce", string(v, "nonce")),
        ("complete", boolean(v, "complete")),
        ("keys", list(v, "keys")),
        ("keys_base64", list(v, "keys_base64")),
        ("pgp_fingerprints", list(v, "pgp_fingerprints")),
        ("backup", boolean(v, "backup")),
        ("verification_required", boolean(v, "verification_required")),
    ];
    if !get_str(v, "verification_nonce").is_empty() {
        out.push(("verification_nonce", string(v, "verification_nonce")));
    }
    out
}

/// `RotateVerificationStatusResponse`.
fn verify_status_fields(v: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("nonce", string(v, "nonce")),
        ("started", boolean(v, "started")),
        ("t", int(v, "t")),
        ("n", int(v, "n")),
        ("progress", int(v, "progress")),
    ]
}

/// `GenerateRootStatusResponse`.
fn generate_root_fields(v: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("nonce", string(v, "nonce")),
        ("started", boolean(v, "started")),
        ("progress", int(v, "progress")),
        ("required", int(v, "required")),
        ("complete", boolean(v, "complete")),
        ("encoded_token", string(v, "encoded_token")),
        ("encoded_root_token", string(v, "encoded_root_token")),
        ("pgp_fingerprint", string(v, "pgp_fingerprint")),
        ("otp", string(v, "otp")),
        ("otp_length", int(v, "otp_length")),
    ]
}

/// `OutputData` of a struct: its fields in order for JSON, sorted for YAML.
fn output_fields(b: &mut Base, fields: &[(&str, Value)]) -> i32 {
    if b.format() == "json" {
        let s = go_json_ordered(fields);
        b.ui.output(&s);
        return 0;
    }
    output_data(&mut b.ui, Data::Value(&ordered_to_value(fields)))
}

/// The answer's `data` (the authenticated endpoints) or the answer itself (the legacy ones).
fn unwrap_data(body: Value, wrapped: bool) -> Value {
    if !wrapped {
        return body;
    }
    match body {
        Value::Object(mut m) => m.remove("data").unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn call(c: &mut Client, method: &str, path: &str, body: Option<Value>, wrapped: bool) -> Result<Value, ApiError> {
    let mut req = Request::new(method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    c.json(req).map(|v| unwrap_data(v, wrapped))
}

/// Everything on stdin (nothing with `-non-interactive`).
fn read_stdin(b: &Base) -> Result<String, String> {
    let mut text = String::new();
    if let Some(mut stdin) = b.stdin() {
        stdin.read_to_string(&mut text).map_err(|e| e.to_string())?;
    }
    Ok(text)
}

// key-status and rotate.

/// Go's `time.Time` JSON form (RFC 3339 with nanoseconds, trailing zeros dropped) of the server's install time.
fn go_time_json(s: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) else {
        return "0001-01-01T00:00:00Z".into();
    };
    let nanos = format!("{:09}", t.timestamp_subsec_nanos());
    let fraction = nanos.trim_end_matches('0');
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    let zone = if t.offset().local_minus_utc() == 0 {
        "Z".to_string()
    } else {
        t.format("%:z").to_string()
    };
    format!("{}{fraction}{zone}", t.format("%Y-%m-%dT%H:%M:%S"))
}

fn output_key_status(b: &mut Base, status: &Value, success_line: bool) -> i32 {
    let term = get_int(status, "term");
    let install = get_str(status, "install_time");
    let encryptions = get_int(status, "encryptions");
    if b.ui.is_table() {
        let when = chrono::DateTime::parse_from_rfc3339(&install)
            .map(|t| t.with_timezone(&chrono::Utc).format("%d %b %y %H:%M UTC").to_string())
            .unwrap_or_else(|_| "01 Jan 01 00:00 UTC".into());
        if success_line {
            b.ui.output("Success! Rotated key");
            b.ui.output("");
        }
        let rows = vec![
            format!("Key Term | {term}"),
            format!("Install Time | {when}"),
            format!("Encryption Count | {encryptions}"),
        ];
        let t = columnize(&rows, "|");
        b.ui.output(&t);
        return 0;
    }
    let fields: Vec<(&str, Value)> = vec![
        ("term", Value::from(term)),
        ("install_time", Value::from(go_time_json(&install))),
        ("encryptions", Value::from(encryptions)),
    ];
    output_fields(b, &fields)
}

fn read_key_status(b: &mut Base) -> Result<Value, i32> {
    let c = b.client().map_err(|_| 2)?;
    let secret = c
        .raw(Request::new("GET", "sys/key-status"))
        .and_then(|resp| Secret::parse(&resp.body).map_err(ApiError::Other));
    match secret {
        Ok(Some(secret)) if secret.data_map().is_some() => Ok(secret.data),
        Ok(_) => {
            b.ui.error("Error reading key status: data from server response is empty");
            Err(2)
        }
        Err(e) => Err(fail(b, "Error reading key status", &e)),
    }
}

fn key_status(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    tri!(client(b, 2));
    let status = tri!(read_key_status(b));
    output_key_status(b, &status, false)
}

fn rotate(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    let c = tri!(client(b, 2));
    if let Err(e) = c.raw(Request::new("POST", "sys/rotate/keyring")) {
        return fail(b, "Error rotating key", &e);
    }
    let status = tri!(read_key_status(b));
    output_key_status(b, &status, true)
}

// rekey and rotate-keys.

fn shares_flags(target_usage: &'static str, words: [&'static str; 4]) -> Vec<Def> {
    let [init, cancel, status, verify] = words;
    vec![
        flag("init", Kind::Bool, "false", init),
        flag("cancel", Kind::Bool, "false", cancel),
        flag("status", Kind::Bool, "false", status),
        flag("key-shares", Kind::Int, "5", "Number of key shares to split the generated root key into. This is the number of \"unseal keys\" or \"recovery keys\" to generate.").aliases(&["n"]),
        flag("key-threshold", Kind::Int, "3", "Number of key shares required to reconstruct the root key. This must be less than or equal to -key-shares.").aliases(&["t"]),
        flag("nonce", Kind::Str, "", "Nonce value provided at initialization. The same nonce value must be provided with each unseal or recovery key."),
        flag("target", Kind::Str, "barrier", target_usage),
        flag("verify", Kind::Bool, "false", verify),
        flag("pgp-keys", Kind::PgpKeys, "", "Comma-separated list of paths to files on disk containing public PGP keys. This server refuses PGP-encrypted key shares."),
        flag("backup", Kind::Bool, "false", "Store a backup of the PGP-encrypted keys in the server (PGP only)."),
        flag("backup-delete", Kind::Bool, "false", "Delete any stored backup unseal or recovery keys."),
        flag("backup-retrieve", Kind::Bool, "false", "Retrieve the backed-up unseal or recovery keys."),
    ]
}

fn rekey_flags() -> Vec<Def> {
    shares_flags(
        "Target for rekeying. \"recovery\" only applies for auto-seals.",
        [
            "Initialize the rekeying operation. This can only be done if no rekeying operation is in progress. Customize the new number of key shares and key threshold using the -key-shares and -key-threshold flags.",
            "Reset the rekeying progress. This will discard any submitted unseal keys, recovery keys, or configuration.",
            "Print the status of the current attempt without providing an unseal or recovery key.",
            "Indicates that the action (-status, -cancel, or providing a key share) will be affecting verification for the current rekey attempt.",
        ],
    )
}

fn rotate_keys_flags() -> Vec<Def> {
    shares_flags(
        "Target for rotation. \"recovery\" only applies when HSM support is enabled.",
        [
            "Initialize the rotation. This can only be done if there's not one in progress. Customize the new number of key shares and threshold using the -key-shares and -key-threshold flags respectively.",
            "Reset the rotation progress. This will discard any submitted unseal keys, recovery keys, or configuration.",
            "Print the status of the current attempt without providing an unseal or recovery key.",
            "Indicates that the action (-status, -cancel, or providing a key share) will be affecting verification for the current rotation attempt.",
        ],
    )
}

/// The two commands' differences: endpoints and wording.
struct Flavor {
    legacy: bool,
    command: &'static str,
    /// "rekey" / "rotation", in "Error initializing ...", "Error canceling ...", "If you cancel the ... process".
    noun: &'static str,
    /// "rekey" / "rotate", in "Error reading ... status".
    status_noun: &'static str,
    cancelled: &'static str,
    not_started: &'static str,
    verified: &'static str,
    /// "rekeyed" / "rotated".
    done: &'static str,
}

const REKEY: Flavor = Flavor {
    legacy: true,
    command: "rekey",
    noun: "rekey",
    status_noun: "rekey",
    cancelled: "Success! Canceled rekeying (if it was started)",
    not_started: "No rekey is in progress. Start a rekey process by running \"vault operator rekey -init\".",
    verified: "Rekey verification successful. The rekey operation is complete and the new keys are now active.",
    done: "rekeyed",
};

const ROTATE_KEYS: Flavor = Flavor {
    legacy: false,
    command: "rotate-keys",
    noun: "rotation",
    status_noun: "rotate",
    cancelled: "Success! Canceled rotation (if it was started)",
    not_started:
        "No rotation is in progress. Start a rotation process by running \"vault operator rotate-keys -init\".",
    verified: "Rotation verification successful. The rotation is complete and the new keys are now active.",
    done: "rotated",
};

/// One run of `rekey` / `rotate-keys`.
struct Shares<'a> {
    flavor: &'a Flavor,
    recovery: bool,
    verify: bool,
    flags: Flags,
}

impl Shares<'_> {
    /// The endpoint for `step` (`init`, `update`, `verify`, `backup`).
    fn path(&self, step: &str) -> String {
        match (self.flavor.legacy, self.recovery, step) {
            (true, false, _) => format!("sys/rekey/{step}"),
            (true, true, "backup") => "sys/rekey/recovery-key-backup".into(),
            (true, true, _) => format!("sys/rekey-recovery-key/{step}"),
            (false, false, _) => format!("sys/rotate/root/{step}"),
            (false, true, _) => format!("sys/rotate/recovery/{step}"),
        }
    }

    fn wrapped(&self) -> bool {
        !self.flavor.legacy
    }

    fn key_type(&self) -> &'static str {
        if self.recovery {
            "Recovery"
        } else {
            "Unseal"
        }
    }

    fn init(&mut self, b: &mut Base) -> i32 {
        let pgp = self.flags.slice("pgp-keys");
        let backup = self.flags.bool("backup");
        let body = json!({
            "secret_shares": self.flags.int("key-shares"),
            "secret_threshold": self.flags.int("key-threshold"),
            "pgp_keys": if pgp.is_empty() { Value::Null } else { json!(pgp) },
            "backup": backup,
            "require_verification": self.verify,
        });
        const ORDER: &[&str] = &[
            "secret_shares",
            "secret_threshold",
            "pgp_keys",
            "backup",
            "require_verification",
        ];
        let method = if self.flavor.legacy { "PUT" } else { "POST" };
        let req = Request::new(method, &self.path("init")).json_ordered(&body, &[("", ORDER)]);
        let c = b.client().expect("built by the caller");
        let status = match c.json(req) {
            Ok(v) => unwrap_data(v, self.wrapped()),
            Err(e) => return fail(b, &format!("Error initializing {}", self.flavor.noun), &e),
        };
        let kind = self.key_type().to_lowercase();
        if !self.flavor.legacy && get_bool(&status, "complete") {
            // The keys came back at once (an auto-unseal server): print them as a finished rotation.
            if !b.ui.is_table() {
                return output_fields(b, &rotate_status_fields(&status));
            }
            if pgp.is_empty() {
                b.ui.warn(&wrap_at_length(&format!("WARNING! If you lose the keys, there is no recovery. Consider rerunning this operation and re-initializing with the -pgp-keys flag to protect the returned {kind} keys along with -backup to allow recovery of the encrypted keys in case of emergency. You can delete the backed up keys later using the -delete flag.")));
                b.ui.output("");
            }
            if !pgp.is_empty() && !backup {
                b.ui.warn(&wrap_at_length(&format!("WARNING! You've used PGP keys for encryption of the resulting {kind} keys, but you did not enable the option to backup the keys to Vault's core. If you lose the encrypted keys you will not be able to recover them. Consider rerunning this operation and re-initializing with -backup to allow recovery of the encrypted unseal keys in case of emergency. You can delete the backed up keys later using the -delete flag.")));
                b.ui.output("");
            }
            b.ui.output("");
            print_unseal_keys(b, &status);
            return self.print_warnings(b, &status, &status);
        }
        if b.ui.is_table() {
            if get_int(&status, "t") == 0 && get_int(&status, "n") == 0 {
                b.ui.output("");
                b.ui.output("Rotating barrier root key using recovery shares.");
                b.ui.output("");
                return print_rotation_status(b, &status, false);
            }
            if pgp.is_empty() {
                b.ui.warn(&wrap_at_length(&format!("WARNING! If you lose the keys after they are returned, there is no recovery. Consider canceling this operation and re-initializing with the -pgp-keys flag to protect the returned {kind} keys along with -backup to allow recovery of the encrypted keys in case of emergency. You can delete the stored keys later using the -delete flag.")));
                b.ui.output("");
            }
            if !pgp.is_empty() && !backup {
                b.ui.warn(&wrap_at_length(&format!("WARNING! You are using PGP keys for encryption of resulting {kind} keys, but you did not enable the option to backup the keys to Vault's core. If you lose the encrypted keys after they are returned, you will not be able to recover them. Consider canceling this operation and re-running with -backup to allow recovery of the encrypted unseal keys in case of emergency. You can delete the backed up keys later using the -delete flag.")));
                b.ui.output("");
            }
        }
        print_rotation_status(b, &status, false)
    }

    fn cancel(&self, b: &mut Base) -> i32 {
        let path = self.path(if self.verify { "verify" } else { "init" });
        let c = b.client().expect("built by the caller");
        if let Err(e) = c.raw(Request::new("DELETE", &path)) {
            return fail(b, &format!("Error canceling {}", self.flavor.noun), &e);
        }
        b.ui.output(self.flavor.cancelled);
        0
    }

    fn status(&self, b: &mut Base) -> i32 {
        let path = self.path(if self.verify { "verify" } else { "init" });
        let c = b.client().expect("built by the caller");
        match call(c, "GET", &path, None, self.wrapped()) {
            Ok(status) => print_rotation_status(b, &status, self.verify),
            Err(e) => fail(b, &format!("Error reading {} status", self.flavor.status_noun), &e),
        }
    }

    fn provide(&mut self, b: &mut Base, key: String) -> i32 {
        let path = self.path(if self.verify { "verify" } else { "init" });
        let c = b.client().expect("built by the caller");
        let status = match call(c, "GET", &path, None, self.wrapped()) {
            Ok(s) => s,
            Err(e) => return fail(b, &format!("Error getting {} status", self.flavor.noun), &e),
        };
        if !get_bool(&status, "started") {
            b.ui.error(&wrap_at_length(self.flavor.not_started));
            return 1;
        }
        let mut nonce = get_str(&status, "nonce");
        let key = match key.as_str() {
            "-" => {
                nonce = self.flags.str("nonce");
                match read_stdin(b) {
                    Ok(text) => Zeroizing::new(text),
                    Err(e) => {
                        b.ui.error(&format!("Failed to read from stdin: {e}"));
                        return 1;
                    }
                }
            }
            "" => {
                if b.non_interactive() {
                    b.ui.error(&wrap_at_length("Refusing to read from stdin with -non-interactive specified; specify nonce via the -nonce flag"));
                    return 1;
                }
                let kind = self.key_type();
                let (prompt, newline_after) = if self.flavor.legacy {
                    (
                        format!("Rekey operation nonce: {nonce}\n{kind} Key (will be hidden): "),
                        true,
                    )
                } else {
                    (
                        format!("rotation nonce: {nonce}\n{kind} Key (will be hidden): \n"),
                        false,
                    )
                };
                match read_hidden_then(&prompt, true, newline_after) {
                    Ok(k) => Zeroizing::new(k),
                    Err(e) if e == USER_CANCELED => {
                        b.ui.error(USER_CANCELED);
                        return 1;
                    }
                    Err(e) => {
                        let lower = kind.to_lowercase();
                        b.ui.error(&wrap_at_length(&format!("An error occurred attempting to ask for the {lower} key. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: {e}")));
                        return 1;
                    }
                }
            }
            _ => {
                nonce = self.flags.str("nonce");
                Zeroizing::new(key)
            }
        };
        if nonce.is_empty() {
            b.ui.error("Missing nonce value: specify it via the -nonce flag");
            return 1;
        }
        let body = json!({ "key": key.trim(), "nonce": nonce });
        let update = if self.verify { "verify" } else { "update" };
        let c = b.client().expect("built by the caller");
        let resp = match call(c, "PUT", &self.path(update), Some(body), self.wrapped()) {
            Ok(r) => r,
            Err(e) => return fail(b, "Error posting unseal key", &e),
        };
        if !get_bool(&resp, "complete") {
            return self.status(b);
        }
        if self.verify {
            b.ui.output(&wrap_at_length(self.flavor.verified));
            return 0;
        }
        if !b.ui.is_table() {
            return output_fields(b, &rotate_update_fields(&resp));
        }
        b.ui.output("");
        print_unseal_keys(b, &resp);
        self.print_warnings(b, &status, &resp)
    }

    fn print_warnings(&mut self, b: &mut Base, status: &Value, resp: &Value) -> i32 {
        if strings(resp, "keys").is_empty() {
            b.ui.output("");
            b.ui.output("Barrier root key rotated using recovery keys.");
            return 0;
        }
        let nonce = get_str(resp, "nonce");
        if !nonce.is_empty() {
            b.ui.output("");
            b.ui.output(&format!("Operation nonce: {nonce}"));
        }
        let command = self.flavor.command;
        if !strings(resp, "pgp_fingerprints").is_empty() && get_bool(resp, "backup") {
            b.ui.output("");
            let text = if self.recovery {
                format!("The encrypted recovery keys are backed up to \"core/recovery-keys-backup\" in the storage backend. Remove these keys at any time using \"vault operator {command} -backup-delete -target=recovery\". Vault does not automatically remove these keys.")
            } else {
                format!("The encrypted unseal keys are backed up to \"core/unseal-keys-backup\" in the storage backend. Remove these keys at any time using \"vault operator {command} -backup-delete\". Vault does not automatically remove these keys.")
            };
            b.ui.output(&wrap_at_length(&text));
        }
        let (n, t) = (get_int(status, "n"), get_int(status, "t"));
        if get_bool(status, "verification_required") {
            b.ui.output("");
            let (text, action) = if self.recovery {
                (format!("Vault has created a new recovery key, split into {n} key shares and a key threshold of {t}. These will not be active until after verification is complete. Please securely distribute the key shares printed above."), "authenticate with")
            } else {
                (format!("Vault has created a new unseal key, split into {n} key shares and a key threshold of {t}. These will not be active until after verification is complete. Please securely distribute the key shares printed above. When  Vault is re-sealed, restarted, or stopped, you must supply at least {t} of these keys to unseal it before it can start servicing requests."), "unseal")
            };
            b.ui.output(&wrap_at_length(&text));
            b.ui.output("");
            let noun = self.flavor.noun;
            b.ui.warn(&wrap_at_length(&format!("Again, these key shares are _not_ valid until verification is performed. Do not lose or discard your current key shares until after verification is complete or you will be unable to {action} Vault. If you cancel the {noun} process or seal Vault before verification is complete the new shares will be discarded and the current shares will remain valid.")));
            b.ui.output("");
            b.ui.warn(&wrap_at_length(
                "The current verification status, including initial nonce, is shown below.",
            ));
            b.ui.output("");
            self.verify = true;
            return self.status(b);
        }
        b.ui.output("");
        let done = self.flavor.done;
        let text = if self.recovery {
            format!("Vault recovery keys {done} to {n} key shares and a key threshold of {t}. Please securely distribute the key shares printed above.")
        } else {
            format!("Vault unseal keys {done} to {n} key shares and a key threshold of {t}. Please securely distribute the key shares printed above. When Vault is re-sealed, restarted, or stopped, you must supply at least {t} of these keys to unseal it before it can start servicing requests.")
        };
        b.ui.output(&wrap_at_length(&text));
        0
    }

    fn backup_retrieve(&self, b: &mut Base) -> i32 {
        let context = format!("Error retrieving {} backed up keys", self.flavor.noun);
        let c = b.client().expect("built by the caller");
        let secret = match c.raw(Request::new("GET", &self.path("backup"))) {
            Ok(resp) => Secret::parse(&resp.body).map_err(ApiError::Other),
            Err(e) => Err(e),
        };
        let data = match secret {
            Ok(Some(s)) if s.data_map().is_some() => s.data,
            Ok(_) => {
                return fail(
                    b,
                    &context,
                    &ApiError::Other("data from server response is empty".into()),
                )
            }
            Err(e) => return fail(b, &context, &e),
        };
        let secret = Secret {
            data: json!({
                "nonce": string(&data, "nonce"),
                "keys": data.get("keys").cloned().unwrap_or(Value::Null),
                "keys_base64": data.get("keys_base64").cloned().unwrap_or(Value::Null),
            }),
            ..Default::default()
        };
        output_secret(&mut b.ui, &secret)
    }

    fn backup_delete(&self, b: &mut Base) -> i32 {
        let c = b.client().expect("built by the caller");
        if let Err(e) = c.raw(Request::new("DELETE", &self.path("backup"))) {
            return fail(b, &format!("Error deleting {} backed up keys", self.flavor.noun), &e);
        }
        b.ui.output("Success! Deleted backed up keys (if they existed)");
        0
    }
}

/// `printRotationStatus`: the table of a rotation (or, with `verify`, of its verification) status.
fn print_rotation_status(b: &mut Base, status: &Value, verify: bool) -> i32 {
    let fields = if verify {
        verify_status_fields(status)
    } else {
        rotate_status_fields(status)
    };
    if !b.ui.is_table() {
        return output_fields(b, &fields);
    }
    let mut out = vec!["Key | Value".to_string()];
    let (started, t, n, progress) = (
        get_bool(status, "started"),
        get_int(status, "t"),
        get_int(status, "n"),
        get_int(status, "progress"),
    );
    if verify {
        out.push(format!("Started | {started}"));
        out.push(format!("New Shares | {n}"));
        out.push(format!("New Threshold | {t}"));
        out.push(format!("Verification Nonce | {}", get_str(status, "nonce")));
        out.push(format!("Verification Progress | {progress}/{t}"));
    } else {
        out.push(format!("Nonce | {}", get_str(status, "nonce")));
        out.push(format!("Started | {started}"));
        if started {
            let required = get_int(status, "required");
            if progress == required {
                out.push(format!("Progress | {progress}/{required} (verification in progress)"));
            } else {
                out.push(format!("Progress | {progress}/{required}"));
            }
            if n > 0 {
                out.push(format!("New Shares | {n}"));
            }
            if t > 0 {
                out.push(format!("New Threshold | {t}"));
            }
            out.push(format!(
                "Verification Required | {}",
                get_bool(status, "verification_required")
            ));
            let verification_nonce = get_str(status, "verification_nonce");
            if !verification_nonce.is_empty() {
                out.push(format!("Verification Nonce | {verification_nonce}"));
            }
        }
        let fingerprints = strings(status, "pgp_fingerprints");
        if !fingerprints.is_empty() {
            out.push(format!("PGP Fingerprints | [{}]", fingerprints.join(" ")));
            out.push(format!("Backup | {}", get_bool(status, "backup")));
        }
    }
    let t = table_output(&out, "|");
    b.ui.output(&t);
    0
}

/// `printUnseal Keys`: the new shares, base64 when the server gave them so.
fn print_unseal_keys(b: &mut Base, resp: &Value) {
    let keys = strings(resp, "keys");
    let b64 = strings(resp, "keys_base64");
    let fingerprints = strings(resp, "pgp_fingerprints");
    let have_b64 = resp.get("keys_base64").is_some_and(Value::is_array) && b64.len() == keys.len();
    for (i, key) in keys.iter().enumerate() {
        let shown = if have_b64 { &b64[i] } else { key };
        if fingerprints.is_empty() {
            b.ui.output(&format!("Key {}: {shown}", i + 1));
        } else {
            let fp = fingerprints.get(i).map(String::as_str).unwrap_or_default();
            b.ui.output(&format!("Key {} fingerprint: {fp}; value: {shown}", i + 1));
        }
    }
}

fn run_shares(b: &mut Base, f: Flags, flavor: &Flavor) -> i32 {
    if f.args.len() > 1 {
        b.ui.error(&format!("Too many arguments (expected 0-1, got {})", f.args.len()));
        return 1;
    }
    tri!(client(b, 2));
    let target = f.str("target");
    let recovery = match target.trim().to_lowercase().as_str() {
        "barrier" => false,
        "recovery" | "hsm" => true,
        _ => {
            b.ui.error(&format!("Unknown target: {target}"));
            return 1;
        }
    };
    let key = f.args.first().map(|k| k.trim().to_string()).unwrap_or_default();
    let mut run = Shares {
        flavor,
        recovery,
        verify: f.bool("verify"),
        flags: f,
    };
    if run.flags.bool("backup-delete") {
        run.backup_delete(b)
    } else if run.flags.bool("backup-retrieve") {
        run.backup_retrieve(b)
    } else if run.flags.bool("cancel") {
        run.cancel(b)
    } else if run.flags.bool("init") {
        run.init(b)
    } else if run.flags.bool("status") {
        run.status(b)
    } else {
        run.provide(b, key)
    }
}

fn rekey(b: &mut Base, f: Flags) -> i32 {
    run_shares(b, f, &REKEY)
}

fn rotate_keys(b: &mut Base, f: Flags) -> i32 {
    run_shares(b, f, &ROTATE_KEYS)
}

// generate-root.

fn generate_root_flags() -> Vec<Def> {
    vec![
        flag("init", Kind::Bool, "false", "Start a root token generation. This can only be done if there is not currently one in progress."),
        flag("cancel", Kind::Bool, "false", "Reset the root token generation progress. This will discard any submitted unseal keys or configuration."),
        flag("status", Kind::Bool, "false", "Print the status of the current attempt without providing an unseal key."),
        flag("decode", Kind::Str, "", "The value to decode; setting this triggers a decode operation. If the value is \"-\" then read the encoded token from stdin."),
        flag("generate-otp", Kind::Bool, "false", "Generate and print a high-entropy one-time-password (OTP) suitable for use with the \"-init\" flag."),
        flag("recovery-token", Kind::Bool, "false", "Set this flag to do generate root operations on Recovery Operational tokens."),
        flag("otp", Kind::Str, "", "OTP code to use with \"-decode\" or \"-init\"."),
        flag("pgp-key", Kind::PgpKey, "", "Path to a file on disk containing a binary or base64-encoded public PGP key. This server refuses PGP-encrypted root tokens."),
        flag("nonce", Kind::Str, "", "Nonce value provided at initialization. The same nonce value must be provided with each unseal key."),
    ]
}

/// Length of a root token (`s.` and 24 characters): the pad length when the server does not say.
const DEFAULT_OTP_LENGTH: usize = 26;

struct GenerateRoot {
    recovery: bool,
}

impl GenerateRoot {
    fn path(&self, step: &str) -> String {
        if self.recovery {
            format!("sys/generate-recovery-token/{step}")
        } else {
            format!("sys/generate-root-token/{step}")
        }
    }

    fn status_value(&self, b: &mut Base) -> Result<Value, i32> {
        let c = b.client().expect("built by the caller");
        call(c, "GET", &self.path("attempt"), None, !self.recovery)
            .map_err(|e| fail(b, "Error getting root generation status", &e))
    }

    fn print(&self, b: &mut Base, status: &Value) -> i32 {
        if !b.ui.is_table() {
            return output_fields(b, &generate_root_fields(status));
        }
        let mut out = vec![
            format!("Nonce | {}", get_str(status, "nonce")),
            format!("Started | {}", get_bool(status, "started")),
            format!(
                "Progress | {}/{}",
                get_int(status, "progress"),
                get_int(status, "required")
            ),
            format!("Complete | {}", get_bool(status, "complete")),
        ];
        let fingerprint = get_str(status, "pgp_fingerprint");
        if !fingerprint.is_empty() {
            out.push(format!("PGP Fingerprint | {fingerprint}"));
        }
        let (encoded, encoded_root) = (get_str(status, "encoded_token"), get_str(status, "encoded_root_token"));
        if !encoded.is_empty() {
            out.push(format!("Encoded Token | {encoded}"));
        } else if !encoded_root.is_empty() {
            out.push(format!("Encoded Root Token | {encoded_root}"));
        }
        let otp = get_str(status, "otp");
        if !otp.is_empty() {
            b.ui.warn(&wrap_at_length("A One-Time-Password has been generated for you and is shown in the OTP field. You will need this value to decode the resulting root token, so keep it safe."));
            out.push(format!("OTP | {otp}"));
        }
        let otp_length = get_int(status, "otp_length");
        if otp_length != 0 {
            out.push(format!("OTP Length | {otp_length}"));
        }
        let t = columnize(&out, "|");
        b.ui.output(&t);
        0
    }

    fn generate_otp(&self, b: &mut Base) -> i32 {
        let status = tri!(self.status_value(b));
        let length = match get_int(&status, "otp_length") {
            n if n > 0 => n as usize,
            _ => DEFAULT_OTP_LENGTH,
        };
        let otp = random_base62(length);
        if b.format() == "table" {
            print_raw(&mut b.ui, &otp);
            return 0;
        }
        let v = json!({ "otp": otp.as_str(), "otp_length": otp.len() });
        output_data(&mut b.ui, Data::Value(&v))
    }

    fn decode(&self, b: &mut Base, encoded: &str, otp: &str) -> i32 {
        if otp.is_empty() {
            b.ui.error("Missing otp: use -otp to supply it");
            return 1;
        }
        let mut encoded = encoded.to_string();
        if encoded == "-" {
            encoded = match read_stdin(b) {
                Ok(text) => text,
                Err(e) => {
                    b.ui.error(&format!("Failed to read from stdin: {e}"));
                    return 1;
                }
            };
            if encoded.is_empty() {
                b.ui.error("Missing encoded value. When using -decode=\"-\" value must be passed via stdin.");
                return 1;
            }
        }
        let status = tri!(self.status_value(b));
        let token = match decode_token(&encoded, otp, get_int(&status, "otp_length")) {
            Ok(t) => t,
            Err(e) => {
                b.ui.error(&format!("Error decoding root token: {e}"));
                return 1;
            }
        };
        if b.format() == "table" {
            print_raw(&mut b.ui, &token);
            return 0;
        }
        let v = json!({ "token": token.as_str() });
        output_data(&mut b.ui, Data::Value(&v))
    }

    fn init(&self, b: &mut Base, otp: &str, pgp_key: &str) -> i32 {
        if !otp.is_empty() && !pgp_key.is_empty() {
            b.ui.error("Error initializing: cannot specify both -otp and -pgp-key");
            return 1;
        }
        let body = json!({ "otp": otp, "pgp_key": pgp_key });
        let c = b.client().expect("built by the caller");
        match call(c, "PUT", &self.path("attempt"), Some(body), !self.recovery) {
            Ok(status) => self.print(b, &status),
            Err(e) => fail(b, "Error initializing root generation", &e),
        }
    }

    fn provide(&self, b: &mut Base, key: String, flag_nonce: String) -> i32 {
        let status = tri!(self.status_value(b));
        if !get_bool(&status, "started") {
            b.ui.error(&wrap_at_length(
                "No root generation is in progress. Start a root generation by running \"vault operator generate-root -init\".",
            ));
            b.ui.warn(&wrap_at_length(&format!("If starting root generation using the OTP method and generating your own OTP, the length of the OTP string needs to be {} characters in length.", get_int(&status, "otp_length"))));
            return 1;
        }
        let mut nonce = flag_nonce;
        let key = match key.as_str() {
            "-" => match read_stdin(b) {
                Ok(text) => Zeroizing::new(text),
                Err(e) => {
                    b.ui.error(&format!("Failed to read from stdin: {e}"));
                    return 1;
                }
            },
            "" => {
                nonce = get_str(&status, "nonce");
                if b.non_interactive() {
                    b.ui.error(&wrap_at_length("Refusing to read from stdin with -non-interactive specified; specify nonce via the -nonce flag"));
                    return 1;
                }
                let prompt = format!("Operation nonce: {nonce}\nUnseal Key (will be hidden): ");
                match read_hidden_then(&prompt, true, true) {
                    Ok(k) => Zeroizing::new(k),
                    Err(e) if e == USER_CANCELED => {
                        b.ui.error(USER_CANCELED);
                        return 1;
                    }
                    Err(e) => {
                        b.ui.error(&wrap_at_length(&format!("An error occurred attempting to ask for the unseal key. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: {e}")));
                        return 1;
                    }
                }
            }
            _ => Zeroizing::new(key),
        };
        if nonce.is_empty() {
            b.ui.error("Missing nonce value: specify it via the -nonce flag");
            return 1;
        }
        let body = json!({ "key": key.trim(), "nonce": nonce });
        let c = b.client().expect("built by the caller");
        match call(c, "PUT", &self.path("update"), Some(body), !self.recovery) {
            Ok(status) => self.print(b, &status),
            Err(e) => fail(b, "Error posting unseal key", &e),
        }
    }

    fn cancel(&self, b: &mut Base) -> i32 {
        let c = b.client().expect("built by the caller");
        if let Err(e) = c.raw(Request::new("DELETE", &self.path("attempt"))) {
            return fail(b, "Error canceling root token generation", &e);
        }
        b.ui.output("Success! Root token generation canceled (if it was started)");
        0
    }
}

fn generate_root(b: &mut Base, f: Flags) -> i32 {
    if f.args.len() > 1 {
        b.ui.error(&format!("Too many arguments (expected 0-1, got {})", f.args.len()));
        return 1;
    }
    tri!(client(b, 2));
    let g = GenerateRoot {
        recovery: f.bool("recovery-token"),
    };
    let pgp_key = f.slice("pgp-key").into_iter().next().unwrap_or_default();
    if f.bool("generate-otp") {
        g.generate_otp(b)
    } else if !f.str("decode").is_empty() {
        g.decode(b, &f.str("decode"), &f.str("otp"))
    } else if f.bool("cancel") {
        g.cancel(b)
    } else if f.bool("init") {
        g.init(b, &f.str("otp"), &pgp_key)
    } else if f.bool("status") {
        match g.status_value(b) {
            Ok(status) => g.print(b, &status),
            Err(code) => code,
        }
    } else {
        let key = f.args.first().map(|k| k.trim().to_string()).unwrap_or_default();
        g.provide(b, key, f.str("nonce"))
    }
}

/// A random string of `n` characters from `[0-9A-Za-z]` (the reference's `base62.Random`).
fn random_base62(n: usize) -> Zeroizing<String> {
    use rand::RngExt;
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    Zeroizing::new(
        (0..n)
            .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
            .collect(),
    )
}

/// Go's base64 decoding (`StdEncoding` with padding, `RawStdEncoding` without), which skips `\r` and `\n` and
/// reports the offset of the first bad byte as `illegal base64 data at input byte N`.
fn go_base64_decode(s: &str, padded: bool) -> Result<Vec<u8>, String> {
    let illegal = |at: usize| format!("illegal base64 data at input byte {at}");
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() * 3 / 4);
    let mut si = 0;
    loop {
        let mut quantum = [0u32; 4];
        let mut j = 0;
        let mut dlen = 4;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                if j == 1 || padded {
                    return Err(illegal(si - j));
                }
                dlen = j;
                break;
            }
            let c = src[si];
            si += 1;
            if let Some(v) = value(c) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if !padded || c != b'=' {
                return Err(illegal(si - 1));
            }
            // Padding: `=` ends the input (one or two of them, nothing but newlines after).
            match j {
                0 | 1 => return Err(illegal(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() || src[si] != b'=' {
                        return Err(illegal(si.min(src.len())));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(illegal(si));
            }
            dlen = j;
            break;
        }
        let n = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3];
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if dlen < 4 {
            return Ok(out);
        }
    }
}

fn xor(a: &[u8], b: &[u8]) -> Result<Vec<u8>, String> {
    if a.len() != b.len() {
        return Err(format!(
            "length of byte slices is not equivalent: {} != {}",
            a.len(),
            b.len()
        ));
    }
    Ok(a.iter().zip(b).map(|(x, y)| x ^ y).collect())
}

/// The reference's `roottoken.DecodeToken`: the encoded token (unpadded base64) XORed with the pad; with an
/// `otp_length` of 0 (servers before pads were plain text), both are padded base64 and the result is a UUID.
fn decode_token(encoded: &str, otp: &str, otp_length: i64) -> Result<Zeroizing<String>, String> {
    if otp_length == 0 {
        let a = go_base64_decode(encoded, true)
            .map_err(|e| format!("error xoring token: error decoding first base64 value: {e}"))?;
        if a.is_empty() {
            return Err("error xoring token: decoded first base64 value is nil or empty".into());
        }
        let b = go_base64_decode(otp, true)
            .map_err(|e| format!("error xoring token: error decoding second base64 value: {e}"))?;
        if b.is_empty() {
            return Err("error xoring token: decoded second base64 value is nil or empty".into());
        }
        let bytes = Zeroizing::new(xor(&a, &b).map_err(|e| format!("error xoring token: {e}"))?);
        if bytes.len() != 16 {
            return Err(format!(
                "error formatting base64 token value: wrong length byte slice ({})",
                bytes.len()
            ));
        }
        let h = hex::encode(&bytes[..]);
        return Ok(Zeroizing::new(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )));
    }
    let bytes = go_base64_decode(encoded, false).map_err(|e| format!("error decoding base64'd token: {e}"))?;
    let token = Zeroizing::new(xor(&bytes, otp.as_bytes()).map_err(|e| format!("error xoring token: {e}"))?);
    Ok(Zeroizing::new(String::from_utf8_lossy(&token).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_the_reference() {
        // From OpenBao 2.7.2 (`bao operator generate-root -decode=... -otp=...`).
        let otp = "UbB8pbU77TOEyUbY3h9enZYeTg";
        assert_eq!(
            &*decode_token("Jkx1WRYKM2V4JB42PwVWYAowUxZcLxZRBj4", otp, 26).unwrap(),
            "s.7afhfROpQsFP499Xjs2uO4RY"
        );
        // Newlines are skipped, as Go's decoder does (stdin ends with one).
        assert_eq!(
            &*decode_token("Jkx1WRYKM2V4JB42PwVWYAowUxZcLxZRBj4\n", otp, 26).unwrap(),
            "s.7afhfROpQsFP499Xjs2uO4RY"
        );
        assert_eq!(
            decode_token("abc", "abc", 26).unwrap_err(),
            "error xoring token: length of byte slices is not equivalent: 2 != 3"
        );
        assert_eq!(
            decode_token("ab$c", "abc", 26).unwrap_err(),
            "error decoding base64'd token: illegal base64 data at input byte 2"
        );
        assert_eq!(
            decode_token("abcde", "abc", 26).unwrap_err(),
            "error decoding base64'd token: illegal base64 data at input byte 4"
        );
        // The old form: both padded base64, the result a UUID.
        let token = [0x11u8; 16];
        let pad = [0x22u8; 16];
        use base64::Engine;
        let e = base64::engine::general_purpose::STANDARD;
        let encoded = e.encode(xor(&token, &pad).unwrap());
        assert_eq!(
            &*decode_token(&encoded, &e.encode(pad), 0).unwrap(),
            "11111111-1111-1111-1111-111111111111"
        );
    }

    #[test]
    fn otp_is_base62() {
        let otp = random_base62(26);
        assert_eq!(otp.len(), 26);
        assert!(otp.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(*otp, *random_base62(26));
    }

    #[test]
    fn go_time_json_trims_zeros() {
        assert_eq!(
            go_time_json("2026-12-04T15:51:49.027767000Z"),
            "2026-12-04T15:51:49.027767Z"
        );
        assert_eq!(go_time_json("2026-12-04T15:51:49Z"), "2026-12-04T15:51:49Z");
    }
}
