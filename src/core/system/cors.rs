//! `sys/config/cors`: read, enable (origins, extra headers, credentials) and disable CORS (see `core::cors`).

use serde_json::json;

use crate::core::{fields, Core, CoreError, Operation, Request, Response};

/// The answer of `config/cors`, or `None` for another path.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    if path != "config/cors" {
        return None;
    }
    Some(match req.operation {
        Operation::Read => Ok(cors_config(core)),
        Operation::Delete => core.disable_cors().await.map(|()| Response::no_content()),
        Operation::Update | Operation::Create => set_cors(core, req).await,
        _ => Err(CoreError::UnsupportedOperation),
    })
}

use super::object as data;

fn cors_config(core: &Core) -> Response {
    let config = core.cors();
    if !config.enabled {
        return Response::legacy(data(json!({ "enabled": false })));
    }
    Response::legacy(data(json!({
        "enabled": true,
        "allowed_origins": config.allowed_origins,
        "allowed_headers": config.allowed_headers,
        "allow_credentials": config.allow_credentials,
    })))
}

async fn set_cors(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let origins = fields::string_list(&req.data, "allowed_origins")?.unwrap_or_default();
    let headers = fields::string_list(&req.data, "allowed_headers")?.unwrap_or_default();
    let credentials = fields::boolean(&req.data, "allow_credentials")?.unwrap_or(false);
    core.enable_cors(origins, headers, credentials).await?;
    Ok(Response::no_content())
}
