use crate::seal::SealError;
use crate::storage::StorageError;

/// Every way a request can fail, in the core or in a backend (as OpenBao's `sdk/logical` errors). `http::error` maps
/// each variant to a status once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Vault is sealed")]
    Sealed,
    #[error("Vault is not initialized")]
    NotInitialized,
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// No, an unknown or an expired token.
    #[error("permission denied")]
    PermissionDenied,
    /// A valid token whose ACL does not allow the request (OpenBao wraps this one in a multi-error).
    #[error("1 error occurred:\n\t* permission denied\n\n")]
    AclDenied,
    /// 403 with a specific message (e.g. "bad token").
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// A login refused because its credentials are wrong (OpenBao's `ErrInvalidCredentials`): answered like
    /// `InvalidRequest` (400 with the text), and counted by the core as a failed login of the alias the backend
    /// named beforehand ([`Backend::login_alias`](super::Backend::login_alias)), for user lockout. Only for
    /// credentials checked against something that exists (a known user's password, a known role's secret ID).
    #[error("{0}")]
    InvalidCredentials(String),
    /// A read of something absent: 404 with an empty error list, as Vault does.
    #[error("not found")]
    NotFound,
    /// 404 with no body at all (OpenBao's answer to a PATCH of something missing).
    #[error("not found")]
    NotFoundNoBody,
    /// 404 with a message (OpenBao's error response with `ErrUnsupportedPath`, e.g. `role "x" does not exist`).
    #[error("{0}")]
    NotFoundMessage(String),
    #[error("no handler for route \"{0}\". route entry not found.")]
    NoHandler(String),
    /// A path inside a mounted backend that none of its paths matches (OpenBao wraps the text in a multi-error).
    #[error("1 error occurred:\n\t* unsupported path\n\n")]
    UnsupportedPath,
    /// An operation a login path does not take: OpenBao's login flow does not wrap the text.
    #[error("unsupported operation")]
    LoginUnsupportedOperation,
    /// A backend path that does not support the operation (OpenBao wraps the text in a multi-error).
    #[error("1 error occurred:\n\t* unsupported operation\n\n")]
    UnsupportedOperation,
    /// A body in a media type the operation does not take (PATCH without a JSON merge patch): 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A method the HTTP-level endpoints (`sys/seal`, `sys/metrics`, ...) do not take: 405 with no text.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A server-side failure that is not the client's fault (a backend that failed, timed out or panicked while
    /// the core ran it for itself, e.g. a lease revocation): 500 with this text.
    #[error("{0}")]
    Internal(String),
    /// A request over a rate limit quota: 429 with OpenBao's text and the quota's headers.
    #[error("{0}")]
    RateLimited(Box<RateLimited>),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<crate::storage::BarrierError> for Error {
    fn from(e: crate::storage::BarrierError) -> Self {
        Error::Storage(StorageError::Barrier(e))
    }
}

/// A request the rate limit quotas refused: OpenBao's 429 text names its path; `headers` are sent with the answer
/// (`Retry-After`, and the `X-Ratelimit-*` ones when enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request path {:?}: rate limit quota exceeded", self.path)
    }
}
