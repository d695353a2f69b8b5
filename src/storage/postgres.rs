//! PostgreSQL storage: the same trees and records as sled, in one table `(tree, key, value)` with the primary key
//! `(tree, key)`. `bytea` compares byte by byte, so a tree's keys come back in sled's order and prefix scans are
//! index range scans.
//!
//! - **Transactions.** The committer's batch (see `batch`) runs as ONE `SERIALIZABLE` transaction: every closure
//!   reads through it and its writes are applied in it before the next closure runs, as on sled. A serialization
//!   failure (another server, or another connection, changed what the batch read) rolls back and reruns the whole
//!   batch, closures included: they are side-effect free by contract. So what is exactly-once on one sled server
//!   (an unwrap, a token use) stays exactly-once across servers sharing the database.
//! - **Durability.** A commit returns after PostgreSQL synced it (`synchronous_commit`, on by default); there is no
//!   group-commit flush to wait for.
//! - **Threads.** The `postgres` client blocks on its own runtime, which must not run inside actix's: every query
//!   runs on a thread of this module (the committer thread for transactions, a small reader pool for everything
//!   else), and callers wait for the answer.
//! - **Connection loss.** A failed query on a closed connection is retried once on a new connection; when
//!   PostgreSQL cannot be reached the caller gets `StorageError::Unavailable` (503) at once for a second before the
//!   next attempt, and service resumes by itself when it answers again.
//! - **Format.** A new table gets the `meta` records a fresh sled store has after all migrations (computed on a
//!   temporary sled database), so both start at the same format version.

use std::cell::RefCell;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::{Client, IsolationLevel, NoTls, Statement};

use super::batch::{BatchRunner, Durable, Job, Overlay};
use super::{migrate, Keyring, RawRecord, StorageError, TxBackendError, TxRead, META_TREE};

/// What another server sharing the table changed, as its committed transaction announced it (`NOTIFY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteChange {
    /// Everything may have changed (notifications may have been missed while the listener reconnected).
    pub everything: bool,
    /// The trees written (`meta` included), with the keys written for the trees of [`KEYED_TREES`] (`None`: too
    /// many to name, any key of the tree).
    pub trees: std::collections::BTreeMap<String, Option<Vec<Vec<u8>>>>,
}

impl RemoteChange {
    pub fn everything() -> RemoteChange {
        RemoteChange {
            everything: true,
            ..Default::default()
        }
    }

    pub fn touches(&self, tree: &str) -> bool {
        self.everything || self.trees.contains_key(tree)
    }

    /// Whether `key` of `tree` may have changed.
    pub fn touches_key(&self, tree: &str, key: &[u8]) -> bool {
        self.everything
            || match self.trees.get(tree) {
                None => false,
                Some(None) => true,
                Some(Some(keys)) => keys.iter().any(|k| k == key),
            }
    }

    /// The keys of `tree` that changed: `None` for "any" (or everything), empty when the tree was not written.
    pub fn keys(&self, tree: &str) -> Option<&[Vec<u8>]> {
        if self.everything {
            return None;
        }
        match self.trees.get(tree) {
            None => Some(&[]),
            Some(keys) => keys.as_deref(),
        }
    }
}

/// The trees whose written keys a notice names: those servers cache from. The token, lease and wrapping trees
/// take most writes and are never cached, so their names alone go out.
pub const KEYED_TREES: &[&str] = &["meta", "core", "mounts", "policies", "logical"];

/// Told about other servers' changes, on the listener thread.
pub type ChangeHandler = Arc<dyn Fn(&RemoteChange) + Send + Sync>;

/// The `NOTIFY` payload of a committed batch (PostgreSQL's limit is 8,000 bytes; past ours the keys are left out).
#[derive(serde::Serialize, serde::Deserialize)]
struct ChangeNotice {
    /// The server that committed it.
    origin: String,
    /// Tree name -> hex keys written, or `None` (not named).
    trees: std::collections::BTreeMap<String, Option<Vec<String>>>,
}

const NOTICE_LIMIT: usize = 6000;

/// What a batch wrote, for its notice.
#[derive(Default)]
struct Written {
    trees: std::collections::BTreeMap<&'static str, Option<Vec<Vec<u8>>>>,
    key_bytes: usize,
}

impl Written {
    fn note(&mut self, tree: &'static str, key: &[u8]) {
        let keyed = KEYED_TREES.contains(&tree);
        let entry = self.trees.entry(tree).or_insert_with(|| keyed.then(Vec::new));
        if let Some(keys) = entry {
            self.key_bytes += key.len() * 2 + 3;
            if self.key_bytes > NOTICE_LIMIT {
                *entry = None;
            } else {
                keys.push(key.to_vec());
            }
        }
    }

    fn notice(&self, origin: &str) -> String {
        let notice = ChangeNotice {
            origin: origin.to_string(),
            trees: self
                .trees
                .iter()
                .map(|(tree, keys)| {
                    let keys = if KEYED_TREES.contains(tree) {
                        keys.as_ref().map(|k| k.iter().map(hex::encode).collect())
                    } else {
                        None
                    };
                    (tree.to_string(), keys)
                })
                .collect(),
        };
        serde_json::to_string(&notice).unwrap_or_default()
    }
}

/// The channel a table's changes are announced on: one per table, an identifier of at most 63 bytes.
fn channel_of(table: &str) -> String {
    let plain: String = table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut channel = format!("vault_changes_{plain}");
    channel.truncate(63);
    channel
}

/// Keys of `meta` that exist only for sled's crash check (the marker file); a PostgreSQL commit needs none.
const SLED_ONLY_META: &[&[u8]] = &[super::WRITE_SEQ_KEY];

/// The `storage "postgresql"` stanza.
#[derive(Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/db?sslmode=disable` or the `key=value` form. Holds a password: never
    /// logged (see the `Debug` implementation).
    pub connection_url: String,
    /// The table, optionally schema-qualified (`schema.table`).
    pub table: String,
    /// Connections used for reads outside transactions.
    pub max_parallel: usize,
    /// `max_idle_connections`: how many of the reader connections stay open while idle (`None`: all of them); a
    /// reader beyond that closes its connection when it has nothing to do and opens one on its next read.
    pub max_idle: Option<usize>,
    /// `max_connect_retries`: tries of the first connection at start (OpenBao's default 1: no retry), with
    /// exponential backoff from 15 ms to 5 s between them.
    pub connect_tries: u32,
    /// Do not create the table; it must exist.
    pub skip_create_table: bool,
    /// `ha_enabled`: the lock table and its timings.
    pub ha: Option<HaOptions>,
}

/// High availability: one server holds a lock row with a lifetime (OpenBao's `ha_table` schema), renewing it; when
/// it stops renewing (a crash, a lost connection) the row expires and a standby takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaOptions {
    pub table: String,
    /// How long the lock outlives its last renewal: the longest a crashed active server keeps the others waiting.
    pub lock_ttl: Duration,
    /// How often a server renews the lock it holds, or tries to take a free one.
    pub retry_interval: Duration,
}

impl HaOptions {
    pub const DEFAULT_TABLE: &'static str = "vault_ha_locks";
    pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(4);
    pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_millis(500);
}

/// A server taking part in HA, as `sys/ha-status` lists it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HaNode {
    pub identity: String,
    pub hostname: String,
    pub api_address: String,
    pub cluster_address: String,
    pub version: String,
    /// RFC 3339: when it last renewed its registration.
    pub last_echo: String,
}

/// The lock's holder, as the lock row names it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HaLeader {
    pub identity: String,
    pub api_address: String,
    pub cluster_address: String,
    /// RFC 3339: when it became active.
    pub active_since: String,
}

const LOCK_KEY: &str = "core/lock";
const NODE_PREFIX: &str = "node/";

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("connection_url", &"<redacted>")
            .field("table", &self.table)
            .field("max_parallel", &self.max_parallel)
            .field("max_idle", &self.max_idle)
            .field("connect_tries", &self.connect_tries)
            .field("skip_create_table", &self.skip_create_table)
            .field("ha", &self.ha)
            .finish()
    }
}

impl PgOptions {
    pub const DEFAULT_TABLE: &'static str = "vault_store";
    /// Reader connections at most, whatever `max_parallel` says (OpenBao's default of 128 is for its own pool).
    const MAX_READERS: usize = 8;

    /// The reader threads (each with its own connection): `max_parallel`, at most `MAX_READERS`.
    pub fn reader_count(&self) -> usize {
        self.max_parallel.clamp(1, Self::MAX_READERS)
    }

    /// The table name quoted for SQL, after checking it is one or two plain identifiers.
    pub fn quoted_table(&self) -> Result<String, String> {
        quote_identifier_path(&self.table)
    }
}

fn quote_table(name: &str) -> Result<String, StorageError> {
    quote_identifier_path(name).map_err(StorageError::Io)
}

/// `name` (`table` or `schema.table`) quoted for SQL, after checking each part is a plain identifier.
pub fn quote_identifier_path(name: &str) -> Result<String, String> {
    {
        let parts: Vec<&str> = name.split('.').collect();
        let plain = |p: &str| {
            !p.is_empty()
                && p.len() <= 63
                && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
            return Err(format!(
                "invalid table name {name:?}: use letters, digits and underscores, optionally schema.table"
            ));
        }
        Ok(parts.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join("."))
    }
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("storage is unavailable: PostgreSQL: {e}"))
}

/// An error as an operator can act on it: the client's `Display` says only "db error" or "error connecting to
/// server", so the server's message and SQLSTATE (never the statement's values: those are in `detail`) or the
/// underlying cause (TLS, I/O) follow.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// What a PostgreSQL error means for the caller: the server gone (503) or a failure of the request's storage (500).
fn classify(e: &postgres::Error) -> StorageError {
    use postgres::error::SqlState;
    let down = e.is_closed()
        || e.as_db_error().is_none()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::CONNECTION_FAILURE
                || *c == SqlState::READ_ONLY_SQL_TRANSACTION
        );
    if down {
        unavailable(describe(e))
    } else {
        StorageError::Io(format!("PostgreSQL: {}", describe(e)))
    }
}

fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// The statements every connection prepares once.
struct Statements {
    get: Statement,
    put: Statement,
    delete: Statement,
    keys_from: Statement,
    keys_between: Statement,
    keys_below: Statement,
    first_from: Statement,
    values: Statement,
    records: Statement,
    /// A batch's writes and its change notice, in one statement (one round trip).
    write_batch: Statement,
}

struct Conn {
    client: Client,
    stmts: Statements,
}

/// A new client for `options`: the one way every thread of this module connects (5 s connect timeout, named
/// `vault` unless the URL names it).
fn connect(options: &PgOptions) -> Result<Client, StorageError> {
    let invalid = |e: &dyn std::fmt::Display| StorageError::Io(format!("invalid PostgreSQL connection_url: {e}"));
    let (client_url, tls) = super::postgres_tls::split(&options.connection_url).map_err(|e| invalid(&e))?;
    let mut config = postgres::Config::from_str(&client_url).map_err(|e| invalid(&e))?;
    config.connect_timeout(Duration::from_secs(5));
    config.ssl_mode(tls.client_mode());
    if config.get_application_name().is_none() {
        config.application_name("vault");
    }
    match tls.client_config().map_err(StorageError::Io)? {
        None => config.connect(NoTls),
        Some(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)),
    }
    .map_err(|e| unavailable(describe(&e)))
}

/// The first connection at start: `max_connect_retries` tries, backing off exponentially from 15 ms to 5 s (as
/// OpenBao's), so a server started with its database can wait for it.
fn connect_with_retries(options: &PgOptions) -> Result<Client, StorageError> {
    let mut delay = Duration::from_millis(15);
    let mut tries = 1;
    loop {
        match connect(options) {
            Ok(client) => return Ok(client),
            Err(e @ StorageError::Unavailable(_)) if tries < options.connect_tries => {
                log::warn!(
                    "storage: PostgreSQL is not ready (try {tries} of {}): {e}",
                    options.connect_tries
                );
                std::thread::sleep(delay);
                delay = (delay * 3 / 2).min(Duration::from_secs(5));
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Conn {
    fn open(options: &PgOptions, table: &str) -> Result<Conn, StorageError> {
        let mut client = connect(options)?;
        let stmts = Statements::prepare(&mut client, table).map_err(|e| classify(&e))?;
        Ok(Conn { client, stmts })
    }
}

impl Statements {
    fn prepare(client: &mut Client, t: &str) -> Result<Statements, postgres::Error> {
        Ok(Statements {
            get: client.prepare(&format!("SELECT value FROM {t} WHERE tree = $1 AND key = $2"))?,
            put: client.prepare(&format!(
                "INSERT INTO {t} (tree, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value"
            ))?,
            delete: client.prepare(&format!("DELETE FROM {t} WHERE tree = $1 AND key = $2"))?,
            keys_from: client.prepare(&format!(
                "SELECT key FROM {t} WHERE tree = $1 AND key >= $2 ORDER BY key"
            ))?,
            keys_between: client.prepare(&format!(
                "SELECT key FROM {t} WHERE tree = $1 AND key >= $2 AND key < $3 ORDER BY key"
            ))?,
            keys_below: client.prepare(&format!(
                "SELECT key FROM {t} WHERE tree = $1 AND key < $2 ORDER BY key LIMIT $3"
            ))?,
            first_from: client.prepare(&format!(
                "SELECT key FROM {t} WHERE tree = $1 AND key >= $2 ORDER BY key LIMIT 1"
            ))?,
            values: client.prepare(&format!("SELECT value FROM {t} WHERE tree = $1 ORDER BY key"))?,
            records: client.prepare(&format!("SELECT key, value FROM {t} WHERE tree = $1 ORDER BY key"))?,
            // Data-modifying CTEs run once whether or not the query reads them; a key is either stored or
            // removed by a batch, never both, so the two (which see the same snapshot) never meet.
            write_batch: client.prepare(&format!(
                "WITH stored AS (INSERT INTO {t} (tree, key, value) \
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
                 ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value), \
                 removed AS (DELETE FROM {t} WHERE (tree, key) IN (SELECT * FROM unnest($4::text[], $5::bytea[]))) \
                 SELECT pg_notify($6, $7)"
            ))?,
        })
    }
}

/// A thread's connection, opened on first use and again after it was lost; after a failed connect, callers are
/// refused at once for a second instead of each waiting for the connect timeout.
struct ConnSlot {
    options: Arc<PgOptions>,
    table: Arc<str>,
    conn: Option<Conn>,
    failed_at: Option<(Instant, String)>,
}

impl ConnSlot {
    fn new(options: Arc<PgOptions>, table: Arc<str>) -> Self {
        ConnSlot {
            options,
            table,
            conn: None,
            failed_at: None,
        }
    }

    fn get(&mut self) -> Result<&mut Conn, StorageError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            if let Some((at, why)) = &self.failed_at {
                if at.elapsed() < Duration::from_secs(1) {
                    return Err(StorageError::Unavailable(why.clone()));
                }
            }
            match Conn::open(&self.options, &self.table) {
                Ok(conn) => {
                    if self.failed_at.take().is_some() {
                        log::info!("storage: PostgreSQL answers again");
                    }
                    self.conn = Some(conn);
                }
                Err(e) => {
                    if self.failed_at.is_none() {
                        log::error!("storage: {e}");
                    }
                    self.failed_at = Some((Instant::now(), e.to_string()));
                    return Err(e);
                }
            }
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StorageError::Unavailable("storage is unavailable".into()))
    }

    /// Run `f` on the connection; a connection found closed is replaced and `f` tried once more (it only reads, or
    /// runs its own transaction that did not commit).
    fn run<T>(&mut self, mut f: impl FnMut(&mut Conn) -> Result<T, postgres::Error>) -> Result<T, StorageError> {
        for attempt in 0..2 {
            let conn = self.get()?;
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(e) if conn.client.is_closed() && attempt == 0 => {
                    log::warn!("storage: PostgreSQL connection lost ({e}); reconnecting");
                    self.conn = None;
                }
                Err(e) => {
                    if conn.client.is_closed() {
                        self.conn = None;
                    }
                    return Err(classify(&e));
                }
            }
        }
        Err(StorageError::Unavailable(
            "storage is unavailable: PostgreSQL connection lost".into(),
        ))
    }
}

type ReadJob = Box<dyn FnOnce(&mut ConnSlot) + Send>;

/// Threads that each own a connection and run queries sent to them.
struct ReaderPool {
    sender: Mutex<Option<mpsc::Sender<ReadJob>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ReaderPool {
    fn start(options: &Arc<PgOptions>, table: &Arc<str>, count: usize) -> Result<ReaderPool, StorageError> {
        let (sender, receiver) = mpsc::channel::<ReadJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        let max_idle = options.max_idle.unwrap_or(usize::MAX);
        // Readers waiting for work with their connection open.
        let idle_open = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for i in 0..count {
            let receiver = receiver.clone();
            let idle_open = idle_open.clone();
            let mut slot = ConnSlot::new(options.clone(), table.clone());
            let thread = std::thread::Builder::new()
                .name(format!("vault-pg-read-{i}"))
                .spawn(move || loop {
                    // Keep the connection through the wait only while fewer than `max_idle` others do.
                    let counted = slot.conn.is_some()
                        && idle_open
                            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max_idle).then_some(n + 1))
                            .is_ok();
                    if !counted {
                        slot.conn = None;
                    }
                    let job = match receiver.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    if counted {
                        idle_open.fetch_sub(1, Ordering::AcqRel);
                    }
                    match job {
                        Ok(job) => job(&mut slot),
                        Err(_) => return,
                    }
                })
                .map_err(|e| StorageError::Io(format!("starting a PostgreSQL reader thread: {e}")))?;
            threads.push(thread);
        }
        Ok(ReaderPool {
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        })
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ConnSlot) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (done, answer) = mpsc::sync_channel(1);
        let job: ReadJob = Box::new(move |slot| {
            let _ = done.send(f(slot));
        });
        let sent = match self.sender.lock() {
            Ok(sender) => sender.as_ref().map(|s| s.send(job).is_ok()).unwrap_or(false),
            Err(_) => false,
        };
        if !sent {
            return Err(StorageError::Io("storage is shutting down".into()));
        }
        answer
            .recv()
            .map_err(|_| StorageError::Io("a PostgreSQL reader stopped".into()))?
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Ok(mut threads) = self.threads.lock() {
            for thread in threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

/// The end of the key range holding every key that starts with `prefix` (`None`: unbounded).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub struct PgStore {
    options: Arc<PgOptions>,
    table: Arc<str>,
    readers: ReaderPool,
    /// This server's id in change notices (its own are ignored).
    server_id: Arc<str>,
    channel: Arc<str>,
    handler: Arc<std::sync::RwLock<Option<ChangeHandler>>>,
    listener_stop: Arc<AtomicBool>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl PgStore {
    pub(super) fn open(options: PgOptions) -> Result<PgStore, StorageError> {
        let table: Arc<str> = options.quoted_table().map_err(StorageError::Io)?.into();
        let options = Arc::new(options);
        // On a thread of its own: the caller may be inside a runtime, where the client cannot block.
        let (setup_options, setup_table) = (options.clone(), table.clone());
        std::thread::Builder::new()
            .name("vault-pg-setup".into())
            .spawn(move || Self::set_up(&setup_options, &setup_table))
            .map_err(|e| StorageError::Io(format!("starting the PostgreSQL setup thread: {e}")))?
            .join()
            .map_err(|_| StorageError::Io("the PostgreSQL setup thread failed".into()))??;
        let readers = ReaderPool::start(&options, &table, options.reader_count())?;
        let channel: Arc<str> = channel_of(&options.table).into();
        let server_id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let handler: Arc<std::sync::RwLock<Option<ChangeHandler>>> = Arc::default();
        let listener_stop = Arc::new(AtomicBool::new(false));
        let listener = {
            let (options, channel, server_id, handler, stop) = (
                options.clone(),
                channel.clone(),
                server_id.clone(),
                handler.clone(),
                listener_stop.clone(),
            );
            std::thread::Builder::new()
                .name("vault-pg-listen".into())
                .spawn(move || listen(&options, &channel, &server_id, &handler, &stop))
                .map_err(|e| StorageError::Io(format!("starting the PostgreSQL listener thread: {e}")))?
        };
        Ok(PgStore {
            options,
            table,
            readers,
            server_id,
            channel,
            handler,
            listener_stop,
            listener: Mutex::new(Some(listener)),
        })
    }

    /// Whether `ha_enabled` is set.
    pub fn ha(&self) -> Option<&HaOptions> {
        self.options.ha.as_ref()
    }

    fn ha_table(&self) -> Result<String, StorageError> {
        let ha = self
            .options
            .ha
            .as_ref()
            .ok_or_else(|| StorageError::Io("HA is not enabled".into()))?;
        quote_table(&ha.table)
    }

    /// Take the lock, or renew it if `leader.identity` holds it: `true` when held for another `lock_ttl`.
    pub fn ha_try_lock(&self, leader: &HaLeader, ttl: Duration) -> Result<bool, StorageError> {
        let table = self.ha_table()?;
        let value = serde_json::to_string(leader).map_err(|e| StorageError::Codec(e.to_string()))?;
        let identity = leader.identity.clone();
        let seconds = ttl.as_secs_f64();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let sql = format!(
                    "INSERT INTO {table} AS l (ha_key, ha_identity, ha_value, valid_until) \
                     VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
                     ON CONFLICT (ha_key) DO UPDATE SET ha_identity = EXCLUDED.ha_identity, \
                     ha_value = CASE WHEN l.ha_identity = EXCLUDED.ha_identity THEN l.ha_value ELSE EXCLUDED.ha_value END, \
                     valid_until = EXCLUDED.valid_until \
                     WHERE l.valid_until < now() OR l.ha_identity = EXCLUDED.ha_identity"
                );
                let rows = c.client.execute(&sql, &[&LOCK_KEY, &identity, &value, &seconds])?;
                Ok(rows == 1)
            })
        })
    }

    /// Give the lock up if `identity` holds it.
    pub fn ha_release(&self, identity: &str) -> Result<(), StorageError> {
        let table = self.ha_table()?;
        let identity = identity.to_string();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let sql = format!("DELETE FROM {table} WHERE ha_key = $1 AND ha_identity = $2");
                c.client.execute(&sql, &[&LOCK_KEY, &identity])?;
                Ok(())
            })
        })
    }

    /// The lock's live holder, if any.
    pub fn ha_leader(&self) -> Result<Option<HaLeader>, StorageError> {
        let table = self.ha_table()?;
        self.readers.run(move |slot| {
            slot.run(|c| {
                let sql = format!("SELECT ha_value FROM {table} WHERE ha_key = $1 AND valid_until > now()");
                Ok(c.client
                    .query_opt(&sql, &[&LOCK_KEY])?
                    .and_then(|row| row.get::<_, Option<String>>(0))
                    .and_then(|v| serde_json::from_str(&v).ok()))
            })
        })
    }

    /// Register (or renew) this server among the HA nodes for `ttl`.
    pub fn ha_register(&self, node: &HaNode, ttl: Duration) -> Result<(), StorageError> {
        let table = self.ha_table()?;
        let value = serde_json::to_string(node).map_err(|e| StorageError::Codec(e.to_string()))?;
        let key = format!("{NODE_PREFIX}{}", node.identity);
        let identity = node.identity.clone();
        let seconds = ttl.as_secs_f64();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let sql = format!(
                    "INSERT INTO {table} (ha_key, ha_identity, ha_value, valid_until) \
                     VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
                     ON CONFLICT (ha_key) DO UPDATE SET ha_value = EXCLUDED.ha_value, valid_until = EXCLUDED.valid_until"
                );
                c.client.execute(&sql, &[&key, &identity, &value, &seconds])?;
                // Registrations long expired are removed by whoever registers.
                let sql = format!("DELETE FROM {table} WHERE ha_key LIKE 'node/%' AND valid_until < now() - interval '1 hour'");
                c.client.execute(&sql, &[])?;
                Ok(())
            })
        })
    }

    /// The live registrations.
    pub fn ha_nodes(&self) -> Result<Vec<HaNode>, StorageError> {
        let table = self.ha_table()?;
        self.readers.run(move |slot| {
            slot.run(|c| {
                let sql = format!(
                    "SELECT ha_value FROM {table} WHERE ha_key LIKE 'node/%' AND valid_until > now() ORDER BY ha_key"
                );
                Ok(c.client
                    .query(&sql, &[])?
                    .iter()
                    .filter_map(|row| row.get::<_, Option<String>>(0))
                    .filter_map(|v| serde_json::from_str(&v).ok())
                    .collect())
            })
        })
    }

    /// Have `handler` told about every change another server commits to the table.
    pub fn on_remote_change(&self, handler: ChangeHandler) {
        if let Ok(mut slot) = self.handler.write() {
            *slot = Some(handler);
        }
    }

    /// Create the table if asked, check its columns, and give a new table its format records.
    fn set_up(options: &PgOptions, table: &str) -> Result<(), StorageError> {
        let mut client = connect_with_retries(options)?;
        if !options.skip_create_table {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {table} (tree TEXT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL, \
                 PRIMARY KEY (tree, key))"
            );
            // Two servers creating the table at once: one of them gets a unique violation on the catalog.
            if let Err(e) = client.batch_execute(&create) {
                if client.batch_execute(&create).is_err() {
                    return Err(classify(&e));
                }
            }
        }
        if let Some(ha) = &options.ha {
            let ha_table = quote_table(&ha.table)?;
            if !options.skip_create_table {
                let constraint = format!("\"{}_pkey\"", ha.table.replace('.', "_"));
                let create = format!(
                    "CREATE TABLE IF NOT EXISTS {ha_table} (ha_key TEXT COLLATE \"C\" NOT NULL, ha_identity TEXT \
                     COLLATE \"C\" NOT NULL, ha_value TEXT COLLATE \"C\", valid_until TIMESTAMP WITH TIME ZONE NOT \
                     NULL, CONSTRAINT {constraint} PRIMARY KEY (ha_key))"
                );
                if let Err(e) = client.batch_execute(&create) {
                    if client.batch_execute(&create).is_err() {
                        return Err(classify(&e));
                    }
                }
            }
        }
        // The columns' types too: every read takes them as text and bytes, and a row of other types would fail
        // a reader thread rather than a request.
        let not_ours = |why: String| {
            StorageError::Io(format!(
                "PostgreSQL table {} is missing or is not a table of this server (columns tree text, key bytea, \
                 value bytea expected): {why}",
                options.table
            ))
        };
        let probe = client
            .prepare(&format!("SELECT tree, key, value FROM {table} LIMIT 0"))
            .map_err(|e| not_ours(e.to_string()))?;
        let types: Vec<&postgres::types::Type> = probe.columns().iter().map(|c| c.type_()).collect();
        use postgres::types::Type;
        if types != [&Type::TEXT, &Type::BYTEA, &Type::BYTEA] {
            return Err(not_ours(format!("found {types:?}")));
        }
        initialize_format(&mut client, table)?;
        Ok(())
    }

    /// The committer's runner: each batch is one SERIALIZABLE transaction, rerun on a serialization failure.
    pub(super) fn batch_runner(&self) -> BatchRunner {
        let mut slot = ConnSlot::new(self.options.clone(), self.table.clone());
        let (channel, server_id) = (self.channel.clone(), self.server_id.clone());
        Box::new(move |jobs| {
            let mut attempt = 0u32;
            loop {
                let conn = slot.get()?;
                match run_batch(conn, jobs, &channel, &server_id) {
                    Ok(()) => return Ok(Durable::Committed),
                    Err(BatchFailure::Internal(why)) => return Err(StorageError::Io(why.into())),
                    Err(BatchFailure::Postgres(e)) if retryable(&e) && attempt < 200 => {
                        attempt += 1;
                        // Back off a little, more each time, so two servers' batches stop colliding.
                        let micros = 200u64 * u64::from(attempt.min(20)) + rand::random_range(0..500u64);
                        std::thread::sleep(Duration::from_micros(micros));
                    }
                    Err(BatchFailure::Postgres(e)) => {
                        if conn.client.is_closed() {
                            slot.conn = None;
                        }
                        return Err(classify(&e));
                    }
                }
            }
        })
    }

    pub(super) fn get(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let key = key.to_vec();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let row = c.client.query_opt(&c.stmts.get, &[&tree, &key])?;
                Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
            })
        })
    }

    pub(super) fn keys_with_prefix(&self, tree: &'static str, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let prefix = prefix.to_vec();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let rows = match prefix_end(&prefix) {
                    Some(end) => c.client.query(&c.stmts.keys_between, &[&tree, &prefix, &end])?,
                    None => c.client.query(&c.stmts.keys_from, &[&tree, &prefix])?,
                };
                Ok(rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
            })
        })
    }

    pub(super) fn keys_below(
        &self,
        tree: &'static str,
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let end = end.to_vec();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers.run(move |slot| {
            slot.run(|c| {
                let rows = c.client.query(&c.stmts.keys_below, &[&tree, &end, &limit])?;
                Ok(rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
            })
        })
    }

    pub(super) fn list_children(&self, tree: &'static str, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let prefix = prefix.to_vec();
        self.readers.run(move |slot| {
            slot.run(|c| {
                super::list_children_with(&prefix, |start| {
                    let row = c.client.query_opt(&c.stmts.first_from, &[&tree, &start])?;
                    Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
                })
            })
        })
    }

    pub(super) fn raw_values(&self, tree: &'static str) -> Result<Vec<Vec<u8>>, StorageError> {
        self.readers.run(move |slot| {
            slot.run(|c| {
                let rows = c.client.query(&c.stmts.values, &[&tree])?;
                Ok(rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
            })
        })
    }

    /// Up to `limit` records of `tree` after `after`, in key order (`operator migrate`).
    pub(super) fn raw_page(
        &self,
        tree: &'static str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<RawRecord>, StorageError> {
        let table = self.table.clone();
        let after = after.map(<[u8]>::to_vec);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers.run(move |slot| {
            slot.run(|c| {
                let rows = match &after {
                    Some(after) => c.client.query(
                        &format!("SELECT key, value FROM {table} WHERE tree = $1 AND key > $2 ORDER BY key LIMIT $3"),
                        &[&tree, after, &limit],
                    )?,
                    None => c.client.query(
                        &format!("SELECT key, value FROM {table} WHERE tree = $1 ORDER BY key LIMIT $2"),
                        &[&tree, &limit],
                    )?,
                };
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            })
        })
    }

    /// Upsert records as given, in one transaction (`operator migrate`).
    pub(super) fn put_raw_page(
        &self,
        tree: &'static str,
        records: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), StorageError> {
        let table = self.table.clone();
        self.readers.run(move |slot| {
            slot.run(|c| {
                let (keys, values): (Vec<Vec<u8>>, Vec<Vec<u8>>) = records.iter().cloned().unzip();
                let trees: Vec<&str> = vec![tree; keys.len()];
                c.client.execute(
                    &format!(
                        "INSERT INTO {table} (tree, key, value) SELECT * FROM UNNEST($1::text[], $2::bytea[], \
                         $3::bytea[]) ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value"
                    ),
                    &[&trees, &keys, &values],
                )?;
                Ok(())
            })
        })
    }

    /// Every record of every tree (`trees` in order), read in one REPEATABLE READ transaction so the set is
    /// consistent, handed to `record` with `state` tree by tree, in key order. Runs on a reader thread; `state`
    /// comes back.
    pub(super) fn export<S: Send + 'static>(
        &self,
        trees: Vec<&'static str>,
        state: S,
        record: impl Fn(&mut S, &str, &[u8], &[u8]) -> std::io::Result<()> + Send + 'static,
    ) -> Result<S, StorageError> {
        self.readers.run(move |slot| {
            let conn = slot.get()?;
            let mut state = state;
            let Conn { client, stmts } = conn;
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| classify(&e))?;
            for tree in trees {
                let rows = tx
                    .query_raw(&stmts.records, [&tree as &(dyn postgres::types::ToSql + Sync)])
                    .map_err(|e| classify(&e))?;
                use postgres::fallible_iterator::FallibleIterator;
                let mut rows = rows;
                while let Some(row) = rows.next().map_err(|e| classify(&e))? {
                    let key: &[u8] = row.get(0);
                    let value: &[u8] = row.get(1);
                    record(&mut state, tree, key, value)
                        .map_err(|e| StorageError::Io(format!("writing the snapshot: {e}")))?;
                }
            }
            tx.commit().map_err(|e| classify(&e))?;
            Ok(state)
        })
    }

    /// Replace every record with those `next` yields, in one SERIALIZABLE transaction, then set the `meta`
    /// records in `meta_overrides` (value, or removed). Runs on a reader thread.
    pub(super) fn replace_all(
        &self,
        mut next: RecordSource,
        meta_overrides: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<(), StorageError> {
        let table = self.table.clone();
        self.readers.run(move |slot| {
            let conn = slot.get()?;
            let Conn { client, stmts } = conn;
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()
                .map_err(|e| classify(&e))?;
            tx.execute(&format!("DELETE FROM {table}"), &[])
                .map_err(|e| classify(&e))?;
            let insert = format!(
                "INSERT INTO {table} (tree, key, value) SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::bytea[])"
            );
            let mut chunk: (Vec<String>, Vec<Vec<u8>>, Vec<Vec<u8>>) = Default::default();
            let mut chunk_bytes = 0usize;
            loop {
                let record = next()?;
                let done = record.is_none();
                if let Some((tree, key, value)) = record {
                    chunk_bytes += key.len() + value.len();
                    chunk.0.push(tree);
                    chunk.1.push(key);
                    chunk.2.push(value);
                }
                if !chunk.0.is_empty() && (done || chunk.0.len() >= 1000 || chunk_bytes >= 8 << 20) {
                    tx.execute(&insert, &[&chunk.0, &chunk.1, &chunk.2])
                        .map_err(|e| classify(&e))?;
                    chunk = Default::default();
                    chunk_bytes = 0;
                }
                if done {
                    break;
                }
            }
            for (key, value) in &meta_overrides {
                match value {
                    Some(v) => tx.execute(&stmts.put, &[&META_TREE, key, v]),
                    None => tx.execute(&stmts.delete, &[&META_TREE, key]),
                }
                .map_err(|e| classify(&e))?;
            }
            tx.commit().map_err(|e| classify(&e))
        })
    }
}

/// The database's view inside a batch's transaction: the table as this transaction sees it, under the writes of
/// the batch's earlier jobs (held back to be sent in two statements at the end, instead of one round trip each).
struct PgTxRead<'a, 'c> {
    tx: RefCell<postgres::Transaction<'c>>,
    stmts: &'a Statements,
    pending: RefCell<Overlay>,
}

impl TxRead for PgTxRead<'_, '_> {
    fn read(&self, slot: usize, key: &[u8]) -> Result<Option<Vec<u8>>, TxBackendError> {
        if let Some(value) = self.pending.borrow().lookup(slot, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        let tree = super::slot_name(slot);
        let row = self
            .tx
            .borrow_mut()
            .query_opt(&self.stmts.get, &[&tree, &key])
            .map_err(TxBackendError::Postgres)?;
        Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
    }
}

impl PgTxRead<'_, '_> {
    /// A job's writes join the batch's (a later write of a key replaces an earlier one).
    fn apply(&self, overlay: Overlay, written: &mut Written) {
        let mut pending = self.pending.borrow_mut();
        for (slot, key, value) in overlay.into_writes() {
            written.note(super::slot_name(slot), &key);
            match value {
                Some(v) => pending.put(slot, &key, v),
                None => pending.remove(slot, &key),
            }
        }
    }

    /// Send the batch's writes with its change notice (delivered to the other servers' listeners when, and only if,
    /// the transaction commits), in one statement.
    fn flush(&self, channel: &str, notice: &str) -> Result<(), postgres::Error> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let (mut put_trees, mut put_keys, mut put_values) = (Vec::new(), Vec::new(), Vec::new());
        let (mut delete_trees, mut delete_keys) = (Vec::new(), Vec::new());
        for (slot, key, value) in pending.into_writes() {
            let tree = super::slot_name(slot);
            match value {
                Some(v) => {
                    put_trees.push(tree);
                    put_keys.push(key);
                    put_values.push(v);
                }
                None => {
                    delete_trees.push(tree);
                    delete_keys.push(key);
                }
            }
        }
        self.tx.borrow_mut().execute(
            &self.stmts.write_batch,
            &[
                &put_trees,
                &put_keys,
                &put_values,
                &delete_trees,
                &delete_keys,
                &channel,
                &notice,
            ],
        )?;
        Ok(())
    }
}

enum BatchFailure {
    Postgres(postgres::Error),
    Internal(&'static str),
}

impl From<postgres::Error> for BatchFailure {
    fn from(e: postgres::Error) -> Self {
        BatchFailure::Postgres(e)
    }
}

/// Every job of a batch in one SERIALIZABLE transaction. A closure's database error fails (and, when retryable,
/// reruns) the whole batch.
fn run_batch(conn: &mut Conn, jobs: &[Job], channel: &str, server_id: &str) -> Result<(), BatchFailure> {
    let Conn { client, stmts } = conn;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()?;
    let reader = PgTxRead {
        tx: RefCell::new(tx),
        stmts,
        pending: RefCell::new(Overlay::default()),
    };
    let mut applied = false;
    let mut written = Written::default();
    for job in jobs {
        let overlay = RefCell::new(Overlay::default());
        match (job.run)(&reader, &overlay) {
            Ok(true) => {
                reader.apply(overlay.into_inner(), &mut written);
                applied = true;
            }
            Ok(false) => {}
            Err(TxBackendError::Postgres(e)) => return Err(e.into()),
            Err(TxBackendError::Sled(_)) => {
                return Err(BatchFailure::Internal("a sled error in a PostgreSQL transaction"))
            }
        }
    }
    if applied {
        reader.flush(channel, &written.notice(server_id))?;
    }
    let tx = reader.tx.into_inner();
    if applied {
        tx.commit()?;
    } else {
        tx.rollback()?;
    }
    Ok(())
}

/// The listener thread: `LISTEN` on the table's channel and hand other servers' notices to the handler. After a
/// lost connection it reconnects and reports "everything" (notices sent meanwhile are gone).
fn listen(
    options: &PgOptions,
    channel: &str,
    server_id: &str,
    handler: &std::sync::RwLock<Option<ChangeHandler>>,
    stop: &AtomicBool,
) {
    let dispatch = |change: &RemoteChange| {
        let handler = handler.read().ok().and_then(|h| h.clone());
        if let Some(handler) = handler {
            handler(change);
        }
    };
    let mut connected_before = false;
    while !stop.load(Ordering::SeqCst) {
        let mut client = match connect(options) {
            Ok(c) => c,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if client.batch_execute(&format!("LISTEN \"{channel}\"")).is_err() {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        if connected_before {
            log::info!("storage: listening for other servers' changes again; reloading what is cached");
            dispatch(&RemoteChange::everything());
        }
        connected_before = true;
        while !stop.load(Ordering::SeqCst) {
            let next = {
                let mut notifications = client.notifications();
                let mut waiting = notifications.timeout_iter(Duration::from_millis(250));
                postgres::fallible_iterator::FallibleIterator::next(&mut waiting)
            };
            match next {
                Ok(Some(n)) => {
                    let Ok(notice) = serde_json::from_str::<ChangeNotice>(n.payload()) else {
                        continue;
                    };
                    if notice.origin == server_id {
                        continue;
                    }
                    let change = RemoteChange {
                        everything: false,
                        trees: notice
                            .trees
                            .into_iter()
                            .map(|(tree, keys)| {
                                let keys = keys.map(|keys| keys.iter().filter_map(|k| hex::decode(k).ok()).collect());
                                (tree, keys)
                            })
                            .collect(),
                    };
                    dispatch(&change);
                }
                Ok(None) => {
                    if client.is_closed() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener_stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.listener.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// A new table gets the `meta` records of a fresh, fully migrated sled store; an existing one must be at this
/// build's format.
fn initialize_format(client: &mut Client, table: &str) -> Result<(), StorageError> {
    let supported = migrate::supported_version();
    let get = format!("SELECT value FROM {table} WHERE tree = $1 AND key = $2");
    let found = client
        .query_opt(&get, &[&META_TREE, &migrate::FORMAT_VERSION_KEY])
        .map_err(|e| classify(&e))?
        .map(|r| r.get::<_, Vec<u8>>(0));
    match found {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| StorageError::Codec("format version record is malformed".into()))?;
            if found > supported {
                return Err(StorageError::FormatTooNew { found, supported });
            }
            if found < supported {
                return Err(StorageError::Io(format!(
                    "the PostgreSQL store is at storage format {found} and this server needs {supported}; \
                     migrating PostgreSQL stores is not supported yet: run the version that wrote it"
                )));
            }
            Ok(())
        }
        None => {
            let meta = fresh_meta_records()?;
            let put = format!("INSERT INTO {table} (tree, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
            let mut tx = client.transaction().map_err(|e| classify(&e))?;
            for (key, value) in &meta {
                tx.execute(&put, &[&META_TREE, key, value]).map_err(|e| classify(&e))?;
            }
            tx.commit().map_err(|e| classify(&e))
        }
    }
}

/// Yields a snapshot's records in turn, `(tree, key, value)`, then `None`.
pub(super) type RecordSource = Box<dyn FnMut() -> Result<Option<(String, Vec<u8>, Vec<u8>)>, StorageError> + Send>;

/// A `meta` record: key and value.
type MetaRecord = (Vec<u8>, Vec<u8>);

/// The `meta` records a new sled store holds once every migration ran (none reads a record: the store is empty,
/// so the throwaway keyring decrypts nothing).
fn fresh_meta_records() -> Result<Vec<MetaRecord>, StorageError> {
    let db = sled::Config::new().temporary(true).open()?;
    let mut trees = vec![db.open_tree(META_TREE)?];
    for tree in super::Tree::ALL {
        trees.push(db.open_tree(tree.name())?);
    }
    migrate::run_migrations(&db, &trees, crate::migrations::ALL, Some(&Keyring::generate()))?;
    let mut out = Vec::new();
    for item in trees[0].iter() {
        let (k, v) = item?;
        if !SLED_ONLY_META.contains(&&k[..]) {
            out.push((k.to_vec(), v.to_vec()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_after_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        let mut o = PgOptions {
            connection_url: "postgres://u:secret@h/db".into(),
            table: "vault_store".into(),
            max_parallel: 4,
            max_idle: None,
            connect_tries: 1,
            skip_create_table: false,
            ha: None,
        };
        assert_eq!(o.quoted_table().unwrap(), "\"vault_store\"");
        o.table = "s.t".into();
        assert_eq!(o.quoted_table().unwrap(), "\"s\".\"t\"");
        for bad in ["", "a;drop table x", "a.b.c", "1a", "a\"b"] {
            o.table = bad.into();
            assert!(o.quoted_table().is_err(), "{bad}");
        }
        assert!(!format!("{o:?}").contains("secret"));
    }
}
