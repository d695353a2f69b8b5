//! The K/V secrets engine: version 1 (`v1`, plain keys) and version 2 (`v2`, versioned keys with metadata).
//! Both keep their records in the `logical` tree under the mount's uuid prefix:
//!
//! - version 1: `<uuid>/1/<path>` -> the secret as JSON;
//! - version 2: `<uuid>/config` -> engine config, `<uuid>/m/<path>` -> the key's metadata (versions, settings),
//!   `<uuid>/v/<path>\0<version, u64 BE>` -> one version's data as JSON.
//!
//! A version-2 read of the latest version is two point reads (metadata, then that version); every write is one
//! transaction over the metadata and the version records it touches.

pub mod v1;
pub mod v2;

use serde_json::{Map, Value};

use crate::core::CoreError;
use crate::storage::{Storage, StorageError, Tree, TxError, Txn};

pub(crate) const V1_DATA: &[u8] = b"1/";

/// `prefix ++ part ++ path`.
pub(crate) fn key(prefix: &[u8], part: &[u8], path: &str) -> Vec<u8> {
    [prefix, part, path.as_bytes()].concat()
}

/// Parse stored JSON data (a JSON object).
pub(crate) fn decode_json(bytes: &[u8]) -> Result<Map<String, Value>, CoreError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(CoreError::Storage(StorageError::Codec(format!("stored secret: {e}")))),
    }
}

pub(crate) fn encode_json(data: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(data).unwrap_or_else(|_| b"{}".to_vec())
}

/// List a folder of a K/V tree: the children of `prefix ++ folder` as OpenBao names them.
pub(crate) fn list_folder(storage: &Storage, base: &[u8], folder: &str) -> Result<Vec<String>, CoreError> {
    let prefix = [base, folder.as_bytes()].concat();
    Ok(storage
        .list_children(Tree::Logical, &prefix)?
        .into_iter()
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .collect())
}

/// Every version-1 key of a mount (full storage keys), for an upgrade to version 2.
pub fn v1_keys(storage: &Storage, mount_prefix: &[u8]) -> Result<Vec<Vec<u8>>, CoreError> {
    Ok(storage.keys_with_prefix(Tree::Logical, &[mount_prefix, V1_DATA].concat())?)
}

/// Turn version-1 keys into version-2 keys with one version each, inside the caller's transaction (OpenBao's
/// upgrade: the key's metadata starts at version 1, which is also the oldest).
pub fn upgrade_in_tx(
    tx: &Txn<CoreError>,
    mount_prefix: &[u8],
    keys: &[Vec<u8>],
    now: i64,
) -> Result<(), TxError<CoreError>> {
    let data_prefix = [mount_prefix, V1_DATA].concat();
    for full in keys {
        let Some(path) = full.strip_prefix(data_prefix.as_slice()) else {
            continue;
        };
        let path = String::from_utf8_lossy(path).into_owned();
        let Some(value) = tx.get_raw(Tree::Logical, full)? else {
            continue;
        };
        v2::store::upgrade_key(tx, mount_prefix, &path, &value, now)?;
        tx.remove(Tree::Logical, full)?;
    }
    Ok(())
}
