//! Barrier key rotation (`sys/rotate`, `sys/key-status`, `sys/rotate/config`): a rotation adds a term to the
//! keyring, re-sealed under the root key and flushed before anything is encrypted under the new term; every older
//! term stays, so older records stay readable without a rewrite. Automatic rotation, as OpenBao: after
//! `max_operations` encryptions under the active term, or once it is `interval` old; checked by the scheduler.
//! The encryption count is persisted by those checks, so it survives restarts (to within one check).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Core, CoreError, KEYRING_KEY};
use crate::storage::{barrier, Keyring, Tree};

const ROTATION_CONFIG_KEY: &[u8] = b"keyring_rotation";
const ENCRYPTIONS_KEY: &[u8] = b"keyring_encryptions";

/// OpenBao's bounds and default for `max_operations` (2^32 × 0.9, the NIST limit for random 96-bit GCM nonces).
pub const MAX_OPERATIONS_LIMIT: u64 = 3_865_470_566;
pub const MIN_OPERATIONS: u64 = 1_000_000;
pub const MIN_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// A term that has encrypted nothing for a year is rotated anyway, as OpenBao does.
const IDLE_TERM_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RotationConfig {
    pub max_operations: u64,
    /// Seconds; 0 is no interval.
    pub interval_secs: u64,
    pub enabled: bool,
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            max_operations: MAX_OPERATIONS_LIMIT,
            interval_secs: 0,
            enabled: true,
        }
    }
}

impl RotationConfig {
    fn validate(&self) -> Result<(), CoreError> {
        if self.interval_secs != 0 && self.interval_secs < MIN_INTERVAL.as_secs() {
            return Err(CoreError::InvalidRequest(
                "interval must be greater or equal to 24h0m0s".into(),
            ));
        }
        if !(MIN_OPERATIONS..=MAX_OPERATIONS_LIMIT).contains(&self.max_operations) {
            return Err(CoreError::InvalidRequest(format!(
                "max_operations must be in the range [{MIN_OPERATIONS},{MAX_OPERATIONS_LIMIT}]"
            )));
        }
        Ok(())
    }
}

/// What `sys/key-status` reports of the active term.
pub struct KeyStatus {
    pub term: u32,
    /// Unix nanoseconds (0: installed before install times were recorded).
    pub install_time_ns: i64,
    pub encryptions: u64,
}

/// The persisted encryption count of one term.
#[derive(Serialize, Deserialize)]
struct EncryptionCount {
    term: u32,
    count: u64,
}

impl Core {
    /// Add a new term to the keyring and make it active. Returns the new term.
    pub async fn rotate_keyring(&self) -> Result<u32, CoreError> {
        let _serialized = self.key_change.lock().await;
        let current = self.storage.keyring()?;
        let root_key = self.current_root_key()?;
        let rotated = Arc::new(current.rotated()?);
        let sealed = rotated.seal(&root_key, &barrier::aad(crate::storage::META_TREE, KEYRING_KEY))?;
        let final_count = EncryptionCount {
            term: current.active_term(),
            count: current.encryptions(),
        };
        // The new keyring is on disk before any value is sealed under its term.
        self.storage
            .write::<_, CoreError>(move |tx| {
                tx.meta_put(KEYRING_KEY, &sealed)?;
                tx.put(Tree::Core, ENCRYPTIONS_KEY, &final_count)?;
                Ok(())
            })
            .await??;
        let term = rotated.active_term();
        self.storage.set_keyring(Some(rotated));
        log::info!("core: installed new keyring term {term}");
        Ok(term)
    }

    /// `sys/rotate/root`: a new root key, without shares. The keyring is re-sealed under it and the new root key
    /// under the unseal key (kept in memory while unsealed) or by the auto-unseal seal, in one transaction.
    pub async fn rotate_root_key(&self) -> Result<(), CoreError> {
        use super::auto_unseal::SealMode;
        let _serialized = self.key_change.lock().await;
        let keyring = self.storage.keyring()?;
        let new_root = barrier::random_key();
        let sealed_keyring = keyring.seal(&new_root, &barrier::aad(crate::storage::META_TREE, KEYRING_KEY))?;
        let (record, sealed_root): (&'static [u8], Vec<u8>) = match self.seal_mode()? {
            SealMode::Shamir => {
                let unseal_key = self.held_unseal_key().ok_or(CoreError::Sealed)?;
                (super::ROOT_KEY_KEY, super::seal_root_key(&unseal_key, &new_root)?)
            }
            SealMode::Auto(_, seal) => {
                let root = new_root.clone();
                (
                    super::auto_unseal::AUTO_ROOT_KEY,
                    super::auto_unseal::with_seal(&seal, move |s| s.encrypt(&root[..])).await?,
                )
            }
            _ => return Err(CoreError::InvalidRequest("a seal migration is pending".into())),
        };
        self.storage
            .write::<_, CoreError>(move |tx| {
                tx.meta_put(record, &sealed_root)?;
                tx.meta_put(KEYRING_KEY, &sealed_keyring)?;
                Ok(())
            })
            .await??;
        self.set_root_key(Some(new_root));
        log::info!("core: barrier root key rotated");
        Ok(())
    }

    pub fn key_status(&self) -> Result<KeyStatus, CoreError> {
        self.unsealed()?;
        let keyring = self.storage.keyring()?;
        let term = keyring.active_term();
        Ok(KeyStatus {
            term,
            install_time_ns: keyring.install_time_ns(term),
            encryptions: keyring.encryptions(),
        })
    }

    pub fn rotation_config(&self) -> Result<RotationConfig, CoreError> {
        Ok(self
            .storage
            .get::<RotationConfig>(Tree::Core, ROTATION_CONFIG_KEY)?
            .unwrap_or_default())
    }

    /// Change the automatic rotation settings given (the others keep their values).
    pub async fn set_rotation_config(
        &self,
        max_operations: Option<i64>,
        interval: Option<Duration>,
        enabled: Option<bool>,
    ) -> Result<(), CoreError> {
        let _serialized = self.key_change.lock().await;
        let mut config = self.rotation_config()?;
        if let Some(max) = max_operations {
            config.max_operations = u64::try_from(max).unwrap_or(0);
        }
        if let Some(interval) = interval {
            config.interval_secs = interval.as_secs();
        }
        if let Some(enabled) = enabled {
            config.enabled = enabled;
        }
        config.validate()?;
        self.storage
            .write::<_, CoreError>(move |tx| tx.put(Tree::Core, ROTATION_CONFIG_KEY, &config))
            .await??;
        Ok(())
    }

    /// At unseal: count the encryptions the active term made before this process loaded it.
    pub(super) fn load_encryption_count(&self, keyring: &Keyring) -> Result<(), CoreError> {
        if let Some(saved) = self.storage.get::<EncryptionCount>(Tree::Core, ENCRYPTIONS_KEY)? {
            if saved.term == keyring.active_term() {
                keyring.add_encryptions(saved.count);
            }
        }
        Ok(())
    }

    /// Rotate when the configuration says the active term has done enough (returns why), otherwise persist its
    /// encryption count. `now_ns` is the current time in Unix nanoseconds.
    pub async fn check_keyring_rotation(&self, now_ns: i64) -> Result<Option<&'static str>, CoreError> {
        self.unsealed()?;
        let config = self.rotation_config()?;
        let keyring = self.storage.keyring()?;
        let term = keyring.active_term();
        let installed = keyring.install_time_ns(term);
        let age = Duration::from_nanos(u64::try_from(now_ns.saturating_sub(installed)).unwrap_or(0));
        let reason = if !config.enabled {
            None
        } else if keyring.encryptions() == 0 && installed != 0 && age > IDLE_TERM_LIMIT {
            Some("legacy key rotation")
        } else if keyring.encryptions() > config.max_operations {
            Some("reached max operations")
        } else if config.interval_secs > 0 && installed != 0 && age > Duration::from_secs(config.interval_secs) {
            Some("rotation interval reached")
        } else {
            None
        };
        if let Some(reason) = reason {
            let term = self.rotate_keyring().await?;
            log::info!("core: automatic barrier key rotation to term {term}: {reason}");
            return Ok(Some(reason));
        }
        let saved = self.storage.get::<EncryptionCount>(Tree::Core, ENCRYPTIONS_KEY)?;
        // Persisting is itself an encryption: write only when something else was encrypted since.
        let changed = saved.is_none_or(|s| s.term != term || keyring.encryptions() > s.count + 1);
        if changed {
            let count = EncryptionCount {
                term,
                count: keyring.encryptions() + 1,
            };
            self.storage
                .write::<_, CoreError>(move |tx| tx.put(Tree::Core, ENCRYPTIONS_KEY, &count))
                .await??;
        }
        Ok(None)
    }

    /// Test hook: store a rotation config without the API's bounds (an interval of seconds).
    #[cfg(test)]
    pub(crate) async fn force_rotation_config(&self, config: RotationConfig) -> Result<(), CoreError> {
        self.storage
            .write::<_, CoreError>(move |tx| tx.put(Tree::Core, ROTATION_CONFIG_KEY, &config))
            .await??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::CoreSettings;
    use crate::storage::Storage;

    async fn core() -> (tempfile::TempDir, Core) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(&dir.path().join("data")).unwrap());
        let core = Core::new(storage, CoreSettings::default());
        core.dev_init(None).await.unwrap();
        (dir, core)
    }

    const HOUR_NS: i64 = 3_600_000_000_000;

    #[actix_web::test]
    async fn the_interval_rotates_the_key_once_it_has_passed() {
        let (_dir, core) = core().await;
        core.force_rotation_config(RotationConfig {
            max_operations: MAX_OPERATIONS_LIMIT,
            interval_secs: 3600,
            enabled: true,
        })
        .await
        .unwrap();
        let installed = core.key_status().unwrap().install_time_ns;
        assert_eq!(
            core.check_keyring_rotation(installed + HOUR_NS / 2).await.unwrap(),
            None
        );
        assert_eq!(core.key_status().unwrap().term, 1);
        assert_eq!(
            core.check_keyring_rotation(installed + 2 * HOUR_NS).await.unwrap(),
            Some("rotation interval reached")
        );
        let status = core.key_status().unwrap();
        assert_eq!(status.term, 2);
        // The new term is judged by its own install time.
        assert_eq!(
            core.check_keyring_rotation(status.install_time_ns + HOUR_NS / 2)
                .await
                .unwrap(),
            None
        );
    }

    #[actix_web::test]
    async fn max_operations_rotates_and_disabled_does_not() {
        let (_dir, core) = core().await;
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        core.force_rotation_config(RotationConfig {
            max_operations: 5,
            interval_secs: 0,
            enabled: false,
        })
        .await
        .unwrap();
        core.storage.keyring().unwrap().add_encryptions(10);
        assert_eq!(core.check_keyring_rotation(now).await.unwrap(), None);
        assert_eq!(core.key_status().unwrap().term, 1);
        core.force_rotation_config(RotationConfig {
            max_operations: 5,
            interval_secs: 0,
            enabled: true,
        })
        .await
        .unwrap();
        assert_eq!(
            core.check_keyring_rotation(now).await.unwrap(),
            Some("reached max operations")
        );
        assert_eq!(core.key_status().unwrap().term, 2);
        assert!(core.key_status().unwrap().encryptions < 5);
    }

    #[actix_web::test]
    async fn the_encryption_count_survives_a_seal() {
        let (_dir, core) = core().await;
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        core.storage.keyring().unwrap().add_encryptions(1000);
        let before = core.key_status().unwrap().encryptions;
        core.check_keyring_rotation(now).await.unwrap();
        // Re-open the stored keys as an unseal does, and count again.
        let root = core.current_root_key().unwrap();
        let sealed = core.storage.meta_get(KEYRING_KEY).unwrap().unwrap();
        let reopened = Keyring::open(&root, &barrier::aad(crate::storage::META_TREE, KEYRING_KEY), &sealed).unwrap();
        core.load_encryption_count(&reopened).unwrap();
        assert!(
            reopened.encryptions() >= before,
            "{} < {before}",
            reopened.encryptions()
        );
    }
}
