//! The expiration manager: every lease, what it is, when it ends, and how it is looked up, listed, renewed and
//! revoked (`sys/leases/*`). A token's auth lease is the token itself: its times live in the token entry and its
//! id in the lease index (`core::lease_index`), both written in the token's own transaction; the token expiry
//! index is the one that decides when a token ends.
//!
//! Nothing is loaded at unseal: every question is answered from storage, so the number of leases costs disk, not
//! memory or start-up time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use rand::RngExt;
use serde_json::{json, Map, Value};

use crate::core::lease_index::{expiry_key, token_lease_key, LeaseRecord, RevokeState, SecretLease};
use crate::core::router::Mount;
use crate::core::token_store::token::{now_ns, rfc3339_ns, TokenEntry};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response};
use crate::logical::{Secret, SystemView};
use crate::storage::{Tree, TxError};

/// OpenBao's limit: after this many failed backend revocations a lease is irrevocable.
pub const MAX_REVOKE_ATTEMPTS: u32 = 6;
/// OpenBao's base delay between revocation attempts: attempt n waits about `2^n` times this (plus or minus half).
const REVOKE_RETRY_BASE: Duration = Duration::from_secs(10);
/// How long a backend's renew or revoke may take before it counts as failed.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Expiry-index time of irrevocable leases: never due, and listed together at the end of the index.
const NEVER: u64 = u64::MAX;
/// Secret leases revoked per sweep pass (each is its own backend call and transactions).
const SWEEP_BATCH: usize = 1000;
/// Secret leases whose backend revoke runs at the same time in a sweep.
const SWEEP_CONCURRENCY: usize = 32;
/// Revocations after which the worker, once idle again, hands the allocator's free memory back to the system.
const TRIM_AFTER_REVOKED: usize = 10_000;

/// The expiry worker's handle: dropping it stops the worker (see [`Core::start_expiry_worker`]).
pub struct ExpiryWorker {
    stop: Arc<AtomicBool>,
}

impl Drop for ExpiryWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Lease ids whose backend revoke is running in this process: a second revocation of the same lease (the sweep and
/// an API call, two overlapping prefixes) waits for the first instead of calling the backend twice.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<String>>);

struct Claim<'a> {
    set: &'a InFlight,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl InFlight {
    /// Wait until no other revocation of `id` runs here, then hold it.
    async fn claim(&self, id: &str) -> Claim<'_> {
        loop {
            if self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string()) {
                return Claim {
                    set: self,
                    id: id.to_string(),
                };
            }
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// When the next attempt after `attempts` failed ones is due: `2^attempts` times the base, plus or minus half.
fn retry_delay(attempts: u32) -> Duration {
    let exp = REVOKE_RETRY_BASE.saturating_mul(1u32 << attempts.min(16));
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    exp.mul_f64(jitter)
}

fn secs_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn json_text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

fn json_map(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// OpenBao's error for a lease id with `.` or `..` segments.
fn check_relative(lease_id: &str) -> Result<(), CoreError> {
    if lease_id.split('/').any(|s| s == "." || s == "..") {
        return Err(CoreError::InvalidRequest(format!(
            "failed to read lease entry {lease_id}: relative paths not supported"
        )));
    }
    Ok(())
}

/// A lease as `sys/leases/lookup` shows it.
pub struct LeaseView {
    pub id: String,
    /// The request path that created it.
    pub path: String,
    /// Unix nanoseconds.
    pub issue_time: i64,
    pub expire_time: Option<i64>,
    pub last_renewal: Option<i64>,
    pub renewable: bool,
}

impl LeaseView {
    fn of_secret(id: String, lease: &SecretLease, now: i64) -> LeaseView {
        LeaseView {
            id,
            path: lease.path.clone(),
            issue_time: lease.issue_time,
            expire_time: Some(lease.expire_time),
            last_renewal: lease.last_renewal,
            renewable: lease.renewable && lease.expire_time > now && !lease.revoke.irrevocable,
        }
    }

    fn of_token(id: String, entry: &TokenEntry, now: i64) -> LeaseView {
        let expire_time = entry.expires_at();
        LeaseView {
            id,
            path: entry.path.clone(),
            issue_time: entry.issue_time,
            expire_time,
            last_renewal: entry.renewed.then_some(entry.last_renewal),
            renewable: entry.renewable && expire_time.is_some_and(|e| e > now),
        }
    }

    pub fn lookup_data(&self, now: i64) -> Map<String, Value> {
        let ttl = self
            .expire_time
            .map(|e| ((e - now).max(0) / 1_000_000_000) as u64)
            .unwrap_or(0);
        let mut data = Map::new();
        data.insert("id".into(), json!(self.id));
        data.insert("path".into(), json!(self.path));
        data.insert("issue_time".into(), json!(rfc3339_ns(self.issue_time)));
        data.insert("expire_time".into(), json!(self.expire_time.map(rfc3339_ns)));
        data.insert("last_renewal".into(), json!(self.last_renewal.map(rfc3339_ns)));
        data.insert("renewable".into(), json!(self.renewable));
        data.insert("ttl".into(), json!(ttl));
        data
    }
}

/// A lease the index knows, resolved.
enum Lease {
    Token { hash: Vec<u8>, entry: TokenEntry },
    Secret(SecretLease),
}

impl Core {
    fn lease(&self, lease_id: &str) -> Result<Option<Lease>, CoreError> {
        check_relative(lease_id)?;
        let Some(record) = self.storage.get::<LeaseRecord>(Tree::Leases, lease_id.as_bytes())? else {
            return Ok(None);
        };
        match record {
            LeaseRecord::Token { hash } => Ok(self
                .storage
                .get::<TokenEntry>(Tree::Tokens, &hash)?
                .map(|entry| Lease::Token { hash, entry })),
            LeaseRecord::Secret(lease) => Ok(Some(Lease::Secret(lease))),
        }
    }

    /// `sys/leases/lookup`.
    pub fn lookup_lease(&self, lease_id: &str) -> Result<LeaseView, CoreError> {
        if lease_id.is_empty() {
            return Err(CoreError::InvalidRequest("lease_id must be specified".into()));
        }
        let now = now_ns();
        match self.lease(lease_id)? {
            Some(Lease::Token { entry, .. }) if !entry.expired_at(now) => {
                Ok(LeaseView::of_token(lease_id.to_string(), &entry, now))
            }
            Some(Lease::Secret(lease)) => Ok(LeaseView::of_secret(lease_id.to_string(), &lease, now)),
            _ => Err(CoreError::InvalidRequest("invalid lease".into())),
        }
    }

    /// `LIST sys/leases/lookup/:prefix`: the ids and folders directly below `prefix` (which ends with `/` or is
    /// empty), sorted; empty when there is nothing.
    pub fn list_leases(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        check_relative(prefix)?;
        let mut keys: Vec<String> = Vec::new();
        for key in self.storage.keys_with_prefix(Tree::Leases, prefix.as_bytes())? {
            let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            let entry = match rest.find('/') {
                Some(i) => rest[..=i].to_string(),
                None => rest,
            };
            if keys.last() != Some(&entry) {
                keys.push(entry);
            }
        }
        keys.dedup();
        Ok(keys)
    }

    /// `sys/leases/renew`: token leases are renewed through the token store only, as in OpenBao. A secret lease is
    /// renewed by its backend (which may refuse or grant less), within the mount's maximum TTL from its issue.
    pub async fn renew_lease(&self, lease_id: &str, increment: Duration) -> Result<Response, CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.expire.renew");
        if lease_id.is_empty() {
            return Err(CoreError::InvalidRequest("lease_id must be specified".into()));
        }
        let lease = match self.lease(lease_id)? {
            Some(Lease::Token { .. }) => {
                return Err(CoreError::InvalidRequest(
                    "tokens cannot be renewed through this endpoint".into(),
                ))
            }
            Some(Lease::Secret(lease)) => lease,
            None => return Err(CoreError::InvalidRequest("lease not found".into())),
        };
        let now = now_ns();
        if lease.expire_time <= now || lease.revoke.irrevocable {
            return Err(CoreError::InvalidRequest("lease expired".into()));
        }
        if !lease.renewable {
            return Err(CoreError::InvalidRequest("lease is not renewable".into()));
        }
        let (mount, _) = self
            .lease_mount(&lease)?
            .ok_or_else(|| CoreError::InvalidRequest(format!("no mount serves the lease's path {}", lease.path)))?;
        let system = mount
            .system_view()
            .ok_or_else(|| CoreError::InvalidRequest("lease not found".into()))?;
        let (default_ttl, max_ttl) = (system.default_lease_ttl(), system.max_lease_ttl());
        let asked = Secret {
            ttl: increment,
            renewable: lease.renewable,
            internal_data: json_map(&lease.internal_data),
        };
        let mut resp = self.call_lease_backend(&lease, Operation::Renew, asked).await?;
        let granted = resp.secret.take().map(|s| s.ttl).filter(|t| !t.is_zero());
        let mut ttl = granted
            .or((!increment.is_zero()).then_some(increment))
            .unwrap_or(default_ttl);
        let max_expire = lease.issue_time.saturating_add(secs_ns(max_ttl));
        if now.saturating_add(secs_ns(ttl)) > max_expire {
            let capped = Duration::from_nanos((max_expire - now).max(0) as u64);
            resp.warnings.push(format!(
                "TTL of \"{}\" exceeded the effective max_ttl of \"{}\"; TTL value is capped accordingly",
                crate::core::token_store::token::format_duration(ttl.as_secs()),
                crate::core::token_store::token::format_duration(capped.as_secs()),
            ));
            ttl = capped;
        }
        let expire_time = now.saturating_add(secs_ns(ttl));
        let id = lease_id.to_string();
        self.storage
            .write(move |tx| {
                let Some(LeaseRecord::Secret(mut current)) = tx.get::<LeaseRecord>(Tree::Leases, id.as_bytes())? else {
                    return Err(TxError::Abort(CoreError::InvalidRequest("lease not found".into())));
                };
                tx.remove(Tree::LeaseExpiry, &expiry_key(current.expire_time, &id))?;
                current.expire_time = expire_time;
                current.last_renewal = Some(now);
                tx.put_raw(Tree::LeaseExpiry, &expiry_key(expire_time, &id), b"")?;
                tx.put(Tree::Leases, id.as_bytes(), &LeaseRecord::Secret(current))?;
                Ok(())
            })
            .await??;
        resp.lease_id = lease_id.to_string();
        resp.lease_duration = ttl.as_secs() as i64;
        resp.renewable = lease.renewable;
        Ok(resp)
    }

    /// `sys/leases/revoke`: an unknown lease is already revoked. Revoking a token's lease revokes the token and
    /// its descendants.
    pub async fn revoke_lease(&self, lease_id: &str) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.expire.revoke");
        self.revoke_lease_forced(lease_id, false).await
    }

    /// A revocation; `force` ends a secret lease even when its backend fails (`revoke-force`).
    async fn revoke_lease_forced(&self, lease_id: &str, force: bool) -> Result<(), CoreError> {
        if lease_id.is_empty() {
            return Err(CoreError::InvalidRequest("lease_id must be specified".into()));
        }
        match self.lease(lease_id)? {
            Some(Lease::Token { hash, .. }) => self.revoke_tree(&hash).await,
            Some(Lease::Secret(_)) => self.revoke_secret(lease_id, force).await,
            None => Ok(()),
        }
    }

    /// `sys/leases/revoke-prefix` and `revoke-force`: every lease below `prefix` (a path prefix: `a/b` covers
    /// `a/b/...`, not `a/bc/...`). Token leases have no backend call that could fail, so `force` changes nothing
    /// for them.
    pub async fn revoke_lease_prefix(&self, prefix: &str, force: bool) -> Result<usize, CoreError> {
        let _timer = crate::telemetry::Timer::start(if force {
            "vault.expire.revoke-force"
        } else {
            "vault.expire.revoke-prefix"
        });
        check_relative(prefix)?;
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut revoked = 0;
        for key in self.storage.keys_with_prefix(Tree::Leases, prefix.as_bytes())? {
            let id = String::from_utf8_lossy(&key).into_owned();
            if self.lease(&id)?.is_some() {
                self.revoke_lease_forced(&id, force).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// `sys/leases/tidy`: drop index records whose lease is gone (only a crash outside a transaction or damage
    /// could leave one: every lease is written and removed with what it belongs to). Returns a summary for the log.
    pub async fn tidy_leases(&self) -> Result<String, CoreError> {
        let tokens = self.tidy_tokens().await?;
        let mut stale = Vec::new();
        for key in self.storage.keys_with_prefix(Tree::Leases, b"")? {
            match self.storage.get::<LeaseRecord>(Tree::Leases, &key)? {
                Some(LeaseRecord::Token { hash }) if self.storage.get_raw(Tree::Tokens, &hash)?.is_none() => {
                    stale.push(key)
                }
                Some(LeaseRecord::Token { .. }) | Some(LeaseRecord::Secret(_)) | None => {}
            }
        }
        let removed = stale.len();
        self.storage
            .write(move |tx| {
                for key in &stale {
                    tx.remove(Tree::Leases, key)?;
                }
                Ok::<_, crate::storage::TxError<CoreError>>(())
            })
            .await??;
        Ok(format!("{tokens}; removed {removed} dangling lease index entries"))
    }
}

impl Core {
    /// The mount a secret lease belongs to, if the mount that issued it still serves its path: with the path
    /// relative to it.
    fn lease_mount(&self, lease: &SecretLease) -> Result<Option<(std::sync::Arc<Mount>, String)>, CoreError> {
        let Some((mount, relative)) = self.router.route(&lease.path) else {
            return Ok(None);
        };
        let same = mount.system_view().is_some_and(|s| s.mount_uuid() == lease.mount_uuid);
        Ok(same.then(|| (mount.clone(), relative.to_string())))
    }

    /// Call a lease's backend for a renew or a revoke, as the core (no client token, no ACL), within the
    /// configured timeout; a panic in the backend is a failure like any other.
    async fn call_lease_backend(
        &self,
        lease: &SecretLease,
        op: Operation,
        secret: Secret,
    ) -> Result<Response, CoreError> {
        let Some((mount, relative)) = self.lease_mount(lease)? else {
            return Err(CoreError::Internal(format!(
                "no mount serves the lease's path {}",
                lease.path
            )));
        };
        let req = Request {
            id: uuid::Uuid::new_v4().to_string(),
            operation: op,
            path: lease.path.clone(),
            data: json_map(&lease.data),
            client_token: None,
            wrap_ttl: None,
            remote_addr: None,
            remote_port: None,
            secret: Some(secret),
            headers: Default::default(),
        };
        let caller = Caller {
            token_hash: vec![],
            entry: TokenEntry::anonymous(),
            acl: self.acl_for(&[])?,
            root_privs: false,
        };
        let call = std::panic::AssertUnwindSafe(mount.handle(self, &caller, &relative, &req)).catch_unwind();
        match actix_web::rt::time::timeout(self.settings.lease_backend_timeout, call).await {
            Err(_) => Err(CoreError::Internal(format!(
                "the backend did not answer the {} within {:?}",
                op.as_str(),
                self.settings.lease_backend_timeout
            ))),
            Ok(Err(_)) => Err(CoreError::Internal(format!(
                "the backend panicked during the {}",
                op.as_str()
            ))),
            Ok(Ok(answer)) => answer,
        }
    }

    /// Put the secret a backend answered with under a lease: the lease record, its expiry entry and its token link
    /// in one transaction, before the client sees the secret. Its TTL is the secret's (the mount's default when
    /// zero), capped by the mount's maximum. When the lease cannot be stored, the secret is revoked again.
    pub(crate) async fn register_secret(
        &self,
        mount: &Mount,
        caller: &Caller,
        req: &Request,
        mut resp: Response,
    ) -> Result<Response, CoreError> {
        let Some(secret) = resp.secret.take() else {
            return Ok(resp);
        };
        let _timer = crate::telemetry::Timer::start("vault.expire.register");
        let Some(system) = mount.system_view() else {
            return Ok(resp);
        };
        let ttl = if secret.ttl.is_zero() {
            system.default_lease_ttl()
        } else {
            secret.ttl
        };
        let ttl = ttl.min(system.max_lease_ttl());
        let now = now_ns();
        let lease_id = format!("{}/{}", req.path.trim_end_matches('/'), random_suffix());
        let lease = SecretLease {
            path: req.path.clone(),
            mount_uuid: system.mount_uuid().to_string(),
            issue_time: now,
            last_renewal: None,
            expire_time: now.saturating_add(secs_ns(ttl)),
            renewable: secret.renewable,
            token_hash: (!caller.token_hash.is_empty()).then(|| caller.token_hash.clone()),
            data: json_text(resp.data.as_ref().unwrap_or(&Map::new())),
            internal_data: json_text(&secret.internal_data),
            revoke: RevokeState::default(),
        };
        let (id, record) = (lease_id.clone(), lease.clone());
        let stored = self
            .storage
            .write(move |tx| {
                if let Some(token) = &record.token_hash {
                    // The token may have been revoked while the backend ran: then so is its secret.
                    if tx.get_raw(Tree::Tokens, token)?.is_none() {
                        return Err(TxError::Abort(CoreError::PermissionDenied));
                    }
                    tx.put_raw(Tree::TokenLeases, &token_lease_key(token, &id), b"")?;
                }
                tx.put_raw(Tree::LeaseExpiry, &expiry_key(record.expire_time, &id), b"")?;
                tx.put(Tree::Leases, id.as_bytes(), &LeaseRecord::Secret(record.clone()))?;
                Ok(())
            })
            .await
            .map_err(CoreError::from)
            .and_then(|r| r);
        if let Err(e) = stored {
            let secret = Secret {
                internal_data: secret.internal_data,
                ..Secret::default()
            };
            if let Err(revoke_error) = self.call_lease_backend(&lease, Operation::Revoke, secret).await {
                log::error!(
                    "a secret of {} whose lease could not be stored was not revoked either: {revoke_error}",
                    lease.path
                );
            }
            return Err(e);
        }
        resp.lease_id = lease_id;
        resp.lease_duration = ttl.as_secs() as i64;
        resp.renewable = secret.renewable;
        let cluster = self.unsealed().map(|u| u.cluster.name.clone()).unwrap_or_default();
        let engine = self
            .matching_mount(&mount.path)
            .map(|(entry, _)| entry.kind)
            .unwrap_or_default();
        metrics::counter!("vault.secret.lease.creation",
            "cluster" => cluster,
            "creation_ttl" => crate::telemetry::ttl_bucket(ttl),
            "mount_point" => mount.path.clone(),
            "namespace" => "root",
            "secret_engine" => engine)
        .increment(1);
        Ok(resp)
    }

    /// Revoke a secret lease through its backend. The attempt is recorded before the backend is called; the lease,
    /// its expiry entry and its token link go in one transaction only after the backend succeeded (or when
    /// `force`d). A failure reschedules the lease with backoff and, after [`MAX_REVOKE_ATTEMPTS`], makes it
    /// irrevocable. A lease whose mount is gone has nothing left to revoke and just goes.
    async fn revoke_secret(&self, lease_id: &str, force: bool) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.expire.revoke-common");
        let _claim = self.revoking.claim(lease_id).await;
        let id = lease_id.to_string();
        let started = self
            .storage
            .write(move |tx| {
                let Some(LeaseRecord::Secret(mut lease)) = tx.get::<LeaseRecord>(Tree::Leases, id.as_bytes())? else {
                    return Ok(None);
                };
                lease.revoke.attempts = lease.revoke.attempts.saturating_add(1);
                tx.put(Tree::Leases, id.as_bytes(), &LeaseRecord::Secret(lease.clone()))?;
                Ok::<_, TxError<CoreError>>(Some(lease))
            })
            .await??;
        let Some(lease) = started else {
            return Ok(());
        };
        let outcome = if self.lease_mount(&lease)?.is_none() {
            log::warn!("lease {lease_id}: its mount is gone; removing it without a backend call");
            Ok(())
        } else {
            let secret = Secret {
                ttl: Duration::ZERO,
                renewable: lease.renewable,
                internal_data: json_map(&lease.internal_data),
            };
            self.call_lease_backend(&lease, Operation::Revoke, secret)
                .await
                .map(|_| ())
        };
        let failure = match &outcome {
            Ok(()) => None,
            Err(e) if force => {
                log::warn!("lease {lease_id}: revoke failed, removed anyway (forced): {e}");
                None
            }
            Err(e) => Some(e.to_string()),
        };
        let id = lease_id.to_string();
        let now = now_ns();
        self.storage
            .write(move |tx| {
                let Some(LeaseRecord::Secret(mut lease)) = tx.get::<LeaseRecord>(Tree::Leases, id.as_bytes())? else {
                    return Ok(());
                };
                let old_key = if lease.revoke.irrevocable {
                    expiry_key_at(NEVER, &id)
                } else {
                    expiry_key(lease.expire_time, &id)
                };
                tx.remove(Tree::LeaseExpiry, &old_key)?;
                match &failure {
                    None => {
                        tx.remove(Tree::Leases, id.as_bytes())?;
                        if let Some(token) = &lease.token_hash {
                            tx.remove(Tree::TokenLeases, &token_lease_key(token, &id))?;
                        }
                    }
                    Some(error) => {
                        lease.revoke.last_error = Some(error.clone());
                        if lease.revoke.attempts >= MAX_REVOKE_ATTEMPTS {
                            lease.revoke.irrevocable = true;
                            tx.put_raw(Tree::LeaseExpiry, &expiry_key_at(NEVER, &id), b"")?;
                        } else {
                            lease.expire_time = now.saturating_add(secs_ns(retry_delay(lease.revoke.attempts)));
                            tx.put_raw(Tree::LeaseExpiry, &expiry_key(lease.expire_time, &id), b"")?;
                        }
                        tx.put(Tree::Leases, id.as_bytes(), &LeaseRecord::Secret(lease))?;
                    }
                }
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        match outcome {
            Err(e) if !force => Err(CoreError::Internal(format!("failed to revoke lease {lease_id}: {e}"))),
            _ => Ok(()),
        }
    }

    /// Revoke secret leases whose time has come (a batch per call, oldest first): each through its backend, up to
    /// [`SWEEP_CONCURRENCY`] at a time, so one slow or hanging backend (bounded by the backend timeout) does not
    /// hold up the others and their durable writes share flushes. Returns how many were ended.
    pub async fn sweep_expired_leases(&self) -> Result<usize, CoreError> {
        use futures_util::StreamExt;
        let now = now_ns();
        let now_secs = (now / 1_000_000_000).max(0) as u64;
        let due = self
            .storage
            .keys_below(Tree::LeaseExpiry, &(now_secs + 1).to_be_bytes(), SWEEP_BATCH)?;
        let mut ids = Vec::with_capacity(due.len());
        for key in due {
            let id = String::from_utf8_lossy(&key[8..]).into_owned();
            let mut secs = [0u8; 8];
            secs.copy_from_slice(&key[..8]);
            let due_secs = u64::from_be_bytes(secs);
            if due_secs == now_secs {
                // Indexed under the current second: only if its time has come.
                match self.storage.get::<LeaseRecord>(Tree::Leases, id.as_bytes())? {
                    Some(LeaseRecord::Secret(lease)) if lease.expire_time > now => continue,
                    _ => {}
                }
            }
            ids.push((id, due_secs));
        }
        let ended = futures_util::stream::iter(ids)
            .map(|(id, due_secs)| async move {
                match self.revoke_secret(&id, false).await {
                    Ok(()) => {
                        self.count_lease_expirations(1);
                        // OpenBao's time from the lease's expiry to its revocation (the index keeps seconds).
                        let waited = now_ns().saturating_sub(due_secs.saturating_mul(1_000_000_000) as i64);
                        metrics::histogram!("vault.expire.lease_expiration.time_in_queue",
                            "cluster" => self.cluster_label(), "namespace" => "root")
                        .record(waited.max(0) as f64 / 1e6);
                        true
                    }
                    Err(e) => {
                        log::warn!("lease {id}: revocation failed, will retry: {e}");
                        metrics::counter!("vault.expire.lease_expiration.error",
                            "cluster" => self.cluster_label(), "namespace" => "root")
                        .increment(1);
                        false
                    }
                }
            })
            .buffer_unordered(SWEEP_CONCURRENCY)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        Ok(ended)
    }

    /// Start the expiration manager's worker on its own thread (not an HTTP worker's): it revokes expired tokens
    /// and secret leases in bounded batches, in expiry order, as long as any are due, then sleeps until the next
    /// second. It stops when the returned handle is dropped (after its current pass).
    pub fn start_expiry_worker(self: &Arc<Self>) -> ExpiryWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let (core, stopped) = (self.clone(), stop.clone());
        let spawned = std::thread::Builder::new().name("vault-expiry".into()).spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let mut revoked_since_trim = 0;
                while !stopped.load(Ordering::Relaxed) {
                    // An HA standby leaves expiry to the active server.
                    let revoked = if !core.is_sealed() && core.is_active() {
                        core.expiry_pass().await
                    } else {
                        0
                    };
                    revoked_since_trim += revoked;
                    if revoked == 0 && revoked_since_trim >= TRIM_AFTER_REVOKED {
                        // A mass expiry is over: what its revocations allocated is free again.
                        crate::memory::return_freed_memory();
                        revoked_since_trim = 0;
                    }
                    if revoked == 0 {
                        // Until just after the next whole second: the index is kept in seconds.
                        let into_second = now_ns().rem_euclid(1_000_000_000) as u64;
                        let wait = Duration::from_nanos(1_000_000_000 - into_second) + Duration::from_millis(5);
                        actix_web::rt::time::sleep(wait).await;
                    }
                }
            });
        });
        if let Err(e) = spawned {
            log::error!("the expiry worker could not start: {e}");
        }
        ExpiryWorker { stop }
    }

    /// One pass of the worker: how many tokens and leases it revoked (when any, it goes again at once).
    async fn expiry_pass(&self) -> usize {
        let tokens = match self.sweep_expired_tokens().await {
            Ok(n) => n,
            Err(e) => {
                log::warn!("token expiry failed: {e}");
                0
            }
        };
        if tokens > 0 {
            log::info!("expiry: revoked {tokens} expired token(s)");
        }
        let leases = match self.sweep_expired_leases().await {
            Ok(n) => n,
            Err(e) => {
                log::warn!("lease expiry failed: {e}");
                0
            }
        };
        if leases > 0 {
            log::info!("expiry: revoked {leases} expired lease(s)");
        }
        tokens + leases
    }

    /// Irrevocable secret leases: `(lease id, mount path, last error)`, in id order.
    pub fn irrevocable_leases(&self) -> Result<Vec<(String, String, String)>, CoreError> {
        let mut out = Vec::new();
        for key in self.storage.keys_with_prefix(Tree::LeaseExpiry, &NEVER.to_be_bytes())? {
            let id = String::from_utf8_lossy(&key[8..]).into_owned();
            if let Some(LeaseRecord::Secret(lease)) = self.storage.get::<LeaseRecord>(Tree::Leases, id.as_bytes())? {
                let mount = self
                    .router
                    .route(&lease.path)
                    .map(|(m, _)| m.path.clone())
                    .unwrap_or_default();
                out.push((id, mount, lease.revoke.last_error.unwrap_or_default()));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn expiry_key_at(secs: u64, lease_id: &str) -> Vec<u8> {
    let mut key = secs.to_be_bytes().to_vec();
    key.extend_from_slice(lease_id.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use crate::core::CoreSettings;
    use crate::logical::ClientToken;
    use crate::storage::Storage;

    struct Fixture {
        _dir: tempfile::TempDir,
        core: Core,
        root: String,
    }

    fn request(op: Operation, path: &str, data: Value, token: Option<&str>) -> Request {
        Request {
            id: "test".into(),
            operation: op,
            path: path.into(),
            data: data.as_object().cloned().unwrap_or_default(),
            client_token: token.map(ClientToken::new),
            wrap_ttl: None,
            remote_addr: None,
            remote_port: None,
            secret: None,
            headers: Default::default(),
        }
    }

    impl Fixture {
        /// A dev-initialized core on a temporary store, with the test-only leasing engine at `leasing/`.
        async fn new(timeout: Duration) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let storage = Arc::new(Storage::open(&dir.path().join("data")).unwrap());
            let settings = CoreSettings {
                lease_backend_timeout: timeout,
                ..CoreSettings::default()
            };
            let core = Core::new(storage, settings);
            let root = core.dev_init(None).await.unwrap().root_token.to_string();
            let f = Fixture { _dir: dir, core, root };
            f.call(Operation::Update, "sys/mounts/leasing", json!({"type": "test-leasing"}))
                .await
                .unwrap();
            f
        }

        async fn call(&self, op: Operation, path: &str, data: Value) -> Result<Response, CoreError> {
            self.call_as(&self.root.clone(), op, path, data).await
        }

        async fn call_as(&self, token: &str, op: Operation, path: &str, data: Value) -> Result<Response, CoreError> {
            self.core.handle_request(request(op, path, data, Some(token))).await
        }

        async fn behave(&self, behaviour: Value) {
            self.call(Operation::Update, "leasing/config", behaviour).await.unwrap();
        }

        async fn issue(&self, name: &str) -> Response {
            self.call(Operation::Read, &format!("leasing/creds/{name}"), json!({}))
                .await
                .unwrap()
        }

        async fn revoke_calls(&self, name: &str) -> u64 {
            let resp = self
                .call(Operation::Read, &format!("leasing/revoked/{name}"), json!({}))
                .await
                .unwrap();
            resp.data.unwrap()["count"].as_u64().unwrap()
        }

        fn lease_record(&self, id: &str) -> Option<SecretLease> {
            match self
                .core
                .storage
                .get::<LeaseRecord>(Tree::Leases, id.as_bytes())
                .unwrap()
            {
                Some(LeaseRecord::Secret(lease)) => Some(lease),
                _ => None,
            }
        }
    }

    /// The SDK's lifecycle hooks, seen through the test engine (its instance id and how often it was initialized).
    #[actix_web::test]
    async fn a_backend_is_initialized_once_before_serving_and_cleaned_up_once_when_it_stops() {
        use crate::builtin::secrets::leasing_test::CLEANED_UP;
        let cleaned = |id: u64| CLEANED_UP.lock().unwrap().iter().filter(|x| **x == id).count();
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        let instance = |resp: Response| {
            let d = resp.data.unwrap();
            (d["id"].as_u64().unwrap(), d["initialized"].as_u64().unwrap())
        };
        // Fixture::new already wrote leasing/config: initialize ran before that first request, once.
        let (first, initialized) = instance(f.call(Operation::Read, "leasing/instance", json!({})).await.unwrap());
        assert_eq!(initialized, 1);
        // A tune that keeps type and options keeps the instance: no second initialize, no cleanup.
        f.call(
            Operation::Update,
            "sys/mounts/leasing/tune",
            json!({"description": "x"}),
        )
        .await
        .unwrap();
        let (same, initialized) = instance(f.call(Operation::Read, "leasing/instance", json!({})).await.unwrap());
        assert_eq!((same, initialized), (first, 1));
        assert_eq!(cleaned(first), 0);
        // Unmounting ends it: cleaned up exactly once.
        f.call(Operation::Delete, "sys/mounts/leasing", json!({}))
            .await
            .unwrap();
        assert_eq!(cleaned(first), 1);
        // A new mount gets a new instance, initialized once; sealing cleans it up.
        f.call(Operation::Update, "sys/mounts/leasing", json!({"type": "test-leasing"}))
            .await
            .unwrap();
        let (second, initialized) = instance(f.call(Operation::Read, "leasing/instance", json!({})).await.unwrap());
        assert_ne!(second, first);
        assert_eq!(initialized, 1);
        f.core.seal();
        assert_eq!(cleaned(second), 1);
        assert_eq!(cleaned(first), 1);
    }

    #[actix_web::test]
    async fn a_secret_lease_is_issued_looked_up_renewed_and_revoked_once() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 60, "max_renew_secs": 30})).await;
        let resp = f.issue("alice").await;
        assert!(resp.lease_id.starts_with("leasing/creds/alice/"), "{}", resp.lease_id);
        assert_eq!(resp.lease_duration, 60);
        assert!(resp.renewable);
        assert_eq!(resp.data.as_ref().unwrap()["username"], json!("alice"));
        let id = resp.lease_id.clone();

        let view = f.core.lookup_lease(&id).unwrap();
        let data = view.lookup_data(now_ns());
        assert_eq!(data["path"], json!("leasing/creds/alice"));
        assert!(data["ttl"].as_u64().unwrap() > 55);
        assert_eq!(data["renewable"], json!(true));
        assert_eq!(data["last_renewal"], Value::Null);
        assert_eq!(f.core.list_leases("leasing/creds/alice/").unwrap().len(), 1);
        assert_eq!(f.core.list_leases("").unwrap(), vec!["leasing/".to_string()]);

        // The backend grants at most 30 s of the 120 asked.
        let renewed = f.core.renew_lease(&id, Duration::from_secs(120)).await.unwrap();
        assert_eq!(renewed.lease_id, id);
        assert_eq!(renewed.lease_duration, 30);
        let data = f.core.lookup_lease(&id).unwrap().lookup_data(now_ns());
        assert!(data["ttl"].as_u64().unwrap() <= 30);
        assert_ne!(data["last_renewal"], Value::Null);

        f.core.revoke_lease(&id).await.unwrap();
        assert_eq!(f.revoke_calls("alice").await, 1);
        assert!(f.core.lookup_lease(&id).is_err());
        assert!(f
            .core
            .storage
            .keys_with_prefix(Tree::LeaseExpiry, b"")
            .unwrap()
            .is_empty());
        // Revoking again is a no-op: the backend is not called twice.
        f.core.revoke_lease(&id).await.unwrap();
        assert_eq!(f.revoke_calls("alice").await, 1);
        let err = f.core.renew_lease(&id, Duration::ZERO).await.unwrap_err();
        assert_eq!(err.to_string(), "lease not found");
    }

    #[actix_web::test]
    async fn renewals_are_capped_at_the_mount_max_ttl_and_a_refusal_is_the_backends() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.call(
            Operation::Update,
            "sys/mounts/leasing/tune",
            json!({"max_lease_ttl": "90s"}),
        )
        .await
        .unwrap();
        f.behave(json!({"ttl_secs": 600})).await;
        let resp = f.issue("bob").await;
        assert_eq!(resp.lease_duration, 90, "the mount's max caps the first TTL");
        let renewed = f
            .core
            .renew_lease(&resp.lease_id, Duration::from_secs(3600))
            .await
            .unwrap();
        assert!(renewed.lease_duration <= 90);
        assert!(
            renewed.warnings.iter().any(|w| w.contains("capped")),
            "{:?}",
            renewed.warnings
        );
        f.behave(json!({"ttl_secs": 600, "fail_renew": true})).await;
        let err = f
            .core
            .renew_lease(&resp.lease_id, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "renewal refused by the backend");
    }

    #[actix_web::test]
    async fn a_failing_revoke_is_retried_then_irrevocable_until_forced() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 60, "fail_revoke": true})).await;
        let id = f.issue("carol").await.lease_id;
        for attempt in 1..=MAX_REVOKE_ATTEMPTS {
            let err = f.core.revoke_lease(&id).await.unwrap_err();
            assert!(matches!(err, CoreError::Internal(_)), "{err:?}");
            assert!(err.to_string().contains("database unreachable"), "{err}");
            let lease = f.lease_record(&id).expect("the lease stays");
            assert_eq!(lease.revoke.attempts, attempt);
            assert_eq!(lease.revoke.irrevocable, attempt == MAX_REVOKE_ATTEMPTS);
        }
        let listed = f.core.irrevocable_leases().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, id);
        assert_eq!(listed[0].1, "leasing/");
        assert!(listed[0].2.contains("database unreachable"));
        // Irrevocable leases are never due for the sweep.
        assert_eq!(f.core.sweep_expired_leases().await.unwrap(), 0);
        // revoke-force ends it without the backend.
        f.core.revoke_lease_prefix("leasing/creds", true).await.unwrap();
        assert!(f.lease_record(&id).is_none());
        assert!(f.core.irrevocable_leases().unwrap().is_empty());
        assert!(f
            .core
            .storage
            .keys_with_prefix(Tree::LeaseExpiry, b"")
            .unwrap()
            .is_empty());
        assert_eq!(f.revoke_calls("carol").await, 0);
    }

    #[actix_web::test]
    async fn a_failed_revoke_is_rescheduled_with_backoff() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 60, "fail_revoke": true})).await;
        let id = f.issue("dave").await.lease_id;
        let before = now_ns();
        f.core.revoke_lease(&id).await.unwrap_err();
        let lease = f.lease_record(&id).unwrap();
        // First retry: 2 x 10 s, plus or minus half.
        let wait = (lease.expire_time - before) as f64 / 1e9;
        assert!((9.9..=30.1).contains(&wait), "{wait}");
        let due = f.core.storage.keys_with_prefix(Tree::LeaseExpiry, b"").unwrap();
        assert_eq!(due, vec![expiry_key(lease.expire_time, &id)]);
    }

    #[actix_web::test]
    async fn expired_leases_are_revoked_by_the_sweep() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 1})).await;
        let long = {
            f.behave(json!({"ttl_secs": 3600})).await;
            f.issue("keeper").await.lease_id
        };
        f.behave(json!({"ttl_secs": 1})).await;
        for name in ["e1", "e2", "e3"] {
            f.issue(name).await;
        }
        assert_eq!(f.core.sweep_expired_leases().await.unwrap(), 0);
        actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(f.core.sweep_expired_leases().await.unwrap(), 3);
        for name in ["e1", "e2", "e3"] {
            assert_eq!(f.revoke_calls(name).await, 1, "{name}");
        }
        assert_eq!(f.revoke_calls("keeper").await, 0);
        assert!(f.lease_record(&long).is_some());
    }

    #[actix_web::test]
    async fn revoking_a_token_revokes_the_leases_it_created() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 3600})).await;
        let child = f.call(Operation::Update, "auth/token/create", json!({})).await.unwrap();
        let child = child.auth.unwrap().client_token.as_str().to_string();
        let id = f
            .call_as(&child, Operation::Read, "leasing/creds/erin", json!({}))
            .await
            .unwrap()
            .lease_id;
        let mine = f.issue("frank").await.lease_id;
        f.call(Operation::Update, "auth/token/revoke", json!({"token": child}))
            .await
            .unwrap();
        // Due now, in the token's own transaction; the next sweep revokes it through the backend.
        assert!(f.lease_record(&id).unwrap().expire_time <= now_ns());
        assert_eq!(f.core.sweep_expired_leases().await.unwrap(), 1);
        assert_eq!(f.revoke_calls("erin").await, 1);
        assert!(f.lease_record(&id).is_none());
        assert!(f.lease_record(&mine).is_some(), "the root token's lease stays");
        assert!(f.core.storage.keys_with_prefix(Tree::TokenLeases, b"").unwrap().len() == 1);
    }

    #[actix_web::test]
    async fn a_hanging_or_panicking_backend_is_a_failed_attempt_and_the_core_keeps_serving() {
        let f = Fixture::new(Duration::from_millis(300)).await;
        f.behave(json!({"ttl_secs": 60, "hang_revoke": true})).await;
        let hung = f.issue("gina").await.lease_id;
        let err = f.core.revoke_lease(&hung).await.unwrap_err();
        assert!(err.to_string().contains("did not answer the revoke"), "{err}");
        assert_eq!(f.lease_record(&hung).unwrap().revoke.attempts, 1);

        f.behave(json!({"ttl_secs": 60, "panic_revoke": true})).await;
        let panicked = f.issue("hank").await.lease_id;
        let err = f.core.revoke_lease(&panicked).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert_eq!(f.lease_record(&panicked).unwrap().revoke.attempts, 1);

        // Still serving, and the leases go once the backend recovers.
        f.behave(json!({"ttl_secs": 60})).await;
        f.core.revoke_lease(&hung).await.unwrap();
        f.core.revoke_lease(&panicked).await.unwrap();
        assert_eq!(f.revoke_calls("gina").await, 1);
        assert_eq!(f.revoke_calls("hank").await, 1);
    }

    #[actix_web::test]
    async fn concurrent_revocations_of_one_lease_call_the_backend_once() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 60})).await;
        let ids: Vec<String> = futures_util::future::join_all((0..10).map(|i| {
            let f = &f;
            async move { f.issue(&format!("u{i}")).await.lease_id }
        }))
        .await;
        let revocations = ids.iter().flat_map(|id| {
            let f = &f;
            [
                futures_util::future::Either::Left(async move { f.core.revoke_lease(id).await }),
                futures_util::future::Either::Right(async move {
                    f.core.revoke_lease_prefix("leasing/", false).await.map(|_| ())
                }),
            ]
        });
        for r in futures_util::future::join_all(revocations).await {
            r.unwrap();
        }
        for i in 0..10 {
            assert_eq!(f.revoke_calls(&format!("u{i}")).await, 1, "u{i}");
        }
    }

    #[actix_web::test]
    async fn unmounting_revokes_the_engines_leases_and_a_failure_refuses_it() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 60, "fail_revoke": true})).await;
        let id = f.issue("ivy").await.lease_id;
        let err = f
            .call(Operation::Delete, "sys/mounts/leasing", json!({}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("failed to revoke leases of leasing/"), "{err}");
        assert!(f.lease_record(&id).is_some());
        f.behave(json!({"ttl_secs": 60})).await;
        f.call(Operation::Delete, "sys/mounts/leasing", json!({}))
            .await
            .unwrap();
        assert!(f.lease_record(&id).is_none());
        assert!(f.core.list_leases("").unwrap().is_empty());
    }

    async fn create_token(f: &Fixture, as_token: &str, ttl: &str) -> String {
        let resp = f
            .call_as(as_token, Operation::Update, "auth/token/create", json!({"ttl": ttl}))
            .await
            .unwrap();
        resp.auth.unwrap().client_token.as_str().to_string()
    }

    /// The token sweep ends expired tokens in bounded batches (more than one here), each with its descendants,
    /// accessors, lease index entries and cubbyhole, and makes the secret leases they created due; it leaves tokens
    /// that have not expired, drops index keys of tokens that are gone, and counts each revoked token once.
    #[actix_web::test]
    async fn the_token_sweep_ends_expired_trees_in_batches_with_what_hangs_below_them() {
        let f = Fixture::new(DEFAULT_BACKEND_TIMEOUT).await;
        f.behave(json!({"ttl_secs": 3600})).await;
        let root = f.root.clone();
        let long = create_token(&f, &root, "1h").await;
        let mut expiring = Vec::new();
        for _ in 0..150 {
            expiring.push(create_token(&f, &root, "1s").await);
        }
        // Below one expiring token: a child that would live an hour, a secret lease the child created, a cubbyhole.
        let child = create_token(&f, &expiring[7], "1h").await;
        let lease = f
            .call_as(&child, Operation::Read, "leasing/creds/kid", json!({}))
            .await
            .unwrap()
            .lease_id;
        f.call_as(&expiring[7], Operation::Update, "cubbyhole/note", json!({"x": "y"}))
            .await
            .unwrap();
        assert!(!f
            .core
            .storage
            .keys_with_prefix(Tree::Cubbyhole, b"")
            .unwrap()
            .is_empty());
        // An index key whose token is gone (only damage leaves one).
        let stale = expiry_key_at(1, "not-a-token-hash-of-the-store");
        f.core
            .storage
            .write(move |tx: &crate::storage::Txn<()>| tx.put_raw(Tree::TokenExpiry, &stale, b""))
            .await
            .unwrap()
            .unwrap();
        let accessors_before = f.core.list_accessors().unwrap().len();
        assert_eq!(accessors_before, 1 + 1 + 150 + 1);
        actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
        let mut revoked = 0;
        loop {
            match f.core.sweep_expired_tokens().await.unwrap() {
                0 => break,
                n => revoked += n,
            }
        }
        assert_eq!(revoked, 151, "150 expired tokens and the child below one of them");
        assert_eq!(f.core.expired_token_count(), 151);
        assert_eq!(
            f.core.sweep_expired_tokens().await.unwrap(),
            0,
            "nothing left, counted once"
        );
        assert_eq!(
            f.core.list_accessors().unwrap().len(),
            2,
            "the root token and the long-lived one"
        );
        assert!(f.core.storage.keys_with_prefix(Tree::TokenExpiry, b"").unwrap().len() == 1);
        assert!(f
            .core
            .storage
            .keys_with_prefix(Tree::Cubbyhole, b"")
            .unwrap()
            .is_empty());
        assert!(f
            .core
            .storage
            .keys_with_prefix(Tree::TokenLeases, b"")
            .unwrap()
            .is_empty());
        for t in [&expiring[0], &expiring[149], &child] {
            let err = f
                .call_as(t, Operation::Read, "auth/token/lookup-self", json!({}))
                .await
                .unwrap_err();
            assert!(matches!(err, CoreError::PermissionDenied), "{err:?}");
        }
        f.call_as(&long, Operation::Read, "auth/token/lookup-self", json!({}))
            .await
            .unwrap();
        // Auth leases went with their tokens; the child's secret lease is due and the lease sweep revokes it once.
        assert_eq!(f.core.list_leases("auth/token/create/").unwrap().len(), 1);
        assert!(f.lease_record(&lease).unwrap().expire_time <= now_ns());
        assert_eq!(f.core.sweep_expired_leases().await.unwrap(), 1);
        assert_eq!(f.revoke_calls("kid").await, 1);
        assert!(f.lease_record(&lease).is_none());
    }

    /// A backend whose revoke hangs costs the sweep that lease only (until the backend timeout): the other due
    /// leases are revoked meanwhile, and the hung one stays, its attempt recorded, rescheduled for a retry.
    #[actix_web::test]
    async fn a_hanging_backend_does_not_hold_up_the_sweep_of_other_leases() {
        let f = Fixture::new(Duration::from_secs(4)).await;
        f.call(Operation::Update, "sys/mounts/other", json!({"type": "test-leasing"}))
            .await
            .unwrap();
        f.behave(json!({"ttl_secs": 1, "hang_revoke": true})).await;
        f.call(Operation::Update, "other/config", json!({"ttl_secs": 1}))
            .await
            .unwrap();
        let hung = f.issue("stuck").await.lease_id;
        let mut others = Vec::new();
        for i in 0..5 {
            let resp = f
                .call(Operation::Read, &format!("other/creds/o{i}"), json!({}))
                .await
                .unwrap();
            others.push(resp.lease_id);
        }
        actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
        let started = std::time::Instant::now();
        let check = async {
            // Well before the hung revoke times out, the others are gone.
            actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
            others.iter().filter(|id| f.lease_record(id).is_some()).count()
        };
        let (ended, left_meanwhile) = futures_util::future::join(f.core.sweep_expired_leases(), check).await;
        assert_eq!(left_meanwhile, 0, "the other leases waited for the hung revoke");
        assert_eq!(ended.unwrap(), 5);
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "the hung revoke ran into its timeout"
        );
        let lease = f.lease_record(&hung).expect("the hung lease stays");
        assert_eq!(lease.revoke.attempts, 1);
        assert!(lease.revoke.last_error.unwrap().contains("did not answer the revoke"));
        assert!(lease.expire_time > now_ns(), "rescheduled");
        // And the server keeps answering.
        f.call(Operation::Read, "other/creds/later", json!({})).await.unwrap();
    }

    #[test]
    fn relative_lease_ids_are_refused_with_openbao_text() {
        let err = check_relative("auth/../x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to read lease entry auth/../x: relative paths not supported"
        );
        assert!(check_relative("auth/token/create/h00").is_ok());
        assert!(check_relative("a/..b/c").is_ok());
    }
}
