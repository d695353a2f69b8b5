//! Backends: the system backend, the secrets engines, and the request-field conventions they share.

pub mod cubbyhole;
pub mod framework;
pub mod kv;
pub mod system;
pub mod system_mounts;

use std::sync::Arc;

use crate::core::mounts::MountEntry;
use crate::core::router::Backend;
use crate::core::CoreSettings;

/// The backend serving a mount-table entry; `None` for the built-in mounts the router has already (`sys/`).
pub fn backend_for(entry: &MountEntry, settings: &CoreSettings) -> Option<Arc<dyn Backend>> {
    match entry.kind.as_str() {
        "kv" | "generic" => {
            let prefix = entry.storage_prefix();
            Some(if entry.kv_version() == 2 {
                kv::v2::KvV2::new(&prefix)
            } else {
                let default_ttl = match entry.config.default_lease_ttl {
                    0 => settings.default_lease_ttl.as_secs(),
                    ttl => ttl,
                };
                kv::v1::KvV1::new(&prefix, default_ttl)
            })
        }
        "cubbyhole" => Some(cubbyhole::Cubbyhole::new()),
        _ => None,
    }
}
