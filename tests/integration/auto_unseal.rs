//! Auto-unseal: `seal "static"` and `seal "transit"` (against another server of ours, and against OpenBao), recovery
//! keys, and seal migration Shamir <-> auto, each across restarts of the real binary.

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};

const STATIC_KEY: &str = "542a91c2aff86797e8dfa16adf86dcbea5706410791b319798936a1b08e4ef8b";
const OTHER_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn static_seal(id: &str, key: &str, extra: &str) -> String {
    format!("seal \"static\" {{\n  current_key_id = \"{id}\"\n  current_key = \"{key}\"\n{extra}\n}}\n")
}

fn start(dir: &std::path::Path, seal: &str) -> TestServer {
    let config = write_config(dir, &dir.join("data"), seal, "  tls_disable = true");
    TestServer::start_with_config(dir, &config, "http", None)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// Wait until the server reports unsealed (the auto-unseal runs in the background at start).
fn wait_unsealed(c: &Client) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = c.get("sys/seal-status", None).1;
        if status["sealed"] == false {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "never unsealed: {status}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Send `shares` one by one to an `update` endpoint (generate-root, rekey) with `nonce`; the last answer, or the
/// first that is not a 200.
fn submit_shares(c: &Client, token: &str, path: &str, nonce: &Value, shares: &[String]) -> (u16, Value) {
    let mut last = (200, Value::Null);
    for key in shares {
        last = c.put(path, Some(token), json!({"key": key, "nonce": nonce}));
        if last.0 != 200 {
            break;
        }
    }
    last
}

/// Generate a root token with these shares; returns it.
fn generate_root(c: &Client, token: &str, shares: &[String]) -> String {
    let otp = "abcdefghijklmnopqrstuvwxyz";
    let (status, body) = c.put("sys/generate-root-token/attempt", Some(token), json!({ "otp": otp }));
    assert_eq!(status, 200, "{body}");
    let (status, last) = submit_shares(
        c,
        token,
        "sys/generate-root-token/update",
        &body["data"]["nonce"],
        shares,
    );
    assert_eq!(status, 200, "{last}");
    assert_eq!(last["data"]["complete"], true, "{last}");
    let (_, decoded) = c.put(
        "sys/decode-token",
        Some(token),
        json!({"encoded_token": last["data"]["encoded_token"], "otp": otp}),
    );
    decoded["data"]["token"].as_str().unwrap().to_string()
}

#[test]
fn a_static_seal_unseals_at_start_and_recovery_keys_stand_in_for_unseal_keys() {
    let dir = temp_dir();
    let seal = static_seal("k1", STATIC_KEY, "");
    let server = start(dir.path(), &seal);
    let c = &server.client;
    let status = c.get("sys/seal-status", None).1;
    assert_eq!(status["type"], "static");
    assert_eq!(status["recovery_seal"], true);
    assert_eq!(status["recovery_seal_type"], "shamir");
    assert_eq!(
        c.put("sys/init", None, json!({"secret_shares": 3, "secret_threshold": 2})),
        (
            400,
            json!({"errors": ["parameters secret_shares,secret_threshold not applicable to seal type static"]})
        )
    );
    let (status, init) = c.put("sys/init", None, json!({"recovery_shares": 3, "recovery_threshold": 2}));
    assert_eq!(status, 200, "{init}");
    assert_eq!(init["keys"], json!([]));
    let recovery = strings(&init["recovery_keys"]);
    assert_eq!(recovery.len(), 3);
    let root = init["root_token"].as_str().unwrap().to_string();
    let status = wait_unsealed(c);
    assert_eq!((status["t"].clone(), status["n"].clone()), (json!(2), json!(3)));
    c.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(c.put("kv/a", Some(&root), json!({"v": "1"})).0, 204);

    // A restart unseals by itself, even after kill -9 (and after a root key rotation).
    assert_eq!(c.put("sys/rotate/root", Some(&root), json!({})).0, 204);
    server.kill9();
    let server = start(dir.path(), &seal);
    let c = &server.client;
    wait_unsealed(c);
    assert_eq!(c.get("kv/a", Some(&root)).1["data"]["v"], "1");

    // Recovery keys: generate a root token, and unseal after a manual seal.
    let new_root = generate_root(c, &root, &recovery[1..3]);
    assert_eq!(
        c.get("auth/token/lookup-self", Some(&new_root)).1["data"]["policies"],
        json!(["root"])
    );
    assert_eq!(c.put("sys/seal", Some(&root), json!({})).0, 204);
    assert_eq!(c.get("sys/seal-status", None).1["sealed"], true);
    let (status, body) = c.put("sys/unseal", None, json!({"key": recovery[0]}));
    assert_eq!((status, body["progress"].clone()), (200, json!(1)));
    let (status, body) = c.put("sys/unseal", None, json!({"key": recovery[2]}));
    assert_eq!((status, body["sealed"].clone()), (200, json!(false)), "{body}");

    // A recovery rekey replaces the recovery shares.
    let (_, started) = c.put(
        "sys/rotate/recovery/init",
        Some(&root),
        json!({"secret_shares": 2, "secret_threshold": 2}),
    );
    let (status, done) = submit_shares(
        c,
        &root,
        "sys/rotate/recovery/update",
        &started["data"]["nonce"],
        &recovery[..2],
    );
    assert_eq!(status, 200, "{done}");
    let new_recovery = strings(&done["data"]["keys"]);
    assert_eq!(c.get("sys/seal-status", None).1["n"], 2);
    server.kill9();
    let server = start(dir.path(), &seal);
    let c = &server.client;
    wait_unsealed(c);
    let (status, started) = c.put("sys/generate-root-token/attempt", Some(&root), json!({}));
    assert_eq!(status, 200, "{started}");
    let (status, _) = submit_shares(
        c,
        &root,
        "sys/generate-root-token/update",
        &started["data"]["nonce"],
        &recovery[..2],
    );
    assert_eq!(status, 400, "the old recovery shares no longer work");
    c.call("DELETE", "sys/generate-root-token/attempt", Some(&root), None);
    generate_root(c, &root, &new_recovery);
}

#[test]
fn the_static_key_can_be_rotated_with_previous_key() {
    let dir = temp_dir();
    let server = start(dir.path(), &static_seal("k1", STATIC_KEY, ""));
    let (_, init) = server.client.put("sys/init", None, json!({}));
    let root = init["root_token"].as_str().unwrap().to_string();
    wait_unsealed(&server.client);
    server.kill9();

    // A wrong key keeps the server sealed, with the cause in the log.
    let server = start(dir.path(), &static_seal("k1", OTHER_KEY, ""));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(server.client.get("sys/seal-status", None).1["sealed"], true);
    assert!(server.stderr().contains("auto-unseal failed"), "{}", server.stderr());
    assert!(!server.stderr().contains(STATIC_KEY) && !server.stderr().contains(OTHER_KEY));
    server.kill9();

    // The new key as current, the old one as previous: unseals, and re-seals under the new key.
    let rotated = static_seal(
        "k2",
        OTHER_KEY,
        &format!("  previous_key_id = \"k1\"\n  previous_key = \"{STATIC_KEY}\""),
    );
    let server = start(dir.path(), &rotated);
    wait_unsealed(&server.client);
    server.kill9();
    let server = start(dir.path(), &static_seal("k2", OTHER_KEY, ""));
    wait_unsealed(&server.client);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&root)).0, 200);
}

#[test]
fn seal_migration_from_shamir_to_static_and_back() {
    let dir = temp_dir();
    let server = start(dir.path(), "");
    let (keys, root) = server.client.init(3, 2);
    server.client.unseal_with(&keys[..2]);
    server.client.put(
        "sys/mounts/kv",
        Some(&root),
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(server.client.put("kv/a", Some(&root), json!({"v": "1"})).0, 204);
    server.terminate();

    // Shamir -> static: sealed with a migration pending; unseal -migrate with the unseal keys.
    let seal = static_seal("k1", STATIC_KEY, "");
    let server = start(dir.path(), &seal);
    let c = &server.client;
    let status = c.get("sys/seal-status", None).1;
    assert_eq!(
        (status["sealed"].clone(), status["migration"].clone()),
        (json!(true), json!(true)),
        "{status}"
    );
    assert_eq!(
        c.put("sys/unseal", None, json!({"key": keys[0]})).0,
        400,
        "the migrate flag is required"
    );
    // The real clients: bao's `operator unseal -migrate` for one share, ours for the other.
    let (code, out, err) = crate::tools::run_bao(&c.base, None, &["operator", "unseal", "-migrate", &keys[0]]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Seal Migration in Progress"), "{out}");
    let addr = format!("-address={}", c.base);
    let (code, out, err) =
        crate::common::run_vault(&["operator", "unseal", &addr, "-migrate", "-format=json", &keys[2]]);
    assert_eq!(code, 0, "{out}{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(body["sealed"], false, "{body}");
    let status = c.get("sys/seal-status", None).1;
    assert_eq!(
        (status["type"].clone(), status["migration"].clone()),
        (json!("static"), json!(false))
    );
    assert_eq!(c.get("kv/a", Some(&root)).1["data"]["v"], "1");
    server.kill9();
    let server = start(dir.path(), &seal);
    wait_unsealed(&server.client);
    // The old unseal shares are now the recovery shares.
    generate_root(&server.client, &root, &keys[1..3]);
    server.kill9();

    // Static -> Shamir: the stanza marked disabled; unseal -migrate with the recovery keys.
    let disabled = static_seal("k1", STATIC_KEY, "  disabled = \"true\"");
    let server = start(dir.path(), &disabled);
    let c = &server.client;
    let status = c.get("sys/seal-status", None).1;
    assert_eq!(
        (status["sealed"].clone(), status["migration"].clone()),
        (json!(true), json!(true)),
        "{status}"
    );
    c.put("sys/unseal", None, json!({"key": keys[1], "migrate": true}));
    let (status, body) = c.put("sys/unseal", None, json!({"key": keys[2], "migrate": true}));
    assert_eq!((status, body["sealed"].clone()), (200, json!(false)), "{body}");
    server.kill9();
    let server = start(dir.path(), "");
    let c = &server.client;
    assert_eq!(c.get("sys/seal-status", None).1["type"], "shamir");
    c.unseal_with(&keys[..2]);
    assert_eq!(c.get("kv/a", Some(&root)).1["data"]["v"], "1");
}

/// A transit seal against `transit_addr` with `token`.
fn transit_seal(transit_addr: &str, token: &str) -> String {
    format!(
        "seal \"transit\" {{\n  address = \"{transit_addr}\"\n  token = \"{token}\"\n  key_name = \"autounseal\"\n  mount_path = \"transit/\"\n}}\n"
    )
}

fn prepare_transit(c: &Client, token: &str) {
    assert!(c.put("sys/mounts/transit", Some(token), json!({"type": "transit"})).0 < 300);
    assert!(c.put("transit/keys/autounseal", Some(token), json!({})).0 < 300);
}

#[test]
fn a_transit_seal_on_another_server_of_ours_unseals_and_waits_for_it() {
    let transit_dir = temp_dir();
    let (transit, transit_root, transit_keys) = TestServer::start_unsealed(transit_dir.path());
    prepare_transit(&transit.client, &transit_root);

    let dir = temp_dir();
    let seal = transit_seal(&transit.client.base, &transit_root);
    let server = start(dir.path(), &seal);
    let (status, init) = server
        .client
        .put("sys/init", None, json!({"recovery_shares": 1, "recovery_threshold": 1}));
    assert_eq!(status, 200, "{init}");
    let root = init["root_token"].as_str().unwrap().to_string();
    assert_eq!(wait_unsealed(&server.client)["type"], "transit");
    server.kill9();

    // The transit server is down at start: sealed, retrying, then unsealed once it is back.
    transit.kill9();
    let server = start(dir.path(), &seal);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(server.client.get("sys/seal-status", None).1["sealed"], true);
    assert_eq!(server.client.get("sys/health", None).0, 503);
    assert!(server.stderr().contains("auto-unseal failed"));
    assert!(!server.stderr().contains(&transit_root), "no token in the log");
    let transit = TestServer::start(transit_dir.path());
    transit.client.unseal_with(&transit_keys);
    // It is back on another port: the seal stanza names the old address, so restart ours against the new one.
    server.kill9();
    let seal = transit_seal(&transit.client.base, &transit_root);
    let server = start(dir.path(), &seal);
    wait_unsealed(&server.client);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&root)).0, 200);

    // A rotated transit key still opens the stored root key.
    assert_eq!(
        transit
            .client
            .put("transit/keys/autounseal/rotate", Some(&transit_root), json!({}))
            .0,
        200
    );
    server.kill9();
    let server = start(dir.path(), &seal);
    wait_unsealed(&server.client);
}

#[test]
fn a_transit_seal_against_openbao() {
    let reference = crate::tools::ReferenceServer::start();
    let rc = Client::new(&reference.addr);
    let (keys, token) = rc.init(1, 1);
    rc.unseal_with(&keys);
    prepare_transit(&rc, &token);

    let dir = temp_dir();
    let seal = transit_seal(&reference.addr, &token);
    let server = start(dir.path(), &seal);
    let (status, init) = server.client.put("sys/init", None, json!({}));
    assert_eq!(status, 200, "{init}");
    let root = init["root_token"].as_str().unwrap().to_string();
    wait_unsealed(&server.client);
    server.kill9();
    let server = start(dir.path(), &seal);
    wait_unsealed(&server.client);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&root)).0, 200);
}

#[test]
fn seal_migration_from_shamir_to_transit_and_back() {
    let transit_dir = temp_dir();
    let (transit, transit_root, _) = TestServer::start_unsealed(transit_dir.path());
    prepare_transit(&transit.client, &transit_root);
    let seal = transit_seal(&transit.client.base, &transit_root);

    let dir = temp_dir();
    let server = start(dir.path(), "");
    let (keys, root) = server.client.init(3, 2);
    server.client.unseal_with(&keys[..2]);
    server.terminate();

    // Shamir -> transit with the unseal shares, which become the recovery shares.
    let server = start(dir.path(), &seal);
    let c = &server.client;
    assert_eq!(c.get("sys/seal-status", None).1["migration"], true);
    c.put("sys/unseal", None, json!({"key": keys[0], "migrate": true}));
    let (status, body) = c.put("sys/unseal", None, json!({"key": keys[1], "migrate": true}));
    assert_eq!((status, body["sealed"].clone()), (200, json!(false)), "{body}");
    assert_eq!(c.get("sys/seal-status", None).1["type"], "transit");
    server.kill9();
    let server = start(dir.path(), &seal);
    wait_unsealed(&server.client);
    generate_root(&server.client, &root, &keys[1..3]);
    server.kill9();

    // Transit -> Shamir: the stanza disabled, the recovery shares become the unseal shares again.
    let disabled = seal.replace(
        "mount_path = \"transit/\"",
        "mount_path = \"transit/\"\n  disabled = \"true\"",
    );
    let server = start(dir.path(), &disabled);
    let c = &server.client;
    assert_eq!(c.get("sys/seal-status", None).1["migration"], true);
    c.put("sys/unseal", None, json!({"key": keys[2], "migrate": true}));
    let (status, body) = c.put("sys/unseal", None, json!({"key": keys[0], "migrate": true}));
    assert_eq!((status, body["sealed"].clone()), (200, json!(false)), "{body}");
    server.kill9();
    let server = start(dir.path(), "");
    assert_eq!(server.client.get("sys/seal-status", None).1["type"], "shamir");
    server.client.unseal_with(&keys[1..3]);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&root)).0, 200);
}

/// The legacy `sys/rekey-recovery-key/*` (on a listener that enables the legacy endpoints) replaces the recovery
/// shares of an auto seal, without a token, as OpenBao's: the new shares then stand in for unseal keys and the old
/// ones no longer do.
#[test]
fn the_legacy_recovery_rekey_replaces_the_recovery_shares() {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        &static_seal("k1", STATIC_KEY, ""),
        "  tls_disable = true\n  disable_unauthed_rekey_endpoints = false",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let c = &server.client;
    let (status, init) = c.put("sys/init", None, json!({"recovery_shares": 3, "recovery_threshold": 2}));
    assert_eq!(status, 200, "{init}");
    let recovery = strings(&init["recovery_keys"]);
    let root = init["root_token"].as_str().unwrap().to_string();
    wait_unsealed(c);

    let (status, body) = c.put(
        "sys/rekey-recovery-key/init",
        None,
        json!({"secret_shares": 2, "secret_threshold": 2}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["started"].clone(), body["n"].clone(), body["required"].clone()),
        (json!(true), json!(2), json!(2))
    );
    let nonce = body["nonce"].clone();
    let mut done = Value::Null;
    for key in &recovery[..2] {
        let (status, body) = c.put(
            "sys/rekey-recovery-key/update",
            None,
            json!({"key": key, "nonce": nonce}),
        );
        assert_eq!(status, 200, "{body}");
        done = body;
    }
    assert_eq!(done["complete"], true, "{done}");
    let new_recovery = strings(&done["keys"]);
    assert_eq!(new_recovery.len(), 2);

    let (status, _) = submit_shares(
        c,
        &root,
        "sys/generate-root-token/update",
        &c.put(
            "sys/generate-root-token/attempt",
            Some(&root),
            json!({"otp": "abcdefghijklmnopqrstuvwxyz"}),
        )
        .1["data"]["nonce"],
        &recovery[..2],
    );
    assert_eq!(status, 400, "the old recovery shares no longer work");
    assert_eq!(
        c.call("DELETE", "sys/generate-root-token/attempt", Some(&root), None).0,
        204
    );
    generate_root(c, &root, &new_recovery);
}
