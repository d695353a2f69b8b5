//! The one scheduler of background work: every mounted backend that declares a periodic function gets it run at
//! its interval while the server is unsealed (OpenBao's rollback manager), one mount at a time, so no backend
//! writes its own loop. A failure is logged and retried at the next interval. It also finishes the deletion of the
//! records of mounts disabled before a crash, and runs the expiration manager's worker (`core::expiration`) on a
//! thread of its own for as long as it runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Core, CoreError};

/// How often the scheduler looks for due work: the finest interval a backend can ask for.
pub const TICK: Duration = Duration::from_secs(1);
/// How often the barrier key's use is checked against the rotation settings (and its count persisted).
const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Report a failure of background work: a seal (or the shutdown) that came while it ran is no failure.
pub(super) fn background_failure(what: &str, e: &CoreError) {
    match e {
        CoreError::Sealed | CoreError::Storage(crate::storage::StorageError::Sealed) => {
            log::debug!("{what} stopped: sealed meanwhile")
        }
        e => log::warn!("{what} failed: {e}"),
    }
}

impl Core {
    /// Run due periodic functions, forever (spawned once by the server).
    pub async fn run_scheduler(self: Arc<Self>) {
        // Expiry has its own thread, so a mass expiry never waits on (nor holds up) the periodic work here; it
        // stops with the scheduler.
        let _expiry = self.start_expiry_worker();
        let mut last_run: HashMap<String, Instant> = HashMap::new();
        let mut ticker = actix_web::rt::time::interval(TICK);
        let mut last_key_check = Instant::now();
        let mut last_counters = Instant::now();
        let mut last_usage: Option<Instant> = None;
        loop {
            ticker.tick().await;
            // A standby leaves the background work to the active server.
            if self.is_sealed() || !self.is_active() {
                continue;
            }
            if let Err(e) = self.finish_pending_deletes().await {
                background_failure("finishing the deletion of disabled mounts", &e);
            }
            self.run_due(&mut last_run).await;
            if last_key_check.elapsed() >= KEY_CHECK_INTERVAL {
                last_key_check = Instant::now();
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
                if let Err(e) = self.check_keyring_rotation(now).await {
                    background_failure("barrier key rotation check", &e);
                }
            }
            if last_counters.elapsed() >= super::telemetry::PERSIST_INTERVAL {
                last_counters = Instant::now();
                if let Err(e) = self.persist_durable_counters().await {
                    background_failure("storing the metrics counters", &e);
                }
            }
            if let Some(period) = self.settings.telemetry.usage_gauge_period {
                if last_usage.is_none_or(|t| t.elapsed() >= period) {
                    last_usage = Some(Instant::now());
                    if let Err(e) = self.refresh_usage_gauges() {
                        background_failure("refreshing the usage gauges", &e);
                    }
                    // Listing large K/V mounts takes a while: on its own task, so the periodic work here goes on.
                    Arc::clone(&self).spawn_kv_gauges();
                }
            }
        }
    }

    /// Run the periodic function of every mount whose interval has passed since its last run.
    async fn run_due(&self, last_run: &mut HashMap<String, Instant>) {
        let now = Instant::now();
        for mount in self.router.mounts().iter() {
            let Some(interval) = mount.periodic_interval() else {
                continue;
            };
            if last_run
                .get(&mount.path)
                .is_some_and(|t| now.duration_since(*t) < interval)
            {
                continue;
            }
            last_run.insert(mount.path.clone(), now);
            if let Err(e) = mount.run_periodic(self).await {
                background_failure(&format!("periodic work of {}", mount.path), &e);
            }
        }
    }
}
