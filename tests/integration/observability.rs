//! The system endpoints of issue #19 that are not metrics, quotas or OpenAPI: `sys/tools/{random,hash}` (the same
//! code as transit's), `sys/host-info`, `sys/in-flight-req`, `sys/config/state/sanitized`, the server log (JSON
//! format, request lines, `sys/monitor` and `bao monitor`) and a full run at trace level whose log must hold no
//! secret. Their shapes are compared with OpenBao in `scenarios/tools.json` and `scenarios/observability.json`.

use base64::Engine;
use serde_json::json;
use sha2::Digest;

use crate::common::{temp_dir, TestServer};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[test]
fn tools_random_gives_fresh_bytes_of_the_asked_length_in_both_formats() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, body) = c.put("sys/tools/random", Some(&root), json!({}));
    assert_eq!(status, 200, "{body}");
    let first = b64_decode(body["data"]["random_bytes"].as_str().unwrap());
    assert_eq!(first.len(), 32);
    let (_, body) = c.put("sys/tools/random", Some(&root), json!({}));
    let second = b64_decode(body["data"]["random_bytes"].as_str().unwrap());
    assert_ne!(first, second, "two draws of 32 bytes are equal");
    for (path, body, len) in [
        ("sys/tools/random/16", json!({"format": "hex"}), 16),
        ("sys/tools/random/all/100", json!({"format": "hex"}), 100),
        ("sys/tools/random/seal", json!({"bytes": 7, "format": "hex"}), 7),
        ("sys/tools/random/platform/131072", json!({"format": "hex"}), 131072),
    ] {
        let (status, answer) = c.put(path, Some(&root), body);
        assert_eq!(status, 200, "{path}: {answer}");
        let text = answer["data"]["random_bytes"].as_str().unwrap();
        assert_eq!(hex::decode(text).unwrap().len(), len, "{path}");
    }
    let (status, body) = c.put("sys/tools/random/platform/131073", Some(&root), json!({}));
    assert_eq!(
        (status, body["errors"][0].as_str()),
        (400, Some("'bytes' should be less than 131072"))
    );
}

#[test]
fn tools_hash_matches_the_digests_and_transits_hash() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let input = b"the quick brown fox";
    let expected: Vec<(&str, Vec<u8>)> = vec![
        ("sha2-224", sha2::Sha224::digest(input).to_vec()),
        ("sha2-256", sha2::Sha256::digest(input).to_vec()),
        ("sha2-384", sha2::Sha384::digest(input).to_vec()),
        ("sha2-512", sha2::Sha512::digest(input).to_vec()),
        ("sha3-224", sha3::Sha3_224::digest(input).to_vec()),
        ("sha3-256", sha3::Sha3_256::digest(input).to_vec()),
        ("sha3-384", sha3::Sha3_384::digest(input).to_vec()),
        ("sha3-512", sha3::Sha3_512::digest(input).to_vec()),
    ];
    let (status, _) = c.put("sys/mounts/transit", Some(&root), json!({"type": "transit"}));
    assert_eq!(status, 204);
    for (algorithm, digest) in &expected {
        let (status, body) = c.put(
            &format!("sys/tools/hash/{algorithm}"),
            Some(&root),
            json!({"input": b64(input)}),
        );
        assert_eq!(status, 200, "{algorithm}: {body}");
        assert_eq!(body["data"]["sum"], json!(hex::encode(digest)), "{algorithm}");
        let (_, body) = c.put(
            "sys/tools/hash",
            Some(&root),
            json!({"input": b64(input), "algorithm": algorithm, "format": "base64"}),
        );
        assert_eq!(body["data"]["sum"], json!(b64(digest)), "{algorithm} base64");
        let (_, transit) = c.put(
            &format!("transit/hash/{algorithm}"),
            Some(&root),
            json!({"input": b64(input)}),
        );
        assert_eq!(
            transit["data"]["sum"],
            json!(hex::encode(digest)),
            "transit {algorithm}"
        );
    }
    // A default-policy token may hash (OpenBao's default policy) but not draw random bytes.
    let (_, created) = c.put("auth/token/create", Some(&root), json!({"policies": ["default"]}));
    let user = created["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, _) = c.put("sys/tools/hash", Some(&user), json!({"input": b64(input)}));
    assert_eq!(status, 200);
    let (status, _) = c.put("sys/tools/random", Some(&user), json!({}));
    assert_eq!(status, 403);
}

/// A server with `extra` in its configuration, initialized and unsealed, with `VAULT_LOG_LEVEL` set to `level` and
/// `args` added to `vault server`.
fn start_configured(
    dir: &std::path::Path,
    extra: &str,
    level: &str,
    args: &[&str],
) -> (TestServer, String, Vec<String>) {
    let config = crate::common::write_config(dir, &dir.join("data"), extra, "  tls_disable = true");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let level = level.to_string();
    let server = TestServer::try_start_with(dir, &config, "http", None, move |cmd| {
        cmd.args(&args).env("VAULT_LOG_LEVEL", &level);
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    (server, root, keys)
}

/// The server's log lines so far, waiting (up to 5 s) until one contains `needle`.
fn log_with(server: &TestServer, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = server.stderr();
        if log.contains(needle) || std::time::Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn host_info_reads_this_hosts_cpus_memory_and_disks() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let (status, body) = server.client.get("sys/host-info", Some(&root));
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let processors = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    assert_eq!(data["cpu"].as_array().unwrap().len(), processors);
    assert_eq!(data["cpu_times"].as_array().unwrap().len(), processors);
    assert_eq!(data["cpu_times"][0]["cpu"], "cpu0");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: u64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(data["memory"]["total"], json!(total_kb * 1024));
    let disks = data["disk"].as_array().unwrap();
    assert!(disks.iter().any(|d| d["path"] == "/"), "{disks:?}");
    for disk in disks {
        assert!(disk["total"].as_u64().unwrap() >= disk["used"].as_u64().unwrap());
    }
    assert_eq!(data["host"]["os"], "linux");
    assert_eq!(
        data["host"]["kernelVersion"],
        json!(std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap().trim())
    );
    assert!(chrono::DateTime::parse_from_rfc3339(data["timestamp"].as_str().unwrap()).is_ok());
    // OpenBao's CLI reads it.
    let (code, out, err) = crate::tools::run_bao(
        &server.client.base,
        Some(&root),
        &["read", "-format=json", "sys/host-info"],
    );
    assert_eq!(code, 0, "{err}");
    let read: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(read["data"]["host"]["os"], "linux");
}

/// Starts a request that stays in flight: its head is sent, its body never finishes. Dropped: the client goes away.
fn pending_request(addr: &str, token: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "PUT /v1/sys/tools/hash HTTP/1.1\r\nHost: x\r\nX-Vault-Token: {token}\r\nContent-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

fn in_flight(client: &crate::common::Client, token: &str) -> serde_json::Map<String, serde_json::Value> {
    let (status, body) = client.get("sys/in-flight-req", Some(token));
    assert_eq!(status, 200, "{body}");
    body.as_object().unwrap().clone()
}

#[test]
fn in_flight_requests_list_what_is_being_served_as_openbao_does() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let alone = in_flight(c, &root);
    assert_eq!(alone.len(), 1, "only this request: {alone:?}");
    let (id, entry) = alone.iter().next().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(entry["request_path"], "/v1/sys/in-flight-req");
    assert_eq!(entry["request_method"], "GET");
    // OpenBao's client id of a root token (sha256 of its policies and namespace), as bao 2.7.2 shows it.
    assert_eq!(entry["client_id"], "0DHqvq2D77kL2/JTPSZkTMJbkFVmUu0TzMi0jiXcFy8=");
    assert!(entry["client_remote_address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let pending = pending_request(&server.addr, &root);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let listed = loop {
        let listed = in_flight(c, &root);
        if listed.len() == 2 || std::time::Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        listed
            .values()
            .any(|e| e["request_path"] == "/v1/sys/tools/hash" && e["request_method"] == "PUT"),
        "{listed:?}"
    );
    drop(pending);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while in_flight(c, &root).len() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "a request whose client left stays listed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // The same keys as OpenBao's entries.
    let reference = crate::tools::ReferenceServer::start();
    let bao = crate::common::Client::new(&reference.addr);
    let (keys, bao_root) = bao.init(1, 1);
    bao.unseal_with(&keys);
    let (status, bao_listed) = bao.get("sys/in-flight-req", Some(&bao_root));
    assert_eq!(status, 200, "{bao_listed}");
    let key_set = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let theirs = bao_listed.as_object().expect("bao answers a map");
    assert_eq!(theirs.len(), 1, "{bao_listed}");
    assert_eq!(key_set(theirs.values().next().unwrap()), key_set(entry));
}

fn put_id(server: &TestServer, path: &str, token: &str, body: serde_json::Value) -> String {
    let (status, answer) = server.client.put(path, Some(token), body);
    assert!(status < 300, "{path}: {status} {answer}");
    answer["request_id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn json_log_format_writes_one_object_per_line_and_a_line_per_request() {
    let dir = temp_dir();
    let (server, root, _) = start_configured(
        dir.path(),
        "log_format = \"json\"\nlog_requests_level = \"info\"",
        "info",
        &[],
    );
    let id = put_id(&server, "sys/tools/hash", &root, json!({"input": "aGVsbG8="}));
    let log = log_with(&server, &id);
    let mut request_lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["@level", "@message", "@module", "@timestamp"], "{line}");
        assert!(chrono::DateTime::parse_from_rfc3339(value["@timestamp"].as_str().unwrap()).is_ok());
        let message = value["@message"].as_str().unwrap();
        if message.contains(&id) {
            request_lines += 1;
            assert_eq!(value["@level"], "info");
            assert_eq!(value["@module"], "http.request");
            for part in [
                "completed_request:",
                "request_method=PUT",
                "request_path=/v1/sys/tools/hash",
                "status_code=200",
                "client_address=127.0.0.1:",
                "client_id=0DHqvq2D77kL2/JTPSZkTMJbkFVmUu0TzMi0jiXcFy8=",
            ] {
                assert!(message.contains(part), "{part} missing: {message}");
            }
        }
        assert!(!line.contains(&root), "the root token was logged: {line}");
    }
    assert_eq!(request_lines, 1, "{log}");
}

#[test]
fn the_log_format_flag_and_switching_request_lines_off() {
    let dir = temp_dir();
    let (server, root, _) = start_configured(
        dir.path(),
        "log_requests_level = \"off\"",
        "info",
        &["-log-format=json"],
    );
    let id = put_id(&server, "sys/tools/hash", &root, json!({"input": "aGVsbG8="}));
    // Something is logged after the request (a policy write logs nothing; an audit-less mount does).
    let (status, _) = server
        .client
        .put("sys/mounts/kv-marker", Some(&root), json!({"type": "kv"}));
    assert_eq!(status, 204);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.stderr();
    assert!(
        !log.contains(&id),
        "a request line with log_requests_level = off: {log}"
    );
    assert!(!log.contains("completed_request"), "{log}");
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "-log-format=json: {line}"
        );
    }
    let (status, body) = server.client.get("sys/config/state/sanitized", Some(&root));
    assert_eq!(status, 200);
    assert_eq!(body["data"]["log_requests_level"], "");

    // The standard format, with the request line at debug when asked.
    let dir = temp_dir();
    let (server, root, _) = start_configured(dir.path(), "log_requests_level = \"debug\"", "debug", &[]);
    let id = put_id(&server, "sys/tools/hash", &root, json!({"input": "aGVsbG8="}));
    let log = log_with(&server, &id);
    let line = log.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.starts_with('[') && line.contains("DEBUG") && line.contains("vault::http::request"),
        "{line}"
    );
    let (_, body) = server.client.get("sys/config/state/sanitized", Some(&root));
    assert_eq!(body["data"]["log_requests_level"], "debug");
}

/// `bao monitor` against our server: a read on `sys/monitor` is enough (no sudo, as OpenBao); the lines come at
/// the asked level and format.
#[test]
fn bao_monitor_streams_our_log() {
    let dir = temp_dir();
    let (server, root, _) = start_configured(dir.path(), "log_requests_level = \"info\"", "info", &[]);
    let addr = server.client.base.clone();
    let (status, _) = server.client.put(
        "sys/policies/acl/monitor",
        Some(&root),
        json!({"policy": "path \"sys/monitor\" { capabilities = [\"read\"] }"}),
    );
    assert_eq!(status, 204);
    let (_, created) = server
        .client
        .put("auth/token/create", Some(&root), json!({"policies": ["monitor"]}));
    let reader = created["auth"]["client_token"].as_str().unwrap().to_string();
    let (_, created) = server
        .client
        .put("auth/token/create", Some(&root), json!({"policies": ["default"]}));
    let stranger = created["auth"]["client_token"].as_str().unwrap().to_string();

    for (format, json_lines) in [("standard", false), ("json", true)] {
        let out = dir.path().join(format!("monitor-{format}.out"));
        let mut child = std::process::Command::new(crate::tools::bao())
            .args(["monitor", "-log-level=debug", &format!("-log-format={format}")])
            .env("BAO_ADDR", &addr)
            .env("BAO_TOKEN", &reader)
            .env("HOME", std::env::temp_dir())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Requests until one shows in the monitor's output (it subscribes a moment after it starts).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let (id, text) = loop {
            let id = put_id(&server, "sys/tools/hash", &root, json!({"input": "aGVsbG8="}));
            std::thread::sleep(std::time::Duration::from_millis(300));
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.contains(&id) || std::time::Instant::now() > deadline {
                break (id, text);
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        let line = text
            .lines()
            .find(|l| l.contains(&id))
            .unwrap_or_else(|| panic!("{format}: {text}"));
        assert!(line.contains("completed_request"), "{line}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            json_lines,
            "{line}"
        );
        assert!(
            !text.contains(&root) && !text.contains(&reader),
            "a token in the monitor's output"
        );
    }

    let (code, _, err) = crate::tools::run_bao(&addr, Some(&stranger), &["monitor"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = crate::tools::run_bao(&addr, Some(&root), &["monitor", "-log-level=bogus"]);
    assert_ne!(code, 0, "{err}");
    // The endpoint's own refusals, as OpenBao's.
    for (query, message) in [
        ("log_level=bogus", "unknown log level"),
        ("log_format=xml", "unknown log format"),
    ] {
        let (status, body) = server.client.get(&format!("sys/monitor?{query}"), Some(&root));
        assert_eq!((status, body["errors"][0].as_str()), (400, Some(message)));
    }
    let (status, _) = server.client.put("sys/monitor", Some(&root), json!({}));
    assert_eq!(status, 405);
}

/// Reads `sys/monitor` at trace level into a shared buffer until the connection ends; returns once subscribed.
fn capture_monitor(addr: &str, token: &str) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::{Read, Write};
    let captured = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /v1/sys/monitor?log_level=trace HTTP/1.1\r\nHost: x\r\nX-Vault-Token: {token}\r\n\r\n"
    )
    .unwrap();
    let sink = captured.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut text) = sink.lock() {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    // Subscribed once the answer's head is back (the server subscribes before it answers).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !captured.lock().unwrap().contains("200 OK") {
        assert!(std::time::Instant::now() < deadline, "sys/monitor did not answer");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    captured
}

/// A whole session at trace level (init, unseal, tokens, K/V, wrapping, userpass, transit), with a trace monitor
/// attached: neither the server's log nor the monitor's stream may hold a token, an unseal key, a secret value or a
/// password, in any encoding a client sent or received it.
#[test]
fn no_secret_reaches_the_log_at_trace_level() {
    let dir = temp_dir();
    let (server, root, keys) = start_configured(dir.path(), "log_requests_level = \"info\"", "trace", &[]);
    let c = &server.client;
    let monitor = capture_monitor(&server.addr, &root);
    let mut secrets: Vec<String> = vec![root.clone()];
    for key in &keys {
        secrets.push(key.clone());
        secrets.push(b64(&hex::decode(key).unwrap()));
    }
    let ok = |(status, body): (u16, serde_json::Value), what: &str| {
        assert!(status < 300, "{what}: {status} {body}");
        body
    };

    // Tokens.
    let child = ok(
        c.put("auth/token/create", Some(&root), json!({"policies": ["default"]})),
        "token",
    );
    let child = child["auth"]["client_token"].as_str().unwrap().to_string();
    ok(c.get("auth/token/lookup-self", Some(&child)), "lookup-self");
    ok(
        c.put("auth/token/lookup", Some(&root), json!({"token": child})),
        "lookup",
    );
    secrets.push(child.clone());

    // K/V (both versions) with known secret values.
    let kv_value = "kv-secret-value-5d41402abc4b2a76";
    let kv1_value = "kv1-secret-value-7e2b9c";
    ok(
        c.put(
            "sys/mounts/secret",
            Some(&root),
            json!({"type": "kv", "options": {"version": "2"}}),
        ),
        "mount kv2",
    );
    ok(c.put("sys/mounts/kv1", Some(&root), json!({"type": "kv"})), "mount kv1");
    std::thread::sleep(std::time::Duration::from_millis(100));
    ok(
        c.put("secret/data/app", Some(&root), json!({"data": {"password": kv_value}})),
        "kv2 write",
    );
    let read = ok(c.get("secret/data/app", Some(&root)), "kv2 read");
    assert_eq!(read["data"]["data"]["password"], kv_value);
    ok(
        c.put("kv1/app", Some(&root), json!({"api_key": kv1_value})),
        "kv1 write",
    );
    ok(c.get("kv1/app", Some(&root)), "kv1 read");
    ok(
        c.put("cubbyhole/note", Some(&child), json!({"pin": "cubby-pin-310777"})),
        "cubbyhole",
    );
    secrets.extend([
        kv_value.to_string(),
        kv1_value.to_string(),
        "cubby-pin-310777".to_string(),
    ]);

    // Wrapping: a wrapped secret and its token, unwrapped.
    let wrapped_value = "wrapped-value-c4ca4238a0b9";
    let (status, wrapped) = c
        .try_call(
            "PUT",
            "sys/wrapping/wrap",
            Some(&root),
            &[("X-Vault-Wrap-TTL", "300")],
            Some(json!({"wrapped": wrapped_value}).to_string().into_bytes()),
        )
        .unwrap();
    assert_eq!(status, 200, "{wrapped}");
    let wrapping_token = wrapped["wrap_info"]["token"].as_str().unwrap().to_string();
    let unwrapped = ok(
        c.put("sys/wrapping/unwrap", Some(&root), json!({"token": wrapping_token})),
        "unwrap",
    );
    assert_eq!(unwrapped["data"]["wrapped"], wrapped_value);
    secrets.extend([wrapped_value.to_string(), wrapping_token]);

    // userpass with a known password, a failed login too.
    let password = "Correct-Horse-Battery-91f3";
    ok(
        c.put("sys/auth/userpass", Some(&root), json!({"type": "userpass"})),
        "enable userpass",
    );
    ok(
        c.put(
            "auth/userpass/users/alice",
            Some(&root),
            json!({"password": password, "policies": "default"}),
        ),
        "user",
    );
    let login = ok(
        c.put("auth/userpass/login/alice", None, json!({"password": password})),
        "login",
    );
    let login_token = login["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, _) = c.put(
        "auth/userpass/login/alice",
        None,
        json!({"password": "Wrong-Password-0a1b"}),
    );
    assert_eq!(status, 400);
    secrets.extend([password.to_string(), "Wrong-Password-0a1b".to_string(), login_token]);

    // Transit: encrypt and decrypt a known plaintext.
    let plaintext = "transit-plaintext-e4da3b7fbbce";
    ok(
        c.put("sys/mounts/transit", Some(&root), json!({"type": "transit"})),
        "mount transit",
    );
    ok(c.put("transit/keys/k", Some(&root), json!({})), "transit key");
    let encrypted = ok(
        c.put(
            "transit/encrypt/k",
            Some(&root),
            json!({"plaintext": b64(plaintext.as_bytes())}),
        ),
        "enc",
    );
    let ciphertext = encrypted["data"]["ciphertext"].as_str().unwrap().to_string();
    let decrypted = ok(
        c.put("transit/decrypt/k", Some(&root), json!({"ciphertext": ciphertext})),
        "decrypt",
    );
    assert_eq!(decrypted["data"]["plaintext"], json!(b64(plaintext.as_bytes())));
    secrets.extend([plaintext.to_string(), b64(plaintext.as_bytes())]);

    // Seal and unseal again with the key.
    ok(c.put("sys/seal", Some(&root), json!({})), "seal");
    c.unseal_with(&keys);

    let log = log_with(&server, "sys/seal");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let monitored = monitor.lock().unwrap().clone();
    // The logs are real: trace-level records and a line per request, in both.
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "no debug or trace record: {log}"
    );
    assert!(log.matches("completed_request").count() >= 20, "{log}");
    assert!(
        monitored.contains("completed_request"),
        "the monitor saw nothing: {monitored}"
    );
    for path in [
        "/v1/secret/data/app",
        "/v1/auth/userpass/login/alice",
        "/v1/transit/encrypt/k",
        "/v1/sys/wrapping/unwrap",
    ] {
        assert!(log.contains(path), "{path} was not logged");
        assert!(
            monitored.contains(path),
            "{path} did not reach the monitor: {monitored}"
        );
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the server log holds {secret:?}");
        assert!(
            !monitored.contains(secret.as_str()),
            "the monitor's stream holds {secret:?}"
        );
    }
}
