//! User lockout (OpenBao's, from Vault 1.13): after `lockout_threshold` failed logins for one alias (a userpass
//! user, an AppRole role ID) of one auth mount, each within `lockout_counter_reset` of the one before, further logins
//! for it are refused with 403 "permission denied" for `lockout_duration` after the last failure, without the backend
//! checking anything. A successful login clears the count; `sys/locked-users/:accessor/unlock/:alias` clears it too.
//!
//! Settings, strongest first (OpenBao's precedence): `BAO_DISABLE_USER_LOCKOUT` (disable only), the mount's tuned
//! `user_lockout_config` (its non-zero values), the configuration's `user_lockout "<method>"` block, its
//! `user_lockout "all"` block, the defaults (5 failures, 15 minutes, 15 minutes). Only userpass, AppRole and LDAP
//! take part.
//!
//! Unlike OpenBao, which keeps the counts in memory and stores only locked aliases, every count is a record of the
//! `core` tree (`lockout/<accessor>/<alias>`), written in one durable transaction with each failure: a restart
//! neither unlocks anyone nor forgets failures. Only failures of aliases that exist are counted (the backends signal
//! them with `Error::InvalidCredentials`), so the records are bounded by the users and roles there are.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Core, CoreError};
use crate::storage::{Tree, TxError, Txn};

/// The auth methods lockout applies to.
pub const SUPPORTED_METHODS: &[&str] = &["userpass", "approle", "ldap"];
pub const DEFAULT_THRESHOLD: u64 = 5;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_COUNTER_RESET: Duration = Duration::from_secs(15 * 60);
/// The environment variable that disables lockout everywhere (`VAULT_` spelling accepted too).
const DISABLE_ENV: [&str; 2] = ["BAO_DISABLE_USER_LOCKOUT", "VAULT_DISABLE_USER_LOCKOUT"];
const KEY_PREFIX: &str = "lockout/";
/// Records removed per transaction when a mount goes.
const FORGET_BATCH: usize = 256;

/// One `user_lockout "NAME" { ... }` block of the server configuration: what it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutBlock {
    pub threshold: Option<u64>,
    pub duration: Option<Duration>,
    pub counter_reset: Option<Duration>,
    pub disable: Option<bool>,
}

/// The configuration's `user_lockout` blocks by name (`all`, `userpass`, `approle`, `ldap`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLockoutSettings {
    pub blocks: BTreeMap<String, LockoutBlock>,
}

/// A mount's tuned `user_lockout_config` (as OpenBao's mount entry keeps it: 0 and false mean "not set here").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutTune {
    #[serde(default)]
    pub lockout_threshold: u64,
    /// Seconds.
    #[serde(default)]
    pub lockout_duration: u64,
    /// Seconds.
    #[serde(default)]
    pub lockout_counter_reset: u64,
    #[serde(default)]
    pub lockout_disable: bool,
}

impl LockoutTune {
    /// As `sys/mounts/auth/:path/tune` (and the mount's `config.user_lockout_config`) show it.
    pub fn render(&self, into: &mut Map<String, Value>) {
        into.insert(
            "user_lockout_counter_reset_duration".into(),
            json!(self.lockout_counter_reset),
        );
        into.insert("user_lockout_threshold".into(), json!(self.lockout_threshold));
        into.insert("user_lockout_duration".into(), json!(self.lockout_duration));
        into.insert("user_lockout_disable".into(), json!(self.lockout_disable));
    }
}

/// The effective lockout settings of one mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u64,
    pub duration: Duration,
    pub counter_reset: Duration,
    pub disabled: bool,
}

impl UserLockoutSettings {
    /// The settings of a mount of auth method `kind` tuned with `tune` (the environment variable aside).
    pub fn policy(&self, kind: &str, tune: Option<&LockoutTune>) -> LockoutPolicy {
        let mut policy = LockoutPolicy {
            threshold: DEFAULT_THRESHOLD,
            duration: DEFAULT_DURATION,
            counter_reset: DEFAULT_COUNTER_RESET,
            disabled: false,
        };
        // The method's own block overrides what `all` sets, value by value.
        for name in ["all", kind] {
            if let Some(block) = self.blocks.get(name) {
                policy.threshold = block.threshold.unwrap_or(policy.threshold);
                policy.duration = block.duration.unwrap_or(policy.duration);
                policy.counter_reset = block.counter_reset.unwrap_or(policy.counter_reset);
                policy.disabled = block.disable.unwrap_or(policy.disabled);
            }
        }
        policy.disabled |= !SUPPORTED_METHODS.contains(&kind);
        if let Some(tune) = tune {
            if tune.lockout_threshold != 0 {
                policy.threshold = tune.lockout_threshold;
            }
            if tune.lockout_duration != 0 {
                policy.duration = Duration::from_secs(tune.lockout_duration);
            }
            if tune.lockout_counter_reset != 0 {
                policy.counter_reset = Duration::from_secs(tune.lockout_counter_reset);
            }
            policy.disabled |= tune.lockout_disable;
        }
        policy
    }
}

/// `BAO_DISABLE_USER_LOCKOUT`: `Some(disabled)` when set.
fn env_disable() -> Result<Option<bool>, CoreError> {
    for name in DISABLE_ENV {
        if let Ok(text) = std::env::var(name) {
            if text.is_empty() {
                continue;
            }
            return crate::logical::audit::parse_go_bool(&text).map(Some).map_err(|_| {
                CoreError::Internal("Error parsing the environment variable BAO_DISABLE_USER_LOCKOUT".into())
            });
        }
    }
    Ok(None)
}

/// The failed logins of one alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedLogins {
    pub count: u64,
    /// Unix seconds of the last failure.
    pub last_failed: i64,
}

impl FailedLogins {
    pub fn locked(&self, policy: &LockoutPolicy, now: i64) -> bool {
        self.count >= policy.threshold && now.saturating_sub(self.last_failed) < policy.duration.as_secs() as i64
    }

    /// The count after one more failure at `now`: it starts again at 1 once `counter_reset` has passed since the last.
    pub fn after_failure(previous: Option<FailedLogins>, policy: &LockoutPolicy, now: i64) -> FailedLogins {
        let count = match previous {
            Some(p) if now <= p.last_failed.saturating_add(policy.counter_reset.as_secs() as i64) => p.count + 1,
            _ => 1,
        };
        FailedLogins {
            count,
            last_failed: now,
        }
    }
}

fn record_key(accessor: &str, alias: &str) -> Vec<u8> {
    format!("{KEY_PREFIX}{accessor}/{alias}").into_bytes()
}

/// A login subject to lockout: whose failures count where, and under which settings.
pub struct LockoutGuard {
    key: Vec<u8>,
    policy: LockoutPolicy,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Core {
    /// The lockout settings of the auth mount at `mount_path` (`auth/userpass/`) and its accessor; `None` when
    /// lockout does not apply to it.
    fn lockout_policy(&self, mount_path: &str) -> Result<Option<(String, LockoutPolicy)>, CoreError> {
        let Some((entry, super::mounts::Table::Auth)) = self.matching_mount(mount_path) else {
            return Ok(None);
        };
        if !SUPPORTED_METHODS.contains(&entry.kind.as_str()) {
            return Ok(None);
        }
        let mut policy = self
            .settings
            .user_lockout
            .policy(&entry.kind, entry.config.user_lockout_config.as_ref());
        // The environment variable, when set, decides alone.
        if let Some(disabled) = env_disable()? {
            policy.disabled = disabled;
        }
        Ok((!policy.disabled).then_some((entry.accessor, policy)))
    }

    /// Before a login runs: refuse it (403 "permission denied") when the alias it is for is locked out. Returns the
    /// guard to report the login's outcome to, when lockout applies.
    pub(super) async fn check_lockout(
        &self,
        mount: &super::router::Mount,
        relative: &str,
        req: &super::Request,
    ) -> Result<Option<LockoutGuard>, CoreError> {
        let Some((accessor, policy)) = self.lockout_policy(&mount.path)? else {
            return Ok(None);
        };
        let Some(alias) = mount.login_alias(self, relative, req).await? else {
            return Ok(None);
        };
        let key = record_key(&accessor, &alias);
        if let Some(record) = self.storage.get::<FailedLogins>(Tree::Core, &key)? {
            if record.locked(&policy, now_secs()) {
                return Err(CoreError::PermissionDenied);
            }
        }
        Ok(Some(LockoutGuard { key, policy }))
    }

    /// A login failed with wrong credentials: count it, durably.
    pub(super) async fn record_failed_login(&self, guard: &LockoutGuard) -> Result<(), CoreError> {
        let (key, policy, now) = (guard.key.clone(), guard.policy, now_secs());
        self.storage
            .write(move |tx: &Txn<CoreError>| {
                let previous = tx.get::<FailedLogins>(Tree::Core, &key)?;
                tx.put(Tree::Core, &key, &FailedLogins::after_failure(previous, &policy, now))
            })
            .await??;
        Ok(())
    }

    /// A login succeeded: its alias starts from zero again.
    pub(super) async fn clear_failed_logins(&self, guard: &LockoutGuard) -> Result<(), CoreError> {
        if self.storage.get_raw(Tree::Core, &guard.key)?.is_none() {
            return Ok(());
        }
        self.forget_lockout_key(guard.key.clone()).await
    }

    async fn forget_lockout_key(&self, key: Vec<u8>) -> Result<(), CoreError> {
        self.storage
            .write(move |tx: &Txn<CoreError>| tx.remove(Tree::Core, &key).map(|_| ()))
            .await??;
        Ok(())
    }

    /// `sys/locked-users/:accessor/unlock/:alias`: the alias may log in again at once (a no-op when not locked).
    pub async fn unlock_user(&self, accessor: &str, alias: &str) -> Result<(), CoreError> {
        self.forget_lockout_key(record_key(accessor, alias)).await
    }

    /// Drop every count of an auth mount (it was disabled), in bounded batches.
    pub async fn forget_lockouts_of(&self, accessor: &str) -> Result<(), CoreError> {
        let keys = self.storage.keys_with_prefix(Tree::Core, &record_key(accessor, ""))?;
        for chunk in keys.chunks(FORGET_BATCH) {
            let chunk = chunk.to_vec();
            self.storage
                .write(move |tx| {
                    for key in &chunk {
                        tx.remove(Tree::Core, key)?;
                    }
                    Ok::<(), TxError<CoreError>>(())
                })
                .await??;
        }
        Ok(())
    }

    /// The aliases locked out now, by mount accessor (only `accessor`'s when given).
    pub fn locked_users(&self, accessor: Option<&str>) -> Result<BTreeMap<String, Vec<String>>, CoreError> {
        let prefix = match accessor {
            Some(a) => record_key(a, ""),
            None => KEY_PREFIX.as_bytes().to_vec(),
        };
        let now = now_secs();
        let tables = self.mount_tables();
        let mut locked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in self.storage.keys_with_prefix(Tree::Core, &prefix)? {
            let Some(rest) = key.strip_prefix(KEY_PREFIX.as_bytes()) else {
                continue;
            };
            let rest = String::from_utf8_lossy(rest);
            let Some((mount_accessor, alias)) = rest.split_once('/') else {
                continue;
            };
            let Some(entry) = tables.auth.iter().find(|e| e.accessor == mount_accessor) else {
                continue;
            };
            let policy = self
                .settings
                .user_lockout
                .policy(&entry.kind, entry.config.user_lockout_config.as_ref());
            let Some(record) = self.storage.get::<FailedLogins>(Tree::Core, &key)? else {
                continue;
            };
            if record.locked(&policy, now) {
                locked
                    .entry(mount_accessor.to_string())
                    .or_default()
                    .push(alias.to_string());
            }
        }
        Ok(locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(threshold: u64, duration: u64, reset: u64) -> LockoutPolicy {
        LockoutPolicy {
            threshold,
            duration: Duration::from_secs(duration),
            counter_reset: Duration::from_secs(reset),
            disabled: false,
        }
    }

    #[test]
    fn counts_reset_and_lock_as_openbao() {
        let p = policy(3, 60, 10);
        let mut r = FailedLogins::after_failure(None, &p, 100);
        r = FailedLogins::after_failure(Some(r), &p, 105);
        assert_eq!(r.count, 2);
        assert!(!r.locked(&p, 105));
        // More than counter_reset after the last failure: counting starts again.
        let restarted = FailedLogins::after_failure(Some(r), &p, 116);
        assert_eq!(restarted.count, 1);
        r = FailedLogins::after_failure(Some(r), &p, 110);
        assert_eq!(r.count, 3);
        assert!(r.locked(&p, 110));
        assert!(r.locked(&p, 169));
        assert!(!r.locked(&p, 170));
    }

    #[test]
    fn precedence_is_tune_then_method_then_all_then_defaults() {
        let mut settings = UserLockoutSettings::default();
        let d = settings.policy("userpass", None);
        assert_eq!((d.threshold, d.duration, d.disabled), (5, DEFAULT_DURATION, false));
        assert!(settings.policy("kv", None).disabled);
        settings.blocks.insert(
            "all".into(),
            LockoutBlock {
                threshold: Some(7),
                duration: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        );
        settings.blocks.insert(
            "approle".into(),
            LockoutBlock {
                threshold: Some(2),
                disable: Some(true),
                ..Default::default()
            },
        );
        let up = settings.policy("userpass", None);
        assert_eq!((up.threshold, up.duration.as_secs(), up.disabled), (7, 60, false));
        let ar = settings.policy("approle", None);
        assert_eq!((ar.threshold, ar.duration.as_secs(), ar.disabled), (2, 60, true));
        let tune = LockoutTune {
            lockout_threshold: 9,
            lockout_counter_reset: 30,
            ..Default::default()
        };
        let tuned = settings.policy("userpass", Some(&tune));
        assert_eq!(
            (tuned.threshold, tuned.duration.as_secs(), tuned.counter_reset.as_secs()),
            (9, 60, 30)
        );
        let off = LockoutTune {
            lockout_disable: true,
            ..Default::default()
        };
        assert!(settings.policy("userpass", Some(&off)).disabled);
    }
}
