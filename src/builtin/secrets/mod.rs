//! Secrets engines.

pub mod cubbyhole;
pub mod kv;
