//! A named key ("policy" in OpenBao's words) and its versions, in OpenBao's own JSON form (`keysutil.Policy`,
//! `KeyEntry`, `archivedKeys`, with Go's field names and types: `[]byte` as base64, `big.Int` as a JSON number,
//! `time.Time` as RFC 3339, `time.Duration` in nanoseconds). Storing that form means a backup is the stored record
//! base64-encoded, and a backup taken from OpenBao is a record we can load as is.
//!
//! Stored as OpenBao does: `policy/<name>` holds the policy with the versions usable for decryption, and
//! `archive/<name>` every version from `min_available_version` on (the slice index is the version minus
//! `archive_min_version`; index 0 is an empty placeholder while nothing was trimmed). Both are written in one
//! transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::encoding;
use crate::framework::{now_ns, rfc3339_nano};

pub const HMAC_MIN_KEY_SIZE: i64 = 32;
pub const HMAC_MAX_KEY_SIZE: i64 = 512;
/// The convergent-encryption scheme new keys use (nonce = HMAC of the plaintext under a derived key).
pub const CURRENT_CONVERGENT_VERSION: i64 = 3;
pub const ERR_TOO_OLD: &str = "ciphertext or signature version is disallowed by policy (too old)";
pub const ERR_SOFT_DELETED: &str = "refusing to use soft-deleted key";
/// Go's zero `time.Time`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
pub const KDF_HMAC_SHA256_COUNTER: i64 = 0;
pub const KDF_HKDF_SHA256: i64 = 1;

/// OpenBao's `KeyType`, stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Aes256Gcm96,
    EcdsaP256,
    Ed25519,
    Rsa2048,
    Rsa4096,
    ChaCha20Poly1305,
    EcdsaP384,
    EcdsaP521,
    Aes128Gcm96,
    Rsa3072,
    Hmac,
    XChaCha20Poly1305,
}

impl KeyType {
    const ALL: [KeyType; 12] = [
        KeyType::Aes256Gcm96,
        KeyType::EcdsaP256,
        KeyType::Ed25519,
        KeyType::Rsa2048,
        KeyType::Rsa4096,
        KeyType::ChaCha20Poly1305,
        KeyType::EcdsaP384,
        KeyType::EcdsaP521,
        KeyType::Aes128Gcm96,
        KeyType::Rsa3072,
        KeyType::Hmac,
        KeyType::XChaCha20Poly1305,
    ];

    pub fn number(self) -> i64 {
        self as i64
    }

    pub fn from_number(n: i64) -> Option<KeyType> {
        usize::try_from(n).ok().and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn parse(name: &str) -> Option<KeyType> {
        Self::ALL.iter().copied().find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Aes128Gcm96 => "aes128-gcm96",
            KeyType::Aes256Gcm96 => "aes256-gcm96",
            KeyType::ChaCha20Poly1305 => "chacha20-poly1305",
            KeyType::XChaCha20Poly1305 => "xchacha20-poly1305",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::EcdsaP521 => "ecdsa-p521",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Hmac => "hmac",
        }
    }

    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            KeyType::Aes128Gcm96 | KeyType::Aes256Gcm96 | KeyType::ChaCha20Poly1305 | KeyType::XChaCha20Poly1305
        )
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    pub fn is_ecdsa(self) -> bool {
        matches!(self, KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521)
    }

    pub fn encryption_supported(self) -> bool {
        self.is_symmetric() || self.is_rsa()
    }

    pub fn signing_supported(self) -> bool {
        self.is_ecdsa() || self.is_rsa() || self == KeyType::Ed25519
    }

    /// Whether the signing input is hashed first (all but Ed25519, which hashes internally).
    pub fn hash_signature_input(self) -> bool {
        self.is_ecdsa() || self.is_rsa()
    }

    pub fn derivation_supported(self) -> bool {
        self.is_symmetric() || self == KeyType::Ed25519
    }

    /// Whether a key of this type can be imported as a public key alone.
    pub fn import_public_key_supported(self) -> bool {
        self.is_rsa() || self.is_ecdsa() || self == KeyType::Ed25519
    }

    pub fn associated_data_supported(self) -> bool {
        self.is_symmetric()
    }

    /// Bytes of a symmetric key.
    pub fn key_bytes(self) -> usize {
        if self == KeyType::Aes128Gcm96 {
            16
        } else {
            32
        }
    }

    pub fn rsa_bits(self) -> usize {
        match self {
            KeyType::Rsa3072 => 3072,
            KeyType::Rsa4096 => 4096,
            _ => 2048,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `big.Int` as Go's `encoding/json` writes it: a bare JSON number of any size. Kept as its decimal text.
#[derive(Clone, PartialEq, Eq)]
pub struct BigNum(pub Zeroizing<String>);

impl BigNum {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        BigNum(encoding::bytes_to_decimal(bytes))
    }

    pub fn to_bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        encoding::decimal_to_bytes(&self.0)
    }
}

impl std::fmt::Debug for BigNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BigNum(<redacted>)")
    }
}

impl Serialize for BigNum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BigNum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(
                "a key component is not a non-negative integer",
            ));
        }
        Ok(BigNum(Zeroizing::new(text.to_string())))
    }
}

/// Go's `[]byte` in JSON: base64, or null for nil.
mod go_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(value: &Option<Zeroizing<Vec<u8>>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(bytes) => serializer.serialize_str(&super::encoding::encode(bytes)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
        match Option::<String>::deserialize(deserializer)?.map(Zeroizing::new) {
            None => Ok(None),
            Some(text) => super::encoding::decode(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Go's `rsa.PublicKey` in JSON.
#[derive(Clone, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct GoRsaPublicKey {
    pub N: BigNum,
    pub E: i64,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct GoRsaPrecomputed {
    #[serde(default)]
    pub Dp: Option<BigNum>,
    #[serde(default)]
    pub Dq: Option<BigNum>,
    #[serde(default)]
    pub Qinv: Option<BigNum>,
    #[serde(default)]
    pub CRTValues: Option<Vec<serde_json::Value>>,
}

/// Go's `rsa.PrivateKey` in JSON.
#[derive(Clone, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct GoRsaPrivateKey {
    pub N: BigNum,
    pub E: i64,
    pub D: BigNum,
    pub Primes: Vec<BigNum>,
    #[serde(default)]
    pub Precomputed: GoRsaPrecomputed,
}

fn zero_time() -> String {
    ZERO_TIME.to_string()
}

/// One version of a key (OpenBao's `KeyEntry`). Key material is zeroized on drop.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    #[serde(with = "go_bytes", default)]
    pub key: Option<Zeroizing<Vec<u8>>>,
    #[serde(with = "go_bytes", default)]
    pub hmac_key: Option<Zeroizing<Vec<u8>>>,
    #[serde(default = "zero_time")]
    pub time: String,
    #[serde(default)]
    pub ec_x: Option<BigNum>,
    #[serde(default)]
    pub ec_y: Option<BigNum>,
    #[serde(default)]
    pub ec_d: Option<BigNum>,
    #[serde(default)]
    pub rsa_key: Option<GoRsaPrivateKey>,
    #[serde(default)]
    pub rsa_public_key: Option<GoRsaPublicKey>,
    #[serde(default)]
    pub public_key: String,
    #[serde(default)]
    pub convergent_version: i64,
    #[serde(default)]
    pub creation_time: i64,
    #[serde(default)]
    pub certificate_chain: Option<Vec<String>>,
    #[serde(default)]
    pub external_key_ref: String,
}

impl Default for KeyEntry {
    fn default() -> Self {
        KeyEntry {
            key: None,
            hmac_key: None,
            time: zero_time(),
            ec_x: None,
            ec_y: None,
            ec_d: None,
            rsa_key: None,
            rsa_public_key: None,
            public_key: String::new(),
            convergent_version: 0,
            creation_time: 0,
            certificate_chain: None,
            external_key_ref: String::new(),
        }
    }
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    pub fn is_private_key_missing(&self) -> bool {
        self.rsa_key.is_none()
            && self.ec_d.is_none()
            && self.key.as_ref().is_none_or(|k| k.is_empty())
            && self.external_key_ref.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimeInfo {
    pub time: String,
    pub version: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A named key (OpenBao's `Policy`), with Go's JSON names and order. Its `Debug` shows no key material.
#[derive(Clone, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    /// Pre-versioning single key (very old Vault); read only to be migrated.
    #[serde(with = "go_bytes", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Zeroizing<Vec<u8>>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub key_size: i64,
    /// The versions usable for decryption (from `min_decryption_version`); filled from `versions` when written.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    pub derived: bool,
    #[serde(default)]
    pub kdf: i64,
    #[serde(default)]
    pub convergent_encryption: bool,
    #[serde(default)]
    pub exportable: bool,
    #[serde(default)]
    pub min_decryption_version: i64,
    #[serde(default)]
    pub min_encryption_version: i64,
    #[serde(default)]
    pub latest_version: i64,
    #[serde(default)]
    pub archive_version: i64,
    #[serde(default)]
    pub archive_min_version: i64,
    #[serde(default)]
    pub min_available_version: i64,
    #[serde(default)]
    pub deletion_allowed: bool,
    #[serde(default)]
    pub convergent_version: i64,
    #[serde(rename = "type", default)]
    pub key_type_number: i64,
    #[serde(default)]
    pub backup_info: Option<TimeInfo>,
    #[serde(default)]
    pub restore_info: Option<TimeInfo>,
    #[serde(default)]
    pub allow_plaintext_backup: bool,
    #[serde(default)]
    pub version_template: String,
    #[serde(default)]
    pub storage_prefix: String,
    /// Nanoseconds (Go's `time.Duration`).
    #[serde(default)]
    pub auto_rotate_period: i64,
    #[serde(rename = "Imported", default)]
    pub imported: bool,
    #[serde(rename = "AllowImportedKeyRotation", default)]
    pub allow_imported_key_rotation: bool,
    #[serde(default)]
    pub soft_deleted: bool,

    /// Every version still held (from `max(1, min_available_version)` to `latest_version`), by number.
    #[serde(skip)]
    pub versions: BTreeMap<i64, KeyEntry>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("type", &self.key_type())
            .field("latest_version", &self.latest_version)
            .field("min_decryption_version", &self.min_decryption_version)
            .finish_non_exhaustive()
    }
}

/// OpenBao's `archivedKeys`.
#[derive(Serialize, Deserialize, Default)]
pub struct Archive {
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

/// OpenBao's `KeyData`: what a backup holds.
#[derive(Serialize, Deserialize)]
pub struct KeyData {
    pub policy: Policy,
    #[serde(default)]
    pub archived_keys: Option<Archive>,
}

/// A failure of a key operation: the client's (400 with the text) or ours (OpenBao's `InternalError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    User(String),
    Internal(String),
}

impl OpError {
    pub fn text(&self) -> &str {
        match self {
            OpError::User(t) | OpError::Internal(t) => t,
        }
    }
}

pub fn user(text: impl Into<String>) -> OpError {
    OpError::User(text.into())
}

pub fn internal(text: impl Into<String>) -> OpError {
    OpError::Internal(text.into())
}

pub fn policy_key(name: &str) -> Vec<u8> {
    format!("policy/{name}").into_bytes()
}

pub fn archive_key(name: &str) -> Vec<u8> {
    format!("archive/{name}").into_bytes()
}

/// What a new key is created with.
pub struct NewKey {
    pub name: String,
    pub key_type: KeyType,
    pub derived: bool,
    pub convergent: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub auto_rotate_period_ns: i64,
    pub key_size: i64,
}

impl NewKey {
    /// A key of `key_type` with every option off.
    pub fn plain(name: &str, key_type: KeyType) -> NewKey {
        NewKey {
            name: name.to_string(),
            key_type,
            derived: false,
            convergent: false,
            exportable: false,
            allow_plaintext_backup: false,
            auto_rotate_period_ns: 0,
            key_size: 0,
        }
    }
}

impl Policy {
    pub fn key_type(&self) -> KeyType {
        KeyType::from_number(self.key_type_number).unwrap_or(KeyType::Aes256Gcm96)
    }

    /// A new key with its first version (OpenBao's `GetPolicy` with upsert), checked as OpenBao checks it.
    pub fn create(new: NewKey) -> Result<Policy, OpError> {
        let mut p = Self::unrotated(new)?;
        p.rotate_in_memory()?;
        Ok(p)
    }

    /// A new key without versions yet (an import adds the first).
    pub fn unrotated(new: NewKey) -> Result<Policy, OpError> {
        let t = new.key_type;
        if t.is_symmetric() {
            if new.convergent && !new.derived {
                return Err(user("convergent encryption requires derivation to be enabled"));
            }
        } else if t == KeyType::Ed25519 {
            if new.convergent {
                return Err(user(format!(
                    "convergent encryption not supported for keys of type {t}"
                )));
            }
        } else if new.derived || new.convergent {
            return Err(user(format!(
                "key derivation and convergent encryption not supported for keys of type {t}"
            )));
        }
        let p = Policy {
            name: new.name,
            key: None,
            key_size: new.key_size,
            keys: BTreeMap::new(),
            derived: new.derived,
            kdf: if new.derived { KDF_HKDF_SHA256 } else { 0 },
            convergent_encryption: new.derived && new.convergent,
            exportable: new.exportable,
            min_decryption_version: 0,
            min_encryption_version: 0,
            latest_version: 0,
            archive_version: 0,
            archive_min_version: 0,
            min_available_version: 0,
            deletion_allowed: false,
            convergent_version: if new.derived && new.convergent { -1 } else { 0 },
            key_type_number: t.number(),
            backup_info: None,
            restore_info: None,
            allow_plaintext_backup: new.allow_plaintext_backup,
            version_template: String::new(),
            storage_prefix: String::new(),
            auto_rotate_period: new.auto_rotate_period_ns,
            imported: false,
            allow_imported_key_rotation: false,
            soft_deleted: false,
            versions: BTreeMap::new(),
        };
        Ok(p)
    }

    /// Add a new version (OpenBao's `RotateInMemory`); the caller persists it before anything uses it.
    pub fn rotate_in_memory(&mut self) -> Result<(), OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        if self.imported && !self.allow_imported_key_rotation {
            return Err(user(format!(
                "imported key {} does not allow rotation within Vault",
                self.name
            )));
        }
        let now = now_ns();
        let mut entry = KeyEntry {
            time: rfc3339_nano(now),
            creation_time: now.div_euclid(1_000_000_000),
            hmac_key: Some(super::crypto::random_bytes(32)),
            ..KeyEntry::default()
        };
        let t = self.key_type();
        match t {
            _ if t.is_symmetric() => entry.key = Some(super::crypto::random_bytes(t.key_bytes())),
            KeyType::Hmac => {
                if self.key_size < HMAC_MIN_KEY_SIZE || self.key_size > HMAC_MAX_KEY_SIZE {
                    return Err(user(format!(
                        "invalid key size for HMAC key, must be between {HMAC_MIN_KEY_SIZE} and {HMAC_MAX_KEY_SIZE} bytes"
                    )));
                }
                let key = super::crypto::random_bytes(self.key_size as usize);
                entry.hmac_key = Some(key.clone());
                entry.key = Some(key);
            }
            _ => super::crypto::generate_asymmetric(t, &mut entry)?,
        }
        if self.convergent_encryption && (self.convergent_version == -1 || self.convergent_version > 1) {
            entry.convergent_version = CURRENT_CONVERGENT_VERSION;
        }
        self.latest_version += 1;
        self.versions.insert(self.latest_version, entry);
        if self.min_decryption_version == 0 {
            self.min_decryption_version = 1;
        }
        self.imported = false;
        Ok(())
    }

    /// The entry of a version usable now (OpenBao's `safeGetKeyEntry` on its `Keys` map).
    pub fn entry(&self, version: i64) -> Result<&KeyEntry, OpError> {
        if version < self.min_decryption_version.max(1) {
            return Err(user("no such key version"));
        }
        self.versions.get(&version).ok_or_else(|| user("no such key version"))
    }

    /// The versions OpenBao's `Keys` map holds (those usable for decryption).
    pub fn live_versions(&self) -> impl Iterator<Item = (&i64, &KeyEntry)> {
        let min = self.min_decryption_version.max(1);
        self.versions.range(min..)
    }

    /// The ciphertext or signature prefix of a version: `vault:v<N>:` unless the key has its own template.
    pub fn version_prefix(&self, version: i64) -> String {
        if self.version_template.is_empty() {
            return format!("vault:v{version}:");
        }
        self.version_template.replace("{{version}}", &version.to_string())
    }

    /// The template's text before and after `{{version}}` (`vault:v` and `:` by default).
    pub fn template_parts(&self) -> Result<(&str, &str), OpError> {
        if self.version_template.is_empty() {
            return Ok(("vault:v", ":"));
        }
        match self.version_template.split_once("{{version}}") {
            Some((before, after)) if !after.contains("{{version}}") => Ok((before, after)),
            _ => Err(internal("error parsing version template")),
        }
    }

    /// The convergent scheme of a version (OpenBao's `convergentVersion`).
    pub fn convergent_version_of(&self, version: i64) -> i64 {
        if !self.convergent_encryption {
            return 0;
        }
        let mut v = if self.convergent_version == 0 {
            1
        } else {
            self.convergent_version
        };
        if let Some(entry) = self.versions.get(&version) {
            if entry.convergent_version != 0 {
                v = entry.convergent_version;
            }
        }
        v
    }

    /// Records as stored: the policy (with the versions from `min_decryption_version`) and the archive.
    pub fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), OpError> {
        let mut record = self.clone();
        record.archive_version = self.latest_version;
        record.archive_min_version = self.min_available_version;
        record.keys = self.live_versions().map(|(v, e)| (v.to_string(), e.clone())).collect();
        let mut archive = Archive::default();
        for version in self.min_available_version..=self.latest_version {
            archive
                .keys
                .push(self.versions.get(&version).cloned().unwrap_or_default());
        }
        let policy_json = Zeroizing::new(serde_json::to_vec(&record).map_err(|e| internal(e.to_string()))?);
        let archive_json = Zeroizing::new(serde_json::to_vec(&archive).map_err(|e| internal(e.to_string()))?);
        Ok((policy_json.to_vec(), archive_json.to_vec()))
    }

    /// A policy from its records (the archive may be absent: a key written before archiving, or a backup
    /// without one), upgraded as OpenBao's `Upgrade` does on load.
    pub fn decode(policy_json: &[u8], archive_json: Option<&[u8]>) -> Result<Policy, OpError> {
        let mut p: Policy = serde_json::from_slice(policy_json).map_err(|e| internal(format!("stored key: {e}")))?;
        let archive: Option<Archive> = match archive_json {
            Some(bytes) => Some(serde_json::from_slice(bytes).map_err(|e| internal(format!("stored archive: {e}")))?),
            None => None,
        };
        p.absorb(archive)?;
        Ok(p)
    }

    /// Gather the versions of the policy's `keys` map and of its archive into `versions`, and apply OpenBao's
    /// load-time upgrades (single key -> versions, version numbering from 1).
    pub fn absorb(&mut self, archive: Option<Archive>) -> Result<(), OpError> {
        if KeyType::from_number(self.key_type_number).is_none() {
            return Err(user(format!("unsupported key type {}", self.key_type_number)));
        }
        if let Some(old) = self.key.take() {
            let now = now_ns();
            self.keys.insert(
                "1".into(),
                KeyEntry {
                    key: Some(old),
                    time: rfc3339_nano(now),
                    creation_time: now.div_euclid(1_000_000_000),
                    ..KeyEntry::default()
                },
            );
        }
        if self.latest_version == 0 && !self.keys.is_empty() {
            self.latest_version = self.keys.len() as i64;
        }
        if self.min_decryption_version == 0 {
            self.min_decryption_version = 1;
        }
        if self.convergent_encryption && self.convergent_version == 0 {
            self.convergent_version = 1;
        }
        let mut versions = BTreeMap::new();
        if let Some(archive) = archive {
            for (index, entry) in archive.keys.into_iter().enumerate() {
                let version = self.archive_min_version + index as i64;
                if version >= 1 && version >= self.min_available_version && version <= self.latest_version {
                    versions.insert(version, entry);
                }
            }
        }
        for (name, entry) in std::mem::take(&mut self.keys) {
            let version: i64 = name.parse().map_err(|_| user(format!("invalid version {name:?}")))?;
            versions.insert(version, entry);
        }
        self.versions = versions;
        // A key whose latest version has no HMAC key gets one (OpenBao's upgrade does the same).
        let is_hmac_type = self.key_type() == KeyType::Hmac;
        if let Some(latest) = self.versions.get_mut(&self.latest_version) {
            if latest.hmac_key.as_ref().is_none_or(|k| k.is_empty()) {
                latest.hmac_key = Some(if is_hmac_type {
                    latest.key.clone().unwrap_or_default()
                } else {
                    super::crypto::random_bytes(32)
                });
            }
        }
        Ok(())
    }
}
