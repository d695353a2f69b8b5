//! `operator init/unseal/seal/step-down` and `operator raft snapshot save/restore`. (The offline
//! `operator snapshot inspect` lives in `main.rs`: it needs no server.)

use std::io::IsTerminal;

use serde_json::Value;

use super::basic::{output_seal_status, read_hidden};
use super::{client, cmd, fail, group, no_args, tri};
use crate::cli::api::Request;
use crate::cli::base::{no_flags, Base, Command, FORMAT, HTTP};
use crate::cli::flags::{flag, Def, Flags, Kind};
use crate::cli::format::{go_json_ordered, go_yaml, ordered_to_value, wrap_at_length};
use crate::cli::output::{output_data, Data};

pub fn commands() -> Vec<Command> {
    vec![
        group("operator", "Perform operator-specific tasks", "  This command groups subcommands for operators interacting with the server.\n\n      $ vault operator init\n      $ vault operator unseal\n      $ vault operator raft snapshot save backup.snap\n"),
        cmd("operator init", "Initializes a server", "[options]", "  Initializes a server: generates the root key, splits it into unseal key shares and creates the\n  initial root token. This happens once per server.\n\n      $ vault operator init -key-shares=3 -key-threshold=2\n", HTTP | FORMAT, init_flags, init),
        cmd("operator unseal", "Unseals the server", "[options] [KEY]", "  Provides a portion of the root key to unseal the server. With no KEY, the key is read from the\n  terminal without echo.\n\n      $ vault operator unseal\n", HTTP | FORMAT, unseal_flags, unseal),
        cmd("operator seal", "Seals the server", "[options]", "  Seals the server: the encryption key is forgotten and every request is refused until it is unsealed.\n\n      $ vault operator seal\n", HTTP, no_flags, seal),
        cmd("operator step-down", "Forces the server to resign active duty", "[options]", "  Forces the active node to step down.\n\n      $ vault operator step-down\n", HTTP, no_flags, step_down),
        group("operator raft", "Interact with raft storage", "  This command groups subcommands for the storage's snapshots.\n\n      $ vault operator raft snapshot save backup.snap\n"),
        group("operator raft snapshot", "Save and restore snapshots of the storage", "  Saves or restores a snapshot of the server's data.\n\n      $ vault operator raft snapshot save backup.snap\n      $ vault operator raft snapshot restore backup.snap\n"),
        cmd("operator raft snapshot save", "Saves a snapshot of the current state of the storage", "[options] FILE", "  Saves a snapshot of the server's data to FILE (owner-only permissions). Progress is shown on a\n  terminal.\n\n      $ vault operator raft snapshot save backup.snap\n", HTTP, no_flags, snapshot_save),
        cmd("operator raft snapshot restore", "Installs the provided snapshot, returning the cluster to the state defined in it", "[options] FILE", "  Restores a snapshot taken with \"snapshot save\". Progress is shown on a terminal.\n\n      $ vault operator raft snapshot restore backup.snap\n", HTTP, restore_flags, snapshot_restore),
    ]
}

fn init_flags() -> Vec<Def> {
    vec![
        flag("key-shares", Kind::Int, "0", "Number of key shares to split the generated root key into. The default is 5.").aliases(&["n"]),
        flag("key-threshold", Kind::Int, "0", "Number of key shares required to reconstruct the root key. The default is 3.").aliases(&["t"]),
        flag("pgp-keys", Kind::Slice, "", "Comma-separated list of paths to files on disk containing public PGP keys."),
        flag("root-token-pgp-key", Kind::Str, "", "Path to a file on disk containing a binary or base64-encoded public PGP key."),
        flag("status", Kind::Bool, "false", "Print the current initialization status. An exit code of 0 means the server is already initialized; 2 means it is not; 1 is an error."),
        flag("recovery-shares", Kind::Int, "0", "Number of key shares to split the recovery key into (auto-unseal only)."),
        flag("recovery-threshold", Kind::Int, "0", "Number of key shares required to reconstruct the recovery key (auto-unseal only)."),
        flag("recovery-pgp-keys", Kind::Slice, "", "Behaves like -pgp-keys, but for the recovery key shares."),
    ]
}

fn unseal_flags() -> Vec<Def> {
    vec![
        flag(
            "reset",
            Kind::Bool,
            "false",
            "Discard any previously entered keys to the unseal process.",
        ),
        flag(
            "migrate",
            Kind::Bool,
            "false",
            "Indicate that this share is provided with the intent that it is part of a seal migration process.",
        ),
    ]
}

fn restore_flags() -> Vec<Def> {
    vec![flag(
        "force",
        Kind::Bool,
        "false",
        "Installs the provided snapshot regardless of whether it was taken of this server's keyring.",
    )]
}

fn init(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    let c = tri!(client(b, 2));
    let suspended = c.curl_suspended;
    c.curl_suspended = true;
    let status = c.json(Request::new("GET", "sys/seal-status"));
    c.curl_suspended = suspended;
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            b.ui.error(&e.to_string());
            return 2;
        }
    };
    let recovery_seal = status["recovery_seal"].as_bool().unwrap_or(false);
    let (mut shares, mut threshold) = (f.int("key-shares"), f.int("key-threshold"));
    let (mut rshares, mut rthreshold) = (f.int("recovery-shares"), f.int("recovery-threshold"));
    if !recovery_seal {
        if shares == 0 {
            shares = 5;
        }
        if threshold == 0 {
            threshold = 3;
        }
        rshares = 0;
        rthreshold = 0;
    }
    if f.bool("status") {
        let c = b.client().expect("built above");
        let inited = match c.json(Request::new("GET", "sys/init")) {
            Ok(v) => v["initialized"].as_bool().unwrap_or(false),
            Err(e) => {
                b.ui.error(&format!("Error checking init status: {e}"));
                return 1;
            }
        };
        if b.ui.is_table() {
            b.ui.output(if inited {
                "Vault is initialized"
            } else {
                "Vault is not initialized"
            });
        } else {
            let v = serde_json::json!({ "initialized": inited });
            output_data(&mut b.ui, Data::Value(&v));
        }
        return if inited { 0 } else { 2 };
    }
    let body = serde_json::json!({
        "secret_shares": shares,
        "secret_threshold": threshold,
        "pgp_keys": if f.slice("pgp-keys").is_empty() { Value::Null } else { Value::from(f.slice("pgp-keys")) },
        "recovery_shares": rshares,
        "recovery_threshold": rthreshold,
        "recovery_pgp_keys": if f.slice("recovery-pgp-keys").is_empty() { Value::Null } else { Value::from(f.slice("recovery-pgp-keys")) },
        "root_token_pgp_key": f.str("root-token-pgp-key"),
    });
    let c = b.client().expect("built above");
    const INIT_REQUEST: &[&str] = &[
        "secret_shares",
        "secret_threshold",
        "stored_shares",
        "pgp_keys",
        "recovery_shares",
        "recovery_threshold",
        "recovery_pgp_keys",
        "root_token_pgp_key",
    ];
    let resp = match c.json(Request::new("PUT", "sys/init").json_ordered(&body, &[("", INIT_REQUEST)])) {
        Ok(v) => v,
        Err(e) => return fail(b, "Error initializing", &e),
    };
    let list = |k: &str| -> Vec<String> {
        resp[k]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let (keys, keys_b64) = (list("keys"), list("keys_base64"));
    let (rkeys, rkeys_b64) = (list("recovery_keys"), list("recovery_keys_base64"));
    let root = resp["root_token"].as_str().unwrap_or_default().to_string();
    if !b.ui.is_table() {
        let opt_list = |l: &[String], present: bool| {
            if present {
                Value::from(l.to_vec())
            } else {
                Value::Null
            }
        };
        let (us, ut) = if keys.is_empty() { (1, 1) } else { (shares, threshold) };
        let fields: Vec<(&str, Value)> = vec![
            ("unseal_keys_b64", opt_list(&keys_b64, resp["keys_base64"].is_array())),
            ("unseal_keys_hex", opt_list(&keys, resp["keys"].is_array())),
            ("unseal_shares", Value::from(us)),
            ("unseal_threshold", Value::from(ut)),
            (
                "recovery_keys_b64",
                opt_list(&rkeys_b64, resp["recovery_keys_base64"].is_array()),
            ),
            ("recovery_keys_hex", opt_list(&rkeys, resp["recovery_keys"].is_array())),
            ("recovery_keys_shares", Value::from(rshares)),
            ("recovery_keys_threshold", Value::from(rthreshold)),
            ("root_token", Value::from(root)),
        ];
        let out = if b.format() == "json" {
            go_json_ordered(&fields)
        } else {
            go_yaml(&ordered_to_value(&fields))
        };
        b.ui.output(&out);
        return 0;
    }
    for (i, key) in keys.iter().enumerate() {
        let shown = if keys_b64.len() == keys.len() {
            &keys_b64[i]
        } else {
            key
        };
        b.ui.output(&format!("Unseal Key {}: {shown}", i + 1));
    }
    for (i, key) in rkeys.iter().enumerate() {
        let shown = if rkeys_b64.len() == rkeys.len() {
            &rkeys_b64[i]
        } else {
            key
        };
        b.ui.output(&format!("Recovery Key {}: {shown}", i + 1));
    }
    b.ui.output("");
    b.ui.output(&format!("Initial Root Token: {root}"));
    if !keys.is_empty() {
        b.ui.output("");
        b.ui.output(&wrap_at_length(&format!("Vault initialized with {shares} key shares and a key threshold of {threshold}. Please securely distribute the key shares printed above. When the Vault is re-sealed, restarted, or stopped, you must supply at least {threshold} of these keys to unseal it before it can start servicing requests.")));
        b.ui.output("");
        b.ui.output(&wrap_at_length(&format!("Vault does not store the generated root key. Without at least {threshold} keys to reconstruct the root key, Vault will remain permanently sealed!")));
        b.ui.output("");
        b.ui.output(&wrap_at_length("It is possible to generate new unseal keys, provided you have a quorum of existing unseal keys shares. See \"vault operator rotate-keys\" for more information."));
    } else {
        b.ui.output("");
        b.ui.output("Success! Vault is initialized");
    }
    if !rkeys.is_empty() {
        b.ui.output("");
        b.ui.output(&wrap_at_length(&format!("Recovery key initialized with {rshares} key shares and a key threshold of {rthreshold}. Please securely distribute the key shares printed above.")));
    }
    0
}

fn unseal(b: &mut Base, f: Flags) -> i32 {
    let mut key = match f.args.len() {
        0 => String::new(),
        1 => f.args[0].trim().to_string(),
        n => {
            b.ui.error(&format!("Too many arguments (expected 1, got {n})"));
            return 1;
        }
    };
    tri!(client(b, 2));
    if f.bool("reset") {
        let c = b.client().expect("built above");
        return match c.json(Request::new("PUT", "sys/unseal").json(&serde_json::json!({ "reset": true }))) {
            Ok(status) => output_seal_status(b, &status, false),
            Err(e) => fail(b, "Error resetting unseal process", &e),
        };
    }
    if key.is_empty() {
        if b.non_interactive() {
            b.ui.error(&wrap_at_length("Refusing to read from stdin with -non-interactive specified; specify unseal key as an argument to this command"));
            return 1;
        }
        match read_hidden("Unseal Key (will be hidden): ", true) {
            Ok(k) => key = k.trim().to_string(),
            Err(e) => {
                b.ui.error(&wrap_at_length(&format!("An error occurred attempting to ask for an unseal key. The raw error message is shown below, but usually this is because you attempted to pipe a value into the unseal command or you are executing outside of a terminal (tty). You should run the unseal command from a terminal for maximum security. If this is not an option, the unseal key can be provided as the first argument to the unseal command. The raw error was:\n\n{e}")));
                return 1;
            }
        }
    }
    let c = b.client().expect("built above");
    let body = serde_json::json!({ "key": key, "reset": false, "migrate": f.bool("migrate") });
    match c.json(Request::new("PUT", "sys/unseal").json(&body)) {
        Ok(status) => output_seal_status(b, &status, false),
        Err(e) => fail(b, "Error unsealing", &e),
    }
}

fn seal(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    let c = tri!(client(b, 2));
    if let Err(e) = c.raw(Request::new("PUT", "sys/seal")) {
        return fail(b, "Error sealing", &e);
    }
    b.ui.output("Success! Vault is sealed.");
    0
}

fn step_down(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    let c = tri!(client(b, 2));
    if let Err(e) = c.raw(Request::new("PUT", "sys/step-down")) {
        return fail(b, "Error stepping down", &e);
    }
    let addr = c.address().to_string();
    b.ui.output(&format!("Success! Stepped down: {addr}"));
    0
}

/// Bytes and rate on stderr, rewritten in place, only on a terminal.
struct Progress {
    show: bool,
    started: std::time::Instant,
    last: std::time::Instant,
    verb: &'static str,
}

impl Progress {
    fn new(verb: &'static str) -> Progress {
        let now = std::time::Instant::now();
        Progress {
            show: std::io::stderr().is_terminal(),
            started: now,
            last: now,
            verb,
        }
    }

    fn update(&mut self, bytes: u64, done: bool) {
        if !self.show || (!done && self.last.elapsed() < std::time::Duration::from_millis(200)) {
            return;
        }
        self.last = std::time::Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = bytes as f64 / secs / (1024.0 * 1024.0);
        eprint!(
            "\r{} {:.1} MiB ({rate:.1} MiB/s){}",
            self.verb,
            bytes as f64 / (1024.0 * 1024.0),
            if done { "\n" } else { "" }
        );
    }
}

fn snapshot_save(b: &mut Base, f: Flags) -> i32 {
    if f.args.len() != 1 {
        b.ui.error(&format!("Incorrect arguments (expected 1, got {})", f.args.len()));
        return 1;
    }
    let path = f.args[0].trim().to_string();
    if path.is_empty() {
        b.ui.error("Output file name is required");
        return 1;
    }
    let c = tri!(client(b, 2));
    let mut progress = Progress::new("Saved");
    let result = c.download("sys/storage/raft/snapshot", &path, &mut |n| progress.update(n, false));
    match result {
        Ok(n) => {
            progress.update(n, true);
            0
        }
        Err(e) => {
            b.ui.error(&format!("Error taking the snapshot: {e}"));
            2
        }
    }
}

fn snapshot_restore(b: &mut Base, f: Flags) -> i32 {
    if f.args.len() != 1 {
        b.ui.error(&format!("Incorrect arguments (expected 1, got {})", f.args.len()));
        return 1;
    }
    let path = f.args[0].trim().to_string();
    if path.is_empty() {
        b.ui.error("Snapshot file name is required");
        return 1;
    }
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => e.to_string(),
            };
            b.ui.error(&format!("Error opening snapshot file: open {path}: {why}"));
            return 2;
        }
    };
    let c = tri!(client(b, 2));
    let endpoint = if f.bool("force") {
        "sys/storage/raft/snapshot-force"
    } else {
        "sys/storage/raft/snapshot"
    };
    let mut progress = Progress::new("Sent");
    let result = c.upload(endpoint, file, &mut |n| progress.update(n, false));
    match result {
        Ok(n) => {
            progress.update(n, true);
            0
        }
        Err(e) => {
            b.ui.error(&format!("Error installing the snapshot: {e}"));
            2
        }
    }
}
