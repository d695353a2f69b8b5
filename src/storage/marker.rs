//! A marker file beside sled's files saying the directory holds a store. sled treats a damaged or truncated log as
//! the end of the log, so a data directory whose `db` file lost its start opens as an empty database: without this
//! check the server would come up uninitialized over a directory that held secrets, and a `sys/init` would start a
//! new vault on top of it.

use std::io::Write;
use std::path::Path;

use super::StorageError;

pub const MARKER_FILE: &str = "vault-store";

/// Refuse a directory that once held a store (the marker) but whose sled database came back empty (no format
/// version recorded).
pub fn check(path: &Path, recorded_version: u32) -> Result<(), StorageError> {
    if recorded_version == 0 && path.join(MARKER_FILE).exists() {
        return Err(StorageError::Corrupted(format!(
            "data directory {} held a vault store, but its database opened empty (its files are damaged or \
             truncated); restore it from a backup",
            path.display()
        )));
    }
    Ok(())
}

/// Write the marker once the store has a format version (durably: the file and its directory entry).
pub fn ensure(path: &Path) -> Result<(), StorageError> {
    let marker = path.join(MARKER_FILE);
    if marker.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| StorageError::Io(format!("writing {}: {e}", marker.display()));
    let mut file = std::fs::File::create(&marker).map_err(io)?;
    file.write_all(b"This directory holds a vault store (sled). Copy it only while the server is stopped.\n")
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::File::open(path).and_then(|dir| dir.sync_all()).map_err(io)?;
    Ok(())
}
