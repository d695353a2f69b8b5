//! The transit secrets engine: encryption, signing and HMAC as a service with named keys the clients never hold,
//! as OpenBao 2.7's `builtin/logical/transit` (paths, fields, defaults, ciphertext format, error texts).
//!
//! Keys are stored in OpenBao's own JSON form (see [`policy`]), so `backup/:name` from OpenBao restores here and
//! the other way round, and ciphertexts and signatures pass between the two.
//!
//! Concurrency and durability: every change to a key (create, rotate, config, trim, restore, delete) runs under
//! that key's lock, writes its records in one durable transaction, and only then replaces the cached key. An
//! operation reads the cached key (or loads it under the lock), so no ciphertext is ever made with a version that
//! is not on disk. The cache lives in the backend instance, which the core drops at seal.

mod byok;
mod crypto;
mod encoding;
mod ops;
mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::framework::{
    field, keys_response, now_ns, rfc3339_nano, Captures, Display, FieldDefault, Fields, Kind, PathSpec, PathTable,
    Schema,
};
use crate::logical::{
    Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, PeriodicFuture, Request, Response, StorageView,
};
use crate::storage::StorageError;

use policy::{
    archive_key, policy_key, KeyData, KeyType, NewKey, OpError, Policy, HMAC_MAX_KEY_SIZE, HMAC_MIN_KEY_SIZE,
};

const CACHE_CONFIG_KEY: &[u8] = b"config/cache";
const KEYS_CONFIG_KEY: &[u8] = b"config/keys";

/// The transit backend of one mount: its key cache and per-key locks.
#[derive(Default)]
pub struct Transit {
    cache: RwLock<HashMap<String, Arc<Policy>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Most keys cached (0: no limit), from `cache-config`; read from storage on first use.
    cache_size: RwLock<Option<usize>>,
}

pub fn factory() -> Arc<dyn Backend> {
    Arc::new(Transit::default())
}

fn internal_error(text: impl Into<String>) -> Error {
    Error::Storage(StorageError::Codec(text.into()))
}

/// An operation's failure as a response: OpenBao answers a user error with 400 and its text; its internal errors
/// (500 there) are answered 400 here too when the client caused them, keeping OpenBao's text.
fn op_error(e: OpError) -> Error {
    Error::InvalidRequest(e.text().to_string())
}

fn invalid(text: impl Into<String>) -> Error {
    Error::InvalidRequest(text.into())
}

fn with_warnings(data: Map<String, Value>, warnings: Vec<String>) -> Response {
    Response {
        warnings,
        ..Response::with_data(data)
    }
}

const NAME_ONLY: Schema = &[field("name", Kind::Str).desc("Name of the key")];

const KEYS_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("type", Kind::Str).desc("Type of key to export (encryption-key, signing-key, hmac-key, public-key)").default(FieldDefault::Str("aes256-gcm96")),
    field("derived", Kind::Bool).desc("Enables key derivation mode. This allows for per-transaction unique keys for encryption operations."),
    field("convergent_encryption", Kind::Bool).desc("Whether to support convergent encryption. This is only supported when using a key with key derivation enabled and will require all requests to carry both a context and 96-bit (12-byte) nonce. The given nonce will be used in place of a randomly generated nonce. As a result, when the same context and nonce are supplied, the same ciphertext is generated. It is *very important* when using this mode that you ensure that all nonces are unique for a given context. Failing to do so will severely impact the ciphertext's security."),
    field("exportable", Kind::Bool).desc("Enables keys to be exportable. This allows for all the valid keys in the key ring to be exported."),
    field("allow_plaintext_backup", Kind::Bool).desc("Enables taking a backup of the named key in plaintext format. Once set, this cannot be disabled."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("auto_rotate_period", Kind::Duration).desc("Amount of time the key should live before being automatically rotated. A value of 0 (default) disables automatic rotation for the key.").default(FieldDefault::Int(0)),
    field("key_size", Kind::Int).desc("The key size in bytes for the algorithm. Only applies to HMAC and must be no fewer than 32 bytes and no more than 512").default(FieldDefault::Int(0)),
    field("external_key_ref", Kind::Str).desc("Reference to the external key to use. This follows the format <config name>:<key name>, uniquely identifying the key configured under sys/external-keys/configs/<config name>/keys/<key name>."),
];

const LIST_FIELDS: Schema = &[field("after", Kind::Str), field("limit", Kind::Int)];

const CONFIG_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("min_decryption_version", Kind::Int).desc("If set, the minimum version of the key allowed to be decrypted. For signing keys, the minimum version allowed to be used for verification."),
    field("min_encryption_version", Kind::Int).desc("If set, the minimum version of the key allowed to be used for encryption; or for signing keys, to be used for signing. If set to zero, only the latest version of the key is allowed."),
    field("deletion_allowed", Kind::Bool).desc("Whether to allow deletion of the key"),
    field("exportable", Kind::Bool).desc("Enables keys to be exportable. This allows for all the valid keys in the key ring to be exported."),
    field("allow_plaintext_backup", Kind::Bool).desc("Enables taking a backup of the named key in plaintext format. Once set, this cannot be disabled."),
    field("auto_rotate_period", Kind::Duration).desc("Amount of time the key should live before being automatically rotated. A value of 0 (default) disables automatic rotation for the key.").default(FieldDefault::Int(0)),
];

const ROTATE_FIELDS: Schema = &[field("name", Kind::Str).desc("Name of the key"), field("external_key_ref", Kind::Str).desc("Reference to the external key to use. This follows the format <config name>:<key name>, uniquely identifying the key configured under sys/external-keys/configs/<config name>/keys/<key name>.")];
const TRIM_FIELDS: Schema = &[field("name", Kind::Str).desc("Name of the key"), field("min_available_version", Kind::Int).desc("The minimum available version for the key ring. All versions before this version will be permanently deleted. This value can at most be equal to the lesser of 'min_decryption_version' and 'min_encryption_version'. This is not allowed to be set when either 'min_encryption_version' or 'min_decryption_version' is set to zero.")];
const RESTORE_FIELDS: Schema = &[
    field("backup", Kind::Str)
        .desc("Backed up key data to be restored. This should be the output from the 'backup/' endpoint."),
    field("name", Kind::Str).desc("Name of the key"),
    field("force", Kind::Bool)
        .desc("If set and a key by the given name exists, force the restore operation and override the key.")
        .default(FieldDefault::Bool(false)),
];
const EXPORT_FIELDS: Schema = &[
    field("type", Kind::Str)
        .desc("Type of key to export (encryption-key, signing-key, hmac-key, public-key)")
        .default(FieldDefault::Str("aes256-gcm96")),
    field("name", Kind::Str).desc("Name of the key"),
    field("version", Kind::Str).desc("Optional version of the key to export, else all key versions are exported."),
    field("format", Kind::Str)
        .desc("Encoding format to use. Can be \"hex\" or \"base64\". Defaults to \"base64\".")
        .default(FieldDefault::Str("hex")),
];
const CACHE_FIELDS: Schema = &[field("size", Kind::Int)
    .desc("Size of cache, use 0 for an unlimited cache size, defaults to 0")
    .default(FieldDefault::Int(0))];
const KEYS_CONFIG_FIELDS: Schema = &[field("disable_upsert", Kind::Bool)
    .desc("Whether to allow automatic upserting (creation) of keys on the encrypt endpoint.")];

const PATHS: PathTable<Transit> = PathTable {
    paths: &[
        PathSpec {
            pattern: "keys",
            fields: LIST_FIELDS,
            operations: &[(Operation::List, Transit::list_keys)],
            existence: None,
            help: "Managed named encryption keys",
            display: Display::new("transit", "", "keys"),
        },
        PathSpec {
            pattern: "keys/",
            fields: LIST_FIELDS,
            operations: &[(Operation::List, Transit::list_keys)],
            existence: None,
            help: "Managed named encryption keys",
            display: Display::new("transit", "", "keys"),
        },
        PathSpec {
            pattern: "keys/{name}/config",
            fields: CONFIG_FIELDS,
            operations: &[
                (Operation::Update, Transit::write_config),
                (Operation::Create, Transit::write_config),
            ],
            existence: None,
            help: "Configure a named encryption key",
            display: Display::new("transit", "configure", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/rotate",
            fields: ROTATE_FIELDS,
            operations: &[
                (Operation::Update, Transit::rotate),
                (Operation::Create, Transit::rotate),
            ],
            existence: None,
            help: "Rotate named encryption key",
            display: Display::new("transit", "rotate", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/trim",
            fields: TRIM_FIELDS,
            operations: &[(Operation::Update, Transit::trim), (Operation::Create, Transit::trim)],
            existence: None,
            help: "Trim key versions of a named key",
            display: Display::new("transit", "trim", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/soft-delete",
            fields: NAME_ONLY,
            operations: &[(Operation::Delete, Transit::soft_delete)],
            existence: None,
            help: "Managed named encryption keys",
            display: Display::new("transit", "soft-delete", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/soft-delete-restore",
            fields: NAME_ONLY,
            operations: &[
                (Operation::Update, Transit::soft_delete_restore),
                (Operation::Create, Transit::soft_delete_restore),
            ],
            existence: None,
            help: "Managed named encryption keys",
            display: Display::new("transit", "soft-delete-restore", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/import",
            fields: byok::IMPORT_FIELDS,
            operations: &[
                (Operation::Update, Transit::import),
                (Operation::Create, Transit::import),
            ],
            existence: None,
            help: "Imports an externally-generated key into a new transit key",
            display: Display::new("transit", "import", "key"),
        },
        PathSpec {
            pattern: "keys/{name}/import_version",
            fields: byok::IMPORT_VERSION_FIELDS,
            operations: &[
                (Operation::Update, Transit::import_version),
                (Operation::Create, Transit::import_version),
            ],
            existence: None,
            help: "Imports an externally-generated key into an existing imported key",
            display: Display::new("transit", "import", "key-version"),
        },
        PathSpec {
            pattern: "byok-export/{destination}/{source}",
            fields: byok::BYOK_EXPORT_FIELDS,
            operations: &[(Operation::Read, Transit::byok_export)],
            existence: None,
            help: "Securely export named encryption or signing key",
            display: Display::new("transit", "byok", "key"),
        },
        PathSpec {
            pattern: "byok-export/{destination}/{source}/{version}",
            fields: byok::BYOK_EXPORT_FIELDS,
            operations: &[(Operation::Read, Transit::byok_export)],
            existence: None,
            help: "Securely export named encryption or signing key",
            display: Display::new("transit", "byok", "key-version"),
        },
        PathSpec {
            pattern: "derive-key/{name}",
            fields: byok::DERIVE_KEY_FIELDS,
            operations: &[
                (Operation::Update, Transit::derive_key),
                (Operation::Create, Transit::derive_key),
            ],
            existence: None,
            help: "Derives a new key from a base key",
            display: Display::new("transit", "derive", "key"),
        },
        PathSpec {
            pattern: "wrapping_key",
            fields: &[],
            operations: &[(Operation::Read, Transit::read_wrapping_key)],
            existence: None,
            help: "Returns the public key to use for wrapping imported keys",
            display: Display::new("transit", "read", "wrapping-key"),
        },
        PathSpec {
            pattern: "keys/{name}",
            fields: KEYS_FIELDS,
            operations: &[
                (Operation::Update, Transit::create_key),
                (Operation::Create, Transit::create_key),
                (Operation::Read, Transit::read_key),
                (Operation::Delete, Transit::delete_key),
            ],
            existence: None,
            help: "Managed named encryption keys",
            display: Display {
                per_op: &[(Operation::Create, "create", ""), (Operation::Update, "create", "")],
                ..Display::new("transit", "", "key")
            },
        },
        PathSpec {
            pattern: "export/{type}/{name}",
            fields: EXPORT_FIELDS,
            operations: &[(Operation::Read, Transit::export)],
            existence: None,
            help: "Export named encryption or signing key",
            display: Display::new("transit", "export", "key"),
        },
        PathSpec {
            pattern: "export/{type}/{name}/{version}",
            fields: EXPORT_FIELDS,
            operations: &[(Operation::Read, Transit::export)],
            existence: None,
            help: "Export named encryption or signing key",
            display: Display::new("transit", "export", "key-version"),
        },
        PathSpec {
            pattern: "backup/{name}",
            fields: NAME_ONLY,
            operations: &[(Operation::Read, Transit::backup)],
            existence: None,
            help: "Backup the named key",
            display: Display::new("transit", "back-up", "key"),
        },
        PathSpec {
            pattern: "restore",
            fields: RESTORE_FIELDS,
            operations: &[
                (Operation::Update, Transit::restore),
                (Operation::Create, Transit::restore),
            ],
            existence: None,
            help: "Restore the named key",
            display: Display::new("transit", "restore", "key"),
        },
        PathSpec {
            pattern: "restore/{*name}",
            fields: RESTORE_FIELDS,
            operations: &[
                (Operation::Update, Transit::restore),
                (Operation::Create, Transit::restore),
            ],
            existence: None,
            help: "Restore the named key",
            display: Display::new("transit", "restore-and-rename", "key"),
        },
        PathSpec {
            pattern: "cache-config",
            fields: CACHE_FIELDS,
            operations: &[
                (Operation::Read, Transit::read_cache_config),
                (Operation::Update, Transit::write_cache_config),
                (Operation::Create, Transit::write_cache_config),
            ],
            existence: None,
            help: "Returns the size of the active cache",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "cache-configuration"),
                    (Operation::Create, "configure", "cache"),
                    (Operation::Update, "configure", "cache"),
                ],
                ..Display::new("transit", "", "")
            },
        },
        PathSpec {
            pattern: "config/keys",
            fields: KEYS_CONFIG_FIELDS,
            operations: &[
                (Operation::Read, Transit::read_keys_config),
                (Operation::Update, Transit::write_keys_config),
                (Operation::Create, Transit::write_keys_config),
            ],
            existence: None,
            help: "Configuration common across all keys",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", "keys-configuration"),
                    (Operation::Create, "configure", "keys"),
                    (Operation::Update, "configure", "keys"),
                ],
                ..Display::new("transit", "", "")
            },
        },
        PathSpec {
            pattern: "encrypt/{name}",
            fields: ops::ENCRYPT_FIELDS,
            operations: &[
                (Operation::Update, Transit::encrypt),
                (Operation::Create, Transit::encrypt),
            ],
            existence: Some(Transit::key_exists),
            help: "Encrypt a plaintext value or a batch of plaintext blocks using a named key",
            display: Display::new("transit", "encrypt", ""),
        },
        PathSpec {
            pattern: "decrypt/{name}",
            fields: ops::DECRYPT_FIELDS,
            operations: &[
                (Operation::Update, Transit::decrypt),
                (Operation::Create, Transit::decrypt),
            ],
            existence: None,
            help: "Decrypt a ciphertext value using a named key",
            display: Display::new("transit", "decrypt", ""),
        },
        PathSpec {
            pattern: "rewrap/{name}",
            fields: ops::REWRAP_FIELDS,
            operations: &[
                (Operation::Update, Transit::rewrap),
                (Operation::Create, Transit::rewrap),
            ],
            existence: None,
            help: "Rewrap ciphertext",
            display: Display::new("transit", "rewrap", ""),
        },
        PathSpec {
            pattern: "datakey/{plaintext}/{name}",
            fields: ops::DATAKEY_FIELDS,
            operations: &[
                (Operation::Update, Transit::datakey),
                (Operation::Create, Transit::datakey),
            ],
            existence: None,
            help: "Generate a data key",
            display: Display::new("transit", "generate", "data-key"),
        },
        PathSpec {
            pattern: "hmac/{name}",
            fields: ops::HMAC_FIELDS,
            operations: &[(Operation::Update, Transit::hmac), (Operation::Create, Transit::hmac)],
            existence: None,
            help: "Generate an HMAC for input data using the named key",
            display: Display::new("transit", "generate", "hmac"),
        },
        PathSpec {
            pattern: "hmac/{name}/{*urlalgorithm}",
            fields: ops::HMAC_FIELDS,
            operations: &[(Operation::Update, Transit::hmac), (Operation::Create, Transit::hmac)],
            existence: None,
            help: "Generate an HMAC for input data using the named key",
            display: Display::new("transit", "generate", "hmac-with-algorithm"),
        },
        PathSpec {
            pattern: "sign/{name}",
            fields: ops::SIGN_FIELDS,
            operations: &[(Operation::Update, Transit::sign), (Operation::Create, Transit::sign)],
            existence: None,
            help: "Generate a signature for input data using the named key",
            display: Display::new("transit", "sign", ""),
        },
        PathSpec {
            pattern: "sign/{name}/{*urlalgorithm}",
            fields: ops::SIGN_FIELDS,
            operations: &[(Operation::Update, Transit::sign), (Operation::Create, Transit::sign)],
            existence: None,
            help: "Generate a signature for input data using the named key",
            display: Display::new("transit", "sign", "with-algorithm"),
        },
        PathSpec {
            pattern: "verify/{name}",
            fields: ops::VERIFY_FIELDS,
            operations: &[
                (Operation::Update, Transit::verify),
                (Operation::Create, Transit::verify),
            ],
            existence: None,
            help: "Verify a signature or HMAC for input data created using the named key",
            display: Display::new("transit", "verify", ""),
        },
        PathSpec {
            pattern: "verify/{name}/{*urlalgorithm}",
            fields: ops::VERIFY_FIELDS,
            operations: &[
                (Operation::Update, Transit::verify),
                (Operation::Create, Transit::verify),
            ],
            existence: None,
            help: "Verify a signature or HMAC for input data created using the named key",
            display: Display::new("transit", "verify", "with-algorithm"),
        },
        PathSpec {
            pattern: "hash",
            fields: ops::HASH_FIELDS,
            operations: &[(Operation::Update, Transit::hash), (Operation::Create, Transit::hash)],
            existence: None,
            help: "Generate a hash sum for input data",
            display: Display::new("transit", "hash", ""),
        },
        PathSpec {
            pattern: "hash/{*urlalgorithm}",
            fields: ops::HASH_FIELDS,
            operations: &[(Operation::Update, Transit::hash), (Operation::Create, Transit::hash)],
            existence: None,
            help: "Generate a hash sum for input data",
            display: Display::new("transit", "hash", "with-algorithm"),
        },
        PathSpec {
            pattern: "random",
            fields: ops::RANDOM_FIELDS,
            operations: &[
                (Operation::Update, Transit::random),
                (Operation::Create, Transit::random),
            ],
            existence: None,
            help: "Generate random bytes",
            display: Display::new("transit", "generate", "random"),
        },
        PathSpec {
            pattern: "random/{source}",
            fields: ops::RANDOM_FIELDS,
            operations: &[
                (Operation::Update, Transit::random),
                (Operation::Create, Transit::random),
            ],
            existence: None,
            help: "Generate random bytes",
            display: Display::new("transit", "generate", "random-with-source"),
        },
        PathSpec {
            pattern: "random/{source}/{urlbytes}",
            fields: ops::RANDOM_FIELDS,
            operations: &[
                (Operation::Update, Transit::random),
                (Operation::Create, Transit::random),
            ],
            existence: None,
            help: "Generate random bytes",
            display: Display::new("transit", "generate", "random-with-source-and-bytes"),
        },
    ],
};

impl Transit {
    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    fn cached(&self, name: &str) -> Option<Arc<Policy>> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    async fn cache_limit(&self, storage: &dyn StorageView) -> Result<usize, Error> {
        if let Some(size) = *self.cache_size.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(size);
        }
        let size = read_cache_size(storage)?;
        *self.cache_size.write().unwrap_or_else(|e| e.into_inner()) = Some(size);
        Ok(size)
    }

    async fn remember(&self, storage: &dyn StorageView, name: &str, p: Arc<Policy>) -> Result<(), Error> {
        let limit = self.cache_limit(storage).await?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if limit > 0 && cache.len() >= limit && !cache.contains_key(name) {
            // A bounded cache evicts some other key (it is reloaded from storage on next use).
            if let Some(victim) = cache.keys().next().cloned() {
                cache.remove(&victim);
            }
        }
        cache.insert(name.to_string(), p);
        Ok(())
    }

    fn forget(&self, name: &str) {
        self.cache.write().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    /// The key from storage (no cache), or `None`.
    fn load_from_storage(storage: &dyn StorageView, name: &str) -> Result<Option<Policy>, Error> {
        let Some(record) = storage.get(&policy_key(name))? else {
            return Ok(None);
        };
        let archive = storage.get(&archive_key(name))?;
        let p = Policy::decode(&record, archive.as_deref().map(|a| &a[..]))
            .map_err(|e| internal_error(e.text().to_string()))?;
        Ok(Some(p))
    }

    /// The key, from the cache or loaded under its lock (so a load never races a write into the cache).
    async fn get(&self, storage: &dyn StorageView, name: &str) -> Result<Option<Arc<Policy>>, Error> {
        if let Some(p) = self.cached(name) {
            return Ok(Some(p));
        }
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        if let Some(p) = self.cached(name) {
            return Ok(Some(p));
        }
        match Self::load_from_storage(storage, name)? {
            None => Ok(None),
            Some(p) => {
                let p = Arc::new(p);
                self.remember(storage, name, p.clone()).await?;
                Ok(Some(p))
            }
        }
    }

    /// The key as held while its lock is: cache first, then storage.
    fn current(&self, storage: &dyn StorageView, name: &str) -> Result<Option<Policy>, Error> {
        if let Some(p) = self.cached(name) {
            return Ok(Some((*p).clone()));
        }
        Self::load_from_storage(storage, name)
    }

    /// Write a key's records durably, then cache it. The caller holds the key's lock.
    async fn persist(&self, storage: &dyn StorageView, p: Policy) -> Result<Arc<Policy>, Error> {
        let (policy_json, archive_json) = p.encode().map_err(|e| internal_error(e.text().to_string()))?;
        let (policy_json, archive_json) = (Zeroizing::new(policy_json), Zeroizing::new(archive_json));
        let (pk, ak) = (policy_key(&p.name), archive_key(&p.name));
        storage
            .write(move |tx| {
                tx.put(&pk, &policy_json)?;
                tx.put(&ak, &archive_json)
            })
            .await?;
        let name = p.name.clone();
        let p = Arc::new(p);
        self.remember(storage, &name, p.clone()).await?;
        Ok(p)
    }

    fn key_exists<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> ExistenceFuture<'a> {
        Box::pin(async move { Ok(Some(self.get(ctx.storage, m.get("name")).await?.is_some())) })
    }

    fn list_keys<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let fields = Fields::new(&req.data, LIST_FIELDS);
            let after = fields.str("after").unwrap_or_default();
            let limit = fields.int("limit").unwrap_or(0);
            let mut keys: Vec<String> = ctx
                .storage
                .list(b"policy/")?
                .into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .filter(|k| after.is_empty() || k.as_str() > after.as_str())
                .collect();
            if limit > 0 {
                keys.truncate(limit as usize);
            }
            keys_response(keys, fields.warnings(&[]))
        })
    }

    fn create_key<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, KEYS_FIELDS);
            let derived = f.bool("derived").unwrap_or(false);
            let convergent = f.bool("convergent_encryption").unwrap_or(false);
            let type_name = f
                .str("type")
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "aes256-gcm96".into());
            let key_size = f.int("key_size").unwrap_or(0);
            let auto_rotate = f.secs("auto_rotate_period").unwrap_or(0);
            if auto_rotate != 0 && auto_rotate < 3600 {
                return Err(invalid("auto rotate period must be 0 to disable or at least an hour"));
            }
            if !derived && convergent {
                return Err(invalid("convergent encryption requires derivation to be enabled"));
            }
            let Some(key_type) = KeyType::parse(&type_name) else {
                return Err(invalid(format!("unknown key type {type_name}")));
            };
            if key_size != 0 {
                if key_type != KeyType::Hmac {
                    return Err(invalid(format!("key_size is not valid for algorithm {key_type}")));
                }
                if !(HMAC_MIN_KEY_SIZE..=HMAC_MAX_KEY_SIZE).contains(&key_size) {
                    return Err(invalid(format!("invalid key_size {key_size}")));
                }
            }
            if f.str("external_key_ref").is_some_and(|r| !r.is_empty()) {
                return Err(invalid("must provide type=external-key to use external_key_ref"));
            }
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let warnings = f.warnings(&["name"]);
            let p = match self.current(ctx.storage, name)? {
                // OpenBao 2.7 answers an existing key as is, without its "already existed" warning.
                Some(existing) => Arc::new(existing),
                None => {
                    let p = Policy::create(NewKey {
                        name: name.to_string(),
                        key_type,
                        derived,
                        convergent,
                        exportable: f.bool("exportable").unwrap_or(false),
                        allow_plaintext_backup: f.bool("allow_plaintext_backup").unwrap_or(false),
                        auto_rotate_period_ns: auto_rotate.saturating_mul(1_000_000_000),
                        key_size,
                    })
                    .map_err(op_error)?;
                    self.persist(ctx.storage, p).await?
                }
            };
            Ok(with_warnings(format_key(&p, &[])?, warnings))
        })
    }

    fn read_key<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, KEYS_FIELDS);
            let Some(p) = self.get(ctx.storage, m.get("name")).await? else {
                return Err(Error::NotFound);
            };
            let context = match f.str("context").filter(|c| !c.is_empty()) {
                Some(c) => encoding::decode(&c).map_err(|_| invalid("failed to base64-decode context"))?,
                None => Zeroizing::new(Vec::new()),
            };
            Ok(with_warnings(format_key(&p, &context)?, f.warnings(&["name"])))
        })
    }

    fn delete_key<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let Some(p) = self.current(ctx.storage, name)? else {
                return Err(invalid(format!(
                    "error deleting policy {name}: could not delete key; not found"
                )));
            };
            if !p.deletion_allowed {
                return Err(invalid(format!(
                    "error deleting policy {name}: deletion is not allowed for this key"
                )));
            }
            let (pk, ak) = (policy_key(name), archive_key(name));
            ctx.storage
                .write(move |tx| {
                    tx.delete(&pk)?;
                    tx.delete(&ak)?;
                    Ok(())
                })
                .await?;
            self.forget(name);
            Ok(Response::no_content())
        })
    }

    fn soft_delete<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.set_soft_deleted(ctx, req, m, true))
    }

    fn soft_delete_restore<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.set_soft_deleted(ctx, req, m, false))
    }

    /// Mark a key (un)usable without removing it (OpenBao's soft delete and its restore).
    async fn set_soft_deleted(
        &self,
        ctx: &Context<'_>,
        req: &Request,
        m: Captures<'_>,
        deleted: bool,
    ) -> Result<Response, Error> {
        let name = m.get("name");
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        let Some(mut p) = self.current(ctx.storage, name)? else {
            // OpenBao answers a missing key with an empty success.
            return Ok(Response::no_content());
        };
        let mut warnings = Fields::new(&req.data, NAME_ONLY).warnings(&["name"]);
        let p = if p.soft_deleted == deleted {
            warnings.push(
                if deleted {
                    "key was already marked as soft deleted"
                } else {
                    "key was already restored"
                }
                .into(),
            );
            Arc::new(p)
        } else {
            p.soft_deleted = deleted;
            self.persist(ctx.storage, p).await?
        };
        Ok(with_warnings(format_key(&p, &[])?, warnings))
    }

    fn write_config<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, CONFIG_FIELDS);
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let Some(mut p) = self.current(ctx.storage, name)? else {
                return Err(invalid(format!("no existing key named {name} could be found")));
            };
            let mut warnings = f.warnings(&["name"]);
            let mut changed = false;
            if f.has("min_decryption_version") {
                let mut v = f.int("min_decryption_version").unwrap_or(0);
                if v < 0 {
                    return Err(invalid("min decryption version cannot be negative"));
                }
                if v == 0 {
                    v = 1;
                    warnings.push("since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1".into());
                }
                if v != p.min_decryption_version {
                    if v > p.latest_version {
                        return Err(invalid(format!(
                            "cannot set min decryption version of {v}, latest key version is {}",
                            p.latest_version
                        )));
                    }
                    p.min_decryption_version = v;
                    changed = true;
                }
            }
            if f.has("min_encryption_version") {
                let v = f.int("min_encryption_version").unwrap_or(0);
                if v < 0 {
                    return Err(invalid("min encryption version cannot be negative"));
                }
                if v != p.min_encryption_version {
                    if v > p.latest_version {
                        return Err(invalid(format!(
                            "cannot set min encryption version of {v}, latest key version is {}",
                            p.latest_version
                        )));
                    }
                    p.min_encryption_version = v;
                    changed = true;
                }
            }
            if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
                return Err(invalid(format!(
                    "cannot set min encryption/decryption values; min encryption version of {} must be greater than or equal to min decryption version of {}",
                    p.min_encryption_version, p.min_decryption_version
                )));
            }
            if let Some(allowed) = f
                .has("deletion_allowed")
                .then(|| f.bool("deletion_allowed").unwrap_or(false))
            {
                if allowed != p.deletion_allowed {
                    p.deletion_allowed = allowed;
                    changed = true;
                }
            }
            if p.min_decryption_version == 0 {
                p.min_decryption_version = 1;
                changed = true;
            }
            if f.bool("exportable") == Some(true) && !p.exportable {
                p.exportable = true;
                changed = true;
            }
            if f.bool("allow_plaintext_backup") == Some(true) && !p.allow_plaintext_backup {
                p.allow_plaintext_backup = true;
                changed = true;
            }
            if f.has("auto_rotate_period") {
                let secs = f.secs("auto_rotate_period").unwrap_or(0);
                if secs != 0 && secs < 3600 {
                    return Err(invalid("auto rotate period must be 0 to disable or at least an hour"));
                }
                let ns = secs.saturating_mul(1_000_000_000);
                if ns != p.auto_rotate_period {
                    p.auto_rotate_period = ns;
                    changed = true;
                }
            }
            if !changed {
                return Ok(with_warnings(format_key(&p, &[])?, warnings));
            }
            if p.min_available_version > p.min_encryption_version {
                return Err(invalid(
                    "min encryption version should not be less than min available version",
                ));
            }
            if p.min_available_version > p.min_decryption_version {
                return Err(invalid(
                    "min decryption version should not be less then min available version",
                ));
            }
            let p = self.persist(ctx.storage, p).await?;
            Ok(with_warnings(format_key(&p, &[])?, warnings))
        })
    }

    fn rotate<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, ROTATE_FIELDS);
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let Some(mut p) = self.current(ctx.storage, name)? else {
                return Err(invalid("key not found"));
            };
            if f.str("external_key_ref").is_some_and(|r| !r.is_empty()) {
                return Err(invalid(format!(
                    "cannot use external_key_ref on key of type {}",
                    p.key_type()
                )));
            }
            p.rotate_in_memory().map_err(op_error)?;
            let p = self.persist(ctx.storage, p).await?;
            Ok(with_warnings(format_key(&p, &[])?, f.warnings(&["name"])))
        })
    }

    fn trim<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, TRIM_FIELDS);
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let Some(mut p) = self.current(ctx.storage, name)? else {
                return Err(invalid("invalid key name"));
            };
            if !f.has("min_available_version") {
                return Err(invalid("missing min_available_version"));
            }
            let v = f.int("min_available_version").unwrap_or(0);
            let problem = if v < p.min_available_version {
                Some("minimum available version cannot be decremented")
            } else if p.min_encryption_version == 0 {
                Some("minimum available version cannot be set when minimum encryption version is not set")
            } else if p.min_decryption_version == 0 {
                Some("minimum available version cannot be set when minimum decryption version is not set")
            } else if v > p.min_encryption_version {
                Some("minimum available version cannot be greater than minmum encryption version")
            } else if v > p.min_decryption_version {
                Some("minimum available version cannot be greater than minimum decryption version")
            } else if v < 0 {
                Some("minimum available version cannot be negative")
            } else if v == 0 {
                Some("minimum available version should be positive")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(invalid(problem));
            }
            p.min_available_version = v;
            p.versions.retain(|version, _| *version >= v);
            let p = self.persist(ctx.storage, p).await?;
            Ok(with_warnings(format_key(&p, &[])?, f.warnings(&["name"])))
        })
    }

    fn export<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, EXPORT_FIELDS);
            let export_type = m.get("type");
            let format = f.str("format").unwrap_or_default();
            if !matches!(
                export_type,
                "encryption-key" | "signing-key" | "hmac-key" | "public-key" | "certificate-chain"
            ) {
                return Err(invalid(format!("invalid export type: {export_type}")));
            }
            if !matches!(format.as_str(), "" | "raw" | "der" | "pem") {
                return Err(invalid(format!("invalid format: {format}")));
            }
            let Some(p) = self.get(ctx.storage, m.get("name")).await? else {
                return Err(Error::NotFound);
            };
            if !p.exportable && export_type != "public-key" && export_type != "certificate-chain" {
                return Err(invalid("private key material is not exportable"));
            }
            let t = p.key_type();
            match export_type {
                "encryption-key" if !t.encryption_supported() => {
                    return Err(invalid("encryption not supported for the key"))
                }
                "signing-key" if !t.signing_supported() => return Err(invalid("signing not supported for the key")),
                "certificate-chain" if !t.signing_supported() => {
                    return Err(invalid(
                        "certificate chain not supported for keys that do not support signing",
                    ))
                }
                _ => {}
            }
            let mut keys = Map::new();
            let version = m.get("version");
            if version.is_empty() {
                for (v, entry) in p.live_versions() {
                    keys.insert(
                        v.to_string(),
                        Value::String(export_key(&p, entry, export_type, &format)?.to_string()),
                    );
                }
            } else {
                let v = if version == "latest" {
                    p.latest_version
                } else {
                    crypto::go_atoi(version.strip_prefix('v').unwrap_or(version))
                        .ok_or_else(|| invalid("invalid key version"))?
                };
                if v < p.min_decryption_version {
                    return Err(invalid("version for export is below minimum decryption version"));
                }
                let entry = p
                    .versions
                    .get(&v)
                    .ok_or_else(|| invalid("version does not exist or cannot be found"))?;
                keys.insert(
                    v.to_string(),
                    Value::String(export_key(&p, entry, export_type, &format)?.to_string()),
                );
            }
            let mut data = Map::new();
            data.insert("name".into(), json!(p.name));
            data.insert("type".into(), json!(t.as_str()));
            data.insert("keys".into(), Value::Object(keys));
            Ok(with_warnings(data, f.warnings(&["type", "name", "version"])))
        })
    }

    fn backup<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let lock = self.lock_for(name);
            let _guard = lock.lock().await;
            let Some(mut p) = self.current(ctx.storage, name)? else {
                return Err(invalid(format!("key {name:?} not found")));
            };
            if p.soft_deleted {
                return Err(invalid(policy::ERR_SOFT_DELETED));
            }
            if !p.exportable {
                return Err(invalid("exporting is disallowed on the policy"));
            }
            if !p.allow_plaintext_backup {
                return Err(invalid("plaintext backup is disallowed on the policy"));
            }
            p.backup_info = Some(policy::TimeInfo {
                time: rfc3339_nano(now_ns()),
                version: p.latest_version,
            });
            let p = self.persist(ctx.storage, p).await?;
            let (policy_json, archive_json) = p.encode().map_err(|e| internal_error(e.text().to_string()))?;
            let (policy_json, archive_json) = (Zeroizing::new(policy_json), Zeroizing::new(archive_json));
            // KeyData {policy, archived_keys} from the records as stored, without re-encoding key material.
            let mut out = Zeroizing::new(Vec::with_capacity(policy_json.len() + archive_json.len() + 40));
            out.extend_from_slice(b"{\"policy\":");
            out.extend_from_slice(&policy_json);
            out.extend_from_slice(b",\"archived_keys\":");
            out.extend_from_slice(&archive_json);
            out.extend_from_slice(b"}\n");
            let mut data = Map::new();
            data.insert("backup".into(), Value::String(encoding::encode(&out)));
            Ok(Response::with_data(data))
        })
    }

    fn restore<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, RESTORE_FIELDS);
            let backup = f.str("backup").unwrap_or_default();
            let force = f.bool("force").unwrap_or(false);
            if backup.is_empty() {
                return Err(invalid("'backup' must be supplied"));
            }
            let mut name = m.get("name").to_string();
            if name.contains('/') {
                return Err(invalid("key names cannot be paths"));
            }
            let bytes = encoding::decode(&backup).map_err(invalid)?;
            let data: KeyData = serde_json::from_slice(&bytes).map_err(|e| invalid(format!("invalid backup: {e}")))?;
            let KeyData {
                policy: mut p,
                archived_keys,
            } = data;
            if name.is_empty() {
                name = p.name.clone();
            }
            if name.is_empty() || crate::framework::path::match_pattern("{name}", &name).is_none() {
                return Err(invalid("invalid key name in backup"));
            }
            p.name = name.clone();
            p.absorb(archived_keys).map_err(op_error)?;
            if p.latest_version < 1 || !p.versions.contains_key(&p.latest_version) {
                return Err(invalid("invalid backup: the key has no versions"));
            }
            let lock = self.lock_for(&name);
            let _guard = lock.lock().await;
            if !force && self.current(ctx.storage, &name)?.is_some() {
                return Err(invalid(format!("key {name:?} already exists")));
            }
            p.restore_info = Some(policy::TimeInfo {
                time: rfc3339_nano(now_ns()),
                version: p.latest_version,
            });
            self.persist(ctx.storage, p).await?;
            Ok(Response::no_content())
        })
    }

    fn read_cache_config<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let mut data = Map::new();
            data.insert("size".into(), json!(read_cache_size(ctx.storage)?));
            Ok(Response::with_data(data))
        })
    }

    fn write_cache_config<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, CACHE_FIELDS);
            let size = f.int("size").unwrap_or(0);
            if size != 0 && size < 10 {
                return Err(invalid("size must be 0 or a value greater or equal to 10"));
            }
            let record = serde_json::to_vec(&json!({ "size": size })).unwrap_or_default();
            ctx.storage.write(move |tx| tx.put(CACHE_CONFIG_KEY, &record)).await?;
            *self.cache_size.write().unwrap_or_else(|e| e.into_inner()) = Some(size as usize);
            let mut data = Map::new();
            data.insert("size".into(), json!(size));
            Ok(with_warnings(data, f.warnings(&[])))
        })
    }

    fn read_keys_config<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let mut data = Map::new();
            data.insert("disable_upsert".into(), json!(upsert_disabled(ctx.storage)?));
            Ok(Response::with_data(data))
        })
    }

    fn write_keys_config<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, KEYS_CONFIG_FIELDS);
            let disable = match f.has("disable_upsert") {
                true => f.bool("disable_upsert").unwrap_or(false),
                false => upsert_disabled(ctx.storage)?,
            };
            let record = serde_json::to_vec(&json!({ "disable_upsert": disable })).unwrap_or_default();
            ctx.storage.write(move |tx| tx.put(KEYS_CONFIG_KEY, &record)).await?;
            let mut data = Map::new();
            data.insert("disable_upsert".into(), json!(disable));
            Ok(with_warnings(data, f.warnings(&[])))
        })
    }

    /// Rotate every key whose `auto_rotate_period` has passed since its latest version was made.
    async fn auto_rotate(&self, storage: &dyn StorageView) -> Result<(), Error> {
        let names: Vec<String> = storage
            .list(b"policy/")?
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .filter(|k| !k.ends_with('/'))
            .collect();
        let now = now_ns();
        for name in names {
            let Some(p) = self.get(storage, &name).await? else {
                continue;
            };
            if !due_for_rotation(&p, now) {
                continue;
            }
            let lock = self.lock_for(&name);
            let _guard = lock.lock().await;
            let Some(mut p) = self.current(storage, &name)? else {
                continue;
            };
            if !due_for_rotation(&p, now) {
                continue;
            }
            if let Err(e) = p.rotate_in_memory() {
                log::warn!("transit: auto-rotation of key {name} failed: {}", e.text());
                continue;
            }
            self.persist(storage, p).await?;
        }
        Ok(())
    }
}

/// Whether a key's latest version is older than its auto-rotation period.
fn due_for_rotation(p: &Policy, now_ns: i64) -> bool {
    if p.auto_rotate_period <= 0 || p.soft_deleted || (p.imported && !p.allow_imported_key_rotation) {
        return false;
    }
    let Some(latest) = p.versions.get(&p.latest_version) else {
        return false;
    };
    let created_ns = chrono::DateTime::parse_from_rfc3339(&latest.time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(latest.creation_time.saturating_mul(1_000_000_000));
    now_ns.saturating_sub(created_ns) > p.auto_rotate_period
}

fn read_cache_size(storage: &dyn StorageView) -> Result<usize, Error> {
    let Some(bytes) = storage.get(CACHE_CONFIG_KEY)? else {
        return Ok(0);
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| internal_error(format!("cache config: {e}")))?;
    Ok(value.get("size").and_then(Value::as_u64).unwrap_or(0) as usize)
}

fn upsert_disabled(storage: &dyn StorageView) -> Result<bool, Error> {
    let Some(bytes) = storage.get(KEYS_CONFIG_KEY)? else {
        return Ok(false);
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| internal_error(format!("keys config: {e}")))?;
    Ok(value.get("disable_upsert").and_then(Value::as_bool).unwrap_or(false))
}

/// One version's exported key in `format` (OpenBao's `getExportKey`).
fn export_key(
    p: &Policy,
    entry: &policy::KeyEntry,
    export_type: &str,
    format: &str,
) -> Result<Zeroizing<String>, Error> {
    let t = p.key_type();
    let raw_only = |bytes: &Option<Zeroizing<Vec<u8>>>| {
        if format == "der" || format == "pem" {
            return Err(invalid("unknown format for HMAC key; supported values are `` or `raw`"));
        }
        Ok(Zeroizing::new(encoding::encode(
            bytes.as_deref().map(|k| &k[..]).unwrap_or_default(),
        )))
    };
    match export_type {
        "hmac-key" => raw_only(if t == KeyType::Hmac {
            &entry.key
        } else {
            &entry.hmac_key
        }),
        "encryption-key" if t.is_symmetric() => raw_only(&entry.key),
        "encryption-key" if t.is_rsa() => crypto::export_asymmetric(t, entry, true, format).map_err(op_error),
        "signing-key" if t.signing_supported() => crypto::export_asymmetric(t, entry, true, format).map_err(op_error),
        "public-key" if t.signing_supported() => crypto::export_asymmetric(t, entry, false, format).map_err(op_error),
        "certificate-chain" => Err(invalid(
            "selected key version does not have a certificate chain imported",
        )),
        _ => Err(invalid(format!("unknown key type {t} for export type {export_type}"))),
    }
}

/// A key as `keys/:name` reads (OpenBao's `formatKeyPolicy`).
fn format_key(p: &Policy, context: &[u8]) -> Result<Map<String, Value>, Error> {
    let t = p.key_type();
    let mut d = Map::new();
    d.insert("name".into(), json!(p.name));
    d.insert("type".into(), json!(t.as_str()));
    d.insert("derived".into(), json!(p.derived));
    d.insert("deletion_allowed".into(), json!(p.deletion_allowed));
    d.insert("min_available_version".into(), json!(p.min_available_version));
    d.insert("min_decryption_version".into(), json!(p.min_decryption_version));
    d.insert("min_encryption_version".into(), json!(p.min_encryption_version));
    d.insert("latest_version".into(), json!(p.latest_version));
    d.insert("exportable".into(), json!(p.exportable));
    d.insert("allow_plaintext_backup".into(), json!(p.allow_plaintext_backup));
    d.insert("supports_encryption".into(), json!(t.encryption_supported()));
    d.insert("supports_decryption".into(), json!(t.encryption_supported()));
    d.insert("supports_signing".into(), json!(t.signing_supported()));
    d.insert("supports_derivation".into(), json!(t.derivation_supported()));
    d.insert("auto_rotate_period".into(), json!(p.auto_rotate_period / 1_000_000_000));
    d.insert("imported_key".into(), json!(p.imported));
    d.insert("soft_deleted".into(), json!(p.soft_deleted));
    if p.key_size != 0 {
        d.insert("key_size".into(), json!(p.key_size));
    }
    if p.imported {
        d.insert(
            "imported_key_allow_rotation".into(),
            json!(p.allow_imported_key_rotation),
        );
    }
    if let Some(info) = &p.backup_info {
        d.insert(
            "backup_info".into(),
            json!({"time": info.time, "version": info.version}),
        );
    }
    if let Some(info) = &p.restore_info {
        d.insert(
            "restore_info".into(),
            json!({"time": info.time, "version": info.version}),
        );
    }
    if p.derived {
        if p.kdf == policy::KDF_HMAC_SHA256_COUNTER {
            d.insert("kdf".into(), json!("hmac-sha256-counter"));
            d.insert("kdf_mode".into(), json!("hmac-sha256-counter"));
        } else if p.kdf == policy::KDF_HKDF_SHA256 {
            d.insert("kdf".into(), json!("hkdf_sha256"));
        }
        d.insert("convergent_encryption".into(), json!(p.convergent_encryption));
        if p.convergent_encryption {
            d.insert("convergent_encryption_version".into(), json!(p.convergent_version));
        }
    }
    if t.is_symmetric() {
        let keys: Map<String, Value> = p
            .live_versions()
            .map(|(v, e)| (v.to_string(), json!(e.creation_time)))
            .collect();
        d.insert("keys".into(), Value::Object(keys));
    } else if t.signing_supported() {
        let mut keys = Map::new();
        for (v, e) in p.live_versions() {
            let creation_time = if e.time.starts_with("0001-01-01T") {
                rfc3339_nano(e.creation_time.saturating_mul(1_000_000_000))
            } else {
                e.time.clone()
            };
            let (name, public_key) = match t {
                KeyType::EcdsaP256 => ("P-256", e.public_key.clone()),
                KeyType::EcdsaP384 => ("P-384", e.public_key.clone()),
                KeyType::EcdsaP521 => ("P-521", e.public_key.clone()),
                KeyType::Ed25519 => {
                    let public = if !p.derived {
                        e.public_key.clone()
                    } else if context.is_empty() {
                        String::new()
                    } else {
                        let full = p.get_key(context, *v, 32).map_err(|e| {
                            internal_error(format!("failed to derive key to return public component: {}", e.text()))
                        })?;
                        encoding::encode(&full[32..])
                    };
                    ("ed25519", public)
                }
                _ => (
                    t.as_str(),
                    crypto::public_key_pem(t, e).map_err(|e| internal_error(e.text().to_string()))?,
                ),
            };
            keys.insert(
                v.to_string(),
                json!({"name": name, "public_key": public_key, "certificate_chain": "", "creation_time": creation_time}),
            );
        }
        d.insert("keys".into(), Value::Object(keys));
    }
    Ok(d)
}

impl Backend for Transit {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(PATHS.handle(self, ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(PATHS.existence(self, ctx, req))
    }

    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        Some(PATHS.openapi(&self.special_paths(), default_prefix))
    }

    fn periodic_interval(&self) -> Option<Duration> {
        // OpenBao's rollback manager calls its periodic function about once a minute.
        Some(Duration::from_secs(60))
    }

    fn periodic<'a>(&'a self, ctx: &'a Context<'a>) -> PeriodicFuture<'a> {
        Box::pin(self.auto_rotate(ctx.storage))
    }

    /// Another server changed a key (`policy/<name>`), the cache size (`config/cache`) or anything: forget it here.
    fn invalidate(&self, key: Option<&str>) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        match key.and_then(|k| k.strip_prefix("policy/")) {
            Some(name) => {
                cache.remove(name);
            }
            None => {
                cache.clear();
                *self.cache_size.write().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
