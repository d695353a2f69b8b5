//! Online snapshots: `bao operator raft snapshot save/restore [-force]` against our server, verification of
//! damaged snapshots before anything is touched, foreign snapshots (another initialization) sealing the server,
//! consistency under concurrent writes, durability of a restore, `vault operator snapshot inspect`, and recovery
//! from a restore cut short.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::{run_vault, temp_dir, Client, TestServer};
use crate::tools::run_bao;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// GET the snapshot: (status, body bytes).
pub(crate) fn save(c: &Client, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = agent().get(format!("{}/v1/sys/storage/raft/snapshot", c.base));
    if let Some(t) = token {
        req = req.header("X-Vault-Token", t);
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.body_mut().as_reader().read_to_end(&mut body).unwrap();
    (status, body)
}

/// POST a snapshot: (status, JSON body or Null).
pub(crate) fn restore(c: &Client, token: &str, snapshot: &[u8], force: bool) -> (u16, Value) {
    let path = if force { "snapshot-force" } else { "snapshot" };
    let mut resp = agent()
        .post(format!("{}/v1/sys/storage/raft/{path}", c.base))
        .header("X-Vault-Token", token)
        .send(snapshot)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

fn enable_kv2(c: &Client, root: &str, path: &str) {
    let (status, body) = c.put(
        &format!("sys/mounts/{path}"),
        Some(root),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(status, 204, "{body}");
}

fn kv_put(c: &Client, root: &str, path: &str, data: Value) {
    let (status, body) = c.put(path, Some(root), json!({ "data": data }));
    assert_eq!(status, 200, "{body}");
}

fn kv_data(c: &Client, root: &str, path: &str) -> Option<Value> {
    match c.get(path, Some(root)) {
        (200, body) => Some(body["data"]["data"].clone()),
        (404, _) => None,
        other => panic!("{other:?}"),
    }
}

fn wrap(c: &Client, root: &str, payload: Value) -> String {
    let mut resp = agent()
        .post(format!("{}/v1/sys/wrapping/wrap", c.base))
        .header("X-Vault-Token", root)
        .header("X-Vault-Wrap-TTL", "1h")
        .send(payload.to_string())
        .unwrap();
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    body["wrap_info"]["token"].as_str().unwrap().to_string()
}

fn create_token(c: &Client, root: &str) -> String {
    let (status, body) = c.put("auth/token/create", Some(root), json!({"policies": ["default"]}));
    assert_eq!(status, 200, "{body}");
    body["auth"]["client_token"].as_str().unwrap().to_string()
}

fn sealed(c: &Client) -> bool {
    c.get("sys/seal-status", None).1["sealed"].as_bool().unwrap()
}

#[test]
fn bao_snapshot_save_and_restore_round_trip() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let addr = c.base.clone();
    enable_kv2(c, &root, "kv");
    kv_put(c, &root, "kv/data/a", json!({"v": "1"}));
    let token = create_token(c, &root);
    let wrapped = wrap(c, &root, json!({"wrapped": "secret"}));

    let file = dir.path().join("backup.snap");
    let (code, out, err) = run_bao(
        &addr,
        Some(&root),
        &["operator", "raft", "snapshot", "save", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Change everything after the snapshot.
    kv_put(c, &root, "kv/data/a", json!({"v": "2"}));
    kv_put(c, &root, "kv/data/b", json!({"v": "new"}));
    assert_eq!(c.put("auth/token/revoke", Some(&root), json!({"token": token})).0, 204);
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&wrapped), json!({})).0, 200);
    enable_kv2(c, &root, "later");

    let (code, out, err) = run_bao(
        &addr,
        Some(&root),
        &["operator", "raft", "snapshot", "restore", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !sealed(c),
        "a snapshot of the same initialization keeps the server unsealed"
    );
    assert_eq!(kv_data(c, &root, "kv/data/a"), Some(json!({"v": "1"})));
    assert_eq!(kv_data(c, &root, "kv/data/b"), None);
    assert_eq!(
        c.get("auth/token/lookup-self", Some(&token)).0,
        200,
        "the token lives again"
    );
    let (status, mounts) = c.get("sys/mounts", Some(&root));
    assert_eq!(status, 200);
    assert!(
        mounts["data"].get("later/").is_none(),
        "the mount table is the snapshot's: {mounts}"
    );
    let (status, unwrapped) = c.put("sys/wrapping/unwrap", Some(&wrapped), json!({}));
    assert_eq!(
        status, 200,
        "the wrapped secret survives backup and restore: {unwrapped}"
    );
    assert_eq!(unwrapped["data"], json!({"wrapped": "secret"}));

    // The restore is durable: a restart (even a kill) keeps it.
    kv_put(c, &root, "kv/data/after", json!({"v": "x"}));
    server.kill9();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    assert_eq!(kv_data(c, &root, "kv/data/a"), Some(json!({"v": "1"})));
    assert_eq!(kv_data(c, &root, "kv/data/after"), Some(json!({"v": "x"})));
    assert_eq!(kv_data(c, &root, "kv/data/b"), None);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "nothing is left beside the data directory: {leftovers:?}"
    );

    // Offline inspection needs no keys.
    let (code, out, err) = run_vault(&["operator", "snapshot", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Verified"), "{out}");
    assert!(out.contains("vault-sled-snapshot v1"), "{out}");
    let (code, out, _) = run_vault(&[
        "operator",
        "snapshot",
        "inspect",
        "-format=json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let header: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(header["verified"], true);
    assert!(header["entries"].as_u64().unwrap() > 10, "{header}");
    assert_eq!(
        header["trees"]["tokens"], 3,
        "root, the created token and the wrapping token: {header}"
    );
    assert_eq!(header["trees"]["wrapped_responses"], 1, "{header}");
}

/// Rebuild `snapshot` with `state.bin` changed by `f` but the original SHA256SUMS kept.
fn tamper_state(snapshot: &[u8], f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(snapshot));
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "state.bin" {
            f(&mut data);
        }
        files.push((name, data));
    }
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    crate::common::tar_gz(&files)
}

#[test]
fn damaged_snapshots_are_refused_before_anything_changes() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable_kv2(c, &root, "kv");
    for i in 0..50 {
        kv_put(c, &root, &format!("kv/data/k{i}"), json!({"i": i}));
    }
    let (status, good) = save(c, Some(&root));
    assert_eq!(status, 200);
    kv_put(c, &root, "kv/data/after", json!({"kept": true}));

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("garbage", b"this is not a snapshot".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("missing the last bytes", good[..good.len() - 8].to_vec()),
        ("a flipped byte", flipped),
        ("an altered record", tamper_state(&good, |s| s[40] ^= 1)),
        ("a dropped record", tamper_state(&good, |s| s.truncate(s.len() - 1))),
    ];
    for (what, bytes) in &damaged {
        for force in [false, true] {
            let (status, body) = restore(c, &root, bytes, force);
            assert_eq!(status, 400, "{what} (force {force}): {body}");
            let message = body["errors"][0].as_str().unwrap();
            assert!(message.starts_with("invalid snapshot: "), "{what}: {message}");
        }
        let file = dir.path().join("damaged.snap");
        std::fs::write(&file, bytes).unwrap();
        let (code, out, err) = run_vault(&["operator", "snapshot", "inspect", file.to_str().unwrap()]);
        assert_ne!(code, 0, "inspect accepts {what}: {out}");
        assert!(err.contains("invalid snapshot"), "{what}: {err}");
    }
    // Nothing was touched: the write after the snapshot is still there, and the good snapshot still restores.
    assert_eq!(kv_data(c, &root, "kv/data/after"), Some(json!({"kept": true})));
    assert_eq!(restore(c, &root, &tamper_state(&good, |_| {}), false).0, 204);
    assert_eq!(kv_data(c, &root, "kv/data/after"), None);
    assert_eq!(kv_data(c, &root, "kv/data/k49"), Some(json!({"i": 49})));
}

#[test]
fn foreign_snapshot_needs_force_then_seals_with_its_own_keys() {
    let dir_a = temp_dir();
    let dir_b = temp_dir();
    let (a, root_a, keys_a) = TestServer::start_unsealed(dir_a.path());
    let b = TestServer::start(dir_b.path());
    let (keys_b, root_b) = b.client.init(3, 2);
    b.client.unseal_with(&keys_b[..2]);
    enable_kv2(&a.client, &root_a, "kv");
    kv_put(&a.client, &root_a, "kv/data/only-a", json!({"a": 1}));
    enable_kv2(&b.client, &root_b, "bkv");
    kv_put(&b.client, &root_b, "bkv/data/only-b", json!({"b": 2}));
    let wrapped_b = wrap(&b.client, &root_b, json!({"from": "b"}));
    let (status, snapshot_b) = save(&b.client, Some(&root_b));
    assert_eq!(status, 200);
    drop(b);

    let (status, body) = restore(&a.client, &root_a, &snapshot_b, false);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0],
        "could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the \
         snapshot-force API to bypass this check"
    );
    assert_eq!(kv_data(&a.client, &root_a, "kv/data/only-a"), Some(json!({"a": 1})));

    let file = dir_a.path().join("b.snap");
    std::fs::write(&file, &snapshot_b).unwrap();
    let (code, out, err) = run_bao(
        &a.client.base,
        Some(&root_a),
        &[
            "operator",
            "raft",
            "snapshot",
            "restore",
            "-force",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let status = a.client.get("sys/seal-status", None).1;
    assert_eq!(status["sealed"], true, "{status}");
    assert_eq!(
        (status["t"].as_u64(), status["n"].as_u64()),
        (Some(2), Some(3)),
        "B's seal: {status}"
    );
    let log = std::fs::read_to_string(&a.stderr_path).unwrap();
    assert!(log.contains("different initialization"), "{log}");

    // A's own key does not open B's keyring; B's keys do.
    let (status, body) = a.client.put("sys/unseal", None, json!({"key": keys_a[0]}));
    assert!(status == 400 || body["sealed"] == true, "{status} {body}");
    a.client.put("sys/unseal", None, json!({"reset": true}));
    a.client.unseal_with(&keys_b[1..3]);
    assert!(!sealed(&a.client));
    assert_eq!(kv_data(&a.client, &root_b, "bkv/data/only-b"), Some(json!({"b": 2})));
    assert_eq!(
        a.client.get("kv/data/only-a", Some(&root_b)).0,
        404,
        "A's mount is gone"
    );
    assert_eq!(
        a.client.get("auth/token/lookup-self", Some(&root_a)).0,
        403,
        "A's root token is gone"
    );
    let (status, unwrapped) = a.client.put("sys/wrapping/unwrap", Some(&wrapped_b), json!({}));
    assert_eq!(status, 200, "{unwrapped}");
    assert_eq!(unwrapped["data"], json!({"from": "b"}));
}

/// What a snapshot says about itself is the client's text: logged, it stays on its one line.
#[test]
fn a_forced_restore_logs_what_the_snapshot_says_on_one_line() {
    use sha2::Digest;
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, snapshot) = save(c, Some(&root));
    assert_eq!(status, 200);
    // Rewrite the header's creation time and the SHA256SUMS that cover it (the sealed sums no longer match: a
    // forced restore takes it as another initialization's).
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&snapshot[..]));
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.push((name, data));
    }
    let mut header: Value = serde_json::from_slice(&files[0].1).unwrap();
    header["created_at"] = json!("2026-01-01T00:00:00Z\n[fake line] ERROR forged \u{1b}[2K\u{202e}");
    files[0].1 = serde_json::to_vec(&header).unwrap();
    let sums = format!(
        "{}  meta.json\n{}  state.bin\n",
        hex::encode(sha2::Sha256::digest(&files[0].1)),
        hex::encode(sha2::Sha256::digest(&files[1].1))
    );
    files[2].1 = sums.into_bytes();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    let crafted = crate::common::tar_gz(&files);
    // The offline inspection prints it escaped too.
    let file = dir.path().join("crafted.snap");
    std::fs::write(&file, &crafted).unwrap();
    let (code, out, err) = run_vault(&["operator", "snapshot", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("2026-01-01T00:00:00Z\\n[fake line] ERROR forged \\u{1b}[2K\\u{202e}\n"),
        "{out}"
    );
    let (status, body) = restore(c, &root, &crafted, true);
    assert!(status == 200 || status == 204, "{status} {body}");
    assert!(sealed(c));
    c.unseal_with(&keys);

    let log = server.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("different initialization"))
        .unwrap_or_else(|| panic!("no restore warning: {log}"));
    assert!(
        line.contains("taken 2026-01-01T00:00:00Z\\n[fake line] ERROR forged \\u{1b}[2K\\u{202e})"),
        "{line}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("[fake line]")) && !log.contains('\u{1b}') && !log.contains('\u{202e}'),
        "{log}"
    );
}

#[test]
fn snapshot_endpoints_are_root_only() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(save(c, None).0, 403);
    assert_eq!(save(c, Some("not-a-token")).0, 403);
    let policy = r#"path "sys/storage/raft/*" { capabilities = ["read", "update", "create"] }"#;
    assert_eq!(
        c.put("sys/policies/acl/snap", Some(&root), json!({"policy": policy})).0,
        204
    );
    let sudo = r#"path "sys/storage/raft/*" { capabilities = ["read", "update", "create", "sudo"] }"#;
    assert_eq!(
        c.put("sys/policies/acl/snap-sudo", Some(&root), json!({"policy": sudo}))
            .0,
        204
    );
    let plain = c.put("auth/token/create", Some(&root), json!({"policies": ["snap"]})).1["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let with_sudo = c
        .put("auth/token/create", Some(&root), json!({"policies": ["snap-sudo"]}))
        .1["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = save(c, Some(&plain));
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, snapshot) = save(c, Some(&with_sudo));
    assert_eq!(status, 200);
    assert_eq!(restore(c, &plain, &snapshot, false).0, 403);
    assert_eq!(restore(c, &with_sudo, &snapshot, false).0, 204);
    let (status, _) = c.call("GET", "sys/storage/raft/snapshot-force", Some(&root), None);
    assert_eq!(status, 405);
    // Sealed: 503 like every other path.
    assert_eq!(c.put("sys/seal", Some(&root), json!({})).0, 204);
    assert_eq!(save(c, Some(&root)).0, 503);
}

/// While writers keep going, a snapshot is one point in time: restored elsewhere, every K/V v2 key's metadata
/// agrees with its newest version's data.
#[test]
fn snapshot_is_consistent_under_concurrent_writes() {
    const KEYS_PER_WRITER: u64 = 5;
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable_kv2(c, &root, "kv");
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (base, root, stop) = (c.base.clone(), root.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let c = Client::new(&base);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                kv_put(
                    &c,
                    &root,
                    &format!("kv/data/w{w}-{}", n % KEYS_PER_WRITER),
                    json!({ "n": n }),
                );
            }
            n
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, snapshot) = save(c, Some(&root));
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(written > 20, "the writers wrote during the snapshot ({written})");

    // Into another server: it seals, and opens with the first server's keys.
    let other_dir = temp_dir();
    let (other, other_root, _) = TestServer::start_unsealed(other_dir.path());
    let o = &other.client;
    let (status, body) = restore(o, &other_root, &snapshot, true);
    assert_eq!(status, 200, "{body}");
    assert!(body["warnings"][0].as_str().unwrap().contains("sealed"), "{body}");
    o.unseal_with(&keys);
    let mut seen = 0;
    for w in 0..4 {
        for k in 0..KEYS_PER_WRITER {
            let path = format!("w{w}-{k}");
            let Some(data) = kv_data(o, &root, &format!("kv/data/{path}")) else {
                continue;
            };
            let (status, meta) = o.get(&format!("kv/metadata/{path}"), Some(&root));
            assert_eq!(status, 200, "{meta}");
            let n = data["n"].as_u64().unwrap();
            // Writes to key k carry n = k, k+5, k+10, ... (k = 0: 5, 10, ...), one version each.
            let version = if k == 0 {
                n / KEYS_PER_WRITER
            } else {
                (n - k) / KEYS_PER_WRITER + 1
            };
            assert_eq!(
                meta["data"]["current_version"], version,
                "{path}: data {data} vs metadata {meta}"
            );
            seen += 1;
        }
    }
    assert!(seen > 0);
}

#[test]
fn a_restore_cut_short_is_cleaned_up_or_rolled_back_at_start() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    enable_kv2(&server.client, &root, "kv");
    kv_put(&server.client, &root, "kv/data/x", json!({"x": 1}));
    assert!(server.terminate().success());
    let data = dir.path().join("data");

    // Cut while staging: a half-built store beside the data directory is removed, the live one is untouched.
    let staging = dir.path().join(".data.restore-new");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("db"), b"half a store").unwrap();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    assert_eq!(kv_data(&server.client, &root, "kv/data/x"), Some(json!({"x": 1})));
    assert!(!staging.exists());
    assert!(server.terminate().success());

    // Cut between the two renames of a restore without atomic exchange: the parked store is moved back.
    let parked = dir.path().join(".data.restore-old");
    std::fs::rename(&data, &parked).unwrap();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    assert_eq!(kv_data(&server.client, &root, "kv/data/x"), Some(json!({"x": 1})));
    assert!(!parked.exists());
    assert!(data.exists());
}

/// `kill -9` at moments spread over a restore: after each restart the store is wholly the old one or wholly the
/// snapshot's, never a mix, and nothing is lost.
#[test]
fn kill_9_during_restore_leaves_the_old_or_the_new_store() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable_kv2(c, &root, "kv");
    // Enough records that a restore takes a while.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (base, root) = (c.base.clone(), root.clone());
            std::thread::spawn(move || {
                let c = Client::new(&base);
                for i in 0..250 {
                    kv_put(
                        &c,
                        &root,
                        &format!("kv/data/bulk/{w}-{i}"),
                        json!({"pad": "p".repeat(200)}),
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    kv_put(c, &root, "kv/data/marker", json!({"state": "snapshot"}));
    let (status, snapshot) = save(c, Some(&root));
    assert_eq!(status, 200);
    kv_put(c, &root, "kv/data/marker", json!({"state": "live"}));
    kv_put(c, &root, "kv/data/only-live", json!({"x": 1}));

    let started = std::time::Instant::now();
    assert_eq!(restore(c, &root, &snapshot, false).0, 204);
    let restore_time = started.elapsed();
    kv_put(c, &root, "kv/data/marker", json!({"state": "live"}));
    kv_put(c, &root, "kv/data/only-live", json!({"x": 1}));

    let mut server = server;
    let mut outcomes = Vec::new();
    for round in 0..6u32 {
        let base = server.client.base.clone();
        let (root2, snap) = (root.clone(), snapshot.clone());
        let uploader = std::thread::spawn(move || {
            // The server dies under it: any outcome of the request itself is fine.
            let _ = agent()
                .post(format!("{base}/v1/sys/storage/raft/snapshot"))
                .header("X-Vault-Token", &root2)
                .send(&snap[..]);
        });
        // From just after the upload starts to past the end of a typical restore.
        let delay = restore_time.mul_f64(0.15 + 0.25 * round as f64);
        std::thread::sleep(delay);
        server.kill9();
        let _ = uploader.join();
        server = TestServer::start(dir.path());
        let c = &server.client;
        c.unseal_with(&keys);
        let marker = kv_data(c, &root, "kv/data/marker").expect("the marker survives")["state"].clone();
        let only_live = kv_data(c, &root, "kv/data/only-live");
        match marker.as_str() {
            Some("live") => assert!(only_live.is_some(), "round {round}: a mix of old and new"),
            Some("snapshot") => assert!(only_live.is_none(), "round {round}: a mix of old and new"),
            other => panic!("round {round}: marker {other:?}"),
        }
        assert_eq!(
            kv_data(c, &root, "kv/data/bulk/7-249").map(|d| d["pad"].as_str().unwrap().len()),
            Some(200),
            "round {round}: records lost"
        );
        outcomes.push(marker.as_str().unwrap().to_string());
        // Back to the live state for the next round.
        kv_put(c, &root, "kv/data/marker", json!({"state": "live"}));
        kv_put(c, &root, "kv/data/only-live", json!({"x": 1}));
    }
    eprintln!("restore took {restore_time:?}; outcomes after each kill: {outcomes:?}");
}

/// hvac 2.4.0's snapshot calls, unchanged (the reference's in-memory dev storage has no snapshots to compare).
#[test]
fn hvac_takes_and_restores_snapshots() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/py/hvac_snapshot.py");
    let out = std::process::Command::new(crate::tools::python())
        .arg(script)
        .env("HVAC_TEST_ADDR", format!("http://{}", server.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hvac: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["save_status"], 200, "{result}");
    assert_eq!(result["save_is_gzip"], true);
    assert_eq!(result["restore_status"], 204);
    assert_eq!(result["after_restore"], json!({"v": "1"}));
    assert_eq!(
        result["force_status"], 204,
        "a forced restore of the same keys stays unsealed"
    );
    assert_eq!(result["after_force"], json!({"v": "1"}));
    assert_eq!(result["truncated"]["raised"], "InvalidRequest", "{result}");
    let message = result["truncated"]["errors"][0].as_str().unwrap();
    assert!(message.starts_with("invalid snapshot: "), "{message}");
}

/// A gzip'd tar whose `state.bin` claims `state_len` bytes: `state_head`, then zeros up to about `zeros` bytes, where
/// the compressed stream simply stops. One deflate block of 1 MiB of zeros, which decodes the same wherever the last
/// 32 KiB were zeros, is repeated: a few MB that expand to gigabytes.
fn gzip_bomb(meta_json: &[u8], state_len: u64, state_head: &[u8], zeros: u64) -> Vec<u8> {
    use std::io::Write;
    let entry = |name: &str, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_cksum();
        header.as_bytes().to_vec()
    };
    let mut tar = entry("meta.json", meta_json.len() as u64);
    tar.extend_from_slice(meta_json);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.extend(entry("state.bin", state_len));
    tar.extend_from_slice(state_head);

    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    deflate.write_all(&tar).unwrap();
    deflate.write_all(&[0u8; 64 << 10]).unwrap();
    deflate.flush().unwrap();
    let start = deflate.get_ref().len();
    deflate.write_all(&vec![0u8; 1 << 20]).unwrap();
    deflate.flush().unwrap();
    let stream = deflate.get_ref();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&stream[..start]);
    for _ in 0..zeros >> 20 {
        out.extend_from_slice(&stream[start..]);
    }
    out
}

/// The header (`meta.json`) of a snapshot.
fn snapshot_header(snapshot: &[u8]) -> Value {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(snapshot));
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut json = Vec::new();
    entry.read_to_end(&mut json).unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// Bytes the process has written (any file or socket) so far.
fn written(pid: u32) -> u64 {
    crate::common::proc_line(pid, "io", "wchar:").parse().unwrap()
}

/// A gzip bomb (2 GiB of zeros in a few MB) is refused at once, before it is expanded to disk: its `state.bin` is
/// larger than its header says, or its header claims more than its records can hold, or its first record is not a
/// record or claims a value larger than any record.
#[test]
fn a_gzip_bomb_is_refused_quickly_and_writes_little() {
    const GIB2: u64 = 2 << 30;
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, good) = save(c, Some(&root));
    assert_eq!(status, 200);
    let honest = snapshot_header(&good);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut header = honest.clone();
        f(&mut header);
        serde_json::to_vec(&header).unwrap()
    };
    const TIB: u64 = 1 << 40;
    let huge_state = with(&|h| h["state_bytes"] = json!(TIB));
    let many_records = with(&|h| {
        h["state_bytes"] = json!(GIB2);
        h["entries"] = json!(1u64 << 20);
        h["trees"] = json!({"meta": 1u64 << 20});
    });
    let mut huge_value = vec![4u8];
    huge_value.extend_from_slice(b"meta");
    huge_value.extend_from_slice(&0u32.to_be_bytes());
    huge_value.extend_from_slice(&u32::MAX.to_be_bytes());
    // (what, the bomb, what the refusal says)
    let bombs: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "state.bin larger than the header says",
            gzip_bomb(&serde_json::to_vec(&honest).unwrap(), GIB2, &[], GIB2),
            format!("state.bin has {GIB2} bytes, the header says {}", honest["state_bytes"]),
        ),
        (
            "a header claiming 1 TiB for a few records",
            gzip_bomb(&huge_state, TIB, &[], GIB2),
            format!(
                "the header gives state.bin {TIB} bytes for {} records",
                honest["entries"]
            ),
        ),
        (
            "records of nothing",
            gzip_bomb(&many_records, GIB2, &[], GIB2),
            "state.bin holds an unknown tree \"\"".into(),
        ),
        (
            "a record claiming a 4 GiB value",
            gzip_bomb(&many_records, GIB2, &huge_value, GIB2),
            "state.bin holds a record larger than a snapshot may hold".into(),
        ),
    ];
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for (what, bomb, refusal) in &bombs {
        assert!(bomb.len() < 16 << 20, "{what}: {} bytes", bomb.len());
        let written_before = written(server.pid());
        let started = std::time::Instant::now();
        let (status, body) = restore(c, &root, bomb, true);
        let took = started.elapsed();
        let wrote = written(server.pid()) - written_before;
        assert_eq!(status, 400, "{what}: {body}");
        let message = body["errors"][0].as_str().unwrap();
        assert!(
            message.starts_with("invalid snapshot: ") && message.contains(refusal.as_str()),
            "{what}: {body}"
        );
        assert!(wrote < bomb.len() as u64 + (16 << 20), "{what}: wrote {wrote} bytes");
        assert!(took < std::time::Duration::from_secs(15), "{what}: took {took:?}");
    }
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing left beside the data directory");
    assert_eq!(restore(c, &root, &good, false).0, 204, "a real snapshot still restores");
    // The store built beside the data directory and swapped in is as private as the one it replaced.
    crate::common::assert_owner_only(&dir.path().join("data"));
}

/// Backends that cache what they read (transit keeps its keys in memory) serve the restored store, not what they
/// cached from the replaced one.
#[test]
fn a_restore_rebuilds_backends_that_cache() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(
        c.put("sys/mounts/transit", Some(&root), json!({"type": "transit"})).0,
        204
    );
    assert_eq!(c.put("transit/keys/k", Some(&root), json!({})).0, 200);
    let (status, body) = c.put("transit/encrypt/k", Some(&root), json!({"plaintext": "aGVsbG8="}));
    assert_eq!(status, 200, "{body}");
    let (status, snapshot) = save(c, Some(&root));
    assert_eq!(status, 200);
    // After the snapshot: the key is rotated (v2 cached) and used.
    assert_eq!(c.put("transit/keys/k/rotate", Some(&root), json!({})).0, 200);
    let (_, body) = c.put("transit/encrypt/k", Some(&root), json!({"plaintext": "aGVsbG8="}));
    let v2 = body["data"]["ciphertext"].as_str().unwrap().to_string();
    assert!(v2.starts_with("vault:v2:"), "{v2}");
    let (status, body) = restore(c, &root, &snapshot, false);
    assert_eq!(status, 204, "{body}");
    let (status, body) = c.get("transit/keys/k", Some(&root));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["latest_version"],
        json!(1),
        "the key as the snapshot has it"
    );
    let (_, body) = c.put("transit/encrypt/k", Some(&root), json!({"plaintext": "aGVsbG8="}));
    assert!(
        body["data"]["ciphertext"].as_str().unwrap().starts_with("vault:v1:"),
        "{body}"
    );
    // The rotation after the snapshot is gone with its key version.
    let (status, _) = c.put("transit/decrypt/k", Some(&root), json!({"ciphertext": v2}));
    assert_eq!(status, 400);
}

// Not here: the tests of the data directory's staging files and space guard (sled only).
on_postgresql!(
    bao_snapshot_save_and_restore_round_trip,
    damaged_snapshots_are_refused_before_anything_changes,
    foreign_snapshot_needs_force_then_seals_with_its_own_keys,
    a_forced_restore_logs_what_the_snapshot_says_on_one_line,
    snapshot_endpoints_are_root_only,
    snapshot_is_consistent_under_concurrent_writes,
    kill_9_during_restore_leaves_the_old_or_the_new_store,
    hvac_takes_and_restores_snapshots,
    a_restore_rebuilds_backends_that_cache
);
