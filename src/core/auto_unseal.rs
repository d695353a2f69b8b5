//! Auto-unseal (`seal "static"`, `seal "transit"`), recovery keys and seal migration.
//!
//! With an auto-unseal seal the root key is stored sealed by the seal (`auto_root_key`), so the server unseals itself
//! at start. Operators hold *recovery* key shares instead of unseal shares: a random recovery key, split at init and
//! stored sealed by the seal too (`recovery_key`), so it can be checked while the barrier is sealed. Recovery shares
//! stand in for unseal shares in generate-root, rekey (which then replaces the recovery shares) and in `sys/unseal`
//! after a manual seal.
//!
//! Migration, as OpenBao documents it: Shamir -> auto (add the seal stanza, restart, `unseal -migrate` with the
//! unseal shares, which become the recovery shares) and auto -> Shamir (mark the stanza `disabled = "true"`,
//! restart, `unseal -migrate` with the recovery shares, which become the unseal shares). Each migration is one
//! transaction.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::token_store::token::{self, TokenEntry, TokenSalt};
use super::{open_root_key, seal_root_key, ClusterIdentity, Core, CoreError, InitResult};
use super::{CLUSTER_KEY, KEYRING_KEY, ROOT_KEY_KEY, SALT_KEY, SEAL_CONFIG_KEY};
use crate::seal::auto::AutoSealConfig;
use crate::seal::{self, SealConfig, SealError, Share};
use crate::storage::{barrier, Keyring, SecretKey, Tree, TxError, KEY_LEN};

const AUTO_SEAL_KEY: &[u8] = b"auto_seal";
pub(super) const AUTO_ROOT_KEY: &[u8] = b"auto_root_key";
const RECOVERY_KEY: &[u8] = b"recovery_key";

/// The seals of the configuration.
#[derive(Debug, Clone, Default)]
pub struct SealSettings {
    /// The enabled `seal` stanza.
    pub active: Option<Arc<AutoSealConfig>>,
    /// The stanza marked `disabled`: the seal being migrated away from.
    pub disabled: Option<Arc<AutoSealConfig>>,
}

/// Stored (plain) with an auto-unseal seal: which seal, and the recovery shares' configuration.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutoSealRecord {
    pub seal_type: SealType,
    pub recovery_shares: u32,
    pub recovery_threshold: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SealType {
    Static,
    Transit,
}

impl SealType {
    fn of(config: &AutoSealConfig) -> SealType {
        match config {
            AutoSealConfig::Static(_) => SealType::Static,
            AutoSealConfig::Transit(_) => SealType::Transit,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SealType::Static => "static",
            SealType::Transit => "transit",
        }
    }
}

/// How the store is sealed, given the configuration.
#[derive(Debug, Clone)]
pub enum SealMode {
    Uninitialized,
    Shamir,
    Auto(AutoSealRecord, Arc<AutoSealConfig>),
    /// A Shamir store with a seal stanza configured: `unseal -migrate` with the unseal shares.
    MigrateToAuto(Arc<AutoSealConfig>),
    /// An auto-sealed store whose stanza is `disabled`: `unseal -migrate` with the recovery shares.
    MigrateToShamir(AutoSealRecord, Arc<AutoSealConfig>),
    /// An auto-sealed store without its seal configured: it cannot be unsealed.
    Unconfigured(AutoSealRecord),
}

impl SealMode {
    pub fn is_migration(&self) -> bool {
        matches!(self, SealMode::MigrateToAuto(_) | SealMode::MigrateToShamir(..))
    }

    /// Operators hold recovery shares (not unseal shares).
    pub fn has_recovery_keys(&self) -> bool {
        matches!(
            self,
            SealMode::Auto(..) | SealMode::MigrateToShamir(..) | SealMode::Unconfigured(_)
        )
    }

    /// The type `sys/seal-status` reports.
    pub fn seal_type(&self, settings: &SealSettings) -> String {
        match self {
            SealMode::Uninitialized => settings
                .active
                .as_ref()
                .map(|s| s.seal_type())
                .unwrap_or("shamir")
                .to_string(),
            SealMode::Shamir | SealMode::MigrateToShamir(..) => "shamir".into(),
            SealMode::Auto(record, _) | SealMode::Unconfigured(record) => record.seal_type.name().into(),
            SealMode::MigrateToAuto(seal) => seal.seal_type().into(),
        }
    }
}

fn bad(message: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(message.into())
}

/// Run a seal call (the transit seal does HTTP) off the async runtime.
pub(super) async fn with_seal<T: Send + 'static>(
    seal: &Arc<AutoSealConfig>,
    f: impl FnOnce(&AutoSealConfig) -> Result<T, SealError> + Send + 'static,
) -> Result<T, CoreError> {
    let seal = seal.clone();
    match tokio::task::spawn_blocking(move || f(&seal)).await {
        Ok(result) => result.map_err(CoreError::from),
        Err(_) => Err(CoreError::Internal("the seal call failed".into())),
    }
}

fn key_from(bytes: &[u8]) -> Result<SecretKey, CoreError> {
    if bytes.len() != KEY_LEN {
        return Err(SealError::BlobMalformed.into());
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(bytes);
    Ok(key)
}

impl Core {
    fn auto_seal_record(&self) -> Result<Option<AutoSealRecord>, CoreError> {
        match self.storage.meta_get(AUTO_SEAL_KEY)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CoreError::Storage(crate::storage::StorageError::Codec(e.to_string()))),
        }
    }

    pub fn seal_mode(&self) -> Result<SealMode, CoreError> {
        let seals = &self.settings.seals;
        if !self.is_initialized()? {
            return Ok(SealMode::Uninitialized);
        }
        let matching = |seal: &Option<Arc<AutoSealConfig>>, record: &AutoSealRecord| {
            seal.as_ref().filter(|s| SealType::of(s) == record.seal_type).cloned()
        };
        Ok(match self.auto_seal_record()? {
            None => match &seals.active {
                Some(seal) => SealMode::MigrateToAuto(seal.clone()),
                None => SealMode::Shamir,
            },
            Some(record) => match (matching(&seals.active, &record), matching(&seals.disabled, &record)) {
                (Some(seal), _) => SealMode::Auto(record, seal),
                (None, Some(seal)) if seals.active.is_none() => SealMode::MigrateToShamir(record, seal),
                _ => SealMode::Unconfigured(record),
            },
        })
    }

    /// The configuration of the shares operators hold: unseal shares (Shamir) or recovery shares.
    pub fn key_holders_config(&self, mode: &SealMode) -> Result<Option<SealConfig>, CoreError> {
        Ok(match mode {
            SealMode::Uninitialized => None,
            SealMode::Shamir | SealMode::MigrateToAuto(_) => self.seal_config()?,
            SealMode::Auto(record, _) | SealMode::MigrateToShamir(record, _) | SealMode::Unconfigured(record) => {
                Some(SealConfig {
                    secret_shares: record.recovery_shares,
                    secret_threshold: record.recovery_threshold,
                })
            }
        })
    }

    /// Initialize with the configured auto-unseal seal and unseal right away. `recovery` may be 0/0: no recovery
    /// shares (then nothing can be done that needs them, as in OpenBao).
    pub async fn init_auto(&self, recovery: SealConfig, root_token_id: Option<&str>) -> Result<InitResult, CoreError> {
        let seal = self
            .settings
            .seals
            .active
            .clone()
            .ok_or_else(|| CoreError::Internal("no auto-unseal seal configured".into()))?;
        if recovery.secret_shares != 0 || recovery.secret_threshold != 0 {
            recovery.validate().map_err(|e| match e {
                SealError::InvalidConfig(reason) => bad(format!("invalid recovery configuration: {reason}")),
                other => other.into(),
            })?;
        }
        if self.is_initialized()? {
            return Err(CoreError::AlreadyInitialized);
        }
        let root_key = barrier::random_key();
        let recovery_key = barrier::random_key();
        let recovery_shares = if recovery.secret_shares == 0 {
            vec![]
        } else {
            seal::split(&recovery_key, recovery)?
        };
        let keyring = Arc::new(Keyring::generate());
        let sealed_keyring = keyring.seal(&root_key, &barrier::aad(crate::storage::META_TREE, KEYRING_KEY))?;
        let (sealed_root, sealed_recovery) = {
            let (root, rec) = (root_key.clone(), recovery_key.clone());
            with_seal(&seal, move |s| Ok((s.encrypt(&root[..])?, s.encrypt(&rec[..])?))).await?
        };
        let record = AutoSealRecord {
            seal_type: SealType::of(&seal),
            recovery_shares: recovery.secret_shares,
            recovery_threshold: recovery.secret_threshold,
        };
        let salt = barrier::random_key();
        let cluster = ClusterIdentity {
            name: format!("vault-cluster-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            id: uuid::Uuid::new_v4().to_string(),
        };
        let root_token = match root_token_id {
            Some(id) if !id.is_empty() => Zeroizing::new(id.to_string()),
            _ => token::generate_token_id(),
        };
        let token_hash = TokenSalt(salt.clone()).hash(&root_token);
        let root_entry = TokenEntry::root(token::generate_accessor(), token::INIT_ROOT_PATH);
        let barrier_config = serde_json::to_vec(&SealConfig {
            secret_shares: 1,
            secret_threshold: 1,
        })
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        let record_json = serde_json::to_vec(&record).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .write_with(keyring.clone(), move |tx| {
                if tx.meta_get(SEAL_CONFIG_KEY)?.is_some() {
                    return Err(TxError::Abort(CoreError::AlreadyInitialized));
                }
                tx.meta_put(SEAL_CONFIG_KEY, &barrier_config)?;
                tx.meta_put(AUTO_SEAL_KEY, &record_json)?;
                tx.meta_put(AUTO_ROOT_KEY, &sealed_root)?;
                tx.meta_put(RECOVERY_KEY, &sealed_recovery)?;
                tx.meta_put(KEYRING_KEY, &sealed_keyring)?;
                tx.put_raw(Tree::Core, SALT_KEY, &salt[..])?;
                tx.put(Tree::Core, CLUSTER_KEY, &cluster)?;
                token::insert(tx, &token_hash, &root_entry)?;
                Ok(())
            })
            .await??;
        log::info!(
            "core: initialized with the {} seal, {} recovery shares, threshold {}",
            seal.seal_type(),
            recovery.secret_shares,
            recovery.secret_threshold
        );
        let keyring = Arc::new(Keyring::open(
            &root_key,
            &barrier::aad(crate::storage::META_TREE, KEYRING_KEY),
            &self.storage.meta_get(KEYRING_KEY)?.ok_or(CoreError::NotInitialized)?,
        )?);
        self.install_keys(root_key, keyring)?;
        Ok(InitResult {
            shares: vec![],
            recovery_shares,
            root_token,
        })
    }

    /// Unseal with the configured seal (at start, and by the retry loop while the seal is unavailable). Does nothing
    /// when already unsealed or when the store is not auto-sealed by the configured seal.
    pub async fn auto_unseal(&self) -> Result<bool, CoreError> {
        if !self.is_sealed() {
            return Ok(false);
        }
        let SealMode::Auto(_, seal) = self.seal_mode()? else {
            return Ok(false);
        };
        let _serialized = self.key_change.lock().await;
        if !self.is_sealed() {
            return Ok(false);
        }
        let blob = self.storage.meta_get(AUTO_ROOT_KEY)?.ok_or(CoreError::NotInitialized)?;
        let (plain, stale) = with_seal(&seal, move |s| s.decrypt(&blob)).await?;
        let root_key = key_from(&plain)?;
        let keyring = Arc::new(
            Keyring::open(
                &root_key,
                &barrier::aad(crate::storage::META_TREE, KEYRING_KEY),
                &self.storage.meta_get(KEYRING_KEY)?.ok_or(CoreError::NotInitialized)?,
            )
            .map_err(|_| SealError::SealKeyMismatch)?,
        );
        if stale {
            self.reseal_blobs(&seal, &root_key, &keyring).await?;
        }
        self.install_keys(root_key, keyring)?;
        log::info!("core: unsealed with the {} seal", seal.seal_type());
        Ok(true)
    }

    /// Re-seal the stored blobs under the seal's current key (after an unseal with its previous key).
    async fn reseal_blobs(
        &self,
        seal: &Arc<AutoSealConfig>,
        root_key: &SecretKey,
        keyring: &Arc<Keyring>,
    ) -> Result<(), CoreError> {
        let recovery_blob = self.storage.meta_get(RECOVERY_KEY)?;
        let root = root_key.clone();
        let (sealed_root, sealed_recovery) = with_seal(seal, move |s| {
            let sealed_root = s.encrypt(&root[..])?;
            let sealed_recovery = match recovery_blob {
                Some(blob) => Some(s.encrypt(&s.decrypt(&blob)?.0)?),
                None => None,
            };
            Ok((sealed_root, sealed_recovery))
        })
        .await?;
        self.storage
            .write_with::<_, CoreError>(keyring.clone(), move |tx| {
                tx.meta_put(AUTO_ROOT_KEY, &sealed_root)?;
                if let Some(sealed) = &sealed_recovery {
                    tx.meta_put(RECOVERY_KEY, sealed)?;
                }
                Ok(())
            })
            .await??;
        log::info!("core: the stored root key was re-sealed under the seal's current key");
        Ok(())
    }

    /// The recovery key, from its stored blob (sealed by `seal`).
    async fn stored_recovery_key(&self, seal: &Arc<AutoSealConfig>) -> Result<SecretKey, CoreError> {
        let blob = self
            .storage
            .meta_get(RECOVERY_KEY)?
            .ok_or_else(|| bad("no recovery key is configured"))?;
        let (plain, _) = with_seal(seal, move |s| s.decrypt(&blob)).await?;
        key_from(&plain)
    }

    /// Check that `shares` combine into the key the operators hold (the Shamir unseal key, or the recovery key).
    pub(super) async fn authenticate_key_shares(&self, shares: &[Share]) -> Result<(), CoreError> {
        let combined = seal::combine(shares)?;
        match self.seal_mode()? {
            SealMode::Auto(_, seal) | SealMode::MigrateToShamir(_, seal) => {
                let recovery_key = self.stored_recovery_key(&seal).await?;
                if bool::from(combined[..].ct_eq(&recovery_key[..])) {
                    Ok(())
                } else {
                    Err(SealError::WrongKey.into())
                }
            }
            _ => self.open_stored_keys(&combined).map(|_| ()),
        }
    }

    /// Replace the recovery key and its shares' configuration (a rekey with an auto-unseal seal).
    pub(super) async fn commit_recovery_rekey(&self, config: SealConfig, new_key: &SecretKey) -> Result<(), CoreError> {
        let SealMode::Auto(record, seal) = self.seal_mode()? else {
            return Err(bad("no auto-unseal seal is in use"));
        };
        let key = new_key.clone();
        let sealed = with_seal(&seal, move |s| s.encrypt(&key[..])).await?;
        let record = AutoSealRecord {
            recovery_shares: config.secret_shares,
            recovery_threshold: config.secret_threshold,
            ..record
        };
        let record_json = serde_json::to_vec(&record).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .write::<_, CoreError>(move |tx| {
                tx.meta_put(AUTO_SEAL_KEY, &record_json)?;
                tx.meta_put(RECOVERY_KEY, &sealed)?;
                Ok(())
            })
            .await??;
        Ok(())
    }

    /// `sys/unseal` with recovery shares: after a manual seal (auto), or to migrate between seals.
    pub(super) async fn unseal_with_recovery_shares(&self, mode: &SealMode, shares: &[Share]) -> Result<(), CoreError> {
        match mode {
            SealMode::Auto(..) => {
                self.authenticate_key_shares(shares).await?;
                self.auto_unseal().await.map(|_| ())
            }
            SealMode::MigrateToAuto(seal) => self.migrate_to_auto(seal, shares).await,
            SealMode::MigrateToShamir(record, seal) => self.migrate_to_shamir(*record, seal, shares).await,
            SealMode::Unconfigured(record) => Err(bad(format!(
                "the store is sealed by a {:?} seal that the configuration does not have: add its seal stanza",
                record.seal_type.name()
            ))),
            SealMode::Shamir | SealMode::Uninitialized => Err(CoreError::NotInitialized),
        }
    }

    /// Shamir -> auto: the unseal shares prove the key, then become the recovery shares.
    async fn migrate_to_auto(&self, seal: &Arc<AutoSealConfig>, shares: &[Share]) -> Result<(), CoreError> {
        let _serialized = self.key_change.lock().await;
        let unseal_key = seal::combine(shares)?;
        let (root_key, keyring) = self.open_stored_keys(&unseal_key)?;
        let keyring = Arc::new(keyring);
        let shamir = self.seal_config()?.ok_or(CoreError::NotInitialized)?;
        let (root, rec) = (root_key.clone(), unseal_key.clone());
        let (sealed_root, sealed_recovery) =
            with_seal(seal, move |s| Ok((s.encrypt(&root[..])?, s.encrypt(&rec[..])?))).await?;
        let record = AutoSealRecord {
            seal_type: SealType::of(seal),
            recovery_shares: shamir.secret_shares,
            recovery_threshold: shamir.secret_threshold,
        };
        let record_json = serde_json::to_vec(&record).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .write_with::<_, CoreError>(keyring.clone(), move |tx| {
                tx.meta_put(AUTO_SEAL_KEY, &record_json)?;
                tx.meta_put(AUTO_ROOT_KEY, &sealed_root)?;
                tx.meta_put(RECOVERY_KEY, &sealed_recovery)?;
                tx.meta_remove(ROOT_KEY_KEY)?;
                Ok(())
            })
            .await??;
        log::info!("core: seal migration from shamir to {} complete", seal.seal_type());
        self.install_keys(root_key, keyring)
    }

    /// Auto -> Shamir: the recovery shares prove the key, then become the unseal shares.
    async fn migrate_to_shamir(
        &self,
        record: AutoSealRecord,
        seal: &Arc<AutoSealConfig>,
        shares: &[Share],
    ) -> Result<(), CoreError> {
        let _serialized = self.key_change.lock().await;
        let recovery_key = self.stored_recovery_key(seal).await?;
        let combined = seal::combine(shares)?;
        if !bool::from(combined[..].ct_eq(&recovery_key[..])) {
            return Err(SealError::WrongKey.into());
        }
        let blob = self.storage.meta_get(AUTO_ROOT_KEY)?.ok_or(CoreError::NotInitialized)?;
        let (plain, _) = with_seal(seal, move |s| s.decrypt(&blob)).await?;
        let root_key = key_from(&plain)?;
        let keyring = Arc::new(Keyring::open(
            &root_key,
            &barrier::aad(crate::storage::META_TREE, KEYRING_KEY),
            &self.storage.meta_get(KEYRING_KEY)?.ok_or(CoreError::NotInitialized)?,
        )?);
        let sealed_root = seal_root_key(&recovery_key, &root_key)?;
        let shamir = serde_json::to_vec(&SealConfig {
            secret_shares: record.recovery_shares,
            secret_threshold: record.recovery_threshold,
        })
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .write_with::<_, CoreError>(keyring.clone(), move |tx| {
                tx.meta_put(SEAL_CONFIG_KEY, &shamir)?;
                tx.meta_put(ROOT_KEY_KEY, &sealed_root)?;
                tx.meta_remove(AUTO_SEAL_KEY)?;
                tx.meta_remove(AUTO_ROOT_KEY)?;
                tx.meta_remove(RECOVERY_KEY)?;
                Ok(())
            })
            .await??;
        // Proves the new record before anything relies on it.
        open_root_key(&recovery_key, &self.storage.meta_get(ROOT_KEY_KEY)?.unwrap_or_default())?;
        log::info!("core: seal migration from {} to shamir complete", seal.seal_type());
        self.install_keys(root_key, keyring)?;
        self.set_unseal_key(Some(recovery_key));
        Ok(())
    }
}
