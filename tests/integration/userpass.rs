//! The userpass auth method end to end: OpenBao's CLI logs in with it, a wrong password and an unknown user cost
//! the same time, a login's token goes when the method is disabled, and logins survive a restart.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::tools::run_bao;

fn setup(server: &TestServer, root: &str) {
    let c = &server.client;
    assert_eq!(
        c.put("sys/auth/userpass", Some(root), json!({"type": "userpass"})).0,
        204
    );
    let user = json!({"password": "s3cret", "token_policies": "reader", "token_ttl": "1h"});
    assert_eq!(c.put("auth/userpass/users/alice", Some(root), user).0, 204);
}

fn login(server: &TestServer, user: &str, password: &str) -> (u16, Value) {
    server.client.put(
        &format!("auth/userpass/login/{user}"),
        None,
        json!({"password": password}),
    )
}

#[test]
fn bao_logs_in_with_userpass() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    setup(&server, &root);
    let addr = format!("http://{}", server.addr);
    let (code, out, err) = run_bao(
        &addr,
        None,
        &[
            "login",
            "-method=userpass",
            "-format=json",
            "-no-store",
            "username=alice",
            "password=s3cret",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    let token = answer["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(answer["auth"]["policies"], json!(["default", "reader"]));
    assert_eq!(answer["auth"]["metadata"], json!({"username": "alice"}));
    let (code, out, _) = run_bao(&addr, Some(&token), &["token", "lookup", "-format=json"]);
    assert_eq!(code, 0);
    let looked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(looked["data"]["display_name"], "userpass-alice");
    assert_eq!(looked["data"]["path"], "auth/userpass/login/alice");
    let (code, _, err) = run_bao(
        &addr,
        None,
        &[
            "login",
            "-method=userpass",
            "-no-store",
            "username=alice",
            "password=wrong",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid username or password"), "{err}");
}

#[test]
fn unknown_users_and_wrong_passwords_take_the_same_time() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    setup(&server, &root);
    // Nine wrong passwords would lock alice out (then refused at once, unchecked): measure with lockout off.
    let tune = json!({"user_lockout_config": {"lockout_disable": true}});
    assert_eq!(server.client.put("sys/auth/userpass/tune", Some(&root), tune).0, 204);
    let time = |user: &str| {
        let start = Instant::now();
        let (status, body) = login(&server, user, "wrong");
        assert_eq!(
            (status, &body["errors"]),
            (400, &json!(["invalid username or password"]))
        );
        start.elapsed()
    };
    // Alternated, so a burst of load on the machine slows both sides alike.
    let (mut known, mut unknown): (Vec<Duration>, Vec<Duration>) =
        (0..15).map(|_| (time("alice"), time("nobody"))).unzip();
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[known.len() / 2], unknown[unknown.len() / 2]);
    // bcrypt dominates both; without the dummy check an unknown user answers in well under a tenth of the time.
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {known:?}, unknown user {unknown:?}"
    );
}

#[test]
fn disabling_the_method_revokes_its_tokens_and_logins_survive_restarts() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    setup(&server, &root);
    let (status, body) = login(&server, "alice", "s3cret");
    assert_eq!(status, 200, "{body}");
    let token = body["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(body["auth"]["lease_duration"], 3600);
    let child = server
        .client
        .put("auth/token/create", Some(&token), json!({"policies": ["default"]}))
        .1["auth"]["client_token"]
        .as_str()
        .map(str::to_string);

    // The user and the token are durable.
    server.terminate();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&token)).0, 200);
    assert_eq!(login(&server, "alice", "s3cret").0, 200);

    assert_eq!(
        server.client.call("DELETE", "sys/auth/userpass", Some(&root), None).0,
        204
    );
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&token)).0, 403);
    if let Some(child) = child {
        assert_eq!(server.client.get("auth/token/lookup-self", Some(&child)).0, 403);
    }
    // Its users went with it.
    assert_eq!(
        server
            .client
            .put("sys/auth/userpass", Some(&root), json!({"type": "userpass"}))
            .0,
        204
    );
    assert_eq!(login(&server, "alice", "s3cret").0, 400);
    // The root token is not a login: it stays.
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&root)).0, 200);
}

#[test]
fn no_login_token_outlives_a_disable_it_raced() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    setup(&server, &root);
    // A user whose password check is slow (a bcrypt hash of cost 12, the most OpenBao's password_hash takes), so the
    // method can be disabled while a login is checking the password.
    let slow = bcrypt::hash("slow", 12).unwrap();
    let c = &server.client;
    assert_eq!(
        c.put("auth/userpass/users/slow", Some(&root), json!({"password_hash": slow}))
            .0,
        204
    );
    let addr = format!("http://{}", server.addr);
    let login = std::thread::spawn(move || {
        crate::common::Client::new(&addr).put("auth/userpass/login/slow", None, json!({"password": "slow"}))
    });
    std::thread::sleep(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(c.call("DELETE", "sys/auth/userpass", Some(&root), None).0, 204);
    let (status, body) = login.join().unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(50) || status != 200,
        "the login finished before the disable: the race was not exercised"
    );
    // The login finished after its method was gone: no token may come out of it.
    assert_eq!(
        (status, &body["errors"]),
        (403, &json!(["permission denied"])),
        "{body}"
    );
}

#[test]
fn batch_tokens_are_refused_with_a_clear_400() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    setup(&server, &root);
    assert_eq!(
        c.put("sys/auth/approle", Some(&root), json!({"type": "approle"})).0,
        204
    );
    let refused = json!(["batch tokens are not supported by this server"]);
    for path in ["auth/userpass/users/bob", "auth/approle/role/batchy"] {
        let (status, body) = c.put(path, Some(&root), json!({"password": "pw", "token_type": "batch"}));
        assert_eq!((status, &body["errors"]), (400, &refused), "{path}: {body}");
        // Nothing was stored.
        assert_eq!(c.get(path, Some(&root)).0, 404, "{path}");
    }
    // Nor on an existing user: its settings stay as they were.
    let (status, body) = c.put("auth/userpass/users/alice", Some(&root), json!({"token_type": "batch"}));
    assert_eq!((status, &body["errors"]), (400, &refused), "{body}");
    assert_eq!(
        c.get("auth/userpass/users/alice", Some(&root)).1["data"]["token_type"],
        "default"
    );
    assert_eq!(login(&server, "alice", "s3cret").1["auth"]["token_type"], "service");
}

#[test]
fn given_password_hashes_must_have_openbaos_bcrypt_cost() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    setup(&server, &root);
    let c = &server.client;
    for (cost, error) in [
        (4, "bcrypt cost of 4 is too low, want 5 at minimum"),
        (13, "bcrypt cost of 13 exceeds maximum cost of 12"),
    ] {
        let hash = bcrypt::hash("pw", cost).unwrap();
        let (status, body) = c.put(
            "auth/userpass/users/hashed",
            Some(&root),
            json!({"password_hash": hash}),
        );
        assert_eq!((status, &body["errors"]), (400, &json!([error])), "{body}");
    }
    let hash = bcrypt::hash("pw", 5).unwrap();
    assert_eq!(
        c.put(
            "auth/userpass/users/hashed",
            Some(&root),
            json!({"password_hash": hash})
        )
        .0,
        204
    );
    assert_eq!(login(&server, "hashed", "pw").0, 200);
}
