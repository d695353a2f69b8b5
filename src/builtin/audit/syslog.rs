//! The `syslog` audit device (OpenBao's `builtin/audit/syslog`): sends each entry to the local syslog daemon at
//! priority INFO, with `facility` (default `AUTH`; go-syslog's names, any case) and `tag` (default `vault`), in the
//! local RFC 3164 form `<PRI>Mmm dd hh:mm:ss TAG[PID]: ENTRY` that Go's `log/syslog` sends. The daemon's socket is
//! found as Go finds it (`/dev/log`, `/var/run/syslog`, `/var/run/log`, datagram or stream); `socket_path` (ours,
//! not an OpenBao option) names another one. The device connects when it is created, so a host without a syslog
//! daemon refuses it, and reconnects once when a send fails, as Go's writer does.

use std::sync::Arc;

use ::syslog::{Facility, Formatter3164, LoggerBackend};

use crate::logical::audit::Reopening;
use crate::logical::{AuditDeviceConfig, AuditSink};

const SOCKET_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];

type Logger = ::syslog::Logger<LoggerBackend, Formatter3164>;

pub struct SyslogDevice {
    formatter: Formatter3164,
    socket_path: Option<String>,
    logger: Reopening<Logger>,
}

/// go-syslog's `facilityPriority`, with its error text.
fn facility(name: &str) -> Result<Facility, String> {
    let upper = name.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "KERN" => Facility::LOG_KERN,
        "USER" => Facility::LOG_USER,
        "MAIL" => Facility::LOG_MAIL,
        "DAEMON" => Facility::LOG_DAEMON,
        "AUTH" => Facility::LOG_AUTH,
        "SYSLOG" => Facility::LOG_SYSLOG,
        "LPR" => Facility::LOG_LPR,
        "NEWS" => Facility::LOG_NEWS,
        "UUCP" => Facility::LOG_UUCP,
        "CRON" => Facility::LOG_CRON,
        "AUTHPRIV" => Facility::LOG_AUTHPRIV,
        "FTP" => Facility::LOG_FTP,
        "LOCAL0" => Facility::LOG_LOCAL0,
        "LOCAL1" => Facility::LOG_LOCAL1,
        "LOCAL2" => Facility::LOG_LOCAL2,
        "LOCAL3" => Facility::LOG_LOCAL3,
        "LOCAL4" => Facility::LOG_LOCAL4,
        "LOCAL5" => Facility::LOG_LOCAL5,
        "LOCAL6" => Facility::LOG_LOCAL6,
        "LOCAL7" => Facility::LOG_LOCAL7,
        _ => return Err(format!("invalid syslog facility: {upper}")),
    })
}

pub fn factory(config: &AuditDeviceConfig) -> Result<Arc<dyn AuditSink>, String> {
    let options = config.options;
    let facility = facility(options.get("facility").map_or("AUTH", String::as_str))?;
    let tag = options.get("tag").cloned().unwrap_or_else(|| "vault".to_string());
    let device = SyslogDevice {
        formatter: Formatter3164 {
            facility,
            hostname: None,
            process: tag,
            pid: std::process::id(),
        },
        socket_path: options.get("socket_path").cloned(),
        logger: Reopening::new(None),
    };
    device.logger.reopen(|| device.connect()).map_err(|e| e.to_string())?;
    Ok(Arc::new(device))
}

impl SyslogDevice {
    fn connect(&self) -> std::io::Result<Logger> {
        let formatter = self.formatter.clone();
        match &self.socket_path {
            Some(path) => ::syslog::unix_custom(formatter, path)
                .map_err(|e| std::io::Error::other(format!("syslog socket {path}: {e}"))),
            // Go's error when none of the usual sockets answers.
            None => SOCKET_PATHS
                .iter()
                .find_map(|path| ::syslog::unix_custom(formatter.clone(), path).ok())
                .ok_or_else(|| std::io::Error::other("Unix syslog delivery error")),
        }
    }

    fn send(logger: &mut Logger, line: &[u8]) -> std::io::Result<()> {
        // Entries are JSON (UTF-8); a prefix that is not is sent with replacement characters.
        let text = String::from_utf8_lossy(line);
        logger.info(text).map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl AuditSink for SyslogDevice {
    /// A failed send (the daemon restarted) reconnects once and retries, as Go's writer does.
    fn write_entry(&self, line: &[u8]) -> std::io::Result<()> {
        self.logger.write(|| self.connect(), |logger| Self::send(logger, line))
    }

    fn reload(&self) -> std::io::Result<()> {
        self.logger.reopen(|| self.connect())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;

    fn make(options: &[(&str, &str)]) -> Result<Arc<dyn AuditSink>, String> {
        crate::logical::testing::audit_device(factory, options)
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(
            make(&[("facility", "mars")]).err().unwrap(),
            "invalid syslog facility: MARS"
        );
        let e = make(&[("socket_path", "/nonexistent/log")]).err().unwrap();
        assert!(e.starts_with("syslog socket /nonexistent/log: "), "{e}");
        if !SOCKET_PATHS.iter().any(|p| std::path::Path::new(p).exists()) {
            assert_eq!(make(&[]).err().unwrap(), "Unix syslog delivery error");
        }
    }

    #[test]
    fn entries_reach_the_daemon_with_facility_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = UnixDatagram::bind(&path).unwrap();
        let p = path.to_str().unwrap();
        let device = make(&[("socket_path", p), ("facility", "local3"), ("tag", "bao-audit")]).unwrap();
        device.write_entry(b"{\"type\":\"request\"}\n").unwrap();
        let mut buf = [0u8; 512];
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        // LOCAL3 (19) * 8 + INFO (6) = 158.
        assert!(text.starts_with("<158>"), "{text}");
        let pid = std::process::id();
        assert!(
            text.ends_with(&format!(" bao-audit[{pid}]: {{\"type\":\"request\"}}\n")),
            "{text}"
        );
        // The daemon restarts (a new socket at the same path): the device reconnects on the next entry.
        drop(daemon);
        std::fs::remove_file(&path).unwrap();
        assert!(device.write_entry(b"lost\n").is_err());
        let daemon = UnixDatagram::bind(&path).unwrap();
        device.write_entry(b"again\n").unwrap();
        let n = daemon.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with(": again\n"));
        // AUTH (4) * 8 + INFO = 38 by default, tag `vault`.
        let device = make(&[("socket_path", p)]).unwrap();
        device.write_entry(b"x\n").unwrap();
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.starts_with("<38>") && text.contains(" vault["), "{text}");
    }
}
