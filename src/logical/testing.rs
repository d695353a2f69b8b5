//! Helpers to unit-test a backend in-process, on a [`MemoryView`](super::MemoryView), without a server.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::{Backend, Context, Error, Operation, Request, Response, StorageView, SystemView};

/// A system view with fixed settings (OpenBao's defaults: 768h TTLs).
pub struct FixedSystemView {
    pub default_lease_ttl: Duration,
    pub max_lease_ttl: Duration,
}

impl Default for FixedSystemView {
    fn default() -> Self {
        FixedSystemView {
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
        }
    }
}

impl SystemView for FixedSystemView {
    fn default_lease_ttl(&self) -> Duration {
        self.default_lease_ttl
    }

    fn max_lease_ttl(&self) -> Duration {
        self.max_lease_ttl
    }

    fn mount_uuid(&self) -> &str {
        "00000000-0000-0000-0000-000000000000"
    }

    fn mount_accessor(&self) -> &str {
        "test_00000000"
    }

    fn local_mount(&self) -> bool {
        false
    }
}

/// Run a future to completion on a single-threaded runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => panic!("test runtime: {e}"),
    }
}

/// Send one request to a backend mounted at `mount` (e.g. `secret/`), as the core would after routing: the
/// existence check first for a write (create vs update), then the handler.
pub fn call(
    backend: &dyn Backend,
    storage: &dyn StorageView,
    mount: &str,
    operation: Operation,
    relative_path: &str,
    data: Value,
) -> Result<Response, Error> {
    let system = FixedSystemView::default();
    let ctx = Context {
        path: relative_path,
        storage,
        system: &system,
    };
    let mut req = Request {
        id: "test".into(),
        operation,
        path: format!("{mount}{relative_path}"),
        data: match data {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
        client_token: None,
        wrap_ttl: None,
        remote_addr: None,
        remote_port: None,
        secret: None,
        headers: Default::default(),
    };
    block_on(async {
        if matches!(operation, Operation::Create | Operation::Update) {
            req.operation = match backend.existence(&ctx, &req).await? {
                Some(false) => Operation::Create,
                _ => Operation::Update,
            };
        }
        backend.handle(&ctx, &req).await
    })
}

/// Build an audit device of one type from option pairs, as the core would from its table entry.
pub fn audit_device(
    factory: super::AuditFactory,
    options: &[(&str, &str)],
) -> Result<std::sync::Arc<dyn super::AuditSink>, String> {
    let options: std::collections::BTreeMap<String, String> =
        options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    factory(&super::AuditDeviceConfig { options: &options })
}
