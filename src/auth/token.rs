//! Token records. Tokens are stored under a salted HMAC of their id, never in clear, with an accessor index
//! written in the same transaction. (The full token store API arrives with the token/policy issue.)

use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::storage::{Tree, TxError, Txn, KEY_LEN};

/// Prefix of service tokens, as OpenBao issues them.
pub const SERVICE_TOKEN_PREFIX: &str = "s.";
const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenEntry {
    pub accessor: String,
    pub policies: Vec<String>,
    pub path: String,
    pub display_name: String,
    /// Unix seconds.
    pub creation_time: i64,
    /// Seconds; 0 means no expiry (root tokens).
    pub ttl: u64,
    pub num_uses: u64,
}

impl TokenEntry {
    pub fn root(accessor: String, now: i64) -> Self {
        TokenEntry {
            accessor,
            policies: vec!["root".into()],
            path: "auth/token/root".into(),
            display_name: "root".into(),
            creation_time: now,
            ttl: 0,
            num_uses: 0,
        }
    }

    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    pub fn expired_at(&self, now: i64) -> bool {
        self.ttl > 0 && now >= self.creation_time.saturating_add(self.ttl as i64)
    }
}

/// Insert a token and its accessor index in the caller's transaction.
pub fn insert<E>(tx: &Txn<E>, token_hash: &[u8], entry: &TokenEntry) -> Result<(), TxError<E>> {
    tx.put(Tree::Tokens, token_hash, entry)?;
    tx.put_raw(Tree::TokenAccessors, entry.accessor.as_bytes(), token_hash)?;
    Ok(())
}
