//! The K/V secrets engine: version 1 (`v1`, plain keys) and version 2 (`v2`, versioned keys with metadata), chosen
//! by the mount's `version` option. Keys below are relative to the mount's storage view:
//!
//! - version 1: `1/<path>` -> the secret as JSON;
//! - version 2: `config` -> engine config, `m/<path>` -> the key's metadata (versions, settings),
//!   `v/<path>\0<version, u64 BE>` -> one version's data as JSON.
//!
//! A version-2 read of the latest version is two point reads (metadata, then that version); every write is one
//! transaction over the metadata and the version records it touches.

pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::logical::{Backend, Error, StorageView, TxFail, ViewTxn};

pub(crate) const V1_DATA: &[u8] = b"1/";

/// 2 for a versioned K/V mount (`version` option "2"), else 1.
pub fn version_of(options: Option<&BTreeMap<String, String>>) -> u8 {
    match options.and_then(|o| o.get("version")).map(String::as_str) {
        Some("2") => 2,
        _ => 1,
    }
}

/// The backend for a K/V mount with these options.
pub fn factory(options: Option<&BTreeMap<String, String>>) -> Arc<dyn Backend> {
    if version_of(options) == 2 {
        Arc::new(v2::KvV2)
    } else {
        Arc::new(v1::KvV1)
    }
}

/// `part ++ path`.
pub(crate) fn key(part: &[u8], path: &str) -> Vec<u8> {
    [part, path.as_bytes()].concat()
}

/// List a folder: the children of `base ++ folder` as OpenBao names them.
pub(crate) fn list_folder(view: &dyn StorageView, base: &[u8], folder: &str) -> Result<Vec<String>, Error> {
    Ok(view
        .list(&key(base, folder))?
        .into_iter()
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .collect())
}

/// Every version-1 key of a mount, for an upgrade to version 2 (collected before the transaction: a transaction
/// cannot scan).
pub fn v1_keys(view: &dyn StorageView) -> Result<Vec<Vec<u8>>, Error> {
    view.keys(V1_DATA)
}

/// Turn version-1 keys into version-2 keys with one version each, inside the caller's transaction (OpenBao's
/// upgrade: the key's metadata starts at version 1, which is also the oldest).
pub fn upgrade_in_tx(tx: &dyn ViewTxn, keys: &[Vec<u8>], now: i64) -> Result<(), TxFail> {
    for full in keys {
        let Some(path) = full.strip_prefix(V1_DATA) else {
            continue;
        };
        let path = String::from_utf8_lossy(path).into_owned();
        let Some(value) = tx.get(full)? else {
            continue;
        };
        v2::store::upgrade_key(tx, &path, &value, now)?;
        tx.delete(full)?;
    }
    Ok(())
}
