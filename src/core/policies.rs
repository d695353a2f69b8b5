//! The policy store: ACL policies behind the barrier, parsed once and cached; compiled ACLs cached by policy set.
//!
//! Invariant: a policy write or delete is in force for every request that starts after it is acknowledged. The write
//! commits, then clears the caches (which bumps their generation), then answers. A cache fill notes the generation
//! before it reads storage and stores its result only if the generation is unchanged, checked under the same lock
//! that the clear holds: a fill that raced a write (it may have read the old text) serves its own request but is
//! never cached, and everything left in the caches after a clear was read from storage after it.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::{Core, CoreError};
use crate::policy::{self, parse_policy, Acl, Policy};
use crate::storage::{Tree, TxError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    pub text: String,
    /// RFC 3339 with nanoseconds.
    pub modified: String,
    pub version: u64,
}

/// Parsed policies by name and compiled ACLs by policy set, behind one lock (see the module doc).
#[derive(Default)]
pub struct PolicyCache {
    state: RwLock<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Bumped by every clear.
    generation: u64,
    parsed: HashMap<String, Option<Arc<Policy>>>,
    acls: HashMap<Vec<String>, Arc<Acl>>,
}

impl PolicyCache {
    // Nothing panics while holding the lock, but a poisoned one must not stop a clear: recover its contents.
    fn read(&self) -> RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forget everything and invalidate every fill in progress. Call after the storage change has committed.
    pub fn clear(&self) {
        let mut state = self.write();
        state.generation = state.generation.wrapping_add(1);
        state.parsed.clear();
        state.acls.clear();
    }
}

/// Normalize a policy name as OpenBao does (trimmed, lower-cased).
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Core {
    /// The stored record of a policy, with the built-ins' defaults when never written.
    pub fn read_policy(&self, name: &str) -> Result<Option<PolicyRecord>, CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.policy.get_policy");
        let name = normalize_name(name);
        if let Some(record) = self.storage.get::<PolicyRecord>(Tree::Policies, name.as_bytes())? {
            return Ok(Some(record));
        }
        let builtin = match name.as_str() {
            policy::DEFAULT_POLICY_NAME => policy::DEFAULT_POLICY,
            policy::RESPONSE_WRAPPING_POLICY_NAME => policy::RESPONSE_WRAPPING_POLICY,
            _ => return Ok(None),
        };
        Ok(Some(PolicyRecord {
            name,
            text: builtin.to_string(),
            modified: self
                .unsealed()?
                .active_since
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            version: 1,
        }))
    }

    /// Names of the ACL policies, as `sys/policy` lists them: stored ones and `default`, then `root`.
    pub fn list_policies(&self) -> Result<Vec<String>, CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.policy.list_policies");
        let mut names: Vec<String> = self
            .storage
            .keys_with_prefix(Tree::Policies, b"")?
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .filter(|n| n != policy::RESPONSE_WRAPPING_POLICY_NAME)
            .collect();
        if !names.iter().any(|n| n == policy::DEFAULT_POLICY_NAME) {
            names.push(policy::DEFAULT_POLICY_NAME.into());
        }
        names.sort();
        names.push(policy::ROOT_POLICY_NAME.into());
        Ok(names)
    }

    pub async fn write_policy(&self, name: &str, text: &str) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.policy.set_policy");
        let name = normalize_name(name);
        if name == policy::ROOT_POLICY_NAME || name == policy::RESPONSE_WRAPPING_POLICY_NAME {
            return Err(CoreError::InvalidRequest(format!("cannot update {name:?} policy")));
        }
        if name.is_empty() {
            return Err(CoreError::InvalidRequest("policy name missing".into()));
        }
        if text.trim().is_empty() {
            return Err(CoreError::InvalidRequest(
                "'policy' parameter not supplied or empty".into(),
            ));
        }
        parse_policy(&name, text).map_err(|e| CoreError::InvalidRequest(format!("failed to parse policy: {e}")))?;
        let modified = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let text = text.to_string();
        let written = self
            .storage
            .write(move |tx| {
                let version = tx
                    .get::<PolicyRecord>(Tree::Policies, name.as_bytes())?
                    .map(|r| r.version)
                    .unwrap_or(0)
                    + 1;
                let record = PolicyRecord {
                    name: name.clone(),
                    text: text.clone(),
                    modified: modified.clone(),
                    version,
                };
                tx.put(Tree::Policies, name.as_bytes(), &record)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await;
        // Even a write that failed late (its flush) may be visible in storage: clearing is always safe.
        self.policy_cache.clear();
        written??;
        Ok(())
    }

    pub async fn delete_policy(&self, name: &str) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.policy.delete_policy");
        let name = normalize_name(name);
        match name.as_str() {
            policy::DEFAULT_POLICY_NAME => {
                return Err(CoreError::InvalidRequest("cannot delete default policy".into()))
            }
            policy::ROOT_POLICY_NAME | policy::RESPONSE_WRAPPING_POLICY_NAME => {
                return Err(CoreError::InvalidRequest(format!("cannot delete {name:?} policy")))
            }
            _ => {}
        }
        let removed = self
            .storage
            .write(move |tx| {
                tx.remove(Tree::Policies, name.as_bytes())?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await;
        self.policy_cache.clear();
        removed??;
        Ok(())
    }

    /// A parsed policy (cached when no clear happened since `generation` was read, before the storage read). Unknown
    /// names yield `None`; a token may name a policy that does not exist yet.
    fn parsed_policy(&self, name: &str, generation: u64) -> Result<Option<Arc<Policy>>, CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.policy.get_policy");
        if let Some(hit) = self.policy_cache.read().parsed.get(name) {
            return Ok(hit.clone());
        }
        let parsed = match self.read_policy(name)? {
            None => None,
            Some(record) => match parse_policy(&record.name, &record.text) {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    log::error!("stored policy {name:?} does not parse; ignoring it: {e}");
                    None
                }
            },
        };
        let mut state = self.policy_cache.write();
        if state.generation == generation {
            state.parsed.insert(name.to_string(), parsed.clone());
        }
        Ok(parsed)
    }

    /// The compiled ACL of a set of policy names (cached by the set, under the same rule as parsed policies).
    pub fn acl_for(&self, names: &[String]) -> Result<Arc<Acl>, CoreError> {
        let generation = {
            let state = self.policy_cache.read();
            if let Some(hit) = state.acls.get(names) {
                return Ok(hit.clone());
            }
            state.generation
        };
        let mut policies = Vec::new();
        let root = Policy {
            name: policy::ROOT_POLICY_NAME.into(),
            paths: vec![],
        };
        let mut has_root = false;
        for name in names {
            if name == policy::ROOT_POLICY_NAME {
                has_root = true;
            } else if let Some(p) = self.parsed_policy(name, generation)? {
                policies.push(p);
            }
        }
        let mut refs: Vec<&Policy> = policies.iter().map(|p| p.as_ref()).collect();
        if has_root {
            refs.push(&root);
        }
        let acl = Arc::new(Acl::new(&refs));
        let mut state = self.policy_cache.write();
        if state.generation == generation {
            state.acls.insert(names.to_vec(), acl.clone());
        }
        Ok(acl)
    }
}
