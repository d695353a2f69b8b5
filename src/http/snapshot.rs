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

/// Authorize the caller for `operation` on `path`: the request id to answer with, or the refusal.
async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    path: &str,
    operation: Operation,
) -> Result<String, HttpResponse> {
    let id = super::new_request_id();
    let token = request::client_token(req);
    match state.core.authorize_direct(token.as_ref(), &id, path, operation).await {
        Ok(()) => Ok(id),
        Err(e) => Err(error::render(&e, &id)),
    }
}

async fn save(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let id = match authorize(req, state, SNAPSHOT_PATH, Operation::Read).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let (file, len) = match state.core.snapshot_save().await {
        Ok(f) => f,
        Err(e) => return error::render(&e, &id),
    };
    HttpResponse::Ok()
        .content_type("application/gzip")
        .body(SizedStream::new(len, file_chunks(file)))
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
    let id = match authorize(req, state, path, Operation::Update).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let mut spool = match state.core.snapshot_spool() {
        Ok(spool) => spool,
        Err(e) => return error::render(&e, &id),
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
            return error::render(&CoreError::Storage(e), &id);
        }
    }
    let file = match spool.into_file() {
        Ok(file) => file,
        Err(e) => return error::render(&CoreError::Storage(e), &id),
    };
    match state.core.snapshot_restore(file, force).await {
        Ok(resp) => response::render(resp, &id),
        Err(e) => error::render(&e, &id),
    }
}
