//! Audit devices: sinks for the entries the core formats (see `logical::audit`).

pub mod file;
pub mod socket;
pub mod syslog;
