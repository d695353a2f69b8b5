//! The `file` audit device (OpenBao's `builtin/audit/file`): appends each entry to `file_path`, or writes it to
//! standard output (`stdout`), or drops it (`discard`). The file is opened at creation (so a path that cannot be
//! written is refused then), kept open, reopened once when a write fails, and reopened on `SIGHUP` so rotated logs
//! are followed. Each write is one `write` of complete lines (an entry, or a batch of concurrent requests' entries) on
//! an `O_APPEND` descriptor, so entries never interleave, and what cannot be written whole (a full disk) is cut off
//! again. With `fsync = true` (not an
//! OpenBao option) an entry is on disk before the request goes on; the default is off, as in OpenBao: the page cache
//! survives a crash of the server, and a sync per entry costs a disk flush per request.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use crate::logical::audit::{parse_go_bool, Reopening};
use crate::logical::{AuditDeviceConfig, AuditSink};

const DEFAULT_MODE: u32 = 0o600;

enum Target {
    Stdout,
    Discard,
    File(PathBuf),
}

pub struct FileDevice {
    target: Target,
    /// 0: leave the mode of an existing file as it is.
    mode: u32,
    fsync: bool,
    file: Reopening<File>,
}

pub fn factory(config: &AuditDeviceConfig) -> Result<Arc<dyn AuditSink>, String> {
    let options = config.options;
    let path = options
        .get("file_path")
        .or_else(|| options.get("path"))
        .ok_or_else(|| "file_path is required".to_string())?;
    let target = if path.eq_ignore_ascii_case("stdout") {
        Target::Stdout
    } else if path.eq_ignore_ascii_case("discard") {
        Target::Discard
    } else {
        Target::File(PathBuf::from(path))
    };
    let mode = match options.get("mode") {
        None => DEFAULT_MODE,
        Some(raw) => {
            let m = u32::from_str_radix(raw, 8)
                .map_err(|_| format!("strconv.ParseUint: parsing {raw:?}: invalid syntax"))?;
            if m & !0o7777 != 0 {
                return Err("file mode does not represent a regular file".into());
            }
            if m == 0 {
                if let Target::File(p) = &target {
                    let meta = std::fs::metadata(p).map_err(|e| format!("stat {}: {e}", p.display()))?;
                    meta.permissions().mode() & 0o777
                } else {
                    0
                }
            } else {
                // Never an executable file (OpenBao strips these bits too: CVE-2025-6000).
                m & 0o666
            }
        }
    };
    let fsync = match options.get("fsync") {
        Some(v) => parse_go_bool(v)?,
        None => false,
    };
    let device = FileDevice {
        target,
        mode,
        fsync,
        file: Reopening::new(None),
    };
    if let Target::File(p) = &device.target {
        device.file.reopen(|| device.open()).map_err(|e| {
            format!(
                "sanity check failed; unable to open {:?} for writing: {e}",
                p.display().to_string()
            )
        })?;
    }
    Ok(Arc::new(device))
}

impl FileDevice {
    fn open(&self) -> std::io::Result<File> {
        let Target::File(path) = &self.target else {
            return Err(std::io::Error::other("not a file"));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(if self.mode == 0 { DEFAULT_MODE } else { self.mode })
            .open(path)?;
        // An existing file gets the configured mode too (not /dev/null, which cannot be changed).
        if self.mode != 0 && path.as_os_str() != "/dev/null" {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode))?;
        }
        Ok(file)
    }

    /// Append `line`; when it cannot be written whole (a full file system), what was written of it is cut off
    /// again, so the file never holds half an entry that the next one would continue.
    fn write_to(&self, file: &mut File, line: &[u8]) -> std::io::Result<()> {
        let mut written = 0;
        while written < line.len() {
            match file.write(&line[written..]) {
                Ok(0) => {
                    Self::cut_off(file, written);
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    Self::cut_off(file, written);
                    return Err(e);
                }
            }
        }
        if self.fsync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Remove the last `partial` bytes (an entry written in part; the device's lock keeps other entries out).
    fn cut_off(file: &File, partial: usize) {
        if partial == 0 {
            return;
        }
        let cut = file
            .metadata()
            .and_then(|m| file.set_len(m.len().saturating_sub(partial as u64)));
        if let Err(e) = cut {
            log::error!("audit: a partly written entry could not be removed: {e}");
        }
    }
}

impl AuditSink for FileDevice {
    fn write_entry(&self, line: &[u8]) -> std::io::Result<()> {
        match &self.target {
            Target::Discard => Ok(()),
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            // A failed write reopens the file once and retries (it may have been moved or removed).
            Target::File(_) => self.file.write(|| self.open(), |file| self.write_to(file, line)),
        }
    }

    /// A batch is one `write` on the `O_APPEND` descriptor, cut off again whole when it cannot be written whole.
    fn takes_batches(&self) -> bool {
        true
    }

    fn last_entry(&self) -> Option<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let Target::File(path) = &self.target else {
            return None;
        };
        let mut file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        // An entry is rarely larger than this; a larger one starts no chain (it is not read back whole).
        let window = len.min(1 << 20);
        file.seek(SeekFrom::Start(len - window)).ok()?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).ok()?;
        let body = tail.strip_suffix(b"\n")?;
        let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        (start > 0 || window == len).then(|| body[start..].to_vec())
    }

    fn reload(&self) -> std::io::Result<()> {
        if !matches!(self.target, Target::File(_)) {
            return Ok(());
        }
        self.file.reopen(|| self.open())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(options: &[(&str, &str)]) -> Result<Arc<dyn AuditSink>, String> {
        crate::logical::testing::audit_device(factory, options)
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(make(&[]).err().unwrap(), "file_path is required");
        assert!(make(&[("file_path", "discard")]).is_ok());
        assert!(make(&[("file_path", "STDOUT")]).is_ok());
        let e = make(&[("file_path", "discard"), ("mode", "9")]).err().unwrap();
        assert!(e.contains("invalid syntax"), "{e}");
        let e = make(&[("file_path", "discard"), ("mode", "170000")]).err().unwrap();
        assert_eq!(e, "file mode does not represent a regular file");
        let e = make(&[("file_path", "/proc/nope/audit.log")]).err().unwrap();
        assert!(
            e.starts_with("sanity check failed; unable to open \"/proc/nope/audit.log\" for writing"),
            "{e}"
        );
    }

    #[test]
    fn appends_with_mode_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.log");
        let p = path.to_str().unwrap();
        let device = make(&[("file_path", p), ("mode", "0755")]).unwrap();
        device.write_entry(b"one\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        // Rotated away: writes follow the old file until reloaded.
        std::fs::rename(&path, dir.path().join("sub/audit.log.1")).unwrap();
        device.write_entry(b"two\n").unwrap();
        device.reload().unwrap();
        device.write_entry(b"three\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/audit.log.1")).unwrap(),
            "one\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
    }
}
