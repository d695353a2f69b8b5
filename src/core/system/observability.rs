//! `sys/host-info`, `sys/in-flight-req`, `sys/config/state/sanitized` and the `sys/internal/counters/...` paths
//! OpenBao 2.7.2 serves (`tokens`, `entities`, and `requests`, which it answers as removed; `activity` and `config`
//! are not served there either).

use serde_json::json;

use super::object as data;
use crate::core::{Core, CoreError, Operation, Request, Response};
use crate::storage::Tree;

/// The answer of one of these paths, or `None` for another path.
pub fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let read = || {
        if req.operation == Operation::Read {
            Ok(())
        } else {
            Err(CoreError::UnsupportedOperation)
        }
    };
    Some(match path {
        "host-info" => read().map(|()| {
            let (data, warnings) = super::host_info::collect();
            Response {
                warnings,
                ..Response::with_data(data)
            }
        }),
        // A raw JSON body (no envelope), as OpenBao answers it.
        "in-flight-req" => read().map(|()| Response {
            raw: Some((
                "application/json".into(),
                serde_json::Value::Object(core.in_flight.snapshot())
                    .to_string()
                    .into_bytes(),
            )),
            ..Default::default()
        }),
        "config/state/sanitized" => read().map(|()| Response::with_data(core.settings.sanitized_config.clone())),
        "internal/counters/tokens" => read().and_then(|()| {
            let total = core.storage.keys_with_prefix(Tree::Tokens, b"")?.len();
            Ok(Response::with_data(data(
                json!({ "counters": { "service_tokens": { "total": total } } }),
            )))
        }),
        // No identity store: there are no entities to count.
        "internal/counters/entities" => {
            read().map(|()| Response::with_data(data(json!({ "counters": { "entities": { "total": 0 } } }))))
        }
        "internal/counters/requests" => read().and_then(|()| {
            Err(CoreError::NotFoundMessage(
                "The functionality has been removed on this path".into(),
            ))
        }),
        _ => return None,
    })
}
