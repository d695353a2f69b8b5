//! hvac 2.4.0's `secrets.transit` calls (`tests/integration/py/hvac_transit.py`) against our server and a reference
//! `bao server`, compared call by call with the differential harness's comparison (key material, ciphertexts,
//! signatures and times ignored by value).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::differential::{compare, Ignore};
use crate::tools::{python, ReferenceServer};

fn run(addr: &str) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/py/hvac_transit.py");
    let home = temp_dir();
    let out = Command::new(python())
        .arg(script)
        .env("HVAC_TEST_ADDR", addr)
        .env("HOME", home.path())
        .env("NO_PROXY", "*")
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_CACERT")
        .env_remove("REQUESTS_CA_BUNDLE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "hvac transit flow against {addr} failed: {stderr}\n{stdout}"
    );
    let records: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("hvac transit flow against {addr} printed no JSON ({e}): {stdout}\n{stderr}"));
    records.as_array().unwrap().clone()
}

fn record<'a>(records: &'a [Value], step: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["step"] == step)
        .unwrap_or_else(|| panic!("no record for {step:?}"))
}

#[test]
fn hvac_transit_calls_match_reference() {
    let (reference, (_dir, ours)) = std::thread::scope(|s| {
        let reference = s.spawn(ReferenceServer::start);
        let dir = temp_dir();
        let ours = TestServer::start(dir.path());
        (
            reference.join().expect("the reference server did not start"),
            (dir, ours),
        )
    });
    let (expected, actual) = std::thread::scope(|s| {
        let expected = s.spawn(|| run(&reference.addr));
        let actual = run(&format!("http://{}", ours.addr));
        (expected.join().expect("hvac against the reference"), actual)
    });

    // What hvac saw from our server.
    assert_eq!(
        record(&actual, "decrypt")["result"]["data"]["plaintext"],
        json!("aGVsbG8=")
    );
    assert_eq!(
        record(&actual, "verify signature")["result"]["data"]["valid"],
        json!(true)
    );
    assert_eq!(
        record(&actual, "verify bad signature")["result"]["data"]["valid"],
        json!(false)
    );
    assert_eq!(record(&actual, "verify hmac")["result"]["data"]["valid"], json!(true));
    assert_eq!(
        record(&actual, "verify with restored key")["result"]["data"]["valid"],
        json!(true)
    );
    assert_eq!(record(&actual, "read missing key")["raised"], "InvalidPath");

    let names = |records: &[Value]| records.iter().map(|r| r["step"].clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&expected),
        names(&actual),
        "the flow took another path on our server"
    );
    let ignore = Ignore {
        keys: vec![],
        values: vec![
            "ciphertext",
            "plaintext",
            "hmac",
            "signature",
            "public_key",
            "random_bytes",
            "backup",
            "time",
            "running_plugin_version",
        ],
    };
    let mut failures = Vec::new();
    for (e, a) in expected.iter().zip(&actual) {
        let step = e["step"].as_str().unwrap();
        let mut differences = Vec::new();
        compare("", e, a, false, &ignore, &mut differences);
        if !differences.is_empty() {
            failures.push(format!(
                "{step}:\n    {}\n    reference: {e}\n    ours:      {a}",
                differences.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "hvac saw {} calls answered differently by our server and OpenBao:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
