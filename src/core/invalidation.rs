//! Changes other servers sharing the storage (PostgreSQL) committed: what this server caches from the store is
//! read again, so a policy, mount, audit device, CORS setting or key changed on one server is in force on every
//! server once its notice arrives (milliseconds; see `storage::postgres`). Nothing is cached for tokens, leases,
//! wrapping or K/V data: those are always read from the store.

use std::sync::{Arc, Weak};

use super::{Core, CoreError, KEYRING_KEY, ROOT_KEY_KEY};
use crate::storage::postgres::RemoteChange;
use crate::storage::{barrier, Keyring, Tree, META_TREE};

impl Core {
    /// Follow the changes other servers make (a no-op on sled, which has no other servers).
    pub fn follow_remote_changes(self: &Arc<Self>) {
        let core: Weak<Core> = Arc::downgrade(self);
        self.storage.on_remote_change(Arc::new(move |change| {
            if let Some(core) = core.upgrade() {
                core.apply_remote_change(change);
            }
        }));
    }

    /// Runs on the storage's listener thread (not in the runtime).
    fn apply_remote_change(&self, change: &RemoteChange) {
        if self.unsealed().is_err() {
            // Nothing is cached while sealed; the next unseal reads everything.
            return;
        }
        if change.touches(META_TREE) {
            // The storage may still be coming back (the listener reconnects first): retry what failed to read.
            let mut attempts = 0;
            loop {
                match self.reload_keys(change) {
                    Ok(()) => break,
                    Err(CoreError::Storage(e)) if attempts < 120 => {
                        attempts += 1;
                        if attempts == 1 {
                            log::warn!("core: reading the keys another server changed failed ({e}); retrying");
                        }
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                    Err(e) => {
                        log::error!(
                            "core: the barrier keys changed on another server and cannot be opened here ({e}); sealing"
                        );
                        self.seal();
                        return;
                    }
                }
            }
        }
        if change.touches(Tree::Policies.name()) {
            self.policy_cache.clear();
        }
        let mounts = Tree::Mounts.name();
        if change.touches_key(mounts, super::mounts::SECRET_TABLE_KEY)
            || change.touches_key(mounts, super::mounts::AUTH_TABLE_KEY)
        {
            let _serialized = self.mounts.change.blocking_lock();
            if let Err(e) = self.load_mounts() {
                log::error!("core: reloading the mount table another server changed failed: {e}");
            }
        }
        if change.touches_key(mounts, super::audit::AUDIT_TABLE_KEY)
            || change.touches_key(Tree::Core.name(), super::audit::AUDITED_HEADERS_KEY)
        {
            if let Err(e) = self.load_audit() {
                log::error!("core: reloading the audit devices another server changed failed: {e}");
            }
        }
        if change.touches_key(Tree::Core.name(), super::cors::CORS_KEY) {
            if let Err(e) = self.load_cors() {
                log::error!("core: reloading the CORS settings another server changed failed: {e}");
            }
        }
        if change.touches_key(Tree::Core.name(), super::quotas::QUOTAS_KEY) {
            if let Err(e) = self.load_quotas() {
                log::error!("core: reloading the rate limit quotas another server changed failed: {e}");
            }
        }
        match change.keys(Tree::Logical.name()) {
            Some([]) => {}
            Some(keys) => {
                for key in keys {
                    // `<mount uuid>/<the engine's key>`.
                    let key = String::from_utf8_lossy(key);
                    if let Some((uuid, rest)) = key.split_once('/') {
                        self.router.invalidate(Some(uuid), Some(rest));
                    }
                }
            }
            None => self.router.invalidate(None, None),
        }
    }

    /// Install the keyring (and root key) another server rotated. A rekey elsewhere leaves this server's unseal key
    /// unable to open the new root key record: it is forgotten, so nothing is ever sealed under it again.
    fn reload_keys(&self, change: &RemoteChange) -> Result<(), CoreError> {
        let unseal_key = self.held_unseal_key();
        if change.touches_key(META_TREE, ROOT_KEY_KEY) {
            if let (Some(unseal_key), Some(sealed)) = (&unseal_key, self.storage.meta_get(ROOT_KEY_KEY)?) {
                if super::open_root_key(unseal_key, &sealed).is_err() {
                    log::warn!("core: the unseal keys were changed on another server; this server forgets its own");
                    if let Ok(mut slot) = self.unseal_key.write() {
                        *slot = None;
                    }
                }
            }
        }
        if !change.touches_key(META_TREE, KEYRING_KEY) {
            return Ok(());
        }
        let sealed = self.storage.meta_get(KEYRING_KEY)?.ok_or(CoreError::NotInitialized)?;
        let aad = barrier::aad(META_TREE, KEYRING_KEY);
        let keyring = match Keyring::open(&**self.current_root_key()?, &aad, &sealed) {
            Ok(keyring) => keyring,
            Err(_) => {
                // The root key was rotated there too: open the new one as unseal does.
                let unseal_key = self.held_unseal_key().ok_or(CoreError::Sealed)?;
                let (root_key, keyring) = self.open_stored_keys(&unseal_key)?;
                self.set_root_key(Some(root_key));
                keyring
            }
        };
        let current = self.storage.keyring()?;
        if keyring.active_term() != current.active_term() {
            self.load_encryption_count(&keyring)?;
            log::info!(
                "core: installed keyring term {} rotated on another server",
                keyring.active_term()
            );
            self.storage.set_keyring(Some(Arc::new(keyring)));
        }
        Ok(())
    }
}
