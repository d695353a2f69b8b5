//! The only module that knows actix-web. Seal-state endpoints (which work while sealed) are served here straight
//! from the core; every other `/v1/` path goes through `Core::handle_request`.

pub mod cors;
pub mod error;
pub mod forwarded_for;
pub mod guard;
pub mod json_limits;
mod legacy_keys;
pub mod monitor;
pub mod request;
pub mod request_log;
pub mod response;
pub mod snapshot;

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::core::{Core, CoreError};
use crate::seal::SealConfig;

pub struct AppState {
    pub core: Arc<Core>,
    /// Bytes; 0 means no limit.
    pub max_request_size: usize,
    pub unauthed_key_endpoints: UnauthedKeyEndpoints,
    /// OpenBao's limits on a JSON body's complexity (`max_request_json_memory`, `max_request_json_strings`).
    pub json_limits: json_limits::JsonLimits,
    /// The level of the line logged per answered request (`log_requests_level`); `None`: no such line.
    pub log_requests: Option<log::Level>,
    /// The listeners that trust a proxy's `X-Forwarded-For` (by bound address).
    pub forwarded_for: forwarded_for::ForwardedForRules,
}

/// The listeners (by bound address) that serve the legacy unauthenticated key endpoints; on the others those paths
/// are ordinary `sys/` paths, which do not exist (OpenBao's 405).
#[derive(Debug, Default, Clone)]
pub struct UnauthedKeyEndpoints {
    pub rekey: Vec<std::net::SocketAddr>,
    pub generate_root: Vec<std::net::SocketAddr>,
    /// Listeners with `telemetry { unauthenticated_metrics_access = true }`: `GET sys/metrics` without a token.
    pub metrics: Vec<std::net::SocketAddr>,
}

/// Register every route. Shared by the server and the in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The endpoints served here rather than by the pipeline get its rate limit quotas from `quota_gate`.
    let gate = || actix_web::middleware::from_fn(quota_gate);
    cfg.service(web::resource("/v1/sys/init").wrap(gate()).to(sys_init))
        .service(web::resource("/v1/sys/seal-status").wrap(gate()).to(sys_seal_status))
        .service(web::resource("/v1/sys/unseal").wrap(gate()).to(sys_unseal))
        .service(web::resource("/v1/sys/health").wrap(gate()).to(sys_health))
        .service(web::resource("/v1/sys/leader").wrap(gate()).to(sys_leader))
        .service(
            web::resource("/v1/sys/storage/raft/snapshot")
                .wrap(gate())
                .to(snapshot::snapshot),
        )
        .service(
            web::resource("/v1/sys/storage/raft/snapshot-force")
                .wrap(gate())
                .to(snapshot::snapshot_force),
        )
        .service(web::resource("/v1/sys/monitor").wrap(gate()).to(monitor::monitor))
        .service(
            web::resource("/v1/sys/rekey/{step}")
                .wrap(gate())
                .to(legacy_keys::rekey),
        )
        .service(
            web::resource("/v1/sys/rekey-recovery-key/{step}")
                .wrap(gate())
                .to(legacy_keys::rekey_recovery),
        )
        .service(
            web::resource("/v1/sys/generate-root/{step}")
                .wrap(gate())
                .to(legacy_keys::generate_root),
        )
        .service(web::resource("/v1/{path:.*}").to(dispatch))
        .default_service(web::to(|| async {
            error::errors_response(StatusCode::NOT_FOUND, vec![])
        }));
}

/// Rate limit quotas for an endpoint the HTTP layer serves itself (`sys/init`, `sys/health`, snapshots, ...), as the
/// pipeline applies them to every other path: OpenBao limits every `/v1/` request (its exempt paths aside).
async fn quota_gate(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let verdict = req.app_data::<web::Data<AppState>>().map(|state| {
        let path = req.path().trim_start_matches("/v1/").to_string();
        state.core.apply_quotas(&path, forwarded_for::client_ip(req.request()))
    });
    match verdict {
        Some(Err(refused)) => {
            let resp = error::render(&CoreError::RateLimited(Box::new(refused)), "");
            Ok(req.into_response(resp))
        }
        Some(Ok(admitted)) => {
            let mut resp = next.call(req).await?.map_into_boxed_body();
            response::add_headers(resp.response_mut(), &admitted.headers);
            Ok(resp)
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn fail(e: CoreError) -> HttpResponse {
    error::render(&e, "")
}

pub(crate) fn method_not_allowed() -> HttpResponse {
    error::errors_response(StatusCode::METHOD_NOT_ALLOWED, vec![])
}

/// Read the body, refusing more than `max_request_size` bytes with Vault's 413.
pub(crate) async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            error::errors_response(
                StatusCode::BAD_REQUEST,
                vec![format!("failed to read request body: {e}")],
            )
        })?;
        if limit > 0 && body.len() + chunk.len() > limit {
            return Err(error::errors_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                vec!["http: request body too large".into()],
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) async fn dispatch(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(redirect) = standby_redirect(&req, &path, &state.core) {
        return redirect;
    }
    let body = match read_body(payload, state.max_request_size).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if path.as_str() == "sys/metrics" {
        if let Some(resp) = unauthenticated_metrics(&req, &state) {
            return resp;
        }
    }
    // The id `request_log::track` registered the request under, so the log line and the answer agree.
    let request_id = match req.extensions().get::<request_log::RequestId>() {
        Some(id) => id.0.clone(),
        None => new_request_id(),
    };
    let mut core_req = match request::to_core_request(&req, &path, &body, request_id.clone(), state.json_limits) {
        Ok(r) => r,
        Err(e) => return error::render(&e, &request_id),
    };
    if path.as_str() == "sys/metrics" && !core_req.data.contains_key("format") {
        let format = metrics_format_from_accept(&req);
        if !format.is_empty() {
            core_req.data.insert("format".into(), json!(format));
        }
    }
    let audited = state.core.audited_headers();
    if !audited.is_empty() {
        core_req.headers = request::audited_headers(&req, &audited);
    }
    let (result, quota_headers) = state.core.handle_request_with_headers(core_req).await;
    let mut resp = match result {
        Ok(resp) => response::render(resp, &request_id),
        Err(e) => error::render(&e, &request_id),
    };
    response::add_headers(&mut resp, &quota_headers);
    resp
}

/// `sys/metrics` on a listener with `unauthenticated_metrics_access` (served without a token, sealed or not, as
/// OpenBao's `handleMetricsUnauthenticated`); `None` elsewhere. The format comes from `?format=` or, as OpenBao,
/// from an `Accept` header asking for OpenMetrics or `prometheus/telemetry`.
fn unauthenticated_metrics(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if !state
        .unauthed_key_endpoints
        .metrics
        .contains(&req.app_config().local_addr())
    {
        return None;
    }
    if req.method() != Method::GET {
        return Some(method_not_allowed());
    }
    let admitted = match state.core.apply_quotas("sys/metrics", forwarded_for::client_ip(req)) {
        Ok(admitted) => admitted,
        Err(refused) => return Some(error::render(&CoreError::RateLimited(Box::new(refused)), "")),
    };
    let query = request::query_pairs(req);
    let mut format = query
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if format.is_empty() {
        format = metrics_format_from_accept(req).to_string();
    }
    let mut resp = response::render(state.core.metrics_response(&format), "");
    response::add_headers(&mut resp, &admitted.headers);
    Some(resp)
}

/// OpenBao's `FormatFromRequest`.
pub(crate) fn metrics_format_from_accept(req: &HttpRequest) -> &'static str {
    let accept: Vec<&str> = req
        .headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    match accept.first() {
        Some(first) if first.starts_with("application/openmetrics-text") => "prometheus",
        Some(_) if accept.iter().any(|h| h.contains("prometheus/telemetry")) => "prometheus",
        _ => "",
    }
}

/// Paths a standby serves itself whatever the method: its own seal state.
const STANDBY_LOCAL_PATHS: &[&str] = &["sys/seal", "sys/unseal", "sys/init", "sys/health", "sys/seal-status"];

/// On an unsealed HA standby, a write (anything but GET, HEAD and LIST) goes to the active server: 307 to the same
/// path and query at its `api_addr`, as OpenBao answers when it cannot forward. Reads are answered here.
fn standby_redirect(req: &HttpRequest, path: &str, core: &crate::core::Core) -> Option<HttpResponse> {
    core.ha()?;
    let read = matches!(req.method().as_str(), "GET" | "HEAD" | "LIST");
    if read || core.is_active() || core.is_sealed() || STANDBY_LOCAL_PATHS.contains(&path.trim_end_matches('/')) {
        return None;
    }
    let leader = match core.active_address() {
        Ok(Some(address)) => address,
        Ok(None) => {
            return Some(error::errors_response(
                StatusCode::SERVICE_UNAVAILABLE,
                vec!["local node not active but active cluster node not found".into()],
            ))
        }
        Err(e) => return Some(fail(e)),
    };
    let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Some(
        HttpResponse::TemporaryRedirect()
            .insert_header(("Location", format!("{}{target}", leader.trim_end_matches('/'))))
            .finish(),
    )
}

async fn sys_init(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    match *req.method() {
        Method::GET => match state.core.is_initialized() {
            Ok(initialized) => HttpResponse::Ok().json(json!({ "initialized": initialized })),
            Err(e) => fail(e),
        },
        Method::PUT | Method::POST => {
            let body = match read_body(payload, state.max_request_size).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            match init(&state.core, &body).await {
                Ok(v) => HttpResponse::Ok().json(v),
                Err(e) => fail(e),
            }
        }
        _ => method_not_allowed(),
    }
}

/// Go's name for a JSON value's kind in `cannot unmarshal` errors (a number is shown with its text only when the
/// target is a number type it does not fit).
fn go_kind(value: &Value, go_type: &str) -> String {
    match value {
        Value::Number(_) if go_type != "int" => "number".into(),
        Value::String(_) => "string".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Number(n) => format!("number {n}"),
        Value::Null => "null".into(),
    }
}

/// OpenBao decodes these bodies into Go structs; a wrong type gets Go's decoder message.
fn go_field_error(go_struct: &str, field: &str, go_type: &str, value: &Value) -> CoreError {
    CoreError::InvalidRequest(format!(
        "failed to decode JSON input: json: cannot unmarshal {} into Go struct field {go_struct}.{field} of type {go_type}",
        go_kind(value, go_type)
    ))
}

/// An `int` field of `InitRequest`; negatives become 0 so the seal configuration check names them.
fn int_field(data: &serde_json::Map<String, Value>, key: &str) -> Result<u32, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n
            .as_i64()
            .map(|v| v.clamp(0, u32::MAX as i64) as u32)
            .unwrap_or(u32::MAX)),
        Some(other) => Err(go_field_error("InitRequest", key, "int", other)),
    }
}

async fn init(core: &Core, body: &[u8]) -> Result<Value, CoreError> {
    let data = request::json_object_as(body, "http.InitRequest")?;
    for unsupported in ["pgp_keys", "root_token_pgp_key", "recovery_pgp_keys"] {
        let given = match data.get(unsupported) {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_u64() != Some(0),
            Some(_) => true,
        };
        if given {
            return Err(CoreError::InvalidRequest(format!(
                "{unsupported} is not supported by this server"
            )));
        }
    }
    let barrier = SealConfig {
        secret_shares: int_field(&data, "secret_shares")?,
        secret_threshold: int_field(&data, "secret_threshold")?,
    };
    let recovery = SealConfig {
        secret_shares: int_field(&data, "recovery_shares")?,
        secret_threshold: int_field(&data, "recovery_threshold")?,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let hex_and_b64 = |shares: &[crate::seal::Share]| {
        (
            shares.iter().map(hex::encode).collect::<Vec<_>>(),
            shares.iter().map(|s| b64.encode(&s[..])).collect::<Vec<_>>(),
        )
    };
    // As OpenBao: each seal kind refuses the other kind's parameters.
    match core.settings.seals.active.as_deref() {
        Some(seal) => {
            if barrier.secret_shares != 0 || barrier.secret_threshold != 0 {
                return Err(CoreError::InvalidRequest(format!(
                    "parameters secret_shares,secret_threshold not applicable to seal type {}",
                    seal.seal_type()
                )));
            }
            let result = core.init_auto(recovery, None).await?;
            let (recovery_keys, recovery_keys_base64) = hex_and_b64(&result.recovery_shares);
            let mut body = json!({
                "keys": [],
                "keys_base64": [],
                "root_token": result.root_token.as_str(),
            });
            if !result.recovery_shares.is_empty() {
                body["recovery_keys"] = json!(recovery_keys);
                body["recovery_keys_base64"] = json!(recovery_keys_base64);
            }
            Ok(body)
        }
        None => {
            if recovery.secret_shares != 0 || recovery.secret_threshold != 0 {
                return Err(CoreError::InvalidRequest(
                    "parameters recovery_shares,recovery_threshold not applicable to seal type shamir".into(),
                ));
            }
            let result = core.init(barrier, None).await?;
            let (keys, keys_base64) = hex_and_b64(&result.shares);
            Ok(json!({
                "keys": keys,
                "keys_base64": keys_base64,
                "root_token": result.root_token.as_str(),
            }))
        }
    }
}

async fn sys_seal_status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::GET {
        return method_not_allowed();
    }
    match state.core.seal_status() {
        Ok(s) => HttpResponse::Ok().json(s),
        Err(e) => fail(e),
    }
}

async fn sys_unseal(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::PUT && req.method() != Method::POST {
        return method_not_allowed();
    }
    let body = match read_body(payload, state.max_request_size).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let data = match request::json_object_as(&body, "http.UnsealRequest") {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let key = match data.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(other) => return fail(go_field_error("UnsealRequest", "key", "string", other)),
    };
    let reset = match data.get("reset") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return fail(go_field_error("UnsealRequest", "reset", "bool", other)),
    };
    let migrate = match data.get("migrate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return fail(go_field_error("UnsealRequest", "migrate", "bool", other)),
    };
    match state.core.unseal(key, reset, migrate).await {
        Ok(s) => HttpResponse::Ok().json(s),
        Err(e) => fail(e),
    }
}

/// Vault's health codes, each overridable by a query parameter. An informational code (1xx) is refused like a
/// malformed one: it is not a final answer (OpenBao sends it as an interim response followed by a 200).
fn health_code(query: &[(String, String)], key: &str, default: u16) -> Result<u16, String> {
    match query.iter().find(|(k, _)| k == key) {
        None => Ok(default),
        Some((_, v)) => v
            .parse::<u16>()
            .ok()
            .filter(|c| (200..=999).contains(c))
            .ok_or_else(|| format!("bad code {v}")),
    }
}

async fn sys_health(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed();
    }
    let query = request::query_pairs(&req);
    let status = match state.core.seal_status() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let standby = !status.sealed && state.core.is_standby();
    let standby_ok = query
        .iter()
        .any(|(k, v)| k == "standbyok" && v.parse::<bool>().unwrap_or(v.is_empty()));
    let code = if !status.initialized {
        health_code(&query, "uninitcode", 501)
    } else if status.sealed {
        health_code(&query, "sealedcode", 503)
    } else if standby && !standby_ok {
        health_code(&query, "standbycode", 429)
    } else {
        health_code(&query, "activecode", 200)
    };
    let code = match code {
        Ok(c) => c,
        // OpenBao answers a bad code with an empty error list.
        Err(_) => return error::errors_response(StatusCode::BAD_REQUEST, vec![]),
    };
    let status_code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    // HTTP forbids a body with 204 and 304: a body there would be read as the start of the next response on a
    // kept-alive connection. Send the status alone, as OpenBao does (with no media type on a 304).
    if status_code == StatusCode::NOT_MODIFIED {
        return HttpResponse::build(status_code).finish();
    }
    if req.method() == Method::HEAD || status_code == StatusCode::NO_CONTENT {
        return HttpResponse::build(status_code)
            .content_type("application/json")
            .finish();
    }
    let mut body = json!({
        "initialized": status.initialized,
        "sealed": status.sealed,
        "standby": status.sealed || standby,
        "replication_performance_mode": if status.sealed { "unknown" } else { "disabled" },
        "replication_dr_mode": if status.sealed { "unknown" } else { "disabled" },
        "server_time_utc": chrono::Utc::now().timestamp(),
        "version": status.version,
    });
    if let (Some(name), Some(id)) = (status.cluster_name, status.cluster_id) {
        body["cluster_name"] = json!(name);
        body["cluster_id"] = json!(id);
    }
    HttpResponse::build(status_code).json(body)
}

async fn sys_leader(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::GET {
        return method_not_allowed();
    }
    if state.core.ha().is_none() {
        // A single server without HA answers like OpenBao on a non-HA storage backend, sealed or not.
        return HttpResponse::Ok().json(json!({ "ha_enabled": false }));
    }
    if state.core.is_sealed() {
        return HttpResponse::Ok().json(json!({
            "ha_enabled": true,
            "is_self": false,
            "leader_address": "",
            "leader_cluster_address": "",
        }));
    }
    match state.core.leader_status() {
        Ok(Some(leader)) => {
            let mut body = json!({
                "ha_enabled": true,
                "is_self": leader.is_self,
                "leader_address": leader.leader_address,
                "leader_cluster_address": leader.leader_cluster_address,
            });
            if let Some(at) = leader.active_time {
                body["active_time"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            }
            HttpResponse::Ok().json(body)
        }
        Ok(None) => HttpResponse::Ok().json(json!({ "ha_enabled": false })),
        Err(e) => fail(e),
    }
}
