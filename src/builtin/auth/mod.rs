//! Auth methods.

pub mod userpass;
