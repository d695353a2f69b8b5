//! Auth methods.

pub mod approle;
pub mod userpass;
