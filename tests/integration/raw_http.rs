//! What only a raw socket shows: response framing on a kept-alive connection, requests that never finish sending,
//! and connections that ask for a protocol upgrade. Every read has a short deadline, so a server that hangs fails
//! the test instead of stalling it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{temp_dir, TestServer};

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
        let stream = TcpStream::connect(addr).unwrap();
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
