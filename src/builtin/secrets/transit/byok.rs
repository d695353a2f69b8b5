//! Bring your own key (OpenBao's `wrapping_key`, `keys/:name/import`, `keys/:name/import_version`): the client
//! wraps its key for the mount's RSA-4096 wrapping key — RSA-OAEP of an ephemeral AES-256 key (512 bytes), then the
//! key itself wrapped with AES-KWP (RFC 5649) under that ephemeral key — and the engine unwraps it into a new
//! version. Symmetric and HMAC keys arrive as raw bytes, asymmetric ones as PKCS#8 DER; an asymmetric key may also
//! arrive as a PEM public key alone (`public_key`), which verifies (and RSA-encrypts) but cannot sign or decrypt
//! until `import_version` brings its private half.
//!
//! The way out: `byok-export/:destination/:source` wraps a key the same way for another server's wrapping key
//! (imported here as a public key). And `derive-key/:name` makes a symmetric key by ECDH between an EC key of ours
//! and a peer's public key, so two servers holding each other's public keys derive the same key.

use std::sync::Arc;

use serde_json::{json, Map};
use zeroize::Zeroizing;

use super::policy::{KeyEntry, KeyType, NewKey, OpError, Policy, HMAC_MAX_KEY_SIZE, HMAC_MIN_KEY_SIZE};
use super::{encoding, invalid, op_error, Transit};
use crate::framework::{field, now_ns, rfc3339_nano, Captures, FieldDefault, Fields, Kind, Schema};
use crate::logical::{BackendFuture, Context, Error, Request, Response, StorageView};

/// The policy holding the wrapping key (OpenBao stores it as a key named `import/wrapping-key`).
const WRAPPING_KEY_NAME: &str = "import/wrapping-key";
/// Bytes of the RSA-OAEP-wrapped ephemeral key at the front of an import ciphertext.
const ENCRYPTED_KEY_BYTES: usize = 512;

pub const IMPORT_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("type", Kind::Str).desc("Type of key to export (encryption-key, signing-key, hmac-key, public-key)").default(FieldDefault::Str("aes256-gcm96")),
    field("ciphertext", Kind::Str).desc("The base64-encoded ciphertext of the keys. The AES key should be encrypted using OAEP with the wrapping key and then concatenated with the import key, wrapped by the AES key."),
    field("public_key", Kind::Str).desc("The plaintext PEM public key to be imported. If \"ciphertext\" is set, this field is ignored."),
    field("hash_function", Kind::Str).desc("The hash function used as a random oracle in the OAEP wrapping of the user-generated, ephemeral AES key. Can be one of \"SHA1\", \"SHA224\", \"SHA256\" (default), \"SHA384\", or \"SHA512\"").default(FieldDefault::Str("SHA256")),
    field("derived", Kind::Bool).desc("Enables key derivation mode. This allows for per-transaction unique keys for encryption operations."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("exportable", Kind::Bool).desc("Enables keys to be exportable. This allows for all the valid keys in the key ring to be exported."),
    field("allow_plaintext_backup", Kind::Bool).desc("Enables taking a backup of the named key in plaintext format. Once set, this cannot be disabled."),
    field("auto_rotate_period", Kind::Duration).desc("Amount of time the key should live before being automatically rotated. A value of 0 (default) disables automatic rotation for the key.").default(FieldDefault::Int(0)),
    field("allow_rotation", Kind::Bool).desc("True if the imported key may be rotated within OpenBao; false otherwise."),
    field("convergent_encryption", Kind::Bool).desc("Whether to support convergent encryption. This is only supported when using a key with key derivation enabled and will require all requests to carry both a context and 96-bit (12-byte) nonce. The given nonce will be used in place of a randomly generated nonce. As a result, when the same context and nonce are supplied, the same ciphertext is generated. It is *very important* when using this mode that you ensure that all nonces are unique for a given context. Failing to do so will severely impact the ciphertext's security."),
];

pub const BYOK_EXPORT_FIELDS: Schema = &[
    field("destination", Kind::Str)
        .desc("Destination key to export to; usually the public wrapping key of another Transit instance."),
    field("source", Kind::Str)
        .desc("Which system to source random data from, ether \"platform\", \"seal\", or \"all\".")
        .default(FieldDefault::Str("platform")),
    field("version", Kind::Str).desc("Optional version of the key to export, else all key versions are exported."),
    field("hash", Kind::Str),
];

pub const DERIVE_KEY_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("key_derivation_algorithm", Kind::Str).desc("Key derivation algorithm to use. Valid values are: * ecdh Defaults to \"ecdh\".").default(FieldDefault::Str("ecdh")),
    field("peer_public_key", Kind::Str).desc("The pem-encoded other party's ECC public key"),
    field("base_key_name", Kind::Str).desc("Name of the base key to use for derivation (own private key for ECDH)"),
    field("base_key_version", Kind::Int).desc("The version of the base key to use for derivation. Must be 0 (for latest) or a value greater than or equal to the min_derivation_version configured on the key."),
    field("derived_key_type", Kind::Str).desc("The type of the output derived key. Currently, \"aes128-gcm96\" , \"aes256-gcm96\", \"chacha20-poly1305\", \"xchacha20-poly1305\" are supported. Defaults to \"aes256-gcm96\".").default(FieldDefault::Str("aes256-gcm96")),
];

pub const IMPORT_VERSION_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("ciphertext", Kind::Str).desc("The base64-encoded ciphertext of the keys. The AES key should be encrypted using OAEP with the wrapping key and then concatenated with the import key, wrapped by the AES key."),
    field("public_key", Kind::Str).desc("The plaintext PEM public key to be imported. If \"ciphertext\" is set, this field is ignored."),
    field("hash_function", Kind::Str).desc("The hash function used as a random oracle in the OAEP wrapping of the user-generated, ephemeral AES key. Can be one of \"SHA1\", \"SHA224\", \"SHA256\" (default), \"SHA384\", or \"SHA512\"").default(FieldDefault::Str("SHA256")),
    field("version", Kind::Int).desc("Optional version of the key to export, else all key versions are exported."),
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
        let p = Policy::create(NewKey::plain(WRAPPING_KEY_NAME, KeyType::Rsa4096)).map_err(op_error)?;
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

    /// The key an import request carries: a wrapped private key (`ciphertext`, unwrapped here) or a PEM public key
    /// (`public_key`, for the asymmetric types only), as OpenBao's `extractKeyFromFields`.
    async fn key_material(
        &self,
        storage: &dyn StorageView,
        f: &Fields<'_>,
        key_type: KeyType,
        private: bool,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if private {
            return self.unwrap_import(storage, f).await;
        }
        if !key_type.import_public_key_supported() {
            return Err(invalid("provided type does not support public_key import"));
        }
        Ok(Zeroizing::new(f.str("public_key").unwrap_or_default().into_bytes()))
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
            // OpenBao: a `ciphertext` field means a wrapped private key, otherwise `public_key` is a PEM public key.
            let private = req.data.contains_key("ciphertext");
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
            let material = self.key_material(ctx.storage, &f, key_type, private).await?;
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
            import_version(&mut p, &material, private)
                .map_err(|e| invalid(format!("error importing key: {}", e.text())))?;
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
            let private = req.data.contains_key("ciphertext");
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
            let current = self.current(ctx.storage, name)?;
            check(&current)?;
            let key_type = current.as_ref().map(Policy::key_type).unwrap_or(KeyType::Aes256Gcm96);
            let material = self.key_material(ctx.storage, &f, key_type, private).await?;
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let current = self.current(ctx.storage, name)?;
            check(&current)?;
            let Some(mut p) = current else {
                return Err(invalid("no key found"));
            };
            if f.has("version") {
                let version = f.int("version").unwrap_or(0);
                update_version(&mut p, version, &material, private).map_err(op_error)?;
            } else {
                import_version(&mut p, &material, private).map_err(op_error)?;
            }
            self.persist(ctx.storage, p).await?;
            // OpenBao answers an import with no body.
            Ok(Response::no_content())
        })
    }

    /// `byok-export/:destination/:source[/:version]`: the source key's versions wrapped for the destination RSA key
    /// (usually another server's wrapping key, imported here as a public key) as `keys/:name/import` takes them
    /// (OpenBao's `pathPolicyBYOKExportRead`).
    pub(super) fn byok_export<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, BYOK_EXPORT_FIELDS);
            let hash = f
                .str("hash")
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "SHA256".into());
            let Some(dst) = self.get(ctx.storage, m.get("destination")).await? else {
                return Err(invalid("no such destination key to export to"));
            };
            if dst.soft_deleted {
                return Err(invalid(format!(
                    "for destination key: {}",
                    super::policy::ERR_SOFT_DELETED
                )));
            }
            let Some(src) = self.get(ctx.storage, m.get("source")).await? else {
                return Err(invalid("no such source key for export"));
            };
            if !src.exportable {
                return Err(invalid("key is not exportable"));
            }
            if src.soft_deleted {
                return Err(invalid(format!("for source key: {}", super::policy::ERR_SOFT_DELETED)));
            }
            let version = m.get("version");
            let versions: Vec<i64> = if version.is_empty() {
                src.live_versions().map(|(v, _)| *v).collect()
            } else {
                let v = if version == "latest" {
                    src.latest_version
                } else {
                    super::crypto::go_atoi(version.strip_prefix('v').unwrap_or(version))
                        .ok_or_else(|| invalid("invalid key version"))?
                };
                if v < src.min_decryption_version {
                    return Err(invalid("version for export is below minimum decryption version"));
                }
                if !src.versions.contains_key(&v) {
                    return Err(invalid("version does not exist or cannot be found"));
                }
                vec![v]
            };
            let mut keys = Map::new();
            for v in versions {
                let entry = src.entry(v).map_err(op_error)?;
                let wrapped = wrap_for_destination(&dst, &src, entry, &hash)?;
                keys.insert(v.to_string(), json!(wrapped));
            }
            let mut data = Map::new();
            data.insert("name".into(), json!(src.name));
            data.insert("type".into(), json!(src.key_type().as_str()));
            data.insert("keys".into(), serde_json::Value::Object(keys));
            Ok(Response::with_data(data))
        })
    }

    /// `derive-key/:name`: a new symmetric key (or a new version of `name`) from ECDH between a version of the base
    /// EC key and the peer's public key, through HKDF-SHA256 (OpenBao's `pathPolicyDeriveKeyWrite`).
    pub(super) fn derive_key<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, DERIVE_KEY_FIELDS);
            let algorithm = f.str("key_derivation_algorithm").unwrap_or_else(|| "ecdh".into());
            if algorithm != "ecdh" {
                return Err(invalid(format!("key derivation algorithm {algorithm} not supported")));
            }
            let peer = f.str("peer_public_key").unwrap_or_default();
            if peer.is_empty() {
                return Err(invalid("peer public key not provided"));
            }
            let derived_type_name = f.str("derived_key_type").unwrap_or_else(|| "aes256-gcm96".into());
            let derived_type = match KeyType::parse(&derived_type_name.to_lowercase()) {
                Some(t) if t.is_symmetric() => t,
                _ => return Err(invalid(format!("unknown key type {derived_type_name}"))),
            };
            let base_name = f.str("base_key_name").unwrap_or_default();
            if base_name.is_empty() {
                return Err(invalid("cannot load policy with relative name"));
            }
            let Some(base) = self.get(ctx.storage, &base_name).await? else {
                return Err(invalid("specified base key not found"));
            };
            let t = base.key_type();
            if !t.is_ecdsa() {
                return Err(invalid(format!("base key type {t} does not support key agreement")));
            }
            let version = match f.int("base_key_version").unwrap_or(0) {
                0 => base.latest_version,
                v if v < 0 => return Err(invalid("requested version of the base key is negative")),
                v if v > base.latest_version => {
                    return Err(invalid(
                        "requested version of the base key is higher than the latest key version",
                    ))
                }
                v if v < base.min_available_version => {
                    return Err(invalid(
                        "requested version of the base key is less than the minimum available key version",
                    ))
                }
                v => v,
            };
            let entry = base.entry(version).map_err(op_error)?;
            let derived =
                super::crypto::ecdh_derive(t, entry, peer.as_bytes(), derived_type.key_bytes()).map_err(op_error)?;
            let name = m.get("name");
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            // As OpenBao's `ImportPolicy`: a new imported key, or a new version of the existing one.
            let mut p = match self.current(ctx.storage, name)? {
                Some(p) => p,
                None => {
                    let mut p = Policy::unrotated(NewKey::plain(name, derived_type)).map_err(op_error)?;
                    p.imported = true;
                    p
                }
            };
            import_version(&mut p, &derived, false)
                .map_err(|e| invalid(format!("error importing key: {}", e.text())))?;
            self.persist(ctx.storage, p).await?;
            Ok(Response::no_content())
        })
    }
}

/// Add `material` as the key's next version (OpenBao's `ImportPublicOrPrivate`): a private key (raw bytes for the
/// symmetric and HMAC types, PKCS#8 DER otherwise) or, when not `private`, a PEM public key, which makes a version
/// that verifies (and RSA-encrypts) but cannot sign or decrypt until its private half is imported.
fn import_version(p: &mut Policy, material: &[u8], private: bool) -> Result<(), OpError> {
    if p.soft_deleted {
        return Err(OpError::User(super::policy::ERR_SOFT_DELETED.into()));
    }
    // The private half of a latest version imported as a public key completes that version.
    if private && p.latest_version > 0 {
        let latest = p.latest_version;
        if p.versions.get(&latest).is_some_and(KeyEntry::is_private_key_missing)
            && update_version(p, latest, material, true).is_ok()
        {
            return Ok(());
        }
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
    if t == KeyType::Ed25519 && p.derived && !private {
        return Err(OpError::User("unable to import only public key for derived Ed25519 key: imported key should not be an Ed25519 key pair but is instead an HKDF key".into()));
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
    } else if private {
        super::crypto::parse_pkcs8_private(t, material, &mut entry)?;
    } else {
        super::crypto::parse_public_pem(t, material, &mut entry)?;
    }
    p.latest_version += 1;
    p.versions.insert(p.latest_version, entry);
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    Ok(())
}

/// Import the private half of an existing version that holds only a public key (OpenBao's `KeyVersionCanBeUpdated`
/// and `ImportPrivateKeyForVersion`, with their texts).
fn update_version(p: &mut Policy, version: i64, material: &[u8], private: bool) -> Result<(), OpError> {
    let t = p.key_type();
    let missing = p.entry(version)?.is_private_key_missing();
    if !t.import_public_key_supported() {
        return Err(OpError::User(
            "provided type does not support importing key versions".into(),
        ));
    }
    if missing && !private {
        return Err(OpError::User(
            "cannot add a public key to a key version that already has a public key set".into(),
        ));
    }
    if !missing {
        return Err(OpError::User(
            "private key imported, key version cannot be updated".into(),
        ));
    }
    if p.soft_deleted {
        return Err(OpError::User(super::policy::ERR_SOFT_DELETED.into()));
    }
    let mut entry = p.entry(version)?.clone();
    super::crypto::complete_private(t, material, &mut entry)?;
    p.versions.insert(version, entry);
    Ok(())
}

/// One version of `src` wrapped for the RSA key `dst` as OpenBao's `WrapKey` does: RSA-OAEP (with `hash`) of an
/// ephemeral AES-256 key, then the key (raw for the symmetric and HMAC types, PKCS#8 DER otherwise) wrapped with
/// AES-KWP under it, base64.
fn wrap_for_destination(dst: &Policy, src: &Policy, entry: &KeyEntry, hash: &str) -> Result<String, Error> {
    if !matches!(
        hash.to_uppercase().as_str(),
        "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512"
    ) {
        return Err(invalid(format!("unknown hash function: {hash}")));
    }
    let dt = dst.key_type();
    if !dt.signing_supported() {
        return Err(invalid(format!(
            "key wrapping (requring message signing) is not supported for key type {dt}"
        )));
    }
    let dst_entry = dst.entry(dst.latest_version).map_err(op_error)?;
    if dst_entry.rsa_key.is_none() && dst_entry.rsa_public_key.is_none() {
        return Err(invalid("unsupported key type in use; must be a rsa key"));
    }
    let public = super::crypto::rsa_public_key(dst_entry).map_err(op_error)?;
    let st = src.key_type();
    let target: Zeroizing<Vec<u8>> = if st.is_symmetric() || st == KeyType::Hmac {
        entry.key.clone().unwrap_or_default()
    } else {
        super::crypto::pkcs8_private_der(st, entry).map_err(op_error)?
    };
    let ephemeral = super::crypto::random_bytes(32);
    let wrapped_ephemeral = with_oaep_hash!(hash, D => {
        public
            .encrypt(&mut rand::rng(), rsa::Oaep::<D>::new(), &ephemeral)
            .map_err(|e| invalid(format!("failed to wrap target key for import: failed to encrypt ephemeral wrapping key with public key: {e}")))?
    });
    let kwp = <aes_kw::KwpAes256 as aes_gcm::aead::KeyInit>::new_from_slice(&ephemeral)
        .map_err(|_| invalid("failed to wrap target key for import: failed to generate new KWP from AES key"))?;
    let mut buf = Zeroizing::new(vec![0u8; target.len() + 16]);
    let wrapped_key = kwp
        .wrap_key(&target, &mut buf)
        .map_err(|_| invalid("failed to wrap target key for import: failed to wrap target key with KWP"))?;
    let mut out = wrapped_ephemeral;
    out.extend_from_slice(wrapped_key);
    Ok(encoding::encode(&out))
}
