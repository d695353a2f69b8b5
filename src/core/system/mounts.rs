//! The mount endpoints of the system backend: `sys/mounts` (list), `sys/mounts/:path` (enable, read, disable),
//! `sys/mounts/:path/tune` (read, write, including the K/V version 1 -> 2 upgrade), `sys/remount` and
//! `sys/remount/status/:id` (moves), and `sys/internal/ui/mounts[/:path]` (what the `bao kv` commands ask first).
//! Fields, checks and error texts follow OpenBao's `logical_system.go`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{Handler, SystemBackend};
use crate::core::mounts::{
    sanitize_path, MountConfig, MountEntry, Table, TuneChange, PROTECTED_MOUNTS, UNTUNABLE_MOUNTS,
};
use crate::core::registry::{self, BackendKind};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response};
use crate::framework::{
    field, parse_duration_second, parse_go_int, Display, FieldDefault, Fields, Kind, PathSpec, PathTable, Schema,
};
use crate::policy::Acl;

/// The fields of `sys/mounts/:path` and `sys/auth/:path` (the names the "unrecognized parameters" warning knows).
const MOUNT_SCHEMA: Schema = &[
    field("path", Kind::Str).desc("The path to mount to. Example: \"aws/east\""),
    field("type", Kind::Str).desc("The type of the backend. Example: \"passthrough\""),
    field("description", Kind::Str).desc("User-friendly description for this mount."),
    field("config", Kind::Map).desc("Configuration for this mount, such as default_lease_ttl and max_lease_ttl."),
    field("local", Kind::Bool)
        .desc("Mark the mount as a local mount, which is not replicated and is unaffected by replication.")
        .default(FieldDefault::Bool(false)),
    field("seal_wrap", Kind::Bool)
        .desc("Whether to turn on seal wrapping for the mount.")
        .default(FieldDefault::Bool(false)),
    field("external_entropy_access", Kind::Bool)
        .desc("Whether to give the mount access to OpenBao's external entropy.")
        .default(FieldDefault::Bool(false)),
    field("plugin_name", Kind::Str)
        .desc("Name of the plugin to mount based from the name registered in the plugin catalog."),
    field("options", Kind::KvPairs)
        .desc("The options to pass into the backend. Should be a json object with string keys and values."),
    field("plugin_version", Kind::Str).desc("The semantic version of the plugin to use, or \"latest\"."),
];

/// The fields of `sys/mounts/:path/tune` and `sys/auth/:path/tune`.
const TUNE_SCHEMA: Schema = &[
    field("path", Kind::Str).desc("The path to mount to. Example: \"aws/east\""),
    field("default_lease_ttl", Kind::Str).desc("The default lease TTL for this mount."),
    field("max_lease_ttl", Kind::Str).desc("The max lease TTL for this mount."),
    field("description", Kind::Str).desc("User-friendly description for this credential backend."),
    field("audit_non_hmac_request_keys", Kind::CommaStrings)
        .desc("The list of keys in the request data object that will not be HMAC'ed by audit devices."),
    field("audit_non_hmac_response_keys", Kind::CommaStrings)
        .desc("The list of keys in the response data object that will not be HMAC'ed by audit devices."),
    field("options", Kind::KvPairs)
        .desc("The options to pass into the backend. Should be a json object with string keys and values."),
    field("listing_visibility", Kind::Str).desc("Determines the visibility of the mount in the UI-specific listing endpoint. Accepted value are 'unauth' and 'hidden', with the empty default ('') behaving like 'hidden'."),
    field("passthrough_request_headers", Kind::CommaStrings)
        .desc("A list of headers to whitelist and pass from the request to the plugin."),
    field("allowed_response_headers", Kind::CommaStrings)
        .desc("A list of headers to whitelist and allow a plugin to set on responses."),
    field("token_type", Kind::Str).desc("The type of token to issue (service or batch)."),
    field("plugin_version", Kind::Str).desc("The semantic version of the plugin to use, or \"latest\"."),
    field("user_lockout_config", Kind::Map).desc("The user lockout configuration to pass into the backend. Should be a json object with string keys and values."),
];

const REMOUNT_SCHEMA: Schema = &[
    field("from", Kind::Str).desc("The previous mount point."),
    field("to", Kind::Str).desc("The new mount point."),
];
const PATH_SCHEMA: Schema = &[field("path", Kind::Str).desc("The path of the mount.")];
const MIGRATION_SCHEMA: Schema = &[field("migration_id", Kind::Str).desc("The ID of the migration operation")];

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(message.into())
}

/// The mount endpoints. (A write to a folder below `sys/auth/` or `sys/mounts/` is refused before routing.)
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "mounts",
            fields: &[],
            operations: &[(Operation::Read, list_mounts)],
            existence: None,
            help: "List the currently mounted backends.",
            display: Display::new("mounts", "list", "secrets-engines"),
        },
        PathSpec {
            pattern: "remount",
            fields: REMOUNT_SCHEMA,
            operations: &[(Operation::Update, remount)],
            existence: None,
            help: "Move the mount point of an already-mounted backend, within or across namespaces",
            display: Display::new("", "remount", ""),
        },
        PathSpec {
            pattern: "internal/ui/mounts",
            fields: &[],
            operations: &[(Operation::Read, ui_mounts)],
            existence: None,
            help: "Information about mounts returned according to their tuned visibility. Internal API; its location, inputs, and outputs may change.",
            display: Display::new("internal-ui", "list", "enabled-visible-mounts"),
        },
        PathSpec {
            pattern: "remount/status/{+migration_id}",
            fields: MIGRATION_SCHEMA,
            operations: &[(Operation::Read, remount_status)],
            existence: None,
            help: "Check the status of a mount move operation",
            display: Display::new("remount", "status", ""),
        },
        PathSpec {
            pattern: "internal/ui/mounts/{*path}",
            fields: PATH_SCHEMA,
            operations: &[(Operation::Read, ui_mount)],
            existence: None,
            help: "Information about mounts returned according to their tuned visibility. Internal API; its location, inputs, and outputs may change.",
            display: Display::new("internal-ui", "read", "mount-information"),
        },
        PathSpec {
            pattern: "auth",
            fields: &[],
            operations: &[(Operation::Read, list_auth)],
            existence: None,
            help: "List the currently enabled credential backends.",
            display: Display::new("auth", "list", "enabled-methods"),
        },
        PathSpec {
            pattern: "auth/{*path}/tune",
            fields: TUNE_SCHEMA,
            operations: &[(Operation::Read, auth_tune_read), (Operation::Update, auth_tune_write)],
            existence: None,
            help: "Tune the configuration parameters for an auth path.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "tuning-information"),
                    (Operation::Update, "tune", "configuration-parameters"),
                ],
                ..Display::new("auth", "", "")
            },
        },
        PathSpec {
            pattern: "auth/{+path}",
            fields: MOUNT_SCHEMA,
            operations: &[
                (Operation::Read, read_auth),
                (Operation::Update, enable_auth),
                (Operation::Delete, disable_auth),
            ],
            existence: None,
            help: "Enable a new credential backend with a name.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "configuration"),
                    (Operation::Update, "enable", "method"),
                    (Operation::Delete, "disable", "method"),
                ],
                ..Display::new("auth", "", "")
            },
        },
        PathSpec {
            pattern: "mounts/{+path}/tune",
            fields: TUNE_SCHEMA,
            operations: &[(Operation::Read, tune_read), (Operation::Update, tune_write)],
            existence: None,
            help: "Tune backend configuration parameters for this mount.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "tuning-information"),
                    (Operation::Update, "tune", "configuration-parameters"),
                ],
                ..Display::new("mounts", "", "")
            },
        },
        PathSpec {
            pattern: "mounts/{+path}",
            fields: MOUNT_SCHEMA,
            operations: &[
                (Operation::Read, read_mount),
                (Operation::Update, enable_secrets),
                (Operation::Delete, disable),
            ],
            existence: None,
            help: "Mount a new backend at a new path.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "configuration"),
                    (Operation::Update, "enable", "secrets-engine"),
                    (Operation::Delete, "disable", "secrets-engine"),
                ],
                ..Display::new("mounts", "", "")
            },
        },
    ],
};

handler!(list_mounts, |core, _, req, _| list_mount_table(
    core,
    req,
    Table::Secret
));
handler!(list_auth, |core, _, req, _| list_mount_table(core, req, Table::Auth));
handler!(remount, |core, _, req, _| move_mount(core, req).await);
handler!(ui_mounts, |core, caller, req, _| visible_mounts(core, caller, req));
handler!(remount_status, |core, _, req, m| move_status(
    core,
    m.get("migration_id"),
    req
));
handler!(ui_mount, |core, caller, req, m| visible_mount(
    core,
    caller,
    m.get("path"),
    req
));
handler!(auth_tune_read, |core, _, req, m| read_tune(
    core,
    &format!("auth/{}", m.get("path")),
    req
));
handler!(auth_tune_write, |core, _, req, m| write_tune(
    core,
    &format!("auth/{}", m.get("path")),
    req
)
.await);
handler!(read_auth, |core, _, req, m| read_auth_mount(core, m.get("path"), req));
handler!(enable_auth, |core, _, req, m| enable(
    core,
    m.get("path"),
    req,
    Table::Auth
)
.await);
handler!(disable_auth, |core, _, req, m| disable_auth_mount(
    core,
    m.get("path"),
    req
)
.await);
handler!(tune_read, |core, _, req, m| read_tune(core, m.get("path"), req));
handler!(tune_write, |core, _, req, m| write_tune(core, m.get("path"), req).await);
handler!(read_mount, |core, _, req, m| read_secrets_mount(
    core,
    m.get("path"),
    req
));
handler!(enable_secrets, |core, _, req, m| enable(
    core,
    m.get("path"),
    req,
    Table::Secret
)
.await);
handler!(disable, |core, _, req, m| disable_secrets(core, m.get("path"), req)
    .await);

fn with_warnings(mut resp: Response, fields: &Fields, captured: &[&str]) -> Response {
    resp.warnings.extend(fields.warnings(captured));
    resp
}

/// `sys/mounts` and `sys/auth`: a mount table.
fn list_mount_table(core: &Core, req: &Request, table: Table) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, &[]);
    let tables = core.mount_tables();
    let entries = match table {
        Table::Secret => &tables.secret,
        Table::Auth => &tables.auth,
    };
    let data: Map<String, Value> = entries
        .iter()
        .map(|e| (e.path.clone(), Value::Object(e.info(table))))
        .collect();
    Ok(with_warnings(Response::legacy(data), &fields, &[]))
}

/// `sys/auth/:path`: the auth method mounted exactly there.
fn read_auth_mount(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, MOUNT_SCHEMA);
    fields.validate(true)?;
    let path = sanitize_path(path);
    let tables = core.mount_tables();
    let Some(entry) = tables.auth.iter().find(|e| e.path == path) else {
        return Err(invalid(format!("No auth engine at {path}")));
    };
    Ok(with_warnings(
        Response::legacy(entry.info(Table::Auth)),
        &fields,
        &["path"],
    ))
}

/// `DELETE sys/auth/:path`: disable the auth method mounted exactly there and delete its data; anything else
/// succeeds without saying whether it exists. The token store stays.
async fn disable_auth_mount(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    Fields::new(&req.data, PATH_SCHEMA).validate(true)?;
    let path = sanitize_path(path);
    if path == "token/" {
        return Err(invalid("token credential backend cannot be disabled"));
    }
    let accessor = core
        .mount_tables()
        .auth
        .iter()
        .find(|e| e.path == path)
        .map(|e| e.accessor.clone());
    if core.unmount(&path, Table::Auth).await? {
        // Its tokens go with it (OpenBao revokes the mount's leases), and so do its lockout counts.
        let revoked = core.revoke_logins_of(&format!("auth/{path}")).await?;
        if let Some(accessor) = accessor {
            core.forget_lockouts_of(&accessor).await?;
        }
        log::info!("mounts: disabled auth/{path}, revoked {revoked} token(s) it issued");
    }
    Ok(Response::no_content())
}

fn read_secrets_mount(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, MOUNT_SCHEMA);
    fields.validate(true)?;
    let path = sanitize_path(path);
    let Some((entry, table)) = core.matching_mount(&path) else {
        return Err(invalid(format!("No secret engine mount at {path}")));
    };
    Ok(with_warnings(Response::legacy(entry.info(table)), &fields, &["path"]))
}

/// The `config` of a mount request, decoded strictly as OpenBao's `APIMountConfig` (strings may be numbers, bools
/// must be bools, lists may be comma-separated strings).
fn mount_config(raw: &Map<String, Value>) -> Result<(MountConfig, Option<String>, Option<String>), CoreError> {
    let unconvertible = || invalid("unable to convert given mount config information");
    let text = |key: &str| -> Result<Option<String>, CoreError> {
        match raw.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(unconvertible()),
        }
    };
    let list = |key: &str| -> Result<Vec<String>, CoreError> {
        match raw.get(key) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(unconvertible()),
                })
                .collect(),
            Some(_) => Err(unconvertible()),
        }
    };
    let force_no_cache = match raw.get("force_no_cache") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(unconvertible()),
    };
    let config = MountConfig {
        default_lease_ttl: 0,
        max_lease_ttl: 0,
        force_no_cache,
        listing_visibility: text("listing_visibility")?.unwrap_or_default(),
        passthrough_request_headers: list("passthrough_request_headers")?,
        allowed_response_headers: list("allowed_response_headers")?,
        audit_non_hmac_request_keys: list("audit_non_hmac_request_keys")?,
        audit_non_hmac_response_keys: list("audit_non_hmac_response_keys")?,
        token_type: String::new(),
        user_lockout_config: None,
    };
    // Checked for type only: OpenBao reads them into the config too.
    text("token_type")?;
    text("plugin_version")?;
    text("plugin_name")?;
    Ok((config, text("default_lease_ttl")?, text("max_lease_ttl")?))
}

/// A TTL setting: empty or `system` is 0 (the system value).
fn ttl_setting(raw: Option<&str>, what: &str) -> Result<u64, CoreError> {
    match raw {
        None | Some("") | Some("system") => Ok(0),
        Some(text) => match parse_duration_second(&Value::String(text.to_string())) {
            Ok(secs) => Ok(secs.unwrap_or(0).max(0) as u64),
            Err(e) => Err(invalid(format!("unable to parse {what} TTL of {text}: {e}"))),
        },
    }
}

fn valid_listing_visibility(v: &str) -> bool {
    matches!(v, "" | "unauth" | "hidden")
}

/// Enable a secrets engine (`sys/mounts/:path`) or an auth method (`sys/auth/:path`), with OpenBao's checks in its
/// order: type, options, listing visibility, protected and singleton types, path conflicts, then the registry.
async fn enable(core: &Core, path: &str, req: &Request, table: Table) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, MOUNT_SCHEMA);
    fields.validate(true)?;
    let path = sanitize_path(path);
    let (registry_kind, what) = match table {
        Table::Secret => (BackendKind::SecretEngine, "secrets engine"),
        Table::Auth => (BackendKind::AuthMethod, "auth method"),
    };
    let mut kind = fields.str("type").unwrap_or_default();
    let mut options = fields.kv_pairs("options").unwrap_or_default();
    let (mut config, default_ttl, max_ttl) = mount_config(&fields.map("config").unwrap_or_default())?;
    config.default_lease_ttl = ttl_setting(default_ttl.as_deref(), "default")?;
    config.max_lease_ttl = ttl_setting(max_ttl.as_deref(), "max")?;
    if config.max_lease_ttl != 0 && config.default_lease_ttl > config.max_lease_ttl {
        return Err(invalid("given default lease TTL greater than given max lease TTL"));
    }
    let system_max = core.settings.max_lease_ttl.as_secs();
    if config.default_lease_ttl > system_max && config.max_lease_ttl == 0 {
        return Err(invalid(format!(
            "given default lease TTL greater than system max lease TTL of {system_max}"
        )));
    }
    match kind.as_str() {
        "" => return Err(invalid("backend type must be specified as a string")),
        "plugin" => match fields.str("plugin_name").filter(|n| !n.is_empty()) {
            Some(name) => kind = name,
            None => return Err(invalid("plugin_name must be provided for plugin backend")),
        },
        _ => {}
    }
    match kind.as_str() {
        "kv" if table == Table::Secret => {}
        "kv-v1" | "kv-v2" if table == Table::Secret => {
            options.insert("version".into(), kind[4..].to_string());
            kind = "kv".into();
        }
        other => {
            if options.get("version").is_some_and(|v| !v.is_empty()) {
                return Err(invalid(format!("{what} {other:?} does not allow setting a version")));
            }
        }
    }
    if !valid_listing_visibility(&config.listing_visibility) {
        return Err(invalid(format!(
            "invalid listing_visibility {}",
            config.listing_visibility
        )));
    }
    match table {
        Table::Secret => {
            if PROTECTED_MOUNTS.iter().any(|p| path.starts_with(p)) {
                return Err(invalid(format!("cannot mount {path:?}")));
            }
            if registry::SINGLETON_TYPES.contains(&kind.as_str()) {
                return Err(invalid(format!("mount type of {kind:?} is not mountable")));
            }
        }
        Table::Auth if kind == "token" => {
            return Err(invalid("token credential backend cannot be instantiated"));
        }
        Table::Auth => {}
    }
    let full_path = match table {
        Table::Secret => path.clone(),
        Table::Auth => format!("auth/{path}"),
    };
    if let Some(existing) = core.mount_tables().conflict(&full_path) {
        let existing = existing
            .strip_prefix("auth/")
            .filter(|_| table == Table::Auth)
            .unwrap_or(&existing);
        return Err(invalid(format!("path is already in use at {existing}")));
    }
    if registry::lookup(registry_kind, &kind).is_none() {
        return Err(invalid(format!("plugin not found in the catalog: {kind}")));
    }
    if !matches!(
        options.get("version").map(String::as_str),
        None | Some("") | Some("1") | Some("2")
    ) {
        if let Some(existing) = core.mount_tables().conflict(&path) {
            return Err(invalid(format!("path is already in use at {existing}")));
        }
        return Err(invalid(format!("nil backend of type {kind:?} returned from factory")));
    }
    let mut entry = MountEntry::new(
        &path,
        &kind,
        &fields.str("description").unwrap_or_default(),
        Some(options),
    );
    entry.config = config;
    entry.local = fields.bool("local").unwrap_or(false);
    entry.seal_wrap = fields.bool("seal_wrap").unwrap_or(false);
    entry.external_entropy_access = fields.bool("external_entropy_access").unwrap_or(false);
    entry.plugin_version = fields.str("plugin_version").unwrap_or_default();
    core.mount(entry, table).await?;
    Ok(Response::no_content())
}

async fn disable_secrets(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    Fields::new(&req.data, PATH_SCHEMA).validate(true)?;
    let path = sanitize_path(path);
    // Only a mount at exactly this path is disabled; anything else succeeds without saying whether it exists.
    let exact = core.matching_mount(&path).is_some_and(|(e, table)| match table {
        Table::Secret => e.path == path,
        Table::Auth => format!("auth/{}", e.path) == path,
    });
    if exact || path == "identity/" {
        if PROTECTED_MOUNTS.iter().any(|p| path.starts_with(p)) {
            return Err(invalid(format!("cannot unmount {path:?}")));
        }
        core.unmount(&path, Table::Secret).await?;
    }
    Ok(Response::no_content())
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// OpenBao's `validateMountPath`.
fn validate_mount_path(p: &str) -> Result<(), String> {
    let mut cleaned = clean_path(p);
    if p.ends_with('/') {
        cleaned.push('/');
    }
    if p != cleaned {
        return Err(format!("path '{p}' does not match cleaned path '{cleaned}'"));
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("path cannot contain non-printable characters".into());
    }
    Ok(())
}

async fn move_mount(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, REMOUNT_SCHEMA);
    fields.validate(true)?;
    let from = fields.str("from").unwrap_or_default();
    let to = fields.str("to").unwrap_or_default();
    if from.is_empty() || to.is_empty() {
        return Err(invalid("both 'from' and 'to' path must be specified as a string"));
    }
    if from.starts_with(' ') || from.ends_with(' ') {
        return Err(invalid("'from' path cannot contain trailing whitespace"));
    }
    if to.starts_with(' ') || to.ends_with(' ') {
        return Err(invalid("'to' path cannot contain trailing whitespace"));
    }
    let (from, to) = (sanitize_path(&from), sanitize_path(&to));
    validate_mount_path(&to).map_err(|e| invalid(format!("invalid destination mount: {e}")))?;
    if from.starts_with("auth/") {
        if !to.starts_with("auth/") {
            return Err(invalid(format!("cannot remount auth mount to non-auth mount {to:?}")));
        }
        if from.starts_with("auth/token/") {
            return Err(invalid(format!("cannot remount {from:?}")));
        }
        if to.starts_with("auth/token/") {
            return Err(invalid(format!("cannot remount to destination {to:?}")));
        }
    } else {
        for p in PROTECTED_MOUNTS {
            if from.starts_with(p) {
                return Err(invalid(format!("cannot remount {from:?}")));
            }
            if to.starts_with(p) {
                return Err(invalid(format!("cannot remount to destination {to}")));
            }
        }
    }
    if core.matching_mount(&from).is_none() {
        return Err(invalid(format!("no matching mount at {from:?}")));
    }
    let id = core.remount(&from, &to).await?;
    let mut data = Map::new();
    data.insert("migration_id".into(), json!(id));
    let mut resp = Response::legacy(data);
    resp.warnings.push(
        "Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id"
            .into(),
    );
    Ok(with_warnings(resp, &fields, &[]))
}

fn move_status(core: &Core, id: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, MIGRATION_SCHEMA);
    fields.validate(true)?;
    let info = core.migration_status(id).ok_or(CoreError::NotFound)?;
    let mut data = Map::new();
    data.insert("migration_id".into(), json!(id));
    data.insert(
        "migration_info".into(),
        json!({"source_mount": info.source_mount, "target_mount": info.target_mount, "status": info.status}),
    );
    Ok(with_warnings(Response::with_data(data), &fields, &["migration_id"]))
}

/// The settings `sys/mounts/:path/tune` shows (effective TTLs: the mount's, else the system's).
fn read_tune(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, TUNE_SCHEMA);
    fields.validate(true)?;
    let path = sanitize_path(path);
    let Some((entry, table)) = core.matching_mount(&path) else {
        return Err(invalid(format!("cannot fetch sysview for path {path:?}")));
    };
    let effective = |mount: u64, system: u64| if mount == 0 { system } else { mount };
    let mut data = Map::new();
    data.insert("description".into(), json!(entry.description));
    data.insert(
        "default_lease_ttl".into(),
        json!(effective(
            entry.config.default_lease_ttl,
            core.settings.default_lease_ttl.as_secs()
        )),
    );
    data.insert(
        "max_lease_ttl".into(),
        json!(effective(
            entry.config.max_lease_ttl,
            core.settings.max_lease_ttl.as_secs()
        )),
    );
    data.insert("force_no_cache".into(), json!(entry.config.force_no_cache));
    if entry.external_entropy_access {
        data.insert("external_entropy_access".into(), json!(true));
    }
    if table == Table::Auth {
        let token_type = if entry.config.token_type.is_empty() {
            "default-service"
        } else {
            entry.config.token_type.as_str()
        };
        data.insert("token_type".into(), json!(token_type));
        if let Some(tune) = &entry.config.user_lockout_config {
            tune.render(&mut data);
        }
    }
    let lists = [
        ("audit_non_hmac_request_keys", &entry.config.audit_non_hmac_request_keys),
        (
            "audit_non_hmac_response_keys",
            &entry.config.audit_non_hmac_response_keys,
        ),
        ("passthrough_request_headers", &entry.config.passthrough_request_headers),
        ("allowed_response_headers", &entry.config.allowed_response_headers),
    ];
    for (key, values) in lists {
        if !values.is_empty() {
            data.insert(key.into(), json!(values));
        }
    }
    if !entry.config.listing_visibility.is_empty() {
        data.insert("listing_visibility".into(), json!(entry.config.listing_visibility));
    }
    if let Some(options) = entry.options.as_ref().filter(|o| !o.is_empty()) {
        data.insert("options".into(), json!(options));
    }
    if !entry.plugin_version.is_empty() {
        data.insert("plugin_version".into(), json!(entry.plugin_version));
    }
    Ok(with_warnings(Response::legacy(data), &fields, &["path"]))
}

/// A tune's `user_lockout_config` (OpenBao's `APIUserLockoutConfig`, decoded as mapstructure does: the string
/// fields take numbers too, the bool must be a bool; other keys are ignored). `None`: not given; `Some(0)`: reset
/// to the inherited value ("system" for the durations).
struct LockoutTuneRequest {
    threshold: Option<u64>,
    duration: Option<u64>,
    counter_reset: Option<u64>,
    disable: Option<bool>,
}

impl LockoutTuneRequest {
    fn parse(raw: &Map<String, Value>) -> Result<Self, CoreError> {
        let unconvertible = || invalid("unable to convert given user lockout config information");
        let text = |key: &str| -> Result<Option<String>, CoreError> {
            match raw.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(unconvertible()),
            }
        };
        let disable = match raw.get("lockout_disable") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(unconvertible()),
        };
        let threshold = text("lockout_threshold")?;
        let duration = text("lockout_duration")?;
        let counter_reset = text("lockout_counter_reset_duration")?;
        let threshold = threshold
            .map(|t| {
                t.parse::<u64>().map_err(|_| {
                    invalid(format!(
                        "unable to parse user lockout threshold: strconv.ParseUint: parsing {t:?}: invalid syntax"
                    ))
                })
            })
            .transpose()?;
        let secs = |text: Option<String>| -> Result<Option<u64>, CoreError> {
            match text.as_deref() {
                None => Ok(None),
                Some("system") => Ok(Some(0)),
                Some(t) => parse_duration_second(&Value::String(t.to_string()))
                    .map(|s| Some(s.unwrap_or(0).max(0) as u64))
                    .map_err(invalid),
            }
        };
        Ok(LockoutTuneRequest {
            threshold,
            duration: secs(duration)?,
            counter_reset: secs(counter_reset)?,
            disable,
        })
    }

    fn apply(&self, tune: &mut crate::core::lockout::LockoutTune) {
        if let Some(v) = self.threshold {
            tune.lockout_threshold = v;
        }
        if let Some(v) = self.duration {
            tune.lockout_duration = v;
        }
        if let Some(v) = self.counter_reset {
            tune.lockout_counter_reset = v;
        }
        if let Some(v) = self.disable {
            tune.lockout_disable = v;
        }
    }
}

/// `parseutil.ParseInt` of a string ("" is 0), with Go's error text.
fn parse_version(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(0);
    }
    parse_go_int(text, false).map_err(|why| format!("strconv.ParseInt: parsing {text:?}: {why}"))
}

async fn write_tune(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, TUNE_SCHEMA);
    fields.validate(true)?;
    let path = sanitize_path(path);
    if UNTUNABLE_MOUNTS.iter().any(|p| path.starts_with(p)) {
        let allowed = ["path", "audit_non_hmac_request_keys", "audit_non_hmac_response_keys"];
        let refused = TUNE_SCHEMA
            .iter()
            .map(|f| f.name)
            .filter(|name| req.data.contains_key(*name) && !allowed.contains(name))
            .min();
        if let Some(field) = refused {
            return Err(invalid(format!("cannot tune parameter {field} of {path}")));
        }
    }
    let default_ttl = fields.str("default_lease_ttl").unwrap_or_default();
    let max_ttl = fields.str("max_lease_ttl").unwrap_or_default();
    let description = fields
        .has("description")
        .then(|| fields.str("description").unwrap_or_default());
    let listing_visibility = fields
        .has("listing_visibility")
        .then(|| fields.str("listing_visibility").unwrap_or_default());
    let token_type = fields
        .has("token_type")
        .then(|| fields.str("token_type").unwrap_or_default());
    let options = fields.kv_pairs("options").unwrap_or_default();
    let lockout = fields.map("user_lockout_config").filter(|m| !m.is_empty());
    let lockout = lockout.as_ref().map(LockoutTuneRequest::parse).transpose()?;
    let lists: Vec<(&str, Option<Vec<String>>)> = [
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "passthrough_request_headers",
        "allowed_response_headers",
    ]
    .iter()
    .map(|name| (*name, fields.strings(name).filter(|_| fields.has(name))))
    .collect();
    let untunable = UNTUNABLE_MOUNTS.iter().any(|p| path.starts_with(p));
    let mut versions = (0i64, 0i64);
    let upgraded = core
        .tune_mount(&path, |current, table| {
            let mut entry = current.clone();
            let mut upgrade_data = false;
            if !untunable {
                let parse = |raw: &str, current: u64| -> Result<u64, CoreError> {
                    match raw {
                        "" => Ok(current),
                        "system" => Ok(0),
                        text => parse_duration_second(&Value::String(text.to_string()))
                            .map(|s| s.unwrap_or(0).max(0) as u64)
                            .map_err(invalid),
                    }
                };
                let new_default = parse(&default_ttl, entry.config.default_lease_ttl)?;
                let new_max = parse(&max_ttl, entry.config.max_lease_ttl)?;
                if (new_default, new_max) != (entry.config.default_lease_ttl, entry.config.max_lease_ttl)
                    && new_default != 0
                    && new_max != 0
                    && new_max < new_default
                {
                    return Err(invalid(format!(
                        "backend max lease TTL of {new_max} would be less than backend default lease TTL of {new_default}"
                    )));
                }
                entry.config.default_lease_ttl = new_default;
                entry.config.max_lease_ttl = new_max;
            }
            if let Some(d) = &description {
                entry.description = d.clone();
            }
            for (name, values) in &lists {
                let Some(values) = values else { continue };
                match *name {
                    "audit_non_hmac_request_keys" => entry.config.audit_non_hmac_request_keys = values.clone(),
                    "audit_non_hmac_response_keys" => entry.config.audit_non_hmac_response_keys = values.clone(),
                    "passthrough_request_headers" => entry.config.passthrough_request_headers = values.clone(),
                    _ => entry.config.allowed_response_headers = values.clone(),
                }
            }
            if let Some(v) = &listing_visibility {
                if !valid_listing_visibility(v) {
                    return Err(invalid(format!("invalid listing_visibility {v}")));
                }
                entry.config.listing_visibility = v.clone();
            }
            if let Some(lockout) = &lockout {
                if !crate::core::lockout::SUPPORTED_METHODS.contains(&entry.kind.as_str()) {
                    return Err(invalid(format!(
                        "tuning of user lockout configuration for auth type {:?} not allowed",
                        entry.kind
                    )));
                }
                lockout.apply(entry.config.user_lockout_config.get_or_insert_with(Default::default));
            }
            if let Some(t) = &token_type {
                if table != Table::Auth {
                    return Err(invalid("'token_type' can only be modified on auth mounts"));
                }
                if entry.kind == "token" || entry.kind == "ns_token" {
                    return Err(invalid("'token_type' cannot be set for 'token' or 'ns_token' auth mounts"));
                }
                entry.config.token_type = t.clone();
            }
            if !options.is_empty() {
                if let Some(v) = options.get("version") {
                    let current_version = current
                        .options
                        .as_ref()
                        .and_then(|o| o.get("version"))
                        .cloned()
                        .unwrap_or_default();
                    let me = parse_version(&current_version).map_err(|e| invalid(format!("unable to parse mount entry: {e}")))?;
                    let wanted = parse_version(v).map_err(|e| invalid(format!("unable to parse options: {e}")))?;
                    if !(wanted == 1 || wanted == 2) {
                        return Err(invalid(format!("invalid version provided: {wanted}")));
                    }
                    if me > wanted {
                        return Err(invalid(format!("cannot downgrade mount from version {me}")));
                    }
                    upgrade_data = me < wanted && wanted == 2 && entry.kind == "kv";
                    versions = (me, wanted);
                }
                let mut merged: BTreeMap<String, String> = entry.options.clone().unwrap_or_default();
                for (k, v) in &options {
                    if v.is_empty() && k != "version" {
                        merged.remove(k);
                    } else {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                entry.options = Some(merged);
            }
            Ok(TuneChange { entry, upgrade_data })
        })
        .await?;
    if upgraded {
        // OpenBao reports the target version as 0 here (its variable is shadowed); the text is kept identical.
        let _ = versions.1;
        return Ok(Response::warning(format!(
            "Upgrading mount from version {} to version 0. This mount will be unavailable for a brief period and will resume service shortly.",
            versions.0
        )));
    }
    Ok(Response::no_content())
}

/// OpenBao's `hasMountAccess`: a token sees a mount if any capability (other than deny) of its ACL applies at or
/// below the mount's path.
pub(super) fn has_mount_access(acl: &Acl, path: &str) -> bool {
    if !acl.capabilities(path).contains(&"deny") {
        return true;
    }
    let described = acl.describe();
    ["exact_paths", "glob_paths"].iter().any(|table| {
        described[table].as_object().is_some_and(|rules| {
            rules.iter().any(|(rule, perms)| {
                let caps: Vec<&str> = perms["capabilities"]
                    .as_array()
                    .map(|c| c.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                rule.starts_with(path) && !caps.is_empty() && !caps.contains(&"deny")
            })
        })
    })
}

fn visible_mounts(core: &Core, caller: &Caller, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, &[]);
    let tables = core.mount_tables();
    let secret: Map<String, Value> = tables
        .secret
        .iter()
        .filter(|e| e.config.listing_visibility == "unauth" || has_mount_access(&caller.acl, &e.path))
        .map(|e| (e.path.clone(), Value::Object(e.info(Table::Secret))))
        .collect();
    let auth: Map<String, Value> = tables
        .auth
        .iter()
        .filter(|e| {
            e.config.listing_visibility == "unauth" || has_mount_access(&caller.acl, &format!("auth/{}", e.path))
        })
        .map(|e| (e.path.clone(), Value::Object(e.info(Table::Auth))))
        .collect();
    let mut data = Map::new();
    data.insert("secret".into(), Value::Object(secret));
    data.insert("auth".into(), Value::Object(auth));
    Ok(with_warnings(Response::with_data(data), &fields, &[]))
}

fn visible_mount(core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, PATH_SCHEMA);
    fields.validate(true)?;
    if path.is_empty() {
        return Err(invalid("path not set"));
    }
    let path = sanitize_path(path);
    let denied = || {
        CoreError::Forbidden(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path {path:?}"
        ))
    };
    let Some((entry, table)) = core.matching_mount(&path) else {
        return Err(denied());
    };
    let full = match table {
        Table::Secret => entry.path.clone(),
        Table::Auth => format!("auth/{}", entry.path),
    };
    if !has_mount_access(&caller.acl, &full) {
        return Err(denied());
    }
    let mut data = entry.info(table);
    data.insert("path".into(), json!(entry.path));
    Ok(with_warnings(Response::with_data(data), &fields, &["path"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_must_be_clean() {
        assert_eq!(
            validate_mount_path("a/../b/").unwrap_err(),
            "path 'a/../b/' does not match cleaned path 'b/'"
        );
        assert!(validate_mount_path("a/b/").is_ok());
        assert!(validate_mount_path("a//b/").is_err());
        assert_eq!(clean_path("a/./b"), "a/b");
        assert_eq!(
            parse_version("x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
    }
}
