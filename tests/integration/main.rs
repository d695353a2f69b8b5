//! Integration tests: one binary, a module per feature. Every test runs the real server on a temporary sled
//! directory.

mod common;
mod tools;

mod acl_table;
mod audit;
mod backup_dir;
mod bao_cli;
mod bao_kv;
mod bench_smoke;
mod config;
mod crash;
mod cubbyhole;
mod dev_mode;
mod differential;
mod durability;
mod faults;
mod hardening;
mod http_conventions;
mod hvac_client;
mod hvac_kv;
mod hvac_wrapping;
mod kv;
mod layering;
mod leases;
mod migrations;
mod mounts;
mod policies;
mod raw_http;
mod seal;
mod snapshots;
mod tls;
mod tokens;
mod userpass;
mod wrapping;
