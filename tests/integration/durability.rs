//! Durability and operations: kill -9 after an acknowledged write, graceful shutdown, the data directory lock,
//! and nothing stored in clear text.

use std::process::Command;

use serde_json::json;

use crate::common::{temp_dir, vault_bin, write_config, TestServer};

#[test]
fn acknowledged_init_survives_kill_9() {
    for _ in 0..3 {
        let dir = temp_dir();
        let server = TestServer::start(dir.path());
        let (keys, root) = server.client.init(3, 2);
        // No grace period: the acknowledgement must mean "on disk".
        server.kill9();
        let server = TestServer::start(dir.path());
        let c = &server.client;
        assert_eq!(c.get("sys/init", None).1, json!({"initialized": true}));
        assert_eq!(c.unseal_with(&keys[1..])["sealed"], false);
        assert_eq!(c.put("sys/seal", Some(&root), json!({})).0, 204, "root token survived");
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    server.client.init(1, 1);
    let stderr_path = server.stderr_path.clone();
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let log = std::fs::read_to_string(stderr_path).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    // The directory is released and reusable.
    let server = TestServer::start(dir.path());
    assert_eq!(server.client.get("sys/init", None).1, json!({"initialized": true}));
}

#[test]
fn second_server_on_same_directory_is_refused() {
    let dir = temp_dir();
    let _server = TestServer::start(dir.path());
    let other = tempfile::tempdir().unwrap();
    let config = write_config(other.path(), &dir.path().join("data"), "", "  tls_disable = true");
    let out = Command::new(vault_bin())
        .args(["server", &format!("-config={}", config.display())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn data_directory_holds_no_plaintext() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    let (keys, root) = c.init(1, 1);
    let status = c.unseal_with(&keys);
    let cluster_name = status["cluster_name"].as_str().unwrap().to_string();
    let cluster_id = status["cluster_id"].as_str().unwrap().to_string();
    assert!(server.terminate().success());

    let key_bytes = hex::decode(&keys[0]).unwrap();
    let mut files = 0;
    for entry in crate::common::files_below(&dir.path().join("data")) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for needle in [
            root.as_bytes(),
            cluster_name.as_bytes(),
            cluster_id.as_bytes(),
            &key_bytes[..],
            keys[0].as_bytes(),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "plaintext found in {}",
                entry.display()
            );
        }
    }
    assert!(files > 0);
}
