//! Server configuration from an HCL file in Vault's format. Unknown blocks or keys and wrong types are errors that
//! name the file and the key, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::{Body, Value};

pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;
/// OpenBao's default `max_request_json_memory` (bytes of a JSON body's estimated decoded size; 0 in the file keeps it).
pub const DEFAULT_MAX_JSON_MEMORY: i64 = 32 * 1024 * 1024 + 512 * 1024;
/// OpenBao's default `max_request_json_strings` (0 in the file keeps it).
pub const DEFAULT_MAX_JSON_STRINGS: i64 = 1000;
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);
pub use crate::core::DEFAULT_TOMBSTONE_RETENTION;
/// OpenBao's default `http_read_timeout`.
pub const DEFAULT_HTTP_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMinVersion {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub address: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_min_version: TlsMinVersion,
    /// How long a client may take to send a request body (OpenBao's name; the request head has its own, shorter
    /// limit). Past it the request is answered 408 and its connection closed.
    pub http_read_timeout: Duration,
    /// How many connections one client address may hold open at once (idle kept-alive ones included); a
    /// connection beyond it is closed as soon as it is accepted. 0: no limit.
    pub max_connections_per_client: usize,
    /// OpenBao 2.5+: the unauthenticated `sys/rekey/*` endpoints are off unless this is set to false.
    pub disable_unauthed_rekey_endpoints: bool,
    /// OpenBao 2.5+: the unauthenticated `sys/generate-root/*` endpoints are off unless this is set to false.
    pub disable_unauthed_generate_root_endpoints: bool,
    /// `telemetry { unauthenticated_metrics_access = true }`: `GET sys/metrics` needs no token on this listener.
    pub unauthenticated_metrics_access: bool,
    /// OpenBao's `x_forwarded_for_*` settings: in force when `authorized_addrs` is not empty.
    pub x_forwarded_for: ForwardedForConfig,
}

/// A listener's `X-Forwarded-For` trust (OpenBao's names and defaults; see `http::forwarded_for`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardedForConfig {
    /// `x_forwarded_for_authorized_addrs`: the proxies whose header is believed.
    pub authorized_addrs: Vec<crate::framework::cidr::Cidr>,
    /// `x_forwarded_for_hop_skips`: entries skipped from the rear of the chain.
    pub hop_skips: u64,
    /// `x_forwarded_for_reject_not_authorized`: refuse a header from another address (else ignore it).
    pub reject_not_authorized: bool,
    /// `x_forwarded_for_reject_not_present`: refuse a request without the header (else serve it as it came).
    pub reject_not_present: bool,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            address: "127.0.0.1:8200".into(),
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            tls_min_version: TlsMinVersion::Tls12,
            http_read_timeout: DEFAULT_HTTP_READ_TIMEOUT,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            disable_unauthed_rekey_endpoints: true,
            disable_unauthed_generate_root_endpoints: true,
            unauthenticated_metrics_access: false,
            x_forwarded_for: ForwardedForConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    /// Data directory of the `sled` storage; `None` in dev mode and with PostgreSQL.
    pub storage_path: Option<PathBuf>,
    /// The `storage "postgresql"` stanza, instead of sled.
    pub postgresql: Option<crate::storage::postgres::PgOptions>,
    pub api_addr: Option<String>,
    pub cluster_addr: Option<String>,
    pub cluster_name: Option<String>,
    pub ui: bool,
    pub default_lease_ttl: Duration,
    pub max_lease_ttl: Duration,
    pub log_level: Option<String>,
    /// `log_format`: "standard" (one text line per record) or "json" (one JSON object per line).
    pub log_format: Option<String>,
    /// `log_requests_level` (OpenBao's name): the level of the line logged per answered request; `None` when
    /// "off" or "" (no such line). Absent from the file: off, as in OpenBao.
    pub log_requests_level: Option<log::Level>,
    pub disable_mlock: bool,
    /// Bytes; 0 means no limit.
    pub max_request_size: usize,
    /// OpenBao's limit on a JSON body's estimated decoded size, in bytes (negative: no limit).
    pub max_request_json_memory: i64,
    /// OpenBao's limit on the strings (object keys included) of a JSON body (negative: no limit).
    pub max_request_json_strings: i64,
    /// How long used wrapping tokens are remembered (to report their reuse).
    pub wrapping_tombstone_retention: Duration,
    /// `audit "type" "path" { ... }` stanzas and the audit switches.
    pub audit: crate::core::audit::AuditSettings,
    /// `user_lockout "all"|"userpass"|"approle"|"ldap" { ... }` stanzas.
    pub user_lockout: crate::core::lockout::UserLockoutSettings,
    /// The `seal` stanzas: at most one enabled, and one with `disabled = true` to migrate away from.
    pub seals: Vec<SealStanza>,
    /// The `telemetry` block (without one: Prometheus is not enabled).
    pub telemetry: crate::telemetry::TelemetryConfig,
}

/// One `seal "<type>" { ... }` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStanza {
    pub seal: crate::seal::auto::AutoSealConfig,
    /// Set on the seal being migrated away from.
    pub disabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: vec![],
            storage_path: None,
            postgresql: None,
            api_addr: None,
            cluster_addr: None,
            cluster_name: None,
            ui: false,
            default_lease_ttl: DEFAULT_LEASE_TTL,
            max_lease_ttl: DEFAULT_LEASE_TTL,
            log_level: None,
            log_format: None,
            // Off unless asked, as in OpenBao: on K/V reads the line costs about a fifth of the throughput (36k vs
            // 45k req/s, release build, 2026-12-04), every request's line going through the log's one writer.
            log_requests_level: None,
            disable_mlock: false,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_request_json_memory: DEFAULT_MAX_JSON_MEMORY,
            max_request_json_strings: DEFAULT_MAX_JSON_STRINGS,
            wrapping_tombstone_retention: DEFAULT_TOMBSTONE_RETENTION,
            audit: crate::core::audit::AuditSettings::default(),
            user_lockout: crate::core::lockout::UserLockoutSettings::default(),
            seals: vec![],
            telemetry: crate::telemetry::TelemetryConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("error loading configuration from {file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

pub use crate::duration::parse_duration;

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            message: format!("cannot read file: {e}"),
        })?;
        Config::parse(&text).map_err(|message| ConfigError { file, message })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let body: Body = hcl::from_str(text).map_err(|e| format!("invalid HCL: {e}"))?;
        let mut config = Config::default();
        for attr in body.attributes() {
            let key = attr.key();
            let value = Value::from(attr.expr().clone());
            match key {
                "api_addr" => config.api_addr = Some(as_string(key, &value)?),
                "cluster_addr" => config.cluster_addr = Some(as_string(key, &value)?),
                "cluster_name" => config.cluster_name = Some(as_string(key, &value)?),
                "ui" => config.ui = as_bool(key, &value)?,
                "default_lease_ttl" => config.default_lease_ttl = as_duration(key, &value)?,
                "max_lease_ttl" => config.max_lease_ttl = as_duration(key, &value)?,
                "log_level" => config.log_level = Some(as_log_level(key, &value)?),
                "log_format" => config.log_format = Some(as_log_format(key, &value)?),
                "log_requests_level" => config.log_requests_level = as_requests_level(key, &value)?,
                "disable_mlock" => config.disable_mlock = as_bool(key, &value)?,
                "wrapping_tombstone_retention" => config.wrapping_tombstone_retention = as_duration(key, &value)?,
                "unsafe_allow_api_audit_creation" => config.audit.allow_api_creation = as_bool(key, &value)?,
                "allow_audit_log_prefixing" => config.audit.allow_prefixing = as_bool(key, &value)?,
                "max_request_size" => {
                    let n = as_i64(key, &value)?;
                    config.max_request_size = if n < 0 {
                        0
                    } else if n == 0 {
                        DEFAULT_MAX_REQUEST_SIZE
                    } else {
                        n as usize
                    };
                }
                "max_request_json_memory" => {
                    let n = as_i64(key, &value)?;
                    if n != 0 {
                        config.max_request_json_memory = n;
                    }
                }
                "max_request_json_strings" => {
                    let n = as_i64(key, &value)?;
                    if n != 0 {
                        config.max_request_json_strings = n;
                    }
                }
                other => return Err(format!("unknown key {other:?}")),
            }
        }
        let mut storage_seen = false;
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            match block.identifier() {
                "listener" => {
                    if labels != ["tcp"] {
                        return Err(format!(
                            "unsupported listener type {labels:?}; only listener \"tcp\" exists"
                        ));
                    }
                    config.listeners.push(parse_listener(block.body())?);
                }
                "storage" | "backend" => {
                    if storage_seen {
                        return Err("only one storage block may be given".into());
                    }
                    storage_seen = true;
                    match labels[..] {
                        ["sled"] => config.storage_path = Some(parse_storage(block.body())?),
                        ["postgresql"] => config.postgresql = Some(parse_postgresql(block.body())?),
                        _ => {
                            return Err(format!(
                                "unsupported storage backend {labels:?}; this server stores data in storage \"sled\" \
                                 or storage \"postgresql\""
                            ))
                        }
                    }
                }
                "audit" => config.audit.declared.push(parse_audit(&labels, block.body())?),
                "user_lockout" => {
                    let (name, lockout) = parse_user_lockout(&labels, block.body())?;
                    config.user_lockout.blocks.insert(name, lockout);
                }
                "seal" => config.seals.push(parse_seal(&labels, block.body())?),
                "telemetry" => config.telemetry = parse_telemetry(block.body())?,
                other => return Err(format!("unknown block {other:?}")),
            }
        }
        match (
            config.seals.iter().filter(|s| !s.disabled).count(),
            config.seals.iter().filter(|s| s.disabled).count(),
        ) {
            (0..=1, 0..=1) => {}
            _ => return Err("at most one enabled seal block and one disabled seal block may be given".into()),
        }
        if config.listeners.is_empty() {
            return Err("no listener \"tcp\" block".into());
        }
        if config.storage_path.is_none() && config.postgresql.is_none() {
            return Err("no storage \"sled\" block".into());
        }
        if config.default_lease_ttl > config.max_lease_ttl {
            return Err("default_lease_ttl cannot be greater than max_lease_ttl".into());
        }
        Ok(config)
    }
}

fn parse_listener(body: &Body) -> Result<ListenerConfig, String> {
    let mut listener = ListenerConfig::default();
    for block in body.blocks() {
        if block.identifier() != "telemetry" {
            return Err(format!(
                "unknown block {:?} in listener \"tcp\" block",
                block.identifier()
            ));
        }
        no_blocks("listener \"tcp\" telemetry", block.body())?;
        for attr in block.body().attributes() {
            let key = attr.key();
            let value = Value::from(attr.expr().clone());
            match key {
                "unauthenticated_metrics_access" => {
                    listener.unauthenticated_metrics_access =
                        as_bool("listener.tcp.telemetry.unauthenticated_metrics_access", &value)?
                }
                other => return Err(format!("unknown key {other:?} in listener \"tcp\" telemetry block")),
            }
        }
    }
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("listener.tcp.{key}");
        match key {
            "address" => listener.address = as_string(&qualified, &value)?,
            "tls_disable" => listener.tls_disable = as_bool(&qualified, &value)?,
            "disable_unauthed_rekey_endpoints" => {
                listener.disable_unauthed_rekey_endpoints = as_bool(&qualified, &value)?
            }
            "disable_unauthed_generate_root_endpoints" => {
                listener.disable_unauthed_generate_root_endpoints = as_bool(&qualified, &value)?
            }
            "tls_cert_file" => listener.tls_cert_file = Some(PathBuf::from(as_string(&qualified, &value)?)),
            "tls_key_file" => listener.tls_key_file = Some(PathBuf::from(as_string(&qualified, &value)?)),
            "tls_min_version" => {
                listener.tls_min_version = match as_string(&qualified, &value)?.as_str() {
                    "tls12" => TlsMinVersion::Tls12,
                    "tls13" => TlsMinVersion::Tls13,
                    other => {
                        return Err(format!(
                            "{qualified}: unsupported TLS version {other:?} (use tls12 or tls13)"
                        ))
                    }
                }
            }
            "http_read_timeout" => {
                // As in OpenBao, 0 keeps the default.
                let timeout = as_duration(&qualified, &value)?;
                if !timeout.is_zero() {
                    listener.http_read_timeout = timeout;
                }
            }
            "x_forwarded_for_authorized_addrs" => {
                let entries: Vec<String> = match &value {
                    Value::String(s) => s.split(',').map(str::to_string).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|v| as_string(&qualified, v))
                        .collect::<Result<_, _>>()?,
                    other => return Err(type_error(&qualified, "a string or a list of strings", other)),
                };
                listener.x_forwarded_for.authorized_addrs = entries
                    .iter()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| crate::framework::cidr::Cidr::parse_addr(e))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("error parsing x_forwarded_for_authorized_addrs: {e}"))?;
            }
            "x_forwarded_for_hop_skips" => {
                let n = as_i64(&qualified, &value)?;
                listener.x_forwarded_for.hop_skips = u64::try_from(n)
                    .map_err(|_| format!("x_forwarded_for_hop_skips cannot be negative but set to {n}"))?;
            }
            "x_forwarded_for_reject_not_authorized" => {
                listener.x_forwarded_for.reject_not_authorized = as_bool(&qualified, &value)?
            }
            "x_forwarded_for_reject_not_present" => {
                listener.x_forwarded_for.reject_not_present = as_bool(&qualified, &value)?
            }
            "max_connections_per_client" => {
                let n = as_i64(&qualified, &value)?;
                listener.max_connections_per_client =
                    usize::try_from(n).map_err(|_| type_error(&qualified, "a non-negative integer", &value))?;
            }
            other => return Err(format!("unknown key {other:?} in listener \"tcp\" block")),
        }
    }
    if !listener.tls_disable && (listener.tls_cert_file.is_none() || listener.tls_key_file.is_none()) {
        return Err("listener \"tcp\": tls_cert_file and tls_key_file are required unless tls_disable = true".into());
    }
    Ok(listener)
}

/// The `telemetry` block, with OpenBao's defaults for what it leaves out (a block without
/// `prometheus_retention_time` enables Prometheus for 24 hours; `0` disables it).
fn parse_telemetry(body: &Body) -> Result<crate::telemetry::TelemetryConfig, String> {
    no_blocks("telemetry", body)?;
    let mut telemetry = crate::telemetry::TelemetryConfig {
        configured: true,
        prometheus_retention: Some(crate::telemetry::DEFAULT_PROMETHEUS_RETENTION),
        ..Default::default()
    };
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("telemetry.{key}");
        match key {
            "prometheus_retention_time" => {
                let retention = as_duration(&qualified, &value)?;
                telemetry.prometheus_retention = (!retention.is_zero()).then_some(retention);
            }
            "disable_hostname" => telemetry.disable_hostname = as_bool(&qualified, &value)?,
            "usage_gauge_period" => {
                telemetry.usage_gauge_period = match &value {
                    Value::String(s) if s == "none" => None,
                    _ => Some(as_duration(&qualified, &value)?).filter(|p| !p.is_zero()),
                }
            }
            "lease_metrics_epsilon" => telemetry.lease_metrics_epsilon = as_duration(&qualified, &value)?,
            "num_lease_metrics_buckets" => {
                telemetry.num_lease_metrics_buckets = match &value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| format!("{qualified}: expected a non-negative integer"))?
            }
            "add_lease_metrics_namespace_labels" => {
                telemetry.add_lease_metrics_namespace_labels = as_bool(&qualified, &value)?
            }
            other => return Err(format!("unknown key {other:?} in telemetry block")),
        }
    }
    Ok(telemetry)
}

/// A storage `operator migrate` reads from or writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageTarget {
    Sled(PathBuf),
    Postgres(crate::storage::postgres::PgOptions),
}

/// `operator migrate`'s configuration, as OpenBao's: `storage_source` and `storage_destination` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateConfig {
    pub source: StorageTarget,
    pub destination: StorageTarget,
}

impl MigrateConfig {
    pub fn parse(text: &str) -> Result<MigrateConfig, String> {
        let body: Body = hcl::from_str(text).map_err(|e| format!("invalid HCL: {e}"))?;
        for attr in body.attributes() {
            match attr.key() {
                // OpenBao's migrate takes it for raft destinations; nothing here needs it.
                "cluster_addr" => {}
                other => return Err(format!("unknown key {other:?}")),
            }
        }
        let (mut source, mut destination) = (None, None);
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            let target = match labels[..] {
                ["sled"] => StorageTarget::Sled(parse_storage(block.body())?),
                ["postgresql"] => StorageTarget::Postgres(parse_postgresql(block.body())?),
                _ => {
                    return Err(format!(
                        "unsupported storage {labels:?}; use \"sled\" or \"postgresql\""
                    ))
                }
            };
            let slot = match block.identifier() {
                "storage_source" => &mut source,
                "storage_destination" => &mut destination,
                other => return Err(format!("unknown block {other:?}")),
            };
            if slot.replace(target).is_some() {
                return Err(format!("only one {} block may be given", block.identifier()));
            }
        }
        let source = source.ok_or("missing storage_source")?;
        let destination = destination.ok_or("missing storage_destination")?;
        if source == destination {
            return Err("storage_source and storage_destination are the same".into());
        }
        Ok(MigrateConfig { source, destination })
    }
}

/// `storage "postgresql"`, as OpenBao's stanza; `BAO_PG_CONNECTION_URL` (or `VAULT_PG_CONNECTION_URL`) overrides
/// `connection_url`, as in OpenBao.
fn parse_postgresql(body: &Body) -> Result<crate::storage::postgres::PgOptions, String> {
    use crate::storage::postgres::{HaOptions, PgOptions};
    no_blocks("storage \"postgresql\"", body)?;
    let mut options = PgOptions {
        connection_url: String::new(),
        table: PgOptions::DEFAULT_TABLE.into(),
        max_parallel: 128,
        max_idle: None,
        connect_tries: 1,
        skip_create_table: false,
        ha: None,
    };
    let mut ha_enabled = false;
    let mut ha = HaOptions {
        table: HaOptions::DEFAULT_TABLE.into(),
        lock_ttl: HaOptions::DEFAULT_LOCK_TTL,
        retry_interval: HaOptions::DEFAULT_RETRY_INTERVAL,
    };
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("storage.postgresql.{key}");
        match key {
            "connection_url" => options.connection_url = as_string(&qualified, &value)?,
            "table" => options.table = as_string(&qualified, &value)?,
            "max_parallel" => {
                let n = as_i64(&qualified, &value)?;
                options.max_parallel =
                    usize::try_from(n).map_err(|_| type_error(&qualified, "a non-negative integer", &value))?;
            }
            "max_idle_connections" => {
                let n = as_i64(&qualified, &value)?;
                // Go's `SetMaxIdleConns`: zero or less keeps no idle connection.
                options.max_idle = Some(usize::try_from(n).unwrap_or(0));
            }
            "max_connect_retries" => {
                let n = as_i64(&qualified, &value)?;
                options.connect_tries = u32::try_from(n)
                    .map_err(|_| type_error(&qualified, "a non-negative integer", &value))?
                    .max(1);
            }
            // OpenBao's cap on concurrent transactions. Ours are group-committed, one batch at a time on one
            // connection, so any value is already honoured; the key is accepted so OpenBao's stanzas start.
            "transaction_max_parallel" => {
                as_i64(&qualified, &value)?;
            }
            "skip_create_table" => options.skip_create_table = as_bool(&qualified, &value)?,
            "ha_enabled" => ha_enabled = as_bool(&qualified, &value)?,
            "ha_table" => ha.table = as_string(&qualified, &value)?,
            "ha_lock_ttl" => ha.lock_ttl = as_duration(&qualified, &value)?,
            "ha_retry_interval" => ha.retry_interval = as_duration(&qualified, &value)?,
            other => return Err(format!("unknown key {other:?} in storage \"postgresql\" block")),
        }
    }
    for var in ["BAO_PG_CONNECTION_URL", "VAULT_PG_CONNECTION_URL"] {
        if let Some(url) = std::env::var(var).ok().filter(|u| !u.is_empty()) {
            options.connection_url = url;
            break;
        }
    }
    if options.connection_url.is_empty() {
        return Err("storage \"postgresql\": missing required key \"connection_url\"".into());
    }
    options
        .quoted_table()
        .map_err(|e| format!("storage \"postgresql\": {e}"))?;
    if ha_enabled {
        crate::storage::postgres::quote_identifier_path(&ha.table)
            .map_err(|e| format!("storage \"postgresql\": ha_table: {e}"))?;
        if ha.retry_interval.is_zero() || ha.lock_ttl <= ha.retry_interval * 2 {
            return Err("storage \"postgresql\": ha_lock_ttl must be more than twice ha_retry_interval".into());
        }
        options.ha = Some(ha);
    }
    Ok(options)
}

fn parse_storage(body: &Body) -> Result<PathBuf, String> {
    no_blocks("storage \"sled\"", body)?;
    let mut path = None;
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        match key {
            "path" => path = Some(PathBuf::from(as_string("storage.sled.path", &value)?)),
            other => return Err(format!("unknown key {other:?} in storage \"sled\" block")),
        }
    }
    path.ok_or_else(|| "storage \"sled\": missing required key \"path\"".to_string())
}

/// `audit "type" "path" { description = "...", local = false, options { key = "value" } }` (`options` may also be
/// an attribute, `options = { ... }`); option values are strings (numbers and booleans are taken as their text).
fn parse_audit(labels: &[&str], body: &Body) -> Result<crate::core::audit::DeclaredDevice, String> {
    let [kind, path] = labels else {
        return Err("an audit stanza takes a type and a path: audit \"file\" \"path\" { ... }".into());
    };
    let mut device = crate::core::audit::DeclaredDevice {
        kind: kind.to_string(),
        path: path.to_string(),
        ..Default::default()
    };
    let owner = format!("audit.{kind}.{path}");
    let mut options_value = |value: &Value| -> Result<(), String> {
        let Value::Object(map) = value else {
            return Err(type_error(&format!("{owner}.options"), "a map", value));
        };
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(type_error(&format!("{owner}.options.{k}"), "a string", other)),
            };
            device.options.insert(k.clone(), text);
        }
        Ok(())
    };
    for block in body.blocks() {
        match block.identifier() {
            "options" if block.labels().is_empty() => {
                let mut map = hcl::Map::new();
                for attr in block.body().attributes() {
                    map.insert(attr.key().to_string(), Value::from(attr.expr().clone()));
                }
                options_value(&Value::Object(map))?;
            }
            other => return Err(format!("unknown block {other:?} in {owner} block")),
        }
    }
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("{owner}.{key}");
        match key {
            "description" => device.description = as_string(&qualified, &value)?,
            "local" => device.local = as_bool(&qualified, &value)?,
            "options" => options_value(&value)?,
            other => return Err(format!("unknown key {other:?} in {owner} block")),
        }
    }
    Ok(device)
}

/// `user_lockout "NAME" { lockout_threshold = "5", lockout_duration = "15m", lockout_counter_reset = "15m",
/// disable_lockout = false }`, NAME one of `all`, `userpass`, `approle`, `ldap` (OpenBao's `ParseUserLockouts`).
fn parse_user_lockout(labels: &[&str], body: &Body) -> Result<(String, crate::core::lockout::LockoutBlock), String> {
    let [name] = labels else {
        return Err(
            "auth type for user lockout must be specified, if it applies to all auth methods specify \"all\" ".into(),
        );
    };
    let name = name.to_lowercase();
    if !(name == "all" || crate::core::lockout::SUPPORTED_METHODS.contains(&name.as_str())) {
        return Err(format!("user_lockout: unsupported auth type {name:?}"));
    }
    let owner = format!("user_lockout.{name}");
    no_blocks(&owner, body)?;
    let mut block = crate::core::lockout::LockoutBlock::default();
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("{owner}.{key}");
        match key {
            "lockout_threshold" => {
                let n = as_i64(&qualified, &value)?;
                block.threshold =
                    Some(u64::try_from(n).map_err(|_| format!("{owner}: error parsing lockout_threshold"))?);
            }
            "lockout_duration" => block.duration = Some(as_duration(&qualified, &value)?),
            "lockout_counter_reset" => block.counter_reset = Some(as_duration(&qualified, &value)?),
            "disable_lockout" => block.disable = Some(as_bool(&qualified, &value)?),
            other => return Err(format!("unknown key {other:?} in {owner} block")),
        }
    }
    Ok((name, block))
}

/// `seal "static" { current_key_id, current_key, previous_key_id, previous_key, disabled }` or `seal "transit" {
/// address, token, key_name, mount_path, tls_ca_cert, tls_skip_verify, disabled }` (address and token fall back to
/// `VAULT_ADDR`/`BAO_ADDR` and `VAULT_TOKEN`/`BAO_TOKEN`, as OpenBao's transit seal does).
fn parse_seal(labels: &[&str], body: &Body) -> Result<SealStanza, String> {
    use crate::seal::auto::{resolve_static_key, AutoSealConfig, StaticSealConfig, TransitSealConfig};
    let kind = match labels {
        [kind] => *kind,
        _ => return Err("a seal block takes one label, its type: seal \"static\" or seal \"transit\"".into()),
    };
    let owner = format!("seal {kind:?}");
    no_blocks(&owner, body)?;
    let mut fields: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut disabled = false;
    for attr in body.attributes() {
        let key = attr.key();
        let value = Value::from(attr.expr().clone());
        let qualified = format!("seal.{kind}.{key}");
        if key == "disabled" {
            disabled = as_bool(&qualified, &value)?;
            continue;
        }
        let text = match &value {
            Value::Bool(b) => b.to_string(),
            other => as_string(&qualified, other)?,
        };
        fields.insert(key.to_string(), text);
    }
    let allowed: &[&str] = match kind {
        "static" => &["current_key_id", "current_key", "previous_key_id", "previous_key"],
        "transit" => &[
            "address",
            "token",
            "key_name",
            "mount_path",
            "tls_ca_cert",
            "tls_skip_verify",
            "namespace",
            "disable_renewal",
        ],
        other => {
            return Err(format!(
                "unsupported seal type {other:?}: this server has seal \"static\" and seal \"transit\" (and Shamir without a seal block)"
            ))
        }
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown key {unknown:?} in {owner} block"));
    }
    let required = |key: &str| -> Result<String, String> {
        fields
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| format!("{owner}: {key} is required"))
    };
    let seal = match kind {
        "static" => {
            let current_key = resolve_static_key("current_key", &required("current_key")?)?;
            let previous = match (fields.get("previous_key_id"), fields.get("previous_key")) {
                (Some(id), Some(key)) => Some((id.clone(), resolve_static_key("previous_key", key)?)),
                (None, None) => None,
                _ => return Err(format!("{owner}: previous_key_id and previous_key go together")),
            };
            AutoSealConfig::Static(StaticSealConfig {
                current_key_id: required("current_key_id")?,
                current_key,
                previous,
            })
        }
        _ => {
            let env = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
            };
            let address = fields
                .get("address")
                .cloned()
                .or_else(|| env(&["VAULT_ADDR", "BAO_ADDR"]))
                .ok_or_else(|| format!("{owner}: address is required"))?;
            let token = fields
                .get("token")
                .cloned()
                .or_else(|| env(&["VAULT_TOKEN", "BAO_TOKEN"]))
                .ok_or_else(|| format!("{owner}: token is required"))?;
            AutoSealConfig::Transit(TransitSealConfig {
                address,
                token: zeroize::Zeroizing::new(token),
                key_name: required("key_name")?,
                mount_path: required("mount_path")?,
                tls_ca_cert: fields.get("tls_ca_cert").map(PathBuf::from),
                tls_skip_verify: fields
                    .get("tls_skip_verify")
                    .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1")),
            })
        }
    };
    Ok(SealStanza { seal, disabled })
}

fn no_blocks(owner: &str, body: &Body) -> Result<(), String> {
    match body.blocks().next() {
        Some(b) => Err(format!("unknown block {:?} in {owner} block", b.identifier())),
        None => Ok(()),
    }
}

fn type_error(key: &str, expected: &str, value: &Value) -> String {
    format!("key {key:?} must be {expected}, got {value}")
}

fn as_string(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(key, "a string", other)),
    }
}

fn as_bool(key: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(type_error(key, "a boolean", value)),
        },
        other => Err(type_error(key, "a boolean", other)),
    }
}

fn as_i64(key: &str, value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| type_error(key, "an integer", value)),
        Value::String(s) => s.trim().parse().map_err(|_| type_error(key, "an integer", value)),
        other => Err(type_error(key, "an integer", other)),
    }
}

fn as_duration(key: &str, value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| type_error(key, "a non-negative duration", value)),
        Value::String(s) => parse_duration(s).map_err(|e| format!("key {key:?}: {e}")),
        other => Err(type_error(key, "a duration", other)),
    }
}

/// `log_format` (and `-log-format`): "standard" or "json", any case.
pub fn parse_log_format(text: &str) -> Result<String, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "standard" => Ok("standard".into()),
        "json" => Ok("json".into()),
        other => Err(format!("unknown log format {other:?}: use \"standard\" or \"json\"")),
    }
}

fn as_log_format(key: &str, value: &Value) -> Result<String, String> {
    parse_log_format(&as_string(key, value)?).map_err(|e| format!("{key}: {e}"))
}

fn as_requests_level(key: &str, value: &Value) -> Result<Option<log::Level>, String> {
    match as_string(key, value)?.trim().to_ascii_lowercase().as_str() {
        "" | "off" => Ok(None),
        "trace" => Ok(Some(log::Level::Trace)),
        "debug" => Ok(Some(log::Level::Debug)),
        "info" => Ok(Some(log::Level::Info)),
        "warn" | "warning" => Ok(Some(log::Level::Warn)),
        "error" => Ok(Some(log::Level::Error)),
        other => Err(format!(
            "{key}: unknown level {other:?}: use trace, debug, info, warn, error or off"
        )),
    }
}

impl Config {
    /// The configuration without secrets, as `sys/config/state/sanitized` shows it: OpenBao's keys (durations in
    /// seconds, `listeners`, `storage`, `seals`, `audits`) for the settings this server has, and its own settings
    /// under their own names. Paths to certificates are shown, never a key or a seal's secret.
    pub fn sanitized(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let listeners: Vec<serde_json::Value> = self
            .listeners
            .iter()
            .map(|l| {
                let mut config = json!({
                    "address": l.address,
                    "tls_disable": l.tls_disable,
                    "tls_min_version": match l.tls_min_version {
                        TlsMinVersion::Tls12 => "tls12",
                        TlsMinVersion::Tls13 => "tls13",
                    },
                    "http_read_timeout": l.http_read_timeout.as_secs(),
                    "max_connections_per_client": l.max_connections_per_client,
                    "disable_unauthed_rekey_endpoints": l.disable_unauthed_rekey_endpoints,
                    "disable_unauthed_generate_root_endpoints": l.disable_unauthed_generate_root_endpoints,
                });
                if let Some(cert) = &l.tls_cert_file {
                    config["tls_cert_file"] = json!(cert.display().to_string());
                }
                if let Some(key) = &l.tls_key_file {
                    config["tls_key_file"] = json!(key.display().to_string());
                }
                let xff = &l.x_forwarded_for;
                if !xff.authorized_addrs.is_empty() {
                    let addrs: Vec<String> = xff.authorized_addrs.iter().map(ToString::to_string).collect();
                    config["x_forwarded_for_authorized_addrs"] = json!(addrs.join(","));
                    config["x_forwarded_for_hop_skips"] = json!(xff.hop_skips);
                    config["x_forwarded_for_reject_not_authorized"] = json!(xff.reject_not_authorized);
                    config["x_forwarded_for_reject_not_present"] = json!(xff.reject_not_present);
                }
                json!({ "type": "tcp", "config": config })
            })
            .collect();
        let seals: Vec<serde_json::Value> = if self.seals.is_empty() {
            vec![json!({ "type": "shamir", "disabled": false })]
        } else {
            self.seals
                .iter()
                .map(|s| json!({ "type": s.seal.seal_type(), "disabled": s.disabled }))
                .collect()
        };
        let mut out = crate::core::system::object(json!({
            "api_addr": self.api_addr.clone().unwrap_or_default(),
            "cluster_addr": self.cluster_addr.clone().unwrap_or_default(),
            "cluster_name": self.cluster_name.clone().unwrap_or_default(),
            "enable_ui": self.ui,
            "default_lease_ttl": self.default_lease_ttl.as_secs(),
            "max_lease_ttl": self.max_lease_ttl.as_secs(),
            "log_level": self.log_level.clone().unwrap_or_default(),
            "log_format": self.log_format.clone().unwrap_or_default(),
            "log_requests_level": self.log_requests_level.map(|l| l.as_str().to_ascii_lowercase()).unwrap_or_default(),
            "unsafe_allow_api_audit_creation": self.audit.allow_api_creation,
            "allow_audit_log_prefixing": self.audit.allow_prefixing,
            "listeners": listeners,
            "storage": {
                "type": "sled",
                "redirect_addr": "",
                "cluster_addr": "",
                "disable_clustering": false,
            },
            "seals": seals,
            "disable_mlock": self.disable_mlock,
            "max_request_size": self.max_request_size,
            "max_request_json_memory": self.max_request_json_memory,
            "max_request_json_strings": self.max_request_json_strings,
            "wrapping_tombstone_retention": self.wrapping_tombstone_retention.as_secs(),
        }));
        if self.telemetry.configured {
            // OpenBao's keys for the settings this server has, durations in nanoseconds as OpenBao shows them.
            let t = &self.telemetry;
            out.insert(
                "telemetry".into(),
                json!({
                    "add_lease_metrics_namespace_labels": t.add_lease_metrics_namespace_labels,
                    "disable_hostname": t.disable_hostname,
                    "lease_metrics_epsilon": t.lease_metrics_epsilon.as_nanos() as u64,
                    "num_lease_metrics_buckets": t.num_lease_metrics_buckets,
                    "prometheus_retention_time": t.prometheus_retention.map_or(0, |d| d.as_nanos() as u64),
                    "usage_gauge_period": t.usage_gauge_period.map_or(0, |d| d.as_nanos() as u64),
                }),
            );
        }
        if !self.audit.declared.is_empty() {
            let audits: Vec<serde_json::Value> = self
                .audit
                .declared
                .iter()
                .map(|a| json!({ "path": a.path, "type": a.kind, "description": a.description }))
                .collect();
            out.insert("audits".into(), json!(audits));
        }
        out
    }
}

fn as_log_level(key: &str, value: &Value) -> Result<String, String> {
    let level = as_string(key, value)?.to_ascii_lowercase();
    match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => Ok(level),
        "warning" | "err" => Ok(if level == "err" { "error".into() } else { "warn".into() }),
        _ => Err(format!(
            "key {key:?}: unknown log level {level:?} (trace, debug, info, warn, error)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        ui = true
        api_addr = "http://127.0.0.1:8200"
        default_lease_ttl = "1h"
        max_lease_ttl = "768h"
        log_level = "debug"
        disable_mlock = true
        max_request_size = 1024
        listener "tcp" {
          address = "127.0.0.1:9200"
          tls_disable = 1
        }
        storage "sled" {
          path = "./data"
        }
    "#;

    #[test]
    fn parses_full_config() {
        let c = Config::parse(FULL).unwrap();
        assert!(c.ui);
        assert_eq!(c.default_lease_ttl, Duration::from_secs(3600));
        assert_eq!(c.max_lease_ttl, Duration::from_secs(768 * 3600));
        assert_eq!(c.listeners[0].address, "127.0.0.1:9200");
        assert!(c.listeners[0].tls_disable);
        assert_eq!(c.storage_path, Some(PathBuf::from("./data")));
        assert_eq!(c.max_request_size, 1024);
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.listeners[0].http_read_timeout, DEFAULT_HTTP_READ_TIMEOUT);
        assert_eq!(
            c.listeners[0].max_connections_per_client,
            DEFAULT_MAX_CONNECTIONS_PER_CLIENT
        );
    }

    #[test]
    fn listener_limits() {
        let with = |extra: &str| Config::parse(&FULL.replace("tls_disable = 1", &format!("tls_disable = 1\n{extra}")));
        let c = with("http_read_timeout = \"90s\"\nmax_connections_per_client = 8").unwrap();
        assert_eq!(c.listeners[0].http_read_timeout, Duration::from_secs(90));
        assert_eq!(c.listeners[0].max_connections_per_client, 8);
        let c = with("http_read_timeout = 5\nmax_connections_per_client = 0").unwrap();
        assert_eq!(c.listeners[0].http_read_timeout, Duration::from_secs(5));
        assert_eq!(c.listeners[0].max_connections_per_client, 0);
        assert_eq!(
            with("http_read_timeout = 0").unwrap().listeners[0].http_read_timeout,
            DEFAULT_HTTP_READ_TIMEOUT
        );
        let e = with("http_read_timeout = \"soon\"").unwrap_err();
        assert!(e.contains("listener.tcp.http_read_timeout"), "{e}");
        let e = with("max_connections_per_client = -1").unwrap_err();
        assert!(e.contains("listener.tcp.max_connections_per_client"), "{e}");
    }

    #[test]
    fn rejects_unknown_and_wrong_types() {
        let e = Config::parse(&FULL.replace("ui = true", "uii = true")).unwrap_err();
        assert!(e.contains("unknown key \"uii\""), "{e}");
        let e = Config::parse(&FULL.replace("tls_disable = 1", "tls_disable = 1\n bogus = 2")).unwrap_err();
        assert!(e.contains("unknown key \"bogus\" in listener"), "{e}");
        let e = Config::parse(&FULL.replace("ui = true", "ui = [1]")).unwrap_err();
        assert!(e.contains("\"ui\" must be a boolean"), "{e}");
        let e = Config::parse(&FULL.replace("max_lease_ttl = \"768h\"", "max_lease_ttl = \"forever\"")).unwrap_err();
        assert!(e.contains("max_lease_ttl"), "{e}");
        let e = Config::parse(&format!("{FULL}\nservice_registration {{\n}}\n")).unwrap_err();
        assert!(e.contains("unknown block \"service_registration\""), "{e}");
        let e = Config::parse(&FULL.replace("storage \"sled\"", "storage \"raft\"")).unwrap_err();
        assert!(e.contains("raft"), "{e}");
    }

    #[test]
    fn user_lockout_stanzas() {
        let c = Config::parse(&format!(
            "{FULL}\nuser_lockout \"all\" {{\n  lockout_duration = \"10m\"\n  lockout_counter_reset = 60\n}}\nuser_lockout \"UserPass\" {{\n  lockout_threshold = \"25\"\n  disable_lockout = \"false\"\n}}\n"
        ))
        .unwrap();
        let all = &c.user_lockout.blocks["all"];
        assert_eq!(
            (all.duration, all.counter_reset),
            (Some(Duration::from_secs(600)), Some(Duration::from_secs(60)))
        );
        let up = &c.user_lockout.blocks["userpass"];
        assert_eq!((up.threshold, up.disable, up.duration), (Some(25), Some(false), None));
        let p = c.user_lockout.policy("userpass", None);
        assert_eq!(
            (p.threshold, p.duration.as_secs(), p.counter_reset.as_secs()),
            (25, 600, 60)
        );
        for (bad, why) in [
            (
                "user_lockout {\n  lockout_threshold = 1\n}",
                "auth type for user lockout must be specified",
            ),
            ("user_lockout \"kv\" {\n}", "unsupported auth type \"kv\""),
            (
                "user_lockout \"all\" {\n  lockout_threshold = -1\n}",
                "error parsing lockout_threshold",
            ),
            (
                "user_lockout \"all\" {\n  lockout_duration = \"soon\"\n}",
                "lockout_duration",
            ),
            (
                "user_lockout \"all\" {\n  bogus = 1\n}",
                "unknown key \"bogus\" in user_lockout.all block",
            ),
        ] {
            let e = Config::parse(&format!("{FULL}\n{bad}\n")).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn audit_stanzas() {
        let text = format!(
            "{FULL}\nunsafe_allow_api_audit_creation = true\naudit \"file\" \"f\" {{\n  description = \"to a file\"\n  options {{\n    file_path = \"/tmp/a.log\"\n    mode = \"0600\"\n  }}\n}}\naudit \"file\" \"out\" {{\n  options = {{ file_path = \"stdout\", log_raw = true }}\n}}\n"
        );
        let c = Config::parse(&text).unwrap();
        assert!(c.audit.allow_api_creation);
        assert!(!c.audit.allow_prefixing);
        assert_eq!(c.audit.declared.len(), 2);
        let f = &c.audit.declared[0];
        assert_eq!(
            (f.kind.as_str(), f.path.as_str(), f.description.as_str()),
            ("file", "f", "to a file")
        );
        assert_eq!(f.options["file_path"], "/tmp/a.log");
        assert_eq!(f.options["mode"], "0600");
        assert_eq!(c.audit.declared[1].options["log_raw"], "true");
        let e = Config::parse(&format!("{FULL}\naudit \"file\" {{\n}}\n")).unwrap_err();
        assert!(e.contains("type and a path"), "{e}");
        let e = Config::parse(&format!("{FULL}\naudit \"file\" \"f\" {{\n  bogus = 1\n}}\n")).unwrap_err();
        assert!(e.contains("unknown key \"bogus\" in audit.file.f"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("-1m").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn telemetry_blocks() {
        let c = Config::parse(FULL).unwrap();
        assert_eq!(c.telemetry.prometheus_retention, None, "no block: Prometheus off");
        let c = Config::parse(&format!("{FULL}\ntelemetry {{\n  disable_hostname = true\n}}\n")).unwrap();
        assert_eq!(c.telemetry.prometheus_retention, Some(Duration::from_secs(86400)));
        assert!(c.telemetry.disable_hostname);
        let c = Config::parse(&format!(
            "{FULL}\ntelemetry {{\n  prometheus_retention_time = \"30s\"\n  usage_gauge_period = \"none\"\n}}\n"
        ))
        .unwrap();
        assert_eq!(c.telemetry.prometheus_retention, Some(Duration::from_secs(30)));
        assert_eq!(c.telemetry.usage_gauge_period, None);
        let c = Config::parse(&format!("{FULL}\ntelemetry {{\n  prometheus_retention_time = 0\n}}\n")).unwrap();
        assert_eq!(c.telemetry.prometheus_retention, None);
        let e = Config::parse(&format!("{FULL}\ntelemetry {{\n  statsd = 1\n}}\n")).unwrap_err();
        assert!(e.contains("unknown key \"statsd\" in telemetry block"), "{e}");
        let listener = "listener \"tcp\" {\n  address = \"127.0.0.1:1\"\n  tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }\n}\nstorage \"sled\" {\n  path = \"/tmp/x\"\n}\n";
        let c = Config::parse(listener).unwrap();
        assert!(c.listeners[0].unauthenticated_metrics_access);
    }
}
