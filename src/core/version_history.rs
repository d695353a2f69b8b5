//! `sys/version-history`: every version of the server that has unsealed this store, in order, with when it first
//! did, as OpenBao keeps it (an operator sees when an upgrade happened). Recorded at unseal.

use serde::{Deserialize, Serialize};

use super::{Core, CoreError, COMMIT_DATE, VERSION};
use crate::storage::Tree;

const VERSION_HISTORY_KEY: &[u8] = b"version_history";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionEntry {
    pub version: String,
    pub commit_date: String,
    /// Unix seconds.
    pub installed: i64,
}

impl Core {
    pub fn version_history(&self) -> Result<Vec<VersionEntry>, CoreError> {
        Ok(self
            .storage
            .get::<Vec<VersionEntry>>(Tree::Core, VERSION_HISTORY_KEY)?
            .unwrap_or_default())
    }

    /// At unseal: append this version when it is not the last one recorded.
    pub(super) fn record_version(&self) -> Result<(), CoreError> {
        let mut history = self.version_history()?;
        if history.last().is_some_and(|last| last.version == VERSION) {
            return Ok(());
        }
        history.push(VersionEntry {
            version: VERSION.to_string(),
            commit_date: COMMIT_DATE.to_string(),
            installed: chrono::Utc::now().timestamp(),
        });
        self.storage
            .transact::<_, CoreError>(move |tx| tx.put(Tree::Core, VERSION_HISTORY_KEY, &history))??;
        // Durable now: a crash right after the unseal must not record the install again, later.
        self.storage.flush()?;
        Ok(())
    }
}
