//! Online snapshots (`sys/storage/raft/snapshot[-force]`): save streams a consistent copy of the whole store; restore
//! verifies an uploaded one completely before replacing the store with it in one atomic swap. A snapshot of another
//! initialization (only with `force`) brings its own keyring, so the server seals itself afterwards and must be
//! unsealed with that snapshot's keys.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};

use super::{Core, CoreError, Response};
use crate::storage::snapshot::{self, SnapshotError, SnapshotLabels};
use crate::storage::StorageError;

pub const FOREIGN_SNAPSHOT: &str = "could not verify hash file, possibly the snapshot is using a different set of \
                                    unseal keys; use the snapshot-force API to bypass this check";

impl From<SnapshotError> for CoreError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Storage(s) => CoreError::Storage(s),
            other => CoreError::InvalidRequest(other.to_string()),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Storage(StorageError::Io(format!("snapshot task failed: {e}"))))?
}

impl Core {
    /// Write a snapshot into an anonymous temporary file and return it positioned at its start, with its length.
    pub async fn snapshot_save(&self) -> Result<(File, u64), CoreError> {
        let unsealed = self.unsealed()?;
        let labels = SnapshotLabels {
            cluster_name: Some(unsealed.cluster.name.clone()),
            cluster_id: Some(unsealed.cluster.id.clone()),
        };
        let storage = self.storage.clone();
        blocking(move || {
            let io = |e: std::io::Error| CoreError::Storage(StorageError::Io(format!("snapshot file: {e}")));
            let mut file = tempfile::tempfile().map_err(io)?;
            let header = {
                let mut out = BufWriter::new(&mut file);
                let header = storage.export_snapshot(&mut out, &labels)?;
                out.flush().map_err(io)?;
                header
            };
            let len = file.seek(SeekFrom::End(0)).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            log::info!(
                "snapshot saved: {} records, {len} bytes, key id {}",
                header.entries,
                header.key_id
            );
            Ok((file, len))
        })
        .await
    }

    /// A staging file for an uploaded snapshot (beside the data directory, under its space guard).
    pub fn snapshot_spool(&self) -> Result<snapshot::SnapshotSpool, CoreError> {
        self.unsealed()?;
        Ok(self.storage.snapshot_spool()?)
    }

    /// Verify the snapshot in `file` and replace the store with it. Without `force` a snapshot of another
    /// initialization is refused with OpenBao's error; with it, the server seals and the answer says so.
    pub async fn snapshot_restore(&self, file: File, force: bool) -> Result<Response, CoreError> {
        self.unsealed()?;
        let storage = self.storage.clone();
        let verified = blocking(move || Ok(storage.read_snapshot(BufReader::new(file))?)).await?;
        let same_keys = self.storage.snapshot_matches_keyring(&verified)?;
        if !same_keys && !force {
            return Err(CoreError::InvalidRequest(FOREIGN_SNAPSHOT.into()));
        }
        let header = verified.header.clone();
        // No mount change may interleave with the swap and the reload of the table below.
        let _mount_changes = self.mounts.change.lock().await;
        // Nor a rekey or rotation between reading the live key records and the swap.
        let _key_changes = self.key_change.lock().await;
        let storage = self.storage.clone();
        let keyring = if same_keys { Some(self.storage.keyring()?) } else { None };
        // The snapshot's data under today's keys: the live keyring has every term the snapshot's has, and the unseal
        // keys the operators hold now are the ones that must keep working.
        let keep_meta: &'static [&'static [u8]] = if same_keys { super::KEY_META } else { &[] };
        let restored = blocking(move || Ok(storage.restore_snapshot(verified, keyring.as_deref(), keep_meta)?)).await;
        // Clear even after a failure: the store may have changed underneath, and clearing is always safe.
        self.policy_cache.clear();
        restored?;
        if same_keys {
            // Every backend instance is rebuilt from the restored store: one kept across the swap would serve what it
            // cached from the old one (transit's keys).
            self.unload_mounts();
            if let Err(e) = self.load_from_store() {
                log::error!("snapshot restore: the restored store could not be loaded, sealing: {e}");
                self.seal();
                return Err(e);
            }
            log::info!(
                "snapshot restored: {} records taken {} (key id {})",
                header.entries,
                header.created_at,
                header.key_id
            );
        } else {
            self.seal();
            log::warn!(
                "snapshot restored from a different initialization (key id {}, taken {}): the server is sealed; unseal \
                 it with that snapshot's unseal keys",
                header.key_id,
                header.created_at
            );
            return Ok(Response::warning(format!(
                "the snapshot was taken from a different initialization (key id {}); Vault is now sealed: unseal it \
                 with the unseal keys of that snapshot",
                header.key_id
            )));
        }
        Ok(Response::no_content())
    }
}
