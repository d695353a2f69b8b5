//! The contract of an audit device (OpenBao's `audit.Backend`, minus formatting): a sink that records one
//! formatted entry at a time. The core formats and HMACs entries (with the device's salt and its common options:
//! `log_raw`, `hmac_accessor`, `elide_list_responses`, `format`, `prefix`); a device only writes them and, on
//! `SIGHUP`, reopens what it writes to.

use std::collections::BTreeMap;

/// What a device factory is given: the device's options as declared (the common ones included, which it ignores).
pub struct AuditDeviceConfig<'a> {
    pub options: &'a BTreeMap<String, String>,
}

pub trait AuditSink: Send + Sync {
    /// Record one entry (a complete line, newline included). `Err` when it could not be recorded.
    fn write_entry(&self, line: &[u8]) -> std::io::Result<()>;

    /// Whether `write_entry` may be given several entries at once (lines one after another), recording all or
    /// none of them: then concurrent requests' entries are written together. Not for a sink that needs one
    /// message per entry (a datagram, a syslog record).
    fn takes_batches(&self) -> bool {
        false
    }

    /// Reopen the destination (log rotation); a no-op for devices without one.
    fn reload(&self) -> std::io::Result<()>;

    /// The last entry recorded, for a device that can read its destination back (a file): a tamper-evident chain
    /// resumes from it after a restart.
    fn last_entry(&self) -> Option<Vec<u8>> {
        None
    }
}

/// An audit device type's factory: the sink, or why the options are refused (OpenBao's text).
pub type AuditFactory = fn(&AuditDeviceConfig) -> Result<std::sync::Arc<dyn AuditSink>, String>;

/// Go's `strconv.ParseBool`, with its error text (device options are parsed as OpenBao parses them).
pub fn parse_go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {value:?}: invalid syntax")),
    }
}

/// What a device writes through (an open file, a connection): opened on demand, and when a write through it fails,
/// closed, opened again and written once more (OpenBao's reconnect-and-retry), all under one lock so entries keep
/// their order and never interleave.
pub struct Reopening<T> {
    slot: std::sync::Mutex<Option<T>>,
}

impl<T> Reopening<T> {
    pub fn new(current: Option<T>) -> Self {
        Reopening {
            slot: std::sync::Mutex::new(current),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        // A panic while holding the lock leaves at worst a closed destination, which the next write reopens.
        self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Write through the current destination; on failure (or with none), open a new one and write once more.
    pub fn write(
        &self,
        open: impl Fn() -> std::io::Result<T>,
        write: impl Fn(&mut T) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut slot = self.lock();
        if let Some(current) = slot.as_mut() {
            if write(current).is_ok() {
                return Ok(());
            }
        }
        *slot = None;
        let mut fresh = open()?;
        write(&mut fresh)?;
        *slot = Some(fresh);
        Ok(())
    }

    /// Close the destination and open it again (`SIGHUP`).
    pub fn reopen(&self, open: impl Fn() -> std::io::Result<T>) -> std::io::Result<()> {
        let mut slot = self.lock();
        *slot = None;
        *slot = Some(open()?);
        Ok(())
    }
}
