//! Core `Response` -> Vault's JSON envelope; 204 for an empty success.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::core::Response;

pub fn render(resp: Response, request_id: &str) -> HttpResponse {
    if resp.is_empty() {
        return HttpResponse::NoContent().finish();
    }
    if let Some((content_type, body)) = resp.raw {
        return HttpResponse::Ok().content_type(content_type).body(body);
    }
    let warnings = if resp.warnings.is_empty() {
        Value::Null
    } else {
        json!(resp.warnings)
    };
    let mut body = serde_json::Map::new();
    if resp.legacy_top_level {
        if let Some(data) = &resp.data {
            body.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    // A wrapped answer carries no request id, as in OpenBao.
    let request_id = if resp.wrap_info.is_some() { "" } else { request_id };
    let envelope = json!({
        "request_id": request_id,
        "lease_id": resp.lease_id,
        "renewable": resp.renewable,
        "lease_duration": resp.lease_duration,
        "data": resp.data,
        "wrap_info": resp.wrap_info,
        "warnings": warnings,
        "auth": resp.auth,
    });
    if let Value::Object(fields) = envelope {
        body.extend(fields);
    }
    let status = resp.status.and_then(|s| actix_web::http::StatusCode::from_u16(s).ok());
    HttpResponse::build(status.unwrap_or(actix_web::http::StatusCode::OK)).json(Value::Object(body))
}
