//! The encryption barrier: every value stored outside the plain `meta` tree is sealed with AES-256-GCM under the
//! active key of the keyring. The tree name and the key are the associated data, so a ciphertext copied to another
//! key or tree fails to decrypt instead of answering with the wrong secret.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Layout version of one sealed value: `[VERSION][term: u32 BE][nonce: 12][ciphertext + tag]`.
const CIPHERTEXT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BarrierError {
    #[error("stored value failed its integrity check (wrong key or corrupted data)")]
    Integrity,
    #[error("stored value was sealed under unknown key term {0}")]
    UnknownTerm(u32),
    #[error("encryption failed")]
    Encrypt,
}

/// A 256-bit key that is wiped from memory when dropped.
pub type SecretKey = Zeroizing<[u8; KEY_LEN]>;

pub fn random_key() -> SecretKey {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::fill(&mut key[..]);
    key
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Associated data binding a ciphertext to where it is stored.
pub fn aad(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(tree.len() + 1 + key.len());
    aad.extend_from_slice(tree.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
    aad
}

/// Seal `plaintext` with a single key (used for the keyring itself, under the root key).
pub fn seal_with(key: &[u8; KEY_LEN], term: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| BarrierError::Encrypt)?;
    seal_with_cipher(&cipher, term, aad, plaintext)
}

/// Open a value sealed by [`seal_with`] under `key`.
pub fn open_with(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| BarrierError::Encrypt)?;
    let (_, nonce, body) = split_header(sealed)?;
    open_with_cipher(&cipher, nonce, aad, body)
}

fn seal_with_cipher(cipher: &Aes256Gcm, term: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
    let mut nonce_bytes = [0u8; NONCE_LEN];
    rand::fill(&mut nonce_bytes);
    let nonce = Nonce::from(nonce_bytes);
    let body = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .map_err(|_| BarrierError::Encrypt)?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(CIPHERTEXT_VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&body);
    Ok(out)
}

fn split_header(sealed: &[u8]) -> Result<(u32, [u8; NONCE_LEN], &[u8]), BarrierError> {
    if sealed.len() < HEADER_LEN + 16 || sealed[0] != CIPHERTEXT_VERSION {
        return Err(BarrierError::Integrity);
    }
    let term = u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[5..HEADER_LEN]);
    Ok((term, nonce, &sealed[HEADER_LEN..]))
}

fn open_with_cipher(
    cipher: &Aes256Gcm,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| BarrierError::Integrity)
}

/// The data-encryption keys, by term. New values are sealed under the active (highest) term; older terms stay
/// readable so a key rotation never needs a stop-the-world rewrite.
pub struct Keyring {
    active_term: u32,
    keys: BTreeMap<u32, SecretKey>,
    ciphers: BTreeMap<u32, Aes256Gcm>,
    /// When each term was installed (Unix nanoseconds; 0 when unknown: keyrings written before install times were).
    install_times: BTreeMap<u32, i64>,
    /// Values sealed under the active term by this process since the keyring was loaded (see `sys/key-status`).
    encryptions: AtomicU64,
}

/// Serialized keyring of the first format (no install times); still read, never written.
#[derive(Serialize, Deserialize)]
struct KeyringRecordV1 {
    active_term: u32,
    keys: Vec<(u32, [u8; KEY_LEN])>,
}

impl Drop for KeyringRecordV1 {
    fn drop(&mut self) {
        for (_, key) in self.keys.iter_mut() {
            key.zeroize();
        }
    }
}

/// Prefix of a serialized [`KeyringRecordV2`]. A first-format record starts with its active term (u32 LE), which
/// would have to be 0x3252_4b00 or more to look like this.
const KEYRING_V2_MAGIC: &[u8; 4] = b"\0KR2";

/// Serialized keyring with each term's install time; only ever exists inside a zeroizing buffer or sealed under the
/// root key.
#[derive(Serialize, Deserialize)]
struct KeyringRecordV2 {
    active_term: u32,
    /// (term, key, install time in Unix nanoseconds)
    keys: Vec<(u32, [u8; KEY_LEN], i64)>,
}

impl Drop for KeyringRecordV2 {
    fn drop(&mut self) {
        for (_, key, _) in self.keys.iter_mut() {
            key.zeroize();
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active_term", &self.active_term)
            .field("terms", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A fresh keyring with one random key at term 1.
    pub fn generate() -> Self {
        let mut keyring = Keyring::empty();
        keyring.add_term(1, random_key(), now_ns());
        keyring
    }

    fn empty() -> Self {
        Keyring {
            active_term: 0,
            keys: BTreeMap::new(),
            ciphers: BTreeMap::new(),
            install_times: BTreeMap::new(),
            encryptions: AtomicU64::new(0),
        }
    }

    fn add_term(&mut self, term: u32, key: SecretKey, installed_ns: i64) {
        // A 32-byte key is always a valid AES-256 key, so this cannot fail.
        if let Ok(cipher) = Aes256Gcm::new_from_slice(&key[..]) {
            self.ciphers.insert(term, cipher);
            self.keys.insert(term, key);
            self.install_times.insert(term, installed_ns);
            self.active_term = self.active_term.max(term);
        }
    }

    /// A copy of this keyring with a new random key as the next term, now active (a rotation). Every older term
    /// stays, so everything sealed before stays readable.
    pub fn rotated(&self) -> Result<Self, BarrierError> {
        let next = self.active_term.checked_add(1).ok_or(BarrierError::Encrypt)?;
        let mut keyring = Keyring::empty();
        for (term, key) in &self.keys {
            keyring.add_term(*term, Zeroizing::new(**key), self.install_time_ns(*term));
        }
        keyring.add_term(next, random_key(), now_ns());
        Ok(keyring)
    }

    pub fn active_term(&self) -> u32 {
        self.active_term
    }

    /// When `term` was installed, in Unix nanoseconds (0 when the keyring predates install times).
    pub fn install_time_ns(&self, term: u32) -> i64 {
        self.install_times.get(&term).copied().unwrap_or(0)
    }

    /// Values sealed under the active term through this keyring (since it was loaded, plus `add_encryptions`).
    pub fn encryptions(&self) -> u64 {
        self.encryptions.load(Ordering::Relaxed)
    }

    /// Count encryptions made before this keyring was loaded (persisted by the core across restarts).
    pub fn add_encryptions(&self, count: u64) {
        self.encryptions.fetch_add(count, Ordering::Relaxed);
    }

    /// A public name for this keyring: an HMAC of a fixed label under its first key, so it identifies the
    /// initialization a store (or snapshot) belongs to without revealing anything about the key.
    pub fn key_id(&self) -> String {
        use hmac::Mac;
        let Some(first) = self.keys.values().next() else {
            return String::new();
        };
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&first[..]) else {
            return String::new();
        };
        mac.update(b"vault barrier key id v1");
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let cipher = self
            .ciphers
            .get(&self.active_term)
            .ok_or(BarrierError::UnknownTerm(self.active_term))?;
        self.encryptions.fetch_add(1, Ordering::Relaxed);
        seal_with_cipher(cipher, self.active_term, aad, plaintext)
    }

    pub fn decrypt(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let (term, nonce, body) = split_header(sealed)?;
        let cipher = self.ciphers.get(&term).ok_or(BarrierError::UnknownTerm(term))?;
        open_with_cipher(cipher, nonce, aad, body)
    }

    /// The keyring sealed under the root key, for storage.
    pub fn seal(&self, root_key: &[u8; KEY_LEN], aad: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let record = KeyringRecordV2 {
            active_term: self.active_term,
            keys: self
                .keys
                .iter()
                .map(|(term, key)| (*term, **key, self.install_time_ns(*term)))
                .collect(),
        };
        let mut plain = Zeroizing::new(KEYRING_V2_MAGIC.to_vec());
        bincode::serialize_into(&mut *plain, &record).map_err(|_| BarrierError::Encrypt)?;
        seal_with(root_key, 0, aad, &plain)
    }

    /// Open a keyring sealed by [`Keyring::seal`]; a wrong root key fails the GCM tag.
    pub fn open(root_key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Self, BarrierError> {
        let plain = open_with(root_key, aad, sealed)?;
        let mut keyring = Keyring::empty();
        let active_term = match plain.strip_prefix(KEYRING_V2_MAGIC) {
            Some(body) => {
                let record: KeyringRecordV2 = bincode::deserialize(body).map_err(|_| BarrierError::Integrity)?;
                for (term, key, installed) in record.keys.iter() {
                    keyring.add_term(*term, Zeroizing::new(*key), *installed);
                }
                record.active_term
            }
            None => {
                let record: KeyringRecordV1 = bincode::deserialize(&plain).map_err(|_| BarrierError::Integrity)?;
                for (term, key) in record.keys.iter() {
                    keyring.add_term(*term, Zeroizing::new(*key), 0);
                }
                record.active_term
            }
        };
        if keyring.keys.is_empty() || keyring.active_term != active_term {
            return Err(BarrierError::Integrity);
        }
        Ok(keyring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let keyring = Keyring::generate();
        let sealed = keyring.encrypt(&aad("core", b"a"), b"secret value").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            &keyring.decrypt(&aad("core", b"a"), &sealed).unwrap()[..],
            b"secret value"
        );
        assert_eq!(
            keyring.decrypt(&aad("core", b"b"), &sealed),
            Err(BarrierError::Integrity)
        );
        assert_eq!(
            keyring.decrypt(&aad("tokens", b"a"), &sealed),
            Err(BarrierError::Integrity)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            keyring.decrypt(&aad("core", b"a"), &flipped),
            Err(BarrierError::Integrity)
        );
        assert_eq!(
            keyring.decrypt(&aad("core", b"a"), &sealed[..10]),
            Err(BarrierError::Integrity)
        );
    }

    #[test]
    fn keyring_seals_under_root_key() {
        let root = random_key();
        let keyring = Keyring::generate();
        let sealed = keyring.seal(&root, b"keyring").unwrap();
        let opened = Keyring::open(&root, b"keyring", &sealed).unwrap();
        let value = keyring.encrypt(b"x", b"v").unwrap();
        assert_eq!(&opened.decrypt(b"x", &value).unwrap()[..], b"v");
        let other = random_key();
        assert!(Keyring::open(&other, b"keyring", &sealed).is_err());
    }

    #[test]
    fn rotation_adds_a_term_and_keeps_every_older_one_readable() {
        let root = random_key();
        let first = Keyring::generate();
        let old_value = first.encrypt(b"x", b"old").unwrap();
        let rotated = first.rotated().unwrap();
        assert_eq!(rotated.active_term(), 2);
        assert_eq!(
            rotated.key_id(),
            first.key_id(),
            "the key id names the initialization, not the term"
        );
        let new_value = rotated.encrypt(b"x", b"new").unwrap();
        assert_eq!(rotated.encryptions(), 1);
        assert_eq!(&new_value[1..5], &2u32.to_be_bytes());
        assert_eq!(first.decrypt(b"x", &new_value), Err(BarrierError::UnknownTerm(2)));
        let reopened = Keyring::open(&root, b"keyring", &rotated.seal(&root, b"keyring").unwrap()).unwrap();
        assert_eq!(&reopened.decrypt(b"x", &old_value).unwrap()[..], b"old");
        assert_eq!(&reopened.decrypt(b"x", &new_value).unwrap()[..], b"new");
        assert_eq!(reopened.install_time_ns(1), first.install_time_ns(1));
        assert!(reopened.install_time_ns(2) >= first.install_time_ns(1));
    }

    #[test]
    fn a_first_format_keyring_still_opens() {
        let root = random_key();
        let key = random_key();
        let record = KeyringRecordV1 {
            active_term: 1,
            keys: vec![(1, *key)],
        };
        let plain = bincode::serialize(&record).unwrap();
        let sealed = seal_with(&root, 0, b"keyring", &plain).unwrap();
        let keyring = Keyring::open(&root, b"keyring", &sealed).unwrap();
        assert_eq!(keyring.active_term(), 1);
        assert_eq!(keyring.install_time_ns(1), 0);
        let value = seal_with(&key, 1, b"x", b"v").unwrap();
        assert_eq!(&keyring.decrypt(b"x", &value).unwrap()[..], b"v");
    }
}
