//! hvac 2.4.0's `secrets.transit` calls (`tests/integration/py/hvac_transit.py`) against our server and a reference
//! `bao server`, compared call by call with the differential harness's comparison (key material, ciphertexts,
//! signatures and times ignored by value).

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::differential::{compare, Ignore};
use crate::tools::{hvac_record, run_hvac_script, ReferenceServer};

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
        let expected = s.spawn(|| run_hvac_script("hvac_transit.py", &reference.addr));
        let actual = run_hvac_script("hvac_transit.py", &format!("http://{}", ours.addr));
        (expected.join().expect("hvac against the reference"), actual)
    });

    // What hvac saw from our server.
    assert_eq!(
        hvac_record(&actual, "decrypt")["result"]["data"]["plaintext"],
        json!("aGVsbG8=")
    );
    assert_eq!(
        hvac_record(&actual, "verify signature")["result"]["data"]["valid"],
        json!(true)
    );
    assert_eq!(
        hvac_record(&actual, "verify bad signature")["result"]["data"]["valid"],
        json!(false)
    );
    assert_eq!(
        hvac_record(&actual, "verify hmac")["result"]["data"]["valid"],
        json!(true)
    );
    assert_eq!(
        hvac_record(&actual, "verify with restored key")["result"]["data"]["valid"],
        json!(true)
    );
    assert_eq!(hvac_record(&actual, "read missing key")["raised"], "InvalidPath");

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
