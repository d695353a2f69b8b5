//! `sys/policy` and `sys/policies/acl`, the built-ins, parse errors, and capabilities endpoints.

use serde_json::json;

use crate::common::{temp_dir, TestServer};

const READER: &str = "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";

#[test]
fn policy_crud_and_builtins() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());

    assert_eq!(
        c.put("sys/policy/Reader", r, json!({ "policy": READER })).0,
        204,
        "names are lower-cased"
    );
    let (status, list) = c.get("sys/policy", r);
    assert_eq!(status, 200);
    assert_eq!(
        list["keys"],
        json!(["default", "reader", "root"]),
        "legacy fields at the top level too"
    );
    assert_eq!(list["data"]["policies"], json!(["default", "reader", "root"]));
    let (status, list) = c.call("LIST", "sys/policies/acl", r, None);
    assert_eq!(
        (status, list["data"]["keys"].clone()),
        (200, json!(["default", "reader", "root"]))
    );

    let (status, read) = c.get("sys/policy/reader", r);
    assert_eq!(status, 200);
    assert_eq!(
        (
            read["rules"].clone(),
            read["data"]["name"].clone(),
            read["data"]["version"].clone()
        ),
        (json!(READER), json!("reader"), json!(1))
    );
    let (status, read) = c.get("sys/policies/acl/reader", r);
    assert_eq!((status, read["data"]["policy"].clone()), (200, json!(READER)));
    assert!(
        read.get("policy").is_none(),
        "the new endpoint has no legacy top-level copy"
    );
    // JSON policies work too; versions count up.
    let json_policy = r#"{"path": {"secret/*": {"capabilities": ["read"]}}}"#;
    assert_eq!(
        c.put("sys/policies/acl/reader", r, json!({ "policy": json_policy })).0,
        204
    );
    assert_eq!(c.get("sys/policies/acl/reader", r).1["data"]["version"], 2);

    assert_eq!(c.get("sys/policy/nope", r), (404, json!({"errors": []})));
    assert_eq!(c.get("sys/policies/acl/nope", r), (404, json!({"errors": []})));
    let (status, root_policy) = c.get("sys/policy/root", r);
    assert_eq!((status, root_policy["data"]["rules"].clone()), (200, json!("")));
    assert!(c.get("sys/policy/default", r).1["data"]["rules"]
        .as_str()
        .unwrap()
        .contains("auth/token/lookup-self"));
    assert!(c.get("sys/policy/response-wrapping", r).1["data"]["rules"]
        .as_str()
        .unwrap()
        .contains("sys/wrapping/unwrap"));

    let e = |s: &str| json!({ "errors": [s] });
    assert_eq!(
        c.call("DELETE", "sys/policy/default", r, None),
        (400, e("cannot delete default policy"))
    );
    assert_eq!(
        c.call("DELETE", "sys/policy/root", r, None),
        (400, e("cannot delete \"root\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/root", r, json!({ "policy": READER })),
        (400, e("cannot update \"root\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/response-wrapping", r, json!({ "policy": READER })),
        (400, e("cannot update \"response-wrapping\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/x", r, json!({})),
        (400, e("'policy' parameter not supplied or empty"))
    );
    let (status, bad) = c.put("sys/policy/x", r, json!({ "policy": "path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n  capabilities = [\"reed\"]\n}" }));
    assert_eq!(status, 400);
    let msg = bad["errors"][0].as_str().unwrap();
    assert!(
        msg.starts_with("failed to parse policy: ") && msg.contains("line 4") && msg.contains("reed"),
        "{msg}"
    );
    // The default policy is editable; deleting a policy works and is idempotent.
    assert_eq!(c.put("sys/policy/default", r, json!({ "policy": READER })).0, 204);
    assert_eq!(c.get("sys/policy/default", r).1["data"]["rules"], READER);
    assert_eq!(c.call("DELETE", "sys/policy/reader", r, None).0, 204);
    assert_eq!(c.call("DELETE", "sys/policy/reader", r, None).0, 204);
    assert_eq!(c.get("sys/policy", r).1["keys"], json!(["default", "root"]));
}

#[test]
fn capabilities_endpoints_and_enforcement_follow_writes() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());
    c.put("sys/policy/reader", r, json!({ "policy": READER }));
    let (_, created) = c.put("auth/token/create", r, json!({"policies": ["reader"]}));
    let token = created["auth"]["client_token"].as_str().unwrap().to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();

    let (status, caps) = c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}));
    assert_eq!(status, 200);
    assert_eq!(
        (caps["capabilities"].clone(), caps["data"]["secret/foo"].clone()),
        (json!(["list", "read"]), json!(["list", "read"]))
    );
    let (_, caps) = c.put(
        "sys/capabilities",
        r,
        json!({"token": token, "paths": ["secret/a", "other"]}),
    );
    assert_eq!(caps["data"], json!({"secret/a": ["list", "read"], "other": ["deny"]}));
    let (_, caps) = c.put(
        "sys/capabilities-accessor",
        r,
        json!({"accessor": accessor, "path": "secret/a"}),
    );
    assert_eq!(caps["data"]["capabilities"], json!(["list", "read"]));
    let (_, caps) = c.put("sys/capabilities-self", r, json!({"path": "anything"}));
    assert_eq!(caps["data"]["capabilities"], json!(["root"]));
    let (status, acl) = c.get("sys/internal/ui/resultant-acl", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(
        acl["data"]["glob_paths"]["secret/"]["capabilities"],
        json!(["list", "read"])
    );
    assert_eq!(acl["data"]["root"], false);

    // Enforcement follows a policy rewrite at once (the compiled ACL cache is invalidated).
    assert_eq!(
        c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}))
            .1["capabilities"],
        json!(["list", "read"])
    );
    c.put(
        "sys/policy/reader",
        r,
        json!({ "policy": "path \"secret/*\" {\n  capabilities = [\"deny\"]\n}" }),
    );
    assert_eq!(
        c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}))
            .1["capabilities"],
        json!(["deny"])
    );
    // A denied request is OpenBao's wrapped 403.
    assert_eq!(
        c.get("sys/policy", Some(&token)),
        (403, json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}))
    );
}

/// A policy write is in force for every request that starts after it is acknowledged, even while other requests are
/// still compiling ACLs from the text before it: a cache fill that read the old text must never be stored after the
/// write's cache clear (neither the parsed policy nor the compiled ACL). Four threads keep reading with two tokens: a
/// heavy one whose ACL takes a while to compile (it also holds four larger policies) and a light one; both hold the
/// small policy that flips between allow and deny, with an unrelated policy write in between. After each deny is
/// acknowledged, the token, a token created after it, and every reader request sent after the acknowledgement must be
/// refused. On the code before the fix this caught a stale answer in about one round in twenty.
#[test]
fn policy_writes_win_over_racing_cache_fills() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const ROUNDS: usize = 200;
    const BIG: usize = 4;
    const RULES: usize = 60;
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());
    assert_eq!(c.put("sys/mounts/kv", r, json!({"type": "kv"})).0, 204);
    assert_eq!(c.put("kv/target", r, json!({"v": "1"})).0, 204);
    let filler = |name: &str, n: usize| -> String {
        (0..n)
            .map(|j| format!("path \"kv/{name}/p{j}\" {{\n  capabilities = [\"read\"]\n}}\n"))
            .collect()
    };
    // The flipping policy sorts first: a fill reads it before parsing the others, so the whole fill is the window.
    let mut names = vec!["access".to_string()];
    for i in 0..BIG {
        let name = format!("big{i}");
        let written = c.put(
            &format!("sys/policy/{name}"),
            r,
            json!({ "policy": filler(&name, RULES) }),
        );
        assert_eq!(written.0, 204);
        names.push(name);
    }
    let flip = |capability: &str| {
        let text = format!(
            "path \"kv/target\" {{\n  capabilities = [\"{capability}\"]\n}}\n{}",
            filler("access", 5)
        );
        json!({ "policy": text })
    };
    let (allow, deny) = (flip("read"), flip("deny"));
    let unrelated = |n: usize| json!({ "policy": format!("path \"kv/other{n}\" {{\n  capabilities = [\"read\"]\n}}") });
    assert_eq!(c.put("sys/policy/access", r, allow.clone()).0, 204);
    let create = |c: &crate::common::Client, policies: &[String]| {
        let (status, body) = c.put("auth/token/create", r, json!({ "policies": policies, "ttl": "1h" }));
        assert_eq!(status, 200, "{body}");
        body["auth"]["client_token"].as_str().unwrap().to_string()
    };
    let heavy = create(c, &names);
    let light = create(c, &names[..1]);
    // How long a fill takes here (the median of a few, each right after a write cleared the cache).
    let mut fills: Vec<u64> = (0..5)
        .map(|n| {
            assert_eq!(c.put("sys/policy/unrelated", r, unrelated(1000 + n)).0, 204);
            let cold = Instant::now();
            assert_eq!(c.get("kv/target", Some(&heavy)).0, 200);
            cold.elapsed().as_micros() as u64
        })
        .collect();
    fills.sort();
    let fill_micros = fills[2].max(1000);

    // Readers log (sent, answered, status) of every request.
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<(Instant, Instant, u16)>>> = Arc::default();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, log, tokens) = (stop.clone(), log.clone(), [heavy.clone(), light.clone()]);
            let client = crate::common::Client::new(&c.base);
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let sent = Instant::now();
                    let (status, _) = client.get("kv/target", Some(&tokens[n % 2]));
                    log.lock().unwrap().push((sent, Instant::now(), status));
                }
            })
        })
        .collect();

    // Windows in which the policy denies: from the deny's acknowledgement until the next allow is sent.
    let mut deny_windows = Vec::new();
    let mut stale = Vec::new();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let round_u64 = round as u64;
        assert_eq!(c.put("sys/policy/access", r, allow.clone()).0, 204);
        std::thread::sleep(Duration::from_micros(round_u64 * 7919 % fill_micros));
        // The readers refill after this write's clear, reading the allowing text; the deny lands while they compile.
        assert_eq!(c.put("sys/policy/unrelated", r, unrelated(round)).0, 204);
        std::thread::sleep(Duration::from_micros(round_u64 * 104_729 % (fill_micros / 2)));
        assert_eq!(c.put("sys/policy/access", r, deny.clone()).0, 204);
        let acked = Instant::now();
        for token in [&heavy, &light] {
            let status = c.get("kv/target", Some(token)).0;
            if status != 403 {
                stale.push(format!("round {round}: a token got {status} after the deny"));
            }
        }
        if round % 10 == 0 {
            let fresh = create(c, &names);
            let status = c.get("kv/target", Some(&fresh)).0;
            if status != 403 {
                stale.push(format!("round {round}: a token created after the deny got {status}"));
            }
        }
        std::thread::sleep(Duration::from_micros(fill_micros / 4));
        deny_windows.push((acked, Instant::now()));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    let log = log.lock().unwrap();
    let window_of =
        |sent: &Instant, answered: &Instant| deny_windows.iter().position(|(from, to)| sent > from && answered < to);
    let mut stale_windows = std::collections::BTreeSet::new();
    let (mut refused, mut allowed) = (0, 0);
    for (sent, answered, status) in log.iter() {
        if let Some(window) = window_of(sent, answered) {
            if *status == 200 {
                allowed += 1;
                stale_windows.insert(window);
            } else if *status == 403 {
                refused += 1;
            }
        }
    }
    eprintln!(
        "{ROUNDS} rounds in {:.1} s (a fill takes about {fill_micros} us); {} reader requests, inside deny windows \
         {refused} refused and {allowed} allowed",
        started.elapsed().as_secs_f64(),
        log.len()
    );
    assert!(
        refused > 0,
        "no reader request fell inside a deny window: the test proves nothing"
    );
    assert!(
        stale.is_empty() && allowed == 0,
        "stale answers after an acknowledged deny: {allowed} reader requests in {} of {ROUNDS} rounds, and {} \
         checks:\n{}",
        stale_windows.len(),
        stale.len(),
        stale.join("\n")
    );
}
