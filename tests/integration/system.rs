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

#[test]
fn log_levels_change_at_runtime() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, body) = c.get("sys/loggers", Some(&root));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["core"], "info");
    assert_eq!(body["data"]["storage"], "info");
    assert_eq!(
        c.put("sys/loggers", Some(&root), json!({})),
        (400, json!({"errors": ["level is required"]}))
    );
    assert_eq!(
        c.put("sys/loggers/core", Some(&root), json!({"level": "bogus"})),
        (
            400,
            json!({"errors": ["invalid level provided: unknown log level: bogus"]})
        )
    );
    assert_eq!(
        c.put("sys/loggers/nosuch", Some(&root), json!({"level": "info"})).0,
        400
    );
    assert_eq!(c.get("sys/loggers/nosuch", Some(&root)).1["data"], json!({}));
    assert_eq!(c.call("GET", "sys/loggers", None, None).0, 403);

    // core at error: the rotation's info line is not written; after a reset it is.
    assert_eq!(c.put("sys/loggers/core", Some(&root), json!({"level": "error"})).0, 204);
    assert_eq!(
        c.get("sys/loggers/core", Some(&root)).1["data"],
        json!({"core": "error"})
    );
    assert_eq!(c.get("sys/loggers", Some(&root)).1["data"]["core.expiration"], "error");
    assert_eq!(c.get("sys/loggers", Some(&root)).1["data"]["storage"], "info");
    assert_eq!(c.put("sys/rotate", Some(&root), json!({})).0, 204);
    assert_eq!(c.call("DELETE", "sys/loggers/core", Some(&root), None).0, 204);
    assert_eq!(c.put("sys/rotate", Some(&root), json!({})).0, 204);
    let log = server.stderr();
    assert!(!log.contains("installed new keyring term 2"), "{log}");
    assert!(log.contains("installed new keyring term 3"), "{log}");

    // All loggers at once, and back.
    assert_eq!(c.put("sys/loggers", Some(&root), json!({"level": "warn"})).0, 204);
    assert_eq!(c.get("sys/loggers", Some(&root)).1["data"]["http"], "warn");
    assert_eq!(c.call("DELETE", "sys/loggers", Some(&root), None).0, 204);
    assert_eq!(c.get("sys/loggers", Some(&root)).1["data"]["http"], "info");
}
