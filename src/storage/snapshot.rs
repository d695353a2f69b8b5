//! Snapshots of the whole store, in the container the Vault CLI expects (`bao operator raft snapshot save`
//! refuses anything that is not a gzip'd tar ending in a non-empty `SHA256SUMS.sealed`). The archive holds, in
//! order:
//!
//! - `meta.json`: the header (format and versions, creation time, the barrier's key id, entry counts per tree);
//! - `state.bin`: every record of every tree exactly as stored, so secrets stay sealed by the barrier in the file:
//!   `[name length: u8][tree name][key length: u32 BE][key][value length: u32 BE][value]`, repeated;
//! - `SHA256SUMS`: SHA-256 of the two files above, in `sha256sum` format;
//! - `SHA256SUMS.sealed`: those sums sealed by the barrier, proving which keyring wrote the snapshot.
//!
//! Reading verifies every checksum and count before anything is applied. A restore builds the new store in a
//! directory beside the live one and swaps the two with one atomic rename (`renameat2(RENAME_EXCHANGE)`), so a
//! crash leaves either the old store or the complete new one, never a mix.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::space::{SpaceBudget, SpaceGuard};
use super::{migrate, Backend, Database, Storage, StorageError, Tree, META_TREE};

pub const FORMAT: &str = "vault-sled-snapshot";
pub const SNAPSHOT_VERSION: u32 = 1;
const HEADER_FILE: &str = "meta.json";
const STATE_FILE: &str = "state.bin";
const SUMS_FILE: &str = "SHA256SUMS";
const SEALED_SUMS_FILE: &str = "SHA256SUMS.sealed";
const SEALED_SUMS_AAD: &[u8] = b"snapshot\0SHA256SUMS";
/// Largest header or sums file accepted (they are a few hundred bytes).
const SMALL_FILE_LIMIT: u64 = 1 << 20;
/// Largest record (tree name, key, value and their length fields) a snapshot may hold: twice the default
/// `max_request_size`. A record holds at most one request's data, encrypted, so a store written with the default
/// limits never comes near it; an export refuses a larger record rather than write a snapshot no server restores.
/// A snapshot's records times this bounds how much a restore expands and stages before it can refuse the file.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;
/// What may follow the archive's last file in the compressed stream (the tar end blocks and record padding) before
/// the gzip trailer.
const ARCHIVE_TAIL_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub format: String,
    pub snapshot_version: u32,
    pub server_version: String,
    /// The storage format (migration) version of the records.
    pub storage_format_version: u32,
    pub created_at: String,
    /// The barrier keyring's public id (see `Keyring::key_id`): which initialization the snapshot belongs to.
    pub key_id: String,
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    pub entries: u64,
    /// Records per tree, `meta` included.
    pub trees: BTreeMap<String, u64>,
    pub state_bytes: u64,
}

/// Cluster identity for the header (the core knows it; storage does not).
#[derive(Debug, Clone, Default)]
pub struct SnapshotLabels {
    pub cluster_name: Option<String>,
    pub cluster_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot, truncated, or failing a checksum or count.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
    #[error(
        "snapshot storage format version {found} is newer than this server supports ({supported}); use a newer server"
    )]
    TooNew { found: u32, supported: u32 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn invalid(what: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Invalid(what.to_string())
}

fn io_error(context: &str, e: io::Error) -> StorageError {
    StorageError::Io(format!("{context}: {e}"))
}

/// A snapshot whose checksums and counts have been verified; `state` is its decompressed `state.bin`.
pub struct VerifiedSnapshot {
    pub header: SnapshotHeader,
    sums: Vec<u8>,
    sealed_sums: Vec<u8>,
    state: File,
}

impl std::fmt::Debug for VerifiedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedSnapshot")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// Counts bytes and hashes them on their way to `inner`.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn tree_names() -> Vec<&'static str> {
    std::iter::once(META_TREE)
        .chain(Tree::ALL.iter().map(|t| t.name()))
        .collect()
}

/// Bytes one record takes in `state.bin`: its tree name, key and value with their length fields.
fn record_size(tree: &str, key: &[u8], value: &[u8]) -> u64 {
    1 + tree.len() as u64 + 4 + key.len() as u64 + 4 + value.len() as u64
}

fn write_record(out: &mut impl Write, tree: &str, key: &[u8], value: &[u8]) -> io::Result<()> {
    if record_size(tree, key, value) > MAX_RECORD_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a record of the {tree} tree is {} bytes, more than a snapshot may hold ({} MiB); no server would \
                 restore it",
                record_size(tree, key, value),
                MAX_RECORD_BYTES >> 20
            ),
        ));
    }
    let too_long = || io::Error::new(io::ErrorKind::InvalidData, "record too long for the snapshot format");
    out.write_all(&[u8::try_from(tree.len()).map_err(|_| too_long())?])?;
    out.write_all(tree.as_bytes())?;
    out.write_all(&u32::try_from(key.len()).map_err(|_| too_long())?.to_be_bytes())?;
    out.write_all(key)?;
    out.write_all(&u32::try_from(value.len()).map_err(|_| too_long())?.to_be_bytes())?;
    out.write_all(value)
}

/// One record of `state.bin`.
#[derive(Debug, PartialEq, Eq)]
struct Record {
    tree: String,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// The next record of `state.bin`, or `None` at its clean end.
fn read_record(input: &mut impl Read) -> Result<Option<Record>, SnapshotError> {
    read_record_from(input, true)
}

/// The next record's framing, or `None` at the clean end; with `keep` false its key and value are read past, not
/// held (they come back empty). A record is refused as soon as its length fields exceed [`MAX_RECORD_BYTES`], before
/// its bytes are read.
fn read_record_from(input: &mut impl Read, keep: bool) -> Result<Option<Record>, SnapshotError> {
    let mut len = [0u8; 1];
    match input.read(&mut len) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(invalid(format!("reading state: {e}"))),
    }
    let truncated = |_| invalid("state.bin ends in the middle of a record");
    let mut name = vec![0u8; len[0] as usize];
    input.read_exact(&mut name).map_err(truncated)?;
    let name = String::from_utf8(name).map_err(|_| invalid("state.bin names a tree that is not UTF-8"))?;
    let mut budget = MAX_RECORD_BYTES.saturating_sub(1 + name.len() as u64);
    let mut read_blob = |input: &mut dyn Read| -> Result<Vec<u8>, SnapshotError> {
        let mut n = [0u8; 4];
        input.read_exact(&mut n).map_err(truncated)?;
        let n = u64::from(u32::from_be_bytes(n));
        budget = budget.checked_sub(4 + n).ok_or_else(|| {
            invalid(format!(
                "state.bin holds a record larger than a snapshot may hold ({} MiB)",
                MAX_RECORD_BYTES >> 20
            ))
        })?;
        let mut blob = Vec::new();
        // `take` bounds the allocation by what is really there, whatever the length field claims.
        let got = if keep {
            input.take(n).read_to_end(&mut blob).map_err(truncated)? as u64
        } else {
            io::copy(&mut input.take(n), &mut io::sink()).map_err(truncated)?
        };
        if got != n {
            return Err(invalid("state.bin ends in the middle of a record"));
        }
        Ok(blob)
    };
    let key = read_blob(input)?;
    let value = read_blob(input)?;
    Ok(Some(Record { tree: name, key, value }))
}

fn sums_text(header_digest: &[u8], state_digest: &[u8]) -> String {
    format!(
        "{}  {HEADER_FILE}\n{}  {STATE_FILE}\n",
        hex::encode(header_digest),
        hex::encode(state_digest)
    )
}

fn append_file(builder: &mut tar::Builder<impl Write>, name: &str, size: u64, data: impl Read) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_cksum();
    builder.append(&header, data)
}

impl Storage {
    /// Write a consistent snapshot of the whole store to `out`. Transactions pause only while the records are
    /// copied to a temporary file (no compression or network I/O under the gate). Blocking.
    pub fn export_snapshot(&self, out: impl Write, labels: &SnapshotLabels) -> Result<SnapshotHeader, StorageError> {
        let keyring = self.keyring()?;
        let state_file = tempfile::tempfile().map_err(|e| io_error("creating a temporary snapshot file", e))?;
        let mut state = HashingWriter {
            inner: BufWriter::new(state_file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let mut trees = BTreeMap::new();
        let mut entries = 0u64;
        let storage_format_version;
        match &self.backend {
            Backend::Sled(sled) => {
                let _gate = sled.shared.exclusive_gate();
                let database = sled.shared.current.load();
                storage_format_version = migrate::recorded_version(&database.trees[0])?;
                for (name, tree) in tree_names().into_iter().zip(database.trees.iter()) {
                    let mut count = 0u64;
                    for item in tree.iter() {
                        let (key, value) = item?;
                        write_record(&mut state, name, &key, &value)
                            .map_err(|e| io_error("writing the snapshot", e))?;
                        count += 1;
                    }
                    entries += count;
                    trees.insert(name.to_string(), count);
                }
            }
            Backend::Postgres(pg) => {
                let counts: BTreeMap<String, u64> = tree_names().iter().map(|n| (n.to_string(), 0)).collect();
                let (returned, counts, format) = pg.export(
                    tree_names(),
                    (state, counts, None::<Vec<u8>>),
                    |(state, counts, format): &mut (_, BTreeMap<String, u64>, Option<Vec<u8>>), tree, key, value| {
                        write_record(state, tree, key, value)?;
                        if let Some(n) = counts.get_mut(tree) {
                            *n += 1;
                        }
                        if tree == META_TREE && key == migrate::FORMAT_VERSION_KEY {
                            *format = Some(value.to_vec());
                        }
                        Ok(())
                    },
                )?;
                state = returned;
                storage_format_version = format
                    .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                entries = counts.values().sum();
                trees = counts;
            }
        }
        let state_digest = state.hasher.finalize();
        let state_bytes = state.bytes;
        let mut state_file = state
            .inner
            .into_inner()
            .map_err(|e| io_error("writing the snapshot", e.into_error()))?;
        state_file
            .seek(SeekFrom::Start(0))
            .map_err(|e| io_error("reading back the snapshot", e))?;

        let header = SnapshotHeader {
            format: FORMAT.into(),
            snapshot_version: SNAPSHOT_VERSION,
            server_version: crate::VERSION.into(),
            storage_format_version,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            key_id: keyring.key_id(),
            cluster_name: labels.cluster_name.clone(),
            cluster_id: labels.cluster_id.clone(),
            entries,
            trees,
            state_bytes,
        };
        let header_json = serde_json::to_vec_pretty(&header).map_err(|e| StorageError::Codec(e.to_string()))?;
        let sums = sums_text(&Sha256::digest(&header_json), &state_digest);
        let sealed_sums = keyring.encrypt(SEALED_SUMS_AAD, sums.as_bytes())?;

        let write = || -> io::Result<()> {
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            let mut builder = tar::Builder::new(gz);
            append_file(&mut builder, HEADER_FILE, header_json.len() as u64, &header_json[..])?;
            append_file(&mut builder, STATE_FILE, state_bytes, BufReader::new(&mut state_file))?;
            append_file(&mut builder, SUMS_FILE, sums.len() as u64, sums.as_bytes())?;
            append_file(
                &mut builder,
                SEALED_SUMS_FILE,
                sealed_sums.len() as u64,
                &sealed_sums[..],
            )?;
            builder.into_inner()?.finish()?.flush()
        };
        write().map_err(|e| io_error("writing the snapshot", e))?;
        Ok(header)
    }

    /// Where snapshots are staged: beside the data directory (its parent), so on its file system and under its space
    /// guard, never in a `$TMPDIR` that may be small or in memory.
    fn staging_dir(&self) -> Result<PathBuf, StorageError> {
        match &self.backend {
            Backend::Sled(sled) => Ok(RestorePaths::of(&sled.path)?.parent),
            // No data directory: the system's temporary directory.
            Backend::Postgres(_) => Ok(std::env::temp_dir()),
        }
    }

    fn space(&self) -> Option<&SpaceGuard> {
        self.sled().map(|s| &s.space)
    }

    /// Read and verify a snapshot (see [`read_snapshot_staged`]), staged beside the data directory.
    pub fn read_snapshot(&self, input: impl Read) -> Result<VerifiedSnapshot, SnapshotError> {
        let dir = self.staging_dir()?;
        read_snapshot_staged(
            input,
            &Staging {
                dir: &dir,
                space: self.space(),
            },
        )
    }

    /// An unnamed file beside the data directory for an upload on its way in (gone when closed, even after a crash).
    pub fn snapshot_spool(self: &Arc<Self>) -> Result<SnapshotSpool, StorageError> {
        let dir = self.staging_dir()?;
        let file = tempfile::tempfile_in(&dir)
            .map_err(|e| io_error(&format!("creating a temporary snapshot file in {}", dir.display()), e))?;
        Ok(SnapshotSpool {
            file,
            storage: self.clone(),
            budget: SpaceBudget::default(),
        })
    }

    /// True when the snapshot was written under this store's keyring (the same initialization).
    pub fn snapshot_matches_keyring(&self, snapshot: &VerifiedSnapshot) -> Result<bool, StorageError> {
        let keyring = self.keyring()?;
        let Ok(opened) = keyring.decrypt(SEALED_SUMS_AAD, &snapshot.sealed_sums) else {
            return Ok(false);
        };
        let same_sums = opened.len() == snapshot.sums.len() && bool::from(opened.ct_eq(&snapshot.sums));
        Ok(same_sums && snapshot.header.key_id == keyring.key_id())
    }

    /// Replace the whole store with a verified snapshot, atomically. Blocking. The keyring installed stays as it is:
    /// the caller decides whether it still applies (see `snapshot_matches_keyring`). With `unsealed_with` (a snapshot
    /// of this keyring), the migrations that need the keyring run before the swap; otherwise they run at the next
    /// unseal, as for any directory. The plain `meta` records named in `keep_meta` keep their live values (or stay
    /// absent) instead of the snapshot's: written in the restored store before it replaces the live one.
    pub fn restore_snapshot(
        &self,
        mut snapshot: VerifiedSnapshot,
        unsealed_with: Option<&super::Keyring>,
        keep_meta: &[&[u8]],
    ) -> Result<(), StorageError> {
        let sled = match &self.backend {
            Backend::Sled(sled) => sled,
            Backend::Postgres(pg) => return restore_into_postgres(self, pg, snapshot, keep_meta),
        };
        let paths = RestorePaths::of(&sled.path)?;
        remove_dir_if_present(&paths.staging)?;
        remove_dir_if_present(&paths.old)?;
        let kept: Vec<(&[u8], Option<sled::IVec>)> = keep_meta
            .iter()
            .map(|key| Ok((*key, sled.shared.current.load().trees[0].get(key)?)))
            .collect::<Result<_, StorageError>>()?;
        if let Err(e) = build_store(&paths.staging, &mut snapshot.state, &sled.space, &kept) {
            // Give the room back now (a full disk, most likely), not at the next start.
            let _ = remove_dir_if_present(&paths.staging);
            return Err(e);
        }
        sync_dir(&paths.parent)?;

        let previous = {
            let _gate = sled.shared.exclusive_gate();
            sled.shared.current.load().db.flush()?;
            let moved_to = swap_in(&sled.path, &paths)?;
            let opened = Database::open(&sled.path).and_then(|database| match unsealed_with {
                Some(keyring) => {
                    migrate::run_pending_unsealed(&database.db, &database.trees, keyring).map(|()| database)
                }
                None => Ok(database),
            });
            match opened {
                Ok(database) => (sled.shared.current.swap(Arc::new(database)), moved_to),
                Err(e) => {
                    // The live database is still open on the moved directory: put it back and keep serving it.
                    log::error!("snapshot restore: opening the restored store failed, keeping the old one: {e}");
                    swap_back(&sled.path, &paths, &moved_to)?;
                    return Err(e);
                }
            }
        };
        let (previous, moved_to) = previous;
        close_and_remove(previous, &moved_to);
        Ok(())
    }
}

/// An uploaded snapshot being written to its staging file, each chunk only while the space guard allows.
pub struct SnapshotSpool {
    file: File,
    storage: Arc<Storage>,
    budget: SpaceBudget,
}

impl SnapshotSpool {
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        if let Some(space) = self.storage.space() {
            self.budget.take(space, chunk.len() as u64)?;
        }
        self.file
            .write_all(chunk)
            .map_err(|e| io_error("spooling the snapshot", e))
    }

    /// The whole upload, positioned at its start.
    pub fn into_file(mut self) -> Result<File, StorageError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| io_error("spooling the snapshot", e))?;
        Ok(self.file)
    }
}

/// Where a restore stages the new store and parks the old one: beside the data directory, on its filesystem.
struct RestorePaths {
    parent: PathBuf,
    staging: PathBuf,
    old: PathBuf,
}

impl RestorePaths {
    fn of(data: &Path) -> Result<Self, StorageError> {
        let name = data
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StorageError::Io(format!("data directory {} has no usable name", data.display())))?;
        let parent = match data.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(RestorePaths {
            staging: parent.join(format!(".{name}.restore-new")),
            old: parent.join(format!(".{name}.restore-old")),
            parent,
        })
    }
}

fn remove_dir_if_present(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(&format!("removing {}", path.display()), e)),
    }
}

fn sync_dir(path: &Path) -> Result<(), StorageError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(&format!("syncing directory {}", path.display()), e))
}

/// Write every record of `state` into a new sled store at `path` (owner-only, like the data directory), flushed and
/// closed. Stops at the space guard's reserve.
fn build_store(
    path: &Path,
    state: &mut File,
    space: &SpaceGuard,
    meta_overrides: &[(&[u8], Option<sled::IVec>)],
) -> Result<(), StorageError> {
    state
        .seek(SeekFrom::Start(0))
        .map_err(|e| io_error("reading the snapshot", e))?;
    let mut input = BufReader::new(state);
    super::create_private_dir(path)?;
    let mut budget = SpaceBudget::default();
    // Written once and closed: a small cache is enough (sled's default is 1 GiB).
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(16 * 1024 * 1024)
        .open()
        .map_err(|e| StorageError::Io(format!("creating the restore directory {}: {e}", path.display())))?;
    let mut trees: BTreeMap<String, sled::Tree> = BTreeMap::new();
    while let Some(record) = read_record(&mut input).map_err(|e| StorageError::Io(e.to_string()))? {
        let tree = match trees.get(&record.tree) {
            Some(t) => t,
            None => {
                let t = db.open_tree(record.tree.as_bytes())?;
                trees.entry(record.tree).or_insert(t)
            }
        };
        budget.take(space, (record.key.len() + record.value.len()) as u64)?;
        tree.insert(record.key, record.value)?;
    }
    if !meta_overrides.is_empty() {
        let meta = db.open_tree(super::META_TREE)?;
        for (key, value) in meta_overrides {
            match value {
                Some(value) => meta.insert(key, value.clone())?,
                None => meta.remove(key)?,
            };
        }
    }
    db.flush()?;
    drop(trees);
    drop(db);
    super::marker::ensure(path)
}

/// A PostgreSQL restore: every record replaced in one transaction (a failure leaves the old records), the kept
/// `meta` records written back. The records must be at this build's format: PostgreSQL stores are not migrated.
fn restore_into_postgres(
    storage: &Storage,
    pg: &super::postgres::PgStore,
    mut snapshot: VerifiedSnapshot,
    keep_meta: &[&[u8]],
) -> Result<(), StorageError> {
    let supported = migrate::supported_version();
    if snapshot.header.storage_format_version != supported {
        return Err(StorageError::Io(format!(
            "the snapshot holds storage format {} and this server's PostgreSQL store needs {supported}: restore it \
             into a sled server of this version first, then take a new snapshot there",
            snapshot.header.storage_format_version
        )));
    }
    let kept = keep_meta
        .iter()
        .map(|key| Ok((key.to_vec(), storage.meta_get(key)?)))
        .collect::<Result<Vec<_>, StorageError>>()?;
    snapshot
        .state
        .seek(SeekFrom::Start(0))
        .map_err(|e| io_error("reading the snapshot", e))?;
    let mut input = BufReader::new(snapshot.state);
    let next = Box::new(move || loop {
        match read_record(&mut input).map_err(|e| StorageError::Io(e.to_string()))? {
            None => return Ok(None),
            // sled's crash counter has no meaning in PostgreSQL.
            Some(r) if r.tree == META_TREE && r.key == super::WRITE_SEQ_KEY => continue,
            Some(r) => return Ok(Some((r.tree, r.key, r.value))),
        }
    });
    pg.replace_all(next, kept)
}

/// Put the staged store in place of the live one; returns where the live one's directory went.
fn swap_in(data: &Path, paths: &RestorePaths) -> Result<PathBuf, StorageError> {
    let moved_to = match exchange(data, &paths.staging) {
        Ok(()) => paths.staging.clone(),
        Err(e) if exchange_unsupported(&e) => {
            // Without an atomic exchange: park the old store first. A crash between the two renames leaves no
            // data directory but a parked one, which `recover_interrupted_restore` moves back at the next start.
            rename(data, &paths.old)?;
            rename(&paths.staging, data)?;
            paths.old.clone()
        }
        Err(e) => return Err(io_error("swapping in the restored store", e)),
    };
    sync_dir(&paths.parent)?;
    Ok(moved_to)
}

fn swap_back(data: &Path, paths: &RestorePaths, moved_to: &Path) -> Result<(), StorageError> {
    if moved_to == paths.staging {
        exchange(data, &paths.staging).map_err(|e| io_error("putting the old store back", e))?;
    } else {
        rename(data, &paths.staging)?;
        rename(moved_to, data)?;
    }
    sync_dir(&paths.parent)?;
    remove_dir_if_present(&paths.staging)
}

fn rename(from: &Path, to: &Path) -> Result<(), StorageError> {
    std::fs::rename(from, to).map_err(|e| io_error(&format!("renaming {} to {}", from.display(), to.display()), e))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn exchange_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
        || matches!(e.raw_os_error(), Some(code) if code == rustix::io::Errno::INVAL.raw_os_error()
            || code == rustix::io::Errno::NOSYS.raw_os_error()
            || code == rustix::io::Errno::OPNOTSUPP.raw_os_error())
}

/// Drop the replaced database once no request holds it any more (writers still waiting for its last flush), then
/// delete its directory. If it stays busy, the directory is left for the next start to remove.
fn close_and_remove(previous: Arc<Database>, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut previous = previous;
    loop {
        match Arc::try_unwrap(previous) {
            Ok(database) => {
                drop(database);
                break;
            }
            Err(still_shared) if Instant::now() < deadline => {
                previous = still_shared;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => {
                log::warn!(
                    "snapshot restore: the replaced store is still in use; {} is removed at the next start",
                    dir.display()
                );
                return;
            }
        }
    }
    if let Err(e) = remove_dir_if_present(dir) {
        log::warn!("snapshot restore: {e}");
    }
}

/// At start-up: if a restore without atomic exchange was cut between its two renames, move the parked store back.
pub fn recover_interrupted_restore(data: &Path) -> Result<(), StorageError> {
    let paths = RestorePaths::of(data)?;
    if !data.exists() && paths.old.exists() {
        log::warn!(
            "an interrupted snapshot restore left the data directory parked at {}; moving it back",
            paths.old.display()
        );
        rename(&paths.old, data)?;
        sync_dir(&paths.parent)?;
    }
    Ok(())
}

/// After a successful open (the data directory's lock is ours): remove what an interrupted restore left beside it.
pub fn remove_restore_leftovers(data: &Path) {
    let Ok(paths) = RestorePaths::of(data) else { return };
    for dir in [&paths.staging, &paths.old] {
        if dir.exists() {
            log::info!("removing {} left by an interrupted snapshot restore", dir.display());
            if let Err(e) = remove_dir_if_present(dir) {
                log::warn!("{e}");
            }
        }
    }
}

/// Where a snapshot being read is staged (its `state.bin`, expanded), and the guard that stops staging before the
/// file system runs out of room.
pub struct Staging<'a> {
    pub dir: &'a Path,
    pub space: Option<&'a SpaceGuard>,
}

/// Read and verify a snapshot, staged in the system's temporary directory (the offline `snapshot inspect`).
pub fn read_snapshot(input: impl Read) -> Result<VerifiedSnapshot, SnapshotError> {
    let dir = std::env::temp_dir();
    read_snapshot_staged(input, &Staging { dir: &dir, space: None })
}

/// Read and verify a snapshot: the four files in order, every checksum, the gzip trailer, every record's framing
/// and tree name, and the header's counts. Nothing is applied here.
///
/// The expansion is bounded before it is written: `state.bin` must be the size the header gives, at most the
/// header's record count times [`MAX_RECORD_BYTES`]; records are checked as they stream in (a known tree, no more of
/// them than the header counts, each within the bound); tar extension entries are not read into memory; and the
/// staging file (beside the data directory for a restore, so on its file system) stops at the space guard's reserve.
pub fn read_snapshot_staged(input: impl Read, staging: &Staging) -> Result<VerifiedSnapshot, SnapshotError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(input));
    // Raw: GNU long names and PAX headers come back as entries of their own (refused below by name) instead of being
    // read whole into memory, whatever size they claim.
    let mut entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a gzip'd tar archive: {e}")))?
        .raw(true);
    let mut next_entry = |expected: &str| -> Result<tar::Entry<'_, _>, SnapshotError> {
        let entry = entries
            .next()
            .ok_or_else(|| invalid(format!("the archive ends before {expected} (truncated?)")))?
            .map_err(|e| invalid(format!("reading {expected}: {e}")))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != expected {
            return Err(invalid(format!("expected {expected} in the archive, found {name:?}")));
        }
        if !entry.header().entry_type().is_file() {
            return Err(invalid(format!("{expected} is not a regular file in the archive")));
        }
        Ok(entry)
    };

    let header_json = read_small(next_entry(HEADER_FILE)?, HEADER_FILE)?;
    let header: SnapshotHeader =
        serde_json::from_slice(&header_json).map_err(|e| invalid(format!("{HEADER_FILE} is not a header: {e}")))?;
    if header.format != FORMAT {
        return Err(invalid(format!("unknown snapshot format {:?}", header.format)));
    }
    if header.snapshot_version > SNAPSHOT_VERSION {
        return Err(invalid(format!(
            "snapshot version {} is newer than this server reads ({SNAPSHOT_VERSION})",
            header.snapshot_version
        )));
    }
    let supported = migrate::supported_version();
    if header.storage_format_version > supported {
        return Err(SnapshotError::TooNew {
            found: header.storage_format_version,
            supported,
        });
    }
    check_header_bounds(&header)?;

    let state_entry = next_entry(STATE_FILE)?;
    let declared = state_entry.header().entry_size().unwrap_or(u64::MAX);
    if declared != header.state_bytes {
        return Err(invalid(format!(
            "{STATE_FILE} has {declared} bytes, the header says {}",
            header.state_bytes
        )));
    }
    let mut state_file = tempfile::tempfile_in(staging.dir).map_err(|e| {
        io_error(
            &format!("creating a temporary snapshot file in {}", staging.dir.display()),
            e,
        )
    })?;
    let mut state = StagingReader {
        inner: state_entry,
        out: BufWriter::new(&mut state_file),
        hasher: Sha256::new(),
        bytes: 0,
        space: staging.space,
        budget: SpaceBudget::default(),
        failure: None,
    };
    let counted = count_records(&mut state, &header);
    let drained = counted.and_then(|counts| {
        // The records end where the entry does; anything after the last one is not a record.
        let mut rest = [0u8; 1];
        match state.read(&mut rest) {
            Ok(0) => Ok(counts),
            Ok(_) => Err(invalid("state.bin ends in the middle of a record")),
            Err(e) => Err(invalid(format!("reading {STATE_FILE}: {e}"))),
        }
    });
    let counts = match (drained, state.failure.take()) {
        (_, Some(failure)) => return Err(failure),
        (Err(e), None) => return Err(e),
        (Ok(counts), None) => counts,
    };
    state
        .out
        .flush()
        .map_err(|e| io_error("writing a temporary snapshot file", e))?;
    let state_digest = state.hasher.clone().finalize();
    let state_bytes = state.bytes;
    drop(state);

    let sums = read_small(next_entry(SUMS_FILE)?, SUMS_FILE)?;
    let sealed_sums = read_small(next_entry(SEALED_SUMS_FILE)?, SEALED_SUMS_FILE)?;
    if sealed_sums.is_empty() {
        return Err(invalid(format!("{SEALED_SUMS_FILE} is empty")));
    }
    if let Some(extra) = entries.next() {
        let name = extra
            .ok()
            .and_then(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()));
        return Err(invalid(format!("unexpected entry {name:?} after {SEALED_SUMS_FILE}")));
    }
    // The tar reader stops at the end-of-archive blocks; read on to the gzip trailer so its CRC is checked.
    let tail = io::copy(&mut archive.into_inner().take(ARCHIVE_TAIL_LIMIT + 1), &mut io::sink())
        .map_err(|e| invalid(format!("the compressed stream is corrupt: {e}")))?;
    if tail > ARCHIVE_TAIL_LIMIT {
        return Err(invalid("unexpected data after the end of the archive"));
    }

    let expected = sums_text(&Sha256::digest(&header_json), &state_digest);
    if sums != expected.as_bytes() {
        return Err(invalid(
            "checksum mismatch: the snapshot's contents do not match its SHA256SUMS (corrupted or altered)",
        ));
    }
    if state_bytes != header.state_bytes {
        return Err(invalid(format!(
            "{STATE_FILE} has {state_bytes} bytes, the header says {}",
            header.state_bytes
        )));
    }
    check_counts(&counts, &header)?;
    Ok(VerifiedSnapshot {
        header,
        sums,
        sealed_sums,
        state: state_file,
    })
}

/// The header's own figures hang together before anything is expanded: every tree it counts is known, the counts
/// add up to its entries, and its `state.bin` is no larger than that many records can be.
fn check_header_bounds(header: &SnapshotHeader) -> Result<(), SnapshotError> {
    let known = tree_names();
    if let Some(unknown) = header.trees.keys().find(|t| !known.contains(&t.as_str())) {
        return Err(invalid(format!(
            "the header counts records of an unknown tree {unknown:?}"
        )));
    }
    let counted = header.trees.values().try_fold(0u64, |sum, n| sum.checked_add(*n));
    if counted != Some(header.entries) {
        return Err(invalid(format!(
            "the header's records per tree do not add up to its {} entries",
            header.entries
        )));
    }
    let bound = header.entries.checked_mul(MAX_RECORD_BYTES);
    if bound.is_none_or(|bound| header.state_bytes > bound) {
        return Err(invalid(format!(
            "the header gives {STATE_FILE} {} bytes for {} records, more than {} MiB a record",
            header.state_bytes,
            header.entries,
            MAX_RECORD_BYTES >> 20
        )));
    }
    Ok(())
}

/// Reads `state.bin` out of the archive, and on the way hashes it, counts it and writes it to the staging file,
/// within the room the space guard grants. A write or space failure is kept in `failure` (the
/// reader then fails), so the caller reports it rather than the parse error it causes.
struct StagingReader<'a, R> {
    inner: R,
    out: BufWriter<&'a mut File>,
    hasher: Sha256,
    bytes: u64,
    space: Option<&'a SpaceGuard>,
    budget: SpaceBudget,
    failure: Option<SnapshotError>,
}

impl<R: Read> Read for StagingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("staging the snapshot failed"));
        }
        let n = self.inner.read(buf)?;
        if let Some(space) = self.space {
            if let Err(e) = self.budget.take(space, n as u64) {
                self.failure = Some(e.into());
                return Err(io::Error::other("staging the snapshot failed"));
            }
        }
        if let Err(e) = self.out.write_all(&buf[..n]) {
            self.failure = Some(io_error("writing a temporary snapshot file", e).into());
            return Err(io::Error::other("staging the snapshot failed"));
        }
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Read every record's framing, each of a known tree and no more of a tree than the header counts; the counts.
fn count_records(state: &mut impl Read, header: &SnapshotHeader) -> Result<BTreeMap<String, u64>, SnapshotError> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut input = BufReader::new(state);
    while let Some(Record { tree, .. }) = read_record_from(&mut input, false)? {
        let Some(expected) = header.trees.get(&tree) else {
            return Err(if tree_names().contains(&tree.as_str()) {
                invalid(format!("state.bin holds {tree} records, the header counts none"))
            } else {
                invalid(format!("state.bin holds an unknown tree {tree:?}"))
            });
        };
        let count = counts.entry(tree).or_default();
        *count += 1;
        if *count > *expected {
            return Err(invalid(format!(
                "state.bin holds more records than the header says ({} entries)",
                header.entries
            )));
        }
    }
    Ok(counts)
}

fn read_small(entry: impl Read, name: &str) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    entry
        .take(SMALL_FILE_LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("reading {name}: {e}")))?;
    if out.len() as u64 > SMALL_FILE_LIMIT {
        return Err(invalid(format!("{name} is too large")));
    }
    Ok(out)
}

/// The counts per tree are the header's, and the seal configuration is there.
fn check_counts(counts: &BTreeMap<String, u64>, header: &SnapshotHeader) -> Result<(), SnapshotError> {
    let total: u64 = counts.values().sum();
    let header_counts: BTreeMap<String, u64> = header
        .trees
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    if total != header.entries || *counts != header_counts {
        return Err(invalid(format!(
            "state.bin holds {total} records, the header says {}",
            header.entries
        )));
    }
    if counts.get(META_TREE).copied().unwrap_or(0) == 0 {
        return Err(invalid("the snapshot holds no seal configuration (empty meta tree)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_truncation_is_detected() {
        let mut buf = Vec::new();
        write_record(&mut buf, "core", b"k", b"value").unwrap();
        write_record(&mut buf, "meta", b"", b"").unwrap();
        let mut input = &buf[..];
        let record = |tree: &str, key: &[u8], value: &[u8]| Record {
            tree: tree.into(),
            key: key.to_vec(),
            value: value.to_vec(),
        };
        assert_eq!(read_record(&mut input).unwrap(), Some(record("core", b"k", b"value")));
        assert_eq!(read_record(&mut input).unwrap(), Some(record("meta", b"", b"")));
        assert!(read_record(&mut input).unwrap().is_none());
        for cut in 1..buf.len() {
            let mut input = &buf[..cut];
            let mut result = read_record(&mut input);
            while let Ok(Some(_)) = result {
                result = read_record(&mut input);
            }
            // 19 bytes is exactly the first record: a clean end, not a truncation.
            assert_eq!(result.is_err(), cut != 19, "cut at {cut}");
        }
    }

    #[test]
    fn a_huge_length_field_does_not_allocate_it() {
        let mut buf = vec![4u8];
        buf.extend_from_slice(b"core");
        buf.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut input = &buf[..];
        assert!(read_record(&mut input).is_err());
    }

    #[test]
    fn a_record_over_the_bound_is_neither_written_nor_read() {
        let fits = vec![7u8; (MAX_RECORD_BYTES - record_size("logical", b"k", b"")) as usize];
        let mut buf = Vec::new();
        write_record(&mut buf, "logical", b"k", &fits).unwrap();
        assert_eq!(read_record(&mut &buf[..]).unwrap().unwrap().value.len(), fits.len());
        assert!(write_record(&mut io::sink(), "logical", b"kk", &fits).is_err());
        // A value length one past the bound is refused from its length field, before its bytes are read.
        let mut head = buf[..1 + 7 + 4 + 1].to_vec();
        head.extend_from_slice(&(fits.len() as u32 + 1).to_be_bytes());
        let err = read_record_from(&mut &head[..], false).unwrap_err();
        assert!(err.to_string().contains("larger than a snapshot may hold"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_snapshot() {
        let err = read_snapshot(&b"definitely not gzip"[..]).unwrap_err();
        assert!(err.to_string().starts_with("invalid snapshot:"), "{err}");
    }
}
