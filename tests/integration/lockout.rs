//! User lockout end to end: a user locked after the tuned threshold of wrong passwords stays locked across a
//! restart, is listed by `sys/locked-users` and unlocked by its unlock endpoint; the configuration's `user_lockout`
//! blocks set the defaults a tune overrides; counts reset after `lockout_counter_reset` and locks end after
//! `lockout_duration`; AppRole role IDs lock the same way; disabling the method forgets its counts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};

const DENIED: &str = "permission denied";
const WRONG: &str = "invalid username or password";

fn setup(c: &Client, root: &str) -> String {
    assert_eq!(
        c.put("sys/auth/userpass", Some(root), json!({"type": "userpass"})).0,
        204
    );
    assert_eq!(
        c.put("auth/userpass/users/alice", Some(root), json!({"password": "pw"}))
            .0,
        204
    );
    let (status, mount) = c.get("sys/auth/userpass", Some(root));
    assert_eq!(status, 200, "{mount}");
    mount["data"]["accessor"].as_str().unwrap().to_string()
}

fn tune(c: &Client, root: &str, mount: &str, lockout: Value) {
    let (status, body) = c.put(
        &format!("sys/auth/{mount}/tune"),
        Some(root),
        json!({"user_lockout_config": lockout}),
    );
    assert_eq!(status, 204, "{body}");
}

fn login(c: &Client, user: &str, password: &str) -> (u16, String) {
    let (status, body) = c.put(
        &format!("auth/userpass/login/{user}"),
        None,
        json!({"password": password}),
    );
    (status, body["errors"][0].as_str().unwrap_or("").to_string())
}

fn locked(c: &Client, root: &str) -> Value {
    let (status, body) = c.get("sys/locked-users", Some(root));
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

#[test]
fn a_locked_user_stays_locked_across_a_restart_until_unlocked() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let accessor = setup(&server.client, &root);
    tune(
        &server.client,
        &root,
        "userpass",
        json!({"lockout_threshold": "3", "lockout_duration": "1h"}),
    );
    let c = &server.client;
    for _ in 0..2 {
        assert_eq!(login(c, "alice", "wrong"), (400, WRONG.into()));
    }
    assert_eq!(locked(c, &root)["total"], 0);
    assert_eq!(login(c, "alice", "wrong"), (400, WRONG.into()));
    // Locked: even the right password is refused, before it is checked.
    assert_eq!(login(c, "alice", "pw"), (403, DENIED.into()));
    assert_eq!(login(c, "ALICE", "wrong"), (403, DENIED.into()));
    // Unknown users are never counted.
    for _ in 0..4 {
        assert_eq!(login(c, "nobody", "wrong"), (400, WRONG.into()));
    }
    let listed = locked(c, &root);
    assert_eq!(listed["total"], 1);
    assert_eq!(
        listed["by_namespace"][0]["mount_accessors"],
        json!([{"mount_accessor": accessor, "counts": 1, "alias_identifiers": ["alice"]}])
    );

    // The lock and the tune are durable.
    server.terminate();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    let c = &server.client;
    assert_eq!(login(c, "alice", "pw"), (403, DENIED.into()));
    assert_eq!(locked(c, &root)["total"], 1);

    let unlock = format!("sys/locked-users/{accessor}/unlock/alice");
    assert_eq!(c.put(&unlock, Some(&root), json!({})).0, 204);
    assert_eq!(locked(c, &root)["total"], 0);
    assert_eq!(login(c, "alice", "pw").0, 200);
    // The unlock started the count again: two failures do not lock at a threshold of 3.
    for _ in 0..2 {
        assert_eq!(login(c, "alice", "wrong").0, 400);
    }
    assert_eq!(login(c, "alice", "pw").0, 200);
    // A success cleared the two: three more are needed again.
    for _ in 0..2 {
        assert_eq!(login(c, "alice", "wrong").0, 400);
    }
    assert_eq!(login(c, "alice", "pw").0, 200);
    // The lock needs a token allowed to read sys/locked-users.
    assert_eq!(c.get("sys/locked-users", None).0, 403);
}

#[test]
fn counts_reset_and_locks_end_on_time_and_the_tune_overrides_the_configuration() {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        "user_lockout \"all\" {\n  lockout_threshold = \"4\"\n  lockout_counter_reset = \"2s\"\n}\nuser_lockout \"userpass\" {\n  lockout_threshold = 2\n  lockout_duration = \"2s\"\n}\n",
        "  tls_disable = true",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    let c = &server.client;
    setup(c, &root);

    // The configuration's userpass block: locked after 2 failures, for 2 seconds.
    assert_eq!(login(c, "alice", "wrong").0, 400);
    assert_eq!(login(c, "alice", "wrong").0, 400);
    assert_eq!(login(c, "alice", "pw"), (403, DENIED.into()));
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(login(c, "alice", "pw").0, 200);

    // The counter resets (the "all" block's 2 s) when failures are further apart.
    assert_eq!(login(c, "alice", "wrong").0, 400);
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(login(c, "alice", "wrong").0, 400);
    assert_eq!(
        login(c, "alice", "pw").0,
        200,
        "the first failure should have been forgotten"
    );

    // A tune raises the threshold over the configuration's.
    tune(c, &root, "userpass", json!({"lockout_threshold": "3"}));
    let tuned = c.get("sys/auth/userpass/tune", Some(&root)).1;
    assert_eq!(tuned["data"]["user_lockout_threshold"], 3);
    for _ in 0..2 {
        assert_eq!(login(c, "alice", "wrong").0, 400);
    }
    assert_eq!(login(c, "alice", "pw").0, 200, "two failures no longer lock");
    for _ in 0..3 {
        assert_eq!(login(c, "alice", "wrong").0, 400);
    }
    assert_eq!(login(c, "alice", "pw").0, 403);
    // Disabled on the mount: the lock no longer applies.
    tune(c, &root, "userpass", json!({"lockout_disable": true}));
    assert_eq!(login(c, "alice", "pw").0, 200);
}

#[test]
fn approle_role_ids_lock_and_disabling_the_method_forgets_them() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(
        c.put("sys/auth/approle", Some(&root), json!({"type": "approle"})).0,
        204
    );
    assert_eq!(c.put("auth/approle/role/r", Some(&root), json!({})).0, 204);
    assert_eq!(
        c.put("auth/approle/role/r/role-id", Some(&root), json!({"role_id": "rid"}))
            .0,
        204
    );
    let secret = c.put("auth/approle/role/r/secret-id", Some(&root), json!({})).1["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();
    let login = |secret: &str| {
        c.put(
            "auth/approle/login",
            None,
            json!({"role_id": "rid", "secret_id": secret}),
        )
    };
    for _ in 0..5 {
        assert_eq!(login("wrong").0, 400);
    }
    let (status, body) = login(&secret);
    assert_eq!((status, &body["errors"]), (403, &json!([DENIED])));
    let accessors = &locked(c, &root)["by_namespace"][0]["mount_accessors"];
    assert_eq!(accessors[0]["alias_identifiers"], json!(["rid"]));

    // Disable and enable again: the counts went with the old mount (and a new mount has a new accessor anyway).
    assert_eq!(c.call("DELETE", "sys/auth/approle", Some(&root), None).0, 204);
    assert_eq!(locked(c, &root)["total"], 0);
}
