//! Audit devices: the durable audit table (which device is enabled where, with its options), each device's HMAC
//! salt (behind the barrier, written with the table), the devices built from it at unseal, the devices declared in
//! the server configuration (created and removed at unseal, as OpenBao's declarative audit devices), and the
//! broker that writes every entry to every device. An entry counts as recorded when at least one device wrote it;
//! when none did, the request is refused before anything is done (fail closed).

mod batch;
pub mod chain;
pub mod format;

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use self::format::{AuditInput, FormatOptions};
use super::{Core, CoreError};
use crate::logical::{AuditDeviceConfig, AuditSink};
use crate::storage::{barrier, SecretKey, StorageError, Tree, TxError, KEY_LEN};

/// The audit table's record in the `mounts` tree.
pub(crate) const AUDIT_TABLE_KEY: &[u8] = b"audit";
/// Table of a device enabled through the API; `audit-config` for one declared in the configuration.
pub const API_TABLE: &str = "audit";
pub const CONFIG_TABLE: &str = "audit-config";
/// What a client is answered (500) when no device could record its request or its response (OpenBao's
/// `ErrInternalError`).
pub const AUDIT_FAILED: &str = "internal error";

fn salt_key(uuid: &str) -> Vec<u8> {
    format!("audit-salt/{uuid}").into_bytes()
}

/// A device declared in the server configuration (`audit "file" "path" { ... }`), and the configuration's audit
/// switches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSettings {
    pub declared: Vec<DeclaredDevice>,
    /// `unsafe_allow_api_audit_creation`: `sys/audit/:path` may enable devices.
    pub allow_api_creation: bool,
    /// `allow_audit_log_prefixing`: the `prefix` option is accepted.
    pub allow_prefixing: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredDevice {
    pub kind: String,
    pub path: String,
    pub description: String,
    pub local: bool,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditTableEntry {
    /// With a trailing slash.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub local: bool,
    pub uuid: String,
    pub accessor: String,
    /// `audit` (API) or `audit-config` (declared).
    pub table: String,
}

/// An enabled device: its table entry, its sink and the salt its entries are HMAC'd with.
pub struct Device {
    pub entry: AuditTableEntry,
    sink: Arc<dyn AuditSink>,
    salt: SecretKey,
    /// The salt keyed once for HMAC.
    key: format::SaltHmac,
    format: FormatOptions,
    /// With `hmac_chain = "true"`: the key that chains entries.
    chain_key: Option<Zeroizing<Vec<u8>>>,
    /// Held while entries are written, so the file's order is the order they were written in; holds the last
    /// entry's chain value (for a chaining device).
    write_order: std::sync::Mutex<[u8; chain::LINK_LEN]>,
    /// For a sink that records several entries with one write: the entries waiting to be written together.
    pending: Option<batch::Pending>,
}

impl Device {
    fn write_order(&self) -> std::sync::MutexGuard<'_, [u8; chain::LINK_LEN]> {
        self.write_order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write one formatted entry now, chained when the device chains its entries.
    fn write(&self, line: &[u8]) -> std::io::Result<()> {
        let end = line.len();
        self.write_entries(&mut self.write_order(), line, &[end])
    }

    /// Write `lines` (entries ending at `ends`) with the write order held (`last`: the last chain value).
    fn write_entries(&self, last: &mut [u8; chain::LINK_LEN], lines: &[u8], ends: &[usize]) -> std::io::Result<()> {
        let Some(key) = &self.chain_key else {
            return self.sink.write_entry(lines);
        };
        let mut sealed = Vec::with_capacity(lines.len() + ends.len() * 80);
        let (mut link, mut start) = (*last, 0);
        for &end in ends {
            let mut line = lines[start..end].to_vec();
            link = chain::seal_line(key, &link, &mut line);
            sealed.extend_from_slice(&line);
            start = end;
        }
        self.sink.write_entry(&sealed)?;
        *last = link;
        Ok(())
    }

    /// Write the batch being filled (the next entry opens a new one) and tell its requests how it went.
    fn flush_pending(&self) {
        let Some(pending) = &self.pending else {
            return;
        };
        let (batch, mut last) = {
            let mut open = pending.lock();
            // Taken before the batch is let go, so batches are written in the order they were filled.
            let last = self.write_order();
            (pending.take(&mut open), last)
        };
        if batch.ends.is_empty() {
            return;
        }
        let written = self.write_entries(&mut last, &batch.lines, &batch.ends);
        drop(last);
        if let Err(e) = &written {
            log::error!(
                "audit: device {} failed to write {} entries: {e}",
                self.entry.path,
                batch.ends.len()
            );
        }
        batch.outcome.settle(written.is_ok());
        pending.recycle(batch.lines);
    }
}

/// The `auth` and `request` parts of a request's entries, by device, as the request entry wrote them (see
/// [`AuditInput::shared`]).
#[derive(Default)]
pub struct SharedParts(std::sync::Mutex<Vec<(Arc<Device>, Vec<u8>)>>);

impl SharedParts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<Device>, Vec<u8>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes the batches a request leads when it is done with them, or when it is dropped while it lets the others
/// run (a client that went away): the other requests of the batch wait for it.
struct LeadBatches<'a> {
    devices: &'a [Arc<Device>],
    leads: Vec<usize>,
}

impl Drop for LeadBatches<'_> {
    fn drop(&mut self) {
        for &i in &self.leads {
            self.devices[i].flush_pending();
        }
    }
}

thread_local! {
    /// The line being formatted on this thread, reused from entry to entry (its bytes are copied into a batch or
    /// written before the next entry is formatted).
    static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(4096));
}

/// `sys/config/auditing/request-headers/:header`: whether a header's values are HMAC'd in entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSetting {
    pub hmac: bool,
}

/// The request headers that entries record, by lower-case name (OpenBao's `AuditedHeadersConfig`).
pub type AuditedHeaders = BTreeMap<String, HeaderSetting>;

/// The audited headers' record in the `core` tree (behind the barrier).
pub(crate) const AUDITED_HEADERS_KEY: &[u8] = b"audited-headers";

#[derive(Default)]
pub struct AuditState {
    devices: ArcSwap<Vec<Arc<Device>>>,
    headers: ArcSwap<AuditedHeaders>,
    /// Serializes table changes, so the table in memory is the one on disk.
    change: tokio::sync::Mutex<()>,
}

fn codec(e: impl std::fmt::Display) -> CoreError {
    CoreError::Storage(StorageError::Codec(format!("audit table: {e}")))
}

fn invalid(text: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(text.into())
}

/// Build a device's sink and formatter from its entry (OpenBao's `newAuditBackend`).
fn build(entry: &AuditTableEntry, salt: SecretKey) -> Result<Device, String> {
    let factory =
        super::registry::audit_device(&entry.kind).ok_or_else(|| format!("unknown backend type: {:?}", entry.kind))?;
    let format = FormatOptions::parse(&entry.options)?;
    let sink = factory(&AuditDeviceConfig {
        options: &entry.options,
    })?;
    let chained = match entry.options.get("hmac_chain") {
        Some(v) => crate::logical::audit::parse_go_bool(v)?,
        None => false,
    };
    let last_link = chained
        .then(|| sink.last_entry().and_then(|line| chain::last_link(&line)))
        .flatten();
    Ok(Device {
        entry: entry.clone(),
        pending: sink.takes_batches().then(batch::Pending::default),
        sink,
        key: format::SaltHmac::new(&salt[..]),
        chain_key: chained.then(|| chain::chain_key(&salt[..])),
        write_order: std::sync::Mutex::new(last_link.unwrap_or(chain::GENESIS)),
        salt,
        format,
    })
}

/// OpenBao's test message: a request entry for `sys/audit/test`, written when a device is enabled.
fn probe(device: &Device) -> Result<(), String> {
    if device.entry.options.get("skip_test").map(String::as_str) == Some("true") {
        return Ok(());
    }
    let req = crate::core::Request {
        id: uuid::Uuid::new_v4().to_string(),
        operation: crate::core::Operation::Update,
        path: "sys/audit/test".into(),
        data: serde_json::Map::new(),
        client_token: None,
        wrap_ttl: None,
        remote_addr: None,
        remote_port: None,
        secret: None,
        headers: Default::default(),
    };
    let auth = format::AuthView {
        token_type: "default".into(),
        ..Default::default()
    };
    let input = AuditInput {
        req: &req,
        auth: &auth,
        mount: None,
        error: None,
        response: None,
        login: false,
        shared: None,
    };
    device
        .write(&format::entry_line(
            &input,
            false,
            &device.format,
            &device.key,
            &AuditedHeaders::new(),
        ))
        .map_err(|e| format!("audit backend failed test message: {e}"))
}

impl Core {
    /// The enabled devices, in the order they were enabled.
    pub fn audit_devices(&self) -> Arc<Vec<Arc<Device>>> {
        self.audit.devices.load_full()
    }

    /// Record one entry on every device: `Err` when devices are enabled and none of them recorded it.
    fn broadcast(&self, input: &AuditInput, response_entry: bool) -> Result<(), ()> {
        let devices = self.audit.devices.load();
        if devices.is_empty() {
            return Ok(());
        }
        let headers = self.audit.headers.load();
        let mut recorded = false;
        for device in devices.iter() {
            let line = format::entry_line(input, response_entry, &device.format, &device.key, &headers);
            recorded |= self.write_now(device, &line, input, response_entry);
        }
        if recorded {
            Ok(())
        } else {
            Err(())
        }
    }

    /// [`broadcast`](Self::broadcast), with the entry joining each batching device's group commit: written with
    /// the entries of the other requests that are ready now.
    async fn broadcast_grouped(&self, input: &AuditInput<'_>, response_entry: bool) -> Result<(), ()> {
        let devices = self.audit.devices.load_full();
        if devices.is_empty() {
            return Ok(());
        }
        let mut recorded = false;
        let mut waiting = Vec::new();
        let mut lead = LeadBatches {
            devices: &devices,
            leads: Vec::new(),
        };
        {
            let headers = self.audit.headers.load();
            LINE.with(|line| {
                let mut line = line.borrow_mut();
                for (i, device) in devices.iter().enumerate() {
                    self.format_sharing(input, response_entry, device, &headers, &mut line);
                    let Some(pending) = &device.pending else {
                        recorded |= self.write_now(device, &line, input, response_entry);
                        continue;
                    };
                    let ticket = pending.add(&line);
                    if ticket.leads {
                        lead.leads.push(i);
                    }
                    waiting.push((i, ticket.outcome));
                }
                if line.capacity() > batch::KEPT_BUFFER_MAX {
                    *line = Vec::with_capacity(4096);
                }
            });
        }
        if !lead.leads.is_empty() {
            tokio::task::yield_now().await;
        }
        drop(lead);
        for (i, outcome) in waiting {
            if outcome.recorded().await {
                recorded = true;
            } else {
                log_unrecorded(&devices[i], input, response_entry, "its batch was not written");
            }
        }
        if recorded {
            Ok(())
        } else {
            Err(())
        }
    }

    /// A device's entry; a response entry copies the parts its request entry left in `input.shared` (a login's
    /// response entry has its own `auth`: its request entry does not share).
    fn format_sharing(
        &self,
        input: &AuditInput,
        response_entry: bool,
        device: &Arc<Device>,
        headers: &AuditedHeaders,
        line: &mut Vec<u8>,
    ) {
        let Some(shared) = input.shared.filter(|_| !input.login) else {
            format::entry_line_sharing(input, response_entry, &device.format, &device.key, headers, None, line);
            return;
        };
        let mut parts = shared.lock();
        let known = parts.iter().find(|(d, _)| Arc::ptr_eq(d, device)).map(|(_, p)| &p[..]);
        let range = format::entry_line_sharing(
            input,
            response_entry,
            &device.format,
            &device.key,
            headers,
            known.filter(|_| response_entry),
            line,
        );
        if !response_entry {
            parts.push((device.clone(), line[range].to_vec()));
        }
    }

    /// Write an entry to a device that takes one at a time: `true` when it was recorded.
    fn write_now(&self, device: &Device, line: &[u8], input: &AuditInput, response_entry: bool) -> bool {
        match device.write(line) {
            Ok(()) => true,
            Err(e) => {
                log_unrecorded(device, input, response_entry, &e.to_string());
                false
            }
        }
    }

    pub fn has_audit_devices(&self) -> bool {
        !self.audit.devices.load().is_empty()
    }

    /// Audit a request before it is processed; `Err` (refuse it) when no device recorded it.
    pub fn audit_request(&self, input: &AuditInput) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start(entry_metrics(false).0);
        counted(false, self.broadcast(input, false))
    }

    /// [`audit_request`](Self::audit_request) in the request pipeline: the entry is written with those of the other
    /// requests ready at the same time.
    pub async fn audit_request_grouped(&self, input: &AuditInput<'_>) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start(entry_metrics(false).0);
        counted(false, self.broadcast_grouped(input, false).await)
    }

    /// [`audit_response`](Self::audit_response) in the request pipeline, grouped as
    /// [`audit_request_grouped`](Self::audit_request_grouped).
    pub async fn audit_response_grouped(&self, input: &AuditInput<'_>) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start(entry_metrics(true).0);
        counted(true, self.broadcast_grouped(input, true).await)
    }

    /// Audit the answer to a request; `Err` when no device recorded it (the client then gets an internal error,
    /// as in OpenBao, though what the request did stays done).
    pub fn audit_response(&self, input: &AuditInput) -> Result<(), CoreError> {
        let _timer = crate::telemetry::Timer::start(entry_metrics(true).0);
        counted(true, self.broadcast(input, true))
    }

    /// `sys/audit-hash/:path`.
    pub fn audit_hash(&self, path: &str, input: &str) -> Result<String, CoreError> {
        let path = super::mounts::sanitize_path(path);
        let devices = self.audit.devices.load();
        let device = devices
            .iter()
            .find(|d| d.entry.path == path)
            .ok_or_else(|| invalid(format!("unknown audit backend {path:?}")))?;
        Ok(device.key.identified(input))
    }

    /// `sys/audit-chain-key/:path`: the key that verifies a chaining device's entries (`vault audit verify`).
    pub fn audit_chain_key(&self, path: &str) -> Result<String, CoreError> {
        let path = super::mounts::sanitize_path(path);
        let devices = self.audit.devices.load();
        let device = devices
            .iter()
            .find(|d| d.entry.path == path)
            .ok_or_else(|| invalid(format!("unknown audit backend {path:?}")))?;
        let key = device
            .chain_key
            .as_ref()
            .ok_or_else(|| invalid(format!("audit device {path:?} does not chain its entries (hmac_chain)")))?;
        Ok(hex::encode(&key[..]))
    }

    /// Reopen every device's destination (`SIGHUP`).
    pub fn reload_audit_devices(&self) {
        for device in self.audit.devices.load().iter() {
            match device.sink.reload() {
                Ok(()) => log::info!("audit: reloaded device {}", device.entry.path),
                Err(e) => log::error!("audit: reloading device {} failed: {e}", device.entry.path),
            }
        }
    }

    fn install_devices(&self, devices: Vec<Arc<Device>>) {
        self.audit.devices.store(Arc::new(devices));
    }

    /// Forget the devices and the audited headers (at seal).
    pub(crate) fn unload_audit(&self) {
        self.install_devices(Vec::new());
        self.audit.headers.store(Arc::new(AuditedHeaders::new()));
    }

    /// The request headers entries record (`sys/config/auditing/request-headers`).
    pub fn audited_headers(&self) -> Arc<AuditedHeaders> {
        self.audit.headers.load_full()
    }

    fn read_audited_headers(&self) -> Result<AuditedHeaders, CoreError> {
        let stored: AuditedHeaders = match self.storage.get_raw(Tree::Core, AUDITED_HEADERS_KEY)? {
            None => AuditedHeaders::new(),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(codec)?,
        };
        Ok(stored.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect())
    }

    /// Add, change (`Some`) or remove (`None`) an audited header; durable before it applies.
    pub async fn set_audited_header(&self, header: &str, setting: Option<HeaderSetting>) -> Result<(), CoreError> {
        let _guard = self.audit.change.lock().await;
        let mut headers = (*self.audited_headers()).clone();
        let name = header.to_ascii_lowercase();
        match setting {
            Some(setting) => {
                headers.insert(name, setting);
            }
            None => {
                if headers.remove(&name).is_none() {
                    return Ok(());
                }
            }
        }
        let encoded = serde_json::to_vec(&headers).map_err(codec)?;
        self.storage
            .write(move |tx| {
                tx.put_raw(Tree::Core, AUDITED_HEADERS_KEY, &encoded)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        self.audit.headers.store(Arc::new(headers));
        Ok(())
    }

    fn read_audit_table(&self) -> Result<Vec<AuditTableEntry>, CoreError> {
        match self.storage.get_raw(Tree::Mounts, AUDIT_TABLE_KEY)? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(codec),
        }
    }

    fn read_salt(&self, uuid: &str) -> Result<SecretKey, CoreError> {
        let raw = self
            .storage
            .get_raw(Tree::Core, &salt_key(uuid))?
            .filter(|s| s.len() == KEY_LEN)
            .ok_or_else(|| codec(format!("salt of device {uuid} missing")))?;
        let mut salt = Zeroizing::new([0u8; KEY_LEN]);
        salt.copy_from_slice(&raw);
        Ok(salt)
    }

    /// Load the audit table at unseal and build its devices, then create and remove the devices declared in the
    /// configuration. A device that cannot be built is logged and left out, unless none can be (OpenBao's
    /// "failed to setup audit table"), so a table with devices never runs unaudited.
    pub(crate) fn load_audit(&self) -> Result<(), CoreError> {
        let table = self.read_audit_table()?;
        let mut devices = Vec::new();
        for entry in &table {
            match build(entry, self.read_salt(&entry.uuid)?) {
                Ok(device) => {
                    log::info!("audit: enabled {} device at {}", entry.kind, entry.path);
                    devices.push(Arc::new(device));
                }
                Err(e) => log::error!("audit: device {} could not be set up: {e}", entry.path),
            }
        }
        if !table.is_empty() && devices.is_empty() {
            return Err(CoreError::Internal("failed to setup audit table".into()));
        }
        self.audit.headers.store(Arc::new(self.read_audited_headers()?));
        self.install_devices(devices);
        self.reconcile_declared_audit()
    }

    /// OpenBao's `handleAuditLogSetup`: declared devices missing from the table are enabled, declared devices in
    /// the table must be unchanged, and devices that came from the configuration but are no longer declared are
    /// disabled. API-created devices are left alone.
    fn reconcile_declared_audit(&self) -> Result<(), CoreError> {
        let settings = &self.settings.audit;
        let mut seen: Vec<String> = Vec::new();
        for declared in &settings.declared {
            let path = super::mounts::sanitize_path(&declared.path);
            if path == "/" {
                return Err(invalid("audit config is missing a path"));
            }
            if seen.contains(&path) {
                return Err(invalid(format!(
                    "two audit devices with same path ({path}) exist in config"
                )));
            }
            if declared.options.contains_key("prefix") && !settings.allow_prefixing {
                return Err(invalid("audit log prefixing is not allowed"));
            }
            seen.push(path.clone());
            let current = self.audit_devices();
            match current.iter().find(|d| d.entry.path == path) {
                None => {
                    log::info!("audit: adding new audit device {path}");
                    let entry = new_entry(&path, declared, CONFIG_TABLE);
                    self.enable_audit_blocking(entry)
                        .map_err(|e| invalid(format!("failed to create new audit device {path}: {e}")))?;
                }
                Some(existing) if existing.entry.table != CONFIG_TABLE => {
                    return Err(invalid(format!(
                        "audit device in configuration (path: {path}) was already created by API; remove the API audit device before attempting to create a duplicate configuration-based version"
                    )));
                }
                Some(existing) => {
                    let e = &existing.entry;
                    if e.kind != declared.kind
                        || e.description != declared.description
                        || e.local != declared.local
                        || e.options != declared.options
                    {
                        return Err(invalid(format!(
                            "failed to validate audit device config {path}: modifications to audit devices are not allowed"
                        )));
                    }
                }
            }
        }
        let stale: Vec<String> = self
            .audit_devices()
            .iter()
            .filter(|d| d.entry.table == CONFIG_TABLE && !seen.contains(&d.entry.path))
            .map(|d| d.entry.path.clone())
            .collect();
        for path in stale {
            log::info!("audit: disabling removed audit device {path}");
            self.commit_audit_blocking(|table| table.retain(|e| e.path != path), None)?;
        }
        Ok(())
    }

    /// Build and test the device, then write it to the table with its new salt. Returns the table as written.
    fn prepare_enable(&self, mut entry: AuditTableEntry) -> Result<(Device, AuditTableEntry), CoreError> {
        if entry.path == "/" {
            return Err(invalid("backend path must be specified"));
        }
        let conflict = self
            .audit_devices()
            .iter()
            .any(|d| d.entry.path.starts_with(&entry.path) || entry.path.starts_with(&d.entry.path));
        if conflict {
            return Err(invalid("path already in use"));
        }
        entry.uuid = uuid::Uuid::new_v4().to_string();
        let n: u32 = rand::RngExt::random(&mut rand::rng());
        entry.accessor = format!("audit_{}_{n:08x}", entry.kind);
        let device = build(&entry, barrier::random_key()).map_err(invalid)?;
        probe(&device).map_err(invalid)?;
        Ok((device, entry))
    }

    /// Enable a device at unseal (declared in the configuration).
    fn enable_audit_blocking(&self, entry: AuditTableEntry) -> Result<(), CoreError> {
        let (device, entry) = self.prepare_enable(entry)?;
        let salt = Zeroizing::new(device.salt.to_vec());
        self.commit_audit_blocking(move |table| table.push(entry.clone()), Some((device, salt)))
    }

    /// Write the table changed by `change` (and a new device's salt) and flush, then install the devices it lists.
    fn commit_audit_blocking(
        &self,
        change: impl FnOnce(&mut Vec<AuditTableEntry>),
        added: Option<(Device, Zeroizing<Vec<u8>>)>,
    ) -> Result<(), CoreError> {
        let mut table = self.read_audit_table()?;
        let before: Vec<String> = table.iter().map(|e| e.uuid.clone()).collect();
        change(&mut table);
        let removed: Vec<String> = before
            .into_iter()
            .filter(|u| !table.iter().any(|e| &e.uuid == u))
            .collect();
        let encoded = serde_json::to_vec(&table).map_err(codec)?;
        let new_salt = added.as_ref().map(|(d, s)| (salt_key(&d.entry.uuid), s.clone()));
        self.storage.transact(move |tx| {
            tx.put_raw(Tree::Mounts, AUDIT_TABLE_KEY, &encoded)?;
            if let Some((key, salt)) = &new_salt {
                tx.put_raw(Tree::Core, key, salt)?;
            }
            for uuid in &removed {
                tx.remove(Tree::Core, &salt_key(uuid))?;
            }
            Ok::<_, TxError<CoreError>>(())
        })??;
        self.storage.flush()?;
        self.install_table(&table, added.map(|(d, _)| d));
        Ok(())
    }

    /// Make the devices in memory those of `table`: existing ones are kept, `added` joins.
    fn install_table(&self, table: &[AuditTableEntry], added: Option<Device>) {
        let current = self.audit_devices();
        let added = added.map(Arc::new);
        let devices = table
            .iter()
            .filter_map(|e| {
                current
                    .iter()
                    .find(|d| d.entry.uuid == e.uuid)
                    .cloned()
                    .or_else(|| added.clone().filter(|d| d.entry.uuid == e.uuid))
            })
            .collect();
        self.install_devices(devices);
    }

    /// `sys/audit/:path` (write): enable a device through the API.
    pub async fn enable_audit(&self, path: &str, declared: &DeclaredDevice) -> Result<(), CoreError> {
        let _guard = self.audit.change.lock().await;
        let entry = new_entry(&super::mounts::sanitize_path(path), declared, API_TABLE);
        let (device, entry) = self.prepare_enable(entry)?;
        let mut table = self.read_audit_table()?;
        table.push(entry.clone());
        let encoded = serde_json::to_vec(&table).map_err(codec)?;
        let (key, salt) = (salt_key(&entry.uuid), Zeroizing::new(device.salt.to_vec()));
        self.storage
            .write(move |tx| {
                tx.put_raw(Tree::Mounts, AUDIT_TABLE_KEY, &encoded)?;
                tx.put_raw(Tree::Core, &key, &salt)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        self.install_table(&table, Some(device));
        log::info!("audit: enabled {} device at {}", entry.kind, entry.path);
        Ok(())
    }

    /// `sys/audit/:path` (delete): disable an API-created device. Nothing enabled there is not an error.
    pub async fn disable_audit(&self, path: &str) -> Result<(), CoreError> {
        let path = super::mounts::sanitize_path(path);
        if path == "/" {
            return Err(invalid("audit device path must be specified"));
        }
        let _guard = self.audit.change.lock().await;
        let mut table = self.read_audit_table()?;
        let Some(index) = table.iter().position(|e| e.path == path) else {
            return Ok(());
        };
        if table[index].table == CONFIG_TABLE {
            return Err(invalid("cannot disable configuration-managed audit device"));
        }
        let removed = table.remove(index);
        let encoded = serde_json::to_vec(&table).map_err(codec)?;
        let key = salt_key(&removed.uuid);
        self.storage
            .write(move |tx| {
                tx.put_raw(Tree::Mounts, AUDIT_TABLE_KEY, &encoded)?;
                tx.remove(Tree::Core, &key)?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        self.install_table(&table, None);
        log::info!("audit: disabled device {path}");
        Ok(())
    }
}

/// OpenBao's metrics of an entry kind: its timing and its failure counter.
fn entry_metrics(response_entry: bool) -> (&'static str, &'static str) {
    if response_entry {
        ("vault.audit.log_response", "vault.audit.log_response_failure")
    } else {
        ("vault.audit.log_request", "vault.audit.log_request_failure")
    }
}

/// Count a broadcast's outcome and answer it: `Err` (an internal error) when no device recorded the entry.
fn counted(response_entry: bool, outcome: Result<(), ()>) -> Result<(), CoreError> {
    // OpenBao's failure counter moves by 0 on success (so it exists once auditing ran).
    crate::telemetry::count(entry_metrics(response_entry).1, u64::from(outcome.is_err()));
    outcome.map_err(|()| CoreError::Internal(AUDIT_FAILED.into()))
}

fn log_unrecorded(device: &Device, input: &AuditInput, response_entry: bool, why: &str) {
    log::error!(
        "audit: device {} failed to log the {} of request {}: {why}",
        device.entry.path,
        if response_entry { "response" } else { "request" },
        input.req.id
    );
}

fn new_entry(path: &str, declared: &DeclaredDevice, table: &str) -> AuditTableEntry {
    AuditTableEntry {
        path: path.to_string(),
        kind: declared.kind.clone(),
        description: declared.description.clone(),
        options: declared.options.clone(),
        local: declared.local,
        uuid: String::new(),
        accessor: String::new(),
        table: table.to_string(),
    }
}
