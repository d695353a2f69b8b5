//! Rekey (`sys/rotate/root/*`, and the legacy unauthenticated `sys/rekey/*`): replace the unseal key shares. A
//! threshold of current shares proves the operators hold the key; the new unseal key is random and split into the
//! new shares; the root key stays, re-sealed under the new unseal key. The new shares and seal configuration are
//! written in one transaction, so a crash leaves either the old shares valid or the new ones, never neither. The
//! progress lives only in memory: a restart in the middle cancels the rekey and leaves the old shares valid. With
//! `require_verification`, nothing is written until a threshold of the *new* shares has been entered back.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{seal_root_key, Core, CoreError, ROOT_KEY_KEY, SEAL_CONFIG_KEY};
use crate::seal::{self, SealConfig, Share};
use crate::storage::{barrier, SecretKey};

/// A rekey in progress.
pub struct Rekey {
    nonce: String,
    config: SealConfig,
    require_verification: bool,
    /// Current shares entered so far.
    progress: Vec<Share>,
    /// Set once the current shares were verified and verification of the new ones is required.
    pending: Option<PendingVerification>,
}

struct PendingVerification {
    unseal_key: SecretKey,
    nonce: String,
    progress: Vec<Share>,
}

/// `sys/rotate/root/init` status.
pub struct RekeyStatus {
    pub started: bool,
    pub nonce: String,
    pub t: u32,
    pub n: u32,
    pub progress: usize,
    /// Threshold of the current shares.
    pub required: u32,
    pub verification_required: bool,
    pub verification_nonce: String,
}

/// The new shares, when a threshold of current shares was entered.
pub struct RekeyResult {
    pub nonce: String,
    pub shares: Vec<Share>,
    pub verification_required: bool,
    pub verification_nonce: String,
}

/// `sys/rotate/root/verify` status.
pub struct VerifyStatus {
    pub nonce: String,
    pub started: bool,
    pub t: u32,
    pub n: u32,
    pub progress: usize,
}

/// What a rekey start asks for.
pub struct RekeyRequest {
    pub secret_shares: u32,
    pub secret_threshold: u32,
    pub require_verification: bool,
    pub pgp_keys: bool,
    pub backup: bool,
}

fn bad(message: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(message.into())
}

fn new_nonce() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Core {
    /// The configuration of the shares a rekey replaces: the unseal shares, or with an auto-unseal seal the
    /// recovery shares.
    fn current_seal_config(&self) -> Result<SealConfig, CoreError> {
        self.key_holders_config(&self.seal_mode()?)?
            .ok_or(CoreError::NotInitialized)
    }

    pub fn rekey_status(&self) -> Result<RekeyStatus, CoreError> {
        let required = self.current_seal_config()?.secret_threshold;
        let guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
        Ok(match guard.as_ref() {
            None => RekeyStatus {
                started: false,
                nonce: String::new(),
                t: 0,
                n: 0,
                progress: 0,
                required,
                verification_required: false,
                verification_nonce: String::new(),
            },
            Some(rekey) => RekeyStatus {
                started: true,
                nonce: rekey.nonce.clone(),
                t: rekey.config.secret_threshold,
                n: rekey.config.secret_shares,
                progress: rekey.progress.len(),
                required,
                verification_required: rekey.require_verification,
                verification_nonce: rekey.pending.as_ref().map(|p| p.nonce.clone()).unwrap_or_default(),
            },
        })
    }

    pub fn rekey_init(&self, request: RekeyRequest) -> Result<RekeyStatus, CoreError> {
        self.unsealed()?;
        if request.pgp_keys || request.backup {
            return Err(bad(
                "PGP-encrypted unseal keys are not supported by this server: omit pgp_keys and backup",
            ));
        }
        let config = SealConfig {
            secret_shares: request.secret_shares,
            secret_threshold: request.secret_threshold,
        };
        config.validate().map_err(|e| match e {
            seal::SealError::InvalidConfig(reason) => bad(format!("invalid rotate seal configuration: {reason}")),
            other => other.into(),
        })?;
        {
            let mut guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            if guard.is_some() {
                return Err(bad("rotation already in progress"));
            }
            *guard = Some(Rekey {
                nonce: new_nonce(),
                config,
                require_verification: request.require_verification,
                progress: Vec::new(),
                pending: None,
            });
        }
        log::info!("core: rekey initialized");
        self.rekey_status()
    }

    pub fn rekey_cancel(&self) -> Result<(), CoreError> {
        self.unsealed()?;
        if let Ok(mut guard) = self.rekey.lock() {
            *guard = None;
        }
        Ok(())
    }

    /// Enter one current share. `None` until the threshold is reached; then the new shares (written already unless
    /// verification is required).
    pub async fn rekey_update(&self, key: &str, nonce: &str) -> Result<Option<RekeyResult>, CoreError> {
        self.unsealed()?;
        let share = parse_share(key)?;
        let required = self.current_seal_config()?.secret_threshold as usize;
        let entered = {
            let mut guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            let rekey = guard.as_mut().ok_or_else(|| bad("no rotation in progress"))?;
            if nonce != rekey.nonce {
                return Err(bad(format!(
                    "incorrect nonce supplied; nonce for rotation is \"{}\"",
                    rekey.nonce
                )));
            }
            if rekey.pending.is_some() {
                return Err(bad("rotation verification already in progress"));
            }
            if seal::contains_share(&rekey.progress, &share) {
                return Err(bad("given key has already been provided during this rotation"));
            }
            rekey.progress.push(share);
            if rekey.progress.len() < required {
                return Ok(None);
            }
            std::mem::take(&mut rekey.progress)
        };
        self.authenticate_key_shares(&entered).await.map_err(|e| match e {
            CoreError::Seal(e) => bad(format!("failed to read root key: {e}")),
            other => other,
        })?;

        let new_unseal_key = barrier::random_key();
        let (config, nonce, require_verification) = {
            let guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            let rekey = guard.as_ref().ok_or_else(|| bad("no rotation in progress"))?;
            (rekey.config, rekey.nonce.clone(), rekey.require_verification)
        };
        let shares = seal::split(&new_unseal_key, config)?;
        if require_verification {
            let verification_nonce = new_nonce();
            let mut guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            let rekey = guard.as_mut().ok_or_else(|| bad("no rotation in progress"))?;
            rekey.pending = Some(PendingVerification {
                unseal_key: new_unseal_key,
                nonce: verification_nonce.clone(),
                progress: Vec::new(),
            });
            return Ok(Some(RekeyResult {
                nonce,
                shares,
                verification_required: true,
                verification_nonce,
            }));
        }
        self.commit_rekey(config, &new_unseal_key).await?;
        if let Ok(mut guard) = self.rekey.lock() {
            *guard = None;
        }
        Ok(Some(RekeyResult {
            nonce,
            shares,
            verification_required: false,
            verification_nonce: String::new(),
        }))
    }

    pub fn rekey_verify_status(&self) -> Result<VerifyStatus, CoreError> {
        let guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
        let rekey = guard.as_ref().ok_or_else(|| bad("no rotation configuration found"))?;
        Ok(VerifyStatus {
            nonce: rekey.pending.as_ref().map(|p| p.nonce.clone()).unwrap_or_default(),
            started: rekey.pending.is_some(),
            t: rekey.config.secret_threshold,
            n: rekey.config.secret_shares,
            progress: rekey.pending.as_ref().map(|p| p.progress.len()).unwrap_or(0),
        })
    }

    /// Start the verification over (a new nonce, no shares entered).
    pub fn rekey_verify_restart(&self) -> Result<VerifyStatus, CoreError> {
        {
            let mut guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            let rekey = guard.as_mut().ok_or_else(|| bad("no rotation configuration found"))?;
            if let Some(pending) = rekey.pending.as_mut() {
                pending.nonce = new_nonce();
                pending.progress.clear();
            }
        }
        self.rekey_verify_status()
    }

    /// Enter one of the new shares. `Some(nonce)` once a threshold of them matched and the rekey is written.
    pub async fn rekey_verify(&self, key: &str, nonce: &str) -> Result<Option<String>, CoreError> {
        self.unsealed()?;
        let share = parse_share(key)?;
        let (config, new_unseal_key, verification_nonce) = {
            let mut guard = self.rekey.lock().map_err(|_| CoreError::Sealed)?;
            let rekey = guard
                .as_mut()
                .ok_or_else(|| bad("no rotation verification in progress"))?;
            let threshold = rekey.config.secret_threshold as usize;
            let pending = rekey
                .pending
                .as_mut()
                .ok_or_else(|| bad("no rotation verification in progress"))?;
            if nonce != pending.nonce {
                return Err(bad(format!(
                    "incorrect nonce supplied; nonce for this verify operation is \"{}\"",
                    pending.nonce
                )));
            }
            if seal::contains_share(&pending.progress, &share) {
                return Err(bad("given key has already been provided during this verify operation"));
            }
            pending.progress.push(share);
            if pending.progress.len() < threshold {
                return Ok(None);
            }
            let entered = std::mem::take(&mut pending.progress);
            let matches = seal::combine(&entered)
                .map(|combined| seal::keys_equal(&combined, &pending.unseal_key))
                .unwrap_or(false);
            if !matches {
                pending.nonce = new_nonce();
                return Err(bad("rotation verification failed; incorrect key shares supplied"));
            }
            (rekey.config, Zeroizing::new(*pending.unseal_key), pending.nonce.clone())
        };
        self.commit_rekey(config, &new_unseal_key).await?;
        if let Ok(mut guard) = self.rekey.lock() {
            *guard = None;
        }
        Ok(Some(verification_nonce))
    }

    /// Write the new seal configuration and the root key sealed under the new unseal key, in one transaction
    /// (with an auto-unseal seal: the new recovery key and its configuration).
    async fn commit_rekey(&self, config: SealConfig, new_unseal_key: &SecretKey) -> Result<(), CoreError> {
        let _serialized = self.key_change.lock().await;
        if matches!(self.seal_mode()?, super::auto_unseal::SealMode::Auto(..)) {
            self.commit_recovery_rekey(config, new_unseal_key).await?;
            log::info!(
                "core: recovery rekey complete: {} key shares, threshold {}",
                config.secret_shares,
                config.secret_threshold
            );
            return Ok(());
        }
        let root_key: Arc<SecretKey> = self.current_root_key()?;
        let sealed_root_key = seal_root_key(new_unseal_key, &root_key)?;
        let config_json = serde_json::to_vec(&config).map_err(|e| CoreError::InvalidRequest(e.to_string()))?;
        self.storage
            .write::<_, CoreError>(move |tx| {
                tx.meta_put(SEAL_CONFIG_KEY, &config_json)?;
                tx.meta_put(ROOT_KEY_KEY, &sealed_root_key)?;
                Ok(())
            })
            .await??;
        self.set_unseal_key(Some(Zeroizing::new(**new_unseal_key)));
        log::info!(
            "core: rekey complete: {} key shares, threshold {}",
            config.secret_shares,
            config.secret_threshold
        );
        Ok(())
    }

    /// Forget every operator key operation in progress (at seal).
    pub(super) fn cancel_key_operations(&self) {
        if let Ok(mut guard) = self.rekey.lock() {
            *guard = None;
        }
        if let Ok(mut guard) = self.root_generation.lock() {
            *guard = None;
        }
    }
}

/// A share as the update endpoints take it: hex or base64.
pub(super) fn parse_share(key: &str) -> Result<Share, CoreError> {
    seal::parse_key(key).map_err(|e| match e {
        seal::SealError::KeyEncoding => bad("'key' must be a valid hex or base64 string"),
        other => other.into(),
    })
}
