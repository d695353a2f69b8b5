//! The mount table: which secrets engine (and auth method) is mounted where, with its uuid, accessor, config and
//! options. Persisted as two JSON records in the `mounts` tree (`secret` and `auth`), loaded at unseal, and changed
//! only under one lock, each change one durable transaction, then reflected in the router. Every mount keeps its
//! data under its own uuid in the `logical` tree, so disabling or moving one mount never touches another's data,
//! and a move (remount) only changes the table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use std::time::Duration;

use super::registry::{self, BackendConfig, BackendKind};
use super::router::{BackendInstance, Handler, LogicalMount, Mount, MountSystemView};
use super::{Core, CoreError};
use crate::logical::{BarrierView, StorageView};
use crate::storage::{StorageError, Tree, TxError};

pub const SECRET_TABLE_KEY: &[u8] = b"secret";
/// `unmounting/<uuid>` in the `core` tree -> the `logical` prefix of a disabled mount whose records are being
/// deleted.
const PENDING_DELETE_PREFIX: &[u8] = b"unmounting/";
/// Records deleted per transaction when a mount is disabled.
const DELETE_BATCH: usize = 1000;

fn pending_delete_key(uuid: &str) -> Vec<u8> {
    [PENDING_DELETE_PREFIX, uuid.as_bytes()].concat()
}
pub const AUTH_TABLE_KEY: &[u8] = b"auth";

/// Paths no secrets engine may be mounted at or below, nor moved from or to.
pub const PROTECTED_MOUNTS: &[&str] = &["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];
/// Mounts whose settings cannot be tuned.
pub const UNTUNABLE_MOUNTS: &[&str] = &["cubbyhole/", "sys/", "audit/", "identity/"];

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountConfig {
    /// Seconds; 0 = the system default.
    #[serde(default)]
    pub default_lease_ttl: u64,
    /// Seconds; 0 = the system maximum.
    #[serde(default)]
    pub max_lease_ttl: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_no_cache: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// Auth mounts only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// Auth mounts of the methods with user lockout only; `None` until tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_lockout_config: Option<super::lockout::LockoutTune>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountEntry {
    /// With a trailing slash; relative to `auth/` for auth methods (`token/`).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    pub uuid: String,
    pub accessor: String,
    #[serde(default)]
    pub config: MountConfig,
    /// `None` renders as `null` (the built-in mounts); user mounts have a map, maybe empty.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub seal_wrap: bool,
    #[serde(default)]
    pub external_entropy_access: bool,
    #[serde(default)]
    pub plugin_version: String,
}

/// Which table an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Secret,
    Auth,
}

/// The version `running_plugin_version` reports for the built-in engines.
pub fn builtin_version() -> String {
    builtin_version_str().to_string()
}

/// [`builtin_version`], formatted once.
pub fn builtin_version_str() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| format!("v{}+builtin", super::VERSION))
}

fn accessor_for(kind: &str) -> String {
    let n: u32 = rand::rng().random();
    format!("{}_{n:08x}", kind.replace('/', "_"))
}

impl MountEntry {
    pub fn new(path: &str, kind: &str, description: &str, options: Option<BTreeMap<String, String>>) -> Self {
        MountEntry {
            path: path.to_string(),
            kind: kind.to_string(),
            description: description.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: accessor_for(kind),
            config: MountConfig::default(),
            options,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            plugin_version: String::new(),
        }
    }

    /// The prefix of this mount's keys in the `logical` tree.
    pub fn storage_prefix(&self) -> Vec<u8> {
        format!("{}/", self.uuid).into_bytes()
    }

    /// 2 for a versioned K/V mount, else 1.
    pub fn kv_version(&self) -> u8 {
        match self.options.as_ref().and_then(|o| o.get("version")).map(String::as_str) {
            Some("2") => 2,
            _ => 1,
        }
    }

    /// The mount as `sys/mounts` shows it (OpenBao's `mountInfo`).
    pub fn info(&self, table: Table) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("default_lease_ttl".into(), json!(self.config.default_lease_ttl));
        config.insert("max_lease_ttl".into(), json!(self.config.max_lease_ttl));
        config.insert("force_no_cache".into(), json!(self.config.force_no_cache));
        let lists = [
            ("audit_non_hmac_request_keys", &self.config.audit_non_hmac_request_keys),
            (
                "audit_non_hmac_response_keys",
                &self.config.audit_non_hmac_response_keys,
            ),
            ("passthrough_request_headers", &self.config.passthrough_request_headers),
            ("allowed_response_headers", &self.config.allowed_response_headers),
        ];
        for (key, values) in lists {
            if !values.is_empty() {
                config.insert(key.into(), json!(values));
            }
        }
        if !self.config.listing_visibility.is_empty() {
            config.insert("listing_visibility".into(), json!(self.config.listing_visibility));
        }
        if table == Table::Auth {
            let token_type = if self.config.token_type.is_empty() {
                "default-service"
            } else {
                self.config.token_type.as_str()
            };
            config.insert("token_type".into(), json!(token_type));
            if let Some(tune) = &self.config.user_lockout_config {
                let mut lockout = Map::new();
                tune.render(&mut lockout);
                config.insert("user_lockout_config".into(), Value::Object(lockout));
            }
        }
        let mut info = Map::new();
        info.insert("type".into(), json!(self.kind));
        info.insert("description".into(), json!(self.description));
        info.insert("accessor".into(), json!(self.accessor));
        info.insert("local".into(), json!(self.local));
        info.insert("seal_wrap".into(), json!(self.seal_wrap));
        info.insert("external_entropy_access".into(), json!(self.external_entropy_access));
        info.insert("options".into(), json!(self.options));
        info.insert("uuid".into(), json!(self.uuid));
        info.insert("plugin_version".into(), json!(self.plugin_version));
        info.insert("running_plugin_version".into(), json!(builtin_version()));
        info.insert("running_sha256".into(), json!(""));
        let kind = match table {
            Table::Secret => BackendKind::SecretEngine,
            Table::Auth => BackendKind::AuthMethod,
        };
        if registry::lookup(kind, &self.kind).is_some_and(|r| r.catalog_plugin) {
            info.insert("deprecation_status".into(), json!("supported"));
        }
        info.insert("config".into(), Value::Object(config));
        info
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountTables {
    pub secret: Vec<MountEntry>,
    pub auth: Vec<MountEntry>,
}

impl MountTables {
    /// What a new server has: the system backend, the cubbyhole, and the token auth method.
    pub fn defaults() -> Self {
        let mut sys = MountEntry::new(
            "sys/",
            "system",
            "system endpoints used for control, policy and debugging",
            None,
        );
        sys.accessor = accessor_for("system");
        sys.seal_wrap = true;
        sys.config.passthrough_request_headers = vec!["Accept".into()];
        let mut cubbyhole = MountEntry::new("cubbyhole/", "cubbyhole", "per-token private secret storage", None);
        cubbyhole.local = true;
        let mut token = MountEntry::new("token/", "token", "token based credentials", None);
        token.accessor = accessor_for("auth_token");
        token.config.token_type = "default-service".into();
        MountTables {
            secret: vec![sys, cubbyhole],
            auth: vec![token],
        }
    }

    /// The entry whose path is the longest prefix of `path` (a path with a trailing slash), in either table (auth
    /// paths are matched with their `auth/` prefix).
    pub fn matching(&self, path: &str) -> Option<(&MountEntry, Table)> {
        // The longest mounted path that prefixes `path`; an auth method's is `auth/` + its path. No allocation: this
        // runs for every audited request.
        let secret = self
            .secret
            .iter()
            .filter(|e| path.starts_with(e.path.as_str()))
            .map(|e| (e, Table::Secret, e.path.len()));
        let below_auth = path.strip_prefix("auth/");
        let auth = self
            .auth
            .iter()
            .filter(move |e| below_auth.is_some_and(|rest| rest.starts_with(e.path.as_str())))
            .map(|e| (e, Table::Auth, "auth/".len() + e.path.len()));
        secret
            .chain(auth)
            .max_by_key(|(_, _, len)| *len)
            .map(|(e, t, _)| (e, t))
    }

    /// The mounted path that conflicts with mounting at `path`: one is a prefix of the other.
    pub fn conflict(&self, path: &str) -> Option<String> {
        let secret = self.secret.iter().map(|e| e.path.clone());
        let auth = self.auth.iter().map(|e| format!("auth/{}", e.path));
        secret
            .chain(auth)
            .find(|full| full.starts_with(path) || path.starts_with(full.as_str()))
    }
}

/// OpenBao's `sanitizePath`: a trailing slash, no leading slashes.
pub fn sanitize_path(path: &str) -> String {
    let mut p = path.trim_start_matches('/').to_string();
    if !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// A mount move's outcome, for `sys/remount/status/:id`.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationInfo {
    pub source_mount: String,
    pub target_mount: String,
    pub status: &'static str,
}

/// Mount migrations remembered for `sys/remount/status` (in memory, as in OpenBao), at most this many.
const MIGRATIONS_KEPT: usize = 1000;

#[derive(Default)]
pub struct MountState {
    tables: RwLock<Arc<MountTables>>,
    /// Serializes changes, so the table in memory is always the one on disk.
    pub(super) change: tokio::sync::Mutex<()>,
    migrations: Mutex<Vec<(String, MigrationInfo)>>,
}

/// What a tune decided besides the new entry.
pub struct TuneChange {
    pub entry: MountEntry,
    /// Rewrite the mount's data for its new options (the registered backend's upgrade, e.g. K/V version 1 -> 2)
    /// in the same transaction as the table.
    pub upgrade_data: bool,
}

pub(crate) fn decode_table(bytes: &[u8]) -> Result<Vec<MountEntry>, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Codec(format!("mount table: {e}")))
}

fn encode_table(entries: &[MountEntry]) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(entries).map_err(|e| StorageError::Codec(format!("mount table: {e}")))
}

impl Core {
    /// The mount tables as they stand.
    pub fn mount_tables(&self) -> Arc<MountTables> {
        self.mounts.tables.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// The mount serving `path` (OpenBao's `MatchingMountEntry`).
    pub fn matching_mount(&self, path: &str) -> Option<(MountEntry, Table)> {
        let tables = self.mount_tables();
        tables.matching(&sanitize_path(path)).map(|(e, t)| (e.clone(), t))
    }

    /// The system view of a mount: its tuned TTLs, or the server's.
    fn system_view(&self, entry: &MountEntry) -> MountSystemView {
        let tuned = |secs: u64, server: Duration| if secs == 0 { server } else { Duration::from_secs(secs) };
        MountSystemView {
            default_lease_ttl: tuned(entry.config.default_lease_ttl, self.settings.default_lease_ttl),
            max_lease_ttl: tuned(entry.config.max_lease_ttl, self.settings.max_lease_ttl),
            uuid: entry.uuid.clone(),
            accessor: entry.accessor.clone(),
            local: entry.local,
        }
    }

    /// The view of a mount's records.
    fn mount_view(&self, entry: &MountEntry) -> BarrierView {
        BarrierView::new(self.storage.clone(), Tree::Logical, entry.storage_prefix())
    }

    /// Route the secrets engines and auth methods of `tables` through their registered backends (auth methods
    /// under `auth/`), keeping each mount's backend instance while its type and options stay the same. The core's
    /// own backends (the system backend, the token store) are not in the registry: the router has them.
    fn set_tables(&self, tables: MountTables) {
        let current = self.router.mounts();
        let mut routes = Vec::new();
        let secret = tables
            .secret
            .iter()
            .map(|e| (e, BackendKind::SecretEngine, e.path.clone()));
        let auth = tables
            .auth
            .iter()
            .map(|e| (e, BackendKind::AuthMethod, format!("auth/{}", e.path)));
        for (entry, kind, path) in secret.chain(auth) {
            let Some(registration) = registry::lookup(kind, &entry.kind) else {
                continue;
            };
            let kept = current.iter().find_map(|m| match &m.handler {
                Handler::Logical(l)
                    if m.uuid == entry.uuid && l.type_name == entry.kind && l.options == entry.options =>
                {
                    Some(l.backend.clone())
                }
                _ => None,
            });
            let backend = kept.unwrap_or_else(|| {
                BackendInstance::new((registration.factory)(&BackendConfig {
                    options: entry.options.as_ref(),
                }))
            });
            routes.push(Arc::new(Mount {
                path,
                uuid: entry.uuid.clone(),
                handler: Handler::Logical(Box::new(LogicalMount {
                    backend,
                    view: self.mount_view(entry),
                    system: self.system_view(entry),
                    type_name: entry.kind.clone(),
                    options: entry.options.clone(),
                })),
            }));
        }
        self.router.install(routes);
        if let Ok(mut slot) = self.mounts.tables.write() {
            *slot = Arc::new(tables);
        }
    }

    /// Load the mount tables at unseal, writing the defaults (durably) the first time.
    pub(crate) fn load_mounts(&self) -> Result<(), CoreError> {
        let secret = self.storage.get_raw(Tree::Mounts, SECRET_TABLE_KEY)?;
        let auth = self.storage.get_raw(Tree::Mounts, AUTH_TABLE_KEY)?;
        let tables = match (secret, auth) {
            (Some(secret), Some(auth)) => MountTables {
                secret: decode_table(&secret)?,
                auth: decode_table(&auth)?,
            },
            _ => {
                let defaults = MountTables::defaults();
                let secret = encode_table(&defaults.secret)?;
                let auth = encode_table(&defaults.auth)?;
                let written = self.storage.transact(move |tx| {
                    // Another unseal may have written them first: keep those.
                    if let (Some(s), Some(a)) = (
                        tx.get_raw(Tree::Mounts, SECRET_TABLE_KEY)?,
                        tx.get_raw(Tree::Mounts, AUTH_TABLE_KEY)?,
                    ) {
                        return Ok((s.to_vec(), a.to_vec()));
                    }
                    tx.put_raw(Tree::Mounts, SECRET_TABLE_KEY, &secret)?;
                    tx.put_raw(Tree::Mounts, AUTH_TABLE_KEY, &auth)?;
                    Ok::<_, TxError<CoreError>>((secret.clone(), auth.clone()))
                })??;
                self.storage.flush()?;
                MountTables {
                    secret: decode_table(&written.0)?,
                    auth: decode_table(&written.1)?,
                }
            }
        };
        self.set_tables(tables);
        Ok(())
    }

    /// Forget the mounts (at seal): only the built-in routes stay.
    pub(crate) fn unload_mounts(&self) {
        self.router.install(Vec::new());
        if let Ok(mut slot) = self.mounts.tables.write() {
            *slot = Arc::new(MountTables::default());
        }
    }

    /// Write `tables` (with `extra` in the same transaction) and make them current.
    async fn commit_tables<F>(&self, tables: MountTables, extra: F) -> Result<(), CoreError>
    where
        F: Fn(&crate::storage::Txn<CoreError>) -> Result<(), TxError<CoreError>> + Send + 'static,
    {
        let secret = encode_table(&tables.secret)?;
        let auth = encode_table(&tables.auth)?;
        self.storage
            .write(move |tx| {
                tx.put_raw(Tree::Mounts, SECRET_TABLE_KEY, &secret)?;
                tx.put_raw(Tree::Mounts, AUTH_TABLE_KEY, &auth)?;
                extra(tx)
            })
            .await??;
        self.set_tables(tables);
        Ok(())
    }

    /// Mount a secrets engine or an auth method (the entry is complete and validated; path conflicts are checked
    /// again under the table lock).
    pub async fn mount(&self, entry: MountEntry, table: Table) -> Result<(), CoreError> {
        let _guard = self.mounts.change.lock().await;
        let mut tables = (*self.mount_tables()).clone();
        let full_path = match table {
            Table::Secret => entry.path.clone(),
            Table::Auth => format!("auth/{}", entry.path),
        };
        if let Some(existing) = tables.conflict(&full_path) {
            let existing = existing
                .strip_prefix("auth/")
                .filter(|_| table == Table::Auth)
                .unwrap_or(&existing);
            return Err(CoreError::InvalidRequest(format!(
                "path is already in use at {existing}"
            )));
        }
        match table {
            Table::Secret => {
                log::info!("mounts: enabled {} engine at {}", entry.kind, entry.path);
                tables.secret.push(entry);
            }
            Table::Auth => {
                log::info!("mounts: enabled {} auth method at auth/{}", entry.kind, entry.path);
                tables.auth.push(entry);
            }
        }
        self.commit_tables(tables, |_| Ok(())).await
    }

    /// Disable the secrets engine (or auth method, `path` relative to `auth/`) mounted exactly at `path` and
    /// delete its data, in one transaction. `Ok(false)` when nothing is mounted there.
    pub async fn unmount(&self, path: &str, table: Table) -> Result<bool, CoreError> {
        // The secrets an engine issued are revoked through it while it is still mounted; a failure refuses the
        // unmount, as in OpenBao (auth methods' tokens are revoked by the caller).
        if table == Table::Secret && self.mount_tables().secret.iter().any(|e| e.path == path) {
            self.revoke_lease_prefix(path, false)
                .await
                .map_err(|e| CoreError::InvalidRequest(format!("failed to revoke leases of {path}: {e}")))?;
        }
        let _guard = self.mounts.change.lock().await;
        let mut tables = (*self.mount_tables()).clone();
        let list = match table {
            Table::Secret => &mut tables.secret,
            Table::Auth => &mut tables.auth,
        };
        let Some(index) = list.iter().position(|e| e.path == path) else {
            return Ok(false);
        };
        let entry = list.remove(index);
        let prefix = entry.storage_prefix();
        // The table change records the deletion to do, in the same transaction: once it is durable nothing can
        // reach the prefix, and a deletion cut short (a crash) is finished by the scheduler.
        let marker = pending_delete_key(&entry.uuid);
        let recorded = prefix.clone();
        self.commit_tables(tables, move |tx| tx.put_raw(Tree::Core, &marker, &recorded))
            .await?;
        let count = self.finish_delete(&entry.uuid, &prefix).await?;
        log::info!("mounts: disabled {} ({} records deleted)", entry.path, count);
        Ok(true)
    }

    /// Delete a disabled mount's records in bounded transactions, then its pending-deletion record. Returns how
    /// many records went.
    async fn finish_delete(&self, uuid: &str, prefix: &[u8]) -> Result<usize, CoreError> {
        let mut count = self.delete_prefix(prefix).await?;
        // A write that raced the disable (routed before the table changed) may have landed after the keys were
        // listed: nothing can reach this prefix any more, so sweep it once more.
        count += self.delete_prefix(prefix).await?;
        let marker = pending_delete_key(uuid);
        self.storage
            .write(move |tx: &crate::storage::Txn<CoreError>| tx.remove(Tree::Core, &marker).map(|_| ()))
            .await??;
        Ok(count)
    }

    /// Finish the deletions of mounts disabled before a crash (run by the scheduler while unsealed).
    pub async fn finish_pending_deletes(&self) -> Result<(), CoreError> {
        for marker in self.storage.keys_with_prefix(Tree::Core, PENDING_DELETE_PREFIX)? {
            let Some(prefix) = self.storage.get_raw(Tree::Core, &marker)? else {
                continue;
            };
            let uuid = String::from_utf8_lossy(&marker[PENDING_DELETE_PREFIX.len()..]).into_owned();
            let count = self.finish_delete(&uuid, &prefix).await?;
            log::info!("mounts: finished deleting the records of disabled mount {uuid} ({count} records)");
        }
        Ok(())
    }

    /// Delete every record under `prefix` in the `logical` tree, `DELETE_BATCH` records per durable transaction.
    async fn delete_prefix(&self, prefix: &[u8]) -> Result<usize, CoreError> {
        let keys = self.storage.keys_with_prefix(Tree::Logical, prefix)?;
        let count = keys.len();
        for chunk in keys.chunks(DELETE_BATCH) {
            let chunk = chunk.to_vec();
            self.storage
                .write(move |tx| {
                    for key in &chunk {
                        tx.remove(Tree::Logical, key)?;
                    }
                    Ok::<_, TxError<CoreError>>(())
                })
                .await??;
        }
        Ok(count)
    }

    /// Tune the mount serving `path`: `change` gets the current entry and returns the new one. `Err` of the
    /// closure is returned as is; a missing mount is OpenBao's tune error.
    pub async fn tune_mount<F>(&self, path: &str, change: F) -> Result<bool, CoreError>
    where
        F: FnOnce(&MountEntry, Table) -> Result<TuneChange, CoreError>,
    {
        let _guard = self.mounts.change.lock().await;
        let mut tables = (*self.mount_tables()).clone();
        let Some((current, table)) = tables.matching(path).map(|(e, t)| (e.clone(), t)) else {
            return Err(CoreError::InvalidRequest(format!(
                "tune of path {path:?} failed: no mount entry found"
            )));
        };
        let TuneChange { entry, upgrade_data } = change(&current, table)?;
        let list = match table {
            Table::Secret => &mut tables.secret,
            Table::Auth => &mut tables.auth,
        };
        if let Some(slot) = list.iter_mut().find(|e| e.uuid == current.uuid) {
            *slot = entry.clone();
        }
        let upgrade = registry::lookup(BackendKind::SecretEngine, &entry.kind).and_then(|r| r.upgrade.as_ref());
        let Some(upgrade) = upgrade.filter(|_| upgrade_data) else {
            self.commit_tables(tables, |_| Ok(())).await?;
            return Ok(false);
        };
        let view = self.mount_view(&entry);
        let records = (upgrade.collect)(&view)?;
        let now = crate::framework::now_ns();
        let upgraded = records.len();
        let (apply, in_tx_view) = (upgrade.apply, self.mount_view(&entry));
        self.commit_tables(tables, move |tx| apply(&in_tx_view.within(tx), &records, now))
            .await?;
        // Writes routed before the switch: upgrade them too.
        let late = (upgrade.collect)(&view)?;
        if !late.is_empty() {
            let view: &dyn StorageView = &view;
            view.write(move |tx| apply(tx, &late, crate::framework::now_ns()))
                .await?;
        }
        log::info!("mounts: upgraded the data of {} ({upgraded} records)", entry.path);
        Ok(true)
    }

    /// Move the secrets engine at `from` to `to` (both sanitized). Its data stays under its uuid, so the move is
    /// the table change alone. Returns the migration id.
    pub async fn remount(&self, from: &str, to: &str) -> Result<String, CoreError> {
        let _guard = self.mounts.change.lock().await;
        let mut tables = (*self.mount_tables()).clone();
        let Some(index) = tables.secret.iter().position(|e| e.path == from) else {
            return Err(CoreError::InvalidRequest(format!("no matching mount at {from:?}")));
        };
        let others = MountTables {
            secret: tables.secret.iter().filter(|e| e.path != from).cloned().collect(),
            auth: tables.auth.clone(),
        };
        if let Some(existing) = others.conflict(to) {
            return Err(CoreError::InvalidRequest(format!(
                "path already in use at {existing:?}"
            )));
        }
        tables.secret[index].path = to.to_string();
        self.commit_tables(tables, |_| Ok(())).await?;
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(mut migrations) = self.mounts.migrations.lock() {
            if migrations.len() >= MIGRATIONS_KEPT {
                migrations.remove(0);
            }
            migrations.push((
                id.clone(),
                MigrationInfo {
                    source_mount: from.to_string(),
                    target_mount: to.to_string(),
                    status: "success",
                },
            ));
        }
        log::info!("mounts: moved {from} to {to} (migration {id})");
        Ok(id)
    }

    pub fn migration_status(&self, id: &str) -> Option<MigrationInfo> {
        let migrations = self.mounts.migrations.lock().ok()?;
        migrations.iter().find(|(m, _)| m == id).map(|(_, info)| info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_conflicts() {
        let mut tables = MountTables::defaults();
        tables
            .secret
            .push(MountEntry::new("secret/", "kv", "", Some(BTreeMap::new())));
        assert_eq!(tables.matching("secret/foo/").unwrap().0.path, "secret/");
        assert_eq!(tables.matching("auth/token/x/").unwrap().1, Table::Auth);
        assert!(tables.matching("nope/").is_none());
        assert_eq!(tables.conflict("secret/sub/").as_deref(), Some("secret/"));
        assert_eq!(tables.conflict("sec/"), None);
        assert_eq!(tables.conflict("auth/"), Some("auth/token/".into()));
        assert_eq!(sanitize_path("/a/b"), "a/b/");
    }

    #[test]
    fn info_shapes() {
        let tables = MountTables::defaults();
        let sys = tables.secret[0].info(Table::Secret);
        assert_eq!(sys["options"], Value::Null);
        assert_eq!(sys["config"]["passthrough_request_headers"], json!(["Accept"]));
        assert!(sys.get("deprecation_status").is_none());
        let token = tables.auth[0].info(Table::Auth);
        assert_eq!(token["config"]["token_type"], "default-service");
        assert!(tables.auth[0].accessor.starts_with("auth_token_"));
    }
}
