//! The contract between the core and a backend (secrets engine or auth method): the backend gets a request, the
//! path relative to its mount, its own storage view and the system view, and nothing else of the core.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{Error, Request, Response, StorageView};

/// A backend's periodic work (OpenBao's `PeriodicFunc`).
pub type PeriodicFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

pub type BackendFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

/// The answer of a login's alias lookahead: the alias name, or `None` when the request names none.
pub type AliasFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, Error>> + Send + 'a>>;

/// The answer of an existence check: `Some(exists)`, or `None` when the path has no existence check.
pub type ExistenceFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<bool>, Error>> + Send + 'a>>;

/// What the core tells a backend about its mount and the server (OpenBao's `logical.SystemView`).
pub trait SystemView: Send + Sync {
    /// The mount's default lease TTL, or the server's when the mount sets none.
    fn default_lease_ttl(&self) -> Duration;
    /// The mount's maximum lease TTL, or the server's when the mount sets none.
    fn max_lease_ttl(&self) -> Duration;
    fn mount_uuid(&self) -> &str;
    fn mount_accessor(&self) -> &str;
    /// A mount not replicated to other clusters.
    fn local_mount(&self) -> bool;
}

/// Paths of a backend (relative to its mount) that the core treats specially, as OpenBao's `logical.Paths`. A
/// trailing `*` makes a pattern a prefix.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecialPaths {
    /// Need `sudo` (or root) on top of the operation's capability.
    pub root: &'static [&'static str],
    /// Served without a token (logins): no token is checked or used, no ACL applies.
    pub unauthenticated: &'static [&'static str],
}

impl SpecialPaths {
    pub fn is_root(&self, relative_path: &str) -> bool {
        matches_any(self.root, relative_path)
    }

    pub fn is_unauthenticated(&self, relative_path: &str) -> bool {
        matches_any(self.unauthenticated, relative_path)
    }
}

fn matches_any(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *p,
    })
}

/// Where a backend's records live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageScope {
    /// One view per mount (under the mount's uuid): what every backend but the cubbyhole has.
    Mount,
    /// One view per client token, gone with the token (the cubbyhole).
    PerToken,
}

/// Everything a backend sees of one request besides the request itself.
pub struct Context<'a> {
    /// The request path relative to the mount (`secret/data/x` on `secret/` is `data/x`).
    pub path: &'a str,
    pub storage: &'a dyn StorageView,
    pub system: &'a dyn SystemView,
}

pub trait Backend: Send + Sync {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a>;

    /// OpenBao's existence check, asked before the ACL for every create or update: does the item the write
    /// addresses exist? A write to an item that does not is a `create` (and needs the `create` capability). The
    /// default: no existence check, every write is an `update`.
    fn existence<'a>(&'a self, _ctx: &'a Context<'a>, _req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    /// OpenBao's alias lookahead, asked by the core before a login on one of the backend's unauthenticated paths
    /// runs: the name the login is for (a user name, a role id), read from the request alone, before any
    /// credential is checked. The core refuses a login for a locked-out alias without running it, and counts a
    /// login that fails with [`Error::InvalidCredentials`] against that alias. The default: logins name no alias
    /// (no lockout applies).
    fn login_alias<'a>(&'a self, _ctx: &'a Context<'a>, _req: &'a Request) -> AliasFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    /// Whether logins on this backend are for a role that [`resolve_role`](Self::resolve_role) can name, so rate
    /// limit quotas may be set per role (OpenBao's `ResolveRoleOperation`). The default: no roles.
    fn resolves_roles(&self) -> bool {
        false
    }

    /// The role a login request is for, read before anything runs (`None`: not a login, or no such role); asked by
    /// the core only when a role-based quota is set on the mount.
    fn resolve_role<'a>(&'a self, _ctx: &'a Context<'a>, _req: &'a Request) -> AliasFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    fn storage_scope(&self) -> StorageScope {
        StorageScope::Mount
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }

    /// The OpenAPI document of the backend's paths (relative to its mount), built from its path table;
    /// `default_prefix` (the mount's type) starts the operation ids whose path names no prefix. `None`: the
    /// backend documents nothing.
    fn openapi(&self, _default_prefix: &str) -> Option<super::openapi::Document> {
        None
    }

    /// How often the core's scheduler runs [`periodic`](Self::periodic) while unsealed; `None`: never.
    fn periodic_interval(&self) -> Option<Duration> {
        None
    }

    /// Periodic work (tidying, expiry), with the mount's context (`ctx.path` is empty).
    fn periodic<'a>(&'a self, _ctx: &'a Context<'a>) -> PeriodicFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Run once per instance before it serves anything (its first request or periodic run after it was mounted or
    /// the server unsealed), with the mount's context (`ctx.path` is empty): load caches, upgrade records. A
    /// failure is logged; the mount keeps serving.
    fn initialize<'a>(&'a self, _ctx: &'a Context<'a>) -> PeriodicFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Called once when the instance stops serving for good: after it was unmounted, at seal, or when a tune
    /// rebuilt it, once no request holds it any more. Drop caches and key material here; storage is out of reach.
    fn cleanup(&self) {}

    /// Another server sharing the storage changed the mount's record `key` (`None`: any of them): forget what was
    /// cached from it. Called on a thread of its own, never inside a request.
    fn invalidate(&self, _key: Option<&str>) {}
}

#[cfg(test)]
mod tests {
    use super::SpecialPaths;

    #[test]
    fn root_paths_match_exactly_or_by_prefix() {
        let special = SpecialPaths {
            root: &["seal", "auth/*", "accessors/"],
            unauthenticated: &["login/*"],
        };
        assert!(special.is_unauthenticated("login/alice"));
        assert!(!special.is_unauthenticated("users/alice"));
        assert!(special.is_root("seal"));
        assert!(special.is_root("auth/userpass"));
        assert!(special.is_root("accessors/"));
        assert!(!special.is_root("sealed"));
        assert!(!special.is_root("accessors"));
        assert!(!special.is_root("policy/foo"));
    }
}
