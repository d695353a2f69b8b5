//! A marker file beside sled's files saying the directory holds a store. sled treats a damaged or truncated log as
//! the end of the log, so a data directory whose `db` file lost its start opens as an empty database: without this
//! check the server would come up uninitialized over a directory that held secrets, and a `sys/init` would start a
//! new vault on top of it.

use std::io::Write;
use std::path::Path;

use super::StorageError;

pub const MARKER_FILE: &str = "vault-store";

const DURABLE_PREFIX: &str = "durable_writes ";
const BANNER: &str = "This directory holds a vault store (sled). Copy it only while the server is stopped.\n";

/// Refuse a directory that once held a store (the marker) but whose sled database came back empty (no format
/// version recorded), or holds fewer transactions than the marker recorded as durable: sled reads a log damaged in
/// the middle as ending there, so without this check the writes after the damage would be missing without a word.
pub fn check(path: &Path, recorded_version: u32, recovered_writes: u64) -> Result<(), StorageError> {
    let marker = path.join(MARKER_FILE);
    if !marker.exists() {
        return Ok(());
    }
    if recorded_version == 0 {
        return Err(StorageError::Corrupted(format!(
            "data directory {} held a vault store, but its database opened empty (its files are damaged or \
             truncated); restore it from a backup",
            path.display()
        )));
    }
    let text =
        std::fs::read_to_string(&marker).map_err(|e| StorageError::Io(format!("reading {}: {e}", marker.display())))?;
    let durable = text
        .lines()
        .find_map(|l| l.strip_prefix(DURABLE_PREFIX))
        .and_then(|n| n.trim().parse::<u64>().ok());
    if let Some(durable) = durable.filter(|d| recovered_writes < *d) {
        return Err(StorageError::Corrupted(format!(
            "the files in data directory {} are damaged: its database holds {recovered_writes} transactions, but \
             {durable} were durable before; acknowledged writes are missing; restore it from a backup",
            path.display()
        )));
    }
    Ok(())
}

/// Record that `writes` transactions are durable: written beside and renamed over the marker, so a crash leaves the
/// old record or the new one. `dir` is the data directory opened when the store was: a store replaced by a restore
/// (its directory moved aside) keeps writing to its own directory, never to the one now at the path.
pub fn record_durable(dir: &std::fs::File, writes: u64) -> Result<(), StorageError> {
    use rustix::fs::{openat, renameat, Mode, OFlags};
    let staged = format!("{MARKER_FILE}.new");
    let io = |e: std::io::Error| StorageError::Io(format!("writing the store marker {MARKER_FILE}: {e}"));
    let fd = openat(
        dir,
        staged.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(format!("{BANNER}{DURABLE_PREFIX}{writes}\n").as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    renameat(dir, staged.as_str(), dir, MARKER_FILE).map_err(|e| io(e.into()))?;
    dir.sync_all().map_err(io)
}

/// Write the marker once the store has a format version (durably: the file and its directory entry).
pub fn ensure(path: &Path) -> Result<(), StorageError> {
    let marker = path.join(MARKER_FILE);
    if marker.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| StorageError::Io(format!("writing {}: {e}", marker.display()));
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&marker)
            .map_err(io)?
    };
    file.write_all(BANNER.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::File::open(path).and_then(|dir| dir.sync_all()).map_err(io)?;
    Ok(())
}
