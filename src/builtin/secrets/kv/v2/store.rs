//! K/V version 2 records: the engine config, each key's metadata (its versions and settings) and the version data,
//! with OpenBao's version bookkeeping (`AddVersion`, eviction past `max_versions`, `delete_version_after`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::framework::{go_duration_string, rfc3339_nano};
use crate::logical::{Error, StorageView, TxFail, ViewTxn};

const CONFIG: &[u8] = b"config";
pub(crate) const META: &[u8] = b"m/";
const VERSIONS: &[u8] = b"v/";
/// Versions kept per key when neither the key nor the engine config says.
pub const DEFAULT_MAX_VERSIONS: u32 = 10;
/// The config's `delete_version_after` when it is disabled (a negative duration was set).
pub const DELETE_VERSION_AFTER_DISABLED: i64 = -1;

/// The engine config (`<mount>/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvConfig {
    pub max_versions: u32,
    pub cas_required: bool,
    pub metadata_cas_required: bool,
    /// Seconds; 0 = unset, `DELETE_VERSION_AFTER_DISABLED` = disabled for every key.
    pub delete_version_after: i64,
}

impl KvConfig {
    pub fn delete_version_after_disabled(&self) -> bool {
        self.delete_version_after == DELETE_VERSION_AFTER_DISABLED
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Unix nanoseconds.
    pub created: i64,
    /// Unix nanoseconds; the version reads as deleted once this has passed.
    pub deletion: Option<i64>,
    pub destroyed: bool,
}

impl VersionMeta {
    /// Deleted (its deletion time has passed) or destroyed: reads answer 404 with the metadata.
    pub fn gone(&self, now: i64) -> bool {
        self.destroyed || self.deletion.is_some_and(|t| t < now)
    }
}

/// A key's metadata (`<mount>/m/<path>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyMetadata {
    pub versions: BTreeMap<u64, VersionMeta>,
    pub current_version: u64,
    pub oldest_version: u64,
    pub max_versions: u32,
    pub cas_required: bool,
    pub metadata_cas_required: bool,
    /// Seconds; 0 = unset.
    pub delete_version_after: i64,
    pub custom_metadata: BTreeMap<String, String>,
    pub created_time: Option<i64>,
    pub updated_time: Option<i64>,
    pub current_metadata_version: u64,
}

fn time_text(t: Option<i64>) -> String {
    t.map(rfc3339_nano).unwrap_or_default()
}

/// OpenBao's `deletionTime`: the shorter of the engine's and the key's `delete_version_after`, if either is set.
pub fn deletion_time(created: i64, mount_dva: i64, meta_dva: i64) -> Option<i64> {
    if mount_dva == 0 && meta_dva == 0 {
        return None;
    }
    let mut min = meta_dva;
    if (mount_dva != 0 && mount_dva < min) || min == 0 {
        min = mount_dva;
    }
    Some(created.saturating_add(min.saturating_mul(1_000_000_000)))
}

impl KeyMetadata {
    /// `custom_metadata` as OpenBao renders it: `null` when empty.
    pub fn custom_json(&self) -> Value {
        if self.custom_metadata.is_empty() {
            Value::Null
        } else {
            json!(self.custom_metadata)
        }
    }

    /// One version as data writes and reads describe it.
    pub fn version_summary(&self, version: u64, vm: &VersionMeta) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("version".into(), json!(version));
        m.insert("created_time".into(), json!(rfc3339_nano(vm.created)));
        m.insert("deletion_time".into(), json!(time_text(vm.deletion)));
        m.insert("destroyed".into(), json!(vm.destroyed));
        m.insert("custom_metadata".into(), self.custom_json());
        m
    }

    /// The summary of a version just written (present unless the window evicted it at once, which it cannot).
    pub fn summary_of(&self, version: u64) -> Map<String, Value> {
        let vm = self.versions.get(&version).cloned().unwrap_or_default();
        self.version_summary(version, &vm)
    }

    /// `metadata/:path` read (OpenBao's `metadataResponseData`).
    pub fn response_data(&self) -> Map<String, Value> {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(v, vm)| {
                (
                    v.to_string(),
                    json!({
                        "created_time": rfc3339_nano(vm.created),
                        "deletion_time": time_text(vm.deletion),
                        "destroyed": vm.destroyed,
                    }),
                )
            })
            .collect();
        let mut m = Map::new();
        m.insert("versions".into(), Value::Object(versions));
        m.insert("current_version".into(), json!(self.current_version));
        m.insert("current_metadata_version".into(), json!(self.current_metadata_version));
        m.insert("oldest_version".into(), json!(self.oldest_version));
        m.insert("created_time".into(), json!(time_text(self.created_time)));
        m.insert("updated_time".into(), json!(time_text(self.updated_time)));
        m.insert("max_versions".into(), json!(self.max_versions));
        m.insert("cas_required".into(), json!(self.cas_required));
        m.insert("metadata_cas_required".into(), json!(self.metadata_cas_required));
        m.insert(
            "delete_version_after".into(),
            json!(go_duration_string(self.delete_version_after)),
        );
        m.insert("custom_metadata".into(), self.custom_json());
        m
    }

    /// OpenBao's `AddVersion`: add the next version and slide the window of kept versions. Returns the new
    /// version number and the versions evicted (whose data the caller deletes).
    pub fn add_version(&mut self, created: i64, deletion: Option<i64>, config_max: u32) -> (u64, Vec<u64>) {
        self.current_version += 1;
        let version = self.current_version;
        self.versions.insert(
            version,
            VersionMeta {
                created,
                deletion,
                destroyed: false,
            },
        );
        self.updated_time = Some(created);
        if self.created_time.is_none() {
            self.created_time = Some(created);
        }
        let max = match self.max_versions.max(config_max) {
            0 => DEFAULT_MAX_VERSIONS,
            m => m,
        } as u64;
        let mut evicted = Vec::new();
        if self.current_version - self.oldest_version >= max {
            let last = self.current_version - max;
            for v in self.oldest_version..=last {
                self.versions.remove(&v);
                evicted.push(v);
            }
            self.oldest_version = last + 1;
        }
        (version, evicted)
    }
}

pub fn config_key() -> Vec<u8> {
    CONFIG.to_vec()
}

pub fn meta_key(path: &str) -> Vec<u8> {
    [META, path.as_bytes()].concat()
}

pub fn version_key(path: &str, version: u64) -> Vec<u8> {
    [VERSIONS, path.as_bytes(), &[0u8], &version.to_be_bytes()].concat()
}

pub fn read_config(view: &dyn StorageView) -> Result<KvConfig, Error> {
    Ok(view.get_as(&config_key())?.unwrap_or_default())
}

pub fn tx_config(tx: &dyn ViewTxn) -> Result<KvConfig, TxFail> {
    Ok(tx.get_as(&config_key())?.unwrap_or_default())
}

pub fn read_meta(view: &dyn StorageView, path: &str) -> Result<Option<KeyMetadata>, Error> {
    view.get_as(&meta_key(path))
}

pub fn tx_meta(tx: &dyn ViewTxn, path: &str) -> Result<Option<KeyMetadata>, TxFail> {
    tx.get_as(&meta_key(path))
}

pub fn put_meta(tx: &dyn ViewTxn, path: &str, meta: &KeyMetadata) -> Result<(), TxFail> {
    tx.put_as(&meta_key(path), meta)
}

/// Write version data as the key's next version (with eviction of versions past the window), in the caller's
/// transaction. Returns the updated metadata and the new version number.
pub fn add_version(
    tx: &dyn ViewTxn,
    path: &str,
    mut meta: KeyMetadata,
    config: &KvConfig,
    data: &[u8],
    now: i64,
) -> Result<(KeyMetadata, u64), TxFail> {
    let deletion = if config.delete_version_after_disabled() {
        None
    } else {
        deletion_time(now, config.delete_version_after, meta.delete_version_after)
    };
    tx.put(&version_key(path, meta.current_version + 1), data)?;
    let (version, evicted) = meta.add_version(now, deletion, config.max_versions);
    for v in evicted {
        tx.delete(&version_key(path, v))?;
    }
    put_meta(tx, path, &meta)?;
    Ok((meta, version))
}

/// Turn one version-1 secret into a version-2 key (OpenBao's upgrade: version 1, also the oldest).
pub fn upgrade_key(tx: &dyn ViewTxn, path: &str, data: &[u8], now: i64) -> Result<(), TxFail> {
    if tx_meta(tx, path)?.is_some() {
        return Ok(());
    }
    let mut meta = KeyMetadata::default();
    meta.add_version(now, None, 0);
    meta.oldest_version = 1;
    tx.put(&version_key(path, 1), data)?;
    put_meta(tx, path, &meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_window_slides_like_openbao() {
        let mut meta = KeyMetadata {
            max_versions: 2,
            ..Default::default()
        };
        assert_eq!(meta.add_version(1, None, 0), (1, vec![]));
        assert_eq!(meta.add_version(2, None, 0), (2, vec![0]));
        assert_eq!(meta.oldest_version, 1);
        assert_eq!(meta.add_version(3, None, 0), (3, vec![1]));
        assert_eq!(meta.oldest_version, 2);
        assert_eq!(meta.versions.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        // The larger of the key's and the engine's maximum applies.
        assert_eq!(meta.add_version(4, None, 5).1, Vec::<u64>::new());
    }

    #[test]
    fn deletion_time_takes_the_shorter_setting() {
        assert_eq!(deletion_time(0, 0, 0), None);
        assert_eq!(deletion_time(0, 10, 0), Some(10_000_000_000));
        assert_eq!(deletion_time(0, 0, 5), Some(5_000_000_000));
        assert_eq!(deletion_time(0, 10, 5), Some(5_000_000_000));
        assert_eq!(deletion_time(0, 3, 5), Some(3_000_000_000));
    }
}
