//! vault: a secrets server speaking the HashiCorp Vault / OpenBao HTTP API, on sled.

/// This build's version, as `sys/seal-status` and snapshots report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod builtin;
pub mod cli;
pub mod config;
pub mod core;
pub mod duration;
pub mod framework;
pub mod hardening;
pub mod http;
pub mod logging;
pub mod logical;
pub mod memory;
pub mod policy;
pub mod printable;
pub mod process_metrics;
pub mod seal;
pub mod server;
pub mod storage;
pub mod telemetry;

#[path = "../migrations/mod.rs"]
pub mod migrations;
