//! hvac 2.4.0's `secrets.kv.v1`, `secrets.kv.v2` and secrets-engine `sys` calls (`tests/integration/py/hvac_kv.py`)
//! against our server and a reference `bao server`, compared call by call with the differential harness's
//! comparison (ids, accessors, tokens and times ignored by value), plus a few checks on what hvac saw from ours.

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::differential::{compare, Ignore};
use crate::tools::{hvac_record, run_hvac_script, ReferenceServer};

/// Calls where our server is known to answer differently from OpenBao: step name -> why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn hvac_kv_calls_match_reference() {
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
        let expected = s.spawn(|| run_hvac_script("hvac_kv.py", &reference.addr));
        let actual = run_hvac_script("hvac_kv.py", &format!("http://{}", ours.addr));
        (expected.join().expect("hvac against the reference"), actual)
    });

    // What hvac saw from our server.
    assert_eq!(
        hvac_record(&actual, "v2 read latest")["result"]["data"]["data"],
        json!({"user": "c"})
    );
    assert_eq!(
        hvac_record(&actual, "v2 read after patch")["result"]["data"]["data"],
        json!({"user": "c", "extra": true})
    );
    assert_eq!(hvac_record(&actual, "v2 read deleted")["raised"], "InvalidPath");
    assert_eq!(
        hvac_record(&actual, "v2 cas mismatch")["errors"],
        json!(["check-and-set parameter did not match the current version"])
    );
    assert_eq!(hvac_record(&actual, "v1 read")["result"]["lease_duration"], 1800);
    assert_eq!(
        hvac_record(&actual, "read moved")["result"]["data"]["data"],
        json!({"y": 1})
    );
    assert_eq!(hvac_record(&actual, "read disabled")["raised"], "InvalidPath");

    let names = |records: &[Value]| records.iter().map(|r| r["step"].clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&expected),
        names(&actual),
        "the flow took another path on our server"
    );
    let ignore = Ignore {
        // The reference's identity store is not implemented here.
        keys: vec!["identity/"],
        values: vec!["uuid", "running_plugin_version", "migration_id"],
    };
    let mut failures = Vec::new();
    for (e, a) in expected.iter().zip(&actual) {
        let step = e["step"].as_str().unwrap();
        let mut differences = Vec::new();
        compare("", e, a, false, &ignore, &mut differences);
        let known = KNOWN_DIFFERENCES.iter().find(|(name, _)| *name == step);
        match (known, differences.is_empty()) {
            (None, true) => {}
            (None, false) => failures.push(format!(
                "{step}:\n    {}\n    reference: {e}\n    ours:      {a}",
                differences.join("\n    ")
            )),
            (Some((_, why)), false) => eprintln!("warning: known difference in {step:?} ({why}): {differences:?}"),
            (Some((_, why)), true) => failures.push(format!(
                "{step}: listed in KNOWN_DIFFERENCES ({why}) but now matches the reference: remove it"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "hvac saw {} calls answered differently by our server and OpenBao:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
