//! System endpoints of issue #19 that the differential scenarios cannot compare value for value.

use serde_json::json;

use crate::common::{temp_dir, TestServer};

#[test]
fn version_history_records_the_version_once_across_restarts() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let version = server.client.get("sys/seal-status", None).1["version"].clone();
    let (status, body) = server.client.call("LIST", "sys/version-history", Some(&root), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keys"], json!([version]));
    let info = &body["data"]["key_info"][version.as_str().unwrap()];
    assert_eq!(info["previous_version"], serde_json::Value::Null);
    let installed = info["timestamp_installed"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(installed).is_ok(), "{installed}");
    assert_eq!(server.client.get("sys/version-history", Some(&root)).0, 405);
    assert_eq!(server.client.call("LIST", "sys/version-history", None, None).0, 403);

    server.kill9();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let (_, again) = server.client.call("LIST", "sys/version-history", Some(&root), None);
    assert_eq!(again["data"], body["data"], "the same version is recorded once");
}
