//! The core: seal state, initialization, and the request pipeline. Free of HTTP types.

pub mod audit;
pub mod auto_unseal;
pub mod cors;
pub mod cubbyholes;
pub mod expiration;
pub mod fields;
pub mod generate_root;
pub mod ha;
pub mod in_flight;
pub mod invalidation;
pub mod lease_index;
pub mod lockout;
pub mod mounts;
pub mod pipeline;
pub mod policies;
pub mod quotas;
pub mod registry;
pub mod rekey;
pub mod rotation;
pub mod router;
pub mod scheduler;
pub mod snapshot;
pub mod system;
pub mod telemetry;
pub mod token_store;
mod usage_gauges;
pub mod version_history;
pub mod wrapping;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use crate::logical::Error as CoreError;
pub use crate::logical::{ClientToken, Operation, Request, Response};
use router::Router;

use crate::core::token_store::token::{self, TokenEntry, TokenSalt};
use crate::seal::{self, SealConfig, Share};
use crate::storage::{barrier, Keyring, SecretKey, Storage, Tree, TxError, KEY_LEN};

pub use crate::VERSION;
/// Date of the commit this binary was built from (empty outside a git checkout).
pub const COMMIT_DATE: &str = env!("VAULT_COMMIT_DATE");
const SEAL_CONFIG_KEY: &[u8] = b"seal_config";
const KEYRING_KEY: &[u8] = b"keyring";
/// The root key (which opens the keyring), sealed under the unseal key the shares combine into. Absent in stores
/// initialized before it existed: there the shares combine into the root key itself.
const ROOT_KEY_KEY: &[u8] = b"root_key";
/// The plain records that hold the keys: a restore of a snapshot of this initialization keeps the live ones, so the
/// unseal keys and key terms in use stay valid (the live keyring has every term the snapshot's has).
const KEY_META: &[&[u8]] = &[SEAL_CONFIG_KEY, KEYRING_KEY, ROOT_KEY_KEY];
const SALT_KEY: &[u8] = b"token_salt";
const CLUSTER_KEY: &[u8] = b"cluster";

/// How long a used wrapping token's tombstone is kept unless the configuration says otherwise.
pub const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Settings from the server configuration that the core needs.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub default_lease_ttl: Duration,
    pub max_lease_ttl: Duration,
    pub storage_type: &'static str,
    /// How long a used wrapping token's tombstone is kept.
    pub wrapping_tombstone_retention: Duration,
    /// How long the expiration manager waits for a backend's renew or revoke before counting it as failed.
    pub lease_backend_timeout: Duration,
    /// Declared audit devices and the configuration's audit switches.
    pub audit: audit::AuditSettings,
    /// The configuration's `user_lockout` blocks.
    pub user_lockout: lockout::UserLockoutSettings,
    /// The configured auto-unseal seals (none: Shamir).
    pub seals: auto_unseal::SealSettings,
    /// The server configuration without secrets, as `sys/config/state/sanitized` shows it (built by `config`).
    pub sanitized_config: serde_json::Map<String, serde_json::Value>,
    /// The configuration's `telemetry` block.
    pub telemetry: crate::telemetry::TelemetryConfig,
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
            storage_type: "sled",
            wrapping_tombstone_retention: DEFAULT_TOMBSTONE_RETENTION,
            lease_backend_timeout: expiration::DEFAULT_BACKEND_TIMEOUT,
            audit: audit::AuditSettings::default(),
            user_lockout: lockout::UserLockoutSettings::default(),
            seals: auto_unseal::SealSettings::default(),
            sanitized_config: serde_json::Map::new(),
            telemetry: crate::telemetry::TelemetryConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterIdentity {
    pub name: String,
    pub id: String,
}

/// What exists only while unsealed.
pub struct Unsealed {
    pub token_salt: TokenSalt,
    pub cluster: ClusterIdentity,
    pub active_since: DateTime<Utc>,
}

#[derive(Default)]
struct UnsealProgress {
    nonce: String,
    shares: Vec<Share>,
}

pub struct InitResult {
    pub shares: Vec<Share>,
    /// With an auto-unseal seal: the recovery key shares (the unseal `shares` are then empty).
    pub recovery_shares: Vec<Share>,
    pub root_token: Zeroizing<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SealStatus {
    #[serde(rename = "type")]
    pub seal_type: String,
    pub initialized: bool,
    pub sealed: bool,
    pub t: u32,
    pub n: u32,
    pub progress: usize,
    pub nonce: String,
    pub recovery_seal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_seal_type: Option<&'static str>,
    pub version: &'static str,
    pub commit_date: &'static str,
    pub migration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    pub storage_type: &'static str,
}

pub struct Core {
    pub storage: Arc<Storage>,
    pub settings: CoreSettings,
    unsealed: RwLock<Option<Arc<Unsealed>>>,
    progress: Mutex<UnsealProgress>,
    router: Router,
    /// The mount table (see `mounts`).
    mounts: mounts::MountState,
    pub policy_cache: policies::PolicyCache,
    /// Wrapping tokens presented again after use (see `wrapping::note_reuse`).
    wrapping_reuse_events: std::sync::atomic::AtomicU64,
    /// Secret leases whose backend revoke is running in this process (see `expiration`).
    revoking: expiration::InFlight,
    /// Tokens the expiry sweep has revoked since start.
    tokens_expired: std::sync::atomic::AtomicU64,
    /// The enabled audit devices (see `audit`).
    audit: audit::AuditState,
    /// The root key while unsealed (rotations re-seal the keyring under it); wiped at seal.
    root_key: RwLock<Option<Arc<SecretKey>>>,
    /// The Shamir unseal key while unsealed (a root key rotation re-seals the new root key under it); wiped at seal.
    unseal_key: RwLock<Option<Arc<SecretKey>>>,
    /// Serializes every change of the stored keys: keyring rotation, rekey, snapshot restore.
    key_change: tokio::sync::Mutex<()>,
    /// The rekey in progress, if any (see `rekey`).
    rekey: Mutex<Option<rekey::Rekey>>,
    /// The root token generation in progress, if any (see `generate_root`).
    root_generation: Mutex<Option<generate_root::RootGeneration>>,
    /// The CORS settings (see `cors`).
    cors: cors::CorsState,
    /// Counters kept across restarts (see `telemetry`).
    durable: telemetry::DurableCounters,
    /// Rate limit quotas (see `quotas`).
    quotas: quotas::QuotaState,
    /// This server's part in HA (`ha_enabled` on PostgreSQL), see `ha`.
    ha: Option<ha::Ha>,
    /// The requests being served (`sys/in-flight-req`), registered by the HTTP layer.
    pub in_flight: in_flight::InFlightRequests,
}

/// The authenticated caller of a request, as backends see it.
pub struct Caller {
    pub token_hash: Vec<u8>,
    pub entry: TokenEntry,
    pub acl: Arc<crate::policy::Acl>,
    /// The matching ACL rule grants `sudo` (or the token is root).
    pub root_privs: bool,
}

impl Core {
    pub fn new(storage: Arc<Storage>, settings: CoreSettings) -> Self {
        let router = Router::new(vec![
            router::Mount {
                path: "sys/".into(),
                uuid: String::new(),
                handler: router::Handler::Core(Arc::new(system::SystemBackend)),
            },
            router::Mount {
                path: "auth/token/".into(),
                uuid: String::new(),
                handler: router::Handler::Core(Arc::new(crate::core::token_store::token_backend::TokenBackend)),
            },
        ]);
        Core {
            storage,
            settings,
            unsealed: RwLock::new(None),
            progress: Mutex::new(UnsealProgress::default()),
            router,
            mounts: mounts::MountState::default(),
            policy_cache: policies::PolicyCache::default(),
            wrapping_reuse_events: std::sync::atomic::AtomicU64::new(0),
            revoking: expiration::InFlight::default(),
            tokens_expired: std::sync::atomic::AtomicU64::new(0),
            audit: audit::AuditState::default(),
            root_key: RwLock::new(None),
            unseal_key: RwLock::new(None),
            key_change: tokio::sync::Mutex::new(()),
            rekey: Mutex::new(None),
            root_generation: Mutex::new(None),
            cors: cors::CorsState::default(),
            durable: telemetry::DurableCounters::default(),
            quotas: quotas::QuotaState::default(),
            ha: None,
            in_flight: in_flight::InFlightRequests::default(),
        }
    }

    /// Take part in HA with these addresses (before the server starts serving).
    pub fn with_ha(mut self, api_address: String, cluster_address: String) -> Self {
        if let Some(options) = self.storage.postgres().and_then(|pg| pg.ha()) {
            self.ha = Some(ha::Ha::new(
                api_address,
                cluster_address,
                options.lock_ttl,
                options.retry_interval,
            ));
        }
        self
    }

    pub fn seal_config(&self) -> Result<Option<SealConfig>, CoreError> {
        match self.storage.meta_get(SEAL_CONFIG_KEY)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CoreError::Storage(crate::storage::StorageError::Codec(e.to_string()))),
        }
    }

    pub fn is_initialized(&self) -> Result<bool, CoreError> {
        Ok(self.seal_config()?.is_some())
    }

    /// The unsealed state, or `Sealed`.
    pub fn unsealed(&self) -> Result<Arc<Unsealed>, CoreError> {
        self.unsealed
            .read()
            .ok()
            .and_then(|u| u.clone())
            .ok_or(CoreError::Sealed)
    }

    pub fn is_sealed(&self) -> bool {
        self.unsealed().is_err()
    }

    /// Initialize: generate the root key and keyring, split the root key, write the sealed keyring, salt, cluster
    /// identity and root token in one transaction, flush, and stay sealed.
    pub async fn init(&self, config: SealConfig, root_token_id: Option<&str>) -> Result<InitResult, CoreError> {
        config.validate()?;
        if self.is_initialized()? {
            return Err(CoreError::AlreadyInitialized);
        }
        let unseal_key = barrier::random_key();
        let root_key = barrier::random_key();
        let keyring = Arc::new(Keyring::generate());
        let shares = seal::split(&unseal_key, config)?;
        let sealed_root_key = seal_root_key(&unseal_key, &root_key)?;
        let sealed_keyring = keyring.seal(&root_key, &barrier::aad(crate::storage::META_TREE, KEYRING_KEY))?;
        let identity = NewStoreIdentity::generate(root_token_id);
        let root_token = identity.root_token.clone();
        let config_json = serde_json::to_vec(&config).map_err(|e| CoreError::InvalidRequest(e.to_string()))?;

        self.storage
            .write_with(keyring, move |tx| {
                if tx.meta_get(SEAL_CONFIG_KEY)?.is_some() {
                    return Err(TxError::Abort(CoreError::AlreadyInitialized));
                }
                tx.meta_put(SEAL_CONFIG_KEY, &config_json)?;
                tx.meta_put(ROOT_KEY_KEY, &sealed_root_key)?;
                tx.meta_put(KEYRING_KEY, &sealed_keyring)?;
                identity.write(tx)
            })
            .await??;
        crate::telemetry::count("vault.token.create_root", 1);
        log::info!(
            "core: initialized with {} key shares, threshold {}",
            config.secret_shares,
            config.secret_threshold
        );
        Ok(InitResult {
            shares,
            recovery_shares: vec![],
            root_token,
        })
    }

    pub fn seal_status(&self) -> Result<SealStatus, CoreError> {
        let mode = self.seal_mode()?;
        let config = self.key_holders_config(&mode)?;
        let unsealed = self.unsealed().ok();
        let (nonce, progress) = match self.progress.lock() {
            Ok(p) if unsealed.is_none() => (p.nonce.clone(), p.shares.len()),
            _ => (String::new(), 0),
        };
        let recovery_seal = mode.has_recovery_keys()
            || (matches!(mode, auto_unseal::SealMode::Uninitialized) && self.settings.seals.active.is_some());
        Ok(SealStatus {
            seal_type: mode.seal_type(&self.settings.seals),
            initialized: !matches!(mode, auto_unseal::SealMode::Uninitialized),
            sealed: unsealed.is_none(),
            t: config.map(|c| c.secret_threshold).unwrap_or(0),
            n: config.map(|c| c.secret_shares).unwrap_or(0),
            progress,
            nonce,
            recovery_seal,
            recovery_seal_type: recovery_seal.then_some("shamir"),
            version: VERSION,
            commit_date: COMMIT_DATE,
            migration: mode.is_migration(),
            cluster_name: unsealed.as_ref().map(|u| u.cluster.name.clone()),
            cluster_id: unsealed.as_ref().map(|u| u.cluster.id.clone()),
            storage_type: self.settings.storage_type,
        })
    }

    /// Submit one unseal key share (or reset progress). Reaching the threshold opens the keyring; a wrong set of
    /// shares fails the keyring's integrity check and resets progress. With an auto-unseal seal the shares are
    /// recovery key shares; during a seal migration `migrate` must be set.
    pub async fn unseal(&self, key: Option<&str>, reset: bool, migrate: bool) -> Result<SealStatus, CoreError> {
        if reset {
            // As OpenBao: a reset answers with the status even before init, and is refused once unsealed.
            if !self.is_sealed() {
                return Err(CoreError::InvalidRequest("vault is unsealed".into()));
            }
            self.reset_progress();
            return self.seal_status();
        }
        let _timer = crate::telemetry::Timer::start("vault.core.unseal");
        let mode = self.seal_mode()?;
        let config = self.key_holders_config(&mode)?.ok_or(CoreError::NotInitialized)?;
        if mode.is_migration() != migrate && self.is_sealed() {
            return Err(CoreError::InvalidRequest(if migrate {
                "unseal with the migrate flag requires a seal migration: the configuration has none pending".into()
            } else {
                "a seal migration is pending: unseal with the migrate flag (bao operator unseal -migrate)".into()
            }));
        }
        let key = match key {
            Some(k) if !k.is_empty() => k,
            _ => {
                return Err(CoreError::InvalidRequest(
                    "'key' must be specified in request body as JSON, or 'reset' set to true".into(),
                ))
            }
        };
        if !self.is_sealed() {
            return self.seal_status();
        }
        let share = seal::parse_key(key)?;
        let ready = {
            let mut progress = self.progress.lock().map_err(|_| CoreError::Sealed)?;
            if seal::contains_share(&progress.shares, &share) {
                None
            } else {
                if progress.shares.is_empty() {
                    progress.nonce = uuid::Uuid::new_v4().to_string();
                }
                progress.shares.push(share);
                if progress.shares.len() >= config.secret_threshold as usize {
                    let shares = std::mem::take(&mut progress.shares);
                    progress.nonce.clear();
                    Some(shares)
                } else {
                    None
                }
            }
        };
        if let Some(shares) = ready {
            match mode {
                auto_unseal::SealMode::Shamir => self.unseal_with(&shares)?,
                other => self.unseal_with_recovery_shares(&other, &shares).await?,
            }
        }
        self.seal_status()
    }

    fn reset_progress(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            *progress = UnsealProgress::default();
        }
    }

    fn unseal_with(&self, shares: &[Share]) -> Result<(), CoreError> {
        let unseal_key = seal::combine(shares)?;
        let (root_key, keyring) = self.open_stored_keys(&unseal_key)?;
        self.install_keys(root_key, Arc::new(keyring))?;
        self.set_unseal_key(Some(unseal_key));
        Ok(())
    }

    fn set_unseal_key(&self, key: Option<SecretKey>) {
        if let Ok(mut slot) = self.unseal_key.write() {
            *slot = key.map(Arc::new);
        }
    }

    /// Become unsealed with this root key and the keyring it opened.
    fn install_keys(&self, root_key: SecretKey, keyring: Arc<Keyring>) -> Result<(), CoreError> {
        // Migrations of encrypted records run now, before anything can read the store through the keyring.
        self.storage.migrate_unsealed(&keyring)?;
        self.storage.set_keyring(Some(keyring));
        self.set_root_key(Some(root_key));
        match self.load_from_store() {
            Ok(()) => {
                log::info!("core: vault is unsealed");
                Ok(())
            }
            Err(e) => {
                self.storage.set_keyring(None);
                self.set_root_key(None);
                Err(e)
            }
        }
    }

    /// The root key and keyring the stored records give for `unseal_key`; a wrong key fails an integrity check.
    fn open_stored_keys(&self, unseal_key: &SecretKey) -> Result<(SecretKey, Keyring), CoreError> {
        let root_key = match self.storage.meta_get(ROOT_KEY_KEY)? {
            Some(sealed) => open_root_key(unseal_key, &sealed)?,
            None => Zeroizing::new(**unseal_key),
        };
        let sealed = self.storage.meta_get(KEYRING_KEY)?.ok_or(CoreError::NotInitialized)?;
        let keyring = Keyring::open(
            &root_key,
            &barrier::aad(crate::storage::META_TREE, KEYRING_KEY),
            &sealed,
        )
        .map_err(|_| seal::SealError::WrongKey)?;
        Ok((root_key, keyring))
    }

    fn set_root_key(&self, key: Option<SecretKey>) {
        if let Ok(mut slot) = self.root_key.write() {
            *slot = key.map(Arc::new);
        }
    }

    /// The Shamir unseal key this server holds while unsealed (none with an auto seal, or after a rekey elsewhere).
    fn held_unseal_key(&self) -> Option<Arc<SecretKey>> {
        self.unseal_key.read().ok().and_then(|k| k.clone())
    }

    /// The root key while unsealed.
    fn current_root_key(&self) -> Result<Arc<SecretKey>, CoreError> {
        self.root_key
            .read()
            .ok()
            .and_then(|k| k.clone())
            .ok_or(CoreError::Sealed)
    }

    /// Load what lives only while unsealed (token salt, cluster identity, mount table) from the store, through the
    /// installed keyring, and make it current: at unseal, and after a snapshot restore.
    fn load_from_store(&self) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start("vault.core.post_unseal");
        let state = self.load_unsealed_state()?;
        self.load_encryption_count(&*self.storage.keyring()?)?;
        self.load_mounts()?;
        self.load_audit()?;
        self.load_cors()?;
        self.load_durable_counters()?;
        self.load_quotas()?;
        self.record_version()?;
        if let Ok(mut slot) = self.unsealed.write() {
            *slot = Some(Arc::new(state));
        }
        Ok(())
    }

    fn load_unsealed_state(&self) -> Result<Unsealed, CoreError> {
        let salt: Zeroizing<Vec<u8>> = self
            .storage
            .get_raw(Tree::Core, SALT_KEY)?
            .ok_or_else(|| CoreError::Storage(crate::storage::StorageError::Codec("token salt missing".into())))?;
        if salt.len() != KEY_LEN {
            return Err(CoreError::Storage(crate::storage::StorageError::Codec(
                "token salt malformed".into(),
            )));
        }
        let mut salt_key = Zeroizing::new([0u8; KEY_LEN]);
        salt_key.copy_from_slice(&salt);
        let cluster: ClusterIdentity = self.storage.get(Tree::Core, CLUSTER_KEY)?.ok_or_else(|| {
            CoreError::Storage(crate::storage::StorageError::Codec("cluster identity missing".into()))
        })?;
        Ok(Unsealed {
            token_salt: TokenSalt(salt_key),
            cluster,
            active_since: Utc::now(),
        })
    }

    /// Drop every key from memory. In-flight requests that already hold the state finish; new ones see sealed.
    pub fn seal(&self) {
        let _timer = crate::telemetry::Timer::start("vault.core.seal-internal");
        if let Ok(mut slot) = self.unsealed.write() {
            *slot = None;
        }
        self.storage.set_keyring(None);
        self.set_root_key(None);
        self.set_unseal_key(None);
        self.reset_progress();
        self.cancel_key_operations();
        self.policy_cache.clear();
        let pre_seal = crate::telemetry::Timer::start("vault.core.pre_seal");
        self.unload_mounts();
        self.unload_audit();
        self.unload_cors();
        self.unload_quotas();
        drop(pre_seal);
        log::info!("core: vault is sealed");
    }

    /// Dev mode: initialize with one share, unseal, and return the key and root token.
    pub async fn dev_init(&self, root_token_id: Option<&str>) -> Result<InitResult, CoreError> {
        let result = self
            .init(
                SealConfig {
                    secret_shares: 1,
                    secret_threshold: 1,
                },
                root_token_id,
            )
            .await?;
        self.unseal_with(&result.shares)?;
        let mut options = std::collections::BTreeMap::new();
        options.insert("version".to_string(), "2".to_string());
        self.mount(
            mounts::MountEntry::new("secret/", "kv", "key/value secret storage", Some(options)),
            mounts::Table::Secret,
        )
        .await?;
        Ok(result)
    }
}

/// What every initialization writes besides the keys: the token salt, the cluster identity and the root token.
struct NewStoreIdentity {
    salt: SecretKey,
    cluster: ClusterIdentity,
    root_token: Zeroizing<String>,
    token_hash: Vec<u8>,
    root_entry: TokenEntry,
}

impl NewStoreIdentity {
    fn generate(root_token_id: Option<&str>) -> Self {
        let salt = barrier::random_key();
        let root_token = match root_token_id {
            Some(id) if !id.is_empty() => Zeroizing::new(id.to_string()),
            _ => token::generate_token_id(),
        };
        NewStoreIdentity {
            token_hash: TokenSalt(salt.clone()).hash(&root_token),
            salt,
            cluster: ClusterIdentity {
                name: format!("vault-cluster-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                id: uuid::Uuid::new_v4().to_string(),
            },
            root_token,
            root_entry: TokenEntry::root(token::generate_accessor(), token::INIT_ROOT_PATH),
        }
    }

    /// Write it, in the initialization's transaction.
    fn write<E>(&self, tx: &crate::storage::Txn<E>) -> Result<(), TxError<E>> {
        tx.put_raw(Tree::Core, SALT_KEY, &self.salt[..])?;
        tx.put(Tree::Core, CLUSTER_KEY, &self.cluster)?;
        token::insert(tx, &self.token_hash, &self.root_entry)
    }
}

/// The root key sealed under the unseal key, for the `root_key` record.
/// The key shares' key is OpenBao's Shamir seal: its calls are accounted as `vault.seal.shamir.*`.
fn seal_root_key(unseal_key: &SecretKey, root_key: &SecretKey) -> Result<Vec<u8>, CoreError> {
    Ok(crate::telemetry::seal_call("shamir", "encrypt", || {
        barrier::seal_with(
            unseal_key,
            0,
            &barrier::aad(crate::storage::META_TREE, ROOT_KEY_KEY),
            &root_key[..],
        )
    })?)
}

/// Open the `root_key` record with the unseal key; a wrong key is the unseal's "wrong key" error.
fn open_root_key(unseal_key: &SecretKey, sealed: &[u8]) -> Result<SecretKey, CoreError> {
    let plain = crate::telemetry::seal_call("shamir", "decrypt", || {
        barrier::open_with(
            unseal_key,
            &barrier::aad(crate::storage::META_TREE, ROOT_KEY_KEY),
            sealed,
        )
    })
    .map_err(|_| seal::SealError::WrongKey)?;
    if plain.len() != KEY_LEN {
        return Err(seal::SealError::WrongKey.into());
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&plain);
    Ok(key)
}
