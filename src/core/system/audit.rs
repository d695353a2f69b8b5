//! `sys/audit` (list), `sys/audit/:path` (enable, disable), `sys/audit-hash/:path` and
//! `sys/config/auditing/request-headers[/:header]` (which request headers entries record), with OpenBao 2.7.2's texts;
//! `sys/audit-chain-key/:path` (ours, root only) exports the key that verifies a chaining device's entries.
//! Enabling through the API is refused unless the configuration sets `unsafe_allow_api_audit_creation`: an
//! API-created file device lets whoever holds a root token write files on the server.

use serde_json::{json, Map, Value};

use super::is_write;
use crate::core::audit::{DeclaredDevice, HeaderSetting};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};

/// Serve `path` (relative to `sys/`) if it is an audit endpoint; `None` for every other path.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let op = req.operation;
    if path == "audit" || path == "audit/" {
        return Some(if op == Operation::Read {
            Ok(list(core))
        } else {
            Err(CoreError::UnsupportedOperation)
        });
    }
    if let Some(device) = path.strip_prefix("audit/") {
        return Some(match op {
            _ if is_write(op) => enable(core, device, req).await,
            Operation::Delete => core.disable_audit(device).await.map(|()| Response::no_content()),
            _ => Err(CoreError::UnsupportedOperation),
        });
    }
    if let Some(device) = path.strip_prefix("audit-chain-key/") {
        return Some(if op == Operation::Read {
            core.audit_chain_key(device).map(|key| {
                let mut data = Map::new();
                data.insert("key".into(), Value::String(key));
                Response::with_data(data)
            })
        } else {
            Err(CoreError::UnsupportedOperation)
        });
    }
    if path == "config/auditing/request-headers" {
        return Some(if op == Operation::Read {
            Ok(list_headers(core))
        } else {
            Err(CoreError::UnsupportedOperation)
        });
    }
    if let Some(header) = path
        .strip_prefix("config/auditing/request-headers/")
        .filter(|h| !h.is_empty())
    {
        return Some(match op {
            Operation::Read => read_header(core, header),
            _ if is_write(op) => {
                let hmac = fields::boolean(&req.data, "hmac");
                match hmac {
                    Ok(hmac) => core
                        .set_audited_header(
                            header,
                            Some(HeaderSetting {
                                hmac: hmac.unwrap_or(false),
                            }),
                        )
                        .await
                        .map(|()| Response::no_content()),
                    Err(e) => Err(e),
                }
            }
            Operation::Delete => core
                .set_audited_header(header, None)
                .await
                .map(|()| Response::no_content()),
            _ => Err(CoreError::UnsupportedOperation),
        });
    }
    if let Some(device) = path.strip_prefix("audit-hash/") {
        return Some(if is_write(op) {
            hash(core, device, req)
        } else {
            Err(CoreError::UnsupportedOperation)
        });
    }
    None
}

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
