//! Routes a request to the backend mounted at the longest matching prefix. The built-in mounts (`sys/`,
//! `auth/token/`) are fixed; the rest come from the mount table and are replaced as a whole whenever it changes
//! (at unseal, enable, disable, tune, remount), so a request sees one consistent table.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use super::{Caller, CoreError, Operation, Request, Response};
use crate::core::Core;

pub type BackendFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, CoreError>> + Send + 'a>>;

/// The answer of an existence check: `Some(exists)`, or `None` when the path has no existence check.
pub type ExistenceFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<bool>, CoreError>> + Send + 'a>>;

/// A logical backend (secrets engine, auth method or the system backend). It sees the path relative to its mount.
pub trait Backend: Send + Sync {
    fn handle<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> BackendFuture<'a>;

    /// OpenBao's existence check, asked before the ACL for every create or update: does the item the write
    /// addresses exist? A write to an item that does not is a `create` (and needs the `create` capability).
    /// `token_hash` is the caller's token (a cubbyhole is per token). The default: no existence check, every write
    /// is an `update`.
    fn existence<'a>(
        &'a self,
        _core: &'a Core,
        _token_hash: &'a [u8],
        _relative_path: &'a str,
        _req: &'a Request,
    ) -> ExistenceFuture<'a> {
        Box::pin(async { Ok(None) })
    }
}

#[derive(Clone)]
pub struct Mount {
    /// With a trailing slash, e.g. `sys/`.
    pub path: String,
    pub backend: Arc<dyn Backend>,
}

pub struct Router {
    builtins: Vec<Mount>,
    /// Built-ins and the mount table's backends, longest path first.
    table: RwLock<Arc<Vec<Mount>>>,
}

impl Router {
    /// A router with fixed mounts only.
    pub fn new(builtins: Vec<Mount>) -> Self {
        let router = Router {
            builtins,
            table: RwLock::new(Arc::new(Vec::new())),
        };
        router.install(Vec::new());
        router
    }

    /// Replace every non-built-in mount.
    pub fn install(&self, mounts: Vec<Mount>) {
        let mut all: Vec<Mount> = self.builtins.to_vec();
        all.extend(
            mounts
                .into_iter()
                .filter(|m| !self.builtins.iter().any(|b| b.path == m.path)),
        );
        // Longest prefix first, so the first match wins.
        all.sort_by_key(|m| std::cmp::Reverse(m.path.len()));
        if let Ok(mut table) = self.table.write() {
            *table = Arc::new(all);
        }
    }

    fn snapshot(&self) -> Arc<Vec<Mount>> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// The backend for `path` and the path relative to its mount.
    pub fn route<'p>(&self, path: &'p str) -> Option<(Arc<dyn Backend>, &'p str)> {
        self.snapshot().iter().find_map(|m| {
            let bare = m.path.trim_end_matches('/');
            if path == bare {
                Some((m.backend.clone(), ""))
            } else {
                path.strip_prefix(m.path.as_str()).map(|rest| (m.backend.clone(), rest))
            }
        })
    }

    /// The operation a request really is: a create or update becomes a create when the backend's existence check
    /// says the item does not exist yet, else an update (as OpenBao decides before checking the ACL).
    pub async fn checked_operation(
        &self,
        core: &Core,
        token_hash: &[u8],
        req: &Request,
    ) -> Result<Operation, CoreError> {
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Ok(req.operation);
        }
        let Some((backend, relative)) = self.route(&req.path) else {
            return Ok(req.operation);
        };
        Ok(match backend.existence(core, token_hash, relative, req).await? {
            Some(false) => Operation::Create,
            _ => Operation::Update,
        })
    }
}
