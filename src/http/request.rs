//! HTTP request -> core `Request`: operation from the method (`LIST`, `GET ?list=true`), the token from
//! `X-Vault-Token` or `Authorization: Bearer`, the wrap TTL, and data from the JSON body or the query string.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::HttpRequest;
use serde_json::{Map, Value};

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

/// A form-encoded body (curl's `-d a=b` default), unless it looks like JSON: OpenBao accepts both.
fn is_form(req: &HttpRequest, body: &[u8]) -> bool {
    let form_type = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    form_type && first.is_some_and(|b| *b != b'{' && *b != b'[')
}

fn form_object(body: &[u8]) -> Result<Map<String, Value>, CoreError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| CoreError::InvalidRequest(format!("failed to parse form data: {e}")))?;
    Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
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
        Err(e) => Err(CoreError::InvalidRequest(format!(
            "failed to decode JSON input: {}",
            go_syntax_error(body, &e)
        ))),
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
    // As OpenBao: parseutil's seconds or Go duration, refused past Go's `time.Duration` range (no later overflow).
    let secs = crate::core::fields::parse_go_duration_secs(text).map_err(fail)?;
    if secs < 0 {
        return Err(fail("requested wrap ttl cannot be negative".into()));
    }
    Ok((secs > 0).then(|| std::time::Duration::from_secs(secs as u64)))
}

const MERGE_PATCH: &str = "application/merge-patch+json";

/// OpenBao takes PATCH bodies only as JSON merge patches: no media type is Go's `mime` error (400), another one 415.
fn check_merge_patch(req: &HttpRequest) -> Result<(), CoreError> {
    let header = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = header.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media_type.is_empty() {
        return Err(CoreError::InvalidRequest("mime: no media type".into()));
    }
    if media_type != MERGE_PATCH {
        return Err(CoreError::UnsupportedMediaType(format!(
            "PATCH requires Content-Type of {MERGE_PATCH}, provided {media_type}"
        )));
    }
    Ok(())
}

/// The request's headers among `audited` (lower-case names), for audit entries. The client token never is (OpenBao
/// removes `X-Vault-Token` and a `Bearer` authorization before auditing).
pub fn audited_headers<V>(req: &HttpRequest, audited: &BTreeMap<String, V>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for name in audited.keys().filter(|n| n.as_str() != "x-vault-token") {
        let values: Vec<String> = req
            .headers()
            .get_all(name.as_str())
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .filter(|v| !(name == "authorization" && v.starts_with("Bearer ")))
            .collect();
        if !values.is_empty() {
            out.insert(name.clone(), values);
        }
    }
    out
}

pub fn to_core_request(
    req: &HttpRequest,
    path: &str,
    body: &[u8],
    request_id: String,
    limits: super::json_limits::JsonLimits,
) -> Result<Request, CoreError> {
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
        _ => return Err(CoreError::MethodNotAllowed),
    };
    if operation == Operation::Patch {
        check_merge_patch(req)?;
    }
    let data = if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        if is_form(req, body) {
            form_object(body)?
        } else {
            super::json_limits::check(body, limits).map_err(CoreError::InvalidRequest)?;
            json_object(body)?
        }
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
        remote_addr: super::forwarded_for::client_ip(req),
        remote_port: super::forwarded_for::client_addr(req).map(|a| a.port),
        secret: None,
        headers: Default::default(),
    })
}

/// Go's `quoteChar`.
fn go_quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        b'\n' => "'\\n'".into(),
        b'\t' => "'\\t'".into(),
        b'\r' => "'\\r'".into(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!("'\\x{c:02x}'"),
    }
}

/// serde_json's syntax error in the words of OpenBao's JSON decoder (Go's `encoding/json` in stream mode), which
/// clients see and some match on.
fn go_syntax_error(body: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected EOF".into();
    }
    let text = e.to_string();
    let mut position = byte_offset(body, e.line(), e.column());
    if text.starts_with("control character") {
        // serde_json points just past the control character; Go names the character itself.
        position = position.and_then(|p| body[..p.min(body.len())].iter().rposition(|b| *b < 0x20));
    }
    let Some(c) = position.and_then(|p| body.get(p).copied()) else {
        return "unexpected EOF".into();
    };
    let context = if text.starts_with("expected ident") {
        // Inside `true`/`false`/`null`: name the literal and the letter Go expected next.
        let p = position.unwrap_or(0);
        let start = body[..p]
            .iter()
            .rposition(|b| !b.is_ascii_alphabetic())
            .map(|i| i + 1)
            .unwrap_or(0);
        let prefix = &body[start..p];
        match ["true", "false", "null"]
            .iter()
            .find(|lit| lit.as_bytes().starts_with(prefix) && !prefix.is_empty())
        {
            Some(lit) => format!(
                "in literal {lit} (expecting '{}')",
                lit.as_bytes()[prefix.len()] as char
            ),
            None => "looking for beginning of value".into(),
        }
    } else if text.starts_with("expected `:`") {
        "after object key".into()
    } else if text.starts_with("expected `,` or `}`") {
        "after object key:value pair".into()
    } else if text.starts_with("expected `,` or `]`") {
        "after array element".into()
    } else if text.starts_with("control character") || text.starts_with("invalid escape") {
        "in string".into()
    } else if text.starts_with("key must be a string")
        || text.starts_with("trailing characters")
        || text.starts_with("expected value")
        || text.starts_with("invalid number")
    {
        "looking for beginning of value".into()
    } else {
        return text;
    };
    format!("invalid character {} {context}", go_quote_char(c))
}

/// Index of serde_json's error position (line and 1-based column) in `body`.
fn byte_offset(body: &[u8], line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += body[start..].iter().position(|b| *b == b'\n')? + 1;
    }
    Some(start + column.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_error(body: &str) -> String {
        match json_object(body.as_bytes()) {
            Err(e) => e.to_string(),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn json_errors_read_like_go() {
        // Expected texts are OpenBao 2.7.2's answers to the same bodies.
        let e = |s: &str| format!("failed to decode JSON input: {s}");
        assert_eq!(
            go_error("{bad"),
            e("invalid character 'b' looking for beginning of value")
        );
        assert_eq!(go_error("{\"a\" 1}"), e("invalid character '1' after object key"));
        assert_eq!(
            go_error("{\"a\":1 \"b\"}"),
            e("invalid character '\"' after object key:value pair")
        );
        assert_eq!(
            go_error("{\"a\":1}x"),
            e("invalid character 'x' looking for beginning of value")
        );
        assert_eq!(go_error("{\"a\":"), e("unexpected EOF"));
        assert_eq!(go_error("[1,"), e("unexpected EOF"));
        assert_eq!(
            go_error("{\"a\":tru}"),
            e("invalid character '}' in literal true (expecting 'e')")
        );
        assert_eq!(go_error("{\"a\":\"x\ny\"}"), e("invalid character '\\n' in string"));
        assert_eq!(
            go_error("[1,2]"),
            "failed to decode JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(go_error("null"), "ok");
    }
}
