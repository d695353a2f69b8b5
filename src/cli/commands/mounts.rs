//! `secrets`, `auth`, `audit` and `lease`: the mount tables and leases.

use serde_json::{Map, Value};

use super::{client, cmd, ensure_trailing_slash, exact_args, fail, group, no_args, obj, sanitize_path, tri};
use crate::cli::api::{Request, Secret};
use crate::cli::base::{Base, Command, DETAILED, FORMAT, HTTP};
use crate::cli::flags::{flag, go_duration_string, Def, Flags, Kind};
use crate::cli::format::{go_json_ordered, go_v, go_yaml, table_output};
use crate::cli::output::output_secret;

pub fn commands() -> Vec<Command> {
    vec![
        group("secrets", "Interact with secrets engines", "  This command groups subcommands for interacting with secrets engines.\n\n      $ vault secrets list\n      $ vault secrets enable -path=kv2 kv-v2\n"),
        cmd("secrets enable", "Enable a secrets engine", "[options] TYPE", "  Enables a secrets engine at a path (by default, its type's name).\n\n      $ vault secrets enable -path=kv kv-v2\n", HTTP, enable_secrets_flags, secrets_enable),
        cmd("secrets disable", "Disable a secret engine", "[options] PATH", "  Disables a secrets engine at the given path; its data is deleted.\n\n      $ vault secrets disable kv/\n", HTTP, super::super::base::no_flags, secrets_disable),
        cmd("secrets list", "List enabled secrets engines", "[options]", "  Lists the enabled secret engines.\n\n      $ vault secrets list -detailed\n", HTTP | FORMAT | DETAILED, super::super::base::no_flags, secrets_list),
        cmd("secrets tune", "Tune a secrets engine configuration", "[options] PATH", "  Tunes the configuration options of the secrets engine at the given path.\n\n      $ vault secrets tune -default-lease-ttl=72h pki/\n", HTTP, tune_flags, secrets_tune),
        cmd("secrets move", "Move a secrets engine to a new path", "[options] SOURCE DESTINATION", "  Moves an existing secrets engine to a new path.\n\n      $ vault secrets move secret/ generic/\n", HTTP, super::super::base::no_flags, secrets_move),
        group("auth", "Interact with auth methods", "  This command groups subcommands for interacting with auth methods.\n\n      $ vault auth list\n      $ vault auth enable userpass\n"),
        cmd("auth enable", "Enables a new auth method", "[options] TYPE", "  Enables a new auth method at a path (by default, its type's name).\n\n      $ vault auth enable userpass\n", HTTP, enable_auth_flags, auth_enable),
        cmd("auth disable", "Disables an auth method", "[options] PATH", "  Disables the auth method at the given path; its data is deleted and its tokens revoked.\n\n      $ vault auth disable userpass/\n", HTTP, super::super::base::no_flags, auth_disable),
        cmd("auth list", "Lists enabled auth methods", "[options]", "  Lists the enabled auth methods.\n\n      $ vault auth list -detailed\n", HTTP | FORMAT | DETAILED, super::super::base::no_flags, auth_list),
        cmd("auth tune", "Tunes an auth method configuration", "[options] PATH", "  Tunes the configuration options of the auth method at the given path.\n\n      $ vault auth tune -default-lease-ttl=72h userpass/\n", HTTP, auth_tune_flags, auth_tune),
        group("audit", "Interact with audit devices", "  This command groups subcommands for interacting with audit devices.\n\n      $ vault audit list\n      $ vault audit enable file file_path=/var/log/audit.log\n"),
        cmd("audit enable", "Enables an audit device", "[options] TYPE [CONFIG K=V...]", "  Enables an audit device at a path (by default, its type's name).\n\n      $ vault audit enable file file_path=/tmp/audit.log\n", HTTP, audit_enable_flags, audit_enable),
        cmd("audit disable", "Disables an audit device", "[options] PATH", "  Disables the audit device at the given path.\n\n      $ vault audit disable file/\n", HTTP, super::super::base::no_flags, audit_disable),
        cmd("audit list", "Lists enabled audit devices", "[options]", "  Lists the enabled audit devices.\n\n      $ vault audit list -detailed\n", HTTP | FORMAT | DETAILED, super::super::base::no_flags, audit_list),
        group("lease", "Interact with leases", "  This command groups subcommands for interacting with leases.\n\n      $ vault lease lookup database/creds/readonly/2f6a614c\n"),
        cmd("lease lookup", "Lookup the lease of a secret", "[options] ID", "  Looks up a lease.\n\n      $ vault lease lookup database/creds/readonly/2f6a614c\n", HTTP | FORMAT, super::super::base::no_flags, lease_lookup),
        cmd("lease renew", "Renews the lease of a secret", "[options] ID", "  Renews a lease, optionally asking for an increment.\n\n      $ vault lease renew -increment=1h database/creds/readonly/2f6a614c\n", HTTP | FORMAT, lease_renew_flags, lease_renew),
        cmd("lease revoke", "Revokes leases and secrets", "[options] ID", "  Revokes a lease (with -prefix, every lease below the given prefix).\n\n      $ vault lease revoke database/creds/readonly/2f6a614c\n", HTTP, lease_revoke_flags, lease_revoke),
    ]
}

/// Field orders of the reference's `MountInput` / `MountConfigInput` (for identical request bodies).
const MOUNT_INPUT: &[&str] = &[
    "type",
    "description",
    "config",
    "local",
    "seal_wrap",
    "external_entropy_access",
    "options",
];
const MOUNT_CONFIG: &[&str] = &[
    "options",
    "default_lease_ttl",
    "description",
    "max_lease_ttl",
    "force_no_cache",
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "token_type",
    "allowed_managed_keys",
    "plugin_version",
    "user_lockout_config",
];

fn common_mount_flags() -> Vec<Def> {
    vec![
        flag("description", Kind::Str, "", "Human-friendly description for the purpose of this engine."),
        flag("path", Kind::Str, "", "Place where the engine will be accessible. This must be unique across all engines. The default is the TYPE."),
        flag("default-lease-ttl", Kind::Duration, "", "The default lease TTL for this engine. If unspecified, this defaults to the server's globally configured default lease TTL."),
        flag("max-lease-ttl", Kind::Duration, "", "The maximum lease TTL for this engine. If unspecified, this defaults to the server's globally configured maximum lease TTL."),
        flag("audit-non-hmac-request-keys", Kind::Slice, "", "Key that will not be HMAC'd by audit devices in the request data object. To specify multiple values, specify this flag multiple times."),
        flag("audit-non-hmac-response-keys", Kind::Slice, "", "Key that will not be HMAC'd by audit devices in the response data object. To specify multiple values, specify this flag multiple times."),
        flag("listing-visibility", Kind::Str, "", "Determines the visibility of the mount in the UI-specific listing endpoint."),
        flag("passthrough-request-headers", Kind::Slice, "", "Request header value that will be sent to the plugin. To specify multiple values, specify this flag multiple times."),
        flag("allowed-response-headers", Kind::Slice, "", "Response header value that plugins will be allowed to set. To specify multiple values, specify this flag multiple times."),
        flag("plugin-name", Kind::Str, "", "Name of the plugin to enable (when TYPE is \"plugin\")."),
        flag("plugin-version", Kind::Str, "", "Select the semantic version of the plugin to enable."),
        flag("options", Kind::Map, "", "Key-value pair provided as key=value for the mount options. This can be specified multiple times."),
        flag("local", Kind::Bool, "false", "Mark the engine as local-only."),
        flag("seal-wrap", Kind::Bool, "false", "Enable seal wrapping of critical values in the engine."),
        flag("external-entropy-access", Kind::Bool, "false", "Enable engine to access external entropy source."),
        flag("version", Kind::Int, "0", "Select the version of the engine to run. Not supported by all engines."),
    ]
}

fn enable_secrets_flags() -> Vec<Def> {
    let mut f = common_mount_flags();
    f.push(flag(
        "force-no-cache",
        Kind::Bool,
        "false",
        "Force the secrets engine to disable caching.",
    ));
    f
}

fn enable_auth_flags() -> Vec<Def> {
    let mut f = common_mount_flags();
    f.push(flag(
        "token-type",
        Kind::Str,
        "",
        "Sets a forced token type for the mount.",
    ));
    f
}

fn tune_flags() -> Vec<Def> {
    vec![
        flag(
            "audit-non-hmac-request-keys",
            Kind::Slice,
            "",
            "Key that will not be HMAC'd by audit devices in the request data object.",
        ),
        flag(
            "audit-non-hmac-response-keys",
            Kind::Slice,
            "",
            "Key that will not be HMAC'd by audit devices in the response data object.",
        ),
        flag(
            "default-lease-ttl",
            Kind::Duration,
            "",
            "The default lease TTL for this engine. \"system\" resets it to the server's default.",
        ),
        flag(
            "description",
            Kind::Str,
            "",
            "Human-friendly description of this engine.",
        ),
        flag(
            "listing-visibility",
            Kind::Str,
            "",
            "Determines the visibility of the mount in the UI-specific listing endpoint.",
        ),
        flag(
            "max-lease-ttl",
            Kind::Duration,
            "",
            "The maximum lease TTL for this engine. \"system\" resets it to the server's default.",
        ),
        flag(
            "passthrough-request-headers",
            Kind::Slice,
            "",
            "Request header value that will be sent to the plugin.",
        ),
        flag(
            "allowed-response-headers",
            Kind::Slice,
            "",
            "Response header value that plugins will be allowed to set.",
        ),
        flag(
            "options",
            Kind::Map,
            "",
            "Key-value pair provided as key=value for the mount options. This can be specified multiple times.",
        ),
        flag(
            "version",
            Kind::Int,
            "0",
            "Select the version of the engine to run. Not supported by all engines.",
        ),
        flag(
            "plugin-version",
            Kind::Str,
            "",
            "Select the semantic version of the plugin to run.",
        ),
    ]
}

fn auth_tune_flags() -> Vec<Def> {
    let mut f = tune_flags();
    f.push(flag(
        "token-type",
        Kind::Str,
        "",
        "Sets a forced token type for the mount.",
    ));
    f.push(flag(
        "user-lockout-threshold",
        Kind::Int,
        "0",
        "The threshold for user lockout.",
    ));
    f.push(flag(
        "user-lockout-duration",
        Kind::Duration,
        "",
        "The time for which a user will be locked out.",
    ));
    f.push(flag(
        "user-lockout-counter-reset-duration",
        Kind::Duration,
        "",
        "The time after which the lockout counter is reset with no failed login attempts.",
    ));
    f.push(flag(
        "user-lockout-disable",
        Kind::Bool,
        "false",
        "Disables the user lockout feature.",
    ));
    f
}

fn audit_enable_flags() -> Vec<Def> {
    vec![
        flag(
            "description",
            Kind::Str,
            "",
            "Human-friendly description for the purpose of this audit device.",
        ),
        flag(
            "path",
            Kind::Str,
            "",
            "Place where the audit device will be accessible. The default is the TYPE.",
        ),
        flag(
            "local",
            Kind::Bool,
            "false",
            "Mark the audit device as a local-only device.",
        ),
    ]
}

fn lease_renew_flags() -> Vec<Def> {
    vec![flag(
        "increment",
        Kind::Duration,
        "",
        "Request a specific increment in seconds.",
    )
    .aliases(&["i"])]
}

fn lease_revoke_flags() -> Vec<Def> {
    vec![
        flag(
            "force",
            Kind::Bool,
            "false",
            "Delete the lease from storage even if the backend fails to revoke it. Requires -prefix.",
        )
        .aliases(&["f"]),
        flag(
            "prefix",
            Kind::Bool,
            "false",
            "Treat the ID as a prefix instead of an exact lease ID.",
        ),
        flag("sync", Kind::Bool, "false", "Wait for the revocation to finish."),
    ]
}

fn string_map(f: &Flags, name: &str, version: i64) -> Value {
    let mut m: Map<String, Value> = f.map(name).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    if version > 0 {
        m.insert("version".into(), Value::String(version.to_string()));
    }
    if m.is_empty() && !f.is_set(name) && version <= 0 {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// The `config` block of an enable request (only the flags given are sent, as the reference does).
fn enable_config(f: &Flags, auth: bool) -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("options".into(), Value::Null);
    config.insert(
        "default_lease_ttl".into(),
        Value::from(go_duration_string(f.duration("default-lease-ttl"))),
    );
    config.insert(
        "max_lease_ttl".into(),
        Value::from(go_duration_string(f.duration("max-lease-ttl"))),
    );
    config.insert("force_no_cache".into(), Value::Bool(!auth && f.bool("force-no-cache")));
    optional_config(f, &mut config, auth);
    config
}

fn optional_config(f: &Flags, config: &mut Map<String, Value>, auth: bool) {
    for (flag_name, key) in [
        ("audit-non-hmac-request-keys", "audit_non_hmac_request_keys"),
        ("audit-non-hmac-response-keys", "audit_non_hmac_response_keys"),
        ("passthrough-request-headers", "passthrough_request_headers"),
        ("allowed-response-headers", "allowed_response_headers"),
    ] {
        if f.is_set(flag_name) && !f.slice(flag_name).is_empty() {
            config.insert(key.into(), Value::from(f.slice(flag_name)));
        }
    }
    if f.is_set("listing-visibility") && !f.str("listing-visibility").is_empty() {
        config.insert("listing_visibility".into(), Value::from(f.str("listing-visibility")));
    }
    if auth && f.is_set("token-type") && !f.str("token-type").is_empty() {
        config.insert("token_type".into(), Value::from(f.str("token-type")));
    }
    if f.is_set("plugin-version") && !f.str("plugin-version").is_empty() {
        config.insert("plugin_version".into(), Value::from(f.str("plugin-version")));
    }
}

fn mount_type_and_path(f: &Flags) -> (String, String) {
    let mut kind = f.args[0].trim().to_string();
    if kind == "plugin" {
        kind = f.str("plugin-name");
    }
    let mut path = f.str("path");
    if path.is_empty() {
        path = kind.clone();
    }
    (kind, ensure_trailing_slash(&path))
}

fn secrets_enable(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let (kind, path) = mount_type_and_path(&f);
    let body = obj(vec![
        ("type", Value::from(kind.clone())),
        ("description", Value::from(f.str("description"))),
        ("config", Value::Object(enable_config(&f, false))),
        ("local", Value::Bool(f.bool("local"))),
        ("seal_wrap", Value::Bool(f.bool("seal-wrap"))),
        (
            "external_entropy_access",
            Value::Bool(f.bool("external-entropy-access")),
        ),
        ("options", string_map(&f, "options", f.int("version"))),
    ]);
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(
        Request::new("POST", &format!("sys/mounts/{path}"))
            .json_ordered(&body, &[("", MOUNT_INPUT), ("config", MOUNT_CONFIG)]),
    ) {
        return fail(b, "Error enabling", &e);
    }
    let mut thing = format!("{kind} secrets engine");
    if !f.str("plugin-version").is_empty() {
        thing.push_str(&format!(" version {}", f.str("plugin-version")));
    }
    b.ui.output(&format!("Success! Enabled the {thing} at: {path}"));
    0
}

fn auth_enable(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let (kind, path) = mount_type_and_path(&f);
    let body = obj(vec![
        ("type", Value::from(kind.clone())),
        ("description", Value::from(f.str("description"))),
        ("config", Value::Object(enable_config(&f, true))),
        ("local", Value::Bool(f.bool("local"))),
        ("seal_wrap", Value::Bool(f.bool("seal-wrap"))),
        (
            "external_entropy_access",
            Value::Bool(f.bool("external-entropy-access")),
        ),
        ("options", string_map(&f, "options", f.int("version"))),
    ]);
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(
        Request::new("POST", &format!("sys/auth/{path}"))
            .json_ordered(&body, &[("", MOUNT_INPUT), ("config", MOUNT_CONFIG)]),
    ) {
        return fail(b, &format!("Error enabling {kind} auth"), &e);
    }
    let mut thing = format!("{kind} auth method");
    if !f.str("plugin-version").is_empty() {
        thing.push_str(&format!(" version {}", f.str("plugin-version")));
    }
    b.ui.output(&format!("Success! Enabled {thing} at: {path}"));
    0
}

fn secrets_disable(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let path = ensure_trailing_slash(&sanitize_path(&f.args[0]));
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(Request::new("DELETE", &format!("sys/mounts/{path}"))) {
        return fail(b, &format!("Error disabling secrets engine at {path}"), &e);
    }
    b.ui.output(&format!(
        "Success! Disabled the secrets engine (if it existed) at: {path}"
    ));
    0
}

fn auth_disable(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let path = ensure_trailing_slash(&sanitize_path(&f.args[0]));
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(Request::new("DELETE", &format!("sys/auth/{path}"))) {
        return fail(b, &format!("Error disabling auth method at {path}"), &e);
    }
    b.ui.output(&format!("Success! Disabled the auth method (if it existed) at: {path}"));
    0
}

/// `ttlToAPI`: 0 → not sent, negative → "system".
fn ttl_to_api(ns: i64) -> Value {
    match ns {
        0 => Value::from(""),
        n if n < 0 => Value::from("system"),
        n => Value::from(go_duration_string(n)),
    }
}

fn tune_body(f: &Flags, auth: bool) -> Value {
    let mut config = Map::new();
    config.insert("options".into(), string_map(f, "options", f.int("version")));
    config.insert("default_lease_ttl".into(), ttl_to_api(f.duration("default-lease-ttl")));
    if f.is_set("description") {
        config.insert("description".into(), Value::from(f.str("description")));
    }
    config.insert("max_lease_ttl".into(), ttl_to_api(f.duration("max-lease-ttl")));
    config.insert("force_no_cache".into(), Value::Bool(false));
    optional_config(f, &mut config, auth);
    if auth {
        let mut lockout = Map::new();
        if f.is_set("user-lockout-threshold") {
            lockout.insert(
                "lockout_threshold".into(),
                Value::from(f.int("user-lockout-threshold").to_string()),
            );
        }
        if f.is_set("user-lockout-duration") {
            lockout.insert(
                "lockout_duration".into(),
                ttl_to_api(f.duration("user-lockout-duration")),
            );
        }
        if f.is_set("user-lockout-counter-reset-duration") {
            lockout.insert(
                "lockout_counter_reset_duration".into(),
                ttl_to_api(f.duration("user-lockout-counter-reset-duration")),
            );
        }
        if f.is_set("user-lockout-disable") {
            lockout.insert("lockout_disable".into(), Value::Bool(f.bool("user-lockout-disable")));
        }
        if !lockout.is_empty() {
            config.insert("user_lockout_config".into(), Value::Object(lockout));
        }
    }
    Value::Object(config)
}

fn secrets_tune(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let path = ensure_trailing_slash(&sanitize_path(&f.args[0]));
    let body = tune_body(&f, false);
    let c = b.client().expect("built above");
    if let Err(e) =
        c.raw(Request::new("POST", &format!("sys/mounts/{path}tune")).json_ordered(&body, &[("", MOUNT_CONFIG)]))
    {
        return fail(b, &format!("Error tuning secrets engine {path}"), &e);
    }
    b.ui.output(&format!("Success! Tuned the secrets engine at: {path}"));
    0
}

fn auth_tune(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let path = ensure_trailing_slash(&sanitize_path(&f.args[0]));
    let body = tune_body(&f, true);
    let c = b.client().expect("built above");
    if let Err(e) =
        c.raw(Request::new("POST", &format!("sys/mounts/auth/{path}tune")).json_ordered(&body, &[("", MOUNT_CONFIG)]))
    {
        return fail(b, &format!("Error tuning auth method {path}"), &e);
    }
    b.ui.output(&format!("Success! Tuned the auth method at: {path}"));
    0
}

fn secrets_move(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 2));
    let source = ensure_trailing_slash(&f.args[0]);
    let dest = ensure_trailing_slash(&f.args[1]);
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    let started = match c.json(Request::new("POST", "sys/remount").json(&obj(vec![
        ("from", Value::from(source.clone())),
        ("to", Value::from(dest.clone())),
    ]))) {
        Ok(v) => v,
        Err(e) => return fail(b, &format!("Error moving secrets engine {source} to {dest}"), &e),
    };
    let id = started
        .get("migration_id")
        .or_else(|| started.get("data").and_then(|d| d.get("migration_id")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    b.ui.output(&format!(
        "Started moving secrets engine {source} to {dest}, with migration ID {id}"
    ));
    loop {
        let c = b.client().expect("built above");
        let status = match c.json(Request::new("GET", &format!("sys/remount/status/{id}"))) {
            Ok(v) => v,
            Err(e) => {
                return fail(
                    b,
                    &format!("Error checking migration status of secrets engine {source} to {dest}"),
                    &e,
                )
            }
        };
        let info = status
            .get("migration_info")
            .or_else(|| status.get("data").and_then(|d| d.get("migration_info")))
            .cloned()
            .unwrap_or(Value::Null);
        match info.get("status").and_then(Value::as_str).unwrap_or_default() {
            "success" => {
                b.ui.output(&format!(
                    "Success! Finished moving secrets engine {source} to {dest}, with migration ID {id}"
                ));
                return 0;
            }
            "failure" => {
                b.ui.error(&format!(
                    "Failure! Error encountered moving secrets engine {source} to {dest}, with migration ID {id}"
                ));
                return 0;
            }
            _ => {
                b.ui.output(&format!(
                    "Waiting for terminal status in migration of secrets engine {source} to {dest}, with migration ID {id}"
                ));
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
        }
    }
}

/// The mount table from `sys/mounts` or `sys/auth` (the `data` block when present, else the top level).
fn mount_table(v: &Value) -> Map<String, Value> {
    let src = v.get("data").filter(|d| d.is_object()).unwrap_or(v);
    src.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, e)| k.ends_with('/') && e.is_object())
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn sv(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A mount's `config` (`MountConfigOutput`) rendered in the Go struct's field order.
fn config_text(m: &Value) -> String {
    let cfg = m.get("config").cloned().unwrap_or(Value::Null);
    let mut config: Vec<(&str, Value)> = vec![
        (
            "default_lease_ttl",
            Value::from(cfg.get("default_lease_ttl").and_then(Value::as_i64).unwrap_or(0)),
        ),
        (
            "max_lease_ttl",
            Value::from(cfg.get("max_lease_ttl").and_then(Value::as_i64).unwrap_or(0)),
        ),
        (
            "force_no_cache",
            Value::Bool(cfg.get("force_no_cache").and_then(Value::as_bool).unwrap_or(false)),
        ),
    ];
    for k in [
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "listing_visibility",
        "passthrough_request_headers",
        "allowed_response_headers",
        "token_type",
        "allowed_managed_keys",
        "user_lockout_config",
    ] {
        if let Some(v) = cfg.get(k) {
            let empty = match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if !empty {
                config.push((k, v.clone()));
            }
        }
    }
    go_json_ordered(&config)
}

/// One `MountOutput` in the Go struct's field order; `config` is a placeholder for [`config_text`].
fn mount_fields(m: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("uuid", Value::from(sv(m, "uuid"))),
        ("type", Value::from(sv(m, "type"))),
        ("description", Value::from(sv(m, "description"))),
        ("accessor", Value::from(sv(m, "accessor"))),
        ("config", Value::String("\u{0}".into())),
        (
            "options",
            m.get("options")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(Value::Null),
        ),
        (
            "local",
            Value::Bool(m.get("local").and_then(Value::as_bool).unwrap_or(false)),
        ),
        (
            "seal_wrap",
            Value::Bool(m.get("seal_wrap").and_then(Value::as_bool).unwrap_or(false)),
        ),
        (
            "external_entropy_access",
            Value::Bool(
                m.get("external_entropy_access")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
        ),
        ("plugin_version", Value::from(sv(m, "plugin_version"))),
        ("running_plugin_version", Value::from(sv(m, "running_plugin_version"))),
        ("running_sha256", Value::from(sv(m, "running_sha256"))),
        ("deprecation_status", Value::from(sv(m, "deprecation_status"))),
    ]
}

/// The mount table as the reference prints `map[string]*MountOutput` in JSON.
fn mounts_json(table: &Map<String, Value>) -> String {
    let mut out = String::from("{\n");
    let n = table.len();
    for (i, (path, m)) in table.iter().enumerate() {
        let text = go_json_ordered(&mount_fields(m)).replacen("\"\\u0000\"", &config_text(m).replace('\n', "\n  "), 1);
        out.push_str("  ");
        out.push_str(&crate::cli::format::go_json(&Value::String(path.clone())));
        out.push_str(": ");
        out.push_str(&text.replace('\n', "\n  "));
        if i + 1 < n {
            out.push(',');
        }
        out.push('\n');
    }
    out.push('}');
    out
}

fn mounts_value(table: &Map<String, Value>) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, m)| {
                let mut fields = mount_fields(m);
                for (key, v) in fields.iter_mut() {
                    if *key == "config" {
                        *v = serde_json::from_str(&config_text(m)).unwrap_or(Value::Null);
                    }
                }
                (k.clone(), crate::cli::format::ordered_to_value(&fields))
            })
            .collect(),
    )
}

fn list_mounts(b: &mut Base, f: Flags, auth: bool) -> i32 {
    tri!(no_args(b, &f.args));
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    let answer = match c.json(Request::new("GET", if auth { "sys/auth" } else { "sys/mounts" })) {
        Ok(v) => v,
        Err(e) => {
            let what = if auth {
                "Error listing enabled authentications"
            } else {
                "Error listing secrets engines"
            };
            return fail(b, what, &e);
        }
    };
    let table = mount_table(&answer);
    match b.format() {
        "table" => {
            let detailed = f.bool("detailed") || b.globals.detailed;
            let rows = if detailed {
                detailed_rows(&table, auth)
            } else if auth {
                let mut out = vec!["Path | Type | Accessor | Description | Version".to_string()];
                for (p, m) in &table {
                    out.push(format!(
                        "{p} | {} | {} | {} | {}",
                        sv(m, "type"),
                        sv(m, "accessor"),
                        sv(m, "description"),
                        sv(m, "plugin_version")
                    ));
                }
                out
            } else {
                let mut out = vec!["Path | Type | Accessor | Description".to_string()];
                for (p, m) in &table {
                    out.push(format!(
                        "{p} | {} | {} | {}",
                        sv(m, "type"),
                        sv(m, "accessor"),
                        sv(m, "description")
                    ));
                }
                out
            };
            let t = table_output(&rows, "|");
            b.ui.output(&t);
            0
        }
        "json" => {
            let s = mounts_json(&table);
            b.ui.output(&s);
            0
        }
        "yaml" | "yml" => {
            let s = go_yaml(&mounts_value(&table));
            b.ui.output(&s);
            0
        }
        other => {
            let msg = format!("Could not parse output: cannot use the {other} formatter for this type");
            b.ui.error(&msg);
            1
        }
    }
}

fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        Some(m) => go_v(&Value::Object(m.clone())),
        None => "map[]".into(),
    }
}

fn detailed_rows(table: &Map<String, Value>, auth: bool) -> Vec<String> {
    let ttl = |kind: &str, v: i64| -> String {
        if kind == "system" || kind == "cubbyhole" {
            String::new()
        } else if v != 0 {
            v.to_string()
        } else {
            "system".into()
        }
    };
    let mut out = if auth {
        vec!["Path | Plugin | Accessor | Default TTL | Max TTL | Token Type | Replication | Seal Wrap | External Entropy Access | Options | Description | UUID | Version | Running Version | Running SHA256 | Deprecation Status".to_string()]
    } else {
        vec!["Path | Plugin | Accessor | Default TTL | Max TTL | Force No Cache | Replication | Seal Wrap | External Entropy Access | Options | Description | UUID | Version | Running Version | Running SHA256 | Deprecation Status".to_string()]
    };
    for (p, m) in table {
        let kind = sv(m, "type");
        let cfg = m.get("config").cloned().unwrap_or(Value::Null);
        let dl = ttl(&kind, cfg.get("default_lease_ttl").and_then(Value::as_i64).unwrap_or(0));
        let ml = ttl(&kind, cfg.get("max_lease_ttl").and_then(Value::as_i64).unwrap_or(0));
        let replication = if m.get("local").and_then(Value::as_bool).unwrap_or(false) {
            "local"
        } else {
            "replicated"
        };
        let third = if auth {
            sv(&cfg, "token_type")
        } else {
            cfg.get("force_no_cache")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string()
        };
        out.push(format!(
            "{p} | {kind} | {} | {dl} | {ml} | {third} | {replication} | {} | {} | {} | {} | {} | {} | {} | {} | {}",
            sv(m, "accessor"),
            m.get("seal_wrap").and_then(Value::as_bool).unwrap_or(false),
            m.get("external_entropy_access")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            go_string_map(m.get("options")),
            sv(m, "description"),
            sv(m, "uuid"),
            sv(m, "plugin_version"),
            sv(m, "running_plugin_version"),
            sv(m, "running_sha256"),
            sv(m, "deprecation_status"),
        ));
    }
    out
}

fn secrets_list(b: &mut Base, f: Flags) -> i32 {
    list_mounts(b, f, false)
}

fn auth_list(b: &mut Base, f: Flags) -> i32 {
    list_mounts(b, f, true)
}

fn audit_enable(b: &mut Base, f: Flags) -> i32 {
    if f.args.is_empty() {
        b.ui.error(
            "Error enabling audit device: audit type missing. Valid types include 'file', 'socket' and 'syslog'.",
        );
        return 1;
    }
    let kind = f.args[0].trim().to_string();
    let mut path = f.str("path");
    if path.is_empty() {
        path = kind.clone();
    }
    let path = ensure_trailing_slash(&path);
    let options = match b.parse_args_data(&f.args[1..]) {
        Ok(m) => m
            .into_iter()
            .map(|(k, v)| (k, Value::String(crate::cli::args::weak_string(&v))))
            .collect::<Map<String, Value>>(),
        Err(e) => {
            b.ui.error(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    tri!(client(b, 2));
    let body = obj(vec![
        ("type", Value::from(kind.clone())),
        ("description", Value::from(f.str("description"))),
        ("options", Value::Object(options)),
        ("local", Value::Bool(f.bool("local"))),
    ]);
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(Request::new("PUT", &format!("sys/audit/{path}")).json(&body)) {
        return fail(b, "Error enabling audit device", &e);
    }
    b.ui.output(&format!("Success! Enabled the {kind} audit device at: {path}"));
    0
}

fn audit_disable(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let path = ensure_trailing_slash(&sanitize_path(&f.args[0]));
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(Request::new("DELETE", &format!("sys/audit/{path}"))) {
        return fail(b, "Error disabling audit device", &e);
    }
    b.ui.output(&format!(
        "Success! Disabled audit device (if it was enabled) at: {path}"
    ));
    0
}

fn audit_list(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    let answer = match c.json(Request::new("GET", "sys/audit")) {
        Ok(v) => v,
        Err(e) => return fail(b, "Error listing audits", &e),
    };
    let table = mount_table(&answer);
    // Each device as the API's `Audit` struct: type, description, options, local, path.
    let audit_fields = |p: &str, m: &Value| -> Vec<(&'static str, Value)> {
        vec![
            ("type", Value::from(sv(m, "type"))),
            ("description", Value::from(sv(m, "description"))),
            (
                "options",
                m.get("options")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or(Value::Null),
            ),
            (
                "local",
                Value::Bool(m.get("local").and_then(Value::as_bool).unwrap_or(false)),
            ),
            (
                "path",
                Value::from(if sv(m, "path").is_empty() {
                    p.to_string()
                } else {
                    sv(m, "path")
                }),
            ),
        ]
    };
    match b.format() {
        "table" => {
            if table.is_empty() {
                b.ui.output("No audit devices are enabled.");
                return 2;
            }
            let detailed = f.bool("detailed") || b.globals.detailed;
            let mut rows = if detailed {
                vec!["Path | Type | Description | Replication | Options".to_string()]
            } else {
                vec!["Path | Type | Description".to_string()]
            };
            for (p, m) in &table {
                if detailed {
                    let replication = if m.get("local").and_then(Value::as_bool).unwrap_or(false) {
                        "local"
                    } else {
                        "replicated"
                    };
                    rows.push(format!(
                        "{p} | {} | {} | {replication} | {}",
                        sv(m, "type"),
                        sv(m, "description"),
                        go_string_map(m.get("options"))
                    ));
                } else {
                    rows.push(format!("{p} | {} | {}", sv(m, "type"), sv(m, "description")));
                }
            }
            let t = table_output(&rows, "|");
            b.ui.output(&t);
            0
        }
        "json" => {
            let mut out = String::from("{\n");
            let n = table.len();
            for (i, (p, m)) in table.iter().enumerate() {
                out.push_str("  ");
                out.push_str(&crate::cli::format::go_json(&Value::String(p.clone())));
                out.push_str(": ");
                out.push_str(&go_json_ordered(&audit_fields(p, m)).replace('\n', "\n  "));
                if i + 1 < n {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push('}');
            let out = if n == 0 { "{}".to_string() } else { out };
            b.ui.output(&out);
            0
        }
        _ => {
            let v = Value::Object(
                table
                    .iter()
                    .map(|(p, m)| (p.clone(), crate::cli::format::ordered_to_value(&audit_fields(p, m))))
                    .collect(),
            );
            let s = go_yaml(&v);
            b.ui.output(&s);
            0
        }
    }
}

fn lease_call(b: &mut Base, req: Request) -> Result<Option<Secret>, crate::cli::api::ApiError> {
    let c = b.client().map_err(crate::cli::api::ApiError::Other)?;
    let resp = c.raw(req)?;
    Secret::parse(&resp.body).map_err(crate::cli::api::ApiError::Other)
}

fn lease_id_arg(b: &mut Base, f: &Flags, expected: &str) -> Result<String, i32> {
    match f.args.len() {
        0 => {
            b.ui.error("Missing ID!");
            Err(1)
        }
        1 => Ok(f.args[0].trim().to_string()),
        n => {
            b.ui.error(&format!("Too many arguments (expected {expected}, got {n})"));
            Err(1)
        }
    }
}

fn lease_lookup(b: &mut Base, f: Flags) -> i32 {
    tri!(lease_id_arg(b, &f, "1"));
    tri!(client(b, 2));
    let id = f.args[0].trim().to_string();
    match lease_call(
        b,
        Request::new("PUT", "sys/leases/lookup").json(&obj(vec![("lease_id", Value::from(id.clone()))])),
    ) {
        Ok(s) => output_secret(&mut b.ui, &s.unwrap_or_default()),
        Err(e) => fail(b, &format!("error looking up lease id {id}"), &e),
    }
}

fn lease_renew(b: &mut Base, f: Flags) -> i32 {
    tri!(lease_id_arg(b, &f, "1-2"));
    tri!(client(b, 2));
    let id = f.args[0].trim().to_string();
    let inc = (f.duration("increment") / 1_000_000_000).max(0);
    match lease_call(
        b,
        Request::new("PUT", "sys/leases/renew").json(&obj(vec![
            ("increment", Value::from(inc)),
            ("lease_id", Value::from(id.clone())),
        ])),
    ) {
        Ok(s) => output_secret(&mut b.ui, &s.unwrap_or_default()),
        Err(e) => fail(b, &format!("Error renewing {id}"), &e),
    }
}

fn lease_revoke(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    if f.bool("force") && !f.bool("prefix") {
        b.ui.error("Specifying -force requires also specifying -prefix");
        return 1;
    }
    tri!(client(b, 2));
    let id = f.args[0].trim().to_string();
    // The reference's RevokeWithOptions: the id in the path, `{"sync": ...}` in the body unless forced.
    let (endpoint, done) = if f.bool("force") {
        (
            "revoke-force",
            format!("Success! Force revoked any leases with prefix: {id}"),
        )
    } else if f.bool("prefix") {
        (
            "revoke-prefix",
            format!("Success! Revoked any leases with prefix: {id}"),
        )
    } else {
        ("revoke", format!("Success! Revoked lease: {id}"))
    };
    let done = if f.bool("sync") || f.bool("force") {
        done
    } else {
        "All revocation operations queued successfully!".to_string()
    };
    let mut req = Request::new("PUT", &format!("sys/leases/{endpoint}/{id}"));
    if !f.bool("force") {
        req = req.json(&obj(vec![("sync", Value::Bool(f.bool("sync")))]));
    }
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(req) {
        let what = if f.bool("force") {
            format!("Error force revoking leases with prefix {id}")
        } else if f.bool("prefix") {
            format!("Error revoking leases with prefix {id}")
        } else {
            format!("Error revoking lease {id}")
        };
        return fail(b, &what, &e);
    }
    b.ui.output(&done);
    0
}
