//! Refuse writes while the data directory is about to run out of room, before sled itself meets ENOSPC (a full
//! file system) or EFBIG (the process's file-size limit). sled's I/O error state is sticky: once a write of its log
//! failed, even reads that need to page something back in fail until a restart. Stopping writes a reserve early
//! keeps every read working, and writes come back by themselves once room is made.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::StorageError;

/// sled writes its log in segments of 512 KiB: keep room for a few of them, and more on large file systems.
const MIN_RESERVE: u64 = 2 << 20;
const MAX_RESERVE: u64 = 64 << 20;
/// How long a reading of the free space is trusted (a statvfs per write would be wasted work).
const RECHECK: Duration = Duration::from_millis(100);

pub struct SpaceGuard {
    dir: PathBuf,
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

impl SpaceGuard {
    pub fn new(dir: &Path) -> Self {
        SpaceGuard {
            dir: dir.to_path_buf(),
            last: Mutex::new(None),
        }
    }

    /// `Err(NoSpace)` when a write now could leave less than the reserve.
    pub fn check(&self) -> Result<(), StorageError> {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = match &*last {
            Some((at, verdict)) if now.duration_since(*at) < RECHECK => verdict.clone(),
            _ => {
                let verdict = self.measure(0);
                if let Err(why) = &verdict {
                    let was_ok = !matches!(&*last, Some((_, Err(_))));
                    if was_ok {
                        log::error!("refusing writes: {why}");
                    }
                } else if matches!(&*last, Some((_, Err(_)))) {
                    log::info!("storage space is available again: writes accepted");
                }
                *last = Some((now, verdict.clone()));
                verdict
            }
        };
        verdict.map_err(StorageError::NoSpace)
    }

    /// `Err(NoSpace)` unless `bytes` more still leave the reserve free, measured now (not the cached reading): for
    /// staging files written at disk speed, which must never eat into the room kept for the store's own writes.
    pub fn check_room(&self, bytes: u64) -> Result<(), StorageError> {
        self.measure(bytes).map_err(StorageError::NoSpace)
    }

    fn measure(&self, extra: u64) -> Result<(), String> {
        // A failed measurement never blocks writes: sled's own error is the last word then.
        let Ok(fs) = rustix::fs::statvfs(&self.dir) else {
            return Ok(());
        };
        let total = fs.f_blocks.saturating_mul(fs.f_frsize);
        let reserve = (total / 20).clamp(MIN_RESERVE, MAX_RESERVE);
        let free = fs.f_bavail.saturating_mul(fs.f_frsize).saturating_sub(extra);
        if free < reserve {
            return Err(format!(
                "no storage space: {} free on the file system of {}, below the reserve of {} kept so stored data \
                 stays readable; make room and retry",
                mib(free),
                self.dir.display(),
                mib(reserve)
            ));
        }
        if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Fsize).current {
            let largest = largest_file(&self.dir);
            let room = limit.saturating_sub(largest);
            if room < MIN_RESERVE {
                return Err(format!(
                    "no storage space: the process's file size limit (ulimit -f, {}) leaves {} for the files of {}, \
                     below the reserve of {}; raise the limit and restart",
                    mib(limit),
                    mib(room),
                    self.dir.display(),
                    mib(MIN_RESERVE)
                ));
            }
        }
        Ok(())
    }
}

/// The largest file sled keeps in `dir` (its log, `db`, or a blob).
fn largest_file(dir: &Path) -> u64 {
    let mut largest = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                largest = largest.max(meta.len());
            }
        }
    }
    largest
}

/// Room for a staging file taken in steps of at least [`STEP`] bytes, each granted by [`SpaceGuard::check_room`], so
/// a file written at disk speed stops at the reserve without a measurement per write.
#[derive(Default)]
pub struct SpaceBudget {
    granted: u64,
}

/// 1 MiB: a measurement (one `statvfs`) per MiB written.
const STEP: u64 = 1 << 20;

impl SpaceBudget {
    /// Take room for `bytes` more, measuring again once the last grant is used up.
    pub fn take(&mut self, guard: &SpaceGuard, bytes: u64) -> Result<(), StorageError> {
        if bytes > self.granted {
            let step = bytes.max(STEP);
            guard.check_room(step)?;
            self.granted = step;
        }
        self.granted -= bytes;
        Ok(())
    }
}
