//! The policy-matching table (`data/acl_table.json`): paths × policies × operations -> allowed/denied, plus the
//! capabilities `sys/capabilities` reports. The `expected` column was produced by OpenBao 2.7.2; the test checks the
//! live reference still agrees and that our server gives the same answers.
//! Regenerate the column from the reference with `ACL_TABLE_WRITE=1 cargo test --test integration acl_table`.

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};
use crate::tools::ReferenceServer;

const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/data/acl_table.json");

fn method(op: &str) -> &'static str {
    match op {
        "read" => "GET",
        "list" => "LIST",
        "update" => "POST",
        "delete" => "DELETE",
        "patch" => "PATCH",
        other => panic!("unknown op {other}"),
    }
}

/// Run every case on one server; returns per case `{"decision": ..., "capabilities": [...]}`.
fn run_table(c: &Client, root: &str, table: &Value) -> Vec<Value> {
    for (name, text) in table["policies"].as_object().unwrap() {
        let (status, body) = c.put(
            &format!("sys/policies/acl/{name}"),
            Some(root),
            json!({ "policy": text }),
        );
        assert_eq!(status, 204, "writing policy {name}: {body}");
    }
    let mut results = Vec::new();
    for case in table["cases"].as_array().unwrap() {
        let policies = case["policies"].clone();
        let (status, body) = c.put(
            "auth/token/create",
            Some(root),
            json!({ "policies": policies, "ttl": "10m" }),
        );
        assert_eq!(status, 200, "{body}");
        let token = body["auth"]["client_token"].as_str().unwrap().to_string();
        let data = case["data"].clone();
        let payload = if data.is_null() {
            None
        } else {
            Some(data.to_string().into_bytes())
        };
        let path = case["path"].as_str().unwrap();
        let (status, body) = c.call(method(case["op"].as_str().unwrap()), path, Some(&token), payload);
        assert!(status < 500, "{path}: {status} {body}");
        let decision = if status == 403 { "denied" } else { "allowed" };
        let (_, caps) = c.put("sys/capabilities", Some(root), json!({ "token": token, "path": path }));
        results.push(json!({ "decision": decision, "capabilities": caps["capabilities"] }));
    }
    results
}

fn init(c: &Client) -> String {
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    root
}

#[test]
fn acl_table_matches_openbao() {
    let text = std::fs::read_to_string(TABLE).unwrap();
    let mut table: Value = serde_json::from_str(&text).unwrap();

    let reference = ReferenceServer::start();
    let rc = Client::new(&reference.addr);
    let reference_results = run_table(&rc, &init(&rc), &table);

    if std::env::var_os("ACL_TABLE_WRITE").is_some() {
        for (case, result) in table["cases"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .zip(&reference_results)
        {
            case["expected"] = result.clone();
        }
        std::fs::write(TABLE, serde_json::to_string_pretty(&table).unwrap() + "\n").unwrap();
    }

    let dir = temp_dir();
    let ours = TestServer::start(dir.path());
    let our_results = run_table(&ours.client, &init(&ours.client), &table);

    let mut mismatches = Vec::new();
    for ((case, theirs), mine) in table["cases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&reference_results)
        .zip(&our_results)
    {
        let expected = &case["expected"];
        assert!(
            !expected.is_null(),
            "the table has no expected column; regenerate it (see the module doc)"
        );
        if theirs != expected {
            mismatches.push(format!("REFERENCE drifted on {case}: now {theirs}"));
        }
        if mine != expected {
            mismatches.push(format!(
                "ours differs on {} {} {} {}: expected {expected}, got {mine}",
                case["policies"], case["op"], case["path"], case["data"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
