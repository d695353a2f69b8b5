//! Integration tests: one binary, a module per feature. Every test runs the real server on a temporary sled
//! directory.

mod common;
mod tools;

mod bao_cli;
mod config;
mod dev_mode;
mod durability;
mod http_conventions;
mod migrations;
mod seal;
mod tls;
