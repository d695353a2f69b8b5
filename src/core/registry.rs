//! The one place the core names backends: kind x type -> factory. Adding a backend is its folder under `builtin/`
//! and one line here.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::builtin::audit::{file as audit_file, socket as audit_socket, syslog as audit_syslog};
use crate::builtin::auth::{approle, userpass};
use crate::builtin::secrets::{cubbyhole, kv, transit};
use crate::logical::{AuditFactory, Backend, Error, StorageView, TxFail, ViewTxn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    SecretEngine,
    AuthMethod,
}

/// What a factory knows of the mount it builds a backend for.
pub struct BackendConfig<'a> {
    pub options: Option<&'a BTreeMap<String, String>>,
}

pub type Factory = fn(&BackendConfig) -> Arc<dyn Backend>;

/// Rewrites a mount's records when a tune changes its options (K/V version 1 -> 2): `collect` lists the records
/// before the transaction (a transaction cannot scan), `apply` rewrites them inside the transaction that writes the
/// new mount table, so the table and the data change together.
pub struct DataUpgrade {
    pub collect: CollectRecords,
    pub apply: RewriteRecords,
}

pub type CollectRecords = fn(&dyn StorageView) -> Result<Vec<Vec<u8>>, Error>;
/// (transaction, records, now in Unix nanoseconds)
pub type RewriteRecords = fn(&dyn ViewTxn, &[Vec<u8>], i64) -> Result<(), TxFail>;

pub struct Registration {
    pub kind: BackendKind,
    pub type_name: &'static str,
    pub factory: Factory,
    pub upgrade: Option<DataUpgrade>,
    /// A plugin of OpenBao's catalog: its mounts show `deprecation_status` ("supported").
    pub catalog_plugin: bool,
}

const KV_UPGRADE: DataUpgrade = DataUpgrade {
    collect: kv::v1_keys,
    apply: kv::upgrade_in_tx,
};

fn kv_factory(config: &BackendConfig) -> Arc<dyn Backend> {
    kv::factory(config.options)
}

fn cubbyhole_factory(_: &BackendConfig) -> Arc<dyn Backend> {
    Arc::new(cubbyhole::Cubbyhole)
}

fn transit_factory(_: &BackendConfig) -> Arc<dyn Backend> {
    transit::factory()
}

fn userpass_factory(_: &BackendConfig) -> Arc<dyn Backend> {
    Arc::new(userpass::Userpass)
}

fn approle_factory(_: &BackendConfig) -> Arc<dyn Backend> {
    Arc::new(approle::AppRole::new())
}

const REGISTRY: &[Registration] = &[
    Registration {
        kind: BackendKind::SecretEngine,
        type_name: "kv",
        factory: kv_factory,
        upgrade: Some(KV_UPGRADE),
        catalog_plugin: true,
    },
    Registration {
        kind: BackendKind::SecretEngine,
        type_name: "generic",
        factory: kv_factory,
        upgrade: Some(KV_UPGRADE),
        catalog_plugin: false,
    },
    Registration {
        kind: BackendKind::SecretEngine,
        type_name: "cubbyhole",
        factory: cubbyhole_factory,
        upgrade: None,
        catalog_plugin: false,
    },
    Registration {
        kind: BackendKind::SecretEngine,
        type_name: "transit",
        factory: transit_factory,
        upgrade: None,
        catalog_plugin: true,
    },
    Registration {
        kind: BackendKind::AuthMethod,
        type_name: "userpass",
        factory: userpass_factory,
        upgrade: None,
        catalog_plugin: true,
    },
    Registration {
        kind: BackendKind::AuthMethod,
        type_name: "approle",
        factory: approle_factory,
        upgrade: None,
        catalog_plugin: true,
    },
];

/// Types that exist once, mounted by the server itself (the system backend, the cubbyhole, the token store and
/// OpenBao's identity store and their namespace variants): never enabled through the API.
pub const SINGLETON_TYPES: &[&str] = &[
    "cubbyhole",
    "ns_cubbyhole",
    "system",
    "ns_system",
    "token",
    "ns_token",
    "identity",
    "ns_identity",
];

/// Backends that exist only in test builds (never in a release binary).
#[cfg(any(test, feature = "test-backends"))]
const TEST_ONLY: &[Registration] = &[Registration {
    kind: BackendKind::SecretEngine,
    type_name: "test-leasing",
    factory: |_| Arc::new(crate::builtin::secrets::leasing_test::LeasingTest::default()),
    upgrade: None,
    catalog_plugin: false,
}];
#[cfg(not(any(test, feature = "test-backends")))]
const TEST_ONLY: &[Registration] = &[];

pub fn lookup(kind: BackendKind, type_name: &str) -> Option<&'static Registration> {
    REGISTRY
        .iter()
        .chain(TEST_ONLY)
        .find(|r| r.kind == kind && r.type_name == type_name)
}

/// A type that can be enabled (or is a singleton, which is refused with its own error).
pub fn is_known(kind: BackendKind, type_name: &str) -> bool {
    lookup(kind, type_name).is_some() || SINGLETON_TYPES.contains(&type_name)
}

/// Audit device types (the third kind of backend): type -> factory of the device's sink.
const AUDIT_DEVICES: &[(&str, AuditFactory)] = &[
    ("file", audit_file::factory),
    ("socket", audit_socket::factory),
    ("syslog", audit_syslog::factory),
];

pub fn audit_device(type_name: &str) -> Option<AuditFactory> {
    AUDIT_DEVICES.iter().find(|(t, _)| *t == type_name).map(|(_, f)| *f)
}
