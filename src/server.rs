//! `vault server`: open storage, build the core, serve HTTP(S) until SIGINT/SIGTERM, then flush and exit.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpServer};

use crate::config::{Config, ListenerConfig, TlsMinVersion};
use crate::core::{Core, CoreSettings};
use crate::http::{self, AppState};
use crate::storage::Storage;

pub struct DevOptions {
    pub root_token_id: Option<String>,
    pub listen_address: String,
}

pub struct ServerOptions {
    pub config: Config,
    pub dev: Option<DevOptions>,
}

/// Dev mode's configuration: one plain-HTTP listener and a temporary data directory. Memory is not locked (Vault's
/// dev mode implies `disable_mlock` too).
pub fn dev_config(listen_address: &str) -> Config {
    Config {
        listeners: vec![ListenerConfig {
            address: listen_address.to_string(),
            tls_disable: true,
            // As OpenBao's dev mode: metrics readable without a token, in Prometheus' format too.
            unauthenticated_metrics_access: true,
            ..ListenerConfig::default()
        }],
        disable_mlock: true,
        telemetry: crate::telemetry::TelemetryConfig {
            configured: true,
            prometheus_retention: Some(crate::telemetry::DEFAULT_PROMETHEUS_RETENTION),
            ..Default::default()
        },
        ..Config::default()
    }
}

/// What OpenBao sends on every listener (`configutil.StrictTransportSecurity`); browsers heed it over TLS only.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

fn tls_config(listener: &ListenerConfig) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert_file), Some(key_file)) = (&listener.tls_cert_file, &listener.tls_key_file) else {
        return Err("listener \"tcp\": tls_cert_file and tls_key_file are required".into());
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading TLS certificate {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", cert_file.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("reading TLS key {}: {e}", key_file.display()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match listener.tls_min_version {
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate/key: {e}"))
}

pub async fn run(options: ServerOptions) -> Result<(), String> {
    let config = options.config;
    crate::hardening::apply(config.disable_mlock)?;
    crate::telemetry::install(&config.telemetry);
    // Dev mode keeps its data in a temporary directory removed at exit.
    let temp_dir = match options.dev {
        Some(_) => Some(
            tempfile::Builder::new()
                .prefix("vault-dev-")
                .permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(
                    0o700,
                ))
                .tempdir()
                .map_err(|e| format!("creating a temporary data directory: {e}"))?,
        ),
        None => None,
    };
    let storage = match (&temp_dir, &config.storage_path, &config.postgresql) {
        (Some(dir), _, _) => Storage::open(dir.path()),
        (None, Some(path), _) => Storage::open(path),
        (None, None, Some(pg)) => Storage::open_postgres(pg.clone()),
        (None, None, None) => return Err("no storage \"sled\" block in the configuration".into()),
    };
    let storage = Arc::new(storage.map_err(|e| e.to_string())?);
    // What the store's recovery freed goes back now, not at the process's end.
    crate::memory::return_freed_memory();
    let settings = CoreSettings {
        default_lease_ttl: config.default_lease_ttl,
        max_lease_ttl: config.max_lease_ttl,
        storage_type: storage.kind(),
        wrapping_tombstone_retention: config.wrapping_tombstone_retention,
        audit: config.audit.clone(),
        user_lockout: config.user_lockout.clone(),
        telemetry: config.telemetry.clone(),
        seals: crate::core::auto_unseal::SealSettings {
            active: config
                .seals
                .iter()
                .find(|s| !s.disabled)
                .map(|s| Arc::new(s.seal.clone())),
            disabled: config
                .seals
                .iter()
                .find(|s| s.disabled)
                .map(|s| Arc::new(s.seal.clone())),
        },
        sanitized_config: config.sanitized(),
        ..CoreSettings::default()
    };
    // Bind every listener before announcing anything, so a taken port is a clean startup error.
    let mut bound = Vec::new();
    for listener in &config.listeners {
        let socket =
            TcpListener::bind(&listener.address).map_err(|e| format!("error binding to {}: {e}", listener.address))?;
        let tls = if listener.tls_disable {
            None
        } else {
            Some(tls_config(listener)?)
        };
        bound.push((socket, tls));
    }

    let mut core = Core::new(storage.clone(), settings);
    if storage.postgres().and_then(|pg| pg.ha()).is_some() {
        // OpenBao's rule: the address other servers and redirected clients reach this one at; without `api_addr`,
        // the first listener's.
        let api_address = match &config.api_addr {
            Some(addr) => addr.clone(),
            None => {
                let (socket, tls) = bound.first().ok_or("no listener")?;
                let addr = socket.local_addr().map_err(|e| e.to_string())?;
                format!("{}://{addr}", if tls.is_some() { "https" } else { "http" })
            }
        };
        core = core.with_ha(api_address, config.cluster_addr.clone().unwrap_or_default());
    }
    let core = Arc::new(core);
    core.follow_remote_changes();

    let dev_result = match &options.dev {
        Some(dev) => Some(
            core.dev_init(dev.root_token_id.as_deref())
                .await
                .map_err(|e| format!("dev init: {e}"))?,
        ),
        None => None,
    };

    let mut unauthed_key_endpoints = http::UnauthedKeyEndpoints::default();
    for ((socket, _), listener) in bound.iter().zip(&config.listeners) {
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        if !listener.disable_unauthed_rekey_endpoints {
            unauthed_key_endpoints.rekey.push(addr);
        }
        if !listener.disable_unauthed_generate_root_endpoints {
            unauthed_key_endpoints.generate_root.push(addr);
        }
        if listener.unauthenticated_metrics_access {
            unauthed_key_endpoints.metrics.push(addr);
        }
    }
    let mut forwarded_for = Vec::new();
    for ((socket, _), listener) in bound.iter().zip(&config.listeners) {
        if !listener.x_forwarded_for.authorized_addrs.is_empty() {
            let addr = socket.local_addr().map_err(|e| e.to_string())?;
            forwarded_for.push((addr, Arc::new(listener.x_forwarded_for.clone())));
        }
    }
    let trusts_proxies = !forwarded_for.is_empty();
    let state = web::Data::new(AppState {
        core: core.clone(),
        max_request_size: config.max_request_size,
        unauthed_key_endpoints,
        json_limits: http::json_limits::JsonLimits {
            max_memory: config.max_request_json_memory,
            max_strings: config.max_request_json_strings,
        },
        log_requests: config.log_requests_level,
        forwarded_for,
    });
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::from_fn(http::cors::cors))
            .wrap(actix_web::middleware::from_fn(http::guard::guard))
            .wrap(actix_web::middleware::from_fn(http::request_log::track))
            .wrap(
                DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)),
            )
            // Outermost: a refused request meets nothing else (as OpenBao's handler); on no listener, not at all.
            .wrap(actix_web::middleware::Condition::new(
                trusts_proxies,
                actix_web::middleware::from_fn(http::forwarded_for::forwarded_for),
            ))
            .configure(http::configure)
    })
    .shutdown_timeout(30);
    // A read from PostgreSQL blocks its worker thread for the round trip: with actix's one worker per CPU, a server
    // pinned to one CPU ran one read at a time. As many workers as reader connections keep those busy.
    if let Some(pg) = &config.postgresql {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        server = server.workers(cpus.max(pg.reader_count()));
    }

    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "==> Vault server configuration:\n");
    match (storage.path(), &config.postgresql) {
        (Some(path), _) => {
            let _ = writeln!(
                out,
                "             Storage: sled (path: {:?})",
                path.display().to_string()
            );
        }
        (None, pg) => {
            let table = pg.as_ref().map(|p| p.table.as_str()).unwrap_or_default();
            let _ = writeln!(out, "             Storage: postgresql (table: {table:?})");
        }
    }
    let _ = writeln!(out, "             Version: vault v{}", crate::core::VERSION);
    for (i, (socket, tls)) in bound.into_iter().enumerate() {
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let _ = writeln!(
            out,
            "          Listener {}: tcp (addr: \"{addr}\", tls: \"{}\")",
            i + 1,
            if tls.is_some() { "enabled" } else { "disabled" }
        );
        // The callback is taken by the listener bound next: each listener has its own limits.
        let limits = &config.listeners[i];
        server = server.on_connect(http::guard::on_connect(
            limits.http_read_timeout,
            http::guard::ClientLimiter::new(limits.max_connections_per_client),
        ));
        server = match tls {
            None => server.listen(socket),
            Some(cfg) => server.listen_rustls_0_23(socket, cfg),
        }
        .map_err(|e| format!("error listening on {addr}: {e}"))?;
    }
    if let (Some(result), Some(dev)) = (&dev_result, &options.dev) {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(&result.shares[0][..]);
        let _ = writeln!(
            out,
            "\n==> Vault server started! Log data will stream in below:\n\n\
             WARNING! dev mode is enabled! In this mode, Vault runs with its data in a temporary directory\n\
             and starts unsealed with a single unseal key. The root token is already\n\
             authenticated, so you can immediately begin using Vault.\n\n\
             You may need to set the following environment variables:\n\n    \
             $ export VAULT_ADDR='http://{}'\n    $ export BAO_ADDR='http://{}'\n\n\
             The unseal key and root token are displayed below in case you want to\n\
             seal/unseal the Vault or re-authenticate.\n\n\
             Unseal Key: {key}\nRoot Token: {}\n\n\
             Development mode should NOT be used in production installations!\n",
            dev.listen_address,
            dev.listen_address,
            result.root_token.as_str()
        );
    } else {
        let _ = writeln!(out, "\n==> Vault server started! Log data will stream in below:\n");
    }
    let _ = out.flush();
    drop(out);
    drop(dev_result);

    // With an auto-unseal seal, unseal now, and keep trying while the seal (a transit server) is unavailable.
    let auto_unsealer = actix_web::rt::spawn(auto_unseal_until_done(core.clone()));
    // Background work of every backend (the token store's expiry sweep and tombstone purge among them).
    let scheduler = actix_web::rt::spawn(core.clone().run_scheduler());
    // SIGHUP reopens the audit devices' files (log rotation), as in OpenBao.
    let hangup = reopen_audit_on_hangup(core.clone())?;
    // HA: take or renew the lock, on a thread of its own (its storage calls block).
    let ha_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ha_thread = match core.ha() {
        Some(_) => {
            let (core, stop) = (core.clone(), ha_stop.clone());
            Some(
                std::thread::Builder::new()
                    .name("vault-ha".into())
                    .spawn(move || core.run_ha(stop))
                    .map_err(|e| format!("starting the HA thread: {e}"))?,
            )
        }
        None => None,
    };

    // actix handles SIGINT/SIGTERM: stop accepting, let in-flight requests finish, then return.
    let result = server.run().await.map_err(|e| format!("server error: {e}"));
    log::info!("shutting down: flushing storage");
    scheduler.abort();
    let _ = scheduler.await;
    if !core.is_sealed() {
        if let Err(e) = core.persist_durable_counters().await {
            log::warn!("shutdown: storing the metrics counters failed: {e}");
        }
    }
    auto_unsealer.abort();
    let _ = auto_unsealer.await;
    hangup.abort();
    let _ = hangup.await;
    ha_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Some(thread) = ha_thread {
        // Releases the lock if held, so a standby takes over at once.
        let _ = actix_web::rt::task::spawn_blocking(move || thread.join()).await;
    }
    if let Err(e) = storage.flush() {
        log::error!("final flush failed: {e}");
    }
    // Close the store (its last flush and the marker's final durable count) before a dev directory is removed.
    release(core).await;
    let sled_path = storage.path().map(std::path::Path::to_path_buf);
    if release(storage).await {
        if let Some(path) = sled_path.filter(|_| temp_dir.is_none()) {
            if let Err(e) = crate::storage::refresh_sled_snapshot(&path) {
                log::warn!("shutdown: the store's snapshot was not refreshed ({e}); the next start replays its log");
            }
        }
    }
    drop(temp_dir);
    result
}

fn reopen_audit_on_hangup(core: Arc<Core>) -> Result<actix_web::rt::task::JoinHandle<()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup()).map_err(|e| format!("installing the SIGHUP handler: {e}"))?;
    Ok(actix_web::rt::spawn(async move {
        while hangups.recv().await.is_some() {
            log::info!("SIGHUP: reopening audit devices");
            core.reload_audit_devices();
        }
    }))
}

/// Drop `value` once this is its last reference: the listeners' workers drop theirs as they stop. Gives up (and
/// leaves it to the process exit) after 10 s. Whether it was dropped.
async fn release<T>(mut value: Arc<T>) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(value) {
            Ok(sole) => {
                drop(sole);
                return true;
            }
            Err(shared) if std::time::Instant::now() < deadline => {
                value = shared;
                actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(_) => {
                log::warn!("shutdown: storage is still in use after 10 s; it is closed at exit");
                return false;
            }
        }
    }
}

/// Unseal with the configured auto-unseal seal, retrying with backoff (1 s doubling to 30 s) while it fails; stops
/// once unsealed or when the store does not use that seal.
async fn auto_unseal_until_done(core: Arc<Core>) {
    use std::time::Duration;
    let mut delay = Duration::from_secs(1);
    loop {
        match core.seal_mode() {
            Ok(crate::core::auto_unseal::SealMode::Auto(..)) => {}
            Ok(crate::core::auto_unseal::SealMode::Unconfigured(record)) => {
                log::error!(
                    "core: the store is sealed by a {:?} seal that the configuration does not have: it stays sealed",
                    record.seal_type
                );
                return;
            }
            Ok(
                crate::core::auto_unseal::SealMode::MigrateToAuto(_)
                | crate::core::auto_unseal::SealMode::MigrateToShamir(..),
            ) => {
                log::warn!(
                    "core: a seal migration is pending: unseal with the migrate flag (bao operator unseal -migrate)"
                );
                return;
            }
            Ok(_) => return,
            Err(e) => log::warn!("core: reading the seal state failed: {e}"),
        }
        match core.auto_unseal().await {
            Ok(_) => return,
            Err(e) => {
                log::warn!("core: auto-unseal failed, retrying in {}s: {e}", delay.as_secs());
                actix_web::rt::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
