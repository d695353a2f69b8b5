//! A request as the core and every backend see it: no HTTP types.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
    /// Extend a lease (sent by the core's expiration manager, never by a client directly).
    Renew,
    /// End a lease (sent by the core's expiration manager).
    Revoke,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Renew => "renew",
            Operation::Revoke => "revoke",
        }
    }
}

/// A client token. Its `Debug` never shows the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientToken(pub Zeroizing<String>);

impl ClientToken {
    pub fn new(value: &str) -> Self {
        ClientToken(Zeroizing::new(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientToken(<redacted>)")
    }
}

pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// Path below `/v1/`, without a leading slash.
    pub path: String,
    pub data: Map<String, Value>,
    pub client_token: Option<ClientToken>,
    pub wrap_ttl: Option<Duration>,
    /// The client's address (the TCP peer, or the client a trusted proxy named in `X-Forwarded-For`), for CIDR
    /// bindings and audit records; `None` for in-process calls.
    pub remote_addr: Option<IpAddr>,
    /// The client connection's port (audit records' `remote_port`); `None` for in-process calls.
    pub remote_port: Option<u16>,
    /// On `Renew` and `Revoke` (sent by the core's expiration manager): the lease's secret.
    pub secret: Option<super::Secret>,
    /// The HTTP request's headers that are configured to be audited (`sys/config/auditing/request-headers`), by
    /// lower-case name; only those are copied from the HTTP request. Their values may be secret: never logged.
    pub headers: std::collections::BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Request data may hold secrets: show only its keys.
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("client_token", &self.client_token)
            .field("remote_addr", &self.remote_addr)
            .field("remote_port", &self.remote_port)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}
