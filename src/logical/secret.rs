//! A secret with a lease: what a backend returns with a response whose data must end (a database user, a cloud
//! credential), and what the core hands back to that backend to renew or revoke it.
//!
//! The contract for backends: the core registers the lease durably before the client sees the secret, and calls the
//! backend with `Operation::Renew` (the request's `secret` holds the lease's internal data; answer with a `Secret`
//! whose `ttl` is what you grant, or an error to refuse) and `Operation::Revoke` (end the secret; answer `Ok` only
//! once it is gone). **A revoke handler must be idempotent**: the core records that a revocation started before it
//! calls the backend, and calls again after a crash or a failure (with backoff, up to a limit), so a second call for
//! something already gone must succeed.

use std::time::Duration;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Secret {
    /// The lease's TTL; zero means the mount's default. Capped by the mount's and the system's maximum.
    pub ttl: Duration,
    pub renewable: bool,
    /// Kept with the lease and given back on renew and revoke; never shown to clients.
    pub internal_data: Map<String, Value>,
}
