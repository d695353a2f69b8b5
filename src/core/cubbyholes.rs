//! Per-token storage (the cubbyhole's records): the core gives a request the view of its token's records (see
//! `router`) and deletes them in the transaction that revokes the token (see `auth::token`). Keys in the
//! `cubbyhole` tree are `token hash ++ path`.

use super::{Core, CoreError};
use crate::storage::{Tree, TxError};

impl Core {
    /// Every cubbyhole record of these tokens (to delete with them).
    pub fn cubbyhole_keys<'a>(
        &self,
        token_hashes: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Vec<u8>>, CoreError> {
        let mut out = Vec::new();
        for hash in token_hashes {
            out.extend(self.storage.keys_with_prefix(Tree::Cubbyhole, hash)?);
        }
        Ok(out)
    }

    /// Delete what a write that raced a revocation may have left in the revoked tokens' cubbyholes (no request can
    /// reach them any more).
    pub async fn purge_cubbyholes<'a>(
        &self,
        token_hashes: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), CoreError> {
        let keys = self.cubbyhole_keys(token_hashes)?;
        if keys.is_empty() {
            return Ok(());
        }
        self.storage
            .write(move |tx| {
                for key in &keys {
                    tx.remove(Tree::Cubbyhole, key)?;
                }
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        Ok(())
    }
}
