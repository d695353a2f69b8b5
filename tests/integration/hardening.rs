//! Process and data-directory hardening: an owner-only data directory.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::common::{assert_owner_only, mode_of, temp_dir, write_config, TestServer};

#[test]
fn a_new_data_directory_and_everything_in_it_is_owner_only() {
    let dir = temp_dir();
    let data = dir.path().join("store").join("data");
    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    let policy = json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"});
    assert_eq!(server.client.put("sys/policies/acl/named", Some(&root), policy).0, 204);
    assert_eq!(mode_of(&dir.path().join("store")), 0o700, "a parent it creates too");
    assert_owner_only(&data);
    assert!(server.terminate().success());
    // The marker's last durable count is written at shutdown.
    assert_owner_only(&data);
}

#[test]
fn an_existing_data_directory_open_to_others_is_warned_about() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = TestServer::start(dir.path());
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!("data directory {} has mode 755", data.display()))
            && stderr.contains(&format!("chmod 700 {}", data.display())),
        "{stderr}"
    );
    assert_eq!(mode_of(&data), 0o755, "the operator's directory is left as it is");
    // Files the server creates in it are still owner-only.
    for file in ["db", "conf", "vault-store"] {
        assert_eq!(mode_of(&data.join(file)), 0o600, "{file}");
    }
}
