use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vault::config::Config;
use vault::server::{dev_config, DevOptions, ServerOptions};

#[derive(Parser)]
#[command(
    name = "vault",
    version,
    about = "A secrets server speaking the Vault / OpenBao HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Server(ServerArgs),
    /// Operator tools that work offline.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Audit log tools that work offline.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the tamper-evident chain of a device's audit files (written with the option hmac_chain = "true"),
    /// given in order (rotated files first): names the first line that was edited, removed, inserted or moved.
    Verify {
        /// The device's chain key, in hex (GET sys/audit-chain-key/:path with a root token).
        #[arg(long)]
        key: String,
        /// The audit files, oldest first.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Snapshot files (taken with `bao operator raft snapshot save` or GET sys/storage/raft/snapshot).
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Copy a stopped server's data from one storage to another (sled and PostgreSQL, either way), records as they
    /// are (still encrypted). Running it again resumes a copy cut short.
    Migrate {
        /// HCL with a `storage_source` and a `storage_destination` block.
        #[arg(long)]
        config: PathBuf,
        /// Only copy records at or after this position (`<tree>/<hex key>`, as the progress lines print it).
        #[arg(long)]
        start: Option<String>,
    },
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Verify a snapshot file (checksums, compressed stream, record framing and counts) and print its header. Needs
    /// no keys and no server.
    Inspect {
        /// The snapshot file.
        file: PathBuf,
        /// Output format: table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Path to the HCL configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Development mode: temporary storage, initialized and unsealed, root token printed.
    #[arg(long)]
    dev: bool,
    /// Root token id in dev mode (random when absent).
    #[arg(long = "dev-root-token-id", env = "VAULT_DEV_ROOT_TOKEN_ID")]
    dev_root_token_id: Option<String>,
    /// Address the dev server listens on.
    #[arg(
        long = "dev-listen-address",
        env = "VAULT_DEV_LISTEN_ADDRESS",
        default_value = "127.0.0.1:8200"
    )]
    dev_listen_address: String,
    /// Log level: trace, debug, info, warn, error (overrides the configuration's log_level).
    #[arg(long = "log-level", env = "VAULT_LOG_LEVEL")]
    log_level: Option<String>,
    /// Log format: standard or json (overrides the configuration's log_format).
    #[arg(long = "log-format", env = "VAULT_LOG_FORMAT")]
    log_format: Option<String>,
}

/// Vault's flags are single-dash (`-dev`, `-config=FILE`); accept them as clap's double-dash long flags.
fn normalize_args() -> Vec<String> {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.len() > 2 && a.starts_with('-') && !a.starts_with("--") {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn init_logging(level: &str, json: bool) {
    use std::io::Write;
    let filter = level.parse().unwrap_or(log::LevelFilter::Info);
    // env_logger writes; the levels (changeable at runtime through sys/loggers) are decided by vault::logging.
    let output = env_logger::Builder::new()
        .filter_level(log::LevelFilter::Trace)
        .format(move |out, record| {
            if json {
                writeln!(out, "{}", vault::logging::format_json(record))
            } else {
                let timestamp = out.timestamp_millis();
                write_record(out, &timestamp, record)
            }
        })
        .build();
    vault::logging::set_json_format(json);
    let _ = vault::logging::install(Box::new(output), filter);
}

/// One log record on one line, in env_logger's layout (`[time LEVEL target] message`). Log messages carry what
/// clients sent (paths, names, what a snapshot says about itself): every character that is not printable is
/// escaped (`vault::logging::format_standard`), for every record of every module, so no client can start a forged
/// line, hide text or reorder it with bidirectional controls.
fn write_record(
    out: &mut impl std::io::Write,
    timestamp: &dyn std::fmt::Display,
    record: &log::Record,
) -> std::io::Result<()> {
    writeln!(out, "{}", vault::logging::format_standard(timestamp, record))
}

fn main() -> ExitCode {
    // Everything but `server` and the offline snapshot tool is the client, with the reference CLI's Go-style flags.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if vault::cli::is_client_invocation(&args) {
        let code = vault::cli::run(&args);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse_from(normalize_args());
    match cli.command {
        Command::Server(args) => server(args),
        Command::Operator(OperatorCommand::Snapshot(SnapshotCommand::Inspect { file, format })) => {
            inspect_snapshot(&file, &format)
        }
        Command::Audit(AuditCommand::Verify { key, files }) => verify_audit(&key, &files),
        Command::Operator(OperatorCommand::Migrate { config, start }) => migrate(&config, start.as_deref()),
    }
}

/// glibc gives each thread that allocates under contention its own arena, up to 8 per CPU, and keeps what is freed
/// in them: through a mass expiry of 100,000 tokens (sled's threads churning) the server peaked at 176-187 MiB, and at
/// 118-125 MiB with two arenas on this 2-CPU machine, revoking ~10 % slower (`bench/leases`, bench/README.md). At
/// most one arena per CPU (at least two); the `MALLOC_ARENA_MAX` environment variable still decides when set.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let arenas = libc::c_int::try_from(cpus).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets an allocator parameter; it runs before the server starts its threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// `vault operator migrate -config FILE [-start POSITION]`.
fn migrate(config: &std::path::Path, start: Option<&str>) -> ExitCode {
    use vault::config::{MigrateConfig, StorageTarget};
    use vault::storage::Storage;
    let run = || -> Result<u64, String> {
        let text = std::fs::read_to_string(config).map_err(|e| format!("reading {}: {e}", config.display()))?;
        let parsed = MigrateConfig::parse(&text).map_err(|e| format!("error loading {}: {e}", config.display()))?;
        let open = |target: &StorageTarget, is_source: bool| match target {
            StorageTarget::Sled(path) => {
                if is_source && !path.exists() {
                    return Err(format!("the source directory {} does not exist", path.display()));
                }
                Storage::open(path).map_err(|e| e.to_string())
            }
            StorageTarget::Postgres(options) => {
                let mut options = options.clone();
                // A missing source table is an error, not something to create.
                options.skip_create_table |= is_source;
                options.ha = None;
                Storage::open_postgres(options).map_err(|e| e.to_string())
            }
        };
        let source = open(&parsed.source, true)?;
        let destination = open(&parsed.destination, false)?;
        vault::storage::transfer::copy_records(&source, &destination, start, |position, copied| {
            println!("copied {copied} records, up to {position}");
        })
        .map_err(|e| e.to_string())
    };
    match run() {
        Ok(copied) => {
            println!("Success! All of the keys have been migrated ({copied} records).");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error migrating: {e}");
            ExitCode::from(2)
        }
    }
}

/// `vault audit verify`: exit 0 when every line of every file links to the one before it (the first line of the
/// first file to the start of the device's chain), 2 at the first line that does not.
fn verify_audit(key: &str, files: &[PathBuf]) -> ExitCode {
    use vault::core::audit::chain;
    let key = match hex::decode(key.trim()) {
        Ok(k) => zeroize::Zeroizing::new(k),
        Err(e) => {
            eprintln!("error: -key must be hex: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut previous = chain::GENESIS;
    let mut total = 0;
    for path in files {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: reading {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        match chain::verify(&key, previous, lines.iter().copied()) {
            Ok(count) => {
                total += count;
                if let Some(last) = lines.last().and_then(|l| chain::last_link(l)) {
                    previous = last;
                }
            }
            Err(line) => {
                println!(
                    "{}:{line}: chain broken: this entry was edited, or an entry before it was removed, inserted or \
                     moved",
                    path.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    println!("OK: {total} entries verified in {} file(s)", files.len());
    ExitCode::SUCCESS
}

fn inspect_snapshot(path: &std::path::Path, format: &str) -> ExitCode {
    if format != "table" && format != "json" {
        eprintln!("error: -format must be table or json");
        return ExitCode::FAILURE;
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: opening {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let verified = match vault::storage::snapshot::read_snapshot(std::io::BufReader::new(file)) {
        Ok(v) => v,
        Err(e) => {
            let why = e.to_string();
            eprintln!(
                "error: {}: {}",
                path.display(),
                vault::printable::escape_non_printable(&why)
            );
            return ExitCode::FAILURE;
        }
    };
    let h = &verified.header;
    if format == "json" {
        let mut value = serde_json::to_value(h).unwrap_or_default();
        value["verified"] = serde_json::Value::Bool(true);
        value["file_bytes"] = serde_json::json!(size);
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let cluster = match (&h.cluster_name, &h.cluster_id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (Some(name), None) => name.clone(),
        _ => "-".into(),
    };
    println!("Verified: checksums, compressed stream, record framing and counts are intact\n");
    let rows = [
        ("File", path.display().to_string()),
        ("Format", format!("{} v{}", h.format, h.snapshot_version)),
        ("Server version", h.server_version.clone()),
        ("Storage format", h.storage_format_version.to_string()),
        ("Created", h.created_at.clone()),
        ("Key ID", h.key_id.clone()),
        ("Cluster", cluster),
        ("Size", format!("{size} bytes ({} bytes of records)", h.state_bytes)),
        ("Entries", h.entries.to_string()),
    ];
    // The header is the file's text: printed with its non-printable characters escaped, like the log.
    for (k, v) in rows {
        println!("{k:<16}{}", vault::printable::escape_non_printable(&v));
    }
    println!("\n{:<24}Entries", "Tree");
    for (tree, n) in &h.trees {
        println!("{tree:<24}{n}");
    }
    ExitCode::SUCCESS
}

fn server(args: ServerArgs) -> ExitCode {
    limit_malloc_arenas();
    let options = if args.dev {
        if args.config.is_some() {
            eprintln!("error: -dev and -config cannot be combined");
            return ExitCode::FAILURE;
        }
        ServerOptions {
            config: dev_config(&args.dev_listen_address),
            dev: Some(DevOptions {
                root_token_id: args.dev_root_token_id,
                listen_address: args.dev_listen_address,
            }),
        }
    } else {
        let Some(path) = args.config else {
            eprintln!("error: no configuration given: use -config FILE, or -dev for a development server");
            return ExitCode::FAILURE;
        };
        match Config::load(&path) {
            Ok(config) => ServerOptions { config, dev: None },
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let level = args
        .log_level
        .or_else(|| options.config.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let format = match args.log_format.as_deref().or(options.config.log_format.as_deref()) {
        Some(text) => match vault::config::parse_log_format(text) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: -log-format: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => "standard".into(),
    };
    let json = format == "json";
    init_logging(&level, json);
    let result = actix_web::rt::System::new().block_on(vault::server::run(options));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_log_record_is_one_line_whatever_it_carries() {
        let mut out = Vec::new();
        let path = "cubbyhole/x\n[fake line] \u{202e}olleh\r";
        super::write_record(
            &mut out,
            &"2026-01-01T00:00:00.000Z",
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("vault::core::wrapping")
                .args(format_args!("creation path {path}"))
                .build(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[2026-01-01T00:00:00.000Z WARN  vault::core::wrapping] creation path cubbyhole/x\\n[fake line] \\u{202e}olleh\\r\n"
        );
    }
}
