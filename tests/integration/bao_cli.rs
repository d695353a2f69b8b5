//! The real OpenBao CLI against our server, step by step beside a reference `bao server`: the same commands must
//! succeed or fail alike (exit codes) and print the same fields.

use serde_json::Value;

use crate::common::{temp_dir, TestServer};
use crate::tools::{run_bao, run_flow_on_both, ReferenceServer};

/// Field names of `bao status`'s table (the first column), in order.
fn status_fields(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split("  ").next())
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Run the operator flow against `addr`; return (step name, exit code, fields or output keys) per step.
fn operator_flow(addr: &str) -> Vec<(String, i32, Vec<String>)> {
    let mut steps = Vec::new();
    let mut record = |name: &str, out: (i32, String, String), fields: Vec<String>| {
        assert!(!out.2.contains("panic"), "{name}: {}", out.2);
        steps.push((name.to_string(), out.0, fields));
    };

    let out = run_bao(addr, None, &["status"]);
    let fields = status_fields(&out.1);
    record("status uninitialized", out, fields);

    let out = run_bao(
        addr,
        None,
        &["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"],
    );
    assert_eq!(out.0, 0, "init failed at {addr}: {}", out.2);
    let init: Value = serde_json::from_str(&out.1).unwrap();
    let mut keys: Vec<String> = init.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let b64: Vec<String> = init["unseal_keys_b64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().into())
        .collect();
    let hex: Vec<String> = init["unseal_keys_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().into())
        .collect();
    let root = init["root_token"].as_str().unwrap().to_string();
    record("operator init", out, keys);

    let out = run_bao(addr, None, &["status"]);
    let fields = status_fields(&out.1);
    record("status sealed", out, fields);

    let out = run_bao(addr, None, &["operator", "unseal", &b64[0]]);
    let fields = status_fields(&out.1);
    record("unseal 1/2", out, fields);

    let out = run_bao(addr, None, &["operator", "unseal", "-format=json", &hex[2]]);
    let json: Value = serde_json::from_str(&out.1).unwrap();
    assert_eq!(json["sealed"], false, "{json}");
    let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    record("unseal 2/2 (json)", out, keys);

    let out = run_bao(addr, None, &["status"]);
    let fields = status_fields(&out.1);
    record("status unsealed", out, fields);

    let out = run_bao(addr, None, &["operator", "seal"]);
    record("seal without token", (out.0, out.1, out.2), vec![]);

    let out = run_bao(addr, Some(&root), &["operator", "seal"]);
    assert!(out.1.contains("Success! Vault is sealed."), "{}", out.1);
    record("seal", out, vec![]);

    let out = run_bao(addr, None, &["status"]);
    let fields = status_fields(&out.1);
    record("status resealed", out, fields);

    let out = run_bao(addr, None, &["operator", "unseal", "not-a-key"]);
    record("unseal bad key", (out.0, String::new(), String::new()), vec![]);
    steps
}

#[test]
fn bao_operator_flow_matches_reference() {
    let reference = ReferenceServer::start();
    let dir = temp_dir();
    let ours = TestServer::start(dir.path());

    let expected = operator_flow(&reference.addr);
    let actual = operator_flow(&format!("http://{}", ours.addr));
    for (e, a) in expected.iter().zip(actual.iter()) {
        assert_eq!(e, a, "step {:?} differs (reference vs ours)", e.0);
    }
    assert_eq!(expected.len(), actual.len());
    // Sanity: the flow really went through sealed and unsealed states.
    assert_eq!(expected[2].1, 2, "bao status exits 2 while sealed");
    assert_eq!(expected[5].1, 0);
    assert!(
        expected[0].2.len() >= 8 && expected[5].2.contains(&"Cluster ID".to_string()),
        "{:?}",
        expected
    );
}

/// Sorted keys of a JSON object (and of its `data`/`auth` members), to compare output shapes.
fn shape(stdout: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(stdout) else {
        return vec![format!("not json: {}", stdout.trim())];
    };
    let mut keys = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, inner) in obj {
            keys.push(k.clone());
            if let Some(inner) = inner.as_object() {
                keys.extend(inner.keys().map(|ik| format!("{k}.{ik}")));
            }
        }
    }
    keys.sort();
    keys
}

/// Token and policy commands; returns (step, exit code, output shape or text) per step.
fn token_policy_flow(addr: &str) -> Vec<(String, i32, Vec<String>)> {
    let c = crate::common::Client::new(addr);
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    let dir = temp_dir();
    let policy_file = dir.path().join("reader.hcl");
    std::fs::write(
        &policy_file,
        "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n",
    )
    .unwrap();
    let policy_arg = policy_file.display().to_string();
    let r = Some(root.as_str());
    let mut steps = Vec::new();
    let mut step = |name: &str, out: (i32, String, String), detail: Vec<String>| {
        steps.push((name.to_string(), out.0, detail));
    };

    let out = run_bao(addr, r, &["policy", "write", "reader", &policy_arg]);
    let text = vec![out.1.trim().to_string()];
    step("policy write", out, text);
    let out = run_bao(addr, r, &["policy", "list"]);
    let text = out.1.lines().map(str::to_string).collect();
    step("policy list", out, text);
    let out = run_bao(addr, r, &["policy", "read", "reader"]);
    let text = vec![out.1.clone()];
    step("policy read", out, text);
    let out = run_bao(addr, r, &["policy", "read", "-format=json", "reader"]);
    let s = shape(&out.1);
    step("policy read json", out, s);

    let out = run_bao(
        addr,
        r,
        &["token", "create", "-policy=reader", "-ttl=1h", "-format=json"],
    );
    let created: Value = serde_json::from_str(&out.1).unwrap();
    let token = created["auth"]["client_token"].as_str().unwrap().to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();
    let s = shape(&out.1);
    step("token create", out, s);
    let out = run_bao(addr, r, &["token", "lookup", "-format=json", &token]);
    let s = shape(&out.1);
    step("token lookup", out, s);
    let out = run_bao(addr, Some(&token), &["token", "lookup", "-format=json"]);
    let s = shape(&out.1);
    step("token lookup self", out, s);
    let out = run_bao(addr, r, &["token", "lookup", "-format=json", "-accessor", &accessor]);
    let s = shape(&out.1);
    step("token lookup accessor", out, s);
    let out = run_bao(addr, r, &["token", "renew", "-increment=2h", "-format=json", &token]);
    let s = shape(&out.1);
    step("token renew", out, s);
    let out = run_bao(addr, r, &["token", "capabilities", &token, "secret/foo"]);
    let text = vec![out.1.trim().to_string()];
    step("token capabilities", out, text);
    let out = run_bao(addr, Some(&token), &["token", "capabilities", "sys/policy"]);
    let text = vec![out.1.trim().to_string()];
    step("token capabilities self", out, text);
    let out = run_bao(addr, Some(&token), &["policy", "list"]);
    step("policy list denied", (out.0, String::new(), String::new()), vec![]);
    let out = run_bao(addr, r, &["token", "revoke", &token]);
    let text = vec![out.1.trim().to_string()];
    step("token revoke", out, text);
    let out = run_bao(addr, r, &["token", "lookup", &token]);
    step("token lookup revoked", (out.0, String::new(), String::new()), vec![]);
    let out = run_bao(addr, r, &["policy", "delete", "reader"]);
    let text = vec![out.1.trim().to_string()];
    step("policy delete", out, text);
    let out = run_bao(addr, r, &["policy", "list"]);
    let text = out.1.lines().map(str::to_string).collect();
    step("policy list after delete", out, text);

    // The auth mount table.
    let error_lines = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.starts_with("* "))
            .map(str::to_string)
            .collect()
    };
    let out = run_bao(addr, r, &["auth", "list", "-format=json"]);
    let s = shape(&out.1);
    step("auth list json", out, s);
    let out = run_bao(addr, r, &["auth", "list"]);
    let columns = out
        .1
        .lines()
        .next()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    step("auth list table header", out, columns);
    let out = run_bao(addr, r, &["auth", "enable", "-path=people", "nope"]);
    let errors = error_lines(&out.2);
    step("auth enable unknown type", out, errors);
    let out = run_bao(addr, r, &["auth", "enable", "token"]);
    let errors = error_lines(&out.2);
    step("auth enable token", out, errors);
    let out = run_bao(addr, r, &["auth", "tune", "-default-lease-ttl=1h", "token/"]);
    let text = vec![out.1.trim().to_string()];
    step("auth tune token", out, text);
    let out = run_bao(addr, r, &["read", "-format=json", "sys/auth/token/tune"]);
    let s = shape(&out.1);
    step("auth tune read", out, s);
    let out = run_bao(addr, r, &["auth", "disable", "token"]);
    let errors = error_lines(&out.2);
    step("auth disable token", out, errors);
    let out = run_bao(addr, r, &["auth", "disable", "nothing-here"]);
    let text = vec![out.1.trim().to_string()];
    step("auth disable missing", out, text);
    steps
}

#[test]
fn bao_token_and_policy_commands_match_reference() {
    let expected = run_flow_on_both(token_policy_flow);
    assert_eq!(expected[0].1, 0, "policy write succeeds on the reference");
}

/// Response-wrapping commands; returns (step, exit code, output shape or text) per step.
fn wrapping_flow(addr: &str) -> Vec<(String, i32, Vec<String>)> {
    let c = crate::common::Client::new(addr);
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    let r = Some(root.as_str());
    let mut steps = Vec::new();
    let mut step = |name: &str, out: &(i32, String, String), detail: Vec<String>| {
        steps.push((name.to_string(), out.0, detail));
    };
    let token_of = |out: &str| {
        serde_json::from_str::<Value>(out)
            .ok()
            .and_then(|v| v["wrap_info"]["token"].as_str().map(str::to_string))
            .unwrap_or_default()
    };

    // `bao write sys/wrapping/wrap` adds a 5 minute wrap TTL by itself.
    let out = run_bao(addr, r, &["write", "-format=json", "sys/wrapping/wrap", "foo=bar"]);
    step("wrap", &out, shape(&out.1));
    let first = token_of(&out.1);
    let out = run_bao(
        addr,
        r,
        &[
            "write",
            "-format=json",
            "sys/wrapping/lookup",
            &format!("token={first}"),
        ],
    );
    step("lookup", &out, shape(&out.1));
    let out = run_bao(
        addr,
        r,
        &[
            "write",
            "-format=json",
            "sys/wrapping/rewrap",
            &format!("token={first}"),
        ],
    );
    step("rewrap", &out, shape(&out.1));
    let second = token_of(&out.1);
    let out = run_bao(addr, r, &["unwrap", "-format=json", &first]);
    step("unwrap the old token", &out, vec![]);
    let out = run_bao(addr, r, &["unwrap", "-format=json", &second]);
    let data = serde_json::from_str::<Value>(&out.1)
        .map(|v| v["data"].to_string())
        .unwrap_or_default();
    step("unwrap", &out, vec![data]);
    let out = run_bao(addr, r, &["unwrap", &second]);
    step("unwrap again", &out, vec![]);

    let out = run_bao(
        addr,
        r,
        &["token", "create", "-wrap-ttl=2m", "-policy=default", "-format=json"],
    );
    step("token create wrapped", &out, shape(&out.1));
    let wrapped_token = token_of(&out.1);
    // With the wrapping token as the client token and no argument, `bao unwrap` unwraps it.
    let out = run_bao(addr, Some(&wrapped_token), &["unwrap", "-format=json"]);
    step("unwrap with the wrapping token itself", &out, shape(&out.1));
    steps
}

#[test]
fn bao_wrapping_commands_match_reference() {
    let expected = run_flow_on_both(wrapping_flow);
    assert_eq!(
        (expected[0].1, expected[5].1),
        (0, 2),
        "wrap succeeds and a second unwrap fails on the reference"
    );
    assert_eq!(expected[4].2, vec!["{\"foo\":\"bar\"}".to_string()]);
}

/// `bao lease lookup/renew/revoke [-prefix] [-force]` on token leases.
fn lease_flow(addr: &str) -> Vec<(String, i32, Vec<String>)> {
    let c = crate::common::Client::new(addr);
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    let r = Some(root.as_str());
    let mut steps = Vec::new();
    let mut step = |name: &str, out: &(i32, String, String), detail: Vec<String>| {
        steps.push((name.to_string(), out.0, detail));
    };
    let create = |role: &str| {
        let (status, body) = c.put(
            &format!("auth/token/create/{role}"),
            r,
            serde_json::json!({"ttl": "1h"}),
        );
        assert_eq!(status, 200, "{body}");
        body["auth"]["client_token"].as_str().unwrap().to_string()
    };
    let lease_of = |role: &str| {
        let (_, body) = c.call("LIST", &format!("sys/leases/lookup/auth/token/create/{role}/"), r, None);
        let key = body["data"]["keys"][0].as_str().unwrap_or_default().to_string();
        format!("auth/token/create/{role}/{key}")
    };
    for role in ["ra", "rb"] {
        assert_eq!(
            c.put(&format!("auth/token/roles/{role}"), r, serde_json::json!({})).0,
            204
        );
    }
    let a = create("ra");
    let a_lease = lease_of("ra");
    let out = run_bao(addr, r, &["lease", "lookup", "-format=json", &a_lease]);
    step("lookup", &out, shape(&out.1));
    let out = run_bao(addr, r, &["lease", "lookup", "nope/x"]);
    step("lookup unknown", &out, vec![]);
    let out = run_bao(addr, r, &["lease", "renew", &a_lease]);
    step("renew a token lease", &out, vec![]);
    let out = run_bao(addr, r, &["lease", "revoke", &a_lease]);
    step("revoke", &out, vec![out.1.trim().replace(&a_lease, "<lease>")]);
    step(
        "token gone",
        &(
            c.get("auth/token/lookup-self", Some(&a)).0 as i32,
            String::new(),
            String::new(),
        ),
        vec![],
    );
    let b1 = create("rb");
    let b2 = create("rb");
    let out = run_bao(addr, r, &["lease", "revoke", "-prefix", "auth/token/create/rb"]);
    step("revoke -prefix", &out, vec![out.1.trim().to_string()]);
    for b in [&b1, &b2] {
        step(
            "prefix token gone",
            &(
                c.get("auth/token/lookup-self", Some(b)).0 as i32,
                String::new(),
                String::new(),
            ),
            vec![],
        );
    }
    create("rb");
    let out = run_bao(
        addr,
        r,
        &["lease", "revoke", "-force", "-prefix", "auth/token/create/rb"],
    );
    step("revoke -force -prefix", &out, vec![out.1.trim().to_string()]);
    let out = run_bao(addr, r, &["lease", "revoke", "-force", "auth/token/create/rb"]);
    step("revoke -force without -prefix", &out, vec![]);
    steps
}

#[test]
fn bao_lease_commands_match_reference() {
    let expected = run_flow_on_both(lease_flow);
    // The flow tests what it says: lookup and revocations work, renewal of a token lease and unknown leases fail.
    let codes: Vec<i32> = expected.iter().map(|s| s.1).collect();
    assert_eq!(codes, vec![0, 2, 2, 0, 403, 0, 403, 403, 0, 1], "{expected:?}");
    assert!(!expected[0].2.is_empty(), "{expected:?}");
}

/// The real `bao operator key-status / rotate / rekey / rotate-keys / generate-root` end to end: rotate the
/// barrier key, rekey (legacy endpoints, enabled on the listener) to 5/3, seal and unseal with the new shares,
/// rotate the shares to 2/2 with verification, unseal with those, then generate a root token with them, decode it
/// and use it. Returns (step, exit code, output shape and the values that matter) per step.
fn operator_keys_flow(addr: &str) -> Vec<(String, i32, Vec<String>)> {
    let c = crate::common::Client::new(addr);
    let (keys, root) = c.init(3, 2);
    c.unseal_with(&keys[..2]);
    let r = Some(root.as_str());
    let mut steps = Vec::new();
    let json = |out: &(i32, String, String)| serde_json::from_str::<Value>(&out.1).unwrap_or(Value::Null);
    let list = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut step = |name: &str, out: &(i32, String, String), detail: Vec<String>| {
        assert!(!out.2.contains("panic"), "{name}: {}", out.2);
        steps.push((name.to_string(), out.0, detail));
    };
    let values = |v: &Value, fields: &[&str]| -> Vec<String> {
        let mut out = shape(&v.to_string());
        out.extend(fields.iter().map(|f| format!("{f}={}", v[*f])));
        out
    };

    let out = run_bao(addr, r, &["operator", "key-status", "-format=json"]);
    step("key-status", &out, values(&json(&out), &["term"]));
    let out = run_bao(addr, r, &["operator", "rotate", "-format=json"]);
    step("rotate", &out, values(&json(&out), &["term"]));

    // rekey (legacy) to 5/3.
    let out = run_bao(
        addr,
        r,
        &[
            "operator",
            "rekey",
            "-init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ],
    );
    let nonce = json(&out)["nonce"].as_str().unwrap_or_default().to_string();
    step(
        "rekey init",
        &out,
        values(&json(&out), &["t", "n", "required", "started"]),
    );
    let n = format!("-nonce={nonce}");
    let out = run_bao(addr, r, &["operator", "rekey", &n, "-format=json", &keys[0]]);
    step("rekey key 1", &out, values(&json(&out), &["progress"]));
    let out = run_bao(addr, r, &["operator", "rekey", &n, "-format=json", &keys[1]]);
    let rekeyed = list(&json(&out), "keys_base64");
    step("rekey key 2", &out, values(&json(&out), &["complete"]));
    let out = run_bao(addr, r, &["operator", "seal"]);
    step("seal", &out, vec![out.1.trim().to_string()]);
    let out = run_bao(addr, None, &["operator", "unseal", "-format=json", &keys[0]]);
    step(
        "an old share",
        &out,
        values(&json(&out), &["sealed", "t", "n", "progress"]),
    );
    let out = run_bao(addr, None, &["operator", "unseal", "-reset", "-format=json"]);
    step("reset", &out, values(&json(&out), &["progress"]));
    for (i, key) in rekeyed.iter().take(3).enumerate() {
        let out = run_bao(addr, None, &["operator", "unseal", "-format=json", key]);
        step(
            &format!("unseal with new share {i}"),
            &out,
            values(&json(&out), &["sealed", "t", "n"]),
        );
    }

    // rotate-keys to 2/2 with verification.
    let out = run_bao(
        addr,
        r,
        &[
            "operator",
            "rotate-keys",
            "-init",
            "-key-shares=2",
            "-key-threshold=2",
            "-verify",
            "-format=json",
        ],
    );
    let nonce = json(&out)["nonce"].as_str().unwrap_or_default().to_string();
    step(
        "rotate-keys init",
        &out,
        values(&json(&out), &["verification_required"]),
    );
    let n = format!("-nonce={nonce}");
    let mut newest = Vec::new();
    for (i, key) in rekeyed.iter().skip(1).take(3).enumerate() {
        let out = run_bao(addr, r, &["operator", "rotate-keys", &n, "-format=json", key]);
        newest = list(&json(&out), "keys_base64");
        step(
            &format!("rotate-keys share {i}"),
            &out,
            values(&json(&out), &["complete"]),
        );
    }
    let out = run_bao(
        addr,
        r,
        &["operator", "rotate-keys", "-verify", "-status", "-format=json"],
    );
    let vnonce = json(&out)["nonce"].as_str().unwrap_or_default().to_string();
    step("verify status", &out, values(&json(&out), &["t", "n", "started"]));
    let v = format!("-nonce={vnonce}");
    for (i, key) in newest.iter().enumerate() {
        let out = run_bao(addr, r, &["operator", "rotate-keys", "-verify", &v, key]);
        step(
            &format!("verify share {i}"),
            &out,
            vec![out.1.trim().replace(&vnonce, "NONCE")],
        );
    }
    let out = run_bao(addr, r, &["operator", "seal"]);
    step("seal again", &out, vec![]);
    for (i, key) in newest.iter().enumerate() {
        let out = run_bao(addr, None, &["operator", "unseal", "-format=json", key]);
        step(
            &format!("unseal 2/2 share {i}"),
            &out,
            values(&json(&out), &["sealed", "t", "n"]),
        );
    }

    // generate-root with the newest shares; the token works.
    let out = run_bao(addr, r, &["operator", "generate-root", "-generate-otp"]);
    let otp = out.1.trim().to_string();
    step("generate otp", &out, vec![otp.len().to_string()]);
    let out = run_bao(
        addr,
        r,
        &[
            "operator",
            "generate-root",
            "-init",
            &format!("-otp={otp}"),
            "-format=json",
        ],
    );
    let nonce = json(&out)["nonce"].as_str().unwrap_or_default().to_string();
    step(
        "generate-root init",
        &out,
        values(&json(&out), &["started", "required", "otp_length"]),
    );
    let n = format!("-nonce={nonce}");
    let out = run_bao(addr, r, &["operator", "generate-root", &n, "-format=json", &newest[0]]);
    step(
        "generate-root share 1",
        &out,
        values(&json(&out), &["progress", "complete"]),
    );
    let out = run_bao(addr, r, &["operator", "generate-root", &n, "-format=json", &newest[1]]);
    let encoded = json(&out)["encoded_token"].as_str().unwrap_or_default().to_string();
    step(
        "generate-root share 2",
        &out,
        values(&json(&out), &["progress", "complete"]),
    );
    let out = run_bao(
        addr,
        r,
        &[
            "operator",
            "generate-root",
            &format!("-decode={encoded}"),
            &format!("-otp={otp}"),
        ],
    );
    let token = out.1.trim().to_string();
    step("decode", &out, vec![token.len().to_string()]);
    let out = run_bao(addr, Some(&token), &["token", "lookup", "-format=json"]);
    let lookup = json(&out);
    step(
        "the new token",
        &out,
        vec![
            lookup["data"]["policies"].to_string(),
            lookup["data"]["path"].to_string(),
        ],
    );
    let out = run_bao(addr, Some(&token), &["operator", "rotate", "-format=json"]);
    step("it rotates", &out, values(&json(&out), &["term"]));
    steps
}

#[test]
fn bao_operator_key_commands_work_against_our_server() {
    let listener = "  disable_unauthed_rekey_endpoints = false\n  disable_unauthed_generate_root_endpoints = false";
    let reference = ReferenceServer::start_with_listener("", listener);
    let dir = temp_dir();
    let config = crate::common::write_config(
        dir.path(),
        &dir.path().join("data"),
        "",
        &format!("  tls_disable = true\n{listener}"),
    );
    let ours = TestServer::start_with_config(dir.path(), &config, "http", None);
    let expected = operator_keys_flow(&reference.addr);
    let actual = operator_keys_flow(&format!("http://{}", ours.addr));
    assert_eq!(expected.len(), actual.len());
    for (e, a) in expected.iter().zip(actual.iter()) {
        assert_eq!(e, a, "step {:?} differs (reference vs ours)", e.0);
    }
    // The flow did what it says on the reference: every step succeeded, the new shares unsealed, the generated
    // token is a root token.
    for s in &expected {
        assert_eq!(s.1, 0, "{s:?}");
    }
    let find = |name: &str| &expected.iter().find(|s| s.0 == name).unwrap().2;
    assert!(find("unseal with new share 2").contains(&"sealed=false".to_string()));
    assert!(find("unseal with new share 1").contains(&"sealed=true".to_string()));
    assert!(find("unseal 2/2 share 1").contains(&"sealed=false".to_string()));
    assert_eq!(find("the new token")[0], "[\"root\"]");
    assert_eq!(find("decode"), &vec!["26".to_string()]);
}
