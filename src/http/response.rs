//! Core `Response` -> Vault's JSON envelope; 204 for an empty success.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::core::Response;

pub fn render(resp: Response, request_id: &str) -> HttpResponse {
    if resp.is_empty() {
        return HttpResponse::NoContent().finish();
    }
    let status = resp.status.and_then(|s| actix_web::http::StatusCode::from_u16(s).ok());
    if let Some((content_type, body)) = resp.raw {
        return HttpResponse::build(status.unwrap_or(actix_web::http::StatusCode::OK))
            .content_type(content_type)
            .body(body);
    }
    let mut builder = HttpResponse::build(status.unwrap_or(actix_web::http::StatusCode::OK));
    // A wrapped answer carries no request id, as in OpenBao.
    let request_id = if resp.wrap_info.is_some() { "" } else { request_id };
    if resp.legacy_top_level {
        return builder.json(Value::Object(legacy_body(&resp, request_id)));
    }
    // Serialized straight from the response (no copy of its data into a JSON tree first); the fields in the order a
    // JSON object of them would have (sorted), so the bytes are those of the tree.
    let envelope = Envelope {
        auth: &resp.auth,
        data: &resp.data,
        lease_duration: resp.lease_duration,
        lease_id: &resp.lease_id,
        renewable: resp.renewable,
        request_id,
        warnings: (!resp.warnings.is_empty()).then_some(&resp.warnings[..]),
        wrap_info: &resp.wrap_info,
    };
    match serde_json::to_vec(&envelope) {
        Ok(bytes) => builder.content_type("application/json").body(bytes),
        Err(e) => {
            log::error!("request {request_id}: the response could not be serialized: {e}");
            super::error::errors_response(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                vec!["internal error".into()],
            )
        }
    }
}

#[derive(serde::Serialize)]
struct Envelope<'a, A> {
    auth: &'a Option<A>,
    data: &'a Option<serde_json::Map<String, Value>>,
    lease_duration: i64,
    lease_id: &'a str,
    renewable: bool,
    request_id: &'a str,
    warnings: Option<&'a [String]>,
    wrap_info: &'a Option<Value>,
}

/// The envelope of a legacy `sys/` answer, whose data keys also stand at the top level.
fn legacy_body(resp: &Response, request_id: &str) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    if let Some(data) = &resp.data {
        body.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let warnings = if resp.warnings.is_empty() {
        Value::Null
    } else {
        json!(resp.warnings)
    };
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
    body
}

/// Add headers the core asked for (a rate limit quota's `X-Ratelimit-*`), on any answer.
pub fn add_headers(resp: &mut HttpResponse, headers: &[(String, String)]) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            actix_web::http::header::HeaderName::try_from(name.as_str()),
            actix_web::http::header::HeaderValue::try_from(value.as_str()),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn the_envelope_is_byte_for_byte_the_json_tree_it_replaced() {
        let mut data = serde_json::Map::new();
        data.insert("b".into(), json!("x\"y"));
        data.insert("a".into(), json!({"n": 1}));
        let resp = Response {
            data: Some(data),
            warnings: vec!["w".into()],
            lease_duration: 5,
            ..Default::default()
        };
        let body = actix_web::body::to_bytes(render(resp, "rid").into_body())
            .await
            .unwrap();
        let tree = json!({
            "request_id": "rid", "lease_id": "", "renewable": false, "lease_duration": 5,
            "data": {"a": {"n": 1}, "b": "x\"y"}, "wrap_info": null, "warnings": ["w"], "auth": null,
        });
        assert_eq!(body, serde_json::to_vec(&tree).unwrap());
    }
}
