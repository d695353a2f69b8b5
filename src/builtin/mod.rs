//! The backends built into the server, each written against `logical` and `framework` only, and registered in
//! `core::registry`.

pub mod audit;
pub mod auth;
pub mod secrets;
