//! `sys/audit` (list), `sys/audit/:path` (enable, disable), `sys/audit-hash/:path` and
//! `sys/config/auditing/request-headers[/:header]` (which request headers entries record), with OpenBao 2.7.2's texts;
//! `sys/audit-chain-key/:path` (ours, root only) exports the key that verifies a chaining device's entries.
//! Enabling through the API is refused unless the configuration sets `unsafe_allow_api_audit_creation`: an
//! API-created file device lets whoever holds a root token write files on the server.

use serde_json::{json, Map, Value};

use super::{Handler, SystemBackend};
use crate::core::audit::{DeclaredDevice, HeaderSetting};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, Display, Field, FieldDefault, Kind, PathSpec, PathTable};

const DEVICE_PATH: Field =
    field("path", Kind::Str).desc("The name of the backend. Cannot be delimited. Example: \"mysql\"");

/// The audit endpoints.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "audit",
            fields: &[],
            operations: &[(Operation::Read, list_devices)],
            existence: None,
            help: "List the currently enabled audit backends.",
            display: Display::new("auditing", "list", "enabled-devices"),
        },
        PathSpec {
            pattern: "audit/",
            fields: &[],
            operations: &[(Operation::Read, list_devices)],
            existence: None,
            help: "List the currently enabled audit backends.",
            display: Display::new("auditing", "list", "enabled-devices"),
        },
        PathSpec {
            pattern: "audit/{+path}",
            fields: &[
                DEVICE_PATH,
                field("type", Kind::Str).desc("The type of the backend. Example: \"mysql\""),
                field("description", Kind::Str).desc("User-friendly description for this audit backend."),
                field("options", Kind::KvPairs).desc("Configuration options for the audit backend."),
                field("local", Kind::Bool)
                    .desc("Mark the mount as a local mount, which is not replicated and is unaffected by replication.")
                    .default(FieldDefault::Bool(false)),
            ],
            operations: &[(Operation::Update, enable_device), (Operation::Delete, disable_device)],
            existence: None,
            help: "Enable or disable audit backends.",
            display: Display {
                per_op: &[
                    (Operation::Update, "enable", "device"),
                    (Operation::Delete, "disable", "device"),
                ],
                ..Display::new("auditing", "", "")
            },
        },
        PathSpec {
            pattern: "audit-chain-key/{*path}",
            fields: &[DEVICE_PATH],
            operations: &[(Operation::Read, chain_key)],
            existence: None,
            help: "The key that verifies the chain of a chaining audit device's entries (root only).",
            display: Display::new("auditing", "read", "chain-key"),
        },
        PathSpec {
            pattern: "config/auditing/request-headers",
            fields: &[],
            operations: &[(Operation::Read, list_request_headers)],
            existence: None,
            help: "Lists the headers configured to be audited.",
            display: Display::new("auditing", "list", "request-headers"),
        },
        PathSpec {
            pattern: "config/auditing/request-headers/{+header}",
            fields: &[
                field("header", Kind::Str).desc("The name of the header."),
                field("hmac", Kind::Bool).desc("Whether the header's value is HMAC'ed in the audit logs."),
            ],
            operations: &[
                (Operation::Read, read_request_header),
                (Operation::Update, set_request_header),
                (Operation::Delete, unset_request_header),
            ],
            existence: None,
            help: "Configures the headers sent to the audit logs.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "request-header-information"),
                    (Operation::Update, "enable", "request-header"),
                    (Operation::Delete, "disable", "request-header"),
                ],
                ..Display::new("auditing", "", "")
            },
        },
        PathSpec {
            pattern: "audit-hash/{*path}",
            fields: &[DEVICE_PATH, field("input", Kind::Str).desc("The string to hash.")],
            operations: &[(Operation::Update, hash_input)],
            existence: None,
            help: "The hash of the given string via the given audit backend",
            display: Display::new("auditing", "calculate", "hash"),
        },
    ],
};

handler!(list_devices, |core, _, _, _| Ok(list(core)));
handler!(enable_device, |core, _, req, m| enable(core, m.get("path"), req).await);
handler!(disable_device, |core, _, _, m| core
    .disable_audit(m.get("path"))
    .await
    .map(|()| Response::no_content()));
handler!(chain_key, |core, _, _, m| core.audit_chain_key(m.get("path")).map(
    |key| {
        let mut data = Map::new();
        data.insert("key".into(), Value::String(key));
        Response::with_data(data)
    }
));
handler!(list_request_headers, |core, _, _, _| Ok(list_headers(core)));
handler!(read_request_header, |core, _, _, m| read_header(core, m.get("header")));
handler!(set_request_header, |core, _, req, m| {
    let hmac = fields::boolean(&req.data, "hmac")?.unwrap_or(false);
    core.set_audited_header(m.get("header"), Some(HeaderSetting { hmac }))
        .await
        .map(|()| Response::no_content())
});
handler!(unset_request_header, |core, _, _, m| core
    .set_audited_header(m.get("header"), None)
    .await
    .map(|()| Response::no_content()));
handler!(hash_input, |core, _, req, m| hash(core, m.get("path"), req));

fn list(core: &Core) -> Response {
    let mut data = Map::new();
    for device in core.audit_devices().iter() {
        let e = &device.entry;
        data.insert(
            e.path.clone(),
            json!({
                "path": e.path,
                "type": e.kind,
                "description": e.description,
                "options": e.options,
                "local": e.local,
            }),
        );
    }
    Response::legacy(data)
}

async fn enable(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let settings = &core.settings.audit;
    let declared = DeclaredDevice {
        kind: fields::string(&req.data, "type")?.unwrap_or_default(),
        path: path.to_string(),
        description: fields::string(&req.data, "description")?.unwrap_or_default(),
        local: fields::boolean(&req.data, "local")?.unwrap_or(false),
        options: fields::string_map(&req.data, "options")?,
    };
    if !settings.allow_api_creation {
        return Err(CoreError::InvalidRequest(
            "cannot enable audit device via API; use declarative, config-based audit device management instead".into(),
        ));
    }
    if declared.options.contains_key("prefix") && !settings.allow_prefixing {
        return Err(CoreError::InvalidRequest("audit log prefixing is not allowed".into()));
    }
    core.enable_audit(path, &declared).await?;
    Ok(Response::no_content())
}

/// `GET sys/config/auditing/request-headers`: every audited header with its setting.
fn list_headers(core: &Core) -> Response {
    let headers: Map<String, Value> = core
        .audited_headers()
        .iter()
        .map(|(name, setting)| (name.clone(), json!({"hmac": setting.hmac})))
        .collect();
    let mut data = Map::new();
    data.insert("headers".into(), Value::Object(headers));
    Response::legacy(data)
}

/// `GET sys/config/auditing/request-headers/:header`: keyed by the name as asked (OpenBao's shape).
fn read_header(core: &Core, header: &str) -> Result<Response, CoreError> {
    let headers = core.audited_headers();
    let setting = headers
        .get(&header.to_ascii_lowercase())
        .ok_or_else(|| CoreError::InvalidRequest("Could not find header in config".into()))?;
    let mut data = Map::new();
    data.insert(header.to_string(), json!({"hmac": setting.hmac}));
    Ok(Response::legacy(data))
}

fn hash(core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
    let input = fields::string(&req.data, "input")?.unwrap_or_default();
    if input.is_empty() {
        return Err(CoreError::InvalidRequest("the \"input\" parameter is empty".into()));
    }
    let hash = core.audit_hash(path, &input)?;
    let mut data = Map::new();
    data.insert("hash".into(), Value::String(hash));
    Ok(Response::legacy(data))
}
