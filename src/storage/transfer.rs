//! `operator migrate`: copy a stopped server's records from one storage to another (sled to PostgreSQL and
//! back), exactly as stored: values stay sealed by the barrier, no key is needed. Copies are upserts, so a copy
//! cut short is resumed by running it again (or from where it stopped, with `start`). Order: trees by name, keys
//! in byte order; a record's position is `<tree>/<hex key>`, which sorts the same way.

use super::{slot_name, Storage, StorageError, Tree, META_TREE, WRITE_SEQ_KEY};

/// Records copied per round trip.
const PAGE: usize = 500;

/// `meta` records that belong to one store, never copied: sled's crash counter.
const NOT_COPIED: &[&[u8]] = &[WRITE_SEQ_KEY];

/// The sealed keyring's record: random per initialization, so it tells stores apart (the seal configuration does
/// not: two stores initialized alike have the same one).
const KEYRING_KEY: &[u8] = b"keyring";

/// Every tree name, sorted (the copy order).
fn tree_names_sorted() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = std::iter::once(META_TREE)
        .chain(Tree::ALL.iter().map(|t| t.name()))
        .collect();
    names.sort_unstable();
    names
}

/// A record's position in the copy order, as `start` takes it.
pub fn position(tree: &str, key: &[u8]) -> String {
    format!("{tree}/{}", hex::encode(key))
}

/// Copy every record of `source` at or after `start` into `destination`; `progress` hears each page's last
/// position. Refuses a destination that belongs to another initialization, and a source not at this build's
/// format. Returns the number of records copied.
pub fn copy_records(
    source: &Storage,
    destination: &Storage,
    start: Option<&str>,
    mut progress: impl FnMut(&str, u64),
) -> Result<u64, StorageError> {
    let supported = super::migrate::supported_version();
    let format = source
        .meta_get(super::migrate::FORMAT_VERSION_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0);
    if format != supported {
        return Err(StorageError::Io(format!(
            "the source is at storage format {format} and this build writes {supported}: start a server of this \
             version on it and unseal it once (that runs the migrations), then stop it and migrate"
        )));
    }
    let source_keyring = source.meta_get(KEYRING_KEY)?;
    if source_keyring.is_none() {
        return Err(StorageError::Io("the source holds no initialized store".into()));
    }
    if let Some(existing) = destination.meta_get(KEYRING_KEY)? {
        if Some(existing) != source_keyring {
            return Err(StorageError::Io(
                "the destination holds another initialized store; give an empty destination".into(),
            ));
        }
    }
    let mut copied = 0u64;
    for tree in tree_names_sorted() {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = source.raw_page(tree, after.as_deref(), PAGE)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            let records: Vec<(Vec<u8>, Vec<u8>)> = page
                .into_iter()
                .filter(|(key, _)| start.is_none_or(|s| position(tree, key).as_str() >= s))
                .filter(|(key, _)| tree != META_TREE || !NOT_COPIED.contains(&key.as_slice()))
                .collect();
            if records.is_empty() {
                continue;
            }
            copied += records.len() as u64;
            let last_position = records.last().map(|(k, _)| position(tree, k)).unwrap_or_default();
            destination.put_raw_page(tree, records)?;
            progress(&last_position, copied);
        }
    }
    destination.flush()?;
    Ok(copied)
}

/// The slot of a tree by name (0 is `meta`).
pub(super) fn slot_of(tree: &str) -> Option<usize> {
    (0..=Tree::ALL.len()).find(|slot| slot_name(*slot) == tree)
}
