//! vault: a secrets server speaking the HashiCorp Vault / OpenBao HTTP API, on sled.

pub mod auth;
pub mod config;
pub mod core;
pub mod engines;
pub mod hardening;
pub mod http;
pub mod policy;
pub mod seal;
pub mod server;
pub mod storage;

#[path = "../migrations/mod.rs"]
pub mod migrations;
