//! HTTP request -> core `Request`: operation from the method (`LIST`, `GET ?list=true`), the token from
//! `X-Vault-Token` or `Authorization: Bearer`, the wrap TTL, and data from the JSON body or the query string.

use actix_web::http::Method;
use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::config::parse_duration;
use crate::core::{ClientToken, CoreError, Operation, Request};

pub fn client_token(req: &HttpRequest) -> Option<ClientToken> {
    let headers = req.headers();
    if let Some(t) = headers.get("X-Vault-Token").and_then(|v| v.to_str().ok()) {
        let t = t.trim();
        if !t.is_empty() {
            return Some(ClientToken::new(t));
        }
    }
    let auth = headers.get("Authorization").and_then(|v| v.to_str().ok())?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| ClientToken::new(token))
}

pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default()
}

fn is_true(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "t")
}

/// Parse a JSON object body; an empty body is an empty object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, CoreError> {
    json_object_as(body, "map[string]interface {}")
}

/// [`json_object`] for an endpoint that OpenBao decodes into the Go type `go_type` (named in its errors).
pub fn json_object_as(body: &[u8], go_type: &str) -> Result<Map<String, Value>, CoreError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        // Go decodes `null` into a map as "nothing": clients (the bao CLI) send it for an empty body.
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(CoreError::InvalidRequest(format!(
            "failed to decode JSON input: json: cannot unmarshal {} into Go value of type {go_type}",
            go_type_name(&other)
        ))),
        Err(e) => Err(CoreError::InvalidRequest(format!("failed to decode JSON input: {e}"))),
    }
}

fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "null",
    }
}

fn wrap_ttl(req: &HttpRequest) -> Result<Option<std::time::Duration>, CoreError> {
    let Some(raw) = req.headers().get("X-Vault-Wrap-TTL") else {
        return Ok(None);
    };
    let fail = |why: String| CoreError::InvalidRequest(format!("error parsing X-Vault-Wrap-TTL header: {why}"));
    let text = raw.to_str().map_err(|_| fail("invalid header value".into()))?.trim();
    if text.starts_with('-') {
        return Err(fail("requested wrap ttl cannot be negative".into()));
    }
    let ttl = parse_duration(text).map_err(|_| fail(format!("time: invalid duration {text:?}")))?;
    Ok((!ttl.is_zero()).then_some(ttl))
}

pub fn to_core_request(req: &HttpRequest, path: &str, body: &[u8], request_id: String) -> Result<Request, CoreError> {
    let query = query_pairs(req);
    let list = query.iter().any(|(k, v)| k == "list" && is_true(v));
    let method = req.method();
    let operation = match method.as_str() {
        "GET" if list => Operation::List,
        "GET" => Operation::Read,
        "LIST" => Operation::List,
        "POST" | "PUT" => Operation::Update,
        "DELETE" => Operation::Delete,
        "PATCH" => Operation::Patch,
        _ => return Err(CoreError::UnsupportedOperation),
    };
    let data = if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        json_object(body)?
    } else {
        query
            .into_iter()
            .filter(|(k, _)| k != "list")
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    };
    let mut path = path.trim_start_matches('/').to_string();
    // OpenBao addresses a listing as the folder: `LIST foo` is `foo/`.
    if operation == Operation::List && !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    Ok(Request {
        id: request_id,
        operation,
        path,
        data,
        client_token: client_token(req),
        wrap_ttl: wrap_ttl(req)?,
    })
}
