//! Log levels that can change at runtime (`sys/loggers`): one level for the whole server plus per-logger overrides.
//! A logger is a module of this crate named OpenBao-style, `core`, `core.expiration`, `storage`, ... (the module
//! path below `vault::` with dots); a record's level is decided by the most specific logger that has an override,
//! else the server's level. Other crates' records follow the server's level (sled's are capped at warn).

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

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
    log::set_max_level(max);
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
        metadata.level() <= level_for(metadata.target())
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            self.inner.log(record);
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
