//! Process hardening applied once when the server starts, before anything is on disk:
//!
//! - the file creation mask becomes `0077`, so everything the process creates is owner-only: sled's files (it has no
//!   mode option, and keeps creating files as it runs), the store marker, snapshot staging. The mask is process-wide
//!   on purpose: a secrets server has no file that other users should read. A feature that ever needs a wider mode
//!   sets it explicitly on the file (`fchmod` ignores the mask).

/// Make every file and directory the process creates from now on owner-only.
pub fn restrict_file_creation() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Everything above, in order.
pub fn apply() {
    restrict_file_creation();
}
