//! The real OpenBao CLI against our server, step by step beside a reference `bao server`: the same commands must
//! succeed or fail alike (exit codes) and print the same fields.

use serde_json::Value;

use crate::common::{temp_dir, TestServer};
use crate::tools::{run_bao, ReferenceServer};

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
