//! Routes a request to the backend mounted at the longest matching prefix.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Caller, CoreError, Request, Response};
use crate::core::Core;

pub type BackendFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, CoreError>> + Send + 'a>>;

/// A logical backend (secrets engine, auth method or the system backend). It sees the path relative to its mount.
pub trait Backend: Send + Sync {
    fn handle<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> BackendFuture<'a>;
}

pub struct Mount {
    /// With a trailing slash, e.g. `sys/`.
    pub path: String,
    pub backend: Arc<dyn Backend>,
}

#[derive(Default)]
pub struct Router {
    mounts: Vec<Mount>,
}

impl Router {
    pub fn mount(&mut self, path: &str, backend: Arc<dyn Backend>) {
        self.mounts.push(Mount {
            path: path.to_string(),
            backend,
        });
        // Longest prefix first, so the first match wins.
        self.mounts.sort_by_key(|m| std::cmp::Reverse(m.path.len()));
    }

    /// The backend for `path` and the path relative to its mount.
    pub fn route<'p>(&self, path: &'p str) -> Option<(&Arc<dyn Backend>, &'p str)> {
        self.mounts.iter().find_map(|m| {
            let bare = m.path.trim_end_matches('/');
            if path == bare {
                Some((&m.backend, ""))
            } else {
                path.strip_prefix(m.path.as_str()).map(|rest| (&m.backend, rest))
            }
        })
    }
}
