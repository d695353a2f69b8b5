//! The other audit device types and the audit settings beyond the file device: a `socket` device (entries arrive
//! over TCP; a vanished peer refuses requests, a returning one is reconnected to), a `syslog` device (entries reach
//! a datagram socket standing in for the daemon, with facility and tag), the audited request headers
//! (`sys/config/auditing/request-headers`, HMAC'd or clear, kept across a restart), a file device on a full file
//! system (requests refused, nothing changed, no half-written entry), and hvac's audit calls against OpenBao's.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::audit::{enable_kv, entries, file_stanza, restart, start};
use crate::common::temp_dir;
use crate::tools::{hvac_record, run_hvac_script, ReferenceServer};

const SECRET: &str = "socket-secret-value-42";

/// A TCP peer for a socket device: accepts one connection, then stops listening, and collects the lines it reads
/// until stopped (which closes the connection).
struct Peer {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    fn listen(listener: TcpListener) -> Peer {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            drop(listener);
            conn.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut reader = BufReader::new(conn);
            let mut line = String::new();
            while !s.load(Ordering::SeqCst) {
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) if line.ends_with('\n') => l.lock().unwrap().push(std::mem::take(&mut line)),
                    _ => {}
                }
            }
        });
        Peer {
            lines,
            stop,
            thread: Some(thread),
        }
    }

    /// The entries received so far, parsed.
    fn entries(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Wait until an entry satisfies `wanted`.
    fn wait_for(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.entries().into_iter().find(|e| wanted(e)) {
                return e;
            }
            assert!(Instant::now() < deadline, "no entry for {what}: {:#?}", self.entries());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Close the connection (the listener is already closed).
    fn vanish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn socket_stanza(address: &str) -> String {
    format!(
        "audit \"socket\" \"sock\" {{\n  options {{\n    address = \"{address}\"\n    socket_type = \"tcp\"\n    write_timeout = \"1s\"\n  }}\n}}\n"
    )
}

#[test]
fn socket_device_records_entries_and_fails_closed_when_its_peer_is_gone() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let peer = Peer::listen(listener);
    let dir = temp_dir();
    let (server, root, _) = start(dir.path(), &socket_stanza(&address));
    let c = &server.client;
    enable_kv(&server, &root);
    let (s, b) = c.put("secret/data/app", Some(&root), json!({"data": {"password": SECRET}}));
    assert_eq!(s, 200, "{b}");
    peer.wait_for("the test message", |e| e["request"]["path"] == "sys/audit/test");
    let written = peer.wait_for("the K/V write's response", |e| {
        e["type"] == "response" && e["request"]["path"] == "secret/data/app"
    });
    let (_, hash) = c.put("sys/audit-hash/sock", Some(&root), json!({"input": SECRET}));
    assert_eq!(written["request"]["data"]["data"]["password"], hash["data"]["hash"]);
    assert!(!peer.lines.lock().unwrap().concat().contains(SECRET));
    let (_, list) = c.get("sys/audit", Some(&root));
    assert_eq!(list["data"]["sock/"]["type"], "socket");
    assert_eq!(list["data"]["sock/"]["options"]["address"], address.as_str());

    // The peer closes the connection and stops listening: no device records anything, so nothing is done.
    peer.vanish();
    let internal = (500, json!({"errors": ["internal error"]}));
    assert_eq!(
        c.put("secret/data/refused", Some(&root), json!({"data": {"k": "v"}})),
        internal
    );
    assert_eq!(c.get("secret/data/app", Some(&root)), internal);
    assert!(server
        .stderr()
        .contains("audit: device sock/ failed to log the request"));

    // The peer is back on the same address: the device reconnects, and the refused write never happened.
    let peer = Peer::listen(TcpListener::bind(&address).unwrap());
    assert_eq!(c.get("secret/data/refused", Some(&root)).0, 404);
    peer.wait_for("the read after reconnecting", |e| {
        e["type"] == "response" && e["request"]["path"] == "secret/data/refused"
    });
    assert_eq!(c.get("secret/data/app", Some(&root)).0, 200);
    peer.vanish();
}

/// Datagrams received on `daemon` until one satisfies `wanted`.
fn wait_datagram(daemon: &UnixDatagram, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    daemon.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = daemon
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no datagram for {what}: {e}"));
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if wanted(&text) {
            return text;
        }
    }
}

#[test]
fn syslog_device_sends_entries_with_facility_and_tag() {
    let dir = temp_dir();
    let socket = dir.path().join("syslog.sock");
    let daemon = UnixDatagram::bind(&socket).unwrap();
    let stanza = format!(
        "audit \"syslog\" \"sys\" {{\n  options {{\n    facility = \"local3\"\n    tag = \"vault-audit\"\n    socket_path = \"{}\"\n  }}\n}}\nunsafe_allow_api_audit_creation = true\n",
        socket.display()
    );
    let (server, root, _) = start(dir.path(), &stanza);
    let c = &server.client;
    enable_kv(&server, &root);
    assert_eq!(
        c.put("secret/data/app", Some(&root), json!({"data": {"password": SECRET}}))
            .0,
        200
    );
    let message = wait_datagram(&daemon, "the K/V write", |t| {
        t.contains("\"path\":\"secret/data/app\"") && t.contains("\"type\":\"request\"")
    });
    // LOCAL3 (19) * 8 + INFO (6): `<158>Mmm dd hh:mm:ss vault-audit[PID]: {entry}`.
    assert!(message.starts_with("<158>"), "{message}");
    let marker = format!(" vault-audit[{}]: ", server.pid());
    let at = message
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {message}"));
    let entry: Value = serde_json::from_str(&message[at + marker.len()..]).unwrap();
    let (_, hash) = c.put("sys/audit-hash/sys", Some(&root), json!({"input": SECRET}));
    assert_eq!(entry["request"]["data"]["data"]["password"], hash["data"]["hash"]);
    assert!(!message.contains(SECRET));

    // Options are checked when a device is enabled, with go-syslog's texts.
    let (s, b) = c.put(
        "sys/audit/bad",
        Some(&root),
        json!({"type": "syslog", "options": {"facility": "mars"}}),
    );
    assert_eq!((s, b), (400, json!({"errors": ["invalid syslog facility: MARS"]})));
    if !["/dev/log", "/var/run/syslog", "/var/run/log"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        // No syslog daemon on this host: Go's error.
        let (s, b) = c.put("sys/audit/nodaemon", Some(&root), json!({"type": "syslog"}));
        assert_eq!((s, b), (400, json!({"errors": ["Unix syslog delivery error"]})));
    }
    // The daemon goes away: with no other device, requests are refused.
    drop(daemon);
    std::fs::remove_file(&socket).unwrap();
    assert_eq!(c.get("secret/data/app", Some(&root)).0, 500);
    let daemon = UnixDatagram::bind(&socket).unwrap();
    assert_eq!(c.get("secret/data/app", Some(&root)).0, 200);
    wait_datagram(&daemon, "the read after the daemon came back", |t| {
        t.contains("\"path\":\"secret/data/app\"")
    });
}

#[test]
fn configured_request_headers_are_audited() {
    let dir = temp_dir();
    let log = dir.path().join("audit.log");
    let stanza = file_stanza("f", &log, "");
    let (server, root, keys) = start(dir.path(), &stanza);
    let c = &server.client;
    enable_kv(&server, &root);
    let put = |header: &str, hmac: bool| {
        let (s, b) = c.put(
            &format!("sys/config/auditing/request-headers/{header}"),
            Some(&root),
            json!({ "hmac": hmac }),
        );
        assert_eq!(s, 204, "{b}");
    };
    put("X-Custom-Header", true);
    put("X-Plain", false);
    let (s, list) = c.get("sys/config/auditing/request-headers", Some(&root));
    assert_eq!(s, 200);
    let expected = json!({"x-custom-header": {"hmac": true}, "x-plain": {"hmac": false}});
    assert_eq!(list["data"]["headers"], expected);
    assert_eq!(list["headers"], expected);
    let (s, one) = c.get("sys/config/auditing/request-headers/X-CUSTOM-header", Some(&root));
    assert_eq!((s, &one["data"]), (200, &json!({"X-CUSTOM-header": {"hmac": true}})));

    let send = |path: &str| {
        let (s, b) = c
            .try_call(
                "GET",
                path,
                Some(&root),
                &[
                    ("X-Custom-Header", "header-secret-1"),
                    ("x-plain", "visible"),
                    ("X-Not-Audited", "unseen-value"),
                ],
                None,
            )
            .unwrap();
        assert_eq!(s, 404, "{b}");
    };
    send("secret/data/with-headers");
    let hash = |input: &str| {
        let (_, b) = c.put("sys/audit-hash/f", Some(&root), json!({ "input": input }));
        b["data"]["hash"].clone()
    };
    let all = entries(&log);
    let ours: Vec<&Value> = all
        .iter()
        .filter(|e| e["request"]["path"] == "secret/data/with-headers")
        .collect();
    assert_eq!(ours.len(), 2, "{ours:#?}");
    for e in &ours {
        assert_eq!(
            e["request"]["headers"],
            json!({"x-custom-header": [hash("header-secret-1")], "x-plain": ["visible"]}),
            "{e}"
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("header-secret-1") && !text.contains("unseen-value"));
    // Requests without these headers carry none.
    assert!(all
        .iter()
        .filter(|e| e["request"]["path"] == "secret/data/app")
        .all(|e| e["request"].get("headers").is_none()));

    // The configuration is durable, and a removed header is no longer recorded.
    let (server, _) = restart(dir.path(), server, &keys, &stanza);
    let c = &server.client;
    let (_, list) = c.get("sys/config/auditing/request-headers", Some(&root));
    assert_eq!(list["data"]["headers"], expected);
    assert_eq!(
        c.call(
            "DELETE",
            "sys/config/auditing/request-headers/x-plain",
            Some(&root),
            None
        )
        .0,
        204
    );
    let (s, b) = c.get("sys/config/auditing/request-headers/x-plain", Some(&root));
    assert_eq!((s, b), (400, json!({"errors": ["Could not find header in config"]})));
    let (s, _) = c
        .try_call(
            "GET",
            "secret/data/after-delete",
            Some(&root),
            &[("X-Custom-Header", "v2"), ("X-Plain", "visible")],
            None,
        )
        .unwrap();
    assert_eq!(s, 404);
    let after: Vec<Value> = entries(&log)
        .into_iter()
        .filter(|e| e["request"]["path"] == "secret/data/after-delete")
        .collect();
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[0]["request"]["headers"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["x-custom-header"]
    );
}

/// A small tmpfs mounted for the test (we run as root), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fill the file system holding `dir` with a file of zeros until it is full; returns the file.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.write_all(&chunk[..1]);
    path
}

#[test]
fn a_full_file_system_refuses_requests_and_changes_nothing() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let dir = temp_dir();
    let tmpfs = Tmpfs::mount(&dir.path().join("small"), "512k").expect("mount a tmpfs (we run as root)");
    let log = tmpfs.0.join("audit.log");
    let (server, root, _) = start(dir.path(), &file_stanza("f", &log, ""));
    let c = &server.client;
    enable_kv(&server, &root);
    assert_eq!(
        c.put("secret/data/before", Some(&root), json!({"data": {"k": "v"}})).0,
        200
    );
    let filler = fill(&tmpfs.0);
    // An entry larger than a page needs a page the file system no longer has: the key names are not HMAC'd.
    let big_key = "k".repeat(6000);
    let internal = (500, json!({"errors": ["internal error"]}));
    assert_eq!(
        c.put(
            "secret/data/refused",
            Some(&root),
            json!({"data": { big_key.as_str(): "v" }})
        ),
        internal
    );
    assert_eq!(
        c.put(
            "secret/data/before",
            Some(&root),
            json!({"data": { big_key.as_str(): "changed" }})
        ),
        internal
    );
    std::fs::remove_file(filler).unwrap();
    // Space again: the refused write did not happen, the earlier version is untouched, and every line of the file
    // is a whole entry (a partly written one was cut off again).
    assert_eq!(c.get("secret/data/refused", Some(&root)).0, 404);
    let (s, before) = c.get("secret/data/before", Some(&root));
    assert_eq!(
        (s, &before["data"]["data"], &before["data"]["metadata"]["version"]),
        (200, &json!({"k": "v"}), &json!(1))
    );
    let all = entries(&log);
    assert!(!all
        .iter()
        .any(|e| e["request"]["path"] == "secret/data/refused" && e["request"]["operation"] != "read"));
    assert!(all
        .iter()
        .any(|e| e["type"] == "response" && e["request"]["path"] == "secret/data/before"));
    drop(server);
}

#[test]
fn hvac_audit_calls_match_reference() {
    let allow = "unsafe_allow_api_audit_creation = true\n";
    let reference = ReferenceServer::start_with(allow);
    let dir = temp_dir();
    let config = crate::common::write_config(dir.path(), &dir.path().join("data"), allow, "  tls_disable = true");
    let ours = crate::common::TestServer::start_with_config(dir.path(), &config, "http", None);
    let expected = run_hvac_script("hvac_audit.py", &reference.addr);
    let actual = run_hvac_script("hvac_audit.py", &format!("http://{}", ours.addr));
    assert_eq!(expected.len(), actual.len(), "{expected:#?}\n{actual:#?}");
    for (e, a) in expected.iter().zip(&actual) {
        assert_eq!(e, a, "step {} differs (reference vs ours)", e["step"]);
    }
    assert_eq!(hvac_record(&actual, "enable a file device")["status"], 204);
    assert_eq!(
        hvac_record(&actual, "list")["value"]["hv/"],
        json!({"type": "file", "description": "from hvac", "path": "hv/", "local": false, "options": ["file_path"]})
    );
    assert_eq!(hvac_record(&actual, "nothing enabled again")["value"], json!({}));
    assert_eq!(
        hvac_record(&actual, "the log")["value"],
        json!({"first": "sys/audit/test", "list audited": true, "hmac": true})
    );
}

/// Socket and syslog devices refused at enabling answer as OpenBao 2.7.2 does (the dial errors of the test message
/// in go-multierror's form, go-syslog's facility error, Go's duration error); a UDP device with no peer is accepted
/// by both.
#[test]
fn socket_and_syslog_option_errors_match_reference() {
    let allow = "unsafe_allow_api_audit_creation = true\n";
    let reference = ReferenceServer::start_with(allow);
    let theirs = crate::common::Client::new(&reference.addr);
    let (keys, their_root) = theirs.init(1, 1);
    theirs.unseal_with(&keys);
    let dir = temp_dir();
    let (server, our_root, _) = start(dir.path(), allow);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let missing = dir.path().join("no.sock");
    let bodies = [
        json!({"type": "socket", "options": {"address": closed}}),
        json!({"type": "socket", "options": {}}),
        json!({"type": "socket", "options": {"address": closed, "socket_type": "pigeon"}}),
        json!({"type": "socket", "options": {"address": missing, "socket_type": "unix"}}),
        json!({"type": "socket", "options": {"address": closed, "write_timeout": "soon"}}),
        json!({"type": "syslog", "options": {"facility": "mars"}}),
        json!({"type": "socket", "options": {"address": closed, "socket_type": "udp"}}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let path = format!("sys/audit/d{i}");
        let expected = theirs.put(&path, Some(&their_root), body.clone());
        let actual = server.client.put(&path, Some(&our_root), body.clone());
        assert_eq!(expected, actual, "enabling {body}");
    }
    let (_, list) = server.client.get("sys/audit", Some(&our_root));
    assert_eq!(list["data"]["d6/"]["type"], "socket");
}
