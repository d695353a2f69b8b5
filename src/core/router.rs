//! Routes a request to the backend mounted at the longest matching prefix. The core's own backends (`sys/`,
//! `auth/token/`) are fixed; the rest come from the mount table through the registry, and the table is replaced as
//! a whole whenever it changes (at unseal, enable, disable, tune, remount), so a request sees one consistent table.
//! A mount keeps its backend instance across table changes unless its type or options change.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{Caller, Core, CoreError, Operation, Request, Response};
use crate::logical::{self, BarrierView, StorageScope, StorageView};
use crate::storage::{Storage, Tree};

pub type CoreBackendFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, CoreError>> + Send + 'a>>;

/// A backend that is part of the core and sees all of it: the system backend (routed by hand) and the token store
/// (routed by its path table, whose handlers see the core). Every other backend is a [`logical::Backend`].
pub trait CoreBackend: Send + Sync {
    fn handle<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> CoreBackendFuture<'a>;

    fn special_paths(&self) -> logical::SpecialPaths;

    /// How often the scheduler runs [`periodic`](Self::periodic) while unsealed; `None`: never.
    fn periodic_interval(&self) -> Option<Duration> {
        None
    }

    fn periodic<'a>(&'a self, _core: &'a Core) -> CorePeriodicFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// The OpenAPI document of the backend's paths (see [`logical::Backend::openapi`]).
    fn openapi(&self, _default_prefix: &str) -> Option<logical::openapi::Document> {
        None
    }
}

pub type CorePeriodicFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CoreError>> + Send + 'a>>;

/// The system view of one mount: its tuned TTLs over the server's.
pub struct MountSystemView {
    pub default_lease_ttl: Duration,
    pub max_lease_ttl: Duration,
    pub uuid: String,
    pub accessor: String,
    pub local: bool,
}

impl logical::SystemView for MountSystemView {
    fn default_lease_ttl(&self) -> Duration {
        self.default_lease_ttl
    }

    fn max_lease_ttl(&self) -> Duration {
        self.max_lease_ttl
    }

    fn mount_uuid(&self) -> &str {
        &self.uuid
    }

    fn mount_accessor(&self) -> &str {
        &self.accessor
    }

    fn local_mount(&self) -> bool {
        self.local
    }
}

/// A mount-table entry served by a registered backend.
/// A backend instance serving a mount: [`initialize`](logical::Backend::initialize)d once before it serves, and
/// [`cleanup`](logical::Backend::cleanup)ed once when the last reference goes (the router dropped it and no request
/// holds it). A table change that keeps the instance keeps this, so neither runs again.
pub struct BackendInstance {
    backend: Arc<dyn logical::Backend>,
    initialized: tokio::sync::OnceCell<()>,
}

impl BackendInstance {
    pub fn new(backend: Arc<dyn logical::Backend>) -> Arc<Self> {
        Arc::new(BackendInstance {
            backend,
            initialized: tokio::sync::OnceCell::new(),
        })
    }

    async fn ensure_initialized(&self, mount: &LogicalMount, path: &str) {
        self.initialized
            .get_or_init(|| async {
                let ctx = logical::Context {
                    path: "",
                    storage: &mount.view,
                    system: &mount.system,
                };
                if let Err(e) = self.backend.initialize(&ctx).await {
                    log::error!("mount {path}: the backend's initialization failed: {e}");
                }
            })
            .await;
    }
}

impl std::ops::Deref for BackendInstance {
    type Target = dyn logical::Backend;

    fn deref(&self) -> &Self::Target {
        self.backend.as_ref()
    }
}

impl Drop for BackendInstance {
    fn drop(&mut self) {
        self.backend.cleanup();
    }
}

pub struct LogicalMount {
    pub backend: Arc<BackendInstance>,
    /// The mount's records: `<uuid>/...` in the `logical` tree.
    pub view: BarrierView,
    pub system: MountSystemView,
    /// What the backend was built from: a table change keeps the instance while these stay the same.
    pub type_name: String,
    pub options: Option<std::collections::BTreeMap<String, String>>,
}

pub enum Handler {
    Core(Arc<dyn CoreBackend>),
    Logical(Box<LogicalMount>),
}

pub struct Mount {
    /// With a trailing slash, e.g. `sys/`.
    pub path: String,
    /// The mount-table entry's uuid (empty for the core's fixed mounts).
    pub uuid: String,
    pub handler: Handler,
}

impl LogicalMount {
    /// The storage a request sees: the mount's view, or its token's records for a per-token backend (guarded by
    /// the token's record, so a write racing the token's revocation is refused).
    fn view_for(&self, storage: &Arc<Storage>, token_hash: &[u8]) -> ScopedView<'_> {
        match self.backend.storage_scope() {
            StorageScope::Mount => ScopedView::Mount(&self.view),
            StorageScope::PerToken => ScopedView::Token(
                BarrierView::new(storage.clone(), Tree::Cubbyhole, token_hash.to_vec())
                    .guarded_by(Tree::Tokens, token_hash.to_vec()),
            ),
        }
    }
}

enum ScopedView<'a> {
    Mount(&'a BarrierView),
    Token(BarrierView),
}

impl ScopedView<'_> {
    fn get(&self) -> &dyn StorageView {
        match self {
            ScopedView::Mount(v) => *v,
            ScopedView::Token(v) => v,
        }
    }
}

impl Mount {
    fn special_paths(&self) -> logical::SpecialPaths {
        match &self.handler {
            Handler::Core(backend) => backend.special_paths(),
            Handler::Logical(mount) => mount.backend.special_paths(),
        }
    }

    /// Whether `relative_path` needs `sudo` on this mount.
    pub fn is_root_path(&self, relative_path: &str) -> bool {
        self.special_paths().is_root(relative_path)
    }

    /// Whether `relative_path` is served without a token (a login).
    pub fn is_unauthenticated(&self, relative_path: &str) -> bool {
        self.special_paths().is_unauthenticated(relative_path)
    }

    /// The system view of a mount-table backend (`None` for the core's own).
    pub fn system_view(&self) -> Option<&MountSystemView> {
        match &self.handler {
            Handler::Core(_) => None,
            Handler::Logical(mount) => Some(&mount.system),
        }
    }

    /// The backend's OpenAPI document (its paths relative to the mount), if it documents them.
    pub fn openapi(&self, default_prefix: &str) -> Option<logical::openapi::Document> {
        match &self.handler {
            Handler::Core(backend) => backend.openapi(default_prefix),
            Handler::Logical(mount) => mount.backend.openapi(default_prefix),
        }
    }

    pub fn periodic_interval(&self) -> Option<Duration> {
        match &self.handler {
            Handler::Core(backend) => backend.periodic_interval(),
            Handler::Logical(mount) => mount.backend.periodic_interval(),
        }
    }

    /// Run the backend's periodic work once.
    pub async fn run_periodic(&self, core: &Core) -> Result<(), CoreError> {
        match &self.handler {
            Handler::Core(backend) => backend.periodic(core).await,
            Handler::Logical(mount) => {
                mount.backend.ensure_initialized(mount, &self.path).await;
                let ctx = logical::Context {
                    path: "",
                    storage: &mount.view,
                    system: &mount.system,
                };
                mount.backend.periodic(&ctx).await
            }
        }
    }

    pub async fn handle(
        &self,
        core: &Core,
        caller: &Caller,
        relative_path: &str,
        req: &Request,
    ) -> Result<Response, CoreError> {
        match &self.handler {
            Handler::Core(backend) => backend.handle(core, caller, relative_path, req).await,
            Handler::Logical(mount) => {
                mount.backend.ensure_initialized(mount, &self.path).await;
                let view = mount.view_for(&core.storage, &caller.token_hash);
                let ctx = logical::Context {
                    path: relative_path,
                    storage: view.get(),
                    system: &mount.system,
                };
                mount.backend.handle(&ctx, req).await
            }
        }
    }

    /// The alias a login on this mount is for (the backend's alias lookahead); `None` for the core's own backends.
    pub async fn login_alias(
        &self,
        core: &Core,
        relative_path: &str,
        req: &Request,
    ) -> Result<Option<String>, CoreError> {
        match &self.handler {
            Handler::Core(_) => Ok(None),
            Handler::Logical(mount) => {
                mount.backend.ensure_initialized(mount, &self.path).await;
                let view = mount.view_for(&core.storage, &[]);
                let ctx = logical::Context {
                    path: relative_path,
                    storage: view.get(),
                    system: &mount.system,
                };
                mount.backend.login_alias(&ctx, req).await
            }
        }
    }

    /// Whether role-based rate limit quotas may be set on this mount (see `Backend::resolves_roles`).
    pub fn resolves_roles(&self) -> bool {
        match &self.handler {
            Handler::Core(_) => false,
            Handler::Logical(mount) => mount.backend.resolves_roles(),
        }
    }

    /// The role a login on this mount is for (see `Backend::resolve_role`).
    pub async fn resolve_role(
        &self,
        core: &Core,
        relative_path: &str,
        req: &Request,
    ) -> Result<Option<String>, CoreError> {
        match &self.handler {
            Handler::Core(_) => Ok(None),
            Handler::Logical(mount) => {
                mount.backend.ensure_initialized(mount, &self.path).await;
                let view = mount.view_for(&core.storage, &[]);
                let ctx = logical::Context {
                    path: relative_path,
                    storage: view.get(),
                    system: &mount.system,
                };
                mount.backend.resolve_role(&ctx, req).await
            }
        }
    }

    /// The operation a request really is: a create or update becomes a create when the backend's existence check
    /// says the item does not exist yet, else an update (as OpenBao decides before checking the ACL).
    pub async fn checked_operation(
        &self,
        core: &Core,
        token_hash: &[u8],
        relative_path: &str,
        req: &Request,
    ) -> Result<Operation, CoreError> {
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Ok(req.operation);
        }
        Ok(match self.existence(core, token_hash, relative_path, req).await? {
            Some(false) => Operation::Create,
            _ => Operation::Update,
        })
    }

    /// The backend's existence check (`None`: the path has none).
    async fn existence(
        &self,
        core: &Core,
        token_hash: &[u8],
        relative_path: &str,
        req: &Request,
    ) -> Result<Option<bool>, CoreError> {
        match &self.handler {
            Handler::Core(_) => Ok(None),
            Handler::Logical(mount) => {
                mount.backend.ensure_initialized(mount, &self.path).await;
                let view = mount.view_for(&core.storage, token_hash);
                let ctx = logical::Context {
                    path: relative_path,
                    storage: view.get(),
                    system: &mount.system,
                };
                mount.backend.existence(&ctx, req).await
            }
        }
    }
}

pub struct Router {
    builtins: Vec<Arc<Mount>>,
    /// Built-ins and the mount table's backends, longest path first.
    table: RwLock<Arc<Vec<Arc<Mount>>>>,
}

impl Router {
    /// A router with fixed mounts only.
    pub fn new(builtins: Vec<Mount>) -> Self {
        let router = Router {
            builtins: builtins.into_iter().map(Arc::new).collect(),
            table: RwLock::new(Arc::new(Vec::new())),
        };
        router.install(Vec::new());
        router
    }

    /// The mounts served now, for a table change to reuse their backends.
    pub fn mounts(&self) -> Arc<Vec<Arc<Mount>>> {
        self.snapshot()
    }

    /// Tell the backend of the mount with `uuid` (every mount's, for `None`) that its record `key` (`None`: any)
    /// changed in storage behind its back.
    pub fn invalidate(&self, uuid: Option<&str>, key: Option<&str>) {
        for mount in self.snapshot().iter() {
            if let Handler::Logical(logical) = &mount.handler {
                if uuid.is_none_or(|u| u == mount.uuid) {
                    logical.backend.invalidate(key);
                }
            }
        }
    }

    /// Replace every non-built-in mount.
    pub fn install(&self, mounts: Vec<Arc<Mount>>) {
        let mut all: Vec<Arc<Mount>> = self.builtins.to_vec();
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

    fn snapshot(&self) -> Arc<Vec<Arc<Mount>>> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// The mount serving `path` and the path relative to it.
    pub fn route<'p>(&self, path: &'p str) -> Option<(Arc<Mount>, &'p str)> {
        self.snapshot().iter().find_map(|m| {
            let bare = m.path.trim_end_matches('/');
            if path == bare {
                Some((m.clone(), ""))
            } else {
                path.strip_prefix(m.path.as_str()).map(|rest| (m.clone(), rest))
            }
        })
    }

    /// Whether `path` (below `/v1/`) is root-protected on the mount serving it.
    pub fn is_root_path(&self, path: &str) -> bool {
        self.route(path)
            .is_some_and(|(mount, relative)| mount.is_root_path(relative))
    }
}
