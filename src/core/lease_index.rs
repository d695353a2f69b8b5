//! The lease index (`Tree::Leases`): lease id -> what the lease is, with the secret leases' expiry index
//! (`Tree::LeaseExpiry`) and the token -> secret leases index (`Tree::TokenLeases`). Shared by the token store,
//! which writes each token's auth lease in the token's own transaction and, when a token goes, marks the secret
//! leases it created for revocation in that same transaction, and the expiration manager (`core::expiration`),
//! which looks leases up, lists them by prefix and ends them. A leaf module, so neither depends on the other.

use serde::{Deserialize, Serialize};

use crate::storage::{Tree, TxError, Txn};

/// The auth lease id of a token: OpenBao's form, `<creation path>/h<hex of the salted token hash>`.
pub fn token_lease_id(path: &str, hash: &[u8]) -> String {
    format!("{}/h{}", path.trim_end_matches('/'), hex::encode(hash))
}

/// A record of the lease index. Stored with bincode: variants and fields are positional, so new ones go at the end.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum LeaseRecord {
    /// A token's auth lease: the token entry holds its times; this points at it.
    Token { hash: Vec<u8> },
    /// A secret's lease: the whole record.
    Secret(SecretLease),
}

/// How far the revocation of a secret lease got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokeState {
    /// Backend revoke calls started (recorded before each call).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Given up after the maximum number of attempts: kept, listed, until `revoke-force`.
    pub irrevocable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretLease {
    /// The request path that created it (mount path included).
    pub path: String,
    /// The mount that issued it: its revoke goes there, and only while the same mount (by uuid) serves the path.
    pub mount_uuid: String,
    /// Unix nanoseconds.
    pub issue_time: i64,
    pub last_renewal: Option<i64>,
    pub expire_time: i64,
    pub renewable: bool,
    /// The token that created it; revoking that token revokes this lease.
    pub token_hash: Option<Vec<u8>>,
    /// The secret's response data and its internal data, as JSON text (given back to the backend).
    pub data: String,
    pub internal_data: String,
    pub revoke: RevokeState,
}

/// A key of `Tree::LeaseExpiry`: expiry (u64 BE Unix seconds) ++ lease id, so a scan reads leases in time order.
pub fn expiry_key(expire_ns: i64, lease_id: &str) -> Vec<u8> {
    let secs = (expire_ns / 1_000_000_000).max(0) as u64;
    let mut key = secs.to_be_bytes().to_vec();
    key.extend_from_slice(lease_id.as_bytes());
    key
}

/// A key of `Tree::TokenLeases`: token hash ++ lease id.
pub fn token_lease_key(token_hash: &[u8], lease_id: &str) -> Vec<u8> {
    let mut key = token_hash.to_vec();
    key.extend_from_slice(lease_id.as_bytes());
    key
}

/// In the caller's transaction: make a secret lease due now, so the expiration manager revokes it next (a token
/// going away takes the leases it created with it). An unknown or irrevocable lease is left as it is.
pub fn expire_now<E>(tx: &Txn<E>, lease_id: &str, now_ns: i64) -> Result<(), TxError<E>> {
    let Some(LeaseRecord::Secret(mut lease)) = tx.get::<LeaseRecord>(Tree::Leases, lease_id.as_bytes())? else {
        return Ok(());
    };
    if lease.revoke.irrevocable || lease.expire_time <= now_ns {
        return Ok(());
    }
    tx.remove(Tree::LeaseExpiry, &expiry_key(lease.expire_time, lease_id))?;
    lease.expire_time = now_ns;
    tx.put_raw(Tree::LeaseExpiry, &expiry_key(now_ns, lease_id), b"")?;
    tx.put(Tree::Leases, lease_id.as_bytes(), &LeaseRecord::Secret(lease))?;
    Ok(())
}
