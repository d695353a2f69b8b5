//! `sys/config/cors`: read, enable (origins, extra headers, credentials) and disable CORS (see `core::cors`).

use serde_json::json;

use super::{object as data, Handler, SystemBackend};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, Display, Kind, PathSpec, PathTable};

/// `sys/config/cors`.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[PathSpec {
        pattern: "config/cors",
        fields: &[
            field("enable", Kind::Bool).desc("Enables or disables CORS headers on requests."),
            field("allowed_origins", Kind::CommaStrings).desc("A comma-separated string or array of strings indicating origins that may make cross-origin requests."),
            field("allowed_headers", Kind::CommaStrings).desc("A comma-separated string or array of strings indicating headers that are allowed on cross-origin requests."),
            field("allow_credentials", Kind::Bool).desc("If true, the browser will be allowed to send credentials (e.g. kerberos authentication) with cross-origin requests."),
        ],
        operations: &[
            (Operation::Read, read),
            (Operation::Update, write),
            (Operation::Delete, delete),
        ],
        existence: None,
        help: "This path responds to the following HTTP methods. GET / Returns the configuration of the CORS setting. POST / Sets the comma-separated list of origins that can make cross-origin requests. DELETE / Clears the CORS configuration and disables acceptance of CORS requests.",
        display: Display {
            per_op: &[
                (Operation::Read, "read", "configuration"),
                (Operation::Update, "configure", ""),
                (Operation::Delete, "delete", "configuration"),
            ],
            ..Display::new("cors", "", "")
        },
    }],
};

handler!(read, |core, _, _, _| Ok(cors_config(core)));
handler!(write, |core, _, req, _| set_cors(core, req).await);
handler!(delete, |core, _, _, _| core
    .disable_cors()
    .await
    .map(|()| Response::no_content()));

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
