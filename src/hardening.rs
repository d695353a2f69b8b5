//! Process hardening applied once when the server starts, before any secret is in memory or on disk:
//!
//! - the file creation mask becomes `0077`, so everything the process creates is owner-only: sled's files (it has no
//!   mode option, and keeps creating files as it runs), the store marker, snapshot staging. The mask is process-wide
//!   on purpose: a secrets server has no file that other users should read. A feature that ever needs a wider mode
//!   sets it explicitly on the file (`fchmod` ignores the mask);
//! - core dumps are off (`RLIMIT_CORE` 0, soft and hard), so a crash never writes the memory (keys, tokens) to disk;
//! - unless `disable_mlock` is set, all memory is locked (`mlockall`), so it is never swapped to disk. Vault's default;
//!   OpenBao dropped mlock because bbolt maps its whole database file into memory, which sled does not (it reads and
//!   writes its files), so here the locked memory is the heap (the page cache of sled is 128 MiB at most).

/// Make every file and directory the process creates from now on owner-only.
pub fn restrict_file_creation() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// `RLIMIT_CORE` 0, soft and hard: the process cannot raise it back.
pub fn disable_core_dumps() -> Result<(), String> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    setrlimit(Resource::Core, none).map_err(|e| format!("disabling core dumps (RLIMIT_CORE 0): {e}"))
}

/// Why locking failed, and what to do about it, in the words operators of Vault know ("Failed to lock memory").
fn lock_failed(cause: impl std::fmt::Display) -> String {
    format!(
        "Failed to lock memory: {cause}\n\n\
         This usually means that the mlock syscall is not available or not permitted.\n\
         Vault locks its memory (mlockall) so that secrets are never swapped to disk.\n\
         This needs the CAP_IPC_LOCK capability (root has it; or `setcap cap_ipc_lock=+ep` on\n\
         the binary, or AmbientCapabilities=CAP_IPC_LOCK in a systemd unit) or an RLIMIT_MEMLOCK\n\
         as large as the server's memory (LimitMEMLOCK=infinity). To run without it, set\n\
         `disable_mlock = true` in the configuration file, and disable or encrypt swap instead."
    )
}

/// Lock all current and future memory. Pages are locked as they are first touched (`MCL_ONFAULT`, Linux 4.4+), so
/// reserved but unused memory (thread stacks, allocator arenas) is not filled in up front; an older kernel locks
/// them populated.
#[cfg(target_os = "linux")]
pub fn lock_memory() -> Result<(), String> {
    use rustix::mm::{mlockall, MlockAllFlags};
    let all = MlockAllFlags::CURRENT | MlockAllFlags::FUTURE;
    match mlockall(all | MlockAllFlags::ONFAULT) {
        Ok(()) => {}
        Err(rustix::io::Errno::INVAL) => mlockall(all).map_err(lock_failed)?,
        Err(e) => return Err(lock_failed(e)),
    }
    if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Memlock).current {
        if !has_ipc_lock() {
            log::warn!(
                "memory is locked, but RLIMIT_MEMLOCK is {limit} bytes and the process lacks CAP_IPC_LOCK: an \
                 allocation past the limit fails and stops the server; raise the limit (LimitMEMLOCK=infinity) or \
                 grant CAP_IPC_LOCK"
            );
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn lock_memory() -> Result<(), String> {
    log::warn!("memory locking (mlockall) is not supported on this platform: secrets may be swapped to disk");
    Ok(())
}

/// Whether the effective capabilities include CAP_IPC_LOCK (bit 14), which lifts RLIMIT_MEMLOCK.
#[cfg(target_os = "linux")]
fn has_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Everything above, in order; `disable_mlock` as configured (dev mode implies it, as in Vault).
pub fn apply(disable_mlock: bool) -> Result<(), String> {
    restrict_file_creation();
    disable_core_dumps()?;
    if !disable_mlock {
        lock_memory()?;
    }
    Ok(())
}
