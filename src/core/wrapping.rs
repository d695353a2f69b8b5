//! Response wrapping. Wrap, unwrap and rewrap are each ONE storage transaction: the wrapping token, its accessor
//! and expiry index entries, the stored response and (when used) the tombstone change together or not at all, so
//! there is never a moment where both or neither of a rewrap's tokens is valid, and of N concurrent unwraps
//! exactly one succeeds. Each is durable (flushed) before it is answered.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Core, CoreError, Operation, Request, Response};
use crate::core::token_store::token::{self, TokenEntry};
use crate::policy::RESPONSE_WRAPPING_POLICY_NAME;
use crate::storage::{Tree, TxError, Txn};

pub const INVALID_WRAPPING_TOKEN: &str = "wrapping token is not valid or does not exist";
pub const EMPTY_WRAPPING_TOKEN: &str = "error validating wrapping token: token is empty";
const UNWRAP_PATH: &str = "sys/wrapping/unwrap";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WrappedResponse {
    /// The response as JSON (`data`, `auth`, `warnings`, lease fields).
    pub response: String,
    /// Unix nanoseconds.
    pub creation_time: i64,
    pub creation_ttl: u64,
    pub creation_path: String,
    pub wrapped_accessor: Option<String>,
}

/// What is left of a used, rewrapped, revoked or expired wrapping token: never the response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tombstone {
    /// "unwrapped", "rewrapped", "revoked" or "expired".
    pub state: String,
    /// Unix nanoseconds.
    pub at: i64,
    pub accessor: String,
    pub creation_path: String,
}

fn invalid() -> CoreError {
    CoreError::InvalidRequest(INVALID_WRAPPING_TOKEN.into())
}

fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn rfc3339_ns(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn response_to_json(resp: &Response) -> String {
    json!({
        "data": resp.data,
        "auth": resp.auth,
        "warnings": resp.warnings,
        "lease_id": resp.lease_id,
        "lease_duration": resp.lease_duration,
        "renewable": resp.renewable,
    })
    .to_string()
}

fn response_from_json(text: &str) -> Result<Response, CoreError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| CoreError::Storage(crate::storage::StorageError::Codec(e.to_string())))?;
    Ok(Response {
        data: v["data"].as_object().cloned(),
        auth: match &v["auth"] {
            Value::Null => None,
            auth => Some(
                serde_json::from_value(auth.clone())
                    .map_err(|e| CoreError::Storage(crate::storage::StorageError::Codec(e.to_string())))?,
            ),
        },
        warnings: v["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        lease_id: v["lease_id"].as_str().unwrap_or_default().to_string(),
        lease_duration: v["lease_duration"].as_i64().unwrap_or(0),
        renewable: v["renewable"].as_bool().unwrap_or(false),
        ..Default::default()
    })
}

/// Is this a live wrapping token with a stored response?
fn is_valid_wrapping(entry: &TokenEntry, now: i64) -> bool {
    entry.policies.len() == 1
        && entry.policies[0] == RESPONSE_WRAPPING_POLICY_NAME
        && entry.num_uses == 1
        && !entry.expired_at(now)
}

fn purge_key(purge_at_secs: u64, hash: &[u8]) -> Vec<u8> {
    let mut key = purge_at_secs.to_be_bytes().to_vec();
    key.extend_from_slice(hash);
    key
}

/// Called for every token leaving the store, inside its transaction: a wrapping token's response is deleted and a
/// tombstone (with its purge index entry) takes its place.
pub fn bury<E>(tx: &Txn<E>, hash: &[u8], entry: &TokenEntry, ctx: token::RemovalContext) -> Result<(), TxError<E>> {
    let Some(record) = tx.get::<WrappedResponse>(Tree::WrappedResponses, hash)? else {
        return Ok(());
    };
    tx.remove(Tree::WrappedResponses, hash)?;
    let stone = Tombstone {
        state: ctx.why.as_str().into(),
        at: ctx.now,
        accessor: entry.accessor.clone(),
        creation_path: record.creation_path,
    };
    let purge_at = (ctx.now / 1_000_000_000).max(0) as u64 + ctx.tombstone_retention_secs;
    tx.put(Tree::WrapTombstones, hash, &stone)?;
    tx.put_raw(Tree::WrapTombstonePurge, &purge_key(purge_at, hash), b"")
}

/// A fresh wrapping token, not yet stored.
struct NewWrappingToken {
    id: zeroize::Zeroizing<String>,
    hash: Vec<u8>,
    entry: TokenEntry,
}

fn wrap_info(token: &NewWrappingToken, record: &WrappedResponse) -> Value {
    let mut info = json!({
        "token": token.id.as_str(),
        "accessor": token.entry.accessor,
        "ttl": record.creation_ttl,
        "creation_time": rfc3339_ns(record.creation_time),
        "creation_path": record.creation_path,
    });
    if let Some(accessor) = &record.wrapped_accessor {
        info["wrapped_accessor"] = json!(accessor);
    }
    info
}

impl Core {
    fn new_wrapping_token(&self, ttl: u64, creation_path: &str, now: i64) -> Result<NewWrappingToken, CoreError> {
        let id = token::generate_token_id();
        let hash = self.unsealed()?.token_salt.hash(&id);
        let entry = TokenEntry {
            accessor: token::generate_accessor(),
            parent: None,
            policies: vec![RESPONSE_WRAPPING_POLICY_NAME.into()],
            meta: Default::default(),
            display_name: "token".into(),
            path: creation_path.to_string(),
            issue_time: now,
            last_renewal: now,
            ttl,
            creation_ttl: ttl,
            explicit_max_ttl: ttl,
            period: 0,
            num_uses: 1,
            renewable: false,
            renewed: false,
            role: None,
            bound_cidrs: Vec::new(),
        };
        Ok(NewWrappingToken { id, hash, entry })
    }

    /// Wrap a response: a new single-use token and the stored response, in one transaction.
    pub async fn wrap_response(
        &self,
        resp: Response,
        ttl: Duration,
        creation_path: &str,
    ) -> Result<Response, CoreError> {
        let now = now_ns();
        let token = self.new_wrapping_token(ttl.as_secs().max(1), creation_path, now)?;
        let record = WrappedResponse {
            response: response_to_json(&resp),
            creation_time: now,
            creation_ttl: token.entry.ttl,
            creation_path: creation_path.to_string(),
            wrapped_accessor: match &resp.auth {
                Some(auth) => Some(auth.accessor.clone()),
                None => resp.wrapped_accessor.clone(),
            },
        };
        let info = wrap_info(&token, &record);
        let (hash, entry) = (token.hash.clone(), token.entry.clone());
        self.storage
            .write(move |tx| {
                token::insert(tx, &hash, &entry)?;
                tx.put(Tree::WrappedResponses, &hash, &record)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        Ok(Response {
            wrap_info: Some(info),
            ..Default::default()
        })
    }

    fn wrapping_hash(&self, token_id: &str) -> Result<Vec<u8>, CoreError> {
        if token_id.is_empty() {
            return Err(CoreError::Forbidden(EMPTY_WRAPPING_TOKEN.into()));
        }
        Ok(self.unsealed()?.token_salt.hash(token_id))
    }

    /// `sys/wrapping/lookup`: creation info; never consumes the token.
    pub fn lookup_wrapping(&self, token_id: &str) -> Result<Response, CoreError> {
        let hash = self.wrapping_hash(token_id)?;
        let entry = self
            .storage
            .get::<TokenEntry>(Tree::Tokens, &hash)?
            .filter(|e| is_valid_wrapping(e, now_ns()));
        let Some(_) = entry else {
            return Err(self.note_reuse(&hash, "sys/wrapping/lookup", invalid()));
        };
        let record: WrappedResponse = self.storage.get(Tree::WrappedResponses, &hash)?.ok_or_else(invalid)?;
        let mut data = Map::new();
        data.insert("creation_path".into(), json!(record.creation_path));
        data.insert("creation_time".into(), json!(rfc3339_ns(record.creation_time)));
        data.insert("creation_ttl".into(), json!(record.creation_ttl));
        Ok(Response::with_data(data))
    }

    /// `sys/wrapping/unwrap`: the original response, exactly once. With `rewrap_ttl` (the caller asked for a wrapped
    /// answer) the response never leaves the store: it is wrapped again under a new token whose creation path is
    /// `sys/wrapping/unwrap`, in the same transaction that uses up the old one, as OpenBao answers.
    pub async fn unwrap_token(&self, token_id: &str, rewrap_ttl: Option<Duration>) -> Result<Response, CoreError> {
        if let Some(ttl) = rewrap_ttl {
            let ttl = ttl.as_secs().max(1);
            return self
                .move_wrapped(token_id, token::Removal::Unwrapped, UNWRAP_PATH, move |old, now| {
                    WrappedResponse {
                        response: old.response,
                        creation_time: now,
                        creation_ttl: ttl,
                        creation_path: UNWRAP_PATH.into(),
                        // What is wrapped now is the unwrap's answer, not a token's creation (OpenBao names no
                        // wrapped accessor here either).
                        wrapped_accessor: None,
                    }
                })
                .await;
        }
        let hash = self.wrapping_hash(token_id)?;
        let ctx = self.removal(token::Removal::Unwrapped);
        let tx_hash = hash.clone();
        let record = self
            .storage
            .write(move |tx| {
                let hash = &tx_hash;
                let entry: TokenEntry = tx.get(Tree::Tokens, hash)?.ok_or(TxError::Abort(invalid()))?;
                if !is_valid_wrapping(&entry, ctx.now) {
                    return Err(TxError::Abort(invalid()));
                }
                let record: WrappedResponse = tx.get(Tree::WrappedResponses, hash)?.ok_or(TxError::Abort(invalid()))?;
                token::remove(tx, hash, &[], ctx)?;
                Ok(record)
            })
            .await?
            .map_err(|e| self.note_reuse(&hash, UNWRAP_PATH, e))?;
        response_from_json(&record.response)
    }

    /// `sys/wrapping/rewrap`: a new token with the same response, creation path and TTL; the old one is gone in
    /// the same transaction.
    pub async fn rewrap_token(&self, token_id: &str) -> Result<Response, CoreError> {
        self.move_wrapped(
            token_id,
            token::Removal::Rewrapped,
            "sys/wrapping/rewrap",
            |old, now| WrappedResponse {
                creation_time: now,
                ..old
            },
        )
        .await
    }

    /// Move a wrapped response from a valid wrapping token to a new one, in one transaction: the old token is
    /// removed (`removal` says why, for its tombstone) and the new token and its record (`record` made from the old
    /// record and the time) are stored. `path` names the endpoint in the reuse warning.
    async fn move_wrapped(
        &self,
        token_id: &str,
        removal: token::Removal,
        path: &'static str,
        record: impl Fn(WrappedResponse, i64) -> WrappedResponse + Send + 'static,
    ) -> Result<Response, CoreError> {
        let old_hash = self.wrapping_hash(token_id)?;
        let ctx = self.removal(removal);
        let now = ctx.now;
        let reuse_hash = old_hash.clone();
        // The new token's id is drawn before the transaction (its closure may run more than once); its TTL and
        // creation path are the new record's, fixed inside.
        let fresh = self.new_wrapping_token(1, "", now)?;
        let (new_hash, template) = (fresh.hash.clone(), fresh.entry.clone());
        let (record, entry) = self
            .storage
            .write(move |tx| {
                let old: TokenEntry = tx.get(Tree::Tokens, &old_hash)?.ok_or(TxError::Abort(invalid()))?;
                if !is_valid_wrapping(&old, now) {
                    return Err(TxError::Abort(invalid()));
                }
                let old_record: WrappedResponse = tx
                    .get(Tree::WrappedResponses, &old_hash)?
                    .ok_or(TxError::Abort(invalid()))?;
                let record = record(old_record, now);
                let mut entry = template.clone();
                entry.ttl = record.creation_ttl;
                entry.creation_ttl = record.creation_ttl;
                entry.explicit_max_ttl = record.creation_ttl;
                entry.path = record.creation_path.clone();
                token::remove(tx, &old_hash, &[], ctx)?;
                token::insert(tx, &new_hash, &entry)?;
                tx.put(Tree::WrappedResponses, &new_hash, &record)?;
                Ok((record, entry))
            })
            .await?
            .map_err(|e| self.note_reuse(&reuse_hash, path, e))?;
        let token = NewWrappingToken { entry, ..fresh };
        Ok(Response {
            wrap_info: Some(wrap_info(&token, &record)),
            ..Default::default()
        })
    }

    /// An invalid wrapping token that left a tombstone is being used again: the same 400 for the caller, but a
    /// warning and a counted event for operators (someone may have intercepted the token).
    fn note_reuse(&self, hash: &[u8], path: &str, error: CoreError) -> CoreError {
        if let Ok(Some(stone)) = self.storage.get::<Tombstone>(Tree::WrapTombstones, hash) {
            self.wrapping_reuse_events
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log::warn!(
                "wrapping token reuse: {path} with a token that was already {} at {} (accessor {}, creation path {})",
                stone.state,
                rfc3339_ns(stone.at),
                stone.accessor,
                stone.creation_path
            );
        }
        error
    }

    /// How many times a tombstoned wrapping token was presented since start.
    pub fn wrapping_reuse_count(&self) -> u64 {
        self.wrapping_reuse_events.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Drop tombstones past their retention. Returns how many.
    /// A create or update of `cubbyhole/response` by a wrapping token whose wrapped response is still stored.
    pub fn is_wrapped_response_write(&self, token_hash: &[u8], req: &Request) -> Result<bool, CoreError> {
        Ok(matches!(req.operation, Operation::Create | Operation::Update)
            && req.path == "cubbyhole/response"
            && self.storage.get_raw(Tree::WrappedResponses, token_hash)?.is_some())
    }

    pub async fn purge_wrap_tombstones(&self) -> Result<usize, CoreError> {
        let now_secs = (now_ns() / 1_000_000_000).max(0) as u64 + 1;
        let due = self
            .storage
            .keys_below(Tree::WrapTombstonePurge, &now_secs.to_be_bytes(), 1000)?;
        let count = due.len();
        if count > 0 {
            self.storage
                .write(move |tx| {
                    for key in &due {
                        tx.remove(Tree::WrapTombstonePurge, key)?;
                        tx.remove(Tree::WrapTombstones, &key[8..])?;
                    }
                    Ok::<_, TxError<CoreError>>(())
                })
                .await??;
        }
        Ok(count)
    }
}
