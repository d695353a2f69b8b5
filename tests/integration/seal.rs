//! Init, unseal, seal and restart, checked against the shapes OpenBao 2.7.2 returns.

use serde_json::json;

use crate::common::{temp_dir, TestServer};

#[test]
fn init_unseal_seal_restart_unseal() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;

    assert_eq!(c.get("sys/init", None), (200, json!({"initialized": false})));
    let (status, health) = c.get("sys/health", None);
    assert_eq!(status, 501);
    assert_eq!(health["initialized"], false);
    assert_eq!(
        c.put("sys/unseal", None, json!({"key": "abcd"})),
        (400, json!({"errors": ["Vault is not initialized"]}))
    );
    assert_eq!(c.get("secret/foo", None), (503, json!({"errors": ["Vault is sealed"]})));

    let (keys, root) = c.init(3, 2);
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.len() == 66), "33-byte shares like Vault's");
    assert!(root.starts_with("s."));
    assert_eq!(
        c.put("sys/init", None, json!({"secret_shares": 3, "secret_threshold": 2}))
            .0,
        400
    );

    let (status, s) = c.get("sys/seal-status", None);
    assert_eq!(status, 200);
    assert_eq!(
        (
            s["initialized"].clone(),
            s["sealed"].clone(),
            s["t"].clone(),
            s["n"].clone()
        ),
        (json!(true), json!(true), json!(2), json!(3))
    );
    assert_eq!(s["type"], "shamir");
    assert_eq!(s["storage_type"], "sled");
    assert_eq!(c.get("sys/health", None).0, 503);
    assert_eq!(c.get("sys/leader", None), (200, json!({"ha_enabled": false})));

    // One share: progress 1 with a nonce; the same share again does not advance.
    let first = c.unseal_with(&keys[..1]);
    assert_eq!(first["progress"], 1);
    assert_eq!(first["sealed"], true);
    let nonce = first["nonce"].as_str().unwrap().to_string();
    assert!(!nonce.is_empty());
    let again = c.unseal_with(&keys[..1]);
    assert_eq!(again["progress"], 1);
    assert_eq!(again["nonce"], nonce.as_str());

    // Reset clears progress.
    let (status, reset) = c.put("sys/unseal", None, json!({"reset": true}));
    assert_eq!(
        (status, reset["progress"].clone(), reset["nonce"].clone()),
        (200, json!(0), json!(""))
    );

    let done = c.unseal_with(&keys[1..3]);
    assert_eq!(done["sealed"], false);
    assert_eq!(done["progress"], 0);
    assert!(done["cluster_name"].as_str().unwrap().starts_with("vault-cluster-"));
    let (status, health) = c.get("sys/health", None);
    assert_eq!(
        (status, health["sealed"].clone(), health["standby"].clone()),
        (200, json!(false), json!(false))
    );
    assert_eq!(c.get("sys/leader", None), (200, json!({"ha_enabled": false})));

    // Seal needs a token; the root token from init may seal.
    assert_eq!(
        c.put("sys/seal", None, json!({})),
        (403, json!({"errors": ["permission denied"]}))
    );
    assert_eq!(c.put("sys/seal", Some(&root), json!({})).0, 204);
    assert_eq!(c.get("sys/seal-status", None).1["sealed"], true);
    assert_eq!(
        c.put("sys/seal", Some(&root), json!({})).0,
        204,
        "sealing a sealed server is a no-op, as in OpenBao"
    );

    // Restart: still initialized, sealed, and the same shares (base64 form this time) unseal it.
    assert!(server.terminate().success());
    let server = TestServer::start(dir.path());
    let c = &server.client;
    assert_eq!(c.get("sys/init", None), (200, json!({"initialized": true})));
    let s = c.get("sys/seal-status", None).1;
    assert_eq!((s["sealed"].clone(), s["t"].clone()), (json!(true), json!(2)));
    let b64: Vec<String> = keys[..2]
        .iter()
        .map(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(hex::decode(k).unwrap())
        })
        .collect();
    assert_eq!(c.unseal_with(&b64)["sealed"], false);
    assert_eq!(c.put("sys/seal", Some(&root), json!({})).0, 204);
}

#[test]
fn wrong_share_fails_and_resets_progress() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    let (keys, _) = c.init(3, 2);
    c.unseal_with(&keys[..1]);
    let mut wrong = hex::decode(&keys[1]).unwrap();
    wrong[5] ^= 0xff;
    let (status, body) = c.put("sys/unseal", None, json!({"key": hex::encode(wrong)}));
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"errors": ["unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed"]})
    );
    let s = c.get("sys/seal-status", None).1;
    assert_eq!((s["sealed"].clone(), s["progress"].clone()), (json!(true), json!(0)));
    // Shares from another initialization fail the same way.
    let other_dir = temp_dir();
    let other = TestServer::start(other_dir.path());
    let (other_keys, _) = other.client.init(3, 2);
    for k in &other_keys[..2] {
        let _ = c.put("sys/unseal", None, json!({ "key": k }));
    }
    assert_eq!(c.get("sys/seal-status", None).1["sealed"], true);
    // The right shares still work.
    assert_eq!(c.unseal_with(&keys[..2])["sealed"], false);
}

#[test]
fn init_and_unseal_input_errors() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    let err = |body: serde_json::Value| c.put("sys/init", None, body);
    assert_eq!(
        err(json!({})),
        (
            400,
            json!({"errors": ["invalid seal configuration: shares must be at least one"]})
        )
    );
    assert_eq!(
        err(json!({"secret_shares": 3, "secret_threshold": 5})),
        (
            400,
            json!({"errors": ["invalid seal configuration: threshold cannot be larger than shares"]})
        )
    );
    assert_eq!(err(json!({"secret_shares": "three"})).0, 400);
    assert_eq!(c.call("PUT", "sys/init", None, Some(b"{not json".to_vec())).0, 400);
    assert_eq!(c.get("sys/init", None).1, json!({"initialized": false}));

    let (keys, _) = c.init(1, 1);
    assert_eq!(keys[0].len(), 64, "a single share is the 32-byte key");
    let must = json!({"errors": ["'key' must be specified in request body as JSON, or 'reset' set to true"]});
    assert_eq!(c.put("sys/unseal", None, json!({})), (400, must.clone()));
    assert_eq!(c.put("sys/unseal", None, json!({"key": ""})), (400, must));
    assert_eq!(
        c.put("sys/unseal", None, json!({"key": "zz"})),
        (400, json!({"errors": ["'key' must be a valid hex or base64 string"]}))
    );
    assert_eq!(
        c.put("sys/unseal", None, json!({"key": "abcd"})),
        (
            400,
            json!({"errors": ["invalid key: key is shorter than minimum 16 bytes"]})
        )
    );
    assert_eq!(c.get("sys/unseal", None).0, 405);
    assert_eq!(c.unseal_with(&keys)["sealed"], false);
}

#[test]
fn health_query_codes() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    assert_eq!(c.get("sys/health?uninitcode=299", None).0, 299);
    let (keys, _) = c.init(1, 1);
    assert_eq!(c.get("sys/health?sealedcode=298", None).0, 298);
    assert_eq!(c.get("sys/health?sealedcode=abc", None).0, 400);
    c.unseal_with(&keys);
    assert_eq!(c.get("sys/health?activecode=297", None).0, 297);
    assert_eq!(c.call("HEAD", "sys/health", None, None), (200, serde_json::Value::Null));
}
