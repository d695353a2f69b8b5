//! Secrets engines.

pub mod cubbyhole;
pub mod kv;
#[cfg(test)]
pub mod leasing_test;
pub mod transit;
