//! Token leases end to end with the built server: the lease index follows every token through a mass expiry that
//! is cut by `kill -9`, and expiry resumes by wall clock after the restart.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

/// Every lease id below `prefix` (a folder), through `LIST sys/leases/lookup`.
fn leases_below(c: &Client, root: &str, prefix: &str) -> Vec<String> {
    let (status, body) = c.call("LIST", &format!("sys/leases/lookup/{prefix}"), Some(root), None);
    if status == 404 {
        return vec![];
    }
    assert_eq!(status, 200, "{prefix}: {body}");
    let mut out = Vec::new();
    for key in body["data"]["keys"].as_array().unwrap() {
        let key = key.as_str().unwrap();
        if key.ends_with('/') {
            out.extend(leases_below(c, root, &format!("{prefix}{key}")));
        } else {
            out.push(format!("{prefix}{key}"));
        }
    }
    out
}

fn accessors(c: &Client, root: &str) -> usize {
    let (status, body) = c.call("LIST", "auth/token/accessors", Some(root), None);
    assert_eq!(status, 200, "{body}");
    body["data"]["keys"].as_array().unwrap().len()
}

fn revoked_by_sweep(c: &Client, root: &str) -> u64 {
    let (status, body) = c.get("sys/metrics", Some(root));
    assert_eq!(status, 200, "{body}");
    body["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == json!("vault.expire.revoked_tokens"))
        .map(|m| m["Count"].as_u64().unwrap())
        .unwrap_or(0)
}

#[test]
fn kill_9_during_a_mass_expiry_leaves_every_token_with_its_lease_or_neither() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    const N: usize = 1500;
    // All expire within the same couple of seconds.
    let deadline = chrono::Utc::now().timestamp() + 15;
    let mut tokens = Vec::new();
    let mut last_expiry = 0;
    for _ in 0..N {
        let now = chrono::Utc::now().timestamp();
        let ttl = (deadline - now).max(1);
        last_expiry = last_expiry.max(now + ttl);
        let (status, body) = c.put("auth/token/create", Some(&root), json!({"ttl": format!("{ttl}s")}));
        assert_eq!(status, 200, "{body}");
        tokens.push(body["auth"]["client_token"].as_str().unwrap().to_string());
    }
    let long = c.put("auth/token/create", Some(&root), json!({"ttl": "1h"})).1["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    // (On a slow machine the creation can run past the deadline and the sweep start before it ends.)
    if chrono::Utc::now().timestamp() < deadline {
        assert_eq!(leases_below(c, &root, "auth/token/create/").len(), N + 1);
    }

    // Kill the server as soon as the sweep has started on them.
    let wait = Instant::now() + Duration::from_secs(30);
    while revoked_by_sweep(c, &root) == 0 {
        assert!(Instant::now() < wait, "the sweep never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill9();

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    // Whatever the kill left: a token is there exactly when its lease is (the root token has none).
    let leases = leases_below(c, &root, "auth/token/create/");
    assert_eq!(
        leases.len(),
        accessors(c, &root) - 1,
        "tokens and leases disagree after kill -9"
    );
    // Expired tokens are refused at once, swept or not.
    while chrono::Utc::now().timestamp() <= last_expiry {
        std::thread::sleep(Duration::from_millis(100));
    }
    for t in tokens.iter().step_by(97) {
        assert_eq!(c.get("auth/token/lookup-self", Some(t)).0, 403);
    }
    // Expiry resumes by wall clock: only the long-lived token and its lease stay.
    let wait = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leases_below(c, &root, "auth/token/create/");
        if left.len() == 1 {
            let (status, body) = c.put("sys/leases/lookup", Some(&root), json!({"lease_id": left[0]}));
            assert_eq!(status, 200, "{body}");
            assert!(body["data"]["ttl"].as_u64().unwrap() > 3000, "{body}");
            break;
        }
        assert!(Instant::now() < wait, "{} leases left", left.len());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(accessors(c, &root), 2, "the root token and the long-lived one");
    let (status, body): (u16, Value) = c.get("auth/token/lookup-self", Some(&long));
    assert_eq!(status, 200, "{body}");
}

/// The test engine's revoke calls for the credential `name` (it records each one, durably, in its own storage).
fn revoke_calls(c: &Client, root: &str, name: &str) -> u64 {
    let (status, body) = c.get(&format!("db/revoked/{name}"), Some(root));
    assert_eq!(status, 200, "{body}");
    body["data"]["count"].as_u64().unwrap()
}

/// Credentials whose lease is still stored, by name (`db/creds/<name>/<random>`).
fn names_with_leases(c: &Client, root: &str) -> std::collections::HashSet<String> {
    leases_below(c, root, "db/creds/")
        .iter()
        .map(|id| id["db/creds/".len()..].split('/').next().unwrap().to_string())
        .collect()
}

/// Secret leases of the `test-leasing` engine (in the binary `cargo test` builds): a `revoke-prefix` cut by
/// `kill -9` leaves every credential either revoked through exactly one backend call and its lease gone, or its
/// lease still there; only the revocations in flight at the kill (at most the manager's concurrency) may have
/// called the backend without removing the lease, and those are the only ones called a second time when the
/// revocation is run again (the idempotent re-call the SDK documents).
#[test]
fn kill_9_during_a_revoke_prefix_calls_each_secret_backend_revoke_once() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, body) = c.put("sys/mounts/db", Some(&root), json!({"type": "test-leasing"}));
    assert_eq!(status, 204, "{body}");
    assert_eq!(c.put("db/config", Some(&root), json!({"ttl_secs": 3600})).0, 204);
    const N: usize = 2000;
    for i in 0..N {
        let (status, body) = c.get(&format!("db/creds/u{i}"), Some(&root));
        assert_eq!(status, 200, "{body}");
        assert!(
            body["lease_id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("db/creds/u{i}/")),
            "{body}"
        );
    }
    assert_eq!(names_with_leases(c, &root).len(), N);

    let revoker = {
        let (base, root) = (c.base.clone(), root.clone());
        std::thread::spawn(move || {
            // Cut off by the kill: its answer does not matter.
            let _ = Client::new(&base).put("sys/leases/revoke-prefix/db/creds", Some(&root), json!({"sync": true}));
        })
    };
    let wait = Instant::now() + Duration::from_secs(60);
    while names_with_leases(c, &root).len() == N {
        assert!(Instant::now() < wait, "the revoke-prefix never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill9();
    let _ = revoker.join();

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    let left = names_with_leases(c, &root);
    assert!(
        !left.is_empty(),
        "the kill came after the revoke-prefix had finished: nothing was cut"
    );
    let mut in_flight = Vec::new();
    for i in 0..N {
        let name = format!("u{i}");
        let calls = revoke_calls(c, &root, &name);
        if left.contains(&name) {
            assert!(calls <= 1, "{name}: {calls} revoke calls and the lease still there");
            if calls == 1 {
                in_flight.push(name);
            }
        } else {
            assert_eq!(calls, 1, "{name}: lease gone after {calls} revoke calls");
        }
    }
    assert!(
        in_flight.len() <= 32,
        "{} revocations were in flight at once",
        in_flight.len()
    );

    // Run again to the end: every lease goes; only the ones in flight at the kill were called twice.
    let (status, body) = c.put("sys/leases/revoke-prefix/db/creds", Some(&root), json!({"sync": true}));
    assert_eq!(status, 204, "{body}");
    assert!(names_with_leases(c, &root).is_empty());
    for i in 0..N {
        let name = format!("u{i}");
        let expected = if in_flight.contains(&name) { 2 } else { 1 };
        assert_eq!(revoke_calls(c, &root, &name), expected, "{name}");
    }
}

/// The same engine through a mass expiry cut by `kill -9`: after the restart expiry resumes by wall clock and
/// revokes every credential; each was revoked through one backend call, except at most the manager's concurrency
/// of revocations in flight at the kill, called again.
#[test]
fn kill_9_during_a_mass_expiry_of_secret_leases_revokes_each_once_but_those_in_flight() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, body) = c.put("sys/mounts/db", Some(&root), json!({"type": "test-leasing"}));
    assert_eq!(status, 204, "{body}");
    const N: usize = 1500;
    // Every lease falls due at about the same second, once all are issued.
    let due = Instant::now() + Duration::from_secs(12);
    for i in 0..N {
        let ttl = due.saturating_duration_since(Instant::now()).as_secs().max(1);
        assert_eq!(c.put("db/config", Some(&root), json!({"ttl_secs": ttl})).0, 204);
        let (status, body) = c.get(&format!("db/creds/u{i}"), Some(&root));
        assert_eq!(status, 200, "{body}");
    }
    let wait = Instant::now() + Duration::from_secs(60);
    while names_with_leases(c, &root).len() == N {
        assert!(Instant::now() < wait, "expiry never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill9();

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    let wait = Instant::now() + Duration::from_secs(60);
    while !names_with_leases(c, &root).is_empty() {
        assert!(Instant::now() < wait, "expiry did not resume after the restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut twice = 0;
    for i in 0..N {
        match revoke_calls(c, &root, &format!("u{i}")) {
            1 => {}
            2 => twice += 1,
            calls => panic!("u{i}: {calls} revoke calls"),
        }
    }
    assert!(twice <= 32, "{twice} credentials revoked twice");
}
