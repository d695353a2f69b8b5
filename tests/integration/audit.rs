//! Audit devices end to end: declared file devices, HMAC'd entries (no token, accessor, password or secret in
//! clear), the API (refused unless the configuration allows it), the table and salts surviving a restart,
//! fail-closed requests, SIGHUP reopening files, and `bao audit` against ours.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, TestServer};
use crate::tools::run_bao;

const SECRET: &str = "hunter2-very-secret-value";
const PASSWORD: &str = "pa55w0rd-of-bob";

pub(crate) fn file_stanza(path: &str, file: &Path, extra_options: &str) -> String {
    format!(
        "audit \"file\" \"{path}\" {{\n  description = \"to a file\"\n  options {{\n    file_path = \"{}\"\n{extra_options}\n  }}\n}}\n",
        file.display()
    )
}

/// Start with `extra` in the configuration, initialize and unseal; returns the server and the root token.
pub(crate) fn start(dir: &Path, extra: &str) -> (TestServer, String, Vec<String>) {
    let config = write_config(dir, &dir.join("data"), extra, "  tls_disable = true");
    let server = TestServer::start_with_config(dir, &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    (server, root, keys)
}

pub(crate) fn restart(dir: &Path, server: TestServer, keys: &[String], extra: &str) -> (TestServer, Value) {
    server.terminate();
    let config = write_config(dir, &dir.join("data"), extra, "  tls_disable = true");
    let server = TestServer::start_with_config(dir, &config, "http", None);
    let last = server.client.unseal_with(keys);
    (server, last)
}

pub(crate) fn entries(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub(crate) fn enable_kv(server: &TestServer, root: &str) {
    let (s, b) = server.client.put(
        "sys/mounts/secret",
        Some(root),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(s, 204, "{b}");
}

#[test]
fn declared_device_records_everything_hmaced() {
    let dir = temp_dir();
    let log = dir.path().join("logs/audit.log");
    let (server, root, _) = start(dir.path(), &file_stanza("f", &log, ""));
    let c = &server.client;
    enable_kv(&server, &root);
    assert_eq!(
        c.put("secret/data/app", Some(&root), json!({"data": {"password": SECRET}}))
            .0,
        200
    );
    let (s, read) = c.get("secret/data/app", Some(&root));
    assert_eq!((s, read["data"]["data"]["password"].as_str()), (200, Some(SECRET)));
    assert_eq!(
        c.put("sys/auth/userpass", Some(&root), json!({"type": "userpass"})).0,
        204
    );
    assert_eq!(
        c.put("auth/userpass/users/bob", Some(&root), json!({"password": PASSWORD}))
            .0,
        204
    );
    let (s, login) = c.put("auth/userpass/login/bob", None, json!({"password": PASSWORD}));
    assert_eq!(s, 200, "{login}");
    let bob = login["auth"]["client_token"].as_str().unwrap().to_string();
    let bob_accessor = login["auth"]["accessor"].as_str().unwrap().to_string();
    // Denied (bob has only `default`), and an unknown token.
    assert_eq!(c.get("secret/data/app", Some(&bob)).0, 403);
    assert_eq!(c.get("secret/data/app", Some("not-a-token")).0, 403);
    let (s, created) = c.put("auth/token/create", Some(&root), json!({"policies": ["default"]}));
    assert_eq!(s, 200);
    let child = created["auth"]["client_token"].as_str().unwrap().to_string();

    let text = std::fs::read_to_string(&log).unwrap();
    for clear in [
        SECRET,
        PASSWORD,
        root.as_str(),
        bob.as_str(),
        bob_accessor.as_str(),
        child.as_str(),
    ] {
        assert!(!text.contains(clear), "{clear:?} appears in clear in the audit log");
    }
    assert_eq!(crate::common::mode_of(&log) & 0o777, 0o600);

    let all = entries(&log);
    // The test message written when the device was created comes first.
    assert_eq!(all[0]["request"]["path"], "sys/audit/test");
    let hash = |input: &str| {
        let (s, b) = c.put("sys/audit-hash/f", Some(&root), json!({ "input": input }));
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["hash"], b["hash"]);
        b["data"]["hash"].as_str().unwrap().to_string()
    };
    let write = all
        .iter()
        .find(|e| {
            e["type"] == "request" && e["request"]["path"] == "secret/data/app" && e["request"]["operation"] == "create"
        })
        .expect("the K/V write's request entry");
    assert_eq!(write["request"]["data"]["data"]["password"], hash(SECRET));
    assert_eq!(write["request"]["client_token"], hash(&root));
    assert_eq!(write["auth"]["client_token"], hash(&root));
    assert_eq!(write["auth"]["policies"], json!(["root"]));
    assert_eq!(write["auth"]["policy_results"], json!({"allowed": true}));
    assert_eq!(write["request"]["mount_type"], "kv");
    assert_eq!(write["request"]["mount_point"], "secret/");
    assert_eq!(write["request"]["namespace"], json!({"id": "root"}));
    assert_eq!(write["request"]["remote_address"], "127.0.0.1");
    let read = all
        .iter()
        .find(|e| {
            e["type"] == "response"
                && e["request"]["path"] == "secret/data/app"
                && e["request"]["operation"] == "read"
                && e["auth"]["policies"] == json!(["root"])
        })
        .expect("the K/V read's response entry");
    assert_eq!(read["response"]["data"]["data"]["password"], hash(SECRET));
    // Timestamps stay in clear (OpenBao leaves RFC 3339 strings alone); empty strings are HMAC'd.
    assert!(read["response"]["data"]["metadata"]["created_time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let login_response = all
        .iter()
        .find(|e| e["type"] == "response" && e["request"]["path"] == "auth/userpass/login/bob")
        .expect("the login's response entry");
    assert_eq!(login_response["auth"]["client_token"], hash(&bob));
    assert_eq!(login_response["response"]["auth"]["accessor"], hash(&bob_accessor));
    assert_eq!(login_response["request"]["data"]["password"], hash(PASSWORD));
    let denied = all
        .iter()
        .find(|e| {
            e["type"] == "request"
                && e["auth"]["client_token"] == hash(&bob)
                && e["request"]["path"] == "secret/data/app"
        })
        .expect("the denied request's entry");
    assert_eq!(denied["error"], "1 error occurred:\n\t* permission denied\n\n");
    assert_eq!(denied["auth"]["policy_results"], json!({"allowed": false}));
    let unknown = all
        .iter()
        .find(|e| e["type"] == "response" && e["request"]["client_token"] == hash("not-a-token"))
        .expect("the unknown token's entry");
    assert_eq!(unknown["error"], "permission denied");
    assert_eq!(unknown["auth"], json!({"token_type": "default"}));
    let token_create = all
        .iter()
        .find(|e| e["type"] == "response" && e["request"]["path"] == "auth/token/create")
        .expect("the token creation's entry");
    assert_eq!(token_create["response"]["auth"]["client_token"], hash(&child));

    // Listed; not disabled through the API; not re-created through it either.
    let (s, list) = c.get("sys/audit", Some(&root));
    assert_eq!(s, 200);
    assert_eq!(list["data"]["f/"]["type"], "file");
    assert_eq!(list["data"]["f/"]["description"], "to a file");
    assert_eq!(list["data"]["f/"]["options"]["file_path"], log.display().to_string());
    let (s, b) = c.call("DELETE", "sys/audit/f", Some(&root), None);
    assert_eq!(
        (s, b["errors"][0].as_str()),
        (400, Some("cannot disable configuration-managed audit device"))
    );
    let (s, b) = c.put(
        "sys/audit/g",
        Some(&root),
        json!({"type": "file", "options": {"file_path": "stdout"}}),
    );
    assert_eq!(s, 400);
    assert_eq!(
        b["errors"][0],
        "cannot enable audit device via API; use declarative, config-based audit device management instead"
    );
    let (s, b) = c.put("sys/audit-hash/nope", Some(&root), json!({"input": "x"}));
    assert_eq!(
        (s, b["errors"][0].as_str()),
        (400, Some("unknown audit backend \"nope/\""))
    );
    let (s, b) = c.put("sys/audit-hash/f", Some(&root), json!({}));
    assert_eq!(
        (s, b["errors"][0].as_str()),
        (400, Some("the \"input\" parameter is empty"))
    );
    // Without a token: refused, and audited too.
    assert_eq!(c.get("sys/audit", None).0, 403);
}

#[test]
fn api_devices_and_salts_survive_restarts() {
    let dir = temp_dir();
    let raw_log = dir.path().join("raw.log");
    let extra = "unsafe_allow_api_audit_creation = true\n";
    let (server, root, keys) = start(dir.path(), extra);
    let c = &server.client;
    enable_kv(&server, &root);
    // With no device, requests run unaudited.
    assert_eq!(
        c.put("secret/data/a", Some(&root), json!({"data": {"k": SECRET}})).0,
        200
    );
    let opts = json!({"type": "file", "description": "raw", "options": {"file_path": raw_log, "log_raw": "true", "hmac_accessor": "false"}});
    let (s, b) = c.put("sys/audit/raw", Some(&root), opts);
    assert_eq!(s, 204, "{b}");
    let (s, b) = c.put(
        "sys/audit/raw/sub",
        Some(&root),
        json!({"type": "file", "options": {"file_path": "discard"}}),
    );
    assert_eq!((s, b["errors"][0].as_str()), (400, Some("path already in use")));
    let (s, b) = c.put("sys/audit/x", Some(&root), json!({"type": "nope"}));
    assert_eq!(
        (s, b["errors"][0].as_str()),
        (400, Some("unknown backend type: \"nope\""))
    );
    let (s, b) = c.put(
        "sys/audit/x",
        Some(&root),
        json!({"type": "file", "options": {"file_path": "discard", "format": "jsonx"}}),
    );
    assert_eq!(s, 400);
    assert!(
        b["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("jsonx formatting has been removed"),
        "{b}"
    );
    let (s, b) = c.put(
        "sys/audit/x",
        Some(&root),
        json!({"type": "file", "options": {"file_path": "discard", "prefix": "p"}}),
    );
    assert_eq!(
        (s, b["errors"][0].as_str()),
        (400, Some("audit log prefixing is not allowed"))
    );
    let (s, b) = c.put(
        "sys/audit/d",
        Some(&root),
        json!({"type": "file", "options": {"file_path": "discard"}}),
    );
    assert_eq!(s, 204, "{b}");
    assert_eq!(c.get("secret/data/a", Some(&root)).0, 200);
    // log_raw: everything in clear, by request.
    let text = std::fs::read_to_string(&raw_log).unwrap();
    assert!(text.contains(SECRET) && text.contains(&root));
    let hash = |c: &crate::common::Client, path: &str| {
        c.put(&format!("sys/audit-hash/{path}"), Some(&root), json!({"input": "same"}))
            .1["hash"]
            .clone()
    };
    let (before_raw, before_discard) = (hash(c, "raw"), hash(c, "d"));
    assert_ne!(before_raw, before_discard, "each device has its own salt");

    let (server, _) = restart(dir.path(), server, &keys, extra);
    let c = &server.client;
    let (_, list) = c.get("sys/audit", Some(&root));
    let mut paths: Vec<&String> = list["data"].as_object().unwrap().keys().collect();
    paths.sort();
    assert_eq!(paths, ["d/", "raw/"]);
    assert_eq!(hash(c, "raw"), before_raw, "the salt is kept behind the barrier");
    assert_eq!(hash(c, "d"), before_discard);
    // Disabled: gone, and stays gone; disabling nothing is no error.
    assert_eq!(c.call("DELETE", "sys/audit/raw", Some(&root), None).0, 204);
    assert_eq!(c.call("DELETE", "sys/audit/raw", Some(&root), None).0, 204);
    let lines = std::fs::read_to_string(&raw_log).unwrap().lines().count();
    assert_eq!(c.get("secret/data/a", Some(&root)).0, 200);
    assert_eq!(std::fs::read_to_string(&raw_log).unwrap().lines().count(), lines);
    let (server, _) = restart(dir.path(), server, &keys, extra);
    let (_, list) = server.client.get("sys/audit", Some(&root));
    assert_eq!(list["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["d/"]);
}

#[test]
fn declared_devices_follow_the_configuration() {
    let dir = temp_dir();
    let log = dir.path().join("a.log");
    let stanza = file_stanza("f", &log, "");
    let (server, root, keys) = start(dir.path(), &stanza);
    // Changed in the configuration: refused at unseal, as OpenBao refuses modifications.
    let changed = file_stanza("f", &log, "    hmac_accessor = \"false\"");
    server.terminate();
    let config = write_config(dir.path(), &dir.path().join("data"), &changed, "  tls_disable = true");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (s, b) = server.client.put("sys/unseal", None, json!({"key": keys[0]}));
    assert_ne!(s, 200, "{b}");
    assert!(
        b["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("modifications to audit devices are not allowed"),
        "{b}"
    );
    // Removed from the configuration: disabled at unseal.
    let (server, last) = restart(dir.path(), server, &keys, "");
    assert_eq!(last["sealed"], false, "{last}");
    let (_, list) = server.client.get("sys/audit", Some(&root));
    assert_eq!(list["data"], json!({}));
}

/// A file device whose file became a directory (after a SIGHUP): the K/V write is refused with OpenBao's 500 and
/// does not happen; with a second, working device, requests go on.
#[test]
fn requests_fail_closed_when_no_device_records_them() {
    let dir = temp_dir();
    let log = dir.path().join("logs/audit.log");
    let (server, root, _) = start(dir.path(), &file_stanza("f", &log, ""));
    let c = &server.client;
    enable_kv(&server, &root);
    let (s, wrapped) = c.put("sys/wrapping/wrap", Some(&root), json!({"k": "v"}));
    assert_eq!(s, 400, "wrap needs a wrap TTL: {wrapped}");
    let (_, wrapped) = c
        .try_call(
            "PUT",
            "sys/wrapping/wrap",
            Some(&root),
            &[("X-Vault-Wrap-TTL", "300")],
            Some(b"{\"k\":\"v\"}".to_vec()),
        )
        .unwrap();
    let wrapping_token = wrapped["wrap_info"]["token"].as_str().unwrap().to_string();
    std::fs::remove_file(&log).unwrap();
    std::fs::create_dir(&log).unwrap();
    hangup(&server);
    let internal = (500, json!({"errors": ["internal error"]}));
    assert_eq!(
        c.put("secret/data/refused", Some(&root), json!({"data": {"k": "v"}})),
        internal
    );
    assert_eq!(
        c.put("auth/userpass/login/bob", None, json!({"password": "x"})),
        internal
    );
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&wrapping_token), json!({})), internal);
    assert_eq!(c.get("sys/storage/raft/snapshot", Some(&root)).0, 500);
    std::fs::remove_dir(&log).unwrap();
    // The next entry reopens the file: the write above never happened, the wrapping token was not used.
    assert_eq!(c.get("secret/data/refused", Some(&root)).0, 404);
    let (s, unwrapped) = c.put("sys/wrapping/unwrap", Some(&wrapping_token), json!({}));
    assert_eq!((s, &unwrapped["data"]), (200, &json!({"k": "v"})));
    assert!(entries(&log)
        .iter()
        .any(|e| e["request"]["path"] == "secret/data/refused"));
    // The snapshot endpoints, served by the HTTP layer, are audited too.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let saved = agent
        .get(format!("{}/v1/sys/storage/raft/snapshot", c.base))
        .header("X-Vault-Token", &root)
        .call()
        .unwrap();
    assert_eq!(saved.status().as_u16(), 200);
    drop(saved);
    let snapshot: Vec<Value> = entries(&log)
        .into_iter()
        .filter(|e| e["request"]["path"] == "sys/storage/raft/snapshot")
        .collect();
    assert_eq!(snapshot.len(), 2, "{snapshot:#?}");
    assert_eq!(
        (snapshot[0]["type"].as_str(), snapshot[1]["type"].as_str()),
        (Some("request"), Some("response"))
    );
    assert!(snapshot[0]["auth"]["client_token"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
}

#[test]
fn one_working_device_is_enough_and_sighup_follows_rotation() {
    let dir = temp_dir();
    let broken = dir.path().join("broken/audit.log");
    let good = dir.path().join("good.log");
    let extra = format!(
        "{}{}",
        file_stanza("broken", &broken, ""),
        file_stanza("good", &good, "")
    );
    let (server, root, _) = start(dir.path(), &extra);
    let c = &server.client;
    enable_kv(&server, &root);
    std::fs::remove_file(&broken).unwrap();
    std::fs::create_dir(&broken).unwrap();
    // Log rotation: the good file is moved away, SIGHUP opens a new one.
    let rotated = dir.path().join("good.log.1");
    std::fs::rename(&good, &rotated).unwrap();
    hangup(&server);
    assert_eq!(c.put("secret/data/ok", Some(&root), json!({"data": {"k": "v"}})).0, 200);
    assert_eq!(c.get("secret/data/ok", Some(&root)).0, 200);
    let fresh = entries(&good);
    assert!(fresh.iter().any(|e| e["request"]["path"] == "secret/data/ok"));
    assert!(!entries(&rotated)
        .iter()
        .any(|e| e["request"]["path"] == "secret/data/ok"));
}

pub(crate) fn hangup(server: &TestServer) {
    unsafe {
        libc::kill(server.pid() as i32, libc::SIGHUP);
    }
    // The handler runs on the server's runtime: wait until it has logged the reload.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.stderr().contains("SIGHUP: reopening audit devices") {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP not handled: {}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
}

#[test]
fn bao_audit_commands_work_against_ours() {
    let dir = temp_dir();
    let (server, root, _) = start(dir.path(), "unsafe_allow_api_audit_creation = true\n");
    let addr = format!("http://{}", server.addr);
    let log: PathBuf = dir.path().join("cli.log");
    let (code, out, err) = run_bao(
        &addr,
        Some(&root),
        &[
            "audit",
            "enable",
            "-path=cli",
            "-description=from the CLI",
            "file",
            &format!("file_path={}", log.display()),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Success! Enabled the file audit device at: cli/"), "{out}");
    let (code, out, err) = run_bao(&addr, Some(&root), &["audit", "list", "-detailed"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cli/") && out.contains("file") && out.contains("from the CLI"),
        "{out}"
    );
    let (code, out, err) = run_bao(&addr, Some(&root), &["audit", "disable", "cli"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Success! Disabled audit device (if it was enabled) at: cli/"),
        "{out}"
    );
    // Exit code 2 with nothing enabled is the CLI's own convention.
    let (code, out, _) = run_bao(&addr, Some(&root), &["audit", "list"]);
    assert_eq!(code, 2);
    assert!(out.contains("No audit devices are enabled."), "{out}");
    assert!(entries(&log).iter().any(|e| e["request"]["path"] == "sys/audit/cli"));
}

/// Each value's JSON type, with HMAC'd strings told apart from clear ones: what must agree between two servers.
fn shape(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("hmac-sha256:") => json!("<hmac>"),
        Value::String(_) => json!("<string>"),
        Value::Number(_) => json!("<number>"),
        Value::Bool(_) => json!("<bool>"),
        Value::Null => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Fields only OpenBao writes, each with the reason: removed from both sides before comparing.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("/request/client_id", "no identity store: no entities or client ids"),
    ("/auth/entity_id", "no identity store"),
    ("/auth/entity_created", "no identity store"),
    ("/response/auth/entity_id", "no identity store"),
    (
        "/auth/policy_results/granting_policies",
        "the ACL does not report which policies granted a request",
    ),
    (
        "/request/mount_accessor",
        "OpenBao's request entry names the mount accessor only when an existence check routed the request first",
    ),
];

fn without_known_differences(mut entry: Value) -> Value {
    for (pointer, _) in KNOWN_DIFFERENCES {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        if let Some(Value::Object(m)) = entry.pointer_mut(parent) {
            m.remove(key);
        }
    }
    entry
}

/// Run the compared requests against one server; returns its audit entries, by name.
fn compared_run(c: &crate::common::Client, root: &str, log: &Path) -> Vec<(&'static str, Value)> {
    let ok = |(s, b): (u16, Value), want: u16| {
        assert_eq!(s, want, "{b}");
        b
    };
    ok(
        c.put(
            "sys/mounts/secret",
            Some(root),
            json!({"type": "kv", "options": {"version": "2"}}),
        ),
        204,
    );
    ok(c.put("sys/auth/userpass", Some(root), json!({"type": "userpass"})), 204);
    ok(
        c.put(
            "auth/userpass/users/bob",
            Some(root),
            json!({"password": PASSWORD, "token_policies": "default"}),
        ),
        204,
    );
    ok(
        c.put("secret/data/app", Some(root), json!({"data": {"password": SECRET}})),
        200,
    );
    ok(c.get("secret/data/app", Some(root)), 200);
    ok(
        c.put(
            "auth/token/create",
            Some(root),
            json!({"policies": ["default"], "ttl": "1h"}),
        ),
        200,
    );
    let login = ok(
        c.put("auth/userpass/login/bob", None, json!({"password": PASSWORD})),
        200,
    );
    let bob = login["auth"]["client_token"].as_str().unwrap().to_string();
    ok(c.get("secret/data/app", Some(&bob)), 403);
    let wrapped = c
        .try_call(
            "GET",
            "secret/data/app",
            Some(root),
            &[("X-Vault-Wrap-TTL", "60")],
            None,
        )
        .unwrap();
    let wrapping_token = wrapped.1["wrap_info"]["token"].as_str().unwrap().to_string();
    ok(c.put("sys/wrapping/unwrap", Some(&wrapping_token), json!({})), 200);

    let all = entries(log);
    let find = |kind: &str, path: &str, pick: &dyn Fn(&Value) -> bool| {
        all.iter()
            .find(|e| e["type"] == kind && e["request"]["path"] == path && pick(e))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} entry for {path} in {all:#?}"))
    };
    let by_root = |e: &Value| e["auth"]["policies"] == json!(["root"]);
    let wrapped_read = |e: &Value| e["request"]["wrap_ttl"] == 60;
    let plain_read = |e: &Value| by_root(e) && !wrapped_read(e) && e["request"]["operation"] == "read";
    let denied = |e: &Value| e["auth"]["policy_results"]["allowed"] == false;
    let any = |_: &Value| true;
    let mut named = Vec::new();
    for kind in ["request", "response"] {
        named.push((
            "K/V write",
            find(kind, "secret/data/app", &|e| e["request"]["operation"] == "create"),
        ));
        named.push(("K/V read", find(kind, "secret/data/app", &plain_read)));
        named.push(("token create", find(kind, "auth/token/create", &any)));
        named.push(("login", find(kind, "auth/userpass/login/bob", &any)));
        named.push(("denied read", find(kind, "secret/data/app", &denied)));
        named.push(("wrapped read", find(kind, "secret/data/app", &wrapped_read)));
        named.push(("unwrap", find(kind, "sys/wrapping/unwrap", &any)));
    }
    named
}

/// The entries OpenBao 2.7.2 and ours write for the same requests agree in structure: the same keys at the same
/// places, the same JSON types, and HMAC'd exactly where OpenBao HMACs (values are not compared).
#[test]
fn entry_structure_matches_openbao() {
    let dir = temp_dir();
    let ours_log = dir.path().join("ours.log");
    let theirs_log = dir.path().join("theirs.log");
    let (server, root, _) = start(dir.path(), &file_stanza("f", &ours_log, ""));
    let ours = compared_run(&server.client, &root, &ours_log);

    let reference = crate::tools::ReferenceServer::start_with(&file_stanza("f", &theirs_log, ""));
    let client = crate::common::Client::new(&reference.addr);
    let (keys, reference_root) = client.init(1, 1);
    client.unseal_with(&keys);
    let theirs = compared_run(&client, &reference_root, &theirs_log);

    let mut mismatches = Vec::new();
    for ((name, ours), (_, theirs)) in ours.into_iter().zip(theirs) {
        let kind = theirs["type"].as_str().unwrap_or("").to_string();
        let (ours, theirs) = (
            shape(&without_known_differences(ours)),
            shape(&without_known_differences(theirs)),
        );
        if ours != theirs {
            mismatches.push(format!("{name} ({kind}):\n  OpenBao: {theirs}\n  ours:    {ours}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "audit entries differ in structure:\n{}",
        mismatches.join("\n")
    );
}

/// `hmac_chain = "true"`: every entry links to the one before it, across a restart; `vault audit verify` accepts the
/// file as written and names the first line after a removal or an edit.
#[test]
fn chained_entries_reveal_tampering() {
    let dir = temp_dir();
    let log = dir.path().join("chained.log");
    let stanza = file_stanza("c", &log, "    hmac_chain = \"true\"");
    let (server, root, keys) = start(dir.path(), &stanza);
    enable_kv(&server, &root);
    for i in 0..3 {
        let body = json!({"data": {"n": i.to_string()}});
        assert_eq!(server.client.put("secret/data/x", Some(&root), body).0, 200);
    }
    let (s, b) = server.client.get("sys/audit-chain-key/c", Some(&root));
    assert_eq!(s, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    let (server, _) = restart(dir.path(), server, &keys, &stanza);
    assert_eq!(server.client.get("secret/data/x", Some(&root)).0, 200);
    drop(server);
    let verify = |path: &Path| {
        crate::common::run_vault(&["audit", "verify", &format!("-key={key}"), &path.display().to_string()])
    };
    let (code, out, err) = verify(&log);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: "), "{out}");
    let all = entries(&log);
    assert!(all.len() >= 12, "{}", all.len());
    assert!(all.iter().all(|e| e["chain"].as_str().is_some_and(|c| c.len() == 64)));

    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let tampered = dir.path().join("tampered.log");
    let mut removed = lines.clone();
    removed.remove(5);
    std::fs::write(&tampered, removed.join("\n") + "\n").unwrap();
    let (code, out, _) = verify(&tampered);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("tampered.log:6: chain broken"), "{out}");
    let mut edited = lines.clone();
    edited[3] = edited[3].replacen("\"operation\":\"update\"", "\"operation\":\"read\"", 1);
    edited[3] = edited[3].replacen("\"operation\":\"create\"", "\"operation\":\"read\"", 1);
    assert_ne!(edited[3], lines[3]);
    std::fs::write(&tampered, edited.join("\n") + "\n").unwrap();
    let (code, out, _) = verify(&tampered);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("tampered.log:4: chain broken"), "{out}");
    let (code, _, _) = crate::common::run_vault(&["audit", "verify", "-key=00", &log.display().to_string()]);
    assert_eq!(code, 2);
}

/// Concurrent requests' entries are written together (a group commit per device): every request still has its
/// request entry before its response entry, none is lost, cut or interleaved, and a chaining device's chain runs
/// through the batches.
#[test]
fn concurrent_requests_keep_whole_ordered_chained_entries() {
    let dir = temp_dir();
    let chained = dir.path().join("chained.log");
    let plain = dir.path().join("plain.log");
    let stanza = file_stanza("c", &chained, "    hmac_chain = \"true\"") + &file_stanza("p", &plain, "");
    let (server, root, _keys) = start(dir.path(), &stanza);
    enable_kv(&server, &root);
    let (threads, rounds) = (24, 15);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (base, root, barrier) = (server.client.base.clone(), root.clone(), barrier.clone());
            std::thread::spawn(move || {
                let client = crate::common::Client::new(&base);
                barrier.wait();
                for i in 0..rounds {
                    let path = format!("secret/data/c{t}-{i}");
                    let (s, b) = client.put(&path, Some(&root), json!({"data": {"v": SECRET}}));
                    assert_eq!(s, 200, "{b}");
                    let (s, b) = client.get(&path, Some(&root));
                    assert_eq!(s, 200, "{b}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let (s, b) = server.client.get("sys/audit-chain-key/c", Some(&root));
    assert_eq!(s, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    drop(server);

    for file in [&chained, &plain] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains(SECRET), "a secret in clear in {}", file.display());
        // request id -> (line of its request entry, line of its response entry)
        let mut seen: std::collections::HashMap<String, (Option<usize>, Option<usize>)> = Default::default();
        for (n, e) in entries(file).iter().enumerate() {
            if !e["request"]["path"].as_str().unwrap_or("").starts_with("secret/data/c") {
                continue;
            }
            let slot = seen
                .entry(e["request"]["id"].as_str().unwrap().to_string())
                .or_default();
            let place = if e["type"] == "request" {
                &mut slot.0
            } else {
                &mut slot.1
            };
            assert!(
                place.is_none(),
                "two {} entries for one request in {}",
                e["type"],
                file.display()
            );
            *place = Some(n);
        }
        assert_eq!(seen.len(), threads * rounds * 2, "{}", file.display());
        for (id, (request, response)) in &seen {
            assert!(
                request.unwrap() < response.unwrap(),
                "{id}: the response entry before the request's"
            );
        }
    }
    let (code, out, err) = crate::common::run_vault(&[
        "audit",
        "verify",
        &format!("-key={key}"),
        &chained.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
