//! Operator key management across restarts, crashes and snapshot restores (the API shapes are in the differential
//! scenario `operator_keys.json`): a finished rekey is durable the moment it is acknowledged, an interrupted one
//! leaves the old shares valid, a rotation keeps every older record readable, a same-keys snapshot restore keeps the
//! keys in use, and the legacy unauthenticated endpoints work when a listener enables them.

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};

fn keys_of(body: &Value) -> Vec<String> {
    body["data"]["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys in {body}"))
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// Rekey to `shares`/`threshold` with `current` shares; returns the new shares.
fn rekey(c: &Client, root: &str, current: &[String], shares: u32, threshold: u32) -> Vec<String> {
    let (status, body) = c.put(
        "sys/rotate/root/init",
        Some(root),
        json!({"secret_shares": shares, "secret_threshold": threshold}),
    );
    assert_eq!(status, 200, "{body}");
    let nonce = body["data"]["nonce"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for key in current {
        let (status, body) = c.put(
            "sys/rotate/root/update",
            Some(root),
            json!({"key": key, "nonce": nonce}),
        );
        assert_eq!(status, 200, "{body}");
        last = body;
    }
    assert_eq!(last["data"]["complete"], true, "{last}");
    keys_of(&last)
}

fn sealed(c: &Client) -> bool {
    c.get("sys/seal-status", None).1["sealed"].as_bool().unwrap()
}

/// Submit `keys` to `sys/unseal`; true when the server ends up unsealed.
fn try_unseal(c: &Client, keys: &[String]) -> bool {
    c.put("sys/unseal", None, json!({"reset": true}));
    for key in keys {
        let (status, _) = c.put("sys/unseal", None, json!({ "key": key }));
        if status != 200 {
            return false;
        }
    }
    !sealed(c)
}

#[test]
fn a_rekey_is_durable_once_acknowledged_and_an_interrupted_one_changes_nothing() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let (old, root) = server.client.init(3, 2);
    server.client.unseal_with(&old[..2]);
    server.client.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(server.client.put("kv/a", Some(&root), json!({"v": "1"})).0, 204);

    // Interrupted: one share of two entered, then the process dies.
    let (_, started) = server.client.put(
        "sys/rotate/root/init",
        Some(&root),
        json!({"secret_shares": 2, "secret_threshold": 2}),
    );
    let nonce = started["data"]["nonce"].as_str().unwrap();
    assert_eq!(
        server
            .client
            .put(
                "sys/rotate/root/update",
                Some(&root),
                json!({"key": old[0], "nonce": nonce})
            )
            .0,
        200
    );
    server.kill9();
    let server = TestServer::start(dir.path());
    assert!(try_unseal(&server.client, &old[1..3]), "the old shares still unseal");
    assert_eq!(
        server.client.get("sys/rotate/root/init", Some(&root)).1["data"]["started"],
        false,
        "the rekey did not survive the restart"
    );

    // Finished, then killed right after the answer: the new shares are the ones on disk.
    let new = rekey(&server.client, &root, &old[..2], 2, 2);
    server.kill9();
    let server = TestServer::start(dir.path());
    let status = server.client.get("sys/seal-status", None).1;
    assert_eq!((status["t"].as_u64(), status["n"].as_u64()), (Some(2), Some(2)));
    assert!(
        !try_unseal(&server.client, &old[..2]),
        "the old shares no longer unseal"
    );
    assert!(try_unseal(&server.client, &new), "the new shares unseal");
    assert_eq!(server.client.get("kv/a", Some(&root)).1["data"]["v"], "1");

    // A root key rotation (no shares) keeps the shares and the data.
    assert_eq!(server.client.put("sys/rotate/root", Some(&root), json!({})).0, 204);
    server.kill9();
    let server = TestServer::start(dir.path());
    assert!(try_unseal(&server.client, &new));
    assert_eq!(server.client.get("kv/a", Some(&root)).1["data"]["v"], "1");
}

#[test]
fn rotations_keep_every_record_readable_across_kill_9() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    c.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    let mut written = Vec::new();
    for term in 1..=4u64 {
        for i in 0..5 {
            let path = format!("kv/t{term}-{i}");
            assert_eq!(c.put(&path, Some(&root), json!({"term": term})).0, 204);
            written.push((path, term));
        }
        assert_eq!(c.get("sys/key-status", Some(&root)).1["data"]["term"], term);
        assert_eq!(c.put("sys/rotate", Some(&root), json!({})).0, 204);
    }
    server.kill9();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let status = server.client.get("sys/key-status", Some(&root)).1;
    assert_eq!(status["data"]["term"], 5, "{status}");
    for (path, term) in &written {
        assert_eq!(server.client.get(path, Some(&root)).1["data"]["term"], *term, "{path}");
    }
}

#[test]
fn a_same_keys_restore_keeps_the_keys_in_use() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let (old, root) = server.client.init(1, 1);
    server.client.unseal_with(&old);
    let c = &server.client;
    c.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(c.put("kv/before", Some(&root), json!({"v": "snap"})).0, 204);
    let (status, snapshot) = crate::snapshots::save(c, Some(&root));
    assert_eq!(status, 200);

    // Rotate and rekey after the snapshot was taken, then restore it.
    assert_eq!(c.put("sys/rotate", Some(&root), json!({})).0, 204);
    let new = rekey(c, &root, &old, 3, 2);
    let (status, body) = crate::snapshots::restore(c, &root, &snapshot, false);
    assert_eq!(status, 204, "{body}");
    assert!(!sealed(c), "a snapshot of this initialization restores unsealed");
    assert_eq!(c.get("kv/before", Some(&root)).1["data"]["v"], "snap");
    // Written under the newest term, which the snapshot's keyring did not have.
    assert_eq!(c.put("kv/after", Some(&root), json!({"v": "new term"})).0, 204);
    assert_eq!(c.get("sys/key-status", Some(&root)).1["data"]["term"], 2);

    server.kill9();
    let server = TestServer::start(dir.path());
    assert_eq!(server.client.get("sys/seal-status", None).1["n"], 3);
    assert!(
        !try_unseal(&server.client, &old),
        "the shares replaced by the rekey stay replaced"
    );
    assert!(try_unseal(&server.client, &new[1..3]));
    assert_eq!(server.client.get("kv/before", Some(&root)).1["data"]["v"], "snap");
    assert_eq!(server.client.get("kv/after", Some(&root)).1["data"]["v"], "new term");
}

#[test]
fn the_legacy_unauthenticated_endpoints_work_where_the_listener_enables_them() {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        "",
        "  tls_disable = true\n  disable_unauthed_rekey_endpoints = false\n  disable_unauthed_generate_root_endpoints = false",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let c = &server.client;
    let (old, _root) = c.init(3, 2);
    c.unseal_with(&old[..2]);

    // Rekey with no token at all, in OpenBao's flat shapes.
    let (status, body) = c.get("sys/rekey/init", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"nonce": "", "started": false, "t": 0, "n": 0, "progress": 0, "required": 2,
               "pgp_fingerprints": null, "backup": false, "verification_required": false})
    );
    let (status, body) = c.put(
        "sys/rekey/init",
        None,
        json!({"secret_shares": 1, "secret_threshold": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let nonce = body["nonce"].as_str().unwrap().to_string();
    assert_eq!(body["started"], true);
    let (status, body) = c.put("sys/rekey/update", None, json!({"nonce": nonce}));
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errors": ["'key' must be specified in request body as JSON"]})
        )
    );
    c.put("sys/rekey/update", None, json!({"key": old[0], "nonce": nonce}));
    let (status, body) = c.put("sys/rekey/update", None, json!({"key": old[1], "nonce": nonce}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["complete"], true);
    assert!(body.get("request_id").is_none(), "flat, not a logical response: {body}");
    let new = vec![body["keys"][0].as_str().unwrap().to_string()];

    // Generate a root token with the new share, no token either.
    let otp = "abcdefghijklmnopqrstuvwxyz";
    let (status, body) = c.put("sys/generate-root/attempt", None, json!({ "otp": otp }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["otp_length"], 26);
    let (status, body) = c.put(
        "sys/generate-root/update",
        None,
        json!({"key": new[0], "nonce": body["nonce"]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["complete"], true);
    assert_eq!(body["encoded_token"], body["encoded_root_token"]);
    let (status, decoded) = c.put(
        "sys/decode-token",
        Some(_root.as_str()),
        json!({"encoded_token": body["encoded_token"], "otp": otp}),
    );
    assert_eq!(status, 200, "{decoded}");
    let token = decoded["data"]["token"].as_str().unwrap();
    let (status, me) = c.get("auth/token/lookup-self", Some(token));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["policies"], json!(["root"]));

    c.put("sys/seal", Some(token), json!({}));
    assert!(try_unseal(c, &new));
}

#[test]
fn kill_9_during_rotations_and_writes_loses_nothing_acknowledged() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    server.client.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let acked_term = Arc::new(AtomicU64::new(1));
    let acked_writes = Arc::new(Mutex::new(Vec::new()));
    let base = server.client.base.clone();
    let rotator = {
        let (stop, acked_term, base, root) = (stop.clone(), acked_term.clone(), base.clone(), root.clone());
        std::thread::spawn(move || {
            let c = Client::new(&base);
            while !stop.load(Ordering::Relaxed) {
                match c.try_call("PUT", "sys/rotate", Some(&root), &[], Some(b"{}".to_vec())) {
                    Ok((204, _)) => {
                        acked_term.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
        })
    };
    let writer = {
        let (stop, acked_writes, base, root) = (stop.clone(), acked_writes.clone(), base.clone(), root.clone());
        std::thread::spawn(move || {
            let c = Client::new(&base);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("kv/w{i}");
                match c.try_call(
                    "PUT",
                    &path,
                    Some(&root),
                    &[],
                    Some(json!({"i": i}).to_string().into_bytes()),
                ) {
                    Ok((204, _)) => acked_writes.lock().unwrap().push((path, i)),
                    _ => break,
                }
                i += 1;
            }
        })
    };
    // Kill only once both kinds of work were acknowledged at least a few times.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (acked_term.load(Ordering::Relaxed) < 4 || acked_writes.lock().unwrap().len() < 20)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(rand_delay_ms()));
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    rotator.join().unwrap();
    writer.join().unwrap();

    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let term = server.client.get("sys/key-status", Some(&root)).1["data"]["term"]
        .as_u64()
        .unwrap();
    let acked = acked_term.load(Ordering::Relaxed);
    assert!(term >= acked, "term {term} < acknowledged {acked}");
    assert!(
        term <= acked + 1,
        "term {term}: at most the one rotation in flight may have landed"
    );
    let writes = acked_writes.lock().unwrap();
    assert!(writes.len() >= 20);
    for (path, i) in writes.iter() {
        assert_eq!(server.client.get(path, Some(&root)).1["data"]["i"], *i, "{path}");
    }
}

/// 0-49 ms, from the clock: where in the work the kill lands varies between runs.
fn rand_delay_ms() -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 50,
    )
}

/// The legacy unauthenticated key endpoints are audited as OpenBao's `handleAuditNonLogical` does: a request entry
/// before the step runs and a response entry after it, shares and new keys HMAC'd (fail-closed through the same
/// `audit_request` as every request, tested in `audit_devices`).
#[test]
fn the_legacy_key_endpoints_are_audited() {
    let dir = temp_dir();
    let log = dir.path().join("audit").join("audit.log");
    let audit = format!(
        "audit \"file\" \"file\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
        log.display()
    );
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        &audit,
        "  tls_disable = true\n  disable_unauthed_rekey_endpoints = false\n  disable_unauthed_generate_root_endpoints = false",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let c = &server.client;
    let (old, _root) = c.init(1, 1);
    c.unseal_with(&old);

    let (status, body) = c.put(
        "sys/rekey/init",
        None,
        json!({"secret_shares": 1, "secret_threshold": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let nonce = body["nonce"].as_str().unwrap().to_string();
    let (status, body) = c.put("sys/rekey/update", None, json!({"nonce": nonce, "key": old[0]}));
    assert_eq!(status, 200, "{body}");
    let new_key = body["keys"][0].as_str().unwrap().to_string();
    let (status, _) = c.put("sys/generate-root/attempt", None, json!({}));
    assert_eq!(status, 200);
    assert_eq!(c.call("DELETE", "sys/generate-root/attempt", None, None).0, 204);

    // A Shamir seal has no recovery shares: OpenBao's 400, audited like the rest.
    for step in ["init", "verify"] {
        let (status, body) = c.get(&format!("sys/rekey-recovery-key/{step}"), None);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body, json!({"errors": ["recovery rekeying not supported"]}));
    }

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(&old[0]) && !text.contains(&new_key),
        "a key share in clear in the audit log"
    );
    let entries: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let of = |kind: &str, path: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["type"] == kind && e["request"]["path"] == path)
            .collect()
    };
    let update_request = of("request", "sys/rekey/update");
    let update_response = of("response", "sys/rekey/update");
    assert_eq!((update_request.len(), update_response.len()), (1, 1), "{text}");
    assert!(update_request[0]["request"]["data"]["key"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    assert_eq!(update_request[0]["request"]["operation"], "update");
    assert!(update_response[0]["response"]["data"]["keys"][0]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    assert_eq!(update_response[0]["request"]["id"], update_request[0]["request"]["id"]);
    assert_eq!(of("request", "sys/rekey/init").len(), 1);
    let refused = of("response", "sys/rekey-recovery-key/init");
    assert_eq!(refused.len(), 1, "{text}");
    assert_eq!(refused[0]["error"], "recovery rekeying not supported", "{text}");
    assert_eq!(of("response", "sys/generate-root/attempt").len(), 2);
    assert_eq!(
        of("request", "sys/generate-root/attempt")
            .iter()
            .map(|e| e["request"]["operation"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["update", "delete"]
    );
}
