//! OpenBao's usage gauges over the lease index, refreshed every `usage_gauge_period` (with the mount table gauges in
//! `core::telemetry`): `vault.expire.num_leases`, `vault.expire.num_irrevocable_leases`,
//! `vault.expire.leases.by_expiration` (leases due within `num_lease_metrics_buckets` x `lease_metrics_epsilon`, by
//! the expiry rounded to the epsilon), and the token counts `vault.token.count`, `.by_policy`, `.by_auth`,
//! `.by_ttl` (every token with a lease, as OpenBao's expiration manager walks them: those that never expire too,
//! with their TTL of zero in the `+Inf` bucket and Go's zero time as their expiry; not the root tokens `sys/init`
//! mints). `vault.secret.kv.count` (OpenBao lists
//! every KV mount through its backend for it) is not given.
//!
//! One walk reads every lease record and the token entry of every token lease: it runs on the scheduler's
//! thread, never on a request's path. Each refresh replaces the gauges it sets (a bucket that emptied disappears from
//! the JSON form, as in OpenBao's per-interval sink).

use std::collections::BTreeMap;
use std::time::Duration;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::lease_index::LeaseRecord;
use super::token_store::token::{now_ns, TokenEntry};
use super::{Caller, Core, CoreError, Operation, Request};
use crate::storage::Tree;

/// A K/V walk is under way (one at a time in the process).
static KV_WALK_RUNNING: AtomicBool = AtomicBool::new(false);

/// Seconds from Go's zero time (January 1, year 1, UTC) to the Unix epoch: Go rounds times from its zero time.
const GO_ZERO_TO_UNIX_SECS: i128 = 62_135_596_800;
/// Go's zero time in Unix nanoseconds: the expiry OpenBao gives a token that never expires.
const GO_ZERO_TIME_NS: i128 = -GO_ZERO_TO_UNIX_SECS * 1_000_000_000;

/// Go's `time.Time.Round(epsilon).String()` of a Unix-nanosecond time, in UTC (halfway rounds up).
pub fn expiry_bucket_label(expire_ns: i128, epsilon: Duration) -> String {
    let eps = epsilon.as_nanos() as i128;
    let abs = expire_ns + GO_ZERO_TO_UNIX_SECS * 1_000_000_000;
    let rounded = if eps > 0 {
        (abs + eps / 2).div_euclid(eps) * eps
    } else {
        abs
    };
    let unix_ns = rounded - GO_ZERO_TO_UNIX_SECS * 1_000_000_000;
    let secs = unix_ns.div_euclid(1_000_000_000) as i64;
    let nanos = unix_ns.rem_euclid(1_000_000_000) as u32;
    let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return String::new();
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if nanos > 0 {
        // Go prints the fraction without trailing zeros.
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[derive(Default)]
struct Tally {
    leases: u64,
    irrevocable: u64,
    by_expiration: BTreeMap<String, u64>,
    tokens: u64,
    by_policy: BTreeMap<String, u64>,
    by_auth: BTreeMap<String, u64>,
    by_ttl: BTreeMap<&'static str, u64>,
}

impl Core {
    /// Walk the lease index and the token store once and set the lease and token usage gauges.
    pub(super) fn refresh_lease_and_token_gauges(&self) -> Result<(), CoreError> {
        let telemetry = &self.settings.telemetry;
        let epsilon = telemetry.lease_metrics_epsilon;
        let window_end = now_ns().saturating_add(
            i64::try_from(
                epsilon
                    .as_nanos()
                    .saturating_mul(u128::from(telemetry.num_lease_metrics_buckets)),
            )
            .unwrap_or(i64::MAX),
        );
        let mut tally = Tally::default();
        let bucket = |tally: &mut Tally, at: i128| {
            if at < i128::from(window_end) {
                *tally.by_expiration.entry(expiry_bucket_label(at, epsilon)).or_insert(0) += 1;
            }
        };
        // Every lease: the secrets', and the tokens' (pointers to their entries). All tokens have one but the root
        // tokens `sys/init` and root generation mint, which OpenBao's expiration manager never sees either. A token
        // that never expires is walked (its expiry is Go's zero time, in the first bucket) but, as in OpenBao, not
        // counted in `num_leases`.
        let mut methods: BTreeMap<String, String> = BTreeMap::new();
        for key in self.storage.keys_with_prefix(Tree::Leases, b"")? {
            match self.storage.get::<LeaseRecord>(Tree::Leases, &key)? {
                Some(LeaseRecord::Secret(lease)) => {
                    tally.leases += 1;
                    if lease.revoke.irrevocable {
                        // Kept apart by OpenBao's expiration manager: counted, but in no expiry bucket.
                        tally.irrevocable += 1;
                    } else {
                        bucket(&mut tally, i128::from(lease.expire_time));
                    }
                }
                Some(LeaseRecord::Token { hash }) => {
                    let Some(entry) = self.storage.get::<TokenEntry>(Tree::Tokens, &hash)? else {
                        continue;
                    };
                    self.tally_token(&entry, &mut tally, &mut methods);
                    match entry.expires_at() {
                        Some(at) => {
                            tally.leases += 1;
                            bucket(&mut tally, i128::from(at));
                        }
                        None => bucket(&mut tally, GO_ZERO_TIME_NS),
                    }
                }
                None => {}
            }
        }
        self.publish_usage(tally);
        Ok(())
    }

    /// Run [`Core::refresh_kv_gauges`] on its own task, unless a previous walk is still going.
    pub fn spawn_kv_gauges(self: std::sync::Arc<Self>) {
        if KV_WALK_RUNNING.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag however the walk ends (a backend's panic included).
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                KV_WALK_RUNNING.store(false, Ordering::Release);
            }
        }
        actix_web::rt::spawn(async move {
            let _done = Done;
            if let Err(e) = self.refresh_kv_gauges().await {
                // A seal (or the shutdown) while it walked is no failure: the next unseal counts again.
                super::scheduler::background_failure("counting the K/V secrets", &e);
            }
        });
    }

    /// `vault.secret.kv.count`: every K/V mount listed through its backend (as the core: no token, no ACL), folder
    /// by folder, its leaves counted. A mount that cannot be listed (empty, or gone meanwhile) counts what was found.
    pub async fn refresh_kv_gauges(&self) -> Result<(), CoreError> {
        let disabled = ["BAO_DISABLE_KV_GAUGE", "VAULT_DISABLE_KV_GAUGE"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|x| !x.is_empty()));
        if disabled {
            return Ok(());
        }
        self.unsealed()?;
        let caller = Caller {
            token_hash: vec![],
            entry: TokenEntry::anonymous(),
            acl: self.acl_for(&[])?,
            root_privs: false,
        };
        let tables = self.mount_tables();
        let mut counts = Vec::new();
        for entry in tables.secret.iter().filter(|e| e.kind == "kv" || e.kind == "generic") {
            let version = entry
                .options
                .as_ref()
                .and_then(|o| o.get("version"))
                .map(String::as_str)
                .unwrap_or("1");
            let first = if version == "1" {
                entry.path.clone()
            } else {
                format!("{}metadata/", entry.path)
            };
            let mut secrets = 0u64;
            let mut folders = VecDeque::from([first]);
            while let Some(folder) = folders.pop_front() {
                let Some((mount, relative)) = self.router.route(&folder) else {
                    break;
                };
                let req = Request {
                    id: uuid::Uuid::new_v4().to_string(),
                    operation: Operation::List,
                    path: folder.clone(),
                    data: Default::default(),
                    client_token: None,
                    wrap_ttl: None,
                    remote_addr: None,
                    remote_port: None,
                    secret: None,
                    headers: Default::default(),
                };
                let keys = match mount.handle(self, &caller, relative, &req).await {
                    Ok(resp) => resp.data.and_then(|mut d| d.remove("keys")),
                    Err(_) => None,
                };
                for key in keys.as_ref().and_then(Value::as_array).into_iter().flatten() {
                    match key.as_str() {
                        Some(k) if k.ends_with('/') => folders.push_back(format!("{folder}{k}")),
                        Some(_) => secrets += 1,
                        None => {}
                    }
                }
            }
            counts.push((entry.path.clone(), secrets));
        }
        let cluster = self.cluster_label();
        crate::telemetry::forget_gauges("vault.secret.kv.count");
        for (mount_point, n) in counts {
            metrics::gauge!("vault.secret.kv.count", "cluster" => cluster.clone(), "mount_point" => mount_point,
                "namespace" => "root")
            .set(n as f64);
        }
        Ok(())
    }

    fn tally_token(&self, entry: &TokenEntry, tally: &mut Tally, methods: &mut BTreeMap<String, String>) {
        tally.tokens += 1;
        for policy in &entry.policies {
            *tally.by_policy.entry(policy.clone()).or_insert(0) += 1;
        }
        // OpenBao: a TTL of zero is the overflow bucket.
        let bucket = if entry.ttl == 0 {
            "+Inf"
        } else {
            crate::telemetry::ttl_bucket(Duration::from_secs(entry.ttl))
        };
        *tally.by_ttl.entry(bucket).or_insert(0) += 1;
        let method = match methods.get(&entry.path) {
            Some(m) => m.clone(),
            None => {
                let m = self
                    .matching_mount(&entry.path)
                    .map(|(mount, _)| mount.kind)
                    .unwrap_or_else(|| "unknown".into());
                methods.insert(entry.path.clone(), m.clone());
                m
            }
        };
        *tally.by_auth.entry(method).or_insert(0) += 1;
    }

    fn publish_usage(&self, tally: Tally) {
        let ns_labels = self.settings.telemetry.add_lease_metrics_namespace_labels;
        let cluster = self.cluster_label();
        metrics::gauge!("vault.expire.num_leases").set(tally.leases as f64);
        metrics::gauge!("vault.expire.num_irrevocable_leases").set(tally.irrevocable as f64);
        for name in [
            "vault.expire.leases.by_expiration",
            "vault.token.count",
            "vault.token.count.by_policy",
            "vault.token.count.by_auth",
            "vault.token.count.by_ttl",
        ] {
            crate::telemetry::forget_gauges(name);
        }
        for (expiring, n) in tally.by_expiration {
            if ns_labels {
                metrics::gauge!("vault.expire.leases.by_expiration", "cluster" => cluster.clone(),
                    "expiring" => expiring, "namespace" => "root")
                .set(n as f64);
            } else {
                metrics::gauge!("vault.expire.leases.by_expiration", "cluster" => cluster.clone(),
                    "expiring" => expiring)
                .set(n as f64);
            }
        }
        metrics::gauge!("vault.token.count", "cluster" => cluster.clone(), "namespace" => "root")
            .set(tally.tokens as f64);
        for (policy, n) in tally.by_policy {
            metrics::gauge!("vault.token.count.by_policy", "cluster" => cluster.clone(), "namespace" => "root",
                "policy" => policy)
            .set(n as f64);
        }
        for (method, n) in tally.by_auth {
            metrics::gauge!("vault.token.count.by_auth", "auth_method" => method, "cluster" => cluster.clone(),
                "namespace" => "root")
            .set(n as f64);
        }
        for (bucket, n) in tally.by_ttl {
            metrics::gauge!("vault.token.count.by_ttl", "cluster" => cluster.clone(), "creation_ttl" => bucket,
                "namespace" => "root")
            .set(n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_labels_are_gos_rounded_times() {
        let hour = Duration::from_secs(3600);
        // 2026-12-04 21:29:59 rounds down, 21:30:00 (halfway) up.
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-04T21:29:59Z")
            .unwrap()
            .timestamp();
        let ns = i128::from(t) * 1_000_000_000;
        assert_eq!(expiry_bucket_label(ns, hour), "2026-12-04 21:00:00 +0000 UTC");
        assert_eq!(
            expiry_bucket_label(ns + 1_000_000_000, hour),
            "2026-12-04 22:00:00 +0000 UTC"
        );
        // Go's zero time stays itself.
        assert_eq!(
            expiry_bucket_label(GO_ZERO_TIME_NS, hour),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        // A fraction is printed as Go does, without trailing zeros.
        assert_eq!(
            expiry_bucket_label(ns + 500_000_000, Duration::from_millis(100)),
            "2026-12-04 21:29:59.5 +0000 UTC"
        );
    }
}
