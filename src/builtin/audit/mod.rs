//! Audit devices: sinks for the entries the core formats (see `logical::audit`).

pub mod file;
