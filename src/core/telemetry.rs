//! The core's side of telemetry (the recorder is `crate::telemetry`): `sys/metrics` in OpenBao's JSON shape or
//! Prometheus' text format, the gauges a scrape refreshes (seal state, uptime), the usage gauges refreshed every
//! `usage_gauge_period` (mount table sizes, lease count), and our **durable counters**.
//!
//! Durable counters (wrapping-token reuse, group-commit flushes, write batches and the transactions in them, tokens
//! revoked by the expiry sweep) count since the data directory was created, not since the process started: their
//! totals are kept behind the barrier (`Core` tree, `telemetry_counters`), loaded at unseal, and what was counted
//! since is added to them every [`PERSIST_INTERVAL`] by the scheduler and at a graceful shutdown. A kill -9 loses at
//! most the last interval's counts (they are statistics, not acknowledged writes).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{Core, CoreError, Response};
use crate::storage::Tree;

const COUNTERS_KEY: &[u8] = b"telemetry_counters";

/// How often the scheduler persists the durable counters (only when they changed).
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(10);

/// OpenBao's answer to `?format=prometheus` without a `telemetry` block.
pub const PROMETHEUS_NOT_ENABLED: &str = "prometheus is not enabled";

/// The durable counters, by name: where each one's in-process count comes from.
const DURABLE: &[&str] = &[
    "vault.wrapping.token_reuse",
    "vault.storage.flushes",
    "vault.storage.write_batches",
    "vault.storage.batched_transactions",
    "vault.expire.revoked_tokens",
];

/// The durable counters' state: the stored totals as last read or written, and each in-process count when they
/// were (what was counted since is added at the next persist).
#[derive(Default)]
pub struct DurableCounters {
    state: Mutex<DurableState>,
}

#[derive(Default)]
struct DurableState {
    /// The stored totals (every server's counts when several share a PostgreSQL table).
    stored: BTreeMap<String, u64>,
    /// The in-process count already in `stored`, per counter; empty until the first unseal.
    marks: BTreeMap<&'static str, u64>,
    /// The cluster name last seen unsealed: its seal gauges go to 0 while sealed (not left at 1).
    last_cluster: Option<String>,
}

impl DurableState {
    fn pending(&self, name: &str, raw: u64) -> u64 {
        raw.saturating_sub(self.marks.get(name).copied().unwrap_or(raw))
    }
}

/// A persist's own write: one transaction in one batch, made durable by a flush; not counted.
fn own_effect(name: &str) -> u64 {
    match name {
        "vault.storage.flushes" | "vault.storage.write_batches" | "vault.storage.batched_transactions" => 1,
        _ => 0,
    }
}

impl Core {
    fn raw_count(&self, name: &str) -> u64 {
        match name {
            "vault.wrapping.token_reuse" => self.wrapping_reuse_count(),
            "vault.storage.flushes" => self.storage.flush_count(),
            "vault.storage.write_batches" => self.storage.batch_count(),
            "vault.storage.batched_transactions" => self.storage.transaction_count(),
            "vault.expire.revoked_tokens" => self.expired_token_count(),
            _ => 0,
        }
    }

    /// Each durable counter's total since the data directory was created.
    pub fn durable_counters(&self) -> Vec<(&'static str, u64)> {
        let state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
        DURABLE
            .iter()
            .map(|name| {
                let stored = state.stored.get(*name).copied().unwrap_or(0);
                (*name, stored.saturating_add(state.pending(name, self.raw_count(name))))
            })
            .collect()
    }

    /// At unseal (and after a snapshot restore): read the stored totals. Counts not persisted yet stay pending (a
    /// seal does not wait for the next persist), so nothing counted in this process is lost.
    pub(super) fn load_durable_counters(&self) -> Result<(), CoreError> {
        let stored: BTreeMap<String, u64> = self.storage.get(Tree::Core, COUNTERS_KEY)?.unwrap_or_default();
        let mut state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.marks.is_empty() {
            for name in DURABLE {
                state.marks.insert(name, self.raw_count(name));
            }
        }
        state.stored = stored;
        Ok(())
    }

    /// Add what was counted since the last persist to the stored totals, in one transaction (so servers sharing a
    /// PostgreSQL table add up rather than overwrite each other). Nothing is written when nothing was counted: the
    /// persist's own write is not counted, so an idle server stays idle.
    pub async fn persist_durable_counters(&self) -> Result<(), CoreError> {
        self.unsealed()?;
        let before: BTreeMap<&'static str, u64> = DURABLE.iter().map(|n| (*n, self.raw_count(n))).collect();
        let pending: BTreeMap<String, u64> = {
            let state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.marks.is_empty() {
                return Ok(());
            }
            before
                .iter()
                .map(|(name, raw)| (name.to_string(), state.pending(name, *raw)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let stored = self
            .storage
            .write::<_, CoreError>(move |tx| {
                let mut record: BTreeMap<String, u64> = tx.get(Tree::Core, COUNTERS_KEY)?.unwrap_or_default();
                for (name, n) in &pending {
                    let total = record.entry(name.clone()).or_insert(0);
                    *total = total.saturating_add(*n);
                }
                tx.put(Tree::Core, COUNTERS_KEY, &record)?;
                Ok(record)
            })
            .await??;
        let mut state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
        for (name, raw_before) in before {
            let grew = self.raw_count(name).saturating_sub(raw_before);
            state.marks.insert(name, raw_before + grew.min(own_effect(name)));
        }
        state.stored = stored;
        Ok(())
    }

    /// The gauges a scrape shows as they are now, and the durable counters' totals.
    fn refresh_scrape_metrics(&self) {
        let cluster = self.unsealed().map(|u| u.cluster.name.clone()).ok();
        let unsealed = if cluster.is_some() { 1.0 } else { 0.0 };
        let last = {
            let mut state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
            if cluster.is_some() {
                state.last_cluster = cluster.clone();
            }
            state.last_cluster.clone()
        };
        // Sealed, OpenBao reports the seal under an empty cluster name.
        let label = cluster.unwrap_or_default();
        metrics::gauge!("vault.core.unsealed", "cluster" => label.clone()).set(unsealed);
        metrics::gauge!("vault.core.active", "cluster" => label.clone()).set(unsealed);
        if let Some(last) = last.filter(|l| *l != label) {
            metrics::gauge!("vault.core.unsealed", "cluster" => last.clone()).set(0.0);
            metrics::gauge!("vault.core.active", "cluster" => last).set(0.0);
        }
        metrics::gauge!("vault.core.uptime_seconds").set(crate::telemetry::global().uptime().as_secs_f64().floor());
        metrics::gauge!("vault.core.in_flight_requests", "cluster" => label).set(self.in_flight.count() as f64);
        if !self.is_sealed() {
            for (name, total) in self.durable_counters() {
                metrics::counter!(name).absolute(total);
            }
            // OpenBao counts each barrier encryption under the key term; the keyring keeps that count (persisted
            // across restarts for automatic rotation), so it is shown as the term's total.
            if let Ok(keyring) = self.storage.keyring() {
                metrics::counter!("vault.barrier.estimated_encryptions", "term" => keyring.active_term().to_string())
                    .absolute(keyring.encryptions());
            }
        }
    }

    /// The `cluster` label OpenBao's cluster metric sink adds (empty while sealed).
    pub(crate) fn cluster_label(&self) -> String {
        self.unsealed().map(|u| u.cluster.name.clone()).unwrap_or_default()
    }

    /// OpenBao's `vault.expire.lease_expiration`: leases (token or secret) ended because their time came.
    pub(crate) fn count_lease_expirations(&self, n: u64) {
        if n > 0 {
            metrics::counter!("vault.expire.lease_expiration", "cluster" => self.cluster_label(), "namespace" => "root")
                .increment(n);
        }
    }

    /// The usage gauges (OpenBao refreshes them every `usage_gauge_period`): mount table sizes and the lease count.
    pub fn refresh_usage_gauges(&self) -> Result<(), CoreError> {
        let cluster = self.unsealed()?.cluster.name.clone();
        let tables = self.mount_tables();
        for (kind, entries) in [("logical", &tables.secret), ("auth", &tables.auth)] {
            let local = entries.iter().filter(|e| e.local).count();
            for (is_local, n) in [("false", entries.len() - local), ("true", local)] {
                metrics::gauge!("vault.core.mount_table.num_entries", "cluster" => cluster.clone(),
                    "local" => is_local, "type" => kind)
                .set(n as f64);
            }
        }
        for (kind, entries) in [("logical", &tables.secret), ("auth", &tables.auth)] {
            // OpenBao's size of the stored table (JSON) per kind and locality.
            for local in [false, true] {
                let subset: Vec<&super::mounts::MountEntry> = entries.iter().filter(|e| e.local == local).collect();
                let size = if subset.is_empty() {
                    0
                } else {
                    serde_json::to_vec(&subset).map(|v| v.len()).unwrap_or(0)
                };
                metrics::gauge!("vault.core.mount_table.size", "cluster" => cluster.clone(),
                    "local" => local.to_string(), "type" => kind)
                .set(size as f64);
            }
        }
        self.refresh_lease_and_token_gauges()?;
        // OpenBao's count of the aliases locked out now (every auth mount).
        let locked: usize = self.locked_users(None)?.values().map(Vec::len).sum();
        metrics::gauge!("vault.core.locked_users").set(locked as f64);
        Ok(())
    }

    /// `sys/metrics`: `format` is `prometheus` or empty (JSON); anything else is refused as OpenBao does (400,
    /// plain text).
    pub fn metrics_response(&self, format: &str) -> Response {
        self.refresh_scrape_metrics();
        let telemetry = crate::telemetry::global();
        let prometheus = (format == "prometheus" && self.settings.telemetry.prometheus_retention.is_some())
            .then(|| telemetry.render_prometheus())
            .flatten();
        let (status, content_type, body) = match (format, prometheus) {
            ("prometheus", None) => (400, "text/plain", PROMETHEUS_NOT_ENABLED.as_bytes().to_vec()),
            ("prometheus", Some(text)) => (200, "text/plain; version=0.0.4; charset=utf-8", text.into_bytes()),
            ("", _) => (200, "application/json", telemetry.render_json()),
            (other, _) => (
                400,
                "text/plain",
                format!("metric response format {other:?} unknown").into_bytes(),
            ),
        };
        Response {
            status: Some(status),
            raw: Some((content_type.into(), body)),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::CoreSettings;
    use crate::storage::Storage;

    fn total(core: &Core, name: &str) -> u64 {
        core.durable_counters().into_iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[actix_web::test]
    async fn persisting_adds_what_was_counted_and_does_not_count_itself() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(&dir.path().join("data")).unwrap());
        let core = Core::new(storage, CoreSettings::default());
        core.dev_init(None).await.unwrap();
        let batches = total(&core, "vault.storage.write_batches");
        assert!(batches > 0, "dev init wrote");
        core.persist_durable_counters().await.unwrap();
        // Its own write is not counted: the totals are what they were, and a second persist writes nothing.
        assert_eq!(total(&core, "vault.storage.write_batches"), batches);
        let raw = core.storage.batch_count();
        core.persist_durable_counters().await.unwrap();
        assert_eq!(core.storage.batch_count(), raw, "nothing new counted: nothing written");
        // Another server sharing the table added its counts: they are kept, ours are added to them.
        let mut stored: BTreeMap<String, u64> = core.storage.get(Tree::Core, COUNTERS_KEY).unwrap().unwrap();
        *stored.get_mut("vault.storage.write_batches").unwrap() += 100;
        core.storage
            .write::<_, CoreError>(move |tx| tx.put(Tree::Core, COUNTERS_KEY, &stored))
            .await
            .unwrap()
            .unwrap();
        core.load_durable_counters().unwrap();
        // That write itself is pending (one batch): ours now.
        assert_eq!(total(&core, "vault.storage.write_batches"), batches + 100 + 1);
        core.persist_durable_counters().await.unwrap();
        let stored: BTreeMap<String, u64> = core.storage.get(Tree::Core, COUNTERS_KEY).unwrap().unwrap();
        assert_eq!(stored["vault.storage.write_batches"], batches + 100 + 1);
    }
}
