//! The core's side of telemetry (the recorder is `crate::telemetry`): `sys/metrics` in OpenBao's JSON shape or
//! Prometheus' text format, the gauges a scrape refreshes (seal state, uptime), the usage gauges refreshed every
//! `usage_gauge_period` (mount table sizes, lease count), and our **durable counters**.
//!
//! Durable counters (wrapping-token reuse, group-commit flushes, write batches and the transactions in them, tokens
//! revoked by the expiry sweep) count since the data directory was created, not since the process started: their
//! totals are kept behind the barrier (`Core` tree, `telemetry_counters`), loaded at unseal, and persisted every
//! [`PERSIST_INTERVAL`] by the scheduler and at a graceful shutdown. A kill -9 loses at most the last interval's
//! counts (they are statistics, not acknowledged writes).

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

/// Per durable counter: the stored total minus the in-process count when it was loaded, and the last total
/// persisted.
#[derive(Default)]
pub struct DurableCounters {
    state: Mutex<DurableState>,
}

#[derive(Default)]
struct DurableState {
    offsets: BTreeMap<&'static str, i128>,
    persisted: BTreeMap<String, u64>,
    /// The cluster name last seen unsealed: its seal gauges go to 0 while sealed (not left at 1).
    last_cluster: Option<String>,
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
                let offset = state.offsets.get(name).copied().unwrap_or(0);
                let total = (offset + self.raw_count(name) as i128).clamp(0, u64::MAX as i128) as u64;
                (*name, total)
            })
            .collect()
    }

    /// At unseal (and after a snapshot restore): take the stored totals as the base of the in-process counts. A
    /// process unsealed before keeps the totals it counted if they are ahead of what was last stored (sealing does
    /// not wait for the next persist).
    pub(super) fn load_durable_counters(&self) -> Result<(), CoreError> {
        let stored: BTreeMap<String, u64> = self.storage.get(Tree::Core, COUNTERS_KEY)?.unwrap_or_default();
        let counted: BTreeMap<&str, u64> = self.durable_counters().into_iter().collect();
        let mut state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
        let loaded_before = !state.offsets.is_empty();
        for name in DURABLE {
            let mut total = stored.get(*name).copied().unwrap_or(0);
            if loaded_before {
                total = total.max(counted.get(name).copied().unwrap_or(0));
            }
            state.offsets.insert(name, total as i128 - self.raw_count(name) as i128);
        }
        state.persisted = stored;
        Ok(())
    }

    /// Store the durable counters' totals if they changed since they were last stored.
    pub async fn persist_durable_counters(&self) -> Result<(), CoreError> {
        self.unsealed()?;
        let totals: BTreeMap<String, u64> = self
            .durable_counters()
            .into_iter()
            .map(|(name, total)| (name.to_string(), total))
            .collect();
        {
            let state = self.durable.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.persisted == totals {
                return Ok(());
            }
        }
        let record = totals.clone();
        self.storage
            .write::<_, CoreError>(move |tx| tx.put(Tree::Core, COUNTERS_KEY, &record))
            .await??;
        self.durable.state.lock().unwrap_or_else(|e| e.into_inner()).persisted = totals;
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
        if !self.is_sealed() {
            for (name, total) in self.durable_counters() {
                metrics::counter!(name).absolute(total);
            }
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
        let leases = self.storage.keys_with_prefix(Tree::Leases, b"")?.len();
        metrics::gauge!("vault.expire.num_leases").set(leases as f64);
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
            ("", _) => (
                200,
                "application/json",
                telemetry.render_json().to_string().into_bytes(),
            ),
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
