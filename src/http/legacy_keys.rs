//! The legacy unauthenticated key endpoints, `sys/rekey/{init,update,verify}` and `sys/generate-root/{attempt,
//! update}`: served only on listeners whose configuration sets `disable_unauthed_rekey_endpoints = false` /
//! `disable_unauthed_generate_root_endpoints = false` (OpenBao 2.5+ turned them off by default; the authenticated
//! `sys/rotate/root/*` and `sys/generate-root-token/*` replace them). Same core calls, OpenBao's flat answers.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::{dispatch, fail, method_not_allowed, read_body, request, AppState};
use crate::core::pipeline::DirectRequest;
use crate::core::system::keys;
use crate::core::{CoreError, Operation};

/// A disabled legacy endpoint: OpenBao's 405 whatever the token (these paths are not served by the `sys/` backend).
fn disabled() -> HttpResponse {
    super::error::errors_response(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        vec!["unsupported operation".into()],
    )
}

fn enabled_here(req: &HttpRequest, listeners: &[std::net::SocketAddr]) -> bool {
    listeners.contains(&req.app_config().local_addr())
}

async fn body_data(payload: web::Payload, state: &AppState, go_type: &str) -> Result<Map<String, Value>, HttpResponse> {
    let body = read_body(payload, state.max_request_size).await?;
    request::json_object_as(&body, go_type).map_err(fail)
}

fn key_field(data: &Map<String, Value>) -> Result<String, CoreError> {
    match data.get("key") {
        Some(Value::String(key)) if !key.is_empty() => Ok(key.clone()),
        _ => Err(CoreError::InvalidRequest(
            "'key' must be specified in request body as JSON".into(),
        )),
    }
}

fn nonce_field(data: &Map<String, Value>) -> String {
    data.get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// An error of the core's rekey in the words of OpenBao's legacy `sys/rekey/*` (which keeps the older "rekey"
/// wording where `sys/rotate/root/*` says "rotation").
fn legacy_rekey_error(e: CoreError) -> CoreError {
    let CoreError::InvalidRequest(message) = &e else {
        return e;
    };
    let worded = match message.as_str() {
        "rotation already in progress" => "rekey already in progress".to_string(),
        "no rotation in progress" => "no rekey in progress".to_string(),
        "no rotation verification in progress" => "no rekey verification in progress".to_string(),
        "given key has already been provided during this rotation" => {
            "given key has already been provided during this generation operation".to_string()
        }
        "rotation verification failed; incorrect key shares supplied" => {
            "rekey verification failed; incorrect key shares supplied".to_string()
        }
        other => {
            if let Some(nonce) = other.strip_prefix("incorrect nonce supplied; nonce for rotation is ") {
                format!("incorrect nonce supplied; nonce for this rekey operation is {nonce}")
            } else if let Some(reason) = other.strip_prefix("invalid rotate seal configuration: ") {
                format!("invalid rekey seal configuration: {reason}")
            } else {
                return e;
            }
        }
    };
    CoreError::InvalidRequest(worded)
}

fn ok(body: Map<String, Value>) -> HttpResponse {
    HttpResponse::Ok().json(Value::Object(body))
}

/// What a step answers: a JSON body, or nothing (204).
type Answer = Result<Option<Map<String, Value>>, CoreError>;

fn operation_of(method: &Method) -> Operation {
    match *method {
        Method::GET => Operation::Read,
        Method::DELETE => Operation::Delete,
        _ => Operation::Update,
    }
}

/// Read a write's body (`go_type` names it in a decoding error, as OpenBao's), then audit the request: the
/// refusal when the body does not decode or no audit device records it.
async fn begin(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    path: &str,
    go_type: &str,
) -> Result<(DirectRequest, Map<String, Value>), HttpResponse> {
    let data = if matches!(*req.method(), Method::PUT | Method::POST) {
        body_data(payload, state, go_type).await?
    } else {
        Map::new()
    };
    let id = super::new_request_id();
    let headers = request::audited_headers(req, &state.core.audited_headers());
    let client = super::forwarded_for::client_addr(req);
    let remote = (client.as_ref().and_then(|c| c.ip()), client.map(|c| c.port));
    state
        .core
        .audit_unauthenticated(&id, path, operation_of(req.method()), data.clone(), remote, headers)
        .map(|direct| (direct, data))
        .map_err(|e| super::error::render(&e, &id))
}

/// Audit the answer (the response entry), then give it: an internal error instead when no device recorded it.
fn finish(state: &AppState, direct: &DirectRequest, answer: Answer) -> HttpResponse {
    let response = match &answer {
        Ok(Some(body)) => Some(crate::core::Response::with_data(body.clone())),
        _ => None,
    };
    let outcome = match &answer {
        Ok(_) => Ok(response.as_ref()),
        Err(e) => Err(e),
    };
    if let Err(unrecorded) = state.core.finish_direct(direct, outcome) {
        return fail(unrecorded);
    }
    match answer {
        Ok(Some(body)) => ok(body),
        Ok(None) => HttpResponse::NoContent().finish(),
        Err(e) => fail(e),
    }
}

/// A rekey status in the legacy shape: every field, `verification_nonce` only when set.
fn rekey_status_body(data: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    for key in ["nonce", "started", "t", "n", "progress", "required"] {
        body.insert(key.into(), data.get(key).cloned().unwrap_or(json!(0)));
    }
    if !data.get("started").and_then(Value::as_bool).unwrap_or(false) {
        body.insert("nonce".into(), json!(""));
    }
    body.insert("pgp_fingerprints".into(), Value::Null);
    body.insert("backup".into(), json!(false));
    body.insert(
        "verification_required".into(),
        data.get("verification_required").cloned().unwrap_or(json!(false)),
    );
    if let Some(nonce) = data.get("verification_nonce").filter(|n| n.as_str() != Some("")) {
        body.insert("verification_nonce".into(), nonce.clone());
    }
    body
}

pub async fn rekey(
    req: HttpRequest,
    step: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    legacy_rekey(req, step, payload, state, false).await
}

/// `sys/rekey-recovery-key/*`: the same steps for the recovery shares of an auto-unseal seal (this server's rekey
/// replaces the recovery shares whenever the seal has them).
pub async fn rekey_recovery(
    req: HttpRequest,
    step: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    legacy_rekey(req, step, payload, state, true).await
}

async fn legacy_rekey(
    req: HttpRequest,
    step: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
    recovery: bool,
) -> HttpResponse {
    let base = if recovery {
        "sys/rekey-recovery-key"
    } else {
        "sys/rekey"
    };
    // Only the unauthenticated steps are switched by the listener: `sys/rekey/backup` and
    // `sys/rekey/recovery-key-backup` are ordinary authenticated `sys/` paths.
    if !matches!(step.as_str(), "init" | "update" | "verify") {
        let path = web::Path::from(format!("{base}/{}", step.as_str()));
        return dispatch(req, path, payload, state).await;
    }
    if !enabled_here(&req, &state.unauthed_key_endpoints.rekey) {
        if recovery {
            // Not a path of the `sys/` backend either: OpenBao's plain "unsupported path", token or not.
            return super::error::errors_response(
                actix_web::http::StatusCode::NOT_FOUND,
                vec!["unsupported path".into()],
            );
        }
        return disabled();
    }
    let writes = matches!(*req.method(), Method::PUT | Method::POST);
    let known = match step.as_str() {
        "init" => matches!(*req.method(), Method::GET | Method::DELETE) || writes,
        "update" => writes,
        "verify" => matches!(*req.method(), Method::GET | Method::DELETE) || writes,
        _ => false,
    };
    if !known {
        return method_not_allowed();
    }
    let go_type = match step.as_str() {
        "init" => "http.RekeyRequest",
        "update" => "http.RekeyUpdateRequest",
        _ => "http.RekeyVerificationUpdateRequest",
    };
    let path = format!("{base}/{}", step.as_str());
    let (direct, data) = match begin(&req, payload, &state, &path, go_type).await {
        Ok(begun) => begun,
        Err(refused) => return refused,
    };
    let core = &state.core;
    if recovery && !matches!(core.seal_mode(), Ok(crate::core::auto_unseal::SealMode::Auto(..))) {
        let refused = CoreError::InvalidRequest("recovery rekeying not supported".into());
        return finish(&state, &direct, Err(refused));
    }
    let status = || core.rekey_status().map(|s| rekey_status_body(keys::rekey_status(&s)));
    let answer: Answer = match (step.as_str(), req.method().clone()) {
        ("init", Method::GET) => status().map(Some),
        ("init", Method::PUT | Method::POST) => keys::rekey_request(&data)
            .and_then(|request| core.rekey_init(request))
            .and_then(|_| status())
            .map(Some),
        ("init", Method::DELETE) => core.rekey_cancel().map(|()| None),
        ("update", _) => match key_field(&data) {
            Err(e) => Err(e),
            Ok(key) => match core.rekey_update(&key, &nonce_field(&data)).await {
                Ok(None) => status().map(Some),
                Ok(Some(result)) => {
                    let (keys, keys_base64) = keys::share_lists(&result.shares);
                    let mut body = Map::new();
                    body.insert("nonce".into(), json!(result.nonce));
                    body.insert("complete".into(), json!(true));
                    body.insert("keys".into(), json!(keys));
                    body.insert("keys_base64".into(), json!(keys_base64));
                    body.insert("pgp_fingerprints".into(), Value::Null);
                    body.insert("backup".into(), json!(false));
                    body.insert("verification_required".into(), json!(result.verification_required));
                    if result.verification_required {
                        body.insert("verification_nonce".into(), json!(result.verification_nonce));
                    }
                    Ok(Some(body))
                }
                Err(e) => Err(e),
            },
        },
        ("verify", Method::GET) => core
            .rekey_verify_status()
            .map(|s| Some(keys::verify_status(&s)))
            .map_err(|_| CoreError::InvalidRequest("no rekey configuration found".into())),
        ("verify", Method::DELETE) => core.rekey_verify_restart().map(|s| Some(keys::verify_status(&s))),
        (_, _) => match key_field(&data) {
            Err(e) => Err(e),
            Ok(key) => match core.rekey_verify(&key, &nonce_field(&data)).await {
                Ok(None) => core.rekey_verify_status().map(|s| Some(keys::verify_status(&s))),
                Ok(Some(nonce)) => Ok(Some(crate::core::system::object(
                    json!({"nonce": nonce, "complete": true}),
                ))),
                Err(e) => Err(e),
            },
        },
    };
    finish(&state, &direct, answer.map_err(legacy_rekey_error))
}

/// A root generation status in the legacy shape: every field of OpenBao's `GenerateRootStatusResponse`.
fn generate_root_body(data: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    let get = |key: &str, default: Value| data.get(key).cloned().unwrap_or(default);
    body.insert("nonce".into(), get("nonce", json!("")));
    body.insert("started".into(), get("started", json!(false)));
    body.insert("progress".into(), get("progress", json!(0)));
    body.insert("required".into(), get("required", json!(0)));
    body.insert("complete".into(), get("complete", json!(false)));
    let encoded = get("encoded_token", json!(""));
    body.insert("encoded_token".into(), encoded.clone());
    body.insert("encoded_root_token".into(), encoded);
    body.insert("pgp_fingerprint".into(), json!(""));
    body.insert("otp".into(), get("otp", json!("")));
    body.insert("otp_length".into(), get("otp_length", json!(0)));
    body
}

pub async fn generate_root(
    req: HttpRequest,
    step: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !matches!(step.as_str(), "attempt" | "update") {
        let path = web::Path::from(format!("sys/generate-root/{}", step.as_str()));
        return dispatch(req, path, payload, state).await;
    }
    if !enabled_here(&req, &state.unauthed_key_endpoints.generate_root) {
        return disabled();
    }
    let writes = matches!(*req.method(), Method::PUT | Method::POST);
    if !(writes || (step.as_str() == "attempt" && matches!(*req.method(), Method::GET | Method::DELETE))) {
        return method_not_allowed();
    }
    let go_type = match step.as_str() {
        "attempt" => "http.GenerateRootInitRequest",
        _ => "http.GenerateRootUpdateRequest",
    };
    let path = format!("sys/generate-root/{}", step.as_str());
    let (direct, data) = match begin(&req, payload, &state, &path, go_type).await {
        Ok(begun) => begun,
        Err(refused) => return refused,
    };
    let core = &state.core;
    let status = |otp: &str| {
        core.generate_root_status()
            .map(|s| Some(generate_root_body(keys::generate_root_status(&s, otp))))
    };
    let answer: Answer = match (step.as_str(), req.method().clone()) {
        ("attempt", Method::GET) => status(""),
        ("attempt", Method::PUT | Method::POST) => {
            let field = |key: &str| data.get(key).and_then(Value::as_str);
            core.generate_root_init(field("otp"), field("pgp_key"))
                .and_then(|generated| status(generated.as_ref().map(|o| o.as_str()).unwrap_or("")))
        }
        ("attempt", _) => core.generate_root_cancel().map(|()| None),
        (_, _) => match key_field(&data) {
            Err(e) => Err(e),
            Ok(key) => core.generate_root_update(&key, &nonce_field(&data)).await.map(|s| {
                let mut body = generate_root_body(keys::generate_root_update_status(&s));
                body.insert("otp_length".into(), json!(0));
                Some(body)
            }),
        },
    };
    finish(&state, &direct, answer)
}
