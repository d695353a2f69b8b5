//! Rate limit quotas (`sys/quotas/rate-limit/:name`, `sys/quotas/config`), as OpenBao applies them: each quota
//! limits every client address on its own to `rate` requests per `interval` (a fixed window that starts with the
//! client's first request, as OpenBao's `go-limiter` memory store), optionally blocking a client that went over for
//! `block_interval`. A request is limited by the most specific quota matching it: its mount and exact path suffix,
//! then its mount and a path-suffix prefix ending in `*`, then its mount, then the global quota. Paths in
//! `rate_limit_exempt_paths` (OpenBao's defaults: `sys/health`, `sys/seal-status`, `sys/unseal`, ...) are never
//! limited.
//!
//! Definitions and settings are one record behind the barrier (`Core` tree, `quotas`), loaded at unseal; the
//! limiters' state lives in memory only (as in OpenBao, a restart or a change of the quota resets it).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Core, CoreError};
use crate::storage::{Tree, TxError};

pub(crate) const QUOTAS_KEY: &[u8] = b"quotas";

/// OpenBao's default `rate_limit_exempt_paths`.
pub const DEFAULT_EXEMPT_PATHS: &[&str] = &[
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
];

/// How long a client's limiter state is kept after its last request (OpenBao: 3 minutes).
const STALE_AGE: Duration = Duration::from_secs(180);
/// How often stale limiter state is dropped (OpenBao: every minute).
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuotaConfig {
    pub enable_rate_limit_audit_logging: bool,
    pub enable_rate_limit_response_headers: bool,
    pub rate_limit_exempt_paths: Vec<String>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enable_rate_limit_audit_logging: false,
            enable_rate_limit_response_headers: false,
            rate_limit_exempt_paths: DEFAULT_EXEMPT_PATHS.iter().map(|p| p.to_string()).collect(),
        }
    }
}

/// A rate limit quota's definition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateLimitQuota {
    pub name: String,
    /// The mount (`kv/`, `auth/approle/`), empty for a global quota.
    pub mount_path: String,
    /// Below the mount, without a trailing `/`; may end in `*` (a prefix).
    pub path_suffix: String,
    pub role: String,
    pub rate: f64,
    pub interval_secs: u64,
    pub block_interval_secs: u64,
    pub inheritable: bool,
}

impl RateLimitQuota {
    /// What `path` shows: the mount and the suffix.
    pub fn path(&self) -> String {
        format!("{}{}", self.mount_path, self.path_suffix)
    }

    fn same_factors(&self, other: &RateLimitQuota) -> bool {
        self.mount_path == other.mount_path && self.path_suffix == other.path_suffix && self.role == other.role
    }
}

/// The stored record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct QuotaRecord {
    config: Option<QuotaConfig>,
    rate_limits: BTreeMap<String, RateLimitQuota>,
}

/// One client's window.
struct Bucket {
    start: Instant,
    tick: u64,
    available: u64,
    last_seen: Instant,
}

/// A quota with its limiter.
struct Limiter {
    quota: RateLimitQuota,
    clients: Mutex<HashMap<Option<IpAddr>, Bucket>>,
    blocked: Mutex<HashMap<Option<IpAddr>, Instant>>,
}

/// A refused request's headers (`Retry-After`, and the `X-Ratelimit-*` ones when enabled).
pub type QuotaHeaders = Vec<(&'static str, String)>;

struct Verdict {
    allowed: bool,
    headers: QuotaHeaders,
}

impl Limiter {
    fn new(quota: RateLimitQuota) -> Self {
        Limiter {
            quota,
            clients: Mutex::new(HashMap::new()),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, client: Option<IpAddr>, now: Instant) -> Verdict {
        let block = Duration::from_secs(self.quota.block_interval_secs);
        if !block.is_zero() {
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(at) = blocked.get(&client).copied() {
                if now.duration_since(at) >= block {
                    blocked.remove(&client);
                } else {
                    let retry = (at + block).saturating_duration_since(Instant::now()).as_secs();
                    return Verdict {
                        allowed: false,
                        headers: vec![("Retry-After", retry.to_string())],
                    };
                }
            }
        }
        let interval = Duration::from_secs(self.quota.interval_secs.max(1));
        let limit = (self.quota.rate.round() as u64).max(1);
        let (allowed, remaining, reset) = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = clients.entry(client).or_insert(Bucket {
                start: now,
                tick: 0,
                available: limit,
                last_seen: now,
            });
            bucket.last_seen = now;
            let tick = (now.duration_since(bucket.start).as_nanos() / interval.as_nanos()) as u64;
            if tick > bucket.tick {
                bucket.tick = tick;
                bucket.available = limit;
            }
            let allowed = bucket.available > 0;
            if allowed {
                bucket.available -= 1;
            }
            let window_end = interval.as_nanos().saturating_mul(u128::from(tick) + 1);
            let next = bucket.start + Duration::from_nanos(u64::try_from(window_end).unwrap_or(u64::MAX));
            (
                allowed,
                bucket.available,
                next.saturating_duration_since(Instant::now()).as_secs(),
            )
        };
        let mut retry_after = reset;
        if !allowed && !block.is_zero() {
            let at = Instant::now();
            self.blocked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(client, at);
            retry_after = (at + block).saturating_duration_since(Instant::now()).as_secs();
        }
        let mut headers = vec![
            ("X-Ratelimit-Limit", limit.to_string()),
            ("X-Ratelimit-Remaining", remaining.to_string()),
            ("X-Ratelimit-Reset", reset.to_string()),
        ];
        if !allowed {
            headers.insert(0, ("Retry-After", retry_after.to_string()));
        }
        Verdict { allowed, headers }
    }

    fn purge(&self, now: Instant) {
        let block = Duration::from_secs(self.quota.block_interval_secs);
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, b| now.duration_since(b.last_seen) < STALE_AGE);
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, at| now.duration_since(*at) < block);
    }
}

#[derive(Default)]
struct Active {
    config: QuotaConfig,
    limiters: BTreeMap<String, Arc<Limiter>>,
}

impl Active {
    fn exempt(&self, path: &str) -> bool {
        self.config.rate_limit_exempt_paths.iter().any(|p| {
            let p = p.trim_start_matches('/');
            match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == p,
            }
        })
    }

    /// Whether a role-based quota is set on `mount` (then its logins' roles are resolved).
    fn has_role_quota(&self, mount: &str) -> bool {
        self.limiters
            .values()
            .any(|l| !l.quota.role.is_empty() && l.quota.mount_path == mount)
    }

    /// The most specific quota for a request to `path` routed to `mount`, a login for `role` (OpenBao's
    /// `queryQuota`): the mount's quota for that role, then by path suffix, prefix, mount, and the global one.
    fn query(&self, path: &str, mount: &str, role: &str) -> Option<&Arc<Limiter>> {
        if !role.is_empty() {
            if let Some(l) = self
                .limiters
                .values()
                .find(|l| l.quota.mount_path == mount && l.quota.role == role)
            {
                return Some(l);
            }
        }
        let find = |suffix: &str, mount: &str| {
            self.limiters
                .values()
                .find(|l| l.quota.role.is_empty() && l.quota.mount_path == mount && l.quota.path_suffix == suffix)
        };
        if !mount.is_empty() {
            let suffix = path.strip_prefix(mount).unwrap_or("").trim_end_matches('/');
            if !suffix.is_empty() {
                if let Some(l) = find(suffix, mount) {
                    return Some(l);
                }
            }
            for end in (0..=suffix.len()).rev() {
                if !suffix.is_char_boundary(end) {
                    continue;
                }
                if let Some(l) = find(&format!("{}*", &suffix[..end]), mount) {
                    return Some(l);
                }
            }
            if let Some(l) = find("", mount) {
                return Some(l);
            }
        }
        find("", "")
    }
}

/// The in-memory quotas (empty while sealed).
pub struct QuotaState {
    active: RwLock<Arc<Active>>,
    last_purge: Mutex<Instant>,
}

impl Default for QuotaState {
    fn default() -> Self {
        QuotaState {
            active: RwLock::new(Arc::new(Active::default())),
            last_purge: Mutex::new(Instant::now()),
        }
    }
}

pub use crate::logical::RateLimited;

/// The outcome of the quota check for an admitted request: the headers to add to its answer (empty unless
/// `enable_rate_limit_response_headers`).
pub struct Admitted {
    pub headers: Vec<(String, String)>,
}

fn owned(headers: QuotaHeaders) -> Vec<(String, String)> {
    headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Core {
    fn active_quotas(&self) -> Arc<Active> {
        self.quotas.active.read().map(|a| a.clone()).unwrap_or_default()
    }

    fn set_active_quotas(&self, record: &QuotaRecord) {
        let previous = self.active_quotas();
        let limiters = record
            .rate_limits
            .iter()
            .map(|(name, quota)| {
                // An unchanged quota keeps its limiter state.
                let limiter = match previous.limiters.get(name) {
                    Some(l) if l.quota == *quota => l.clone(),
                    _ => Arc::new(Limiter::new(quota.clone())),
                };
                (name.clone(), limiter)
            })
            .collect();
        let active = Active {
            config: record.config.clone().unwrap_or_default(),
            limiters,
        };
        if let Ok(mut slot) = self.quotas.active.write() {
            *slot = Arc::new(active);
        }
    }

    fn quota_record(&self) -> Result<QuotaRecord, CoreError> {
        Ok(self.storage.get(Tree::Core, QUOTAS_KEY)?.unwrap_or_default())
    }

    pub(super) fn load_quotas(&self) -> Result<(), CoreError> {
        let record = self.quota_record()?;
        self.set_active_quotas(&record);
        Ok(())
    }

    pub(super) fn unload_quotas(&self) {
        if let Ok(mut slot) = self.quotas.active.write() {
            *slot = Arc::new(Active::default());
        }
    }

    /// The rate limit quotas' verdict on a request to `path` (normalized) from `client`, for the endpoints served
    /// outside the pipeline (none of them a login: role-based quotas do not apply).
    pub fn apply_quotas(&self, path: &str, client: Option<IpAddr>) -> Result<Admitted, RateLimited> {
        let active = self.active_quotas();
        if active.limiters.is_empty() || active.exempt(path) {
            return Ok(Admitted { headers: vec![] });
        }
        let mount = self.router.route(path).map(|(m, _)| m.path.clone()).unwrap_or_default();
        self.admit(&active, path, &mount, "", client)
    }

    /// Pipeline step 1: [`Core::apply_quotas`] for a request, with the role a login is for when the mount has
    /// role-based quotas.
    pub async fn apply_request_quotas(&self, req: &super::Request) -> Result<Admitted, RateLimited> {
        let active = self.active_quotas();
        if active.limiters.is_empty() || active.exempt(&req.path) {
            return Ok(Admitted { headers: vec![] });
        }
        let routed = self.router.route(&req.path);
        let mount = routed.as_ref().map(|(m, _)| m.path.clone()).unwrap_or_default();
        let mut role = String::new();
        if let Some((m, relative)) = &routed {
            if active.has_role_quota(&m.path) && m.is_unauthenticated(relative) {
                // A role that cannot be resolved (unknown role ID, a storage error) is no role: the login itself
                // fails or is limited by the other quotas.
                role = m
                    .resolve_role(self, relative, req)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
            }
        }
        self.admit(&active, &req.path, &mount, &role, req.remote_addr)
    }

    fn admit(
        &self,
        active: &Active,
        path: &str,
        mount: &str,
        role: &str,
        client: Option<IpAddr>,
    ) -> Result<Admitted, RateLimited> {
        let Some(limiter) = active.query(path, mount, role) else {
            return Ok(Admitted { headers: vec![] });
        };
        let now = Instant::now();
        self.purge_limiters(active, now);
        let verdict = limiter.allow(client, now);
        let headers = if active.config.enable_rate_limit_response_headers {
            owned(verdict.headers)
        } else {
            vec![]
        };
        if verdict.allowed {
            return Ok(Admitted { headers });
        }
        metrics::counter!("vault.quota.rate_limit.violation", "name" => limiter.quota.name.clone()).increment(1);
        log::trace!("request rejected due to rate limit quota violation: {path}");
        Err(RateLimited {
            path: path.to_string(),
            headers,
        })
    }

    /// Whether refused requests are audited.
    pub fn rate_limit_audit_logging(&self) -> bool {
        self.active_quotas().config.enable_rate_limit_audit_logging
    }

    fn purge_limiters(&self, active: &Active, now: Instant) {
        let due = {
            let mut last = self.quotas.last_purge.lock().unwrap_or_else(|e| e.into_inner());
            let due = now.duration_since(*last) >= PURGE_INTERVAL;
            if due {
                *last = now;
            }
            due
        };
        if due {
            for limiter in active.limiters.values() {
                limiter.purge(now);
            }
        }
    }

    pub fn quota_config(&self) -> QuotaConfig {
        self.active_quotas().config.clone()
    }

    pub async fn set_quota_config(&self, config: QuotaConfig) -> Result<(), CoreError> {
        self.update_quotas(move |record| {
            record.config = Some(config.clone());
            Ok(())
        })
        .await
    }

    pub fn rate_limit_quota(&self, name: &str) -> Option<RateLimitQuota> {
        self.active_quotas().limiters.get(name).map(|l| l.quota.clone())
    }

    pub fn rate_limit_quota_names(&self) -> Vec<String> {
        self.active_quotas().limiters.keys().cloned().collect()
    }

    /// Whether `mount` (a mount's path) takes role-based quotas.
    pub fn mount_resolves_roles(&self, mount: &str) -> bool {
        self.router
            .route(mount)
            .is_some_and(|(m, _)| m.path == mount && m.resolves_roles())
    }

    /// Where a quota's `path` points: the mount serving it and the suffix below it (OpenBao: "invalid mount path").
    pub fn quota_scope(&self, path: &str) -> Result<(String, String), CoreError> {
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            return Ok((String::new(), String::new()));
        }
        let sanitized = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let (mount, _) = self
            .router
            .route(&sanitized)
            .ok_or_else(|| CoreError::InvalidRequest(format!("invalid mount path {sanitized:?}")))?;
        let suffix = sanitized
            .strip_prefix(mount.path.as_str())
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        Ok((mount.path.clone(), suffix))
    }

    /// Create or replace a quota; refused when another quota has the same mount, suffix and role.
    pub async fn write_rate_limit_quota(&self, quota: RateLimitQuota) -> Result<(), CoreError> {
        self.update_quotas(move |record| {
            if let Some(other) = record
                .rate_limits
                .values()
                .find(|q| q.name != quota.name && q.same_factors(&quota))
            {
                return Err(CoreError::InvalidRequest(format!(
                    "quota rule with similar properties exists under the name {:?}",
                    other.name
                )));
            }
            record.rate_limits.insert(quota.name.clone(), quota.clone());
            Ok(())
        })
        .await
    }

    pub async fn delete_rate_limit_quota(&self, name: &str) -> Result<(), CoreError> {
        let name = name.to_string();
        self.update_quotas(move |record| {
            record.rate_limits.remove(&name);
            Ok(())
        })
        .await
    }

    /// Read, change and store the record in one transaction, then make it current.
    async fn update_quotas(
        &self,
        change: impl Fn(&mut QuotaRecord) -> Result<(), CoreError> + Send + 'static,
    ) -> Result<(), CoreError> {
        let record = self
            .storage
            .write(move |tx| {
                let mut record: QuotaRecord = tx.get(Tree::Core, QUOTAS_KEY)?.unwrap_or_default();
                change(&mut record).map_err(TxError::Abort)?;
                tx.put(Tree::Core, QUOTAS_KEY, &record)?;
                Ok::<_, TxError<CoreError>>(record)
            })
            .await??;
        self.set_active_quotas(&record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(mount: &str, suffix: &str, rate: f64, interval: u64, block: u64) -> RateLimitQuota {
        RateLimitQuota {
            name: format!("{mount}{suffix}"),
            mount_path: mount.into(),
            path_suffix: suffix.into(),
            role: String::new(),
            rate,
            interval_secs: interval,
            block_interval_secs: block,
            inheritable: false,
        }
    }

    #[test]
    fn a_window_allows_rate_requests_per_client() {
        let l = Limiter::new(quota("kv/", "", 2.0, 10, 0));
        let now = Instant::now();
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        assert!(l.allow(a, now).allowed);
        assert!(l.allow(a, now).allowed);
        let refused = l.allow(a, now);
        assert!(!refused.allowed);
        assert_eq!(refused.headers[0].0, "Retry-After");
        assert!(l.allow(b, now).allowed, "each client has its own window");
        assert!(
            l.allow(a, now + Duration::from_secs(10)).allowed,
            "the next window is full again"
        );
    }

    #[test]
    fn a_blocked_client_stays_blocked_for_the_block_interval() {
        let l = Limiter::new(quota("kv/", "", 1.0, 1, 60));
        let now = Instant::now();
        assert!(l.allow(None, now).allowed);
        assert!(!l.allow(None, now).allowed);
        let later = l.allow(None, now + Duration::from_secs(5));
        assert!(!later.allowed, "a new window does not lift the block");
        assert_eq!(later.headers.len(), 1);
    }

    #[test]
    fn the_most_specific_quota_wins() {
        let mut active = Active::default();
        for q in [
            quota("", "", 1.0, 1, 0),
            quota("kv/", "", 1.0, 1, 0),
            quota("kv/", "a/*", 1.0, 1, 0),
            quota("kv/", "a/b", 1.0, 1, 0),
        ] {
            active.limiters.insert(q.name.clone(), Arc::new(Limiter::new(q)));
        }
        let name = |path: &str, mount: &str| active.query(path, mount, "").map(|l| l.quota.name.clone());
        assert_eq!(name("kv/a/b", "kv/").as_deref(), Some("kv/a/b"));
        assert_eq!(name("kv/a/c", "kv/").as_deref(), Some("kv/a/*"));
        assert_eq!(name("kv/x", "kv/").as_deref(), Some("kv/"));
        assert_eq!(name("sys/mounts", "sys/").as_deref(), Some(""));
    }

    #[test]
    fn exempt_paths_match_exactly_or_by_prefix() {
        let mut active = Active::default();
        active.config.rate_limit_exempt_paths = vec!["sys/health".into(), "kv/*".into()];
        assert!(active.exempt("sys/health"));
        assert!(!active.exempt("sys/healthy"));
        assert!(active.exempt("kv/anything"));
        assert!(!active.exempt("secret/x"));
    }
}
