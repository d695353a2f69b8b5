//! The AppRole auth method end to end: a single-use secret ID under 50 concurrent logins, the wrapped secret ID
//! flow (trusted orchestrator) over HTTP and with OpenBao's CLI, CIDR bindings against the client's address
//! (127.0.0.1), restarts between issuing a secret ID and using it, expiry and tidy, and OpenBao's 400s for bad
//! input.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};
use crate::tools::run_bao;

const INVALID: &str = "invalid role or secret ID";

fn enable(c: &Client, root: &str) {
    assert_eq!(c.put("sys/auth/approle", Some(root), json!({"type": "approle"})).0, 204);
}

fn role(c: &Client, root: &str, name: &str, body: Value) -> String {
    let (status, answer) = c.put(&format!("auth/approle/role/{name}"), Some(root), body);
    assert!(status == 204 || status == 200, "{status} {answer}");
    let (status, answer) = c.get(&format!("auth/approle/role/{name}/role-id"), Some(root));
    assert_eq!(status, 200, "{answer}");
    answer["data"]["role_id"].as_str().unwrap().to_string()
}

fn secret_id(c: &Client, root: &str, name: &str, body: Value) -> (String, String) {
    let (status, answer) = c.put(&format!("auth/approle/role/{name}/secret-id"), Some(root), body);
    assert_eq!(status, 200, "{answer}");
    (
        answer["data"]["secret_id"].as_str().unwrap().to_string(),
        answer["data"]["secret_id_accessor"].as_str().unwrap().to_string(),
    )
}

fn login(c: &Client, role_id: &str, secret_id: &str) -> (u16, Value) {
    c.put(
        "auth/approle/login",
        None,
        json!({"role_id": role_id, "secret_id": secret_id}),
    )
}

fn error_of(answer: &Value) -> &str {
    answer["errors"][0].as_str().unwrap_or("")
}

/// `POST path` with `X-Vault-Wrap-TTL`.
fn wrapped(c: &Client, token: &str, path: &str, ttl: &str) -> (u16, Value) {
    c.try_call(
        "POST",
        path,
        Some(token),
        &[("X-Vault-Wrap-TTL", ttl)],
        Some(b"{}".to_vec()),
    )
    .unwrap()
}

#[test]
fn fifty_concurrent_logins_use_a_single_use_secret_id_once() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_id = role(
        c,
        &root,
        "once",
        json!({"secret_id_num_uses": 1, "token_policies": "app"}),
    );
    let (secret, _) = secret_id(c, &root, "once", json!({}));
    let base = c.base.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (base, role_id, secret, barrier) = (base.clone(), role_id.clone(), secret.clone(), barrier.clone());
            std::thread::spawn(move || {
                let client = Client::new(&base);
                barrier.wait();
                login(&client, &role_id, &secret)
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let tokens: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, a)| a).collect();
    assert_eq!(tokens.len(), 1, "{answers:?}");
    // The others are refused: OpenBao's 400, or, once the wrong tries reached the role ID's lockout threshold (a
    // used-up secret ID is an unknown one), its 403 for a locked-out alias.
    let refused = answers
        .iter()
        .filter(|(s, a)| (*s == 400 && error_of(a) == INVALID) || (*s == 403 && error_of(a) == "permission denied"))
        .count();
    assert_eq!(refused, 49, "{answers:?}");
    assert!(answers.iter().any(|(s, _)| *s == 400), "{answers:?}");
    let token = tokens[0]["auth"]["client_token"].as_str().unwrap();
    assert_eq!(tokens[0]["auth"]["policies"], json!(["app", "default"]));
    let (status, looked) = c.get("auth/token/lookup-self", Some(token));
    assert_eq!(status, 200, "{looked}");
    assert_eq!(looked["data"]["meta"], json!({"role_name": "once"}));
    // Used up: gone from the role's list.
    assert_eq!(
        c.call("LIST", "auth/approle/role/once/secret-id", Some(&root), None).0,
        404
    );
}

#[test]
fn wrapped_secret_ids_unwrap_rewrap_and_log_in() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_id = role(c, &root, "web", json!({"token_policies": "web", "token_ttl": "1h"}));

    let (status, answer) = wrapped(c, &root, "auth/approle/role/web/secret-id", "60s");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], Value::Null);
    let info = &answer["wrap_info"];
    assert_eq!(info["creation_path"], "auth/approle/role/web/secret-id");
    assert_eq!(info["ttl"], 60);
    // The accessor of the wrapped secret ID, as OpenBao shows it.
    let (status, listed) = c.call("LIST", "auth/approle/role/web/secret-id", Some(&root), None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"]["keys"], json!([info["wrapped_accessor"]]));
    let first = info["token"].as_str().unwrap().to_string();

    // Rewrapping keeps the secret ID and invalidates the first wrapping token.
    let (status, rewrapped) = c.put("sys/wrapping/rewrap", Some(&root), json!({"token": first}));
    assert_eq!(status, 200, "{rewrapped}");
    assert_eq!(
        rewrapped["wrap_info"]["creation_path"],
        "auth/approle/role/web/secret-id"
    );
    let second = rewrapped["wrap_info"]["token"].as_str().unwrap().to_string();
    let (status, answer) = c.put("sys/wrapping/unwrap", Some(&first), json!({}));
    assert!(
        status == 400 || status == 403,
        "the first token is spent: {status} {answer}"
    );

    // The orchestrator hands the wrapping token over; the application unwraps it with itself as the token.
    let (status, unwrapped) = c.put("sys/wrapping/unwrap", Some(&second), json!({}));
    assert_eq!(status, 200, "{unwrapped}");
    let secret = unwrapped["data"]["secret_id"].as_str().unwrap();
    let accessor = unwrapped["data"]["secret_id_accessor"].as_str().unwrap();
    assert_eq!(listed["data"]["keys"], json!([accessor]));
    let (status, answer) = login(c, &role_id, secret);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["auth"]["policies"], json!(["default", "web"]));
    assert_eq!(answer["auth"]["lease_duration"], 3600);

    // The same with OpenBao's CLI.
    let addr = format!("http://{}", server.addr);
    let (code, out, err) = run_bao(
        &addr,
        Some(&root),
        &[
            "write",
            "-wrap-ttl=60s",
            "-format=json",
            "-f",
            "auth/approle/role/web/secret-id",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["wrap_info"]["creation_path"], "auth/approle/role/web/secret-id");
    let wrapping_token = answer["wrap_info"]["token"].as_str().unwrap().to_string();
    let (code, out, err) = run_bao(&addr, None, &["unwrap", "-format=json", &wrapping_token]);
    assert_eq!(code, 0, "{out}\n{err}");
    let unwrapped: Value = serde_json::from_str(&out).unwrap();
    let secret = unwrapped["data"]["secret_id"].as_str().unwrap();
    let (code, out, err) = run_bao(
        &addr,
        None,
        &[
            "write",
            "-format=json",
            "auth/approle/login",
            &format!("role_id={role_id}"),
            &format!("secret_id={secret}"),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["auth"]["metadata"], json!({"role_name": "web"}));
    let (code, _, err) = run_bao(&addr, None, &["unwrap", &wrapping_token]);
    assert_eq!(code, 2, "a wrapping token unwraps once: {err}");
}

#[test]
fn cidr_bindings_follow_the_client_address() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_id = role(c, &root, "bound", json!({}));
    // Requests come from 127.0.0.1.
    let (far, _) = secret_id(c, &root, "bound", json!({"cidr_list": "10.0.0.0/8"}));
    let (status, answer) = login(c, &role_id, &far);
    assert_eq!(
        (status, error_of(&answer)),
        (
            400,
            "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID"
        )
    );
    // A refused address does not use up a limited secret ID.
    let (far_once, _) = secret_id(
        c,
        &root,
        "bound",
        json!({"cidr_list": "10.0.0.0/8,192.168.0.0/16", "num_uses": 1}),
    );
    for _ in 0..2 {
        let (status, answer) = login(c, &role_id, &far_once);
        assert_eq!(
            (status, error_of(&answer)),
            (
                400,
                "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)"
            )
        );
    }
    let (near, _) = secret_id(c, &root, "bound", json!({"cidr_list": ["127.0.0.0/8"], "num_uses": 1}));
    assert_eq!(login(c, &role_id, &near).0, 200);

    // The role's own binding.
    let role_id = role(c, &root, "far", json!({"secret_id_bound_cidrs": "10.0.0.0/8"}));
    let (status, answer) = c.put(
        "auth/approle/role/far/secret-id",
        Some(&root),
        json!({"cidr_list": "127.0.0.0/8"}),
    );
    assert_eq!(status, 400);
    assert!(
        error_of(&answer).starts_with(
            "failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.0/8\"] and CIDR blocks on the secret ID [\"127.0.0.0/8\"]"
        ),
        "{answer}"
    );
    let (secret, _) = secret_id(c, &root, "far", json!({}));
    let (status, answer) = login(c, &role_id, &secret);
    assert_eq!(
        (status, error_of(&answer)),
        (
            400,
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
        )
    );
    assert_eq!(
        c.put(
            "auth/approle/role/far/secret-id-bound-cidrs",
            Some(&root),
            json!({"secret_id_bound_cidrs": "127.0.0.1/32"})
        )
        .0,
        204
    );
    assert_eq!(login(c, &role_id, &secret).0, 200);
    // Without a secret ID, the role's binding is its constraint.
    let open = role(
        c,
        &root,
        "nosecret",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"}),
    );
    let (status, answer) = c.put("auth/approle/login", None, json!({"role_id": open}));
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn secret_ids_and_their_use_counts_survive_restarts() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    enable(&server.client, &root);
    let role_id = role(&server.client, &root, "durable", json!({}));
    let (secret, accessor) = secret_id(&server.client, &root, "durable", json!({"num_uses": 2}));
    server.terminate();

    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let (status, answer) = login(&server.client, &role_id, &secret);
    assert_eq!(status, 200, "{answer}");
    // kill -9 right after the 200: the use is on disk.
    server.kill9();

    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let c = &server.client;
    let (status, looked) = c.put(
        "auth/approle/role/durable/secret-id-accessor/lookup",
        Some(&root),
        json!({"secret_id_accessor": accessor}),
    );
    assert_eq!(status, 200, "{looked}");
    assert_eq!(looked["data"]["secret_id_num_uses"], 1);
    assert_eq!(login(c, &role_id, &secret).0, 200);
    let (status, answer) = login(c, &role_id, &secret);
    assert_eq!((status, error_of(&answer)), (400, INVALID));
}

#[test]
fn expired_secret_ids_are_refused_and_tidied() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_id = role(c, &root, "short", json!({}));
    let (secret, _) = secret_id(c, &root, "short", json!({"ttl": "1s"}));
    let (_keep, keep_accessor) = secret_id(c, &root, "short", json!({}));
    std::thread::sleep(Duration::from_millis(2100));
    let (status, answer) = login(c, &role_id, &secret);
    assert_eq!((status, error_of(&answer)), (400, INVALID));
    let (_, expired_accessor) = secret_id(c, &root, "short", json!({"ttl": "1s"}));
    std::thread::sleep(Duration::from_millis(2100));
    let (status, answer) = c.put("auth/approle/tidy/secret-id", Some(&root), json!({}));
    assert_eq!(status, 202, "{answer}");
    let (status, listed) = c.call("LIST", "auth/approle/role/short/secret-id", Some(&root), None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"]["keys"], json!([keep_accessor]));
    let (status, answer) = c.put(
        "auth/approle/role/short/secret-id-accessor/lookup",
        Some(&root),
        json!({"secret_id_accessor": expired_accessor}),
    );
    assert_eq!(status, 404, "{answer}");
}

#[test]
fn bad_input_gets_openbaos_errors() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_a = role(c, &root, "a", json!({}));
    let role_b = role(c, &root, "b", json!({}));
    let (secret_a, _) = secret_id(c, &root, "a", json!({}));
    let put = |path: &str, body: Value| c.put(&format!("auth/approle/{path}"), Some(&root), body);
    let expect = |(status, answer): (u16, Value), want_status: u16, want: &str| {
        assert_eq!((status, error_of(&answer)), (want_status, want), "{answer}");
    };
    expect(put("role/", json!({})), 400, "cannot write to a path ending in '/'");
    let long = "r".repeat(4097);
    expect(
        put(&format!("role/{long}"), json!({})),
        400,
        "role_name is longer than maximum of 4096 bytes",
    );
    expect(
        put("role/c", json!({"secret_id_bound_cidrs": "10.0.0.0/33"})),
        400,
        "failed to validate CIDR blocks: invalid CIDR address: 10.0.0.0/33",
    );
    expect(
        put("role/c", json!({"secret_id_num_uses": -1})),
        400,
        "secret_id_num_uses cannot be negative",
    );
    expect(
        put("role/c", json!({"secret_id_ttl": "-1s"})),
        400,
        "error converting input for field \"secret_id_ttl\": cannot provide negative value '-1'",
    );
    expect(
        put("role/c", json!({"bind_secret_id": false})),
        400,
        "at least one constraint should be enabled on the role",
    );
    expect(
        put("role/c", json!({"token_num_uses": -1})),
        400,
        "'token_num_uses' cannot be negative",
    );
    assert_eq!(c.get("auth/approle/role/c", Some(&root)).0, 404, "nothing was written");
    expect(
        put("role/a/secret-id", json!({"cidr_list": "nope"})),
        400,
        "failed to validate CIDR blocks: invalid CIDR address: nope",
    );
    expect(
        put("role/a/secret-id", json!({"num_uses": -1})),
        400,
        "num_uses cannot be negative",
    );
    expect(
        put("role/a/secret-id", json!({"ttl": -1})),
        400,
        "Field validation failed: error converting input for field \"ttl\": cannot provide negative value '-1'",
    );
    expect(
        put("role/a/secret-id", json!({"metadata": "no-pairs"})),
        400,
        "failed to parse metadata: failed to parse the input: invalid <key,value> format",
    );
    expect(put("role/zz/secret-id", json!({})), 404, "role \"zz\" does not exist");
    expect(put("role/a/custom-secret-id", json!({})), 400, "missing secret_id");
    expect(
        put("role/a/custom-secret-id", json!({"secret_id": secret_a})),
        400,
        "failed to store secret_id: SecretID is already registered",
    );
    expect(
        put("role/b/role-id", json!({"role_id": role_a})),
        400,
        "role_id already in use",
    );
    // Logins: a secret ID of another role, an unknown role ID, missing values.
    expect(login(c, &role_b, &secret_a), 400, INVALID);
    expect(login(c, "no-such-role-id", &secret_a), 400, INVALID);
    expect(login(c, &role_a, "no-such-secret-id"), 400, INVALID);
    expect(login(c, &role_a, &"s".repeat(5000)), 400, INVALID);
    expect(c.put("auth/approle/login", None, json!({})), 400, "missing role_id");
    expect(
        c.put("auth/approle/login", None, json!({"role_id": role_a})),
        400,
        "missing secret_id",
    );
    assert_eq!(login(c, &role_a, &secret_a).0, 200, "the right pair still works");
}

#[test]
fn disabling_the_method_revokes_its_tokens_and_deletes_its_roles() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root);
    let role_id = role(c, &root, "gone", json!({}));
    let (secret, _) = secret_id(c, &root, "gone", json!({}));
    let (status, answer) = login(c, &role_id, &secret);
    assert_eq!(status, 200, "{answer}");
    let token = answer["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(c.get("auth/token/lookup-self", Some(&token)).0, 200);
    assert_eq!(c.call("DELETE", "sys/auth/approle", Some(&root), None).0, 204);
    assert_eq!(c.get("auth/token/lookup-self", Some(&token)).0, 403);
    enable(c, &root);
    assert_eq!(c.call("LIST", "auth/approle/role", Some(&root), None).0, 404);
    let (status, answer) = login(c, &role_id, &secret);
    assert_eq!((status, error_of(&answer)), (400, INVALID));
}
