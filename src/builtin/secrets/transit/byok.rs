//! Bring your own key (OpenBao's `wrapping_key`, `keys/:name/import`, `keys/:name/import_version`): the client
//! wraps its key for the mount's RSA-4096 wrapping key — RSA-OAEP of an ephemeral AES-256 key (512 bytes), then the
//! key itself wrapped with AES-KWP (RFC 5649) under that ephemeral key — and the engine unwraps it into a new
//! version. Symmetric and HMAC keys arrive as raw bytes, asymmetric ones as PKCS#8 DER.

use std::sync::Arc;

use serde_json::{json, Map};
use zeroize::Zeroizing;

use super::policy::{KeyEntry, KeyType, NewKey, OpError, Policy, HMAC_MAX_KEY_SIZE, HMAC_MIN_KEY_SIZE};
use super::{encoding, invalid, op_error, Transit};
use crate::framework::{now_ns, rfc3339_nano, Captures, Fields, Kind, Schema};
use crate::logical::{BackendFuture, Context, Error, Request, Response, StorageView};

/// The policy holding the wrapping key (OpenBao stores it as a key named `import/wrapping-key`).
const WRAPPING_KEY_NAME: &str = "import/wrapping-key";
/// Bytes of the RSA-OAEP-wrapped ephemeral key at the front of an import ciphertext.
const ENCRYPTED_KEY_BYTES: usize = 512;

pub const IMPORT_FIELDS: Schema = &[
    ("name", Kind::Str),
    ("type", Kind::Str),
    ("ciphertext", Kind::Str),
    ("public_key", Kind::Str),
    ("hash_function", Kind::Str),
    ("derived", Kind::Bool),
    ("context", Kind::Str),
    ("exportable", Kind::Bool),
    ("allow_plaintext_backup", Kind::Bool),
    ("auto_rotate_period", Kind::Duration),
    ("allow_rotation", Kind::Bool),
    ("convergent_encryption", Kind::Bool),
];

pub const IMPORT_VERSION_FIELDS: Schema = &[
    ("name", Kind::Str),
    ("ciphertext", Kind::Str),
    ("public_key", Kind::Str),
    ("hash_function", Kind::Str),
    ("version", Kind::Int),
];

macro_rules! with_oaep_hash {
    ($name:expr, $d:ident => $body:expr) => {
        match $name.to_uppercase().as_str() {
            "SHA1" => {
                type $d = sha1::Sha1;
                $body
            }
            "SHA224" => {
                type $d = sha2::Sha224;
                $body
            }
            "SHA256" => {
                type $d = sha2::Sha256;
                $body
            }
            "SHA384" => {
                type $d = sha2::Sha384;
                $body
            }
            "SHA512" => {
                type $d = sha2::Sha512;
                $body
            }
            other => return Err(invalid(format!("unknown hash function: {other}"))),
        }
    };
}

impl Transit {
    /// The mount's wrapping key, made (durably) on first use.
    async fn wrapping_key(&self, storage: &dyn StorageView) -> Result<Arc<Policy>, Error> {
        if let Some(p) = self.get(storage, WRAPPING_KEY_NAME).await? {
            return Ok(p);
        }
        let lock = self.lock_for(WRAPPING_KEY_NAME);
        let _guard = lock.lock().await;
        if let Some(p) = self.current(storage, WRAPPING_KEY_NAME)? {
            return Ok(Arc::new(p));
        }
        let p = Policy::create(NewKey {
            name: WRAPPING_KEY_NAME.into(),
            key_type: KeyType::Rsa4096,
            derived: false,
            convergent: false,
            exportable: false,
            allow_plaintext_backup: false,
            auto_rotate_period_ns: 0,
            key_size: 0,
        })
        .map_err(op_error)?;
        self.persist(storage, p).await
    }

    pub(super) fn read_wrapping_key<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        _m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let p = self.wrapping_key(ctx.storage).await?;
            let entry = p.entry(p.latest_version).map_err(op_error)?;
            let pem = super::crypto::public_key_pem(KeyType::Rsa4096, entry).map_err(op_error)?;
            let mut data = Map::new();
            data.insert("public_key".into(), json!(pem));
            Ok(Response::with_data(data))
        })
    }

    /// The key material of an import request: unwrapped from `ciphertext`.
    async fn unwrap_import(&self, storage: &dyn StorageView, f: &Fields<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
        let hash_function = f
            .str("hash_function")
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "SHA256".into());
        if !matches!(
            hash_function.to_uppercase().as_str(),
            "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512"
        ) {
            return Err(invalid(format!("unknown hash function: {hash_function}")));
        }
        let ciphertext = encoding::decode(&f.str("ciphertext").unwrap_or_default()).map_err(invalid)?;
        if ciphertext.len() <= ENCRYPTED_KEY_BYTES {
            return Err(invalid("provided ciphertext is too short"));
        }
        let wrapping = self.wrapping_key(storage).await?;
        let entry = wrapping.entry(wrapping.latest_version).map_err(op_error)?;
        let private = super::crypto::rsa_private_key(entry).map_err(op_error)?;
        let (wrapped_ephemeral, wrapped_key) = ciphertext.split_at(ENCRYPTED_KEY_BYTES);
        let ephemeral = with_oaep_hash!(hash_function, D => {
            private
                .decrypt_blinded(&mut rand::rng(), rsa::Oaep::<D>::new(), wrapped_ephemeral)
                .map_err(|_| invalid("crypto/rsa: decryption error"))?
        });
        let ephemeral = Zeroizing::new(ephemeral);
        if ephemeral.len() != 32 {
            return Err(invalid("expected ephemeral AES key to be 256-bit"));
        }
        let kwp = <aes_kw::KwpAes256 as aes_gcm::aead::KeyInit>::new_from_slice(&ephemeral)
            .map_err(|_| invalid("expected ephemeral AES key to be 256-bit"))?;
        let mut buf = Zeroizing::new(vec![0u8; wrapped_key.len()]);
        let key = kwp
            .unwrap_key(wrapped_key, &mut buf)
            .map_err(|_| invalid("failed to unwrap key: integrity check failed"))?;
        Ok(Zeroizing::new(key.to_vec()))
    }

    pub(super) fn import<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, IMPORT_FIELDS);
            if req.data.contains_key("convergent_encryption") {
                return Err(invalid(
                    "import cannot be used on keys with convergent encryption enabled",
                ));
            }
            let auto_rotate = f.secs("auto_rotate_period").unwrap_or(0);
            let allow_rotation = f.bool("allow_rotation").unwrap_or(false);
            if auto_rotate > 0 && !allow_rotation {
                return Err(invalid(
                    "allow_rotation must be set to true if auto-rotation is enabled",
                ));
            }
            if !req.data.contains_key("ciphertext") {
                return Err(invalid(
                    "importing a public key alone is not supported by this server; send ciphertext",
                ));
            }
            let type_name = f
                .str("type")
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "aes256-gcm96".into());
            let Some(key_type) = KeyType::parse(&type_name.to_lowercase()) else {
                return Err(invalid(format!("unknown key type: {type_name}")));
            };
            if self.get(ctx.storage, name).await?.is_some() {
                return Err(invalid(
                    "the import path cannot be used with an existing key; use import-version to rotate an existing imported key",
                ));
            }
            let material = self.unwrap_import(ctx.storage, &f).await?;
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            if self.current(ctx.storage, name)?.is_some() {
                return Err(invalid(
                    "the import path cannot be used with an existing key; use import-version to rotate an existing imported key",
                ));
            }
            let derived = f.bool("derived").unwrap_or(false);
            if derived && !key_type.derivation_supported() {
                return Err(invalid(format!(
                    "error importing key: key derivation and convergent encryption not supported for keys of type {key_type}"
                )));
            }
            let mut p = Policy::unrotated(NewKey {
                name: name.to_string(),
                key_type,
                derived,
                convergent: false,
                exportable: f.bool("exportable").unwrap_or(false),
                allow_plaintext_backup: f.bool("allow_plaintext_backup").unwrap_or(false),
                auto_rotate_period_ns: auto_rotate.saturating_mul(1_000_000_000),
                key_size: 0,
            })
            .map_err(op_error)?;
            p.imported = true;
            p.allow_imported_key_rotation = allow_rotation;
            import_version(&mut p, &material).map_err(|e| invalid(format!("error importing key: {}", e.text())))?;
            self.persist(ctx.storage, p).await?;
            Ok(Response::no_content())
        })
    }

    pub(super) fn import_version<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, IMPORT_VERSION_FIELDS);
            if !req.data.contains_key("ciphertext") {
                return Err(invalid(
                    "importing a public key alone is not supported by this server; send ciphertext",
                ));
            }
            if f.has("version") {
                return Err(invalid("updating an existing version is not supported by this server"));
            }
            let check = |p: &Option<Policy>| match p {
                None => Err(invalid(format!(
                    "no key found with name {name}; to import a new key, use the import/ endpoint"
                ))),
                Some(p) if !p.imported => Err(invalid(
                    "the import_version endpoint can only be used with an imported key",
                )),
                Some(p) if p.convergent_encryption => Err(invalid(
                    "import_version cannot be used on keys with convergent encryption enabled",
                )),
                Some(_) => Ok(()),
            };
            check(&self.current(ctx.storage, name)?)?;
            let material = self.unwrap_import(ctx.storage, &f).await?;
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let current = self.current(ctx.storage, name)?;
            check(&current)?;
            let Some(mut p) = current else {
                return Err(invalid("no key found"));
            };
            import_version(&mut p, &material).map_err(op_error)?;
            self.persist(ctx.storage, p).await?;
            // OpenBao answers an import with no body.
            Ok(Response::no_content())
        })
    }
}

/// Add `material` as the key's next version (OpenBao's `ImportPublicOrPrivate` for a private key).
fn import_version(p: &mut Policy, material: &[u8]) -> Result<(), OpError> {
    if p.soft_deleted {
        return Err(OpError::User(super::policy::ERR_SOFT_DELETED.into()));
    }
    let t = p.key_type();
    let now = now_ns();
    let mut entry = KeyEntry {
        time: rfc3339_nano(now),
        creation_time: now.div_euclid(1_000_000_000),
        ..KeyEntry::default()
    };
    if t != KeyType::Hmac {
        entry.hmac_key = Some(super::crypto::random_bytes(32));
    }
    let len = material.len();
    let size_ok = match t {
        KeyType::Aes128Gcm96 => len == 16,
        KeyType::Aes256Gcm96 | KeyType::ChaCha20Poly1305 | KeyType::XChaCha20Poly1305 => len == 32,
        KeyType::Hmac => (HMAC_MIN_KEY_SIZE as usize..=HMAC_MAX_KEY_SIZE as usize).contains(&len),
        _ => true,
    };
    if !size_ok {
        return Err(OpError::User(format!("invalid key size {len} bytes for key type {t}")));
    }
    if t.is_symmetric() || t == KeyType::Hmac {
        entry.key = Some(Zeroizing::new(material.to_vec()));
        if t == KeyType::Hmac {
            p.key_size = len as i64;
            entry.hmac_key = Some(Zeroizing::new(material.to_vec()));
        }
    } else {
        super::crypto::parse_pkcs8_private(t, material, &mut entry)?;
    }
    p.latest_version += 1;
    p.versions.insert(p.latest_version, entry);
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    Ok(())
}
