//! Auto-unseal seals: something outside the store encrypts the root key, so a restarted server unseals itself.
//! - `static`: a 32-byte AES-256-GCM key given in the configuration (directly in hex or base64, `env://NAME` or
//!   `file://PATH`), as OpenBao 2.7.2's `seal "static"`; `previous_key` lets an operator rotate it (a blob sealed
//!   under the previous key is opened with it and re-sealed under the current one at unseal).
//! - `transit`: another Vault/OpenBao server's transit engine encrypts and decrypts the root key over HTTP.
//!
//! The sealed blob records the seal type and key id, so the right key is used and a mismatch is a clear error.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::SealError;
use crate::storage::{SecretKey, KEY_LEN};

const STATIC_AAD: &[u8] = b"vault auto-seal static v1";
const NONCE_LEN: usize = 12;

/// A seal's configuration: the `seal "<type>" { ... }` stanza.
#[derive(Clone)]
pub enum AutoSealConfig {
    Static(StaticSealConfig),
    Transit(TransitSealConfig),
}

#[derive(Clone)]
pub struct StaticSealConfig {
    pub current_key_id: String,
    pub current_key: SecretKey,
    pub previous: Option<(String, SecretKey)>,
}

/// `Debug` leaves the token out.
#[derive(Clone)]
pub struct TransitSealConfig {
    pub address: String,
    pub token: Zeroizing<String>,
    pub key_name: String,
    pub mount_path: String,
    pub tls_ca_cert: Option<PathBuf>,
    pub tls_skip_verify: bool,
}

impl fmt::Debug for TransitSealConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitSealConfig")
            .field("address", &self.address)
            .field("key_name", &self.key_name)
            .field("mount_path", &self.mount_path)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AutoSealConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoSealConfig::Static(c) => f
                .debug_struct("Static")
                .field("current_key_id", &c.current_key_id)
                .field("previous_key_id", &c.previous.as_ref().map(|(id, _)| id))
                .finish_non_exhaustive(),
            AutoSealConfig::Transit(c) => c.fmt(f),
        }
    }
}

impl PartialEq for AutoSealConfig {
    fn eq(&self, other: &Self) -> bool {
        self.seal_type() == other.seal_type() && self.key_id() == other.key_id()
    }
}

impl Eq for AutoSealConfig {}

/// A key given in the configuration: hex or base64 of 32 bytes, or `env://NAME` / `file://PATH` holding that.
pub fn resolve_static_key(field: &str, value: &str) -> Result<SecretKey, String> {
    let text = Zeroizing::new(if let Some(name) = value.strip_prefix("env://") {
        std::env::var(name).map_err(|_| format!("seal \"static\": {field}: environment variable {name} is not set"))?
    } else if let Some(path) = value.strip_prefix("file://") {
        let bytes = Zeroizing::new(
            std::fs::read(path).map_err(|e| format!("seal \"static\": {field}: cannot read {path}: {e}"))?,
        );
        if bytes.len() == KEY_LEN {
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        String::from_utf8_lossy(&bytes).trim().to_string()
    } else {
        value.trim().to_string()
    });
    let bytes = Zeroizing::new(
        hex::decode(text.as_str())
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text.as_str()))
            .map_err(|_| format!("seal \"static\": {field} must be 32 bytes in hex or base64"))?,
    );
    if bytes.len() != KEY_LEN {
        return Err(format!(
            "seal \"static\": {field} must be a 32-byte key, got {} bytes",
            bytes.len()
        ));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// What is stored: the ciphertext and which seal and key made it.
#[derive(Serialize, Deserialize)]
struct SealedBlob {
    seal_type: String,
    key_id: String,
    ciphertext: String,
}

impl AutoSealConfig {
    pub fn seal_type(&self) -> &'static str {
        match self {
            AutoSealConfig::Static(_) => "static",
            AutoSealConfig::Transit(_) => "transit",
        }
    }

    /// The id of the key new blobs are sealed under.
    pub fn key_id(&self) -> String {
        match self {
            AutoSealConfig::Static(c) => c.current_key_id.clone(),
            AutoSealConfig::Transit(c) => format!("{}/{}", c.mount_path.trim_matches('/'), c.key_name),
        }
    }

    /// Seal `plaintext` (blocking: the transit seal calls another server).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        crate::telemetry::seal_call(self.seal_type(), "encrypt", || self.encrypt_untimed(plaintext))
    }

    fn encrypt_untimed(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let ciphertext = match self {
            AutoSealConfig::Static(c) => static_encrypt(&c.current_key, plaintext)?,
            AutoSealConfig::Transit(c) => transit_call(
                c,
                "encrypt",
                serde_json::json!({ "plaintext": base64::engine::general_purpose::STANDARD.encode(plaintext) }),
                "ciphertext",
            )?
            .to_string(),
        };
        serde_json::to_vec(&SealedBlob {
            seal_type: self.seal_type().into(),
            key_id: self.key_id(),
            ciphertext,
        })
        .map_err(|e| SealError::Unavailable(e.to_string()))
    }

    /// Open a blob sealed by [`AutoSealConfig::encrypt`]; also says whether it should be re-sealed (it was made
    /// under a previous key).
    pub fn decrypt(&self, blob: &[u8]) -> Result<(Zeroizing<Vec<u8>>, bool), SealError> {
        crate::telemetry::seal_call(self.seal_type(), "decrypt", || self.decrypt_untimed(blob))
    }

    fn decrypt_untimed(&self, blob: &[u8]) -> Result<(Zeroizing<Vec<u8>>, bool), SealError> {
        let blob: SealedBlob = serde_json::from_slice(blob).map_err(|_| SealError::BlobMalformed)?;
        if blob.seal_type != self.seal_type() {
            return Err(SealError::WrongSealType(blob.seal_type));
        }
        match self {
            AutoSealConfig::Static(c) => {
                let (key, stale) = if blob.key_id == c.current_key_id {
                    (&c.current_key, false)
                } else {
                    match &c.previous {
                        Some((id, key)) if *id == blob.key_id => (key, true),
                        _ => return Err(SealError::UnknownKeyId(blob.key_id)),
                    }
                };
                Ok((static_decrypt(key, &blob.ciphertext)?, stale))
            }
            AutoSealConfig::Transit(c) => {
                let plaintext = transit_call(
                    c,
                    "decrypt",
                    serde_json::json!({ "ciphertext": blob.ciphertext }),
                    "plaintext",
                )?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(plaintext.as_str())
                    .map_err(|_| SealError::Unavailable("the transit server answered a malformed plaintext".into()))?;
                Ok((Zeroizing::new(bytes), blob.key_id != self.key_id()))
            }
        }
    }
}

fn static_encrypt(key: &SecretKey, plaintext: &[u8]) -> Result<String, SealError> {
    let cipher = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| SealError::Unavailable("bad key".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let body = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: STATIC_AAD,
            },
        )
        .map_err(|_| SealError::Unavailable("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

fn static_decrypt(key: &SecretKey, ciphertext: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(ciphertext)
        .map_err(|_| SealError::BlobMalformed)?;
    if bytes.len() < NONCE_LEN + 16 {
        return Err(SealError::BlobMalformed);
    }
    let cipher = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| SealError::Unavailable("bad key".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[..NONCE_LEN]);
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &bytes[NONCE_LEN..],
                aad: STATIC_AAD,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::SealKeyMismatch)
}

/// One call to the transit server: `POST <mount>/<op>/<key>` with `body`; returns `data.<field>`.
fn transit_call(
    config: &TransitSealConfig,
    op: &str,
    body: serde_json::Value,
    field: &str,
) -> Result<Zeroizing<String>, SealError> {
    let url = format!(
        "{}/v1/{}/{op}/{}",
        config.address.trim_end_matches('/'),
        config.mount_path.trim_matches('/'),
        config.key_name
    );
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)));
    if config.tls_skip_verify || config.tls_ca_cert.is_some() {
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(config.tls_skip_verify);
        if let Some(path) = &config.tls_ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| SealError::Unavailable(format!("reading tls_ca_cert {}: {e}", path.display())))?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        builder = builder.tls_config(tls.build());
    }
    let agent = builder.build().new_agent();
    let mut response = agent
        .post(&url)
        .header("X-Vault-Token", config.token.as_str())
        .send_json(&body)
        .map_err(|e| SealError::Unavailable(format!("transit seal {url}: {e}")))?;
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.body_mut().read_json().unwrap_or(serde_json::Value::Null);
    if status != 200 {
        let errors = answer["errors"].to_string();
        return Err(SealError::Unavailable(format!(
            "transit seal {url}: the server answered {status} {errors}"
        )));
    }
    answer["data"][field]
        .as_str()
        .map(|s| Zeroizing::new(s.to_string()))
        .ok_or_else(|| SealError::Unavailable(format!("transit seal {url}: no {field} in the answer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn static_seal(id: &str, key: &SecretKey, previous: Option<(&str, &SecretKey)>) -> AutoSealConfig {
        AutoSealConfig::Static(StaticSealConfig {
            current_key_id: id.into(),
            current_key: key.clone(),
            previous: previous.map(|(id, key)| (id.to_string(), key.clone())),
        })
    }

    #[test]
    fn the_static_seal_round_trips_and_rotates() {
        let k1 = crate::storage::barrier::random_key();
        let k2 = crate::storage::barrier::random_key();
        let first = static_seal("one", &k1, None);
        let blob = first.encrypt(b"root key").unwrap();
        assert!(!blob.windows(8).any(|w| w == b"root key"));
        assert_eq!(&first.decrypt(&blob).unwrap().0[..], b"root key");
        let rotated = static_seal("two", &k2, Some(("one", &k1)));
        let (plain, stale) = rotated.decrypt(&blob).unwrap();
        assert_eq!((&plain[..], stale), (&b"root key"[..], true));
        let without_previous = static_seal("two", &k2, None);
        assert_eq!(
            without_previous.decrypt(&blob).unwrap_err(),
            SealError::UnknownKeyId("one".into())
        );
        let wrong_key = static_seal("one", &k2, None);
        assert_eq!(wrong_key.decrypt(&blob).unwrap_err(), SealError::SealKeyMismatch);
    }

    #[test]
    fn debug_output_has_no_key_or_token() {
        let key = crate::storage::barrier::random_key();
        let seal = static_seal("one", &key, None);
        assert!(!format!("{seal:?}").contains(&hex::encode(&key[..])));
        let transit = AutoSealConfig::Transit(TransitSealConfig {
            address: "http://127.0.0.1:1".into(),
            token: Zeroizing::new("s.secrettoken".into()),
            key_name: "k".into(),
            mount_path: "transit".into(),
            tls_ca_cert: None,
            tls_skip_verify: false,
        });
        assert!(!format!("{transit:?}").contains("secrettoken"));
    }

    #[test]
    fn static_keys_are_read_from_hex_base64_env_and_files() {
        let hex_key = "542a91c2aff86797e8dfa16adf86dcbea5706410791b319798936a1b08e4ef8b";
        let key = resolve_static_key("current_key", hex_key).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&key[..]);
        assert_eq!(*resolve_static_key("current_key", &b64).unwrap(), *key);
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, &key[..]).unwrap();
        assert_eq!(
            *resolve_static_key("current_key", &format!("file://{}", raw.display())).unwrap(),
            *key
        );
        assert!(resolve_static_key("current_key", "abcd")
            .unwrap_err()
            .contains("32-byte"));
        assert!(resolve_static_key("current_key", "env://VAULT_TEST_NO_SUCH_VARIABLE")
            .unwrap_err()
            .contains("not set"));
    }
}
