//! Storage: named sled trees opened once, an encryption barrier over every tree but `meta`, atomic multi-tree
//! transactions, and group-committed durability. No business rules live here.

pub mod barrier;
mod batch;
pub mod commit;
pub mod marker;
pub mod migrate;
pub mod postgres;
mod postgres_tls;
pub mod snapshot;
pub mod space;
pub mod transfer;

use std::cell::RefCell;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use arc_swap::ArcSwap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use zeroize::Zeroizing;

pub use barrier::{BarrierError, Keyring, SecretKey, KEY_LEN};
use commit::GroupCommit;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage is sealed")]
    Sealed,
    /// The storage server (PostgreSQL) cannot be reached; requests are refused until it answers again.
    #[error("{0}")]
    Unavailable(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("data directory {0} is in use by another process (its lock is held); stop that server first")]
    Locked(PathBuf),
    #[error("stored data is corrupted: {0}")]
    Corrupted(String),
    /// Writes refused before the data directory runs out of room (see `space`).
    #[error("{0}")]
    NoSpace(String),
    #[error(transparent)]
    Barrier(#[from] BarrierError),
    #[error("stored record could not be decoded: {0}")]
    Codec(String),
    #[error(
        "data directory format version {found} is newer than this server supports ({supported}); use a newer server"
    )]
    FormatTooNew { found: u32, supported: u32 },
    #[error("storage migration {version} ({name}) failed: {reason}")]
    Migration {
        version: u32,
        name: &'static str,
        reason: String,
    },
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { .. } => StorageError::Corrupted(sled_cause(e)),
            _ => StorageError::Io(sled_cause(e)),
        }
    }
}

/// What went wrong in sled, in words: the OS error for I/O failures, where sled found damage (its own text ends in
/// "backtrace ()").
fn sled_cause(e: sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io_cause(&io),
        sled::Error::Corruption { at: Some(at), .. } => format!("sled found a damaged record at {at:?}"),
        sled::Error::Corruption { at: None, .. } => "sled found damaged data".into(),
        other => other.to_string(),
    }
}

/// The operating system's text for an I/O failure ("No space left on device (os error 28)"). sled hands a stored
/// failure back to later calls re-wrapped with only its kind, so fall back to the kind's text.
fn io_cause(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    if let Some(code) = e.raw_os_error() {
        return std::io::Error::from_raw_os_error(code).to_string();
    }
    match e.kind() {
        ErrorKind::StorageFull => "No space left on device".into(),
        ErrorKind::FileTooLarge => "File too large".into(),
        ErrorKind::ReadOnlyFilesystem => "Read-only file system".into(),
        ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// The encrypted trees. Every record in them is sealed by the barrier with `(tree name, key)` as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// Core records: salt, cluster identity, and later the mount table.
    Core,
    /// Token entries under a salted hash of the token id.
    Tokens,
    /// Accessor -> token hash index, written in the same transaction as the token.
    TokenAccessors,
    /// `parent hash ++ child hash` -> empty: the token tree, for revoking descendants.
    TokenParents,
    /// `expiry (u64 BE unix seconds) ++ token hash` -> empty: what the expiry sweep revokes next.
    TokenExpiry,
    /// ACL policies by name.
    Policies,
    /// Token roles by name.
    TokenRoles,
    /// Wrapping token hash -> the wrapped response and its creation info.
    WrappedResponses,
    /// Wrapping token hash -> what became of a used, rewrapped, revoked or expired wrapping token.
    WrapTombstones,
    /// `purge time (u64 BE unix seconds) ++ token hash` -> empty: when each tombstone goes.
    WrapTombstonePurge,
    /// The mount tables (secrets engines and auth methods), each one JSON record.
    Mounts,
    /// Secrets engines' data: `mount uuid ++ "/" ++ the engine's own key`, so each mount has its own prefix.
    Logical,
    /// Cubbyholes: `token hash ++ path` -> JSON, removed with the token.
    Cubbyhole,
    /// Lease id -> lease record: every token's auth lease (a pointer to the token, written with it) and every
    /// secret lease (the whole record). Keys are the lease ids, so a prefix scan lists or revokes a path.
    Leases,
    /// `expiry (u64 BE unix seconds) ++ lease id` -> empty: the secret leases the expiration manager ends next
    /// (tokens keep their own index, `TokenExpiry`, in the token's transaction).
    LeaseExpiry,
    /// `token hash ++ lease id` -> empty: the secret leases a token created, revoked with it.
    TokenLeases,
}

impl Tree {
    /// In slot order (see [`Tree::slot`]).
    pub const ALL: [Tree; 16] = [
        Tree::Core,
        Tree::Tokens,
        Tree::TokenAccessors,
        Tree::TokenParents,
        Tree::TokenExpiry,
        Tree::Policies,
        Tree::TokenRoles,
        Tree::WrappedResponses,
        Tree::WrapTombstones,
        Tree::WrapTombstonePurge,
        Tree::Mounts,
        Tree::Logical,
        Tree::Cubbyhole,
        Tree::Leases,
        Tree::LeaseExpiry,
        Tree::TokenLeases,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tree::Core => "core",
            Tree::Tokens => "tokens",
            Tree::TokenAccessors => "token_accessors",
            Tree::TokenParents => "token_parents",
            Tree::TokenExpiry => "token_expiry",
            Tree::Policies => "policies",
            Tree::TokenRoles => "token_roles",
            Tree::WrappedResponses => "wrapped_responses",
            Tree::WrapTombstones => "wrap_tombstones",
            Tree::WrapTombstonePurge => "wrap_tombstone_purge",
            Tree::Mounts => "mounts",
            Tree::Logical => "logical",
            Tree::Cubbyhole => "cubbyhole",
            Tree::Leases => "leases",
            Tree::LeaseExpiry => "lease_expiry",
            Tree::TokenLeases => "token_leases",
        }
    }

    /// Position in a transaction's tree list (index 0 is the plain `meta` tree). Exhaustive, so a new tree cannot
    /// silently share another's slot.
    fn slot(self) -> usize {
        match self {
            Tree::Core => 1,
            Tree::Tokens => 2,
            Tree::TokenAccessors => 3,
            Tree::TokenParents => 4,
            Tree::TokenExpiry => 5,
            Tree::Policies => 6,
            Tree::TokenRoles => 7,
            Tree::WrappedResponses => 8,
            Tree::WrapTombstones => 9,
            Tree::WrapTombstonePurge => 10,
            Tree::Mounts => 11,
            Tree::Logical => 12,
            Tree::Cubbyhole => 13,
            Tree::Leases => 14,
            Tree::LeaseExpiry => 15,
            Tree::TokenLeases => 16,
        }
    }
}

/// A record as stored: key and (sealed) value.
pub type RawRecord = (Vec<u8>, Vec<u8>);

/// Name of the plain (unencrypted) tree: format version, migrations, seal configuration, sealed keyring.
pub const META_TREE: &str = "meta";

/// In the plain `meta` tree: how many transactions the store has committed, counted in each transaction itself.
pub const WRITE_SEQ_KEY: &[u8] = b"write_seq";

fn decode_seq(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// sled writes a snapshot of its page table on every open, to `snap.<lsn>.generating` and then renames it to
/// `snap.<lsn>`; a crash (`kill -9`) before the rename leaves the `.generating` file, empty or partial, and sled
/// 0.34.7 counts it among its snapshots, picks it as the newest and refuses to open ("damaged data"). Such a file is
/// never complete by construction (the complete one was renamed, and older snapshots are deleted only after that),
/// so removing it before opening gives sled the state it meant to recover from.
fn remove_interrupted_sled_snapshots(path: &Path) -> Result<(), StorageError> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StorageError::Io(format!(
                "reading data directory {}: {e}",
                path.display()
            )))
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            log::warn!("storage: removing {name}, a sled snapshot interrupted by a crash");
            std::fs::remove_file(entry.path())
                .map_err(|e| StorageError::Io(format!("removing {}: {e}", entry.path().display())))?;
        }
    }
    Ok(())
}

/// Create a directory (and any missing parents) readable by its owner only. sled's files hold the keys of every
/// record in clear (K/V paths, accessors' and policies' and roles' names); only the values are encrypted.
pub(crate) fn create_private_dir(path: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| StorageError::Io(format!("creating data directory {}: {e}", path.display())))
}

/// An existing data directory that other users may enter gets a warning (as OpenBao warns about a raft database file
/// with wider permissions than 0600), not a refusal: directories written by older builds are 0755, and an operator
/// may have widened it on purpose.
fn warn_if_open_to_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return };
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() && mode & 0o077 != 0 {
        log::warn!(
            "data directory {} has mode {mode:o}: other users can read what is stored in clear (the names of paths, \
             policies and roles, token accessors); make it owner-only: chmod 700 {}",
            path.display(),
            path.display()
        );
    }
}

/// One open sled database with its trees and its group-commit flusher. A snapshot restore replaces it whole.
struct Database {
    db: sled::Db,
    /// `meta` first, then `Tree::ALL` in order.
    trees: Vec<sled::Tree>,
    commit: GroupCommit,
    /// The highest `write_seq` committed so far; the flusher records what it made durable in the marker file.
    committed_seq: Arc<std::sync::atomic::AtomicU64>,
}

impl Database {
    fn open(path: &Path) -> Result<Self, StorageError> {
        create_private_dir(path)?;
        remove_interrupted_sled_snapshots(path)?;
        let db = sled_config(path)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| match e {
                // sled reports the file lock as an I/O error whose kind depends on how it wrapped it.
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    StorageError::Locked(path.to_path_buf())
                }
                sled::Error::Corruption { .. } => StorageError::Corrupted(format!(
                    "the files in data directory {} are damaged ({}); restore it from a backup",
                    path.display(),
                    sled_cause(e)
                )),
                other => StorageError::Io(format!(
                    "opening data directory {}: {}",
                    path.display(),
                    sled_cause(other)
                )),
            })?;
        let mut trees = vec![db.open_tree(META_TREE)?];
        for tree in Tree::ALL {
            trees.push(db.open_tree(tree.name())?);
        }
        let recovered_seq = decode_seq(trees[0].get(WRITE_SEQ_KEY)?.as_deref());
        marker::check(path, migrate::recorded_version(&trees[0])?, recovered_seq)?;
        migrate::run_pending(&db, &trees)?;
        marker::ensure(path)?;
        let committed_seq = Arc::new(std::sync::atomic::AtomicU64::new(recovered_seq));
        let dir = std::fs::File::open(path)
            .map_err(|e| StorageError::Io(format!("opening data directory {}: {e}", path.display())))?;
        let commit = GroupCommit::start(
            db.clone(),
            commit::Watermark {
                dir,
                committed: committed_seq.clone(),
            },
        );
        Ok(Database {
            db,
            trees,
            commit,
            committed_seq,
        })
    }
}

/// How the server opens its sled store (the shutdown's reopen too, so both read it alike).
fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).cache_capacity(32 * 1024 * 1024)
}

/// Open the sled store at `path` and close it again, after the server that used it has closed it. sled 0.34.7 writes
/// the snapshot of its page table only when it opens a store, so the next start would replay everything written
/// since the previous start (2.4 s and ~140 MiB more resident memory after 1,000,000 token creations, which stayed
/// resident); opening it here moves that replay to the clean stop and leaves the snapshot current.
pub fn refresh_sled_snapshot(path: &Path) -> Result<(), StorageError> {
    remove_interrupted_sled_snapshots(path)?;
    let db = sled_config(path).open().map_err(|e| {
        StorageError::Io(format!(
            "reopening data directory {}: {}",
            path.display(),
            sled_cause(e)
        ))
    })?;
    drop(db);
    Ok(())
}

impl Drop for Database {
    fn drop(&mut self) {
        self.commit.stop();
        if let Err(e) = self.db.flush() {
            log::error!("final storage flush failed: {e}");
        }
    }
}

/// What the storage handle and its committer thread share.
struct Shared {
    current: ArcSwap<Database>,
    /// Transactions hold it shared; a snapshot export or restore holds it exclusively, so it reads (or replaces) a
    /// store that no transaction is changing at that moment.
    write_gate: RwLock<()>,
}

impl Shared {
    fn shared_gate(&self) -> RwLockReadGuard<'_, ()> {
        // The gate guards no data, so a poisoned lock is still a working lock.
        self.write_gate.read().unwrap_or_else(|e| e.into_inner())
    }

    fn exclusive_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.write_gate.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A data directory's sled database.
struct SledStore {
    path: PathBuf,
    shared: Arc<Shared>,
    space: space::SpaceGuard,
}

/// Where the records live.
enum Backend {
    Sled(SledStore),
    Postgres(postgres::PgStore),
}

pub struct Storage {
    backend: Backend,
    keyring: RwLock<Option<Arc<Keyring>>>,
    committer: batch::Committer,
}

/// Count a committed sled transaction in itself (`WRITE_SEQ_KEY`): after a crash the store holds exactly the count
/// of what it kept, which the marker file's durable count is checked against at the next open.
fn count_transaction(trees: &[TransactionalTree]) -> Result<u64, UnabortableTransactionError> {
    let seq = decode_seq(trees[0].get(WRITE_SEQ_KEY)?.as_deref()) + 1;
    trees[0].insert(WRITE_SEQ_KEY, &seq.to_be_bytes())?;
    Ok(seq)
}

fn committer_stopped() -> StorageError {
    StorageError::Io("the storage committer stopped".into())
}

/// Outcome of a transaction closure that did not commit.
pub enum TxError<E> {
    /// A domain outcome: nothing was written, the caller gets `Ok(Err(e))`.
    Abort(E),
    Storage(StorageError),
    /// The database's own failure inside the transaction (a conflict it retries, or an I/O error): handed back to
    /// the committer unchanged, never to the caller.
    Backend(TxBackendError),
}

/// A failure of the transaction itself, by database.
#[derive(Debug)]
pub enum TxBackendError {
    Sled(UnabortableTransactionError),
    Postgres(::postgres::Error),
}

impl<E> From<UnabortableTransactionError> for TxError<E> {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError::Backend(TxBackendError::Sled(e))
    }
}

impl<E> From<TxBackendError> for TxError<E> {
    fn from(e: TxBackendError) -> Self {
        TxError::Backend(e)
    }
}

/// What a transaction reads through: the database's view inside its transaction, by tree slot (0 is `meta`).
pub(crate) trait TxRead {
    fn read(&self, slot: usize, key: &[u8]) -> Result<Option<Vec<u8>>, TxBackendError>;
}

/// sled's transactional trees, `meta` first, then `Tree::ALL` in order.
struct SledTxRead<'a>(&'a [TransactionalTree]);

impl TxRead for SledTxRead<'_> {
    fn read(&self, slot: usize, key: &[u8]) -> Result<Option<Vec<u8>>, TxBackendError> {
        self.0[slot]
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(TxBackendError::Sled)
    }
}

/// The name a tree slot is stored under (0 is `meta`).
pub(crate) fn slot_name(slot: usize) -> &'static str {
    match slot.checked_sub(1) {
        None => META_TREE,
        Some(i) => Tree::ALL[i].name(),
    }
}

impl<E> From<StorageError> for TxError<E> {
    fn from(e: StorageError) -> Self {
        TxError::Storage(e)
    }
}

/// A view of every tree inside one sled transaction. Reads see the transaction's own writes.
/// The closure using it may run more than once, so it must not have side effects.
/// Writes go to the closure's own overlay first and join the sled transaction only when the closure succeeds
/// (several closures share one sled transaction, see `batch`).
pub struct Txn<'a, E> {
    reader: &'a dyn TxRead,
    keyring: &'a Keyring,
    overlay: &'a RefCell<batch::Overlay>,
    _abort: PhantomData<E>,
}

impl<E> Txn<'_, E> {
    /// A slot's stored bytes as this closure sees them: its own writes first, then the sled transaction's.
    fn read_slot(&self, slot: usize, key: &[u8]) -> Result<Option<Vec<u8>>, TxError<E>> {
        if let Some(mine) = self.overlay.borrow().lookup(slot, key) {
            return Ok(mine.map(<[u8]>::to_vec));
        }
        Ok(self.reader.read(slot, key)?)
    }

    pub fn get_raw(&self, tree: Tree, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, TxError<E>> {
        match self.read_slot(tree.slot(), key)? {
            None => Ok(None),
            Some(sealed) => {
                let plain = self
                    .keyring
                    .decrypt(&barrier::aad(tree.name(), key), &sealed)
                    .map_err(StorageError::from)?;
                Ok(Some(plain))
            }
        }
    }

    pub fn put_raw(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), TxError<E>> {
        let _timer = crate::telemetry::Timer::start("vault.barrier.put");
        let sealed = self
            .keyring
            .encrypt(&barrier::aad(tree.name(), key), value)
            .map_err(StorageError::from)?;
        self.overlay.borrow_mut().put(tree.slot(), key, sealed);
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(&self, tree: Tree, key: &[u8]) -> Result<Option<T>, TxError<E>> {
        match self.get_raw(tree, key)? {
            None => Ok(None),
            Some(plain) => Ok(Some(decode(&plain)?)),
        }
    }

    pub fn put<T: Serialize>(&self, tree: Tree, key: &[u8], value: &T) -> Result<(), TxError<E>> {
        let plain = encode(value)?;
        self.put_raw(tree, key, &plain)
    }

    /// Whether a key is there (as this closure sees it), without decrypting its value.
    pub fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, TxError<E>> {
        Ok(self.read_slot(tree.slot(), key)?.is_some())
    }

    /// Remove a key whether or not it is there: nothing is read (a revocation removes five keys a token, and a
    /// read of each made the expiry sweep read every key it removed).
    pub fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), TxError<E>> {
        let _timer = crate::telemetry::Timer::start("vault.barrier.delete");
        self.overlay.borrow_mut().remove(tree.slot(), key);
        Ok(())
    }

    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TxError<E>> {
        self.read_slot(0, key)
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), TxError<E>> {
        self.overlay.borrow_mut().put(0, key, value.to_vec());
        Ok(())
    }

    pub fn meta_remove(&self, key: &[u8]) -> Result<(), TxError<E>> {
        self.overlay.borrow_mut().remove(0, key);
        Ok(())
    }
}

pub fn encode<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, StorageError> {
    bincode::serialize(value)
        .map(Zeroizing::new)
        .map_err(|e| StorageError::Codec(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    bincode::deserialize(bytes).map_err(|e| StorageError::Codec(e.to_string()))
}

impl Storage {
    /// Open (or create) the data directory, run pending migrations, and start the group-commit flusher. Finishes
    /// or rolls back a snapshot restore that a crash interrupted (see `snapshot::recover_interrupted_restore`).
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        snapshot::recover_interrupted_restore(path)?;
        warn_if_open_to_others(path);
        let database = Database::open(path)?;
        snapshot::remove_restore_leftovers(path);
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(database),
            write_gate: RwLock::new(()),
        });
        Ok(Storage {
            committer: batch::Committer::start(batch::sled_runner(shared.clone())),
            backend: Backend::Sled(SledStore {
                path: path.to_path_buf(),
                shared,
                space: space::SpaceGuard::new(path),
            }),
            keyring: RwLock::new(None),
        })
    }

    /// Connect to PostgreSQL, create the table if it is missing (unless told not to) and check its format version.
    pub fn open_postgres(options: postgres::PgOptions) -> Result<Self, StorageError> {
        let store = postgres::PgStore::open(options)?;
        Ok(Storage {
            committer: batch::Committer::start(store.batch_runner()),
            backend: Backend::Postgres(store),
            keyring: RwLock::new(None),
        })
    }

    /// The storage type's name, as `sys/seal-status` and `sys/health` report it.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Sled(_) => "sled",
            Backend::Postgres(_) => "postgresql",
        }
    }

    fn sled(&self) -> Option<&SledStore> {
        match &self.backend {
            Backend::Sled(sled) => Some(sled),
            Backend::Postgres(_) => None,
        }
    }

    /// Have `handler` told about changes other servers sharing the storage commit (PostgreSQL; sled has no
    /// other servers).
    pub fn on_remote_change(&self, handler: postgres::ChangeHandler) {
        if let Backend::Postgres(pg) = &self.backend {
            pg.on_remote_change(handler);
        }
    }

    /// The PostgreSQL store, for what only it offers (HA).
    pub fn postgres(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sled(_) => None,
        }
    }

    /// The data directory, for sled storage.
    pub fn path(&self) -> Option<&Path> {
        self.sled().map(|s| s.path.as_path())
    }

    /// Run the migrations that need the keyring (see [`migrate::Phase::Unseal`]); call it before installing it.
    pub fn migrate_unsealed(&self, keyring: &Keyring) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Sled(sled) => {
                let _gate = sled.shared.exclusive_gate();
                let database = sled.shared.current.load();
                migrate::run_pending_unsealed(&database.db, &database.trees, keyring)
            }
            // A PostgreSQL store is created at the current format (see `PgStore::open`): nothing to migrate.
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Install the keyring (unseal) or remove it (seal).
    pub fn set_keyring(&self, keyring: Option<Arc<Keyring>>) {
        if let Ok(mut slot) = self.keyring.write() {
            *slot = keyring;
        }
    }

    pub fn keyring(&self) -> Result<Arc<Keyring>, StorageError> {
        self.keyring
            .read()
            .ok()
            .and_then(|k| k.clone())
            .ok_or(StorageError::Sealed)
    }

    pub fn is_unsealed(&self) -> bool {
        self.keyring.read().map(|k| k.is_some()).unwrap_or(false)
    }

    /// One stored value as it is on disk, by slot (0 is `meta`).
    fn read_slot(&self, slot: usize, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let _timer = crate::telemetry::Timer::start(self.physical_metric("get"));
        match &self.backend {
            Backend::Sled(sled) => Ok(sled.shared.current.load().trees[slot].get(key)?.map(|v| v.to_vec())),
            Backend::Postgres(pg) => pg.get(slot_name(slot), key),
        }
    }

    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_slot(0, key)
    }

    /// Read and decrypt one record's bytes outside a transaction.
    pub fn get_raw(&self, tree: Tree, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, StorageError> {
        let _timer = crate::telemetry::Timer::start("vault.barrier.get");
        let keyring = self.keyring()?;
        match self.read_slot(tree.slot(), key)? {
            None => Ok(None),
            Some(sealed) => Ok(Some(keyring.decrypt(&barrier::aad(tree.name(), key), &sealed)?)),
        }
    }

    /// Read and decrypt one record outside a transaction.
    pub fn get<T: DeserializeOwned>(&self, tree: Tree, key: &[u8]) -> Result<Option<T>, StorageError> {
        match self.get_raw(tree, key)? {
            None => Ok(None),
            Some(plain) => Ok(Some(decode(&plain)?)),
        }
    }

    /// Run `f` atomically with the installed keyring, in the committer's next batch, without waiting for the flush.
    /// Blocks the calling thread until the batch has committed.
    pub fn transact<R, E>(
        &self,
        f: impl Fn(&Txn<E>) -> Result<R, TxError<E>> + Send + 'static,
    ) -> Result<Result<R, E>, StorageError>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        let keyring = self.keyring()?;
        let (done, committed) = std::sync::mpsc::channel();
        self.submit(keyring, f, move |outcome| {
            let _ = done.send(outcome);
        })?;
        let (_, outcome) = committed.recv().map_err(|_| committer_stopped())??;
        Ok(outcome)
    }

    /// Synchronous flush for start-up and shutdown paths. (A PostgreSQL commit is durable when it returns.)
    pub fn flush(&self) -> Result<(), StorageError> {
        if let Some(sled) = self.sled() {
            sled.shared.current.load().db.flush()?;
        }
        Ok(())
    }

    /// Database transactions the committer has run (each a batch of requests' transactions).
    pub fn batch_count(&self) -> u64 {
        self.committer.batch_count()
    }

    /// Flushes to disk so far (on PostgreSQL every committed batch is one).
    pub fn flush_count(&self) -> u64 {
        match &self.backend {
            Backend::Sled(sled) => sled.shared.current.load().commit.flush_count(),
            Backend::Postgres(_) => self.committer.batch_count(),
        }
    }

    /// The timing name of a physical operation on this backend, as OpenBao names its backends' (`vault.postgres.get`;
    /// `vault.sled.get` is ours).
    fn physical_metric(&self, op: &'static str) -> &'static str {
        match (&self.backend, op) {
            (Backend::Sled(_), "get") => "vault.sled.get",
            (Backend::Sled(_), _) => "vault.sled.list",
            (Backend::Postgres(_), "get") => "vault.postgres.get",
            (Backend::Postgres(_), _) => "vault.postgres.list",
        }
    }

    /// Transactions the committer has run inside its batches (successful or not).
    pub fn transaction_count(&self) -> u64 {
        self.committer.transaction_count()
    }

    /// Atomically write one transaction and wait until it is durable. It runs in the committer's next batch.
    pub async fn write<R, E>(
        self: &Arc<Self>,
        f: impl Fn(&Txn<E>) -> Result<R, TxError<E>> + Send + 'static,
    ) -> Result<Result<R, E>, StorageError>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        let keyring = self.keyring()?;
        self.write_with(keyring, f).await
    }

    /// [`Storage::write`] with an explicit keyring (initialization writes before the barrier is unsealed).
    pub async fn write_with<R, E>(
        self: &Arc<Self>,
        keyring: Arc<Keyring>,
        f: impl Fn(&Txn<E>) -> Result<R, TxError<E>> + Send + 'static,
    ) -> Result<Result<R, E>, StorageError>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        let _timer = crate::telemetry::Timer::start("vault.storage.transaction");
        let (done, committed) = tokio::sync::oneshot::channel();
        self.submit(keyring, f, move |outcome| {
            let _ = done.send(outcome);
        })?;
        let (durable, outcome) = committed.await.map_err(|_| committer_stopped())??;
        // The flush awaited is the one of the database the batch committed to, even if a restore swapped in
        // another one since.
        if let (Ok(_), batch::Durable::AfterFlush(database)) = (&outcome, durable) {
            database.commit.wait_durable().await?;
        }
        Ok(outcome)
    }

    /// Queue `f` for the committer's next batch; `deliver` gets its outcome and how the batch becomes durable once
    /// the batch has committed (or why the batch failed).
    fn submit<R, E>(
        &self,
        keyring: Arc<Keyring>,
        f: impl Fn(&Txn<E>) -> Result<R, TxError<E>> + Send + 'static,
        deliver: impl FnOnce(Result<(batch::Durable, Result<R, E>), StorageError>) + Send + 'static,
    ) -> Result<(), StorageError>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        if let Some(sled) = self.sled() {
            sled.space.check()?;
        }
        // The closure's outcome, kept by the job: it may run more than once if the database retries the batch.
        type Slot<R, E> = Arc<Mutex<Option<Result<Result<R, E>, StorageError>>>>;
        let slot: Slot<R, E> = Arc::new(Mutex::new(None));
        let run_slot = slot.clone();
        let run: batch::JobRun = Box::new(move |reader, overlay| {
            let txn = Txn {
                reader,
                keyring: &keyring,
                overlay,
                _abort: PhantomData,
            };
            let (succeeded, outcome) = match f(&txn) {
                Ok(r) => (true, Ok(Ok(r))),
                Err(TxError::Abort(e)) => (false, Ok(Err(e))),
                Err(TxError::Storage(e)) => (false, Err(e)),
                Err(TxError::Backend(e)) => return Err(e),
            };
            *run_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            Ok(succeeded)
        });
        let finish: batch::JobFinish = Box::new(move |batch| {
            deliver(batch.and_then(|durable| {
                let outcome = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let outcome = outcome.ok_or_else(|| StorageError::Io("a batched transaction did not run".into()))?;
                outcome.map(|o| (durable, o))
            }))
        });
        self.committer.submit(batch::Job { run, finish });
        Ok(())
    }

    /// Keys under `prefix` in a tree (index trees hold no secrets in their keys), in order.
    pub fn keys_with_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let _timers = (
            crate::telemetry::Timer::start("vault.barrier.list"),
            crate::telemetry::Timer::start(self.physical_metric("list")),
        );
        let sled = match &self.backend {
            Backend::Sled(sled) => sled,
            Backend::Postgres(pg) => return pg.keys_with_prefix(tree.name(), prefix),
        };
        let mut out = Vec::new();
        for item in sled.tree(tree).scan_prefix(prefix) {
            let (k, _) = item?;
            out.push(k.to_vec());
        }
        Ok(out)
    }

    /// The immediate children of the folder `prefix` in a tree, as OpenBao lists a folder: leaf names and sub-folder
    /// names ending in `/`, in byte order, each once. A sub-folder's contents are skipped over, not read.
    pub fn list_children(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let _timers = (
            crate::telemetry::Timer::start("vault.barrier.list"),
            crate::telemetry::Timer::start(self.physical_metric("list")),
        );
        match &self.backend {
            Backend::Sled(sled) => {
                let t = sled.tree(tree);
                list_children_with(prefix, |start| match t.range(start.to_vec()..).next() {
                    Some(item) => Ok(Some(item?.0.to_vec())),
                    None => Ok(None),
                })
            }
            Backend::Postgres(pg) => pg.list_children(tree.name(), prefix),
        }
    }

    /// Keys in a tree strictly below `end`, in order, at most `limit`.
    pub fn keys_below(&self, tree: Tree, end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, StorageError> {
        let sled = match &self.backend {
            Backend::Sled(sled) => sled,
            Backend::Postgres(pg) => return pg.keys_below(tree.name(), end, limit),
        };
        let mut out = Vec::new();
        for item in sled.tree(tree).range(..end.to_vec()).take(limit) {
            let (k, _) = item?;
            out.push(k.to_vec());
        }
        Ok(out)
    }

    /// Up to `limit` records of a tree (by name, `meta` included) after `after`, as stored: for `operator migrate`,
    /// which needs no keyring.
    pub fn raw_page(
        &self,
        tree: &'static str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<RawRecord>, StorageError> {
        let slot = transfer::slot_of(tree).ok_or_else(|| StorageError::Io(format!("no tree {tree}")))?;
        match &self.backend {
            Backend::Sled(sled) => {
                let t = sled.shared.current.load().trees[slot].clone();
                let range = match after {
                    Some(after) => t.range((std::ops::Bound::Excluded(after.to_vec()), std::ops::Bound::Unbounded)),
                    None => t.iter(),
                };
                range
                    .take(limit)
                    .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(StorageError::from))
                    .collect()
            }
            Backend::Postgres(pg) => pg.raw_page(tree, after, limit),
        }
    }

    /// Store records exactly as given (already sealed), bypassing the barrier and the committer: for
    /// `operator migrate` into a store no server runs on. Durable once [`Storage::flush`] returns.
    pub fn put_raw_page(&self, tree: &'static str, records: Vec<RawRecord>) -> Result<(), StorageError> {
        let slot = transfer::slot_of(tree).ok_or_else(|| StorageError::Io(format!("no tree {tree}")))?;
        match &self.backend {
            Backend::Sled(sled) => {
                let t = sled.shared.current.load().trees[slot].clone();
                for (key, value) in records {
                    t.insert(key, value)?;
                }
                Ok(())
            }
            Backend::Postgres(pg) => pg.put_raw_page(tree, records),
        }
    }

    /// Every raw value in a tree, as stored (tests use this to check nothing is in clear text).
    pub fn raw_values(&self, tree: Tree) -> Result<Vec<Vec<u8>>, StorageError> {
        let sled = match &self.backend {
            Backend::Sled(sled) => sled,
            Backend::Postgres(pg) => return pg.raw_values(tree.name()),
        };
        let mut out = Vec::new();
        for item in sled.tree(tree).iter() {
            let (_, v) = item?;
            out.push(v.to_vec());
        }
        Ok(out)
    }
}

impl SledStore {
    fn tree(&self, tree: Tree) -> sled::Tree {
        self.shared.current.load().trees[tree.slot()].clone()
    }
}

/// The immediate children of the folder `prefix`, given `first_from(start)`: the first key at or after `start`.
/// Each sub-folder costs one lookup, whatever it holds.
pub(crate) fn list_children_with<E>(
    prefix: &[u8],
    mut first_from: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, E>,
) -> Result<Vec<Vec<u8>>, E> {
    let mut out = Vec::new();
    let mut start = prefix.to_vec();
    while let Some(key) = first_from(&start)? {
        let Some(rest) = key.strip_prefix(prefix) else { break };
        match rest.iter().position(|b| *b == b'/') {
            Some(slash) => {
                out.push(rest[..=slash].to_vec());
                // Every key below `folder/` sorts before `folder0` ('0' follows '/').
                start = [prefix, &rest[..slash], b"0"].concat();
            }
            None => {
                out.push(rest.to_vec());
                start = [&key[..], &[0u8][..]].concat();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Tree;

    /// A crash while sled writes its snapshot at open (it writes one on every open) leaves an empty
    /// `snap.<lsn>.generating` file, which sled 0.34.7 then reads as the newest snapshot and refuses as corrupt.
    #[test]
    fn an_interrupted_sled_snapshot_does_not_stop_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        {
            let storage = super::Storage::open(&data).unwrap();
            storage.flush().unwrap();
        }
        std::fs::write(data.join("snap.FFFFFFFFFFFFFFFF.generating"), b"").unwrap();
        let storage = super::Storage::open(&data).expect("opens despite the interrupted snapshot");
        drop(storage);
        assert!(!data.join("snap.FFFFFFFFFFFFFFFF.generating").exists());
    }

    #[test]
    fn every_tree_has_its_own_slot_in_order() {
        for (i, tree) in Tree::ALL.iter().enumerate() {
            assert_eq!(tree.slot(), i + 1, "{tree:?}");
        }
        let mut names: Vec<&str> = Tree::ALL.iter().map(|t| t.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Tree::ALL.len());
    }
}
