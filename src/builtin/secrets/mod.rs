//! Secrets engines.

pub mod cubbyhole;
pub mod kv;
pub mod transit;
