//! The one table from core errors to HTTP statuses and Vault's `{"errors":[...]}` body.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

use crate::core::CoreError;
use crate::storage::StorageError;

pub fn status_of(error: &CoreError) -> StatusCode {
    match error {
        CoreError::Sealed => StatusCode::SERVICE_UNAVAILABLE,
        CoreError::NotInitialized
        | CoreError::AlreadyInitialized
        | CoreError::InvalidRequest(_)
        | CoreError::InvalidCredentials(_)
        | CoreError::Seal(_) => StatusCode::BAD_REQUEST,
        CoreError::PermissionDenied | CoreError::AclDenied | CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound
        | CoreError::NotFoundNoBody
        | CoreError::NotFoundMessage(_)
        | CoreError::NoHandler(_)
        | CoreError::UnsupportedPath => StatusCode::NOT_FOUND,
        CoreError::UnsupportedOperation | CoreError::LoginUnsupportedOperation | CoreError::MethodNotAllowed => {
            StatusCode::METHOD_NOT_ALLOWED
        }
        CoreError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        CoreError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        CoreError::Storage(StorageError::Sealed | StorageError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        CoreError::Storage(_) | CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Render an error. Internal errors are logged with the request id and answered with a generic text.
pub fn render(error: &CoreError, request_id: &str) -> HttpResponse {
    let status = status_of(error);
    if matches!(error, CoreError::NotFoundNoBody) {
        return HttpResponse::build(status).finish();
    }
    let errors: Vec<String> = match error {
        CoreError::NotFound | CoreError::MethodNotAllowed => vec![],
        CoreError::Storage(StorageError::Sealed) => vec!["Vault is sealed".into()],
        // What failed in the data directory (a full disk, damaged files, a record failing its integrity check) is
        // fixed text or the operating system's words, never a key or a value: say it, so operators can act on it.
        // Logged once by the space guard when it starts refusing, not for every write.
        CoreError::Storage(StorageError::NoSpace(why)) => vec![why.clone()],
        // Fixed text and PostgreSQL's own words about the connection (never the connection URL).
        CoreError::Storage(e @ StorageError::Unavailable(_)) => {
            log::warn!("request {request_id}: {e}");
            vec![e.to_string()]
        }
        CoreError::Storage(e @ (StorageError::Io(_) | StorageError::Corrupted(_) | StorageError::Barrier(_))) => {
            log::error!("request {request_id}: storage error: {e}");
            vec![e.to_string()]
        }
        CoreError::Storage(e) => {
            log::error!("request {request_id}: internal error: {e}");
            vec!["internal error".into()]
        }
        other => vec![other.to_string()],
    };
    if let CoreError::RateLimited(refused) = error {
        let mut builder = HttpResponse::build(status);
        for (name, value) in &refused.headers {
            builder.insert_header((name.as_str(), value.as_str()));
        }
        return builder.json(json!({ "errors": errors }));
    }
    errors_response(status, errors)
}

pub fn errors_response(status: StatusCode, errors: Vec<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "errors": errors }))
}
