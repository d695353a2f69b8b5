//! Backups by copying the data directory of a stopped server (`cp -a`): a server started on the copy unseals with
//! the same keys and has everything (K/V v1 and v2 data, tokens, policies, wrapping tokens), and the copy and the
//! original are independent afterwards.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

const POLICY: &str = "path \"kv1/*\" {\n  capabilities = [\"read\"]\n}\n";

struct Written {
    keys: Vec<String>,
    root: String,
    token: String,
    wrapped: String,
}

fn write_everything(c: &Client) -> Written {
    let (keys, root) = c.init(3, 2);
    c.unseal_with(&keys[..2]);
    let t = Some(root.as_str());
    assert_eq!(c.put("sys/mounts/kv2", t, json!({"type": "kv-v2"})).0, 204);
    assert_eq!(c.put("sys/mounts/kv1", t, json!({"type": "kv"})).0, 204);
    assert_eq!(c.put("kv1/app/db", t, json!({"password": "v1-secret"})).0, 204);
    for v in ["first", "second"] {
        let (status, body) = c.put("kv2/data/app/api", t, json!({"data": {"key": v}}));
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = c.put("sys/policies/acl/reader", t, json!({ "policy": POLICY }));
    assert_eq!(status, 204, "{body}");
    let (status, body) = c.put("auth/token/create", t, json!({"policies": ["reader"], "ttl": "1h"}));
    assert_eq!(status, 200, "{body}");
    let token = body["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, body) = c
        .try_call(
            "PUT",
            "sys/wrapping/wrap",
            t,
            &[("X-Vault-Wrap-TTL", "1h")],
            Some(json!({"wrapped": "payload"}).to_string().into_bytes()),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let wrapped = body["wrap_info"]["token"].as_str().unwrap().to_string();
    Written {
        keys,
        root,
        token,
        wrapped,
    }
}

/// Everything `write_everything` wrote is there (the wrapping token is looked up, not used).
fn check_everything(c: &Client, w: &Written) {
    let t = Some(w.root.as_str());
    assert_eq!(c.get("kv1/app/db", t).1["data"], json!({"password": "v1-secret"}));
    let (status, meta) = c.get("kv2/metadata/app/api", t);
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["data"]["current_version"], 2);
    assert_eq!(
        c.get("kv2/data/app/api?version=1", t).1["data"]["data"],
        json!({"key": "first"})
    );
    assert_eq!(c.get("kv2/data/app/api", t).1["data"]["data"], json!({"key": "second"}));
    let (status, body) = c.get("sys/policies/acl/reader", t);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["policy"], POLICY);
    let (status, body) = c.put("auth/token/lookup", t, json!({ "token": w.token }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["policies"], json!(["default", "reader"]));
    // The token works and its policy still applies.
    assert_eq!(c.get("kv1/app/db", Some(&w.token)).0, 200);
    assert_eq!(c.put("kv1/app/db", Some(&w.token), json!({"x": "y"})).0, 403);
    let (status, body) = c.put("sys/wrapping/lookup", None, json!({ "token": w.wrapped }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["creation_path"], "sys/wrapping/wrap");
}

fn copy_dir(from: &Path, to: &Path) {
    let out = Command::new("cp").arg("-a").arg(from).arg(to).output().unwrap();
    assert!(out.status.success(), "cp -a: {}", String::from_utf8_lossy(&out.stderr));
}

fn unwrap_payload(c: &Client, token: &str) -> (u16, Value) {
    c.put("sys/wrapping/unwrap", Some(token), json!({}))
}

fn copy_and_check(stop: impl FnOnce(TestServer)) {
    let original = temp_dir();
    let server = TestServer::start(original.path());
    let written = write_everything(&server.client);
    stop(server);

    let copy = temp_dir();
    copy_dir(&original.path().join("data"), &copy.path().join("data"));
    let restored = TestServer::start(copy.path());
    let c = &restored.client;
    assert_eq!(c.get("sys/seal-status", None).1["sealed"], true, "a copy starts sealed");
    // Any two of the original shares unseal it.
    c.unseal_with(&written.keys[1..]);
    check_everything(c, &written);

    // The original runs at the same time (the lock is the running process's, not the files'), and the two diverge.
    let server = TestServer::start(original.path());
    server.client.unseal_with(&written.keys[..2]);
    check_everything(&server.client, &written);
    let (status, body) = unwrap_payload(c, &written.wrapped);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"wrapped": "payload"}));
    assert_eq!(unwrap_payload(c, &written.wrapped).0, 400, "used on the copy");
    let (status, body) = unwrap_payload(&server.client, &written.wrapped);
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({"wrapped": "payload"})),
        "still valid on the original"
    );
}

#[test]
fn copy_of_a_stopped_data_directory_has_everything() {
    copy_and_check(|server| assert!(server.terminate().success()));
}

#[test]
fn copy_of_a_killed_servers_data_directory_has_everything() {
    // kill -9 right after the last acknowledged write: the copy is crash-consistent and complete.
    copy_and_check(TestServer::kill9);
}
