//! `status`, `version`, `read`, `write`, `list`, `delete`, `patch`, `unwrap`, `print token`, `path-help`, `login`.

use serde_json::{Map, Value};

use super::{client, cmd, exact_args, fail, group, no_args, sanitize_path, tri};
use crate::cli::api::{ApiError, Request, Secret};
use crate::cli::base::{self, Base, Command, DETAILED, FIELD, FORMAT, HTTP, RAW_OK};
use crate::cli::flags::{flag, Def, Flags, Kind};
use crate::cli::format::{go_json_ordered, go_yaml, ordered_to_value, table_output, wrap_at_length};
use crate::cli::output::{self, output_list, output_secret, print_raw_field, Data};

pub fn commands() -> Vec<Command> {
    vec![
        cmd(
            "status",
            "Print seal and HA status",
            "[options]",
            "  Prints the current state of the server: whether it is sealed and whether HA mode is enabled. This\n  command prints whether or not the server is sealed.\n\n  The exit code reflects the seal status:\n\n      - 0 - unsealed\n      - 1 - error\n      - 2 - sealed\n",
            HTTP | FORMAT,
            base::no_flags,
            status,
        ),
        cmd(
            "version",
            "Prints the version",
            "",
            "  Prints the version of this binary.\n",
            0,
            base::no_flags,
            version,
        ),
        cmd(
            "read",
            "Read data and retrieves secrets",
            "[options] PATH",
            "  Reads data from the server at the given path: secrets, generated credentials, configuration.\n\n      $ vault read secret/my-secret\n",
            HTTP | FIELD | FORMAT | RAW_OK,
            base::no_flags,
            read,
        ),
        cmd(
            "write",
            "Write data, configuration, and secrets",
            "[options] PATH [DATA K=V...]",
            "  Writes data to the server at the given path. Data is given as key=value pairs; a value of\n  @file reads the file, - reads stdin; a lone - reads a JSON object from stdin.\n\n      $ vault write secret/my-secret foo=bar\n      $ echo '{\"foo\":\"bar\"}' | vault write secret/my-secret -\n",
            HTTP | FIELD | FORMAT,
            write_flags,
            write,
        ),
        cmd(
            "patch",
            "Patch data, configuration, and secrets",
            "[options] PATH [DATA K=V...]",
            "  Patches data at the given path (a JSON merge patch).\n\n      $ vault patch pki/roles/example allow_localhost=false\n",
            HTTP | FIELD | FORMAT,
            write_flags,
            patch,
        ),
        cmd(
            "list",
            "List data or secrets",
            "[options] PATH",
            "  Lists data from the server at the given path.\n\n      $ vault list secret/my-app/\n",
            HTTP | FORMAT | DETAILED,
            list_flags,
            list,
        ),
        cmd(
            "delete",
            "Delete secrets and configuration",
            "[options] PATH",
            "  Deletes secrets and configuration from the server at the given path.\n\n      $ vault delete secret/my-secret\n",
            HTTP | FIELD | FORMAT,
            base::no_flags,
            delete,
        ),
        cmd(
            "unwrap",
            "Unwrap a wrapped secret",
            "[options] [TOKEN]",
            "  Unwraps a wrapped secret. With no token, the token the client authenticates with is unwrapped.\n\n      $ vault unwrap 3de9ece1-b347-e143-29b0-dc2dc31caafd\n",
            HTTP | FIELD | FORMAT,
            base::no_flags,
            unwrap,
        ),
        group(
            "print",
            "Prints runtime configurations",
            "  Prints runtime configuration of the client.\n\n      $ vault print token\n",
        ),
        cmd(
            "print token",
            "Prints the vault token currently in use",
            "",
            "  Prints the token the client uses (from VAULT_TOKEN or the token helper).\n",
            0,
            base::no_flags,
            print_token,
        ),
        cmd(
            "path-help",
            "Retrieve API help for paths",
            "[options] PATH",
            "  Retrieves API help for paths.\n\n      $ vault path-help secret/\n",
            HTTP | FORMAT,
            base::no_flags,
            path_help,
        ),
        cmd(
            "login",
            "Authenticate locally",
            "[options] [AUTH K=V...]",
            "  Authenticates users or machines to the server using the given credentials. A successful\n  login stores the token in the token helper (~/.vault-token) unless -no-store is given.\n\n      $ vault login s.3jnbMAKl1i4YS3QoKdbHzGXq\n      $ vault login -method=userpass username=my-username\n",
            HTTP | FIELD | FORMAT,
            login_flags,
            login,
        ),
    ]
}

fn write_flags() -> Vec<Def> {
    vec![flag(
        "force",
        Kind::Bool,
        "false",
        "Allow the operation to continue with no key=value pairs. This allows writing to keys that do not need or expect data.",
    )
    .aliases(&["f"])]
}

fn list_flags() -> Vec<Def> {
    vec![
        flag("after", Kind::Str, "", "List keys after this key (paginated listing)."),
        flag("limit", Kind::Int, "-1", "At most this many keys (paginated listing)."),
    ]
}

fn login_flags() -> Vec<Def> {
    vec![
        flag(
            "method",
            Kind::Str,
            "token",
            "Type of authentication to use such as \"userpass\" or \"approle\".",
        )
        .env("BAO_AUTH_METHOD"),
        flag(
            "path",
            Kind::Str,
            "",
            "Remote path in the server where the auth method is enabled. Defaults to the method's name.",
        ),
        flag(
            "no-store",
            Kind::Bool,
            "false",
            "Do not persist the token to the token helper after authentication.",
        ),
        flag("no-print", Kind::Bool, "false", "Do not display the token."),
        flag(
            "token-only",
            Kind::Bool,
            "false",
            "Output only the token with no verification. This flag is a shortcut for \"-field=token -no-store\".",
        ),
    ]
}

fn version(b: &mut Base, _f: Flags) -> i32 {
    b.ui.output(&format!("vault v{}", env!("CARGO_PKG_VERSION")));
    0
}

fn status(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    let c = tri!(client(b, 1));
    c.settings.namespace = None;
    let status = match c.json(Request::new("GET", "sys/seal-status")) {
        Ok(v) => v,
        Err(e) => {
            b.ui.error(&format!("Error checking seal status: {e}"));
            return 1;
        }
    };
    output_seal_status(b, &status, true)
}

/// The seal status with the leader's HA fields, as `status` and `operator unseal` print it.
pub fn output_seal_status(b: &mut Base, status: &Value, with_exit_code: bool) -> i32 {
    let c = match b.client() {
        Ok(c) => c,
        Err(e) => {
            b.ui.error(&e);
            return 1;
        }
    };
    let leader = match c.json(Request::new("GET", "sys/leader")) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("Vault is sealed") => serde_json::json!({"ha_enabled": true}),
        Err(e) => {
            b.ui.error(&format!("Error checking leader status: {e}"));
            return 1;
        }
    };
    let sealed = status["sealed"].as_bool().unwrap_or(false);
    let code = print_seal_status(b, status, Some(&leader));
    if with_exit_code && sealed {
        return 2;
    }
    code
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}
fn i(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
}
fn bo(v: &Value, k: &str) -> bool {
    v[k].as_bool().unwrap_or(false)
}

/// `SealStatusResponse` (+ the leader fields) in the reference's field order.
fn seal_status_fields(status: &Value, leader: Option<&Value>) -> Vec<(&'static str, Value)> {
    let mut f: Vec<(&str, Value)> = vec![
        ("type", Value::from(s(status, "type"))),
        ("initialized", Value::from(bo(status, "initialized"))),
        ("sealed", Value::from(bo(status, "sealed"))),
        ("t", Value::from(i(status, "t"))),
        ("n", Value::from(i(status, "n"))),
        ("progress", Value::from(i(status, "progress"))),
        ("nonce", Value::from(s(status, "nonce"))),
        ("version", Value::from(s(status, "version"))),
        ("commit_date", Value::from(s(status, "commit_date"))),
        ("migration", Value::from(bo(status, "migration"))),
    ];
    for k in ["cluster_name", "cluster_id"] {
        if !s(status, k).is_empty() {
            f.push((k, Value::from(s(status, k))));
        }
    }
    f.push(("recovery_seal", Value::from(bo(status, "recovery_seal"))));
    for k in ["recovery_seal_type", "storage_type"] {
        if !s(status, k).is_empty() {
            f.push((k, Value::from(s(status, k))));
        }
    }
    if let Some(w) = status["warnings"].as_array().filter(|w| !w.is_empty()) {
        f.push(("warnings", Value::Array(w.clone())));
    }
    f.push(("build_date", Value::from(s(status, "build_date"))));
    if let Some(l) = leader {
        f.push(("ha_enabled", Value::from(bo(l, "ha_enabled"))));
        if bo(l, "is_self") {
            f.push(("is_self", Value::Bool(true)));
        }
        let active = s(l, "active_time");
        if !active.is_empty() && !active.starts_with("0001-01-01") {
            f.push(("active_time", Value::from(active)));
        }
        for k in ["leader_address", "leader_cluster_address"] {
            if !s(l, k).is_empty() {
                f.push((k, Value::from(s(l, k))));
            }
        }
        for k in ["raft_committed_index", "raft_applied_index"] {
            if i(l, k) > 0 {
                f.push((k, Value::from(i(l, k))));
            }
        }
    }
    f
}

pub fn print_seal_status(b: &mut Base, status: &Value, leader: Option<&Value>) -> i32 {
    match b.format() {
        "json" => {
            let out = go_json_ordered(&seal_status_fields(status, leader));
            b.ui.output(&out);
            0
        }
        "yaml" | "yml" => {
            let out = go_yaml(&ordered_to_value(&seal_status_fields(status, leader)));
            b.ui.output(&out);
            0
        }
        "table" => {
            let sealed = bo(status, "sealed");
            let recovery = bo(status, "recovery_seal");
            let prefix = if recovery { "Recovery " } else { "" };
            let mut out = vec!["Key | Value".to_string(), format!("Seal Type | {}", s(status, "type"))];
            if recovery {
                out.push(format!("Recovery Seal Type | {}", s(status, "recovery_seal_type")));
            }
            out.push(format!("Initialized | {}", bo(status, "initialized")));
            out.push(format!("Sealed | {sealed}"));
            out.push(format!("Total {prefix}Shares | {}", i(status, "n")));
            out.push(format!("Threshold | {}", i(status, "t")));
            if sealed {
                out.push(format!(
                    "Unseal Progress | {}/{}",
                    i(status, "progress"),
                    i(status, "t")
                ));
                out.push(format!("Unseal Nonce | {}", s(status, "nonce")));
            }
            if let Some(l) = leader {
                if bo(status, "migration") {
                    out.push("Seal Migration in Progress | true".into());
                }
                for (k, label) in [
                    ("version", "Version"),
                    ("commit_date", "Commit Date"),
                    ("storage_type", "Storage Type"),
                ] {
                    if !s(status, k).is_empty() {
                        out.push(format!("{label} | {}", s(status, k)));
                    }
                }
                if !s(status, "cluster_name").is_empty() && !s(status, "cluster_id").is_empty() {
                    out.push(format!("Cluster Name | {}", s(status, "cluster_name")));
                    out.push(format!("Cluster ID | {}", s(status, "cluster_id")));
                }
                let ha = bo(l, "ha_enabled");
                out.push(format!("HA Enabled | {ha}"));
                if ha && !sealed {
                    out.push(format!("HA Cluster | {}", s(l, "leader_cluster_address")));
                    let is_self = bo(l, "is_self");
                    out.push(format!("HA Mode | {}", if is_self { "active" } else { "standby" }));
                    let active = s(l, "active_time");
                    if is_self && !active.is_empty() && !active.starts_with("0001-01-01") {
                        out.push(format!("Active Since | {active}"));
                    }
                    if !is_self && !s(l, "leader_address").is_empty() {
                        out.push(format!("Active Node Address | {}", s(l, "leader_address")));
                    }
                }
                if i(l, "raft_committed_index") > 0 {
                    out.push(format!("Raft Committed Index | {}", i(l, "raft_committed_index")));
                }
                if i(l, "raft_applied_index") > 0 {
                    out.push(format!("Raft Applied Index | {}", i(l, "raft_applied_index")));
                }
            }
            let t = table_output(&out, "|");
            b.ui.output(&t);
            0
        }
        other => {
            let msg = format!("Could not parse output: cannot use the {other} formatter for this type");
            b.ui.error(&msg);
            1
        }
    }
}

/// `key=value` arguments as query parameters (string lists).
fn args_params(b: &mut Base, args: &[String], what: &str) -> Result<Vec<(String, String)>, i32> {
    match b.parse_args_data(args) {
        Ok(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                for item in crate::cli::args::weak_string_list(&v) {
                    out.push((k.clone(), item));
                }
            }
            Ok(out)
        }
        Err(e) => {
            b.ui.error(&format!("{what}: {e}"));
            Err(1)
        }
    }
}

fn read(b: &mut Base, f: Flags) -> i32 {
    if f.args.is_empty() {
        b.ui.error("Not enough arguments (expected 1, got 0)");
        return 1;
    }
    tri!(client(b, 2));
    let path = sanitize_path(&f.args[0]);
    let params = tri!(args_params(b, &f.args[1..], "Failed to parse K=V data"));
    let raw = b.format() == "raw";
    let c = b.client().expect("built above");
    if raw {
        let mut req = Request::new("GET", &path);
        req.params = params;
        let resp = match c.send(&req) {
            Ok(r) => r,
            Err(e) => return fail(b, &format!("Error reading: {path}"), &e),
        };
        if resp.status == 404 && resp.body.is_empty() {
            b.ui.error(&format!("No value found at {path}"));
            return 2;
        }
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        b.ui.output(&text);
        return 0;
    }
    let secret = match c.read(&path, &params) {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error reading {path}"), &e),
    };
    let Some(secret) = secret else {
        b.ui.error(&format!("No value found at {path}"));
        return 2;
    };
    let field = f.str("field");
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    output_secret(&mut b.ui, &secret)
}

/// `handleWriteSecretOutput`.
pub fn write_output(b: &mut Base, path: &str, result: Result<Option<Secret>, ApiError>, field: &str) -> i32 {
    let secret = match result {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error writing data to {path}"), &e),
    };
    let Some(secret) = secret else {
        if b.ui.is_table() {
            b.ui.output(&format!("Success! Data written to: {path}"));
        }
        return 0;
    };
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, field);
    }
    output_secret(&mut b.ui, &secret)
}

fn write_like(b: &mut Base, f: Flags, patch: bool) -> i32 {
    if f.args.is_empty() {
        b.ui.error("Not enough arguments (expected 1, got 0)");
        return 1;
    }
    if f.args.len() == 1 && !f.bool("force") {
        b.ui.error("Must supply data or use -force");
        return 1;
    }
    let path = sanitize_path(&f.args[0]);
    let data = match b.parse_args_data(&f.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            b.ui.error(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let c = tri!(client(b, 2));
    let body = Value::Object(data);
    let result = if patch {
        c.merge_patch(&path, &body)
    } else {
        c.write(&path, &body)
    };
    write_output(b, &path, result, &f.str("field"))
}

fn write(b: &mut Base, f: Flags) -> i32 {
    write_like(b, f, false)
}

fn patch(b: &mut Base, f: Flags) -> i32 {
    write_like(b, f, true)
}

fn list(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let path = sanitize_path(&f.args[0]);
    let (after, limit) = (f.str("after"), f.int("limit"));
    let c = tri!(client(b, 2));
    let result = if after.is_empty() && limit <= 0 {
        c.list(&path)
    } else {
        let mut req = Request::new("GET", &path)
            .param("list", "true")
            .param("after", &after)
            .param("limit", &limit.to_string());
        req.operation = "LIST".into();
        c.send(&req).and_then(|resp| {
            if resp.status == 404 {
                return Secret::parse(&resp.body)
                    .map(|s| s.filter(Secret::has_data_or_warnings))
                    .map_err(ApiError::Other);
            }
            if resp.status >= 400 {
                return Err(crate::cli::api::response_error("GET", &path, &resp));
            }
            Secret::parse(&resp.body).map_err(ApiError::Other)
        })
    };
    let secret = match result {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error listing {path}"), &e),
    };
    if let Some(s) = &secret {
        if s.wrap_info.is_some() && s.wrap_ttl() != 0 {
            return output_secret(&mut b.ui, s);
        }
    }
    let has_keys = secret
        .as_ref()
        .and_then(|s| s.data_map())
        .and_then(|d| d.get("keys"))
        .is_some_and(Value::is_array);
    if !b.ui.is_table() && !has_keys {
        output::output_data(&mut b.ui, Data::Map(&Map::new()));
        return 2;
    }
    let Some(secret) = secret else {
        b.ui.error(&format!("No value found at {path}"));
        return 2;
    };
    if secret.data.is_null() {
        return output_secret(&mut b.ui, &secret);
    }
    if !has_keys {
        b.ui.error(&format!("No entries found at {path}"));
        return 2;
    }
    let detailed = b.globals.detailed || f.bool("detailed");
    output_list(&mut b.ui, &secret, detailed)
}

fn delete(b: &mut Base, f: Flags) -> i32 {
    if f.args.is_empty() {
        b.ui.error("Not enough arguments (expected at least 1, got 0)");
        return 1;
    }
    tri!(client(b, 2));
    let path = sanitize_path(&f.args[0]);
    let params = tri!(args_params(b, &f.args[1..], "Failed to parse string list data"));
    let c = b.client().expect("built above");
    let secret = match c.delete(&path, &params) {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error deleting {path}"), &e),
    };
    let Some(secret) = secret else {
        if b.ui.is_table() {
            b.ui.output(&format!("Success! Data deleted (if it existed) at: {path}"));
        }
        return 0;
    };
    let field = f.str("field");
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    output_secret(&mut b.ui, &secret)
}

/// `sys/wrapping/unwrap` as the reference's API client calls it: the token in the body, or the client's own.
pub fn unwrap_call(b: &mut Base, token: &str) -> Result<Option<Secret>, ApiError> {
    let c = b.client().map_err(ApiError::Other)?;
    let req = if token.is_empty() {
        Request::new("PUT", "sys/wrapping/unwrap")
    } else {
        Request::new("PUT", "sys/wrapping/unwrap").json(&serde_json::json!({ "token": token }))
    };
    let resp = c.send(&req)?;
    if resp.status == 404 {
        // The wrapped response was read but the secret it named is gone: nothing to show.
        let parsed = Secret::parse(&resp.body).map_err(ApiError::Other)?;
        return Ok(parsed.filter(Secret::has_data_or_warnings));
    }
    if resp.status >= 400 {
        let url = c.url(&req);
        return Err(crate::cli::api::response_error("PUT", &url, &resp));
    }
    Secret::parse(&resp.body).map_err(ApiError::Other)
}

fn unwrap(b: &mut Base, f: Flags) -> i32 {
    let token = match f.args.len() {
        0 => String::new(),
        1 => f.args[0].trim().to_string(),
        n => {
            b.ui.error(&format!("Too many arguments (expected 0-1, got {n})"));
            return 1;
        }
    };
    tri!(client(b, 2));
    let secret = match unwrap_call(b, &token) {
        Ok(s) => s,
        Err(e) => return fail(b, "Error unwrapping", &e),
    };
    let Some(secret) = secret else {
        if b.ui.is_table() {
            b.ui.output("Successfully unwrapped. There was no data in the wrapped secret.");
        }
        return 0;
    };
    let field = f.str("field");
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    if secret
        .data_map()
        .and_then(|d| d.get("keys"))
        .is_some_and(Value::is_array)
    {
        return output_list(&mut b.ui, &secret, false);
    }
    output_secret(&mut b.ui, &secret)
}

fn print_token(b: &mut Base, _f: Flags) -> i32 {
    let c = tri!(client(b, 2));
    let token = c.token().unwrap_or_default().to_string();
    b.ui.output(&token);
    0
}

fn path_help(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let path = sanitize_path(&f.args[0]);
    let c = tri!(client(b, 2));
    let help = match c.json(Request::new("GET", &path).param("help", "1")) {
        Ok(v) => v,
        Err(e) => {
            if e.to_string().contains("Vault is sealed") {
                b.ui.error("Error: the server is sealed.\n\nThe \"path-help\" command requires the server to be unsealed so that the mount\npoints of the secret engines are known.");
            } else {
                b.ui.error(&format!("Error retrieving help: {e}"));
            }
            return 2;
        }
    };
    if b.format() == "json" {
        let openapi = help.get("openapi").cloned().unwrap_or(Value::Null);
        let compact = crate::cli::format::go_json_compact(&openapi);
        b.ui.output(&compact);
    } else {
        let text = help["help"].as_str().unwrap_or_default().to_string();
        b.ui.output(&text);
    }
    0
}

fn login(b: &mut Base, f: Flags) -> i32 {
    let token_only = f.bool("token-only");
    let mut no_store = f.bool("no-store") || token_only;
    let no_print = f.bool("no-print");
    let mut field = f.str("field");
    if token_only {
        no_store = true;
        field = "token".into();
    }
    if no_store && no_print {
        b.ui.error(&wrap_at_length("-no-store and -no-print cannot be used together"));
        return 1;
    }
    let mut method = sanitize_path(&f.str("method"));
    if method.is_empty() {
        method = "token".into();
    }
    let auth_path = {
        let p = f.str("path");
        if p.is_empty() {
            super::ensure_trailing_slash(&method)
        } else {
            p
        }
    };
    if !matches!(method.as_str(), "token" | "userpass" | "approle" | "ldap" | "radius") {
        b.ui.error(&wrap_at_length(&format!(
            "Unknown auth method: {method}. Use \"vault auth list\" to see the complete list of auth methods. Additionally, some auth methods are only available via the HTTP API."
        )));
        return 1;
    }
    let mut args = f.args.clone();
    if method == "token" && !args.is_empty() && !args[0].contains('=') {
        args[0] = format!("token={}", args[0]);
    }
    let config = match b.parse_args_data(&args) {
        Ok(m) => m,
        Err(e) => {
            b.ui.error(&format!("Error parsing configuration: {e}"));
            return 1;
        }
    };
    let mut config: Map<String, Value> = config
        .into_iter()
        .map(|(k, v)| (k, Value::String(crate::cli::args::weak_string(&v))))
        .collect();
    if config
        .get("mount")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
        && !auth_path.is_empty()
    {
        config.insert("mount".into(), Value::String(auth_path.clone()));
    }
    let non_interactive = b.non_interactive();
    let cfg = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
    let c = match b.client_without_token() {
        Ok(c) => c,
        Err(e) => {
            b.ui.error(&e);
            return 2;
        }
    };
    if method != "token" {
        c.set_token(None);
    }
    let secret = match method.as_str() {
        "token" => {
            let token = match cfg("token") {
                Some(t) => t,
                None if non_interactive => {
                    b.ui.error("Error authenticating: 'token' not supplied and refusing to pull from stdin");
                    return 2;
                }
                None => match read_hidden("Token (will be hidden): ", false) {
                    Ok(t) => t,
                    Err(e) => {
                        b.ui.error(&format!("Error authenticating: An error occurred attempting to ask for a token. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: {e}"));
                        return 2;
                    }
                },
            };
            let token = token.trim().to_string();
            if token.is_empty() {
                b.ui.error(
                    "Error authenticating: a token must be passed to auth, please view the help for more information",
                );
                return 2;
            }
            let lookup = match cfg("lookup") {
                Some(x) => match crate::cli::flags::parse_bool(&x) {
                    Ok(v) => v,
                    Err(e) => {
                        b.ui.error(&format!(
                            "Error authenticating: Failed to parse \"lookup\" as boolean: {e}"
                        ));
                        return 2;
                    }
                },
                None => true,
            };
            if !lookup {
                let mut auth = Map::new();
                auth.insert("client_token".into(), Value::String(token));
                Secret {
                    auth: Some(auth),
                    ..Default::default()
                }
            } else {
                c.set_token(Some(token));
                c.no_wrap = true;
                match c.read("auth/token/lookup-self", &[]) {
                    Ok(Some(s)) => token_secret_from_lookup(&s),
                    Ok(None) => {
                        b.ui.error("Error authenticating: empty response from lookup-self");
                        return 2;
                    }
                    Err(e) => {
                        b.ui.error(&format!("Error authenticating: error looking up token: {e}"));
                        return 2;
                    }
                }
            }
        }
        _ => {
            // userpass and its kin: username=... password=... to auth/<mount>/login/<username>.
            let username = cfg("username").unwrap_or_default();
            let key = if method == "approle" { "role_id" } else { "username" };
            if method == "approle" {
                let mount = cfg("mount").unwrap_or_default();
                let body: Map<String, Value> = config
                    .iter()
                    .filter(|(k, _)| k.as_str() != "mount")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let path = format!("auth/{}/login", mount.trim_end_matches('/'));
                match c.write(&path, &Value::Object(body)) {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        b.ui.error("Error authenticating: empty response from credential provider");
                        return 2;
                    }
                    Err(e) => return fail(b, "Error authenticating", &e),
                }
            } else {
                if username.is_empty() {
                    b.ui.error(&format!("Error authenticating: '{key}' must be specified"));
                    return 2;
                }
                let password = match cfg("password").filter(|p| !p.is_empty()) {
                    Some(p) => p,
                    None => {
                        if non_interactive {
                            b.ui.error(
                                "Error authenticating: 'password' must be specified and refusing to pull from stdin",
                            );
                            return 2;
                        }
                        match read_hidden("Password (will be hidden): ", false) {
                            Ok(p) => p,
                            Err(e) => {
                                b.ui.error(&format!("Error authenticating: {e}"));
                                return 2;
                            }
                        }
                    }
                };
                let mount = cfg("mount").unwrap_or_default();
                let path = format!("auth/{}/login/{username}", mount.trim_end_matches('/'));
                match c.write(&path, &serde_json::json!({ "password": password })) {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        b.ui.error("Error authenticating: empty response from credential provider");
                        return 2;
                    }
                    Err(e) => return fail(b, "Error authenticating", &e),
                }
            }
        }
    };
    // A wrapped login answer: unwrap it unless only the wrapping token is wanted.
    let mut secret = secret;
    let mut wrapped = false;
    if secret.auth.is_none() && secret.wrap_info.is_some() {
        if secret.wrap_str("wrapped_accessor").is_empty() {
            b.ui.error("Error extracting token: wrapped response does not contain a token");
            return 2;
        }
        if token_only || no_store {
            wrapped = true;
        } else {
            let wrapping_token = secret.wrap_str("token");
            if let Ok(c) = b.client_without_token() {
                c.set_token(Some(wrapping_token));
                c.no_wrap = true;
            }
            match unwrap_call(b, "") {
                Ok(Some(s)) => secret = s,
                Ok(None) => {
                    b.ui.error("Vault returned an empty secret");
                    return 2;
                }
                Err(e) => return fail(b, "Error extracting token", &e),
            }
        }
    }
    if wrapped {
        if token_only {
            return print_raw_field(&mut b.ui, &secret, "wrapping_token");
        }
        return output_secret(&mut b.ui, &secret);
    }
    if secret.auth.is_none() {
        b.ui.error(&wrap_at_length("Vault returned a secret, but the secret has no authentication information attached. This should never happen and is likely a bug."));
        return 2;
    }
    let token = secret.auth_str("client_token");
    let warn_env_token = |b: &mut Base| {
        let var = if crate::cli::env::lookup("BAO_TOKEN").is_some_and(|t| !t.is_empty()) {
            Some(if std::env::var("VAULT_TOKEN").is_ok_and(|t| !t.is_empty()) {
                "VAULT_TOKEN"
            } else {
                "BAO_TOKEN"
            })
        } else {
            None
        };
        if let Some(var) = var {
            b.ui.warn(&format!(
                "{}\n",
                wrap_at_length(&format!("WARNING! The {var} environment variable is set! The value of this variable will take precedence; if this is unwanted please unset {var} or update its value accordingly."))
            ));
        }
    };
    if !no_store {
        if let Err(e) = base::token_helper_store(&token) {
            b.ui.error(&format!("Error storing token: {e}"));
            b.ui.error(&format!(
                "{}\n",
                wrap_at_length("Authentication was successful, but the token was not persisted. The resulting token is shown below for your records.")
            ));
            output_secret(&mut b.ui, &secret);
            return 2;
        }
        warn_env_token(b);
    } else if !token_only {
        b.ui.warn(&format!(
            "{}\n",
            wrap_at_length("The token was not stored in token helper. Set the VAULT_TOKEN environment variable or pass the token below with each request to Vault.")
        ));
    }
    if no_print {
        return 0;
    }
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    if b.ui.is_table() {
        b.ui.output(&format!(
            "{}\n",
            wrap_at_length("Success! You are now authenticated. The token information displayed below is already stored in the token helper. You do NOT need to run \"vault login\" again. Future Vault requests will automatically use this token.")
        ));
    }
    output_secret(&mut b.ui, &secret)
}

/// The token method's answer built from `lookup-self`, as the reference's token login handler builds it.
fn token_secret_from_lookup(s: &Secret) -> Secret {
    let empty = Map::new();
    let d = s.data_map().unwrap_or(&empty);
    let policies = d.get("policies").cloned().unwrap_or(Value::Null);
    let mut auth = Map::new();
    auth.insert("client_token".into(), d.get("id").cloned().unwrap_or(Value::from("")));
    auth.insert("accessor".into(), d.get("accessor").cloned().unwrap_or(Value::from("")));
    auth.insert("policies".into(), policies.clone());
    auth.insert("token_policies".into(), policies);
    auth.insert(
        "identity_policies".into(),
        d.get("identity_policies").cloned().unwrap_or(Value::Null),
    );
    auth.insert("metadata".into(), d.get("meta").cloned().unwrap_or(Value::Null));
    auth.insert("lease_duration".into(), d.get("ttl").cloned().unwrap_or(Value::from(0)));
    auth.insert(
        "renewable".into(),
        d.get("renewable").cloned().unwrap_or(Value::Bool(false)),
    );
    Secret {
        auth: Some(auth),
        ..Default::default()
    }
}

/// Read a secret from the terminal without echo, after a prompt on stdout or stderr. Like the reference, refuses
/// when stdin is not a terminal (pass the value as an argument, or "-", instead).
pub fn read_hidden(prompt: &str, on_stdout: bool) -> Result<String, String> {
    read_hidden_then(prompt, on_stdout, true)
}

/// [`read_hidden`], with or without the newline written after the answer (or the refusal).
pub fn read_hidden_then(prompt: &str, on_stdout: bool, newline_after: bool) -> Result<String, String> {
    use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};
    use std::io::{IsTerminal, Read, Write};
    let write = |text: &str| {
        if on_stdout {
            let mut o = std::io::stdout();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        } else {
            let mut e = std::io::stderr();
            let _ = e.write_all(text.as_bytes());
            let _ = e.flush();
        }
    };
    let after = if newline_after { "\n" } else { "" };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        write(prompt);
        write(after);
        return Err("file descriptor 0 is not a terminal".into());
    }
    // Echo goes off before the prompt shows, so nothing typed after it is ever echoed. Line editing and signals
    // are handled here (byte by byte) so that Ctrl-C cancels with the terminal restored.
    let saved = termios::tcgetattr(&stdin).map_err(|e| e.to_string())?;
    let mut quiet = saved.clone();
    quiet
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
    quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
    termios::tcsetattr(&stdin, OptionalActions::Now, &quiet).map_err(|e| e.to_string())?;
    write(prompt);
    let mut line = zeroize::Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    let mut input = stdin.lock();
    let outcome = loop {
        match input.read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) => match byte[0] {
                b'\n' | b'\r' => break Ok(()),
                0x03 => break Err(USER_CANCELED.to_string()),
                0x04 if line.is_empty() => break Ok(()),
                0x7f | 0x08 => {
                    line.pop();
                }
                0x15 => line.clear(),
                b => line.push(b),
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e.to_string()),
        }
    };
    zeroize::Zeroize::zeroize(&mut byte);
    let _ = termios::tcsetattr(&stdin, OptionalActions::Now, &saved);
    write(after);
    outcome?;
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// What [`read_hidden`] answers when the user presses Ctrl-C at the prompt.
pub const USER_CANCELED: &str = "user canceled";
