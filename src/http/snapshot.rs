//! `sys/storage/raft/snapshot` (GET saves, POST/PUT restores) and `sys/storage/raft/snapshot-force`: binary bodies,
//! so they are served here instead of through the JSON request path. Neither is bound by `max_request_size`, as
//! in OpenBao; uploads are spooled to an unnamed file beside the data directory (under its space guard), never held
//! in memory.

use std::fs::File;
use std::io::Read;

use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::{error, request, response, AppState};
use crate::core::pipeline::DirectRequest;
use crate::core::{CoreError, Operation};

const SNAPSHOT_PATH: &str = "sys/storage/raft/snapshot";
const SNAPSHOT_FORCE_PATH: &str = "sys/storage/raft/snapshot-force";
const CHUNK: usize = 64 * 1024;

pub async fn snapshot(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    match *req.method() {
        Method::GET => save(&req, &state).await,
        Method::POST | Method::PUT => restore(&req, payload, &state, SNAPSHOT_PATH, false).await,
        _ => error::errors_response(StatusCode::METHOD_NOT_ALLOWED, vec![]),
    }
}

pub async fn snapshot_force(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    match *req.method() {
        Method::POST | Method::PUT => restore(&req, payload, &state, SNAPSHOT_FORCE_PATH, true).await,
        _ => error::errors_response(StatusCode::METHOD_NOT_ALLOWED, vec![]),
    }
}

/// Authorize (and audit) the caller for `operation` on `path`, or the refusal.
async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    path: &str,
    operation: Operation,
) -> Result<DirectRequest, HttpResponse> {
    let id = super::new_request_id();
    let token = request::client_token(req);
    let client = super::forwarded_for::client_addr(req);
    let remote = (client.as_ref().and_then(|c| c.ip()), client.map(|c| c.port));
    let headers = request::audited_headers(req, &state.core.audited_headers());
    match state
        .core
        .authorize_direct(token.as_ref(), &id, path, operation, remote, headers)
        .await
    {
        Ok(direct) => Ok(direct),
        Err(e) => Err(error::render(&e, &id)),
    }
}

/// Audit the outcome (the response entry), then answer: an error, or `ok` when the response entry was recorded.
fn finish(
    state: &AppState,
    direct: &DirectRequest,
    outcome: Result<Option<&crate::core::Response>, &CoreError>,
    ok: impl FnOnce() -> HttpResponse,
) -> HttpResponse {
    match (state.core.finish_direct(direct, outcome), outcome) {
        // Not recorded: OpenBao's internal error, whatever the outcome.
        (Err(unrecorded), _) => error::render(&unrecorded, direct.id()),
        (Ok(()), Err(e)) => error::render(e, direct.id()),
        (Ok(()), Ok(_)) => ok(),
    }
}

fn fail(state: &AppState, direct: &DirectRequest, e: &CoreError) -> HttpResponse {
    // `ok` is never called for an error outcome.
    finish(state, direct, Err(e), || HttpResponse::InternalServerError().finish())
}

async fn save(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let direct = match authorize(req, state, SNAPSHOT_PATH, Operation::Read).await {
        Ok(direct) => direct,
        Err(refused) => return refused,
    };
    match state.core.snapshot_save().await {
        Ok((file, len)) => finish(state, &direct, Ok(None), || {
            HttpResponse::Ok()
                .content_type("application/gzip")
                .body(SizedStream::new(len, file_chunks(file)))
        }),
        Err(e) => fail(state, &direct, &e),
    }
}

/// The file in chunks. Reads of a freshly written temporary file come from the page cache, so they run in place.
fn file_chunks(file: File) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(web::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

async fn restore(
    req: &HttpRequest,
    mut payload: web::Payload,
    state: &AppState,
    path: &str,
    force: bool,
) -> HttpResponse {
    // Authorized before the upload is accepted.
    let direct = match authorize(req, state, path, Operation::Update).await {
        Ok(direct) => direct,
        Err(refused) => return refused,
    };
    let id = direct.id().to_string();
    let mut spool = match state.core.snapshot_spool() {
        Ok(spool) => spool,
        Err(e) => return fail(state, &direct, &e),
    };
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return error::errors_response(
                    StatusCode::BAD_REQUEST,
                    vec![format!("failed to read the snapshot upload: {e}")],
                )
            }
        };
        if let Err(e) = spool.write(&chunk) {
            return fail(state, &direct, &CoreError::Storage(e));
        }
    }
    let file = match spool.into_file() {
        Ok(file) => file,
        Err(e) => return fail(state, &direct, &CoreError::Storage(e)),
    };
    match state.core.snapshot_restore(file, force).await {
        Ok(resp) => {
            let audited = state.core.finish_direct(&direct, Ok(Some(&resp)));
            match audited {
                Ok(()) => response::render(resp, &id),
                Err(e) => error::render(&e, &id),
            }
        }
        Err(e) => fail(state, &direct, &e),
    }
}
