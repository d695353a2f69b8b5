//! The K/V secrets engine over HTTP: version 2 (versions, CAS, delete/undelete/destroy, metadata, patch, subkeys,
//! delete_version_after, eviction), version 1 (CRUD, lists, TTL hints), create-vs-update in the ACL, the upgrade
//! from version 1 to 2, wrapped reads, concurrency, durability across `kill -9`, and no plaintext on disk.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

/// Send `method` with an optional JSON body.
pub fn send(c: &Client, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    c.call(method, path, Some(token), body.map(|b| b.to_string().into_bytes()))
}

/// Send and require `status`; returns the body.
pub fn expect(c: &Client, method: &str, path: &str, token: &str, body: Option<Value>, status: u16) -> Value {
    let (got, resp) = send(c, method, path, token, body);
    assert_eq!(got, status, "{method} {path}: {resp}");
    resp
}

/// Enable a secrets engine.
pub fn enable(c: &Client, token: &str, path: &str, body: Value) {
    expect(c, "POST", &format!("sys/mounts/{path}"), token, Some(body), 204);
}

fn errors(resp: &Value) -> Vec<String> {
    resp["errors"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_string())
        .collect()
}

fn start_with_kv2() -> (tempfile::TempDir, TestServer, String) {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    enable(
        &server.client,
        &root,
        "secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    (dir, server, root)
}

#[test]
fn kv2_versions_cas_and_reads() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();

    assert_eq!(send(c, "GET", "secret/data/app", r, None), (404, json!({"errors": []})));
    let w = expect(
        c,
        "POST",
        "secret/data/app",
        r,
        Some(json!({"data": {"user": "a", "n": 1}})),
        200,
    );
    assert_eq!(w["data"]["version"], 1);
    assert_eq!(w["data"]["destroyed"], false);
    assert_eq!(w["data"]["deletion_time"], "");
    assert_eq!(w["data"]["custom_metadata"], Value::Null);
    assert!(w["data"]["created_time"].as_str().unwrap().ends_with('Z'));
    expect(
        c,
        "PUT",
        "secret/data/app",
        r,
        Some(json!({"data": {"user": "b"}})),
        200,
    );

    let latest = expect(c, "GET", "secret/data/app", r, None, 200);
    assert_eq!(latest["data"]["data"], json!({"user": "b"}));
    assert_eq!(latest["data"]["metadata"]["version"], 2);
    let first = expect(c, "GET", "secret/data/app?version=1", r, None, 200);
    assert_eq!(first["data"]["data"], json!({"n": 1, "user": "a"}));
    assert_eq!(send(c, "GET", "secret/data/app?version=9", r, None).0, 404);
    let bad = expect(c, "GET", "secret/data/app?version=x", r, None, 400);
    assert_eq!(
        errors(&bad),
        ["Field validation failed: error converting input for field \"version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"]
    );

    // Check-and-set.
    let e = expect(
        c,
        "POST",
        "secret/data/app",
        r,
        Some(json!({"data": {"x": 1}, "options": {"cas": 1}})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["check-and-set parameter did not match the current version"]
    );
    let e = expect(
        c,
        "POST",
        "secret/data/app",
        r,
        Some(json!({"data": {"x": 1}, "options": {"cas": "z"}})),
        400,
    );
    assert_eq!(errors(&e), ["error parsing check-and-set parameter"]);
    expect(
        c,
        "POST",
        "secret/data/app",
        r,
        Some(json!({"data": {"x": 1}, "options": {"cas": 2}})),
        200,
    );
    expect(
        c,
        "POST",
        "secret/data/new",
        r,
        Some(json!({"data": {"x": 1}, "options": {"cas": 0}})),
        200,
    );
    let e = expect(
        c,
        "POST",
        "secret/data/new",
        r,
        Some(json!({"data": {"x": 1}, "options": {"cas": 0}})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["check-and-set parameter did not match the current version"]
    );
    expect(c, "POST", "secret/config", r, Some(json!({"cas_required": true})), 204);
    let e = expect(c, "POST", "secret/data/app", r, Some(json!({"data": {"x": 2}})), 400);
    assert_eq!(errors(&e), ["check-and-set parameter required for this call"]);
    expect(c, "POST", "secret/config", r, Some(json!({"cas_required": false})), 204);

    // Bad input.
    let e = expect(c, "POST", "secret/data/app", r, Some(json!({"user": "x"})), 400);
    assert_eq!(errors(&e), ["no data provided"]);
    let e = expect(c, "POST", "secret/data/app", r, Some(json!({"data": "x"})), 400);
    assert_eq!(
        errors(&e),
        ["error converting input for field \"data\": '' expected type 'map[string]interface {}', got unconvertible type 'string'"]
    );
    let e = expect(c, "POST", "secret/data/dir/", r, Some(json!({"data": {"a": 1}})), 400);
    assert_eq!(errors(&e), ["cannot write to a path ending in '/'"]);
    let w = expect(
        c,
        "POST",
        "secret/data/extra",
        r,
        Some(json!({"data": {"a": 1}, "bogus": 1})),
        200,
    );
    assert_eq!(
        w["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [bogus]"])
    );

    // Arbitrary JSON survives as written.
    let nested = json!({"list": [1, "two", {"three": null}], "obj": {"deep": {"er": true}}, "num": 1.5});
    expect(c, "POST", "secret/data/json", r, Some(json!({"data": nested})), 200);
    assert_eq!(
        expect(c, "GET", "secret/data/json", r, None, 200)["data"]["data"],
        nested
    );

    // Paths outside the API.
    let inv = expect(c, "GET", "secret/app", r, None, 404);
    assert_eq!(inv["data"], Value::Null);
    assert!(inv["warnings"][0]
        .as_str()
        .unwrap()
        .contains("use 'bao kv get' for this operation"));
    let root_op = expect(c, "DELETE", "secret/data", r, None, 404);
    assert_eq!(
        root_op["warnings"],
        json!(["Non-listing operations on the root of a K/V v2 mount are not supported."])
    );
    assert_eq!(send(c, "LIST", "secret/data/", r, None).0, 405);
}

#[test]
fn kv2_delete_undelete_destroy_and_metadata() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();
    for i in 1..=3 {
        expect(c, "POST", "secret/data/k", r, Some(json!({"data": {"i": i}})), 200);
    }
    // DELETE soft-deletes the latest version: 404 with its metadata.
    expect(c, "DELETE", "secret/data/k", r, None, 204);
    let gone = expect(c, "GET", "secret/data/k", r, None, 404);
    assert_eq!(gone["data"]["data"], Value::Null);
    assert_eq!(gone["data"]["metadata"]["version"], 3);
    assert_ne!(gone["data"]["metadata"]["deletion_time"], "");
    expect(c, "DELETE", "secret/data/k", r, None, 204);
    expect(c, "DELETE", "secret/data/missing", r, None, 204);

    let e = expect(c, "POST", "secret/delete/k", r, Some(json!({})), 400);
    assert_eq!(errors(&e), ["No version number provided"]);
    let e = expect(c, "POST", "secret/undelete/k", r, Some(json!({"versions": []})), 400);
    assert_eq!(errors(&e), ["No version number provided"]);
    let e = expect(c, "POST", "secret/destroy/k", r, Some(json!({})), 400);
    assert_eq!(errors(&e), ["no version number provided"]);
    let e = expect(c, "POST", "secret/delete/k", r, Some(json!({"versions": "1, 2"})), 400);
    assert!(errors(&e)[0].starts_with("Field validation failed: error converting input for field \"versions\""));

    expect(c, "POST", "secret/delete/k", r, Some(json!({"versions": "1,2"})), 204);
    assert_eq!(send(c, "GET", "secret/data/k?version=1", r, None).0, 404);
    expect(
        c,
        "POST",
        "secret/undelete/k",
        r,
        Some(json!({"versions": [1, 3]})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "secret/data/k", r, None, 200)["data"]["data"],
        json!({"i": 3})
    );
    assert_eq!(send(c, "GET", "secret/data/k?version=2", r, None).0, 404);
    expect(c, "POST", "secret/destroy/k", r, Some(json!({"versions": [1]})), 204);
    let d = expect(c, "GET", "secret/data/k?version=1", r, None, 404);
    assert_eq!(d["data"]["metadata"]["destroyed"], true);
    // Destroyed stays destroyed.
    expect(c, "POST", "secret/undelete/k", r, Some(json!({"versions": [1]})), 204);
    assert_eq!(send(c, "GET", "secret/data/k?version=1", r, None).0, 404);
    for action in ["delete", "undelete", "destroy"] {
        expect(
            c,
            "POST",
            &format!("secret/{action}/none"),
            r,
            Some(json!({"versions": [1]})),
            204,
        );
    }

    let meta = expect(c, "GET", "secret/metadata/k", r, None, 200)["data"].clone();
    assert_eq!(meta["current_version"], 3);
    assert_eq!(meta["oldest_version"], 0);
    assert_eq!(meta["current_metadata_version"], 0);
    assert_eq!(meta["max_versions"], 0);
    assert_eq!(meta["delete_version_after"], "0s");
    assert_eq!(meta["versions"]["1"]["destroyed"], true);
    assert_eq!(meta["versions"]["2"]["destroyed"], false);
    assert_ne!(meta["versions"]["2"]["deletion_time"], "");
    assert_eq!(meta["versions"]["3"]["deletion_time"], "");

    // Subkeys.
    expect(
        c,
        "POST",
        "secret/data/sk",
        r,
        Some(json!({"data": {"a": 1, "b": {"c": {"d": 2}, "e": []}}})),
        200,
    );
    let s = expect(c, "GET", "secret/subkeys/sk", r, None, 200);
    assert_eq!(
        s["data"]["subkeys"],
        json!({"a": null, "b": {"c": {"d": null}, "e": null}})
    );
    let s = expect(c, "GET", "secret/subkeys/sk?depth=1", r, None, 200);
    assert_eq!(s["data"]["subkeys"], json!({"a": null, "b": null}));
    assert_eq!(send(c, "GET", "secret/subkeys/nope", r, None).0, 404);

    // Patch merges into the latest version as a new version.
    let p = expect(
        c,
        "PATCH",
        "secret/data/sk",
        r,
        Some(json!({"data": {"a": null, "b": {"e": "x"}, "f": 1}})),
        200,
    );
    assert_eq!(p["data"]["version"], 2);
    let now = expect(c, "GET", "secret/data/sk", r, None, 200);
    assert_eq!(now["data"]["data"], json!({"b": {"c": {"d": 2}, "e": "x"}, "f": 1}));
    let e = expect(
        c,
        "PATCH",
        "secret/data/sk",
        r,
        Some(json!({"data": {"a": 1}, "options": {"cas": 1}})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["check-and-set parameter did not match the current version"]
    );
    let e = expect(c, "PATCH", "secret/data/sk", r, Some(json!({})), 400);
    assert_eq!(errors(&e), ["no data provided"]);
    assert_eq!(
        send(c, "PATCH", "secret/data/none", r, Some(json!({"data": {"a": 1}}))).0,
        404
    );
    expect(c, "DELETE", "secret/data/sk", r, None, 204);
    let p = expect(c, "PATCH", "secret/data/sk", r, Some(json!({"data": {"a": 1}})), 404);
    assert_eq!(p["data"]["version"], 2);

    // Metadata delete removes every version.
    expect(c, "DELETE", "secret/metadata/k", r, None, 204);
    assert_eq!(send(c, "GET", "secret/metadata/k", r, None).0, 404);
    assert_eq!(send(c, "GET", "secret/data/k?version=3", r, None).0, 404);
    expect(
        c,
        "POST",
        "secret/data/k",
        r,
        Some(json!({"data": {"again": true}})),
        200,
    );
    assert_eq!(
        expect(c, "GET", "secret/metadata/k", r, None, 200)["data"]["current_version"],
        1
    );
}

#[test]
fn kv2_version_window_and_delete_version_after() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();
    // Default window: 10 versions.
    for i in 1..=12 {
        expect(c, "POST", "secret/data/many", r, Some(json!({"data": {"i": i}})), 200);
    }
    let meta = expect(c, "GET", "secret/metadata/many", r, None, 200)["data"].clone();
    let mut kept: Vec<u64> = meta["versions"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, (3..=12).collect::<Vec<u64>>());
    assert_eq!(meta["oldest_version"], 3);
    assert_eq!(send(c, "GET", "secret/data/many?version=2", r, None).0, 404);
    assert_eq!(
        expect(c, "GET", "secret/data/many?version=3", r, None, 200)["data"]["data"]["i"],
        3
    );

    // A key's max_versions: the larger of the key's and the engine's applies.
    expect(
        c,
        "POST",
        "secret/metadata/two",
        r,
        Some(json!({"max_versions": 2})),
        204,
    );
    for i in 1..=4 {
        expect(c, "POST", "secret/data/two", r, Some(json!({"data": {"i": i}})), 200);
    }
    let meta = expect(c, "GET", "secret/metadata/two", r, None, 200)["data"].clone();
    assert_eq!(meta["versions"].as_object().unwrap().len(), 2);
    assert_eq!(meta["oldest_version"], 3);

    // delete_version_after: versions read as deleted once their time passes; undelete restarts the clock.
    expect(
        c,
        "POST",
        "secret/config",
        r,
        Some(json!({"delete_version_after": "1s"})),
        204,
    );
    let cfg = expect(c, "GET", "secret/config", r, None, 200);
    assert_eq!(
        cfg["data"],
        json!({"cas_required": false, "delete_version_after": "1s", "max_versions": 0, "metadata_cas_required": false})
    );
    let w = expect(c, "POST", "secret/data/short", r, Some(json!({"data": {"a": 1}})), 200);
    assert_ne!(w["data"]["deletion_time"], "");
    expect(c, "GET", "secret/data/short", r, None, 200);
    std::thread::sleep(Duration::from_millis(1300));
    let gone = expect(c, "GET", "secret/data/short", r, None, 404);
    assert_eq!(gone["data"]["metadata"]["version"], 1);
    expect(
        c,
        "POST",
        "secret/undelete/short",
        r,
        Some(json!({"versions": [1]})),
        204,
    );
    expect(c, "GET", "secret/data/short", r, None, 200);
    // A negative duration disables it for every key.
    expect(
        c,
        "POST",
        "secret/config",
        r,
        Some(json!({"delete_version_after": "-1s"})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "secret/config", r, None, 200)["data"]["delete_version_after"],
        "-1s"
    );
    let w = expect(c, "POST", "secret/data/long", r, Some(json!({"data": {"a": 1}})), 200);
    assert_eq!(w["data"]["deletion_time"], "");
    expect(
        c,
        "POST",
        "secret/config",
        r,
        Some(json!({"delete_version_after": "0s", "max_versions": 5})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "secret/config", r, None, 200)["data"],
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 5, "metadata_cas_required": false})
    );
    let e = expect(c, "POST", "secret/config", r, Some(json!({"max_versions": "x"})), 400);
    assert_eq!(
        errors(&e),
        ["Field validation failed: error converting input for field \"max_versions\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"]
    );
    assert_eq!(send(c, "DELETE", "secret/config", r, None).0, 405);
}

#[test]
fn kv2_metadata_settings_and_lists() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();
    // A write without settings writes nothing.
    expect(c, "POST", "secret/metadata/m", r, Some(json!({})), 204);
    assert_eq!(send(c, "GET", "secret/metadata/m", r, None).0, 404);
    expect(
        c,
        "POST",
        "secret/metadata/m",
        r,
        Some(
            json!({"max_versions": 3, "cas_required": true, "delete_version_after": "1h", "custom_metadata": {"owner": "ops", "n": 5}}),
        ),
        204,
    );
    let meta = expect(c, "GET", "secret/metadata/m", r, None, 200)["data"].clone();
    assert_eq!(meta["current_version"], 0);
    assert_eq!(meta["current_metadata_version"], 1);
    assert_eq!(meta["delete_version_after"], "1h0m0s");
    assert_eq!(meta["custom_metadata"], json!({"n": "5", "owner": "ops"}));
    assert_eq!(meta["versions"], json!({}));
    assert_eq!(send(c, "GET", "secret/data/m", r, None).0, 404);
    let w = expect(
        c,
        "POST",
        "secret/data/m",
        r,
        Some(json!({"data": {"a": 1}, "options": {"cas": 0}})),
        200,
    );
    assert_eq!(w["data"]["custom_metadata"], json!({"n": "5", "owner": "ops"}));

    // Validation.
    let e = expect(
        c,
        "POST",
        "secret/metadata/m",
        r,
        Some(json!({"custom_metadata": {"": "x", "k": ""}})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["2 errors occurred:\n\t* custom_metadata validation failed: length of key \"\" is 0 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: length of value for key \"k\" is 0 but must be 0 < len(value) <= 512\n\n"]
    );
    let e = expect(
        c,
        "POST",
        "secret/metadata/m",
        r,
        Some(json!({"delete_version_after": "-1s"})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["error converting input for field \"delete_version_after\": cannot provide negative value '-1'"]
    );
    let e = expect(
        c,
        "PATCH",
        "secret/metadata/m",
        r,
        Some(json!({"delete_version_after": "-1s"})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["Field validation failed: error converting input for field \"delete_version_after\": cannot provide negative value '-1'"]
    );

    // Metadata check-and-set.
    let e = expect(
        c,
        "POST",
        "secret/metadata/m",
        r,
        Some(json!({"max_versions": 4, "metadata_cas": 7})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["metadata check-and-set parameter does not match the current version"]
    );
    expect(
        c,
        "POST",
        "secret/metadata/m",
        r,
        Some(json!({"metadata_cas_required": true, "metadata_cas": 1})),
        204,
    );
    let e = expect(c, "POST", "secret/metadata/m", r, Some(json!({"max_versions": 4})), 400);
    assert_eq!(errors(&e), ["metadata check-and-set parameter required for this call"]);
    let e = expect(
        c,
        "POST",
        "secret/metadata/fresh",
        r,
        Some(json!({"max_versions": 4, "metadata_cas": 2})),
        400,
    );
    assert_eq!(errors(&e), ["metadata_cas must be 0 when creating new metadata"]);

    // Patch: custom_metadata merges, nulls remove.
    expect(
        c,
        "PATCH",
        "secret/metadata/m",
        r,
        Some(json!({"custom_metadata": {"owner": null, "team": "x"}, "metadata_cas": 2})),
        204,
    );
    let meta = expect(c, "GET", "secret/metadata/m", r, None, 200)["data"].clone();
    assert_eq!(meta["custom_metadata"], json!({"n": "5", "team": "x"}));
    assert_eq!(meta["current_metadata_version"], 3);
    assert_eq!(meta["max_versions"], 3);
    assert_eq!(
        send(c, "PATCH", "secret/metadata/none", r, Some(json!({"max_versions": 1}))).0,
        404
    );
    expect(c, "PATCH", "secret/metadata/m", r, Some(json!({})), 204);
    let e = expect(
        c,
        "PATCH",
        "secret/metadata/m",
        r,
        Some(json!({"custom_metadata": {"x": 5}, "metadata_cas": 3})),
        400,
    );
    assert_eq!(
        errors(&e),
        ["json: cannot unmarshal number into Go struct field .custom_metadata.x of type string"]
    );
    expect(
        c,
        "PATCH",
        "secret/metadata/m",
        r,
        Some(json!({"custom_metadata": null, "metadata_cas": 3})),
        204,
    );
    assert_eq!(
        expect(c, "GET", "secret/metadata/m", r, None, 200)["data"]["custom_metadata"],
        Value::Null
    );

    // Engine config overrides a key's false cas_required: a warning.
    expect(c, "POST", "secret/config", r, Some(json!({"cas_required": true})), 204);
    let w = expect(
        c,
        "POST",
        "secret/metadata/w",
        r,
        Some(json!({"cas_required": false})),
        200,
    );
    assert_eq!(
        w["warnings"],
        json!(["\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."])
    );
    expect(c, "POST", "secret/config", r, Some(json!({"cas_required": false})), 204);

    // Lists: folders end in '/', after and limit page, detailed-metadata adds each key's metadata.
    for key in ["b", "a", "dir/x", "dir/sub/y", "c"] {
        expect(
            c,
            "POST",
            &format!("secret/data/{key}"),
            r,
            Some(json!({"data": {"k": key}})),
            200,
        );
    }
    let l = expect(c, "LIST", "secret/metadata/", r, None, 200);
    assert_eq!(l["data"]["keys"], json!(["a", "b", "c", "dir/", "m", "w"]));
    let l = expect(c, "GET", "secret/metadata/dir?list=true", r, None, 200);
    assert_eq!(l["data"]["keys"], json!(["sub/", "x"]));
    let l = expect(c, "LIST", "secret/metadata/?after=b&limit=2", r, None, 200);
    assert_eq!(l["data"]["keys"], json!(["c", "dir/"]));
    assert_eq!(
        send(c, "LIST", "secret/metadata/nothing/", r, None),
        (404, json!({"errors": []}))
    );
    let d = expect(c, "LIST", "secret/detailed-metadata/dir/", r, None, 200);
    assert_eq!(d["data"]["keys"], json!(["sub/", "x"]));
    assert_eq!(d["data"]["key_info"]["sub/"], json!({}));
    assert_eq!(d["data"]["key_info"]["x"]["current_version"], 1);
}

#[test]
fn kv1_crud_lists_and_lease_hints() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "kv", json!({"type": "kv"}));
    assert_eq!(send(c, "GET", "kv/a", r, None), (404, json!({"errors": []})));
    expect(c, "POST", "kv/a", r, Some(json!({"v": 1})), 204);
    expect(
        c,
        "PUT",
        "kv/dir/b",
        r,
        Some(json!({"v": [1, {"x": null}], "ttl": "30m"})),
        204,
    );
    expect(c, "POST", "kv/dir/sub/c", r, Some(json!({"v": 3, "lease": "2d"})), 204);
    let a = expect(c, "GET", "kv/a", r, None, 200);
    assert_eq!(a["data"], json!({"v": 1}));
    assert_eq!(a["lease_duration"], 768 * 3600);
    assert_eq!(a["renewable"], false);
    assert_eq!(expect(c, "GET", "kv/dir/b", r, None, 200)["lease_duration"], 1800);
    assert_eq!(expect(c, "GET", "kv/dir/sub/c", r, None, 200)["lease_duration"], 172800);

    assert_eq!(
        expect(c, "LIST", "kv/", r, None, 200)["data"]["keys"],
        json!(["a", "dir/"])
    );
    assert_eq!(
        expect(c, "LIST", "kv/dir", r, None, 200)["data"]["keys"],
        json!(["b", "sub/"])
    );
    assert_eq!(send(c, "LIST", "kv/a", r, None).0, 404);

    let e = expect(c, "POST", "kv/a", r, Some(json!({})), 400);
    assert_eq!(errors(&e), ["missing data fields"]);
    let e = expect(c, "POST", "kv/folder/", r, Some(json!({"a": 1})), 400);
    assert_eq!(errors(&e), ["cannot write to a path ending in '/'"]);
    let w = expect(c, "GET", "kv/a?extra=1", r, None, 200);
    assert_eq!(
        w["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [extra]"])
    );
    assert_eq!(send(c, "PATCH", "kv/a", r, Some(json!({"v": 2}))).0, 405);

    // The mount's default TTL applies to reads without a hint.
    expect(
        c,
        "POST",
        "sys/mounts/kv/tune",
        r,
        Some(json!({"default_lease_ttl": "10m"})),
        204,
    );
    assert_eq!(expect(c, "GET", "kv/a", r, None, 200)["lease_duration"], 600);

    expect(c, "DELETE", "kv/a", r, None, 204);
    expect(c, "DELETE", "kv/a", r, None, 204);
    assert_eq!(send(c, "GET", "kv/a", r, None).0, 404);
    expect(c, "POST", "kv/dir/b", r, Some(json!({"replaced": true})), 204);
    assert_eq!(
        expect(c, "GET", "kv/dir/b", r, None, 200)["data"],
        json!({"replaced": true})
    );
}

#[test]
fn kv_writes_are_create_or_update_for_the_acl() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "kv", json!({"type": "kv"}));
    let policy = |name: &str, caps: &str| {
        let text = format!(
            "path \"secret/data/*\" {{ capabilities = [{caps}] }}\npath \"secret/metadata/*\" {{ capabilities = [{caps}] }}\npath \"kv/*\" {{ capabilities = [{caps}] }}\n"
        );
        expect(
            c,
            "PUT",
            &format!("sys/policy/{name}"),
            r,
            Some(json!({"policy": text})),
            204,
        );
        let t = expect(
            c,
            "POST",
            "auth/token/create",
            r,
            Some(json!({"policies": [name]})),
            200,
        );
        t["auth"]["client_token"].as_str().unwrap().to_string()
    };
    let creator = policy("creator", "\"create\"");
    let updater = policy("updater", "\"update\"");

    // The creator may write what does not exist yet, never overwrite.
    expect(
        c,
        "POST",
        "secret/data/c1",
        &creator,
        Some(json!({"data": {"a": 1}})),
        200,
    );
    assert_eq!(
        send(c, "POST", "secret/data/c1", &creator, Some(json!({"data": {"a": 2}}))).0,
        403
    );
    expect(
        c,
        "POST",
        "secret/metadata/c2",
        &creator,
        Some(json!({"max_versions": 1})),
        204,
    );
    assert_eq!(
        send(
            c,
            "POST",
            "secret/metadata/c2",
            &creator,
            Some(json!({"max_versions": 2}))
        )
        .0,
        403
    );
    expect(c, "POST", "kv/c3", &creator, Some(json!({"a": 1})), 204);
    assert_eq!(send(c, "POST", "kv/c3", &creator, Some(json!({"a": 2}))).0, 403);
    // The updater the other way round.
    assert_eq!(
        send(c, "POST", "secret/data/u1", &updater, Some(json!({"data": {"a": 1}}))).0,
        403
    );
    expect(
        c,
        "POST",
        "secret/data/c1",
        &updater,
        Some(json!({"data": {"a": 3}})),
        200,
    );
    assert_eq!(send(c, "POST", "kv/u2", &updater, Some(json!({"a": 1}))).0, 403);
    expect(c, "POST", "kv/c3", &updater, Some(json!({"a": 3})), 204);
    // Field errors come from the existence check, before the ACL.
    let e = expect(c, "POST", "secret/data/c9", &updater, Some(json!({"data": 5})), 400);
    assert!(errors(&e)[0].starts_with("error converting input for field \"data\""));
    // A token without read cannot read.
    let e = expect(c, "GET", "secret/data/c1", &creator, None, 403);
    assert_eq!(errors(&e), ["1 error occurred:\n\t* permission denied\n\n"]);
}

#[test]
fn kv1_upgrades_to_kv2_by_tune() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "up", json!({"type": "kv", "options": {"version": "1"}}));
    expect(c, "POST", "up/a", r, Some(json!({"x": 1})), 204);
    expect(c, "POST", "up/dir/b", r, Some(json!({"y": {"z": 2}})), 204);
    let w = expect(
        c,
        "POST",
        "sys/mounts/up/tune",
        r,
        Some(json!({"options": {"version": "2"}})),
        200,
    );
    assert_eq!(
        w["warnings"],
        json!(["Upgrading mount from version 1 to version 0. This mount will be unavailable for a brief period and will resume service shortly."])
    );
    assert_eq!(
        expect(c, "GET", "sys/mounts/up", r, None, 200)["options"],
        json!({"version": "2"})
    );
    let a = expect(c, "GET", "up/data/a", r, None, 200);
    assert_eq!(a["data"]["data"], json!({"x": 1}));
    assert_eq!(a["data"]["metadata"]["version"], 1);
    let meta = expect(c, "GET", "up/metadata/dir/b", r, None, 200);
    assert_eq!(meta["data"]["oldest_version"], 1);
    assert_eq!(meta["data"]["current_version"], 1);
    assert_eq!(
        expect(c, "LIST", "up/metadata/", r, None, 200)["data"]["keys"],
        json!(["a", "dir/"])
    );
    assert_eq!(send(c, "GET", "up/a", r, None).0, 404, "version 1 paths are gone");
    let e = expect(
        c,
        "POST",
        "sys/mounts/up/tune",
        r,
        Some(json!({"options": {"version": "1"}})),
        400,
    );
    assert_eq!(errors(&e), ["cannot downgrade mount from version 2"]);
    expect(c, "POST", "up/data/a", r, Some(json!({"data": {"x": 2}})), 200);
    assert_eq!(
        expect(c, "GET", "up/data/a", r, None, 200)["data"]["metadata"]["version"],
        2
    );
}

#[test]
fn kv_wrapped_read_unwraps_to_the_secret() {
    let (_dir, server, root) = start_with_kv2();
    let c = &server.client;
    let r = root.as_str();
    expect(
        c,
        "POST",
        "secret/data/w",
        r,
        Some(json!({"data": {"pw": "hunter2"}})),
        200,
    );
    let url = format!("{}/v1/secret/data/w", c.base);
    let resp = ureq::get(&url)
        .header("X-Vault-Token", r)
        .header("X-Vault-Wrap-TTL", "5m")
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(resp["data"], Value::Null);
    assert_eq!(resp["wrap_info"]["creation_path"], "secret/data/w");
    let token = resp["wrap_info"]["token"].as_str().unwrap();
    let unwrapped = expect(c, "POST", "sys/wrapping/unwrap", r, Some(json!({"token": token})), 200);
    assert_eq!(unwrapped["data"]["data"], json!({"pw": "hunter2"}));
    assert_eq!(unwrapped["data"]["metadata"]["version"], 1);
}

#[test]
fn kv_concurrent_writes_get_distinct_versions() {
    let (_dir, server, root) = start_with_kv2();
    let base = server.client.base.clone();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (base, root) = (base.clone(), root.clone());
            std::thread::spawn(move || {
                let c = Client::new(&base);
                let w = expect(
                    &c,
                    "POST",
                    "secret/data/hot",
                    &root,
                    Some(json!({"data": {"i": i}})),
                    200,
                );
                w["data"]["version"].as_u64().unwrap()
            })
        })
        .collect();
    let mut versions: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    versions.sort();
    assert_eq!(versions, (1..=16).collect::<Vec<u64>>());
    let c = &server.client;
    let meta = expect(c, "GET", "secret/metadata/hot", &root, None, 200);
    assert_eq!(meta["data"]["current_version"], 16);
    assert_eq!(meta["data"]["versions"].as_object().unwrap().len(), 10);
    // CAS under contention: exactly one of the writers expecting version 16 wins.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (base, root) = (base.clone(), root.clone());
            std::thread::spawn(move || {
                let c = Client::new(&base);
                send(
                    &c,
                    "POST",
                    "secret/data/hot",
                    &root,
                    Some(json!({"data": {}, "options": {"cas": 16}})),
                )
                .0
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
}

#[test]
fn kv_writes_survive_kill9_and_stay_encrypted() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    enable(c, r, "secret", json!({"type": "kv-v2"}));
    enable(c, r, "old", json!({"type": "kv-v1"}));
    let secret_value = "kv-plaintext-canary-7f3a";
    for i in 0..20 {
        expect(
            c,
            "POST",
            &format!("secret/data/k{i}"),
            r,
            Some(json!({"data": {"v": secret_value, "i": i}})),
            200,
        );
    }
    expect(c, "POST", "old/k", r, Some(json!({"v": secret_value})), 204);
    expect(c, "POST", "cubbyhole/k", r, Some(json!({"v": secret_value})), 204);
    server.kill9();

    for (place, bytes) in crate::common::stored_bytes(&dir.path().join("data")) {
        assert!(
            !bytes.windows(secret_value.len()).any(|w| w == secret_value.as_bytes()),
            "plaintext secret in {place}"
        );
    }

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    for i in 0..20 {
        let got = expect(c, "GET", &format!("secret/data/k{i}"), r, None, 200);
        assert_eq!(got["data"]["data"]["i"], i);
    }
    assert_eq!(expect(c, "GET", "old/k", r, None, 200)["data"]["v"], secret_value);
    assert_eq!(expect(c, "GET", "cubbyhole/k", r, None, 200)["data"]["v"], secret_value);
}

on_postgresql!(
    kv2_versions_cas_and_reads,
    kv2_delete_undelete_destroy_and_metadata,
    kv2_version_window_and_delete_version_after,
    kv2_metadata_settings_and_lists,
    kv1_crud_lists_and_lease_hints,
    kv_writes_are_create_or_update_for_the_acl,
    kv1_upgrades_to_kv2_by_tune,
    kv_wrapped_read_unwraps_to_the_secret,
    kv_concurrent_writes_get_distinct_versions,
    kv_writes_survive_kill9_and_stay_encrypted
);
