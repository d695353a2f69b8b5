//! The mount table over HTTP: the default table, enabling with every check OpenBao makes, tuning (TTLs, options,
//! the K/V upgrade), disabling (data deleted, other mounts untouched), moving a mount with its data, the UI mount
//! endpoints the `bao kv` commands call, dev mode's `secret/`, and the table across a restart.

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::kv::{enable, expect, send};

fn errors(resp: &Value) -> Vec<String> {
    resp["errors"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn default_mount_table_and_shapes() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    let mounts = expect(c, "GET", "sys/mounts", r, None, 200);
    let data = mounts["data"].as_object().unwrap();
    let mut paths: Vec<&String> = data.keys().collect();
    paths.sort();
    assert_eq!(paths, ["cubbyhole/", "sys/"]);
    // OpenBao repeats the table at the top level.
    assert_eq!(mounts["sys/"], mounts["data"]["sys/"]);
    let sys = &data["sys/"];
    assert_eq!(sys["type"], "system");
    assert_eq!(sys["seal_wrap"], true);
    assert_eq!(sys["options"], Value::Null);
    assert_eq!(sys["config"]["passthrough_request_headers"], json!(["Accept"]));
    assert!(sys["accessor"].as_str().unwrap().starts_with("system_"));
    let cubby = &data["cubbyhole/"];
    assert_eq!(cubby["type"], "cubbyhole");
    assert_eq!(cubby["local"], true);
    assert_eq!(cubby["description"], "per-token private secret storage");
    for key in [
        "accessor",
        "config",
        "description",
        "external_entropy_access",
        "local",
        "options",
        "plugin_version",
        "running_plugin_version",
        "running_sha256",
        "seal_wrap",
        "type",
        "uuid",
    ] {
        assert!(cubby.get(key).is_some(), "{key} missing from {cubby}");
    }
    assert_eq!(
        cubby["config"],
        json!({"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0})
    );

    let ui = expect(c, "GET", "sys/internal/ui/mounts", r, None, 200);
    assert_eq!(ui["data"]["auth"]["token/"]["type"], "token");
    assert_eq!(ui["data"]["auth"]["token/"]["config"]["token_type"], "default-service");
    assert_eq!(ui["data"]["secret"]["sys/"], data["sys/"]);
    let tune = expect(c, "GET", "sys/mounts/auth/token/tune", r, None, 200);
    assert_eq!(tune["data"]["token_type"], "default-service");
    assert_eq!(tune["data"]["default_lease_ttl"], 768 * 3600);
}

#[test]
fn enable_checks_like_openbao() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(
        c,
        r,
        "team/kv",
        json!({"type": "kv-v2", "description": "team secrets", "config": {"default_lease_ttl": "1h", "max_lease_ttl": 7200, "force_no_cache": true, "passthrough_request_headers": "a,b"}, "local": true, "seal_wrap": true}),
    );
    let m = expect(c, "GET", "sys/mounts/team/kv", r, None, 200);
    assert_eq!(m["data"]["type"], "kv");
    assert_eq!(m["data"]["options"], json!({"version": "2"}));
    assert_eq!(m["data"]["description"], "team secrets");
    assert_eq!(m["data"]["deprecation_status"], "supported");
    assert_eq!(
        m["data"]["config"],
        json!({"default_lease_ttl": 3600, "max_lease_ttl": 7200, "force_no_cache": true, "passthrough_request_headers": ["a", "b"]})
    );
    assert_eq!(
        (m["data"]["local"].clone(), m["data"]["seal_wrap"].clone()),
        (json!(true), json!(true))
    );
    assert!(m["data"]["accessor"].as_str().unwrap().starts_with("kv_"));
    // A path inside a mount reads that mount.
    assert_eq!(
        expect(c, "GET", "sys/mounts/team/kv/deeper", r, None, 200)["data"],
        m["data"]
    );
    enable(c, r, "plain", json!({"type": "kv"}));
    assert_eq!(
        expect(c, "GET", "sys/mounts/plain", r, None, 200)["data"]["options"],
        json!({})
    );

    let cases = [
        ("x", json!({}), "backend type must be specified as a string"),
        ("x", json!({"type": "nope"}), "plugin not found in the catalog: nope"),
        ("x", json!({"type": "plugin"}), "plugin_name must be provided for plugin backend"),
        ("sys", json!({"type": "kv"}), "cannot mount \"sys/\""),
        ("sys/x", json!({"type": "kv"}), "cannot mount \"sys/x/\""),
        ("auth/x", json!({"type": "kv"}), "cannot mount \"auth/x/\""),
        ("cubbyhole", json!({"type": "kv"}), "cannot mount \"cubbyhole/\""),
        ("identity", json!({"type": "kv"}), "cannot mount \"identity/\""),
        ("x", json!({"type": "cubbyhole"}), "mount type of \"cubbyhole\" is not mountable"),
        ("x", json!({"type": "system"}), "mount type of \"system\" is not mountable"),
        ("x", json!({"type": "token"}), "mount type of \"token\" is not mountable"),
        ("team/kv", json!({"type": "kv"}), "path is already in use at team/kv/"),
        ("team/kv/sub", json!({"type": "kv"}), "path is already in use at team/kv/"),
        ("team", json!({"type": "kv"}), "path is already in use at team/kv/"),
        ("x", json!({"type": "kv", "options": {"version": "3"}}), "nil backend of type \"kv\" returned from factory"),
        ("x", json!({"type": "transit", "options": {"version": "2"}}), "secrets engine \"transit\" does not allow setting a version"),
        ("x", json!({"type": "kv", "config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}}), "given default lease TTL greater than given max lease TTL"),
        ("x", json!({"type": "kv", "config": {"default_lease_ttl": "9999h"}}), "given default lease TTL greater than system max lease TTL of 2764800"),
        ("x", json!({"type": "kv", "config": {"default_lease_ttl": "soon"}}), "unable to parse default TTL of soon: time: invalid duration \"soon\""),
        ("x", json!({"type": "kv", "config": {"force_no_cache": "yes"}}), "unable to convert given mount config information"),
        ("x", json!({"type": "kv", "config": {"listing_visibility": "loud"}}), "invalid listing_visibility loud"),
        ("x", json!({"type": "kv", "local": "maybe"}), "Field validation failed: error converting input for field \"local\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        ("x", json!({"type": "kv", "config": "x"}), "Field validation failed: error converting input for field \"config\": '' expected type 'map[string]interface {}', got unconvertible type 'string'"),
        ("x", json!({"type": "kv", "options": "v"}), "Field validation failed: error converting input for field \"options\": invalid key pair at index 0 in field \"options\""),
    ];
    for (path, body, message) in cases {
        let e = expect(c, "POST", &format!("sys/mounts/{path}"), r, Some(body.clone()), 400);
        assert_eq!(errors(&e), [message], "{path} {body}");
    }
    let e = expect(c, "POST", "sys/mounts/", r, Some(json!({"type": "kv"})), 400);
    assert_eq!(errors(&e), ["cannot write to a path ending in '/'"]);
    let e = expect(c, "GET", "sys/mounts/nope", r, None, 400);
    assert_eq!(errors(&e), ["No secret engine mount at nope/"]);
    assert_eq!(send(c, "PUT", "sys/mounts", r, Some(json!({}))).0, 405);
    // Every failed enable left the table alone.
    let mut paths: Vec<String> = expect(c, "GET", "sys/mounts", r, None, 200)["data"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    paths.sort();
    assert_eq!(paths, ["cubbyhole/", "plain/", "sys/", "team/kv/"]);
}

#[test]
fn disable_deletes_only_that_mounts_data() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "a", json!({"type": "kv-v2"}));
    enable(c, r, "b", json!({"type": "kv-v2"}));
    enable(c, r, "v1", json!({"type": "kv"}));
    for i in 0..50 {
        expect(
            c,
            "POST",
            &format!("a/data/k{i}"),
            r,
            Some(json!({"data": {"i": i}})),
            200,
        );
        expect(
            c,
            "POST",
            &format!("b/data/k{i}"),
            r,
            Some(json!({"data": {"i": i}})),
            200,
        );
    }
    expect(c, "POST", "v1/x", r, Some(json!({"v": 1})), 204);
    let uuid_a = expect(c, "GET", "sys/mounts/a", r, None, 200)["data"]["uuid"].clone();
    expect(c, "DELETE", "sys/mounts/a", r, None, 204);
    let e = expect(c, "GET", "a/data/k1", r, None, 404);
    assert_eq!(
        errors(&e),
        ["no handler for route \"a/data/k1\". route entry not found."]
    );
    // Re-enabled at the same path: a new mount, empty.
    enable(c, r, "a", json!({"type": "kv-v2"}));
    assert_ne!(expect(c, "GET", "sys/mounts/a", r, None, 200)["data"]["uuid"], uuid_a);
    assert_eq!(send(c, "GET", "a/data/k1", r, None).0, 404);
    assert_eq!(send(c, "LIST", "a/metadata/", r, None).0, 404);
    // The neighbours kept everything.
    assert_eq!(
        expect(c, "LIST", "b/metadata/", r, None, 200)["data"]["keys"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert_eq!(expect(c, "GET", "v1/x", r, None, 200)["data"], json!({"v": 1}));

    // Disabling something not mounted (or a path inside a mount) succeeds and changes nothing.
    expect(c, "DELETE", "sys/mounts/nope", r, None, 204);
    expect(c, "DELETE", "sys/mounts/b/data", r, None, 204);
    assert_eq!(expect(c, "GET", "b/data/k1", r, None, 200)["data"]["data"]["i"], 1);
    for (path, message) in [
        ("sys", "cannot unmount \"sys/\""),
        ("cubbyhole", "cannot unmount \"cubbyhole/\""),
        ("auth/token", "cannot unmount \"auth/token/\""),
    ] {
        let e = expect(c, "DELETE", &format!("sys/mounts/{path}"), r, None, 400);
        assert_eq!(errors(&e), [message]);
    }
}

#[test]
fn tune_reads_and_writes_settings() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "kv", json!({"type": "kv"}));
    let t = expect(c, "GET", "sys/mounts/kv/tune", r, None, 200);
    assert_eq!(
        t["data"],
        json!({"default_lease_ttl": 2764800, "description": "", "force_no_cache": false, "max_lease_ttl": 2764800})
    );
    assert_eq!(t["default_lease_ttl"], 2764800, "also at the top level");
    expect(
        c,
        "POST",
        "sys/mounts/kv/tune",
        r,
        Some(
            json!({"default_lease_ttl": "30m", "max_lease_ttl": 3600, "description": "tuned", "options": {"extra": "1"}, "listing_visibility": "hidden"}),
        ),
        204,
    );
    let t = expect(c, "GET", "sys/mounts/kv/tune", r, None, 200);
    assert_eq!(
        t["data"],
        json!({"default_lease_ttl": 1800, "description": "tuned", "force_no_cache": false, "max_lease_ttl": 3600, "options": {"extra": "1"}, "listing_visibility": "hidden"})
    );
    let m = expect(c, "GET", "sys/mounts/kv", r, None, 200);
    assert_eq!(m["data"]["config"]["default_lease_ttl"], 1800);
    assert_eq!(m["data"]["description"], "tuned");
    // Empty option values remove options.
    expect(
        c,
        "POST",
        "sys/mounts/kv/tune",
        r,
        Some(json!({"options": {"extra": ""}})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "sys/mounts/kv", r, None, 200)["data"]["options"],
        json!({})
    );
    // "system" resets a TTL to the system's.
    expect(
        c,
        "POST",
        "sys/mounts/kv/tune",
        r,
        Some(json!({"default_lease_ttl": "system"})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "sys/mounts/kv/tune", r, None, 200)["data"]["default_lease_ttl"],
        2764800
    );

    let cases = [
        (
            "kv",
            json!({"default_lease_ttl": "3h"}),
            "backend max lease TTL of 3600 would be less than backend default lease TTL of 10800",
        ),
        (
            "kv",
            json!({"max_lease_ttl": "bad"}),
            "strconv.ParseInt: parsing \"ba\": invalid syntax",
        ),
        (
            "kv",
            json!({"default_lease_ttl": "1y"}),
            "time: unknown unit \"y\" in duration \"1y\"",
        ),
        (
            "kv",
            json!({"options": {"version": "3"}}),
            "invalid version provided: 3",
        ),
        (
            "kv",
            json!({"options": {"version": "x"}}),
            "unable to parse options: strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "kv",
            json!({"token_type": "batch"}),
            "'token_type' can only be modified on auth mounts",
        ),
        (
            "kv",
            json!({"listing_visibility": "loud"}),
            "invalid listing_visibility loud",
        ),
        (
            "nope",
            json!({"description": "x"}),
            "tune of path \"nope/\" failed: no mount entry found",
        ),
        (
            "cubbyhole",
            json!({"description": "x"}),
            "cannot tune parameter description of cubbyhole/",
        ),
        (
            "sys",
            json!({"max_lease_ttl": "1h"}),
            "cannot tune parameter max_lease_ttl of sys/",
        ),
        (
            "auth/token",
            json!({"token_type": "batch"}),
            "'token_type' cannot be set for 'token' or 'ns_token' auth mounts",
        ),
    ];
    for (path, body, message) in cases {
        let e = expect(
            c,
            "POST",
            &format!("sys/mounts/{path}/tune"),
            r,
            Some(body.clone()),
            400,
        );
        assert_eq!(errors(&e), [message], "{path} {body}");
    }
    let e = expect(c, "GET", "sys/mounts/nope/tune", r, None, 400);
    assert_eq!(errors(&e), ["cannot fetch sysview for path \"nope/\""]);
    // sys/ accepts only the audit keys.
    expect(
        c,
        "POST",
        "sys/mounts/sys/tune",
        r,
        Some(json!({"audit_non_hmac_request_keys": "a,b"})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "sys/mounts/sys/tune", r, None, 200)["data"]["audit_non_hmac_request_keys"],
        json!(["a", "b"])
    );
}

#[test]
fn remount_moves_a_mount_with_its_data() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "from", json!({"type": "kv-v2", "description": "moving"}));
    enable(c, r, "stay", json!({"type": "kv"}));
    expect(c, "POST", "from/data/a", r, Some(json!({"data": {"x": 1}})), 200);
    expect(c, "POST", "stay/b", r, Some(json!({"y": 2})), 204);
    let before = expect(c, "GET", "sys/mounts/from", r, None, 200)["data"].clone();

    let moved = expect(
        c,
        "POST",
        "sys/remount",
        r,
        Some(json!({"from": "from", "to": "to/here"})),
        200,
    );
    let id = moved["data"]["migration_id"].as_str().unwrap().to_string();
    assert_eq!(moved["migration_id"], id.as_str());
    assert_eq!(
        moved["warnings"],
        json!(["Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id"])
    );
    let status = expect(c, "GET", &format!("sys/remount/status/{id}"), r, None, 200);
    assert_eq!(
        status["data"],
        json!({"migration_id": id, "migration_info": {"source_mount": "from/", "target_mount": "to/here/", "status": "success"}})
    );
    assert_eq!(send(c, "GET", "sys/remount/status/unknown", r, None).0, 404);
    let after = expect(c, "GET", "sys/mounts/to/here", r, None, 200)["data"].clone();
    assert_eq!(after, before, "same uuid, accessor and settings");
    assert_eq!(
        expect(c, "GET", "to/here/data/a", r, None, 200)["data"]["data"],
        json!({"x": 1})
    );
    assert_eq!(send(c, "GET", "from/data/a", r, None).0, 404);
    assert_eq!(expect(c, "GET", "stay/b", r, None, 200)["data"], json!({"y": 2}));

    let cases = [
        (
            json!({"from": "to/here"}),
            "both 'from' and 'to' path must be specified as a string",
        ),
        (json!({"from": "nope", "to": "x"}), "no matching mount at \"nope/\""),
        (
            json!({"from": "to/here", "to": "stay"}),
            "path already in use at \"stay/\"",
        ),
        (
            json!({"from": "to/here", "to": "stay/inner"}),
            "path already in use at \"stay/\"",
        ),
        (json!({"from": "sys", "to": "x"}), "cannot remount \"sys/\""),
        (json!({"from": "cubbyhole", "to": "x"}), "cannot remount \"cubbyhole/\""),
        (
            json!({"from": "to/here", "to": "sys/x"}),
            "cannot remount to destination sys/x/",
        ),
        (
            json!({"from": "to/here", "to": "auth/x"}),
            "cannot remount to destination auth/x/",
        ),
        (
            json!({"from": "to/here", "to": "a/../b"}),
            "invalid destination mount: path 'a/../b/' does not match cleaned path 'b/'",
        ),
        (
            json!({"from": "to/here", "to": "x "}),
            "'to' path cannot contain trailing whitespace",
        ),
        (
            json!({"from": " to/here", "to": "x"}),
            "'from' path cannot contain trailing whitespace",
        ),
    ];
    for (body, message) in cases {
        let e = expect(c, "POST", "sys/remount", r, Some(body.clone()), 400);
        assert_eq!(errors(&e), [message], "{body}");
    }

    // The table and the data survive a restart.
    assert!(server.terminate().success());
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    assert_eq!(expect(c, "GET", "sys/mounts/to/here", r, None, 200)["data"], before);
    assert_eq!(
        expect(c, "GET", "to/here/data/a", r, None, 200)["data"]["data"],
        json!({"x": 1})
    );
    assert_eq!(expect(c, "GET", "stay/b", r, None, 200)["data"], json!({"y": 2}));
    // Sealing drops the routes; unsealing brings them back.
    expect(c, "PUT", "sys/seal", r, None, 204);
    assert_eq!(send(c, "GET", "stay/b", r, None).0, 503);
    c.unseal_with(&keys);
    assert_eq!(expect(c, "GET", "stay/b", r, None, 200)["data"], json!({"y": 2}));
}

#[test]
fn ui_mount_endpoints_follow_the_acl() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "secret", json!({"type": "kv-v2"}));
    enable(c, r, "hidden", json!({"type": "kv"}));
    let m = expect(c, "GET", "sys/internal/ui/mounts/secret/some/key", r, None, 200);
    assert_eq!(m["data"]["path"], "secret/");
    assert_eq!(m["data"]["options"], json!({"version": "2"}));
    assert_eq!(m["data"]["type"], "kv");
    let t = expect(c, "GET", "sys/internal/ui/mounts/auth/token/x", r, None, 200);
    assert_eq!(t["data"]["path"], "token/");
    let e = expect(c, "GET", "sys/internal/ui/mounts/nope", r, None, 403);
    assert_eq!(
        errors(&e),
        ["preflight capability check returned 403, please ensure client's policies grant access to path \"nope/\""]
    );

    let policy = "path \"sys/internal/ui/mounts*\" { capabilities = [\"read\"] }\npath \"secret/data/*\" { capabilities = [\"read\"] }\n";
    expect(c, "PUT", "sys/policy/reader", r, Some(json!({"policy": policy})), 204);
    let t = expect(
        c,
        "POST",
        "auth/token/create",
        r,
        Some(json!({"policies": ["reader"]})),
        200,
    );
    let reader = t["auth"]["client_token"].as_str().unwrap().to_string();
    let m = expect(c, "GET", "sys/internal/ui/mounts/secret/k", &reader, None, 200);
    assert_eq!(m["data"]["path"], "secret/");
    let e = expect(c, "GET", "sys/internal/ui/mounts/hidden/k", &reader, None, 403);
    assert_eq!(
        errors(&e),
        ["preflight capability check returned 403, please ensure client's policies grant access to path \"hidden/k/\""]
    );
    let all = expect(c, "GET", "sys/internal/ui/mounts", &reader, None, 200);
    let visible = all["data"]["secret"].as_object().unwrap();
    assert!(
        visible.contains_key("secret/") && visible.contains_key("cubbyhole/"),
        "{all}"
    );
    assert!(!visible.contains_key("hidden/"), "{all}");
}

#[test]
fn dev_mode_mounts_secret_as_kv_v2() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(crate::common::vault_bin())
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=devroot",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("should NOT be used in production") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let c = crate::common::Client::new(&format!("http://127.0.0.1:{port}"));
    let m = expect(&c, "GET", "sys/mounts/secret", "devroot", None, 200);
    assert_eq!(m["data"]["type"], "kv");
    assert_eq!(m["data"]["options"], json!({"version": "2"}));
    assert_eq!(m["data"]["description"], "key/value secret storage");
    expect(
        &c,
        "POST",
        "secret/data/x",
        "devroot",
        Some(json!({"data": {"a": 1}})),
        200,
    );
    assert_eq!(
        expect(&c, "GET", "secret/data/x", "devroot", None, 200)["data"]["data"],
        json!({"a": 1})
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn disabling_a_method_with_more_records_than_a_batch_deletes_them_all() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(
        c.put("sys/auth/approle", Some(&root), json!({"type": "approle"})).0,
        204
    );
    let uuid = c.get("sys/auth/approle", Some(&root)).1["data"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    // 700 roles are 1,400 records (the role and its role-ID index): more than one deletion batch (1,000).
    for i in 0..700 {
        assert_eq!(c.put(&format!("auth/approle/role/r{i}"), Some(&root), json!({})).0, 204);
    }
    let data = dir.path().join("data");
    let of_mount = |data: &std::path::Path| {
        crate::migrations::raw_tree(data, "logical")
            .iter()
            .filter(|(k, _)| k.starts_with(format!("{uuid}/").as_bytes()))
            .count()
    };
    server.terminate();
    assert!(
        of_mount(&data) > 1_400,
        "the roles were not stored under the mount's uuid"
    );
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    assert_eq!(
        server.client.call("DELETE", "sys/auth/approle", Some(&root), None).0,
        204
    );
    server.terminate();
    assert_eq!(of_mount(&data), 0, "records of the disabled mount are left");
    // Nor is a pending deletion left behind.
    assert!(crate::migrations::raw_tree(&data, "core")
        .iter()
        .all(|(k, _)| !k.starts_with(b"unmounting/")));
}
