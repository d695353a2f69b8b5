//! Response wrapping: wrap, lookup, unwrap, rewrap; OpenBao's shapes and errors; exactly-once under concurrency;
//! durability of rewrap chains across kill -9; policy wrapping-TTL bounds.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

const INVALID: &str = "wrapping token is not valid or does not exist";

/// `POST path` with `X-Vault-Wrap-TTL`.
fn wrapped(c: &Client, token: &str, path: &str, ttl: &str, body: Value) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .post(format!("{}/v1/{path}", c.base))
        .header("X-Vault-Token", token)
        .header("X-Vault-Wrap-TTL", ttl)
        .send(body.to_string())
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

fn wrap(c: &Client, root: &str, body: Value) -> String {
    let (status, resp) = wrapped(c, root, "sys/wrapping/wrap", "5m", body);
    assert_eq!(status, 200, "{resp}");
    resp["wrap_info"]["token"].as_str().unwrap().to_string()
}

fn invalid() -> (u16, Value) {
    (400, json!({ "errors": [INVALID] }))
}

#[test]
fn wrap_lookup_unwrap_rewrap() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;

    let (status, resp) = wrapped(c, &root, "sys/wrapping/wrap", "5m", json!({"foo": "bar", "n": 1}));
    assert_eq!(status, 200);
    assert_eq!(resp["request_id"], "");
    assert_eq!((resp["data"].clone(), resp["auth"].clone()), (Value::Null, Value::Null));
    let info = &resp["wrap_info"];
    assert_eq!(
        (info["ttl"].clone(), info["creation_path"].clone()),
        (json!(300), json!("sys/wrapping/wrap"))
    );
    assert!(info.get("wrapped_accessor").is_none());
    let creation_time = info["creation_time"].as_str().unwrap().to_string();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&creation_time).is_ok() && creation_time.len() > 25,
        "{creation_time}"
    );
    let token = info["token"].as_str().unwrap().to_string();

    // Lookup: unauthenticated, by body, query or header; repeatable.
    let expected = json!({"creation_path": "sys/wrapping/wrap", "creation_time": creation_time, "creation_ttl": 300});
    for _ in 0..2 {
        assert_eq!(
            c.put("sys/wrapping/lookup", None, json!({ "token": token })).1["data"],
            expected
        );
    }
    assert_eq!(
        c.get(&format!("sys/wrapping/lookup?token={token}"), None).1["data"],
        expected
    );
    assert_eq!(
        c.put("sys/wrapping/lookup", Some(&token), json!({})).1["data"],
        expected
    );

    // The wrapping token is a real token.
    let (_, look) = c.put("auth/token/lookup", Some(&root), json!({ "token": token }));
    let d = &look["data"];
    assert_eq!(d["policies"], json!(["response-wrapping"]));
    assert_eq!(
        (
            d["num_uses"].clone(),
            d["orphan"].clone(),
            d["explicit_max_ttl"].clone()
        ),
        (json!(1), json!(true), json!(300))
    );

    // Rewrap: same TTL, path and response; the old token is dead at once.
    let (status, rewrapped) = c.put("sys/wrapping/rewrap", Some(&root), json!({ "token": token }));
    assert_eq!(status, 200, "{rewrapped}");
    assert_eq!(rewrapped["request_id"], "");
    let new_info = &rewrapped["wrap_info"];
    assert_eq!(
        (new_info["ttl"].clone(), new_info["creation_path"].clone()),
        (json!(300), json!("sys/wrapping/wrap"))
    );
    let new_token = new_info["token"].as_str().unwrap().to_string();
    assert_ne!(new_token, token);
    assert_eq!(c.put("sys/wrapping/lookup", None, json!({ "token": token })), invalid());
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(&root), json!({ "token": token })),
        invalid()
    );
    assert_eq!(
        c.put("auth/token/lookup", Some(&root), json!({ "token": token })).0,
        403
    );

    // Unwrap with the wrapping token in the header: the original response, once.
    let (status, unwrapped) = c.put("sys/wrapping/unwrap", Some(&new_token), json!({}));
    assert_eq!(status, 200);
    assert_eq!(unwrapped["data"], json!({"foo": "bar", "n": 1}));
    assert_ne!(unwrapped["request_id"], "");
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&new_token), json!({})), invalid());

    // Errors as OpenBao answers them.
    let e = |s: &str| json!({ "errors": [s] });
    assert_eq!(
        c.put("sys/wrapping/wrap", Some(&root), json!({"a": 1})),
        (400, e("endpoint requires response wrapping to be used"))
    );
    assert_eq!(
        wrapped(c, &root, "sys/wrapping/wrap", "-5", json!({})),
        (
            400,
            e("error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative")
        )
    );
    assert_eq!(
        wrapped(c, &root, "sys/wrapping/wrap", "abc", json!({})),
        (
            400,
            e("error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\"")
        )
    );
    assert_eq!(
        c.put("sys/wrapping/unwrap", None, json!({})),
        (403, e("error validating wrapping token: token is empty"))
    );
    assert_eq!(
        c.put("sys/wrapping/lookup", None, json!({})),
        (403, e("error validating wrapping token: token is empty"))
    );
    assert_eq!(
        c.put("sys/wrapping/lookup", None, json!({"token": "s.bogus"})),
        invalid()
    );
    assert_eq!(
        c.put("sys/wrapping/rewrap", Some(&root), json!({"token": "s.bogus"})),
        invalid()
    );
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(&root), json!({})),
        invalid(),
        "a normal token is not a wrapping token"
    );
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(&root), json!({"token": root})),
        invalid()
    );
    // Error and empty answers are not wrapped.
    assert_eq!(
        wrapped(c, &root, "sys/policy/nothere", "5m", json!({})).0,
        400,
        "a PUT without policy text is an error"
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .get(format!("{}/v1/sys/policy/nothere", c.base))
        .header("X-Vault-Token", &root)
        .header("X-Vault-Wrap-TTL", "5m")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let (status, body) = wrapped(
        c,
        &root,
        "sys/policy/x",
        "5m",
        json!({"policy": "path \"a\" {\n  capabilities = [\"read\"]\n}"}),
    );
    assert_eq!((status, body), (204, Value::Null));
}

#[test]
fn wrapped_token_creation_and_misuse() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, resp) = wrapped(
        c,
        &root,
        "auth/token/create",
        "90s",
        json!({"policies": ["default"], "ttl": "1h"}),
    );
    assert_eq!(status, 200);
    let info = &resp["wrap_info"];
    assert_eq!(
        (info["creation_path"].clone(), info["ttl"].clone()),
        (json!("auth/token/create"), json!(90))
    );
    let wrapped_accessor = info["wrapped_accessor"].as_str().unwrap().to_string();
    let token = info["token"].as_str().unwrap().to_string();
    // A caller with the default policy may unwrap someone's token given in the body.
    let (_, d) = c.put("auth/token/create", Some(&root), json!({"policies": ["default"]}));
    let default_token = d["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, unwrapped) = c.put("sys/wrapping/unwrap", Some(&default_token), json!({ "token": token }));
    assert_eq!(status, 200);
    assert_eq!(unwrapped["auth"]["accessor"], wrapped_accessor.as_str());
    assert_eq!(unwrapped["auth"]["lease_duration"], 3600);
    let created = unwrapped["auth"]["client_token"].as_str().unwrap();
    assert_eq!(
        c.get("auth/token/lookup-self", Some(created)).0,
        200,
        "the unwrapped token works"
    );
    // Rewrap is not in the default policy.
    let other = wrap(c, &root, json!({"s": 1}));
    assert_eq!(
        c.put("sys/wrapping/rewrap", Some(&default_token), json!({ "token": other }))
            .0,
        403
    );

    // Using a wrapping token anywhere else is 403 and consumes it.
    assert_eq!(
        c.get("sys/policy", Some(&other)),
        (403, json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}))
    );
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&other), json!({})), invalid());
    // Revoking a wrapping token through its accessor destroys the response.
    let (_, w) = wrapped(c, &root, "sys/wrapping/wrap", "5m", json!({"s": 2}));
    let accessor = w["wrap_info"]["accessor"].as_str().unwrap();
    assert_eq!(
        c.put(
            "auth/token/revoke-accessor",
            Some(&root),
            json!({ "accessor": accessor })
        )
        .0,
        204
    );
    assert_eq!(
        c.put(
            "sys/wrapping/unwrap",
            Some(w["wrap_info"]["token"].as_str().unwrap()),
            json!({})
        ),
        invalid()
    );
    // Expired wrapping tokens are invalid at once.
    let (_, short) = wrapped(c, &root, "sys/wrapping/wrap", "1s", json!({"s": 3}));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        c.put(
            "sys/wrapping/lookup",
            None,
            json!({ "token": short["wrap_info"]["token"] })
        ),
        invalid()
    );
}

#[test]
fn policy_wrapping_ttl_bounds_refuse() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let policy = "path \"sys/wrapping/wrap\" {\n  capabilities = [\"update\"]\n  min_wrapping_ttl = \"60s\"\n  max_wrapping_ttl = \"300s\"\n}\n";
    assert_eq!(c.put("sys/policy/wr", Some(&root), json!({ "policy": policy })).0, 204);
    let (_, t) = c.put("auth/token/create", Some(&root), json!({"policies": ["wr"]}));
    let t = t["auth"]["client_token"].as_str().unwrap().to_string();
    let denied = (403, json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}));
    assert_eq!(wrapped(c, &t, "sys/wrapping/wrap", "10s", json!({"a": 1})), denied);
    assert_eq!(wrapped(c, &t, "sys/wrapping/wrap", "1h", json!({"a": 1})), denied);
    assert_eq!(c.put("sys/wrapping/wrap", Some(&t), json!({"a": 1})), denied);
    let (status, ok) = wrapped(c, &t, "sys/wrapping/wrap", "120s", json!({"a": 1}));
    assert_eq!((status, ok["wrap_info"]["ttl"].clone()), (200, json!(120)));
}

/// Run `n` requests at once against one wrapping token; returns the statuses.
fn race(c: &Client, root: &str, token: &str, n: usize, op: impl Fn(usize) -> &'static str) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (base, root, token, barrier) = (c.base.clone(), root.to_string(), token.to_string(), barrier.clone());
            let kind = op(i);
            std::thread::spawn(move || {
                let c = Client::new(&base);
                barrier.wait();
                match kind {
                    "unwrap" => c.put("sys/wrapping/unwrap", Some(&token), json!({})),
                    _ => c.put("sys/wrapping/rewrap", Some(&root), json!({ "token": token })),
                }
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn exactly_once_under_concurrency() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    for (name, op) in [
        ("unwraps", (|_| "unwrap") as fn(usize) -> &'static str),
        ("rewraps", |_| "rewrap"),
        ("mixed", |i| if i % 2 == 0 { "unwrap" } else { "rewrap" }),
    ] {
        let token = wrap(c, &root, json!({"secret": name}));
        let results = race(c, &root, &token, 100, op);
        let winners: Vec<&(u16, Value)> = results.iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "{name}: {:?}",
            results.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert!(
            results.iter().all(|(s, b)| *s == 200 || (*s, b.clone()) == invalid()),
            "{name}"
        );
        // Whatever won, exactly one live path to the secret remains (or none, if an unwrap won).
        let winner = &winners[0].1;
        if let Some(new_token) = winner["wrap_info"]["token"].as_str() {
            assert_eq!(
                c.put("sys/wrapping/unwrap", Some(new_token), json!({})).1["data"],
                json!({"secret": name})
            );
        } else {
            assert_eq!(winner["data"], json!({"secret": name}));
        }
    }
}

#[test]
fn rewrap_chain_survives_kill_9_and_stays_encrypted() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let secret = "correct-horse-battery-staple-42";
    let mut chain = vec![wrap(c, &root, json!({ "password": secret }))];
    for _ in 0..5 {
        let (status, r) = c.put(
            "sys/wrapping/rewrap",
            Some(&root),
            json!({ "token": chain.last().unwrap() }),
        );
        assert_eq!(status, 200);
        chain.push(r["wrap_info"]["token"].as_str().unwrap().to_string());
    }
    server.kill9();

    // The secret is nowhere in clear on disk.
    for (place, bytes) in crate::common::stored_bytes(&dir.path().join("data")) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext in {place}"
        );
    }

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    let (last, older) = chain.split_last().unwrap();
    for old in older {
        assert_eq!(c.put("sys/wrapping/lookup", None, json!({ "token": old })), invalid());
    }
    assert_eq!(
        c.put("sys/wrapping/lookup", None, json!({ "token": last })).1["data"]["creation_ttl"],
        300
    );
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(last), json!({})).1["data"],
        json!({ "password": secret })
    );
}

fn reuse_count(c: &Client, root: &str) -> u64 {
    // A durable counter: its total since the data directory was created (Prometheus needs a telemetry block).
    let (status, body) = c.get("sys/metrics", Some(root));
    assert_eq!(status, 200, "{body}");
    body["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "vault.wrapping.token_reuse")
        .map(|m| m["Count"].as_u64().unwrap())
        .unwrap()
}

#[test]
fn reuse_of_a_used_token_is_reported_to_operators() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(reuse_count(c, &root), 0);
    // Unwrapped, then presented again (lookup and unwrap): the caller sees OpenBao's 400, operators a warning.
    let token = wrap(c, &root, json!({"k": "v"}));
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&token), json!({})).0, 200);
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&token), json!({})), invalid());
    assert_eq!(c.put("sys/wrapping/lookup", None, json!({ "token": token })), invalid());
    assert_eq!(reuse_count(c, &root), 2);
    // Rewrapped and revoked tokens leave tombstones too; a token never issued does not count.
    let old = wrap(c, &root, json!({"k": 1}));
    let (_, r) = c.put("sys/wrapping/rewrap", Some(&root), json!({ "token": old }));
    assert_eq!(
        c.put("sys/wrapping/rewrap", Some(&root), json!({ "token": old })),
        invalid()
    );
    let revoked = r["wrap_info"]["token"].as_str().unwrap().to_string();
    let accessor = r["wrap_info"]["accessor"].as_str().unwrap();
    assert_eq!(
        c.put(
            "auth/token/revoke-accessor",
            Some(&root),
            json!({ "accessor": accessor })
        )
        .0,
        204
    );
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&revoked), json!({})), invalid());
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some("s.neverissued"), json!({})),
        invalid()
    );
    assert_eq!(reuse_count(c, &root), 4);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("wrapping token reuse: sys/wrapping/unwrap with a token that was already unwrapped"),
        "{log}"
    );
    assert!(
        log.contains("already rewrapped") && log.contains("already revoked"),
        "{log}"
    );
    assert!(
        !log.contains(&token) && !log.contains(&revoked),
        "tokens never reach the log"
    );
    // JSON form of the metrics.
    let (status, _) = c.get("sys/metrics", Some(&root));
    assert_eq!(status, 200);
}

#[test]
fn wrapped_secrets_survive_graceful_restarts() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let plain = wrap(c, &root, json!({"kept": "across restarts"}));
    let to_rewrap = wrap(c, &root, json!({"kept": "after rewrap"}));
    assert!(server.terminate().success());

    // Restart between wrap and rewrap.
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    let (status, r) = c.put("sys/wrapping/rewrap", Some(&root), json!({ "token": to_rewrap }));
    assert_eq!(status, 200);
    let rewrapped = r["wrap_info"]["token"].as_str().unwrap().to_string();
    assert!(server.terminate().success());

    // Restart between rewrap and unwrap, and between wrap and unwrap.
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(&plain), json!({})).1["data"],
        json!({"kept": "across restarts"})
    );
    assert_eq!(c.put("sys/wrapping/unwrap", Some(&to_rewrap), json!({})), invalid());
    assert_eq!(
        c.put("sys/wrapping/unwrap", Some(&rewrapped), json!({})).1["data"],
        json!({"kept": "after rewrap"})
    );
}

on_postgresql!(
    wrap_lookup_unwrap_rewrap,
    wrapped_token_creation_and_misuse,
    policy_wrapping_ttl_bounds_refuse,
    exactly_once_under_concurrency,
    rewrap_chain_survives_kill_9_and_stays_encrypted,
    reuse_of_a_used_token_is_reported_to_operators,
    wrapped_secrets_survive_graceful_restarts
);
