//! Shamir seal: the unseal key that opens the root key is split into shares at init and never stored. Shares use
//! Vault's layout (the x coordinate in the last byte); a single share is the unseal key itself, as in Vault.
//! Auto-unseal seals (`static`, `transit`) are in `auto`.

pub mod auto;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::storage::{SecretKey, KEY_LEN};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("invalid seal configuration: {0}")]
    InvalidConfig(&'static str),
    #[error("'key' must be a valid hex or base64 string")]
    KeyEncoding,
    #[error("invalid key: key is shorter than minimum 16 bytes")]
    KeyTooShort,
    #[error("invalid key: key is longer than maximum 33 bytes")]
    KeyTooLong,
    #[error("unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed")]
    WrongKey,
    #[error("invalid key: failed to compute combined key: all parts must be the same length")]
    SharesDifferInLength,
    #[error("invalid key: failed to setup unseal key: crypto/aes: invalid key size {0}")]
    WrongKeySize(usize),
    #[error("the seal is unavailable: {0}")]
    Unavailable(String),
    #[error("the stored seal blob is malformed")]
    BlobMalformed,
    #[error("the stored root key was sealed by a {0:?} seal, not the configured one")]
    WrongSealType(String),
    #[error("the stored root key was sealed under key id {0:?}, which the seal configuration does not have")]
    UnknownKeyId(String),
    #[error("the seal key does not open the stored root key (message authentication failed)")]
    SealKeyMismatch,
}

/// Stored in the plain `meta` tree: sealed servers report it in `sys/seal-status`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    pub secret_shares: u32,
    pub secret_threshold: u32,
}

impl SealConfig {
    pub fn validate(&self) -> Result<(), SealError> {
        if self.secret_shares < 1 {
            return Err(SealError::InvalidConfig("shares must be at least one"));
        }
        if self.secret_threshold < 1 {
            return Err(SealError::InvalidConfig("threshold must be at least one"));
        }
        if self.secret_shares > 1 && self.secret_threshold == 1 {
            return Err(SealError::InvalidConfig(
                "threshold must be greater than one for multiple shares",
            ));
        }
        if self.secret_shares > 255 {
            return Err(SealError::InvalidConfig("shares must be less than 256"));
        }
        if self.secret_threshold > self.secret_shares {
            return Err(SealError::InvalidConfig("threshold cannot be larger than shares"));
        }
        Ok(())
    }
}

pub type Share = Zeroizing<Vec<u8>>;

/// Split the root key into `shares` shares, any `threshold` of which recover it.
pub fn split(root_key: &SecretKey, config: SealConfig) -> Result<Vec<Share>, SealError> {
    config.validate()?;
    if config.secret_shares == 1 {
        return Ok(vec![Zeroizing::new(root_key.to_vec())]);
    }
    let shares = vsss_rs::Gf256::split_bytes(
        config.secret_threshold as usize,
        config.secret_shares as usize,
        &root_key[..],
        rand::rng(),
    )
    .map_err(|_| SealError::InvalidConfig("unable to split the root key"))?;
    Ok(shares
        .into_iter()
        .map(|mut share| {
            // vsss-rs puts x first; Vault puts it last.
            share.rotate_left(1);
            Zeroizing::new(share)
        })
        .collect())
}

/// Recombine shares. With fewer than the threshold this yields a wrong key, which the keyring's GCM tag rejects.
pub fn combine(shares: &[Share]) -> Result<SecretKey, SealError> {
    if shares.windows(2).any(|w| w[0].len() != w[1].len()) {
        return Err(SealError::SharesDifferInLength);
    }
    if shares.len() == 1 && shares[0].len() != KEY_LEN {
        return Err(SealError::WrongKeySize(shares[0].len()));
    }
    let bytes: Zeroizing<Vec<u8>> = if shares.len() == 1 {
        Zeroizing::new(shares[0].to_vec())
    } else {
        let vsss: Vec<Vec<u8>> = shares
            .iter()
            .map(|s| {
                let mut v = s.to_vec();
                v.rotate_right(1);
                v
            })
            .collect();
        let combined = vsss_rs::Gf256::combine_bytes(&vsss);
        for mut v in vsss {
            zeroize::Zeroize::zeroize(&mut v);
        }
        Zeroizing::new(combined.map_err(|_| SealError::WrongKey)?)
    };
    if bytes.len() != KEY_LEN {
        return Err(SealError::WrongKey);
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Decode an unseal key given as hex or base64, with Vault's length limits.
pub fn parse_key(text: &str) -> Result<Share, SealError> {
    use base64::Engine;
    let text = text.trim();
    let bytes = match hex::decode(text) {
        Ok(b) => b,
        Err(_) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| SealError::KeyEncoding)?,
    };
    let bytes = Zeroizing::new(bytes);
    if bytes.len() < 16 {
        return Err(SealError::KeyTooShort);
    }
    if bytes.len() > 33 {
        return Err(SealError::KeyTooLong);
    }
    Ok(bytes)
}

/// Constant-time equality of two keys.
pub fn keys_equal(a: &SecretKey, b: &SecretKey) -> bool {
    bool::from(a[..].ct_eq(&b[..]))
}

/// True when `share` is already among `collected` (constant-time per comparison).
pub fn contains_share(collected: &[Share], share: &[u8]) -> bool {
    collected
        .iter()
        .any(|s| s.len() == share.len() && bool::from(s.as_slice().ct_eq(share)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::barrier::random_key;

    #[test]
    fn split_and_combine_every_subset() {
        let root = random_key();
        let shares = split(
            &root,
            SealConfig {
                secret_shares: 5,
                secret_threshold: 3,
            },
        )
        .unwrap();
        assert_eq!(shares.len(), 5);
        assert!(shares.iter().all(|s| s.len() == 33));
        for a in 0..5 {
            for b in a + 1..5 {
                for c in b + 1..5 {
                    let subset = vec![shares[a].clone(), shares[b].clone(), shares[c].clone()];
                    assert_eq!(*combine(&subset).unwrap(), *root);
                }
            }
        }
        let two = vec![shares[0].clone(), shares[1].clone()];
        assert_ne!(combine(&two).map(|k| *k).unwrap_or([0; 32]), *root);
    }

    #[test]
    fn single_share_is_the_key() {
        let root = random_key();
        let shares = split(
            &root,
            SealConfig {
                secret_shares: 1,
                secret_threshold: 1,
            },
        )
        .unwrap();
        assert_eq!(&shares[0][..], &root[..]);
        assert_eq!(*combine(&shares).unwrap(), *root);
    }

    #[test]
    fn config_rules() {
        let c = |n, t| {
            SealConfig {
                secret_shares: n,
                secret_threshold: t,
            }
            .validate()
        };
        assert!(c(0, 0).is_err());
        assert_eq!(
            c(3, 5).unwrap_err().to_string(),
            "invalid seal configuration: threshold cannot be larger than shares"
        );
        assert!(c(3, 1).is_err());
        assert!(c(1, 1).is_ok());
        assert!(c(5, 3).is_ok());
    }

    #[test]
    fn key_parsing() {
        assert_eq!(parse_key("zz").unwrap_err(), SealError::KeyEncoding);
        assert_eq!(parse_key("abcd").unwrap_err(), SealError::KeyTooShort);
        assert_eq!(parse_key(&"ab".repeat(34)).unwrap_err(), SealError::KeyTooLong);
        assert_eq!(parse_key(&"ab".repeat(33)).unwrap().len(), 33);
        assert_eq!(
            parse_key("lTSXufp0JH+Qs/k3ZAMpLTO9STc/9sw5zQLe8Wqyt576").unwrap().len(),
            33
        );
    }
}
