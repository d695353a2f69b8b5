//! The real Python client, hvac 2.4.0, through everyday calls against our server: `tests/integration/py/hvac_flow.py`
//! initializes, unseals, reads seal status, health and leader, seals, and provokes errors; it prints one JSON record
//! per call (the result, or the exception class hvac raised with its message). We assert on what hvac saw from our
//! server, then run the same script against a reference `bao server` and compare the two records call by call with
//! the differential harness's comparison (ids, keys, tokens, times and versions ignored by value).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::differential::{compare, Ignore};
use crate::tools::{python, ReferenceServer};

/// Calls where our server is known to answer differently from OpenBao: step name -> why. A listed step that matches
/// fails the test, so the entry goes as soon as the server is fixed.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/py/hvac_flow.py")
}

/// Run the hvac flow against `addr`; returns its records.
fn hvac_flow(addr: &str) -> Vec<Value> {
    let home = temp_dir();
    let out = Command::new(python())
        .arg(script())
        .env("HVAC_TEST_ADDR", addr)
        // hvac and requests read these: keep the flow independent of the caller's environment.
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
        "hvac flow against {addr} failed: {}\n{stderr}\n{stdout}",
        out.status
    );
    let records: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("hvac flow against {addr} printed no JSON ({e}): {stdout}\n{stderr}"));
    records.as_array().unwrap().clone()
}

fn record<'a>(records: &'a [Value], step: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["step"] == step)
        .unwrap_or_else(|| panic!("no record for {step:?} in {records:#?}"))
}

/// Every key of `expected` is in `actual` with an equal value (recursively for objects).
fn assert_subset(step: &str, expected: &Value, actual: &Value) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let av = a.get(key).unwrap_or_else(|| panic!("{step}: no {key:?} in {actual}"));
                assert_subset(&format!("{step}/{key}"), ev, av);
            }
        }
        _ => assert_eq!(expected, actual, "{step}"),
    }
}

#[test]
fn hvac_everyday_flow() {
    let dir = temp_dir();
    let ours = TestServer::start(dir.path());
    let records = hvac_flow(&format!("http://{}", ours.addr));

    let status = |sealed: bool, t: u64, n: u64, progress: u64| json!({"type": "shamir", "initialized": true, "sealed": sealed, "t": t, "n": n, "progress": progress});
    let raised = |class: &str, message: &str, method: &str, path: &str| json!({"raised": class, "message": message, "errors": [message], "method": method, "path": path});
    let expectations = [
        ("is_initialized before init", json!({"result": false})),
        (
            "read_init_status before init",
            json!({"result": {"initialized": false}}),
        ),
        (
            "read_seal_status before init",
            json!({"result": {"initialized": false, "sealed": true, "t": 0, "n": 0, "progress": 0, "nonce": ""}}),
        ),
        (
            "read_health_status GET before init",
            json!({"result": {"http_status": 501, "json": {"initialized": false, "sealed": true}}}),
        ),
        (
            "submit_unseal_key before init",
            raised("InvalidRequest", "Vault is not initialized", "PUT", "/v1/sys/unseal"),
        ),
        (
            "initialize with threshold > shares",
            raised(
                "InvalidRequest",
                "invalid seal configuration: threshold cannot be larger than shares",
                "PUT",
                "/v1/sys/init",
            ),
        ),
        (
            "initialize with 0 shares",
            raised(
                "InvalidRequest",
                "invalid seal configuration: shares must be at least one",
                "PUT",
                "/v1/sys/init",
            ),
        ),
        (
            "initialize twice",
            raised("InvalidRequest", "Vault is already initialized", "PUT", "/v1/sys/init"),
        ),
        ("is_initialized after init", json!({"result": true})),
        ("is_sealed after init", json!({"result": true})),
        ("read_seal_status sealed", json!({"result": status(true, 2, 3, 0)})),
        (
            "read_health_status GET sealed",
            json!({"result": {"http_status": 503, "json": {"initialized": true, "sealed": true, "standby": true}}}),
        ),
        (
            "read_health_status HEAD sealed",
            json!({"result": {"http_status": 503, "json": null}}),
        ),
        (
            "read_health_status GET sealed_code=299",
            json!({"result": {"http_status": 299, "json": {"sealed": true}}}),
        ),
        ("read_leader_status sealed", json!({"result": {"ha_enabled": false}})),
        (
            "submit_unseal_key bad key",
            raised(
                "InvalidRequest",
                "'key' must be a valid hex or base64 string",
                "PUT",
                "/v1/sys/unseal",
            ),
        ),
        (
            "submit_unseal_key short key",
            raised(
                "InvalidRequest",
                "invalid key: key is shorter than minimum 16 bytes",
                "PUT",
                "/v1/sys/unseal",
            ),
        ),
        ("submit_unseal_key share 1", json!({"result": status(true, 2, 3, 1)})),
        (
            "submit_unseal_key share 1 again",
            json!({"result": status(true, 2, 3, 1)}),
        ),
        ("read_seal_status in progress", json!({"result": status(true, 2, 3, 1)})),
        (
            "submit_unseal_key reset",
            json!({"result": {"sealed": true, "progress": 0, "nonce": ""}}),
        ),
        (
            "submit_unseal_key without key",
            raised(
                "InvalidRequest",
                "'key' must be specified in request body as JSON, or 'reset' set to true",
                "PUT",
                "/v1/sys/unseal",
            ),
        ),
        ("submit_unseal_keys base64", json!({"result": status(false, 2, 3, 0)})),
        ("is_sealed after unseal", json!({"result": false})),
        ("read_seal_status unsealed", json!({"result": status(false, 2, 3, 0)})),
        (
            "read_health_status GET unsealed",
            json!({"result": {"initialized": true, "sealed": false, "standby": false}}),
        ),
        (
            "read_health_status HEAD unsealed",
            json!({"result": {"http_status": 200, "json": null}}),
        ),
        (
            "read_health_status GET active_code=299",
            json!({"result": {"http_status": 299, "json": {"sealed": false}}}),
        ),
        ("read_leader_status unsealed", json!({"result": {"ha_enabled": false}})),
        (
            "seal without a token",
            raised("Forbidden", "permission denied", "PUT", "/v1/sys/seal"),
        ),
        (
            "seal with an unknown token",
            raised("Forbidden", "permission denied", "PUT", "/v1/sys/seal"),
        ),
        (
            "read unknown path without a token",
            raised("Forbidden", "permission denied", "GET", "/v1/nope"),
        ),
        (
            "read unknown path with root",
            raised(
                "InvalidPath",
                "no handler for route \"nope\". route entry not found.",
                "GET",
                "/v1/nope",
            ),
        ),
        ("client.read unknown path with root", json!({"result": null})),
        ("is_authenticated with root", json!({"result": true})),
        ("is_authenticated with an unknown token", json!({"result": false})),
        (
            "token create",
            json!({"result": {"auth": {"policies": ["default"], "token_policies": ["default"],
                "metadata": {"team": "a"}, "lease_duration": 3600, "renewable": true, "orphan": false}}}),
        ),
        (
            "token lookup_self as the child",
            json!({"result": {"data": {"policies": ["default"], "meta": {"team": "a"}, "display_name": "token-token",
                "path": "auth/token/create", "creation_ttl": 3600, "num_uses": 0}}}),
        ),
        (
            "token lookup of the child as root",
            json!({"result": {"data": {"policies": ["default"], "meta": {"team": "a"}}}}),
        ),
        (
            "token renew_self as the child",
            json!({"result": {"auth": {"lease_duration": 1800, "renewable": true}}}),
        ),
        (
            "child seals",
            raised(
                "Forbidden",
                "1 error occurred:\n\t* permission denied\n\n",
                "PUT",
                "/v1/sys/seal",
            ),
        ),
        (
            "token revoke of the child as root",
            json!({"result": {"http_status": 204, "json": null}}),
        ),
        (
            "token lookup_self as the revoked child",
            raised("Forbidden", "permission denied", "GET", "/v1/auth/token/lookup-self"),
        ),
        (
            "list_auth_methods",
            json!({"result": {"token/": {"type": "token", "description": "token based credentials", "options": null,
                "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "token_type": "default-service"}}}}),
        ),
        (
            "enable_auth_method of an unknown type",
            raised(
                "InvalidRequest",
                "plugin not found in the catalog: nope",
                "POST",
                "/v1/sys/auth/people",
            ),
        ),
        (
            "tune_auth_method token",
            json!({"result": {"http_status": 204, "json": null}}),
        ),
        (
            "read_auth_method_tuning token",
            json!({"result": {"default_lease_ttl": 3600, "token_type": "default-service"}}),
        ),
        (
            "disable_auth_method token",
            raised(
                "InvalidRequest",
                "token credential backend cannot be disabled",
                "DELETE",
                "/v1/sys/auth/token",
            ),
        ),
        (
            "list_auth_methods after the tune",
            json!({"result": {"token/": {"config": {"default_lease_ttl": 3600}}}}),
        ),
        ("is_sealed before seal", json!({"result": false})),
        ("seal with root", json!({"result": {"http_status": 204, "json": null}})),
        ("is_sealed after seal", json!({"result": true})),
        (
            "read unknown path while sealed",
            raised("VaultDown", "Vault is sealed", "GET", "/v1/nope"),
        ),
        (
            "seal with root while sealed",
            json!({"result": {"http_status": 204, "json": null}}),
        ),
        ("submit_unseal_keys hex", json!({"result": status(false, 2, 3, 0)})),
        ("is_sealed after second unseal", json!({"result": false})),
    ];
    for (step, expected) in &expectations {
        assert_subset(step, expected, record(&records, step));
    }

    let init = &record(&records, "initialize 3/2")["result"];
    for field in ["keys", "keys_base64"] {
        let keys = init[field].as_array().unwrap_or_else(|| panic!("{field} in {init}"));
        assert_eq!(keys.len(), 3, "{init}");
        assert!(keys.iter().all(|k| k.as_str().is_some_and(|k| !k.is_empty())), "{init}");
    }
    assert!(init["root_token"].as_str().is_some_and(|t| !t.is_empty()), "{init}");
    let first = &record(&records, "submit_unseal_key share 1")["result"]["nonce"];
    assert!(first.as_str().is_some_and(|n| !n.is_empty()), "a nonce while unsealing");
    assert_eq!(
        first,
        &record(&records, "read_seal_status in progress")["result"]["nonce"]
    );
    let created = &record(&records, "token create")["result"]["auth"];
    let child_lookup = &record(&records, "token lookup_self as the child")["result"]["data"];
    assert_eq!(child_lookup["id"], created["client_token"], "{child_lookup}");
    assert_eq!(child_lookup["accessor"], created["accessor"], "{child_lookup}");
    let unsealed = &record(&records, "read_seal_status unsealed")["result"];
    assert!(
        unsealed["cluster_id"].is_string() && unsealed["cluster_name"].is_string(),
        "{unsealed}"
    );
    // Every record was checked, here or (known differences) against the reference: a new call in the script needs
    // an expectation here.
    assert_eq!(
        records.len(),
        expectations.len() + 1 + KNOWN_DIFFERENCES.len(),
        "{records:#?}"
    );
}

#[test]
fn hvac_flow_matches_reference() {
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
        let expected = s.spawn(|| hvac_flow(&reference.addr));
        let actual = hvac_flow(&format!("http://{}", ours.addr));
        (expected.join().expect("hvac against the reference"), actual)
    });

    let names = |records: &[Value]| records.iter().map(|r| r["step"].clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&expected),
        names(&actual),
        "the flow took another path on our server"
    );
    let ignore = Ignore {
        keys: vec![],
        // A token lookup's `id` is the token itself; `ttl` is seconds left, 3600 or 3599 depending on timing.
        values: vec!["id", "ttl"],
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
