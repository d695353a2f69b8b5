//! Secrets engines.

pub mod cubbyhole;
pub mod kv;
#[cfg(any(test, feature = "test-backends"))]
pub mod leasing_test;
pub mod transit;
