//! The token store. Tokens are stored under a salted HMAC of their id, never in clear, with an accessor index, a
//! parent index (for revoking descendants) and an expiry index, each kept in the same transaction as the token.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::core::{Core, CoreError};
use crate::storage::{Tree, TxError, Txn, KEY_LEN};

/// Prefix of service tokens, as OpenBao issues them.
pub const SERVICE_TOKEN_PREFIX: &str = "s.";
const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// `num_uses` of a token whose last use is in progress: every other request is refused, and the token is revoked
/// once that request finishes.
pub const LAST_USE_IN_PROGRESS: i64 = -1;

/// Salt for token hashes, generated at init and stored behind the barrier.
pub struct TokenSalt(pub Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for TokenSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSalt(<redacted>)")
    }
}

impl TokenSalt {
    /// The storage key of a token id.
    pub fn hash(&self, token_id: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0[..]).expect("HMAC accepts any key length");
        mac.update(token_id.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

fn random_chars(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ID_CHARS[rng.random_range(0..ID_CHARS.len())] as char)
        .collect()
}

pub fn generate_token_id() -> Zeroizing<String> {
    Zeroizing::new(format!("{SERVICE_TOKEN_PREFIX}{}", random_chars(24)))
}

pub fn generate_accessor() -> String {
    random_chars(24)
}

fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn rfc3339_ns(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenEntry {
    pub accessor: String,
    /// Hash of the parent token; `None` for orphans.
    pub parent: Option<Vec<u8>>,
    pub policies: Vec<String>,
    pub meta: BTreeMap<String, String>,
    pub display_name: String,
    pub path: String,
    /// Unix nanoseconds.
    pub issue_time: i64,
    /// Unix nanoseconds of the last renewal (the issue time until renewed).
    pub last_renewal: i64,
    /// Seconds from `last_renewal` until expiry; 0 = never expires.
    pub ttl: u64,
    pub creation_ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    /// 0 = unlimited; > 0 uses left; `LAST_USE_IN_PROGRESS` while the last use runs.
    pub num_uses: i64,
    pub renewable: bool,
    pub renewed: bool,
}

impl TokenEntry {
    pub fn root(accessor: String, path: &str) -> Self {
        let now = now_ns();
        TokenEntry {
            accessor,
            parent: None,
            policies: vec!["root".into()],
            meta: BTreeMap::new(),
            display_name: "root".into(),
            path: path.into(),
            issue_time: now,
            last_renewal: now,
            ttl: 0,
            creation_ttl: 0,
            explicit_max_ttl: 0,
            period: 0,
            num_uses: 0,
            renewable: false,
            renewed: false,
        }
    }

    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Unix nanoseconds at which the token expires, if it does.
    pub fn expires_at(&self) -> Option<i64> {
        (self.ttl > 0).then(|| {
            self.last_renewal
                .saturating_add((self.ttl as i64).saturating_mul(1_000_000_000))
        })
    }

    pub fn expired_at(&self, now_ns: i64) -> bool {
        self.expires_at().is_some_and(|e| now_ns >= e)
    }

    /// Remaining seconds (0 for tokens that never expire).
    pub fn remaining_ttl(&self, now_ns: i64) -> u64 {
        self.expires_at()
            .map(|e| ((e - now_ns).max(0) / 1_000_000_000) as u64)
            .unwrap_or(0)
    }

    /// `data` of `auth/token/lookup*`.
    pub fn lookup_data(&self, id: &str) -> Map<String, Value> {
        let now = now_ns();
        let mut data = json!({
            "accessor": self.accessor,
            "creation_time": self.issue_time / 1_000_000_000,
            "creation_ttl": self.creation_ttl,
            "display_name": self.display_name,
            "entity_id": "",
            "expire_time": self.expires_at().map(rfc3339_ns),
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": id,
            "issue_time": rfc3339_ns(self.issue_time),
            "meta": if self.meta.is_empty() { Value::Null } else { json!(self.meta) },
            "num_uses": self.num_uses.max(0),
            "orphan": self.parent.is_none(),
            "path": self.path,
            "policies": self.policies,
            "renewable": self.renewable,
            "ttl": self.remaining_ttl(now),
            "type": "service",
        });
        if self.period > 0 {
            data["period"] = json!(self.period);
        }
        if self.renewed {
            data["last_renewal"] = json!(rfc3339_ns(self.last_renewal));
            data["last_renewal_time"] = json!(self.last_renewal / 1_000_000_000);
        }
        match data {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// The `auth` block of create and renew responses.
    pub fn auth_block(&self, id: &str) -> Value {
        json!({
            "client_token": id,
            "accessor": self.accessor,
            "policies": self.policies,
            "token_policies": self.policies,
            "metadata": if self.meta.is_empty() { Value::Null } else { json!(self.meta) },
            "lease_duration": self.ttl,
            "renewable": self.renewable,
            "entity_id": "",
            "token_type": "service",
            "orphan": self.parent.is_none(),
            "mfa_requirement": Value::Null,
            "num_uses": self.num_uses.max(0),
        })
    }
}

fn expiry_key(expires_ns: i64, hash: &[u8]) -> Vec<u8> {
    let secs = (expires_ns / 1_000_000_000).max(0) as u64;
    let mut key = secs.to_be_bytes().to_vec();
    key.extend_from_slice(hash);
    key
}

fn parent_key(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut key = parent.to_vec();
    key.extend_from_slice(child);
    key
}

/// Insert a token and all its index entries in the caller's transaction.
pub fn insert<E>(tx: &Txn<E>, hash: &[u8], entry: &TokenEntry) -> Result<(), TxError<E>> {
    tx.put(Tree::Tokens, hash, entry)?;
    tx.put_raw(Tree::TokenAccessors, entry.accessor.as_bytes(), hash)?;
    if let Some(parent) = &entry.parent {
        tx.put_raw(Tree::TokenParents, &parent_key(parent, hash), b"")?;
    }
    if let Some(expires) = entry.expires_at() {
        tx.put_raw(Tree::TokenExpiry, &expiry_key(expires, hash), b"")?;
    }
    Ok(())
}

/// Replace a stored token whose expiry may have changed (renewal, use counting).
fn update<E>(tx: &Txn<E>, hash: &[u8], old: &TokenEntry, new: &TokenEntry) -> Result<(), TxError<E>> {
    if let Some(expires) = old.expires_at() {
        tx.remove(Tree::TokenExpiry, &expiry_key(expires, hash))?;
    }
    if let Some(expires) = new.expires_at() {
        tx.put_raw(Tree::TokenExpiry, &expiry_key(expires, hash), b"")?;
    }
    tx.put(Tree::Tokens, hash, new)?;
    Ok(())
}

/// Remove a token and its index entries; `orphan_children` lists child hashes whose parent link goes away.
fn remove<E>(tx: &Txn<E>, hash: &[u8], children: &[Vec<u8>]) -> Result<(), TxError<E>> {
    for child in children {
        tx.remove(Tree::TokenParents, &parent_key(hash, child))?;
    }
    let Some(entry) = tx.get::<TokenEntry>(Tree::Tokens, hash)? else {
        return Ok(());
    };
    tx.remove(Tree::Tokens, hash)?;
    tx.remove(Tree::TokenAccessors, entry.accessor.as_bytes())?;
    if let Some(parent) = &entry.parent {
        tx.remove(Tree::TokenParents, &parent_key(parent, hash))?;
    }
    if let Some(expires) = entry.expires_at() {
        tx.remove(Tree::TokenExpiry, &expiry_key(expires, hash))?;
    }
    Ok(())
}

/// Request fields of `auth/token/create*`.
#[derive(Debug, Default)]
pub struct CreateRequest {
    pub id: Option<String>,
    pub policies: Option<Vec<String>>,
    pub meta: BTreeMap<String, String>,
    pub no_parent: bool,
    pub no_default_policy: bool,
    pub renewable: Option<bool>,
    pub ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    pub display_name: Option<String>,
    pub num_uses: i64,
}

/// Go-style duration text as OpenBao prints it in warnings ("1h", "30m", "1h30m", "45s").
pub fn format_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || (h > 0 && s > 0) {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn sanitize_display_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect()
}

/// Sorted, de-duplicated, trimmed policy names.
pub fn sanitize_policies(policies: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    set.into_iter().collect()
}

/// Who is creating a token.
pub struct Creator<'a> {
    pub hash: &'a [u8],
    pub entry: &'a TokenEntry,
    /// The caller is root or has `sudo` on the create path.
    pub privileged: bool,
}

impl Core {
    fn salt_hash(&self, id: &str) -> Result<Vec<u8>, CoreError> {
        Ok(self.unsealed()?.token_salt.hash(id))
    }

    pub fn token_by_id(&self, id: &str) -> Result<Option<(Vec<u8>, TokenEntry)>, CoreError> {
        let hash = self.salt_hash(id)?;
        Ok(self.storage.get::<TokenEntry>(Tree::Tokens, &hash)?.map(|e| (hash, e)))
    }

    pub fn token_by_accessor(&self, accessor: &str) -> Result<Option<(Vec<u8>, TokenEntry)>, CoreError> {
        let Some(hash) = self.storage.get_raw(Tree::TokenAccessors, accessor.as_bytes())? else {
            return Ok(None);
        };
        Ok(self
            .storage
            .get::<TokenEntry>(Tree::Tokens, &hash)?
            .map(|e| (hash.to_vec(), e)))
    }

    /// A live (not expired) token by id.
    pub fn live_token(&self, id: &str) -> Result<Option<(Vec<u8>, TokenEntry)>, CoreError> {
        Ok(self
            .token_by_id(id)?
            .filter(|(_, e)| !e.expired_at(now_ns()) && e.num_uses != LAST_USE_IN_PROGRESS))
    }

    /// Create a token (`auth/token/create`, `create-orphan`). Returns the id, the entry and warnings.
    pub async fn create_token(
        &self,
        creator: Creator<'_>,
        req: CreateRequest,
        orphan_endpoint: bool,
        path: &str,
    ) -> Result<(Zeroizing<String>, TokenEntry, Vec<String>), CoreError> {
        let parent = creator.entry;
        let parent_is_root = parent.is_root();
        let privileged = parent_is_root || creator.privileged;
        let mut warnings = Vec::new();
        if req.num_uses < 0 {
            return Err(CoreError::InvalidRequest("number of uses cannot be negative".into()));
        }
        if req.no_parent && !privileged && !orphan_endpoint {
            return Err(CoreError::InvalidRequest(
                "root or sudo privileges required to create orphan token".into(),
            ));
        }
        if req.period > 0 && !privileged {
            return Err(CoreError::InvalidRequest(
                "root or sudo privileges required to create periodic token".into(),
            ));
        }
        if req.id.is_some() && !parent_is_root {
            return Err(CoreError::InvalidRequest(
                "root or sudo privileges required to specify token id".into(),
            ));
        }
        let mut policies = match &req.policies {
            Some(p) if !p.is_empty() => sanitize_policies(p),
            _ => sanitize_policies(&parent.policies),
        };
        for internal in [crate::policy::RESPONSE_WRAPPING_POLICY_NAME, "control-group"] {
            if policies.iter().any(|p| p == internal) {
                return Err(CoreError::InvalidRequest(format!("cannot assign policy {internal:?}")));
            }
        }
        if policies.iter().any(|p| p == "root") && !parent_is_root {
            return Err(CoreError::InvalidRequest(
                "root tokens may not be created without parent token being root".into(),
            ));
        }
        if !privileged {
            let mut allowed: Vec<String> = parent.policies.clone();
            allowed.push(crate::policy::DEFAULT_POLICY_NAME.into());
            if policies.iter().any(|p| !allowed.contains(p)) {
                return Err(CoreError::InvalidRequest(
                    "child policies must be subset of parent".into(),
                ));
            }
        }
        let is_root_token = policies.iter().any(|p| p == "root");
        if !req.no_default_policy && !is_root_token && !policies.iter().any(|p| p == "default") {
            policies.push("default".into());
            policies.sort();
        }

        // TTL: the period for periodic tokens; else the request, the mount default, the system max, the explicit max.
        let sys_max = self.settings.max_lease_ttl.as_secs();
        let mut ttl = if req.period > 0 { req.period } else { req.ttl };
        if ttl == 0 && !is_root_token {
            ttl = self.settings.default_lease_ttl.as_secs();
        }
        if req.period == 0 && ttl > sys_max && sys_max > 0 {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                format_duration(ttl),
                format_duration(sys_max)
            ));
            ttl = sys_max;
        }
        if req.explicit_max_ttl > 0 && (ttl == 0 || ttl > req.explicit_max_ttl) {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                format_duration(ttl),
                format_duration(req.explicit_max_ttl)
            ));
            ttl = req.explicit_max_ttl;
        }

        let display_name = match req.display_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => format!("token-{}", sanitize_display_name(name)),
            _ => "token".to_string(),
        };
        let id = match &req.id {
            Some(id) if !id.is_empty() => Zeroizing::new(id.clone()),
            _ => generate_token_id(),
        };
        let hash = self.salt_hash(&id)?;
        let now = now_ns();
        let orphan = orphan_endpoint || req.no_parent;
        let entry = TokenEntry {
            accessor: generate_accessor(),
            parent: if orphan { None } else { Some(creator.hash.to_vec()) },
            policies,
            meta: req.meta,
            display_name,
            path: path.to_string(),
            issue_time: now,
            last_renewal: now,
            ttl,
            creation_ttl: ttl,
            explicit_max_ttl: req.explicit_max_ttl,
            period: req.period,
            num_uses: req.num_uses,
            renewable: req.renewable.unwrap_or(true) && ttl > 0,
            renewed: false,
        };
        let stored = entry.clone();
        let parent_hash = creator.hash.to_vec();
        self.storage
            .write(move |tx| {
                if tx.get_raw(Tree::Tokens, &hash)?.is_some() {
                    return Err(TxError::Abort(CoreError::InvalidRequest(
                        "cannot create a token with a duplicate ID".into(),
                    )));
                }
                if !orphan && tx.get_raw(Tree::Tokens, &parent_hash)?.is_none() {
                    return Err(TxError::Abort(CoreError::PermissionDenied));
                }
                insert(tx, &hash, &stored)?;
                Ok(())
            })
            .await??;
        Ok((id, entry, warnings))
    }

    /// Hashes of a token's direct children.
    fn children_of(&self, hash: &[u8]) -> Result<Vec<Vec<u8>>, CoreError> {
        Ok(self
            .storage
            .keys_with_prefix(Tree::TokenParents, hash)?
            .into_iter()
            .filter(|k| k.len() == hash.len() * 2)
            .map(|k| k[hash.len()..].to_vec())
            .collect())
    }

    /// A token and all its descendants, each with its direct children.
    fn subtree(&self, hash: &[u8]) -> Result<Vec<(Vec<u8>, Vec<Vec<u8>>)>, CoreError> {
        let mut out = Vec::new();
        let mut queue = vec![hash.to_vec()];
        let mut seen = BTreeSet::new();
        while let Some(current) = queue.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let children = self.children_of(&current)?;
            queue.extend(children.iter().cloned());
            out.push((current, children));
        }
        Ok(out)
    }

    /// Revoke a token and every descendant in one transaction. A child created while the tree was scanned keeps
    /// its parent link, so the scan repeats until no revoked token has children left.
    pub async fn revoke_tree(&self, hash: &[u8]) -> Result<(), CoreError> {
        loop {
            let tree = self.subtree(hash)?;
            let tree_for_tx = tree.clone();
            self.storage
                .write(move |tx| {
                    for (token, children) in &tree_for_tx {
                        remove(tx, token, children)?;
                    }
                    Ok::<_, TxError<CoreError>>(())
                })
                .await??;
            let mut dangling = false;
            for (token, _) in &tree {
                dangling |= !self.children_of(token)?.is_empty();
            }
            if !dangling {
                return Ok(());
            }
        }
    }

    /// Revoke only this token; its children become orphans.
    pub async fn revoke_orphan(&self, hash: &[u8]) -> Result<(), CoreError> {
        let children = self.children_of(hash)?;
        let hash = hash.to_vec();
        self.storage
            .write(move |tx| {
                for child in &children {
                    if let Some(mut entry) = tx.get::<TokenEntry>(Tree::Tokens, child)? {
                        entry.parent = None;
                        tx.put(Tree::Tokens, child, &entry)?;
                    }
                }
                remove(tx, &hash, &children)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        Ok(())
    }

    /// Renew a token by `increment` seconds (0: its original TTL), within its explicit max TTL and the system max.
    pub async fn renew_token(&self, hash: &[u8], increment: u64) -> Result<(TokenEntry, Vec<String>), CoreError> {
        let hash = hash.to_vec();
        let sys_max = self.settings.max_lease_ttl.as_secs();
        let now = now_ns();
        self.storage
            .write(move |tx| {
                let Some(old) = tx.get::<TokenEntry>(Tree::Tokens, &hash)? else {
                    return Err(TxError::Abort(CoreError::InvalidRequest("token not found".into())));
                };
                if !old.renewable || old.ttl == 0 {
                    return Err(TxError::Abort(CoreError::InvalidRequest(
                        "lease is not renewable".into(),
                    )));
                }
                if old.expired_at(now) {
                    return Err(TxError::Abort(CoreError::InvalidRequest("token expired".into())));
                }
                let mut warnings = Vec::new();
                let mut ttl = if old.period > 0 {
                    old.period
                } else if increment > 0 {
                    increment
                } else {
                    old.creation_ttl
                };
                // Caps count from the issue time: a token never outlives issue + max.
                let elapsed = ((now - old.issue_time).max(0) / 1_000_000_000) as u64;
                for max in [old.explicit_max_ttl, if old.period > 0 { 0 } else { sys_max }] {
                    if max > 0 && elapsed + ttl > max {
                        let capped = max.saturating_sub(elapsed);
                        warnings.push(format!(
                            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                            format_duration(ttl),
                            format_duration(capped)
                        ));
                        ttl = capped;
                    }
                }
                if ttl == 0 {
                    return Err(TxError::Abort(CoreError::InvalidRequest(
                        "past the max TTL, cannot renew".into(),
                    )));
                }
                let mut new = old.clone();
                new.last_renewal = now;
                new.ttl = ttl;
                new.renewed = true;
                update(tx, &hash, &old, &new)?;
                Ok((new, warnings))
            })
            .await?
    }

    /// Consume one use of a limited-use token atomically and return the entry as it now stands. When
    /// `num_uses` is `LAST_USE_IN_PROGRESS` this was the last use: the caller revokes the token after the request.
    /// Unlimited tokens are not written to.
    pub async fn use_token(&self, hash: &[u8], entry: TokenEntry) -> Result<TokenEntry, CoreError> {
        if entry.num_uses == 0 {
            return Ok(entry);
        }
        let hash = hash.to_vec();
        self.storage
            .write(move |tx| {
                let Some(old) = tx.get::<TokenEntry>(Tree::Tokens, &hash)? else {
                    return Err(TxError::Abort(CoreError::PermissionDenied));
                };
                if old.num_uses == LAST_USE_IN_PROGRESS {
                    return Err(TxError::Abort(CoreError::PermissionDenied));
                }
                let mut new = old.clone();
                new.num_uses = if old.num_uses == 1 {
                    LAST_USE_IN_PROGRESS
                } else {
                    old.num_uses - 1
                };
                tx.put(Tree::Tokens, &hash, &new)?;
                Ok(new)
            })
            .await?
    }

    /// Accessors of every token (for `auth/token/accessors`).
    pub fn list_accessors(&self) -> Result<Vec<String>, CoreError> {
        Ok(self
            .storage
            .keys_with_prefix(Tree::TokenAccessors, b"")?
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    /// Revoke every token whose expiry has passed (with its descendants). Returns how many were revoked.
    pub async fn sweep_expired_tokens(&self) -> Result<usize, CoreError> {
        let now_secs = (now_ns() / 1_000_000_000).max(0) as u64 + 1;
        let due = self
            .storage
            .keys_below(Tree::TokenExpiry, &now_secs.to_be_bytes(), 1000)?;
        let mut revoked = 0;
        for key in due {
            let hash = &key[8..];
            match self.storage.get::<TokenEntry>(Tree::Tokens, hash)? {
                Some(entry) if entry.expired_at(now_ns()) => {
                    self.revoke_tree(hash).await?;
                    revoked += 1;
                }
                Some(_) => {}
                // A stale index entry: drop it.
                None => {
                    let key = key.clone();
                    self.storage
                        .write(move |tx| {
                            tx.remove(Tree::TokenExpiry, &key)?;
                            Ok::<_, TxError<CoreError>>(())
                        })
                        .await??;
                }
            }
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_openbao() {
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(1800), "30m");
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(3605), "1h0m5s");
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn display_names_and_policies() {
        assert_eq!(sanitize_display_name("Foo Bar"), "Foo-Bar");
        assert_eq!(
            sanitize_policies(&["b".into(), " A".into(), "b".into(), "".into()]),
            vec!["a", "b"]
        );
    }
}
