//! High availability on PostgreSQL (`ha_enabled`): of the servers sharing a table, the one holding the lock row
//! (see `storage::postgres`) is active and runs the background work (expiry, tidy, key rotation, backends'
//! periodic functions); the others are standbys. Standbys answer reads themselves from the shared table (their
//! caches follow the others' changes, see `invalidation`) and redirect writes to the active server's `api_addr`
//! with 307, as OpenBao does when it cannot forward. A lock row with a lifetime (not an advisory lock) because it
//! outlives a connection blip, names the holder's address for `sys/leader`, and is the schema OpenBao uses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Core, CoreError};
use crate::storage::postgres::{HaLeader, HaNode};

/// How long a server that stepped down leaves the lock to the others.
const STEP_DOWN_HOLD_OFF: Duration = Duration::from_secs(10);

/// This server's part in HA.
pub struct Ha {
    pub identity: String,
    pub api_address: String,
    pub cluster_address: String,
    lock_ttl: Duration,
    retry_interval: Duration,
    active: AtomicBool,
    active_since: RwLock<Option<DateTime<Utc>>>,
    /// Set by a step-down: no attempt to take the lock before then.
    hold_off_until: Mutex<Option<Instant>>,
    /// The last renewal PostgreSQL confirmed: past `lock_ttl` without one, the lock may be someone else's.
    last_renewal: Mutex<Option<Instant>>,
}

/// What `sys/leader` reports.
pub struct LeaderStatus {
    pub is_self: bool,
    pub active_time: Option<DateTime<Utc>>,
    pub leader_address: String,
    pub leader_cluster_address: String,
}

impl Ha {
    pub fn new(api_address: String, cluster_address: String, lock_ttl: Duration, retry_interval: Duration) -> Self {
        Ha {
            identity: uuid::Uuid::new_v4().to_string(),
            api_address,
            cluster_address,
            lock_ttl,
            retry_interval,
            active: AtomicBool::new(false),
            active_since: RwLock::new(None),
            hold_off_until: Mutex::new(None),
            last_renewal: Mutex::new(None),
        }
    }

    fn set_active(&self, active: bool) {
        let was = self.active.swap(active, Ordering::SeqCst);
        if was == active {
            return;
        }
        if let Ok(mut since) = self.active_since.write() {
            *since = active.then(Utc::now);
        }
        if active {
            log::info!("core: acquired the HA lock: this server is active");
        } else {
            log::warn!("core: this server is a standby now");
        }
    }
}

impl Core {
    /// Whether this server runs background work and takes writes: always without HA.
    pub fn is_active(&self) -> bool {
        self.ha.as_ref().is_none_or(|ha| ha.active.load(Ordering::SeqCst))
    }

    /// A standby: HA is on and another server (or none yet) holds the lock.
    pub fn is_standby(&self) -> bool {
        !self.is_active()
    }

    pub fn ha(&self) -> Option<&Ha> {
        self.ha.as_ref()
    }

    /// `sys/leader` for an HA server: who holds the lock. `None` without HA.
    pub fn leader_status(&self) -> Result<Option<LeaderStatus>, CoreError> {
        let Some(ha) = &self.ha else { return Ok(None) };
        let Some(pg) = self.storage.postgres() else {
            return Ok(None);
        };
        if ha.active.load(Ordering::SeqCst) {
            return Ok(Some(LeaderStatus {
                is_self: true,
                active_time: ha.active_since.read().ok().and_then(|t| *t),
                leader_address: ha.api_address.clone(),
                leader_cluster_address: ha.cluster_address.clone(),
            }));
        }
        let leader = pg.ha_leader()?;
        Ok(Some(LeaderStatus {
            is_self: false,
            active_time: None,
            leader_address: leader.as_ref().map(|l| l.api_address.clone()).unwrap_or_default(),
            leader_cluster_address: leader.map(|l| l.cluster_address).unwrap_or_default(),
        }))
    }

    /// The active server's API address, for a standby's redirect.
    pub fn active_address(&self) -> Result<Option<String>, CoreError> {
        Ok(self
            .leader_status()?
            .map(|s| s.leader_address)
            .filter(|a| !a.is_empty()))
    }

    /// `sys/ha-status`: the servers registered, the active one marked.
    pub fn ha_nodes(&self) -> Result<Vec<(HaNode, bool)>, CoreError> {
        let (Some(_), Some(pg)) = (&self.ha, self.storage.postgres()) else {
            return Err(CoreError::InvalidRequest("HA is not enabled".into()));
        };
        let leader = pg.ha_leader()?.map(|l| l.identity);
        Ok(pg
            .ha_nodes()?
            .into_iter()
            .map(|n| {
                let active = leader.as_deref() == Some(n.identity.as_str());
                (n, active)
            })
            .collect())
    }

    /// `sys/step-down`: give the lock up and leave it to the others for a while.
    pub fn step_down(&self) -> Result<(), CoreError> {
        let (Some(ha), Some(pg)) = (&self.ha, self.storage.postgres()) else {
            // Without HA there is nobody to hand over to: OpenBao answers 204 and stays active.
            return Ok(());
        };
        if let Ok(mut hold) = ha.hold_off_until.lock() {
            *hold = Some(Instant::now() + STEP_DOWN_HOLD_OFF);
        }
        ha.set_active(false);
        pg.ha_release(&ha.identity)?;
        log::info!("core: stepped down; the lock is left to the other servers");
        Ok(())
    }

    /// The HA loop, on a thread of its own (storage calls block): register, then take or renew the lock every
    /// retry interval while unsealed; release it when sealed. Ends with the server.
    pub fn run_ha(self: Arc<Self>, stop: Arc<AtomicBool>) {
        let (Some(ha), Some(pg)) = (&self.ha, self.storage.postgres()) else {
            return;
        };
        let hostname = rustix::system::uname().nodename().to_string_lossy().into_owned();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(ha.retry_interval);
            if self.is_sealed() {
                if ha.active.load(Ordering::SeqCst) {
                    ha.set_active(false);
                    let _ = pg.ha_release(&ha.identity);
                }
                continue;
            }
            let node = HaNode {
                identity: ha.identity.clone(),
                hostname: hostname.clone(),
                api_address: ha.api_address.clone(),
                cluster_address: ha.cluster_address.clone(),
                version: super::VERSION.to_string(),
                last_echo: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            };
            if let Err(e) = pg.ha_register(&node, ha.lock_ttl * 3) {
                log::debug!("core: HA registration failed: {e}");
            }
            let held_off = ha
                .hold_off_until
                .lock()
                .ok()
                .and_then(|h| *h)
                .is_some_and(|until| Instant::now() < until);
            if held_off {
                continue;
            }
            let leader = HaLeader {
                identity: ha.identity.clone(),
                api_address: ha.api_address.clone(),
                cluster_address: ha.cluster_address.clone(),
                active_since: Utc::now().to_rfc3339(),
            };
            match pg.ha_try_lock(&leader, ha.lock_ttl) {
                Ok(true) => {
                    if let Ok(mut last) = ha.last_renewal.lock() {
                        *last = Some(Instant::now());
                    }
                    ha.set_active(true);
                }
                Ok(false) => ha.set_active(false),
                Err(e) => {
                    // Unconfirmed renewals: stop acting as active before the lock can have expired.
                    let last = ha.last_renewal.lock().ok().and_then(|l| *l);
                    let margin = ha.retry_interval * 2;
                    if ha.active.load(Ordering::SeqCst) && last.is_none_or(|t| t.elapsed() + margin >= ha.lock_ttl) {
                        log::warn!("core: the HA lock could not be renewed ({e})");
                        ha.set_active(false);
                    }
                }
            }
        }
        if ha.active.load(Ordering::SeqCst) {
            let _ = pg.ha_release(&ha.identity);
        }
    }
}
