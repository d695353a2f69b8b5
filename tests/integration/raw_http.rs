//! What only a raw socket shows: response framing on a kept-alive connection, requests that never finish sending,
//! and connections that ask for a protocol upgrade. Every read has a short deadline, so a server that hangs fails
//! the test instead of stalling it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{temp_dir, write_config, TestServer};

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// A client connection that reads responses by their framing (`Content-Length`, or none for statuses that have no
/// body), so bytes a server sends beyond a response are left for the next one, as a real client would.
pub struct RawClient {
    pub stream: TcpStream,
    buffered: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: &str) -> RawClient {
        Self::wrap(TcpStream::connect(addr).unwrap())
    }

    /// Connect from another loopback address (another client, as the server sees it).
    pub fn connect_from(source: std::net::Ipv4Addr, addr: &str) -> RawClient {
        use rustix::net::{AddressFamily, SocketType};
        let target: std::net::SocketAddrV4 = addr.parse().unwrap();
        let socket = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&socket, &std::net::SocketAddrV4::new(source, 0)).unwrap();
        rustix::net::connect(&socket, &target).unwrap();
        Self::wrap(TcpStream::from(socket))
    }

    fn wrap(stream: TcpStream) -> RawClient {
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        RawClient {
            stream,
            buffered: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// More bytes from the socket; `Ok(0)` at EOF, `Err` on a timeout or reset.
    fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        self.buffered.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next response to a request with method `method`; `Err` says why there is none (EOF, timeout, garbage).
    pub fn response(&mut self, method: &str) -> Result<RawResponse, String> {
        let head_end = loop {
            if let Some(i) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            match self.fill() {
                Ok(0) => return Err(format!("EOF before a response head: {:?}", self.pending())),
                Ok(_) => {}
                Err(e) => return Err(format!("{e} before a response head: {:?}", self.pending())),
            }
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).into_owned();
        self.buffered.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not a status line: {status_line:?} (head {head:?})"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let no_body = method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
        let length = match headers.iter().find(|(n, _)| n == "content-length") {
            _ if no_body => 0,
            Some((_, v)) => v.parse::<usize>().map_err(|e| format!("content-length {v:?}: {e}"))?,
            None => return Err(format!("a {status} without content-length: {head:?}")),
        };
        while self.buffered.len() < length {
            match self.fill() {
                Ok(0) => return Err("EOF inside a body".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("{e} inside a body")),
            }
        }
        let body = self.buffered.drain(..length).collect();
        Ok(RawResponse { status, headers, body })
    }

    fn pending(&self) -> String {
        String::from_utf8_lossy(&self.buffered).into_owned()
    }

    /// Wait (at most `limit`) for the server to close the connection; returns how long that took, or `None` if it
    /// did not. Bytes that arrive first are kept.
    pub fn closed_within(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        self.stream.set_read_timeout(Some(limit)).unwrap();
        loop {
            match self.fill() {
                Ok(0) => return Some(start.elapsed()),
                Ok(_) if start.elapsed() < limit => {}
                // A reset is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(start.elapsed()),
                _ => return None,
            }
        }
    }
}

fn get(path: &str) -> String {
    format!("GET /v1/{path} HTTP/1.1\r\nHost: vault\r\n\r\n")
}

/// `sys/health` answers some codes without a body (204, 304) and refuses informational ones; on a kept-alive
/// connection the next response must still start where the client expects it.
#[test]
fn health_codes_keep_connection_framing() {
    let dir = temp_dir();
    let (server, _root, _keys) = TestServer::start_unsealed(dir.path());
    for code in [204u16, 304] {
        let mut c = RawClient::connect(&server.addr);
        c.send(
            format!(
                "{}{}",
                get(&format!("sys/health?activecode={code}")),
                get("sys/seal-status")
            )
            .as_bytes(),
        );
        let first = c.response("GET").unwrap();
        assert_eq!(first.status, code);
        let second = c
            .response("GET")
            .unwrap_or_else(|e| panic!("after a {code}, the next response is garbled: {e}"));
        assert_eq!(second.status, 200);
        assert_eq!(second.json()["sealed"], false);
        assert!(
            c.pending().is_empty(),
            "after a {code}: bytes beyond the responses: {:?}",
            c.pending()
        );
    }
    for code in ["100", "101", "150", "199"] {
        let mut c = RawClient::connect(&server.addr);
        c.send(
            format!(
                "{}{}",
                get(&format!("sys/health?activecode={code}")),
                get("sys/seal-status")
            )
            .as_bytes(),
        );
        let first = c.response("GET").unwrap();
        assert_eq!(
            (first.status, first.json()),
            (400, serde_json::json!({"errors": []})),
            "activecode={code}"
        );
        assert_eq!(c.response("GET").unwrap().status, 200, "activecode={code}");
    }
}

/// A request that asks for a WebSocket upgrade (or a `CONNECT`) is answered at once like any other request, as
/// OpenBao answers it; its body is what its `Content-Length` says, and the connection closes after the answer.
#[test]
fn upgrade_requests_are_answered_at_once() {
    let dir = temp_dir();
    let (server, root, _keys) = TestServer::start_unsealed(dir.path());
    let websocket = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let secret = r#"{"data":{"a":"b"}}"#;
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "no token",
            format!("GET /v1/sys/mounts HTTP/1.1\r\nHost: vault\r\n{websocket}\r\n"),
            403,
        ),
        (
            "root token",
            format!("GET /v1/sys/mounts HTTP/1.1\r\nHost: vault\r\nX-Vault-Token: {root}\r\n{websocket}\r\n"),
            200,
        ),
        (
            "a write with a body",
            format!(
                "POST /v1/cubbyhole/ws HTTP/1.1\r\nHost: vault\r\nX-Vault-Token: {root}\r\n{websocket}\
                 Content-Length: {}\r\n\r\n{secret}",
                secret.len()
            ),
            204,
        ),
        (
            "an unauthenticated endpoint",
            format!("GET /v1/sys/seal-status HTTP/1.1\r\nHost: vault\r\n{websocket}\r\n"),
            200,
        ),
        (
            "h2c",
            "GET /v1/sys/mounts HTTP/1.1\r\nHost: vault\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_string(),
            403,
        ),
        (
            "CONNECT",
            "CONNECT /v1/sys/mounts HTTP/1.1\r\nHost: vault\r\n\r\n".to_string(),
            405,
        ),
    ];
    let mut clients = Vec::new();
    for (what, request, status) in cases {
        let mut c = RawClient::connect(&server.addr);
        c.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.send(request.as_bytes());
        let started = Instant::now();
        let resp = c.response("GET").unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert!(started.elapsed() < Duration::from_secs(3), "{what}: answered late");
        assert_eq!(resp.status, status, "{what}: {:?}", String::from_utf8_lossy(&resp.body));
        if status == 403 {
            assert_eq!(resp.json(), serde_json::json!({"errors": ["permission denied"]}));
        }
        assert_eq!(resp.header("connection"), Some("close"), "{what}: nothing is upgraded");
        clients.push((what, c));
    }
    for (what, c) in &mut clients {
        assert!(
            c.closed_within(Duration::from_secs(5)).is_some(),
            "{what}: the connection stays open"
        );
    }
    // The write took exactly its framed body.
    let (status, body) = server.client.get("cubbyhole/ws", Some(&root));
    assert_eq!(
        (status, &body["data"]),
        (200, &serde_json::json!({"data": {"a": "b"}})),
        "{body}"
    );
}

fn start_with_listener(dir: &std::path::Path, listener: &str) -> TestServer {
    let config = write_config(dir, &dir.join("data"), "", &format!("  tls_disable = true\n{listener}"));
    TestServer::start_with_config(dir, &config, "http", None)
}

/// A client that stops sending its body is answered 408 once the listener's `http_read_timeout` passes, and its
/// connection is closed (OpenBao closes it after its 30 s default); a body no handler reads does not hold the
/// connection either.
#[test]
fn a_stalled_body_times_out() {
    let dir = temp_dir();
    let server = start_with_listener(dir.path(), "  http_read_timeout = \"1s\"");
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    let snapshot_restore = format!(
        "POST /v1/sys/storage/raft/snapshot HTTP/1.1\r\nHost: vault\r\nX-Vault-Token: {root}\r\n\
         Content-Length: 100000\r\n\r\n\x1f"
    );
    let stalled = [
        "PUT /v1/sys/unseal HTTP/1.1\r\nHost: vault\r\nContent-Length: 100\r\n\r\n{",
        "PUT /v1/sys/unseal HTTP/1.1\r\nHost: vault\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
        "PUT /v1/secret/x HTTP/1.1\r\nHost: vault\r\nContent-Length: 100\r\n\r\n{",
        &snapshot_restore,
    ];
    // All at once, so the test waits for the timeout once.
    let started = Instant::now();
    let mut clients: Vec<(&str, RawClient)> = stalled
        .iter()
        .map(|request| {
            let mut c = RawClient::connect(&server.addr);
            c.send(request.as_bytes());
            (*request, c)
        })
        .collect();
    for (request, c) in &mut clients {
        let resp = c.response("PUT").unwrap_or_else(|e| panic!("{request:?}: {e}"));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{request:?}: answered after {waited:?}"
        );
        assert_eq!(
            (resp.status, resp.json()),
            (
                408,
                serde_json::json!({"errors": ["timed out reading the request body"]})
            ),
            "{request:?}"
        );
        assert_eq!(resp.header("connection"), Some("close"));
    }
    for (request, c) in &mut clients {
        assert!(
            c.closed_within(Duration::from_secs(5)).is_some(),
            "{request:?}: left open"
        );
    }
    // A chunked body that the endpoint does not read is not waited for either.
    let mut c = RawClient::connect(&server.addr);
    c.send(b"GET /v1/sys/seal-status HTTP/1.1\r\nHost: vault\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n");
    assert_eq!(c.response("GET").unwrap().status, 200);
    assert!(
        c.closed_within(Duration::from_secs(5)).is_some(),
        "an unread chunked body held the connection"
    );
    // A body that arrives in time is served, and the connection kept alive.
    let mut c = RawClient::connect(&server.addr);
    c.send(
        format!(
            "PUT /v1/cubbyhole/x HTTP/1.1\r\nHost: vault\r\nX-Vault-Token: {root}\r\nContent-Length: 9\r\n\r\n{{\"a\":"
        )
        .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"\"b\"}");
    assert_eq!(c.response("PUT").unwrap().status, 204);
    c.send(get("sys/seal-status").as_bytes());
    assert_eq!(c.response("GET").unwrap().status, 200);
}

/// One client (one address) holds at most `max_connections_per_client` connections: slow or idle, its extra ones
/// are closed at once, while another client is served; once its connections end, it is served again.
#[test]
fn one_client_cannot_hold_every_connection() {
    let dir = temp_dir();
    let server = start_with_listener(
        dir.path(),
        "  http_read_timeout = \"2s\"\n  max_connections_per_client = 4",
    );
    // Not 127.0.0.1: the harness's own client may still hold a kept-alive connection from there.
    let one = std::net::Ipv4Addr::new(127, 0, 0, 3);
    let other = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let slow_body = "PUT /v1/sys/unseal HTTP/1.1\r\nHost: vault\r\nContent-Length: 100\r\n\r\n{";
    let mut slow: Vec<RawClient> = (0..4)
        .map(|_| {
            let mut c = RawClient::connect_from(one, &server.addr);
            c.send(slow_body.as_bytes());
            c
        })
        .collect();
    // The fifth, slow or not, is closed without an answer.
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        let mut extra = RawClient::connect_from(one, &server.addr);
        let _ = extra.stream.write_all(get("sys/seal-status").as_bytes());
        assert!(
            extra.closed_within(Duration::from_secs(2)).is_some(),
            "a connection over the client's limit was kept"
        );
        assert!(
            !extra.pending().starts_with("HTTP/1.1 200"),
            "a connection over the limit was served: {}",
            extra.pending()
        );
    }
    // Another client is served meanwhile.
    let mut c = RawClient::connect_from(other, &server.addr);
    c.send(get("sys/seal-status").as_bytes());
    assert_eq!(c.response("GET").unwrap().status, 200);
    // The slow ones time out and close; then the first client is served again.
    for c in &mut slow {
        assert_eq!(c.response("PUT").unwrap().status, 408);
        assert!(c.closed_within(Duration::from_secs(5)).is_some());
    }
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = RawClient::connect_from(one, &server.addr);
        c.send(get("sys/seal-status").as_bytes());
        match c.response("GET") {
            Ok(resp) => {
                assert_eq!(resp.status, 200);
                break;
            }
            // The server may not have dropped the closed connections yet.
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the client is still refused after its connections closed: {e}"),
        }
    }
    assert!(
        server.stderr().contains("max_connections_per_client"),
        "the refusal is logged once"
    );
}
