//! `sys/monitor?log_level=...&log_format=...`: the server's log streamed to the client as it is written (what
//! `bao monitor` reads), from the client's level down, as text or JSON lines (JSON too when the server logs JSON,
//! as OpenBao). Needs `read` on `sys/monitor` (as OpenBao: no `sudo`). The stream ends when the client goes away or
//! the server is sealed; a client that reads too slowly loses lines (512 wait at most), never slows the server.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{error, request, AppState};
use crate::core::{CoreError, Operation};
use crate::logging;

const MONITOR_PATH: &str = "sys/monitor";
const SEALED_MESSAGE: &str = "core received sealed state change, ending monitor session";

/// hclog's `LevelFromString`, as OpenBao reads `log_level`.
fn parse_level(text: &str) -> Option<log::LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(log::LevelFilter::Trace),
        "debug" => Some(log::LevelFilter::Debug),
        "info" => Some(log::LevelFilter::Info),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "error" => Some(log::LevelFilter::Error),
        "off" => Some(log::LevelFilter::Off),
        _ => None,
    }
}

pub async fn monitor(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::GET {
        return error::errors_response(StatusCode::METHOD_NOT_ALLOWED, vec![]);
    }
    let id = match req.extensions_ref_id() {
        Some(id) => id,
        None => super::new_request_id(),
    };
    let token = request::client_token(&req);
    let client = super::forwarded_for::client_addr(&req);
    let remote = (client.as_ref().and_then(|c| c.ip()), client.map(|c| c.port));
    let headers = request::audited_headers(&req, &state.core.audited_headers());
    let direct = match state
        .core
        .authorize_direct(token.as_ref(), &id, MONITOR_PATH, Operation::Read, remote, headers)
        .await
    {
        Ok(direct) => direct,
        Err(e) => return error::render(&e, &id),
    };
    let query = request::query_pairs(&req);
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let checked = (|| {
        let level_text = param("log_level")
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "info".into());
        let level = parse_level(&level_text).ok_or_else(|| CoreError::InvalidRequest("unknown log level".into()))?;
        let format = param("log_format").unwrap_or_else(|| "standard".into());
        if !matches!(format.to_ascii_lowercase().as_str(), "standard" | "json") {
            return Err(CoreError::InvalidRequest("unknown log format".into()));
        }
        Ok((level, logging::json_format() || format == "json"))
    })();
    let (level, json) = match checked {
        Ok(v) => v,
        Err(e) => {
            let recorded = state.core.finish_direct(&direct, Err(&e));
            return error::render(&recorded.err().unwrap_or(e), &id);
        }
    };
    if let Err(unrecorded) = state.core.finish_direct(&direct, Ok(None)) {
        return error::render(&unrecorded, &id);
    }
    let subscription = logging::subscribe(level, json, 512);
    let core = state.core.clone();
    let lines = futures_util::stream::unfold(Some((subscription, core)), |state| async move {
        let (mut subscription, core) = state?;
        loop {
            let next = actix_web::rt::time::timeout(Duration::from_secs(1), subscription.lines.recv()).await;
            match next {
                Ok(Some(mut line)) => {
                    // Whatever else is waiting goes out in the same chunk.
                    while line.len() < 64 * 1024 {
                        match subscription.lines.try_recv() {
                            Ok(more) => line.push_str(&more),
                            Err(_) => break,
                        }
                    }
                    return Some((
                        Ok::<_, std::io::Error>(web::Bytes::from(line)),
                        Some((subscription, core)),
                    ));
                }
                Ok(None) => return None,
                Err(_) if core.is_sealed() => {
                    return Some((Ok(web::Bytes::from_static(SEALED_MESSAGE.as_bytes())), None))
                }
                Err(_) => continue,
            }
        }
    });
    HttpResponse::Ok().streaming(lines)
}

/// The id `request_log::track` gave this request.
trait RequestIdExt {
    fn extensions_ref_id(&self) -> Option<String>;
}

impl RequestIdExt for HttpRequest {
    fn extensions_ref_id(&self) -> Option<String> {
        use actix_web::HttpMessage;
        self.extensions()
            .get::<super::request_log::RequestId>()
            .map(|r| r.0.clone())
    }
}
