//! The `socket` audit device (OpenBao's `builtin/audit/socket`): sends each entry over a connection to `address`,
//! of `socket_type` `tcp` (the default), `udp` or `unix` (Go's network names: `tcp4`, `tcp6`, `udp4`, `udp6` and
//! `unixgram` too), each write bounded by `write_timeout` (Go duration or seconds, default `2s`).
//!
//! As OpenBao: the device connects on its first entry (so enabling it connects through the test message), a failed
//! write closes the connection, reconnects once and retries, and `SIGHUP` reconnects. Unlike OpenBao, a stream whose
//! peer has closed it is noticed before the write (a write into such a socket succeeds once and the entry is lost), so
//! a vanished peer makes the entry fail at once: with no other device, the request is refused (fail closed).

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use std::time::Duration;

use crate::logical::audit::Reopening;
use crate::logical::{AuditDeviceConfig, AuditSink};

const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Tcp,
    Udp,
    Unix,
    UnixGram,
}

enum Connection {
    Tcp(TcpStream),
    Udp(UdpSocket),
    Unix(UnixStream),
    UnixGram(UnixDatagram),
}

pub struct SocketDevice {
    address: String,
    /// The name as configured, for error texts (Go's `dial tcp4 ...`).
    socket_type: String,
    network: Option<Network>,
    write_timeout: Duration,
    connection: Reopening<Connection>,
}

pub fn factory(config: &AuditDeviceConfig) -> Result<Arc<dyn AuditSink>, String> {
    let options = config.options;
    let address = options
        .get("address")
        .ok_or_else(|| "address is required".to_string())?;
    let socket_type = options.get("socket_type").map_or("tcp", String::as_str);
    let write_timeout = match options.get("write_timeout") {
        None => DEFAULT_WRITE_TIMEOUT,
        // go-secure-stdlib's `ParseDurationSecond`: whole seconds, or Go's duration syntax.
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => Duration::from_nanos(crate::framework::parse_go_duration(raw)?.clamp(0, u64::MAX as i128) as u64),
        },
    };
    // An unknown network fails when the device dials (its test message), as in OpenBao.
    let network = match socket_type {
        "tcp" | "tcp4" | "tcp6" => Some(Network::Tcp),
        "udp" | "udp4" | "udp6" => Some(Network::Udp),
        "unix" => Some(Network::Unix),
        "unixgram" => Some(Network::UnixGram),
        _ => None,
    };
    Ok(Arc::new(SocketDevice {
        address: address.clone(),
        socket_type: socket_type.to_string(),
        network,
        // A zero timeout would mean "block forever" to the socket calls.
        write_timeout: write_timeout.max(Duration::from_millis(1)),
        connection: Reopening::new(None),
    }))
}

/// `true` when the stream's peer has closed it (or it failed): a non-blocking peek sees the end of the stream.
fn stream_closed(peek: impl FnOnce(&mut [u8]) -> std::io::Result<usize>) -> bool {
    let mut byte = [0u8; 1];
    match peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

impl Connection {
    fn peer_gone(&self) -> bool {
        match self {
            Connection::Tcp(s) => {
                s.set_nonblocking(true).is_err() || {
                    let closed = stream_closed(|b| s.peek(b));
                    s.set_nonblocking(false).is_err() || closed
                }
            }
            Connection::Unix(s) => {
                s.set_nonblocking(true).is_err() || {
                    let closed = stream_closed(|b| {
                        use std::io::Read;
                        // A unix stream has no peek in std; the audit peer never sends, so a read only sees the end.
                        (&*s).read(b)
                    });
                    s.set_nonblocking(false).is_err() || closed
                }
            }
            Connection::Udp(_) | Connection::UnixGram(_) => false,
        }
    }

    fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        match self {
            Connection::Tcp(s) => s.write_all(line),
            Connection::Unix(s) => s.write_all(line),
            Connection::Udp(s) => s.send(line).map(|_| ()),
            Connection::UnixGram(s) => s.send(line).map(|_| ()),
        }
    }
}

impl SocketDevice {
    /// Go's `dial NETWORK ADDRESS: connect: <errno text>`.
    fn dial_error(&self, e: impl std::fmt::Display) -> std::io::Error {
        std::io::Error::other(format!("dial {} {}: {e}", self.socket_type, self.address))
    }

    fn connect_error(&self, e: std::io::Error) -> std::io::Error {
        self.dial_error(format!("connect: {}", go_errno_text(&e)))
    }

    fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let v4 = self.socket_type.ends_with('4');
        let v6 = self.socket_type.ends_with('6');
        let addrs: Vec<SocketAddr> = self
            .address
            .to_socket_addrs()
            .map_err(|e| self.dial_error(e))?
            .filter(|a| (!v4 || a.is_ipv4()) && (!v6 || a.is_ipv6()))
            .collect();
        if addrs.is_empty() {
            return Err(self.dial_error("no suitable address found"));
        }
        Ok(addrs)
    }

    fn connect(&self) -> std::io::Result<Connection> {
        let timeout = Some(self.write_timeout);
        let Some(network) = self.network else {
            let t = &self.socket_type;
            return Err(std::io::Error::other(format!("dial {t}: unknown network {t}")));
        };
        let connection = match network {
            Network::Tcp => {
                let mut last = None;
                let mut stream = None;
                for addr in self.resolve()? {
                    match TcpStream::connect_timeout(&addr, self.write_timeout) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let stream = match (stream, last) {
                    (Some(s), _) => s,
                    (None, Some(e)) => return Err(self.connect_error(e)),
                    (None, None) => return Err(self.dial_error("no suitable address found")),
                };
                stream.set_write_timeout(timeout)?;
                stream.set_nodelay(true)?;
                Connection::Tcp(stream)
            }
            Network::Udp => {
                let target = self.resolve()?[0];
                let local: SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local).map_err(|e| self.dial_error(e))?;
                socket.connect(target).map_err(|e| self.connect_error(e))?;
                socket.set_write_timeout(timeout)?;
                Connection::Udp(socket)
            }
            Network::Unix => {
                let stream = UnixStream::connect(&self.address).map_err(|e| self.connect_error(e))?;
                stream.set_write_timeout(timeout)?;
                Connection::Unix(stream)
            }
            Network::UnixGram => {
                let socket = UnixDatagram::unbound().map_err(|e| self.dial_error(e))?;
                socket.connect(&self.address).map_err(|e| self.connect_error(e))?;
                socket.set_write_timeout(timeout)?;
                Connection::UnixGram(socket)
            }
        };
        Ok(connection)
    }
}

/// The text of an OS error as Go writes it (`connection refused`, not `Connection refused (os error 111)`).
fn go_errno_text(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
        return "i/o timeout".into();
    }
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

impl AuditSink for SocketDevice {
    /// OpenBao's write: with no connection it dials; a failed write (or dial) is followed by one reconnect and one
    /// more write, and when both fail the error names both, in go-multierror's form.
    fn write_entry(&self, line: &[u8]) -> std::io::Result<()> {
        let first = std::cell::RefCell::new(None);
        let outcome = self.connection.write(
            || self.connect(),
            |connection| {
                let sent = if connection.peer_gone() {
                    Err(std::io::Error::other("write: broken pipe"))
                } else {
                    connection
                        .send(line)
                        .map_err(|e| std::io::Error::new(e.kind(), format!("write: {}", go_errno_text(&e))))
                };
                if let Err(e) = &sent {
                    first.borrow_mut().get_or_insert_with(|| e.to_string());
                }
                sent
            },
        );
        outcome.map_err(|second| {
            let second = second.to_string();
            let first = first.into_inner().unwrap_or_else(|| second.clone());
            std::io::Error::other(format!("2 errors occurred:\n\t* {first}\n\t* {second}\n\n"))
        })
    }

    fn reload(&self) -> std::io::Result<()> {
        self.connection.reopen(|| self.connect())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;

    fn make(options: &[(&str, &str)]) -> Result<Arc<dyn AuditSink>, String> {
        crate::logical::testing::audit_device(factory, options)
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(make(&[]).err().unwrap(), "address is required");
        // An unknown network is refused when the device dials, twice (OpenBao's write and its retry).
        let device = make(&[("address", "x"), ("socket_type", "carrier-pigeon")]).unwrap();
        let unknown = "dial carrier-pigeon: unknown network carrier-pigeon";
        assert_eq!(
            device.write_entry(b"x\n").unwrap_err().to_string(),
            format!("2 errors occurred:\n\t* {unknown}\n\t* {unknown}\n\n")
        );
        assert_eq!(
            make(&[("address", "x"), ("write_timeout", "soon")]).err().unwrap(),
            "time: invalid duration \"soon\""
        );
        assert!(make(&[("address", "x"), ("write_timeout", "1500ms")]).is_ok());
        assert!(make(&[("address", "x"), ("write_timeout", "3")]).is_ok());
    }

    #[test]
    fn tcp_entries_arrive_and_a_vanished_peer_fails_the_write() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let device = make(&[("address", &addr)]).unwrap();
        device.write_entry(b"one\n").unwrap();
        let (peer, _) = listener.accept().unwrap();
        device.write_entry(b"two\n").unwrap();
        let mut reader = BufReader::new(peer.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "one\ntwo\n");
        // The peer closes the connection and stops listening: the next entry cannot be delivered.
        drop(reader);
        drop(peer);
        drop(listener);
        std::thread::sleep(Duration::from_millis(50));
        let e = device.write_entry(b"three\n").unwrap_err();
        assert!(e.to_string().contains(&format!("dial tcp {addr}")), "{e}");
        // The peer is back (a new listener on the same port): the device reconnects by itself.
        let listener = TcpListener::bind(&addr).unwrap();
        device.write_entry(b"four\n").unwrap();
        let (peer, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(peer).read_line(&mut line).unwrap();
        assert_eq!(line, "four\n");
    }

    #[test]
    fn udp_and_unix_sockets() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let device = make(&[
            ("address", &udp.local_addr().unwrap().to_string()),
            ("socket_type", "udp"),
        ])
        .unwrap();
        device.write_entry(b"dgram\n").unwrap();
        let mut buf = [0u8; 64];
        let n = udp.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"dgram\n");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let device = make(&[("address", path.to_str().unwrap()), ("socket_type", "unix")]).unwrap();
        device.write_entry(b"stream\n").unwrap();
        let (peer, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&peer).read_line(&mut line).unwrap();
        assert_eq!(line, "stream\n");
        drop(peer);
        drop(listener);
        std::fs::remove_file(&path).unwrap();
        assert!(device.write_entry(b"lost\n").is_err());
    }
}
