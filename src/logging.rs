//! Log levels that can change at runtime (`sys/loggers`): one level for the whole server plus per-logger overrides.
//! A logger is a module of this crate named OpenBao-style, `core`, `core.expiration`, `storage`, ... (the module
//! path below `vault::` with dots); a record's level is decided by the most specific logger that has an override,
//! else the server's level. Other crates' records follow the server's level (sled's are capped at warn).
//!
//! Records are written one per line, as text (`[time LEVEL target] message`) or, with `log_format = "json"`, as one
//! JSON object with OpenBao's keys (`@level`, `@message`, `@module`, `@timestamp`); every character that is not
//! printable is escaped either way, so no client-supplied text can forge a line. `sys/monitor` subscribes here
//! ([`subscribe`]): each monitor gets the records at its own level and format, on a bounded channel that drops
//! records rather than slow the server down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

use log::{LevelFilter, Log, Metadata, Record};

/// The loggers `sys/loggers` lists.
pub const LOGGERS: &[&str] = &[
    "audit",
    "builtin",
    "builtin.auth",
    "builtin.secrets",
    "core",
    "core.audit",
    "core.expiration",
    "core.pipeline",
    "core.scheduler",
    "http",
    "policy",
    "seal",
    "server",
    "storage",
];

struct Levels {
    /// The level the configuration (or `-log-level`) set: what a reset returns to.
    configured: LevelFilter,
    base: LevelFilter,
    overrides: BTreeMap<String, LevelFilter>,
}

static LEVELS: OnceLock<RwLock<Levels>> = OnceLock::new();

fn levels() -> &'static RwLock<Levels> {
    LEVELS.get_or_init(|| {
        RwLock::new(Levels {
            configured: LevelFilter::Info,
            base: LevelFilter::Info,
            overrides: BTreeMap::new(),
        })
    })
}

/// `vault::core::expiration` -> `core.expiration`; `None` for other crates.
fn logger_of(target: &str) -> Option<String> {
    target.strip_prefix("vault::").map(|rest| rest.replace("::", "."))
}

fn level_for(target: &str) -> LevelFilter {
    let Ok(levels) = levels().read() else {
        return LevelFilter::Info;
    };
    if target.starts_with("sled") {
        return levels.base.min(LevelFilter::Warn);
    }
    if let Some(name) = logger_of(target) {
        let mut best: Option<(usize, LevelFilter)> = None;
        for (logger, level) in &levels.overrides {
            let matches = name
                .strip_prefix(logger.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
            if matches && best.is_none_or(|(len, _)| logger.len() > len) {
                best = Some((logger.len(), *level));
            }
        }
        if let Some((_, level)) = best {
            return level;
        }
    }
    levels.base
}

fn refresh_max_level(levels: &Levels) {
    let max = levels.overrides.values().copied().fold(levels.base, std::cmp::max);
    log::set_max_level(max.max(monitor_max_level()));
}

fn refresh() {
    if let Ok(levels) = levels().read() {
        refresh_max_level(&levels);
    }
}

/// The text a log line shows for a record's origin: this crate's loggers by their `sys/loggers` name
/// (`core.expiration`), other crates by their module path.
pub fn module_of(target: &str) -> String {
    logger_of(target).unwrap_or_else(|| target.to_string())
}

/// One record as a text line (no newline): `[timestamp LEVEL target] message`, non-printable characters escaped.
pub fn format_standard(timestamp: &dyn std::fmt::Display, record: &Record) -> String {
    let message = record.args().to_string();
    format!(
        "[{timestamp} {:<5} {}] {}",
        record.level(),
        record.target(),
        crate::printable::escape_non_printable(&message)
    )
}

/// One record as a JSON object (no newline) with OpenBao's keys; `@timestamp` in microseconds, UTC.
pub fn format_json(record: &Record) -> String {
    let message = record.args().to_string();
    serde_json::json!({
        "@level": record.level().as_str().to_ascii_lowercase(),
        "@message": crate::printable::escape_non_printable(&message),
        "@module": module_of(record.target()),
        "@timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    })
    .to_string()
}

static JSON_FORMAT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the server logs JSON (`log_format = "json"`); `sys/monitor` then streams JSON whatever it is asked.
pub fn set_json_format(json: bool) {
    JSON_FORMAT.store(json, Ordering::Relaxed);
}

pub fn json_format() -> bool {
    JSON_FORMAT.load(Ordering::Relaxed)
}

/// A `sys/monitor` client: the level it asked for, its format, where its lines go.
struct Monitor {
    id: u64,
    level: LevelFilter,
    json: bool,
    sender: tokio::sync::mpsc::Sender<String>,
    /// Lines lost because the client read too slowly, reported (as OpenBao does) before the next one.
    dropped: u64,
}

static MONITORS: Mutex<Vec<Monitor>> = Mutex::new(Vec::new());
static NEXT_MONITOR: AtomicU64 = AtomicU64::new(1);
/// How many monitors there are: lets a record skip the monitors' lock when there is none.
static MONITOR_COUNT: AtomicU64 = AtomicU64::new(0);

fn monitor_max_level() -> LevelFilter {
    if MONITOR_COUNT.load(Ordering::Relaxed) == 0 {
        return LevelFilter::Off;
    }
    MONITORS
        .lock()
        .map(|m| m.iter().map(|m| m.level).max().unwrap_or(LevelFilter::Off))
        .unwrap_or(LevelFilter::Off)
}

/// A monitor's subscription; dropping it ends the subscription.
pub struct Subscription {
    id: u64,
    pub lines: tokio::sync::mpsc::Receiver<String>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut monitors) = MONITORS.lock() {
            monitors.retain(|m| m.id != self.id);
            MONITOR_COUNT.store(monitors.len() as u64, Ordering::Relaxed);
        }
        refresh();
    }
}

/// Receive every record at `level` or more severe, whatever the loggers' levels, formatted as JSON or text (each
/// line ends with a newline). At most `buffer` lines wait; more are dropped.
pub fn subscribe(level: LevelFilter, json: bool, buffer: usize) -> Subscription {
    let (sender, lines) = tokio::sync::mpsc::channel(buffer.max(1));
    let id = NEXT_MONITOR.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut monitors) = MONITORS.lock() {
        monitors.push(Monitor {
            id,
            level,
            json,
            sender,
            dropped: 0,
        });
        MONITOR_COUNT.store(monitors.len() as u64, Ordering::Relaxed);
    }
    refresh();
    Subscription { id, lines }
}

fn send_to_monitors(record: &Record) {
    if MONITOR_COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    // sled's records are capped at warn, as in the server's own log.
    if record.target().starts_with("sled") && record.level() > log::Level::Warn {
        return;
    }
    // Nothing below logs, so holding the lock cannot deadlock on a record of our own.
    let Ok(mut monitors) = MONITORS.lock() else {
        return;
    };
    let mut text = None;
    let mut json = None;
    for monitor in monitors.iter_mut().filter(|m| record.level() <= m.level) {
        if monitor.dropped > 0 {
            let warning = format!("Monitor dropped {} logs during monitor request\n", monitor.dropped);
            match monitor.sender.try_send(warning) {
                Ok(()) => monitor.dropped = 0,
                Err(_) => {
                    monitor.dropped += 1;
                    continue;
                }
            }
        }
        let line = if monitor.json {
            json.get_or_insert_with(|| format_json(record) + "\n").clone()
        } else {
            text.get_or_insert_with(|| {
                let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
                format_standard(&now, record) + "\n"
            })
            .clone()
        };
        if monitor.sender.try_send(line).is_err() {
            monitor.dropped += 1;
        }
    }
}

/// Parse a level as `sys/loggers` takes it.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => Ok(LevelFilter::Trace),
        "debug" => Ok(LevelFilter::Debug),
        "info" => Ok(LevelFilter::Info),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "error" => Ok(LevelFilter::Error),
        other => Err(format!("invalid level provided: unknown log level: {other}")),
    }
}

fn name_of(level: LevelFilter) -> &'static str {
    match level {
        LevelFilter::Off => "off",
        LevelFilter::Error => "error",
        LevelFilter::Warn => "warn",
        LevelFilter::Info => "info",
        LevelFilter::Debug => "debug",
        LevelFilter::Trace => "trace",
    }
}

/// Every logger with its level now.
pub fn current_levels() -> BTreeMap<&'static str, &'static str> {
    LOGGERS
        .iter()
        .map(|name| {
            (
                *name,
                name_of(level_for(&format!("vault::{}", name.replace('.', "::")))),
            )
        })
        .collect()
}

/// One logger's level, `None` when there is no such logger.
pub fn logger_level(name: &str) -> Option<&'static str> {
    LOGGERS.contains(&name).then(|| current_levels()[name])
}

/// Set every logger to `level` (overrides dropped).
pub fn set_all(level: LevelFilter) {
    if let Ok(mut levels) = levels().write() {
        levels.base = level;
        levels.overrides.clear();
        refresh_max_level(&levels);
    }
}

/// Set one logger; false when there is no such logger.
pub fn set_logger(name: &str, level: LevelFilter) -> bool {
    if !LOGGERS.contains(&name) {
        return false;
    }
    if let Ok(mut levels) = levels().write() {
        levels.overrides.insert(name.to_string(), level);
        refresh_max_level(&levels);
    }
    true
}

/// Back to the configured level: every logger, or one (`Some(name)`; false when there is no such logger).
pub fn reset(name: Option<&str>) -> bool {
    if name.is_some_and(|n| !LOGGERS.contains(&n)) {
        return false;
    }
    if let Ok(mut levels) = levels().write() {
        match name {
            Some(name) => {
                levels.overrides.remove(name);
            }
            None => {
                levels.base = levels.configured;
                levels.overrides.clear();
            }
        }
        refresh_max_level(&levels);
    }
    true
}

/// Wraps the output logger with the runtime levels.
struct RuntimeLevels<L> {
    inner: L,
}

impl<L: Log> Log for RuntimeLevels<L> {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= level_for(metadata.target()) || metadata.level() <= monitor_max_level()
    }

    fn log(&self, record: &Record) {
        if record.level() <= level_for(record.target()) {
            self.inner.log(record);
        }
        if record.level() <= log::max_level() {
            send_to_monitors(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Install `inner` (which must let every level through) as the process logger, at `configured` level.
pub fn install(inner: Box<dyn Log>, configured: LevelFilter) -> Result<(), log::SetLoggerError> {
    if let Ok(mut levels) = levels().write() {
        levels.configured = configured;
        levels.base = configured;
        levels.overrides.clear();
    }
    log::set_boxed_logger(Box::new(RuntimeLevels { inner }))?;
    if let Ok(levels) = levels().read() {
        refresh_max_level(&levels);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_line(message: &str) {
        send_to_monitors(
            &Record::builder()
                .level(log::Level::Info)
                .target("vault::core")
                .args(format_args!("{message}"))
                .build(),
        );
    }

    #[test]
    fn a_slow_monitor_loses_lines_and_is_told_how_many() {
        let mut sub = subscribe(LevelFilter::Info, true, 1);
        record_line("first monitored line");
        record_line("second monitored line");
        record_line("third monitored line");
        let first: serde_json::Value = serde_json::from_str(sub.lines.try_recv().unwrap().trim()).unwrap();
        assert_eq!(first["@message"], "first monitored line");
        assert_eq!(first["@module"], "core");
        assert!(sub.lines.try_recv().is_err());
        record_line("fourth monitored line");
        assert_eq!(
            sub.lines.try_recv().unwrap(),
            "Monitor dropped 2 logs during monitor request\n"
        );
        record_line("fifth monitored line");
        let fifth = sub.lines.try_recv().unwrap();
        assert!(fifth.starts_with("Monitor dropped 1 logs"), "{fifth}");
        drop(sub);
        assert_eq!(monitor_max_level(), LevelFilter::Off);
    }

    #[test]
    fn the_most_specific_override_wins() {
        set_all(LevelFilter::Info);
        assert_eq!(level_for("vault::core::expiration"), LevelFilter::Info);
        assert!(set_logger("core", LevelFilter::Debug));
        assert!(set_logger("core.expiration", LevelFilter::Error));
        assert_eq!(level_for("vault::core::expiration"), LevelFilter::Error);
        assert_eq!(level_for("vault::core::pipeline"), LevelFilter::Debug);
        assert_eq!(
            level_for("vault::core_other"),
            LevelFilter::Info,
            "a prefix is a whole logger name"
        );
        assert_eq!(level_for("vault::storage::batch"), LevelFilter::Info);
        assert_eq!(level_for("sled::tree"), LevelFilter::Info.min(LevelFilter::Warn));
        assert!(!set_logger("nosuch", LevelFilter::Debug));
        assert_eq!(logger_level("core"), Some("debug"));
        assert_eq!(logger_level("nosuch"), None);
        assert!(reset(Some("core")));
        assert_eq!(level_for("vault::core::pipeline"), LevelFilter::Info);
        assert!(reset(None));
        assert_eq!(level_for("vault::core::expiration"), LevelFilter::Info);
        assert_eq!(
            parse_level("bogus").unwrap_err(),
            "invalid level provided: unknown log level: bogus"
        );
    }
}
