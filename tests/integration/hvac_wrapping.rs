//! Response wrapping through Python hvac 2.4.0, unchanged, against our server and the reference side by side.

use serde_json::json;

use crate::tools::run_hvac_script_on_both;

#[test]
fn hvac_wrapping_matches_reference() {
    let actual = run_hvac_script_on_both("hvac_wrapping.py");
    let by_name = |name: &str| actual.iter().find(|s| s["step"] == name).unwrap().clone();
    assert_eq!(
        by_name("sys.wrap")["value"],
        json!({"ttl": 300, "path": "sys/wrapping/wrap"})
    );
    assert_eq!(by_name("sys.unwrap")["value"], json!({"a": "b"}));
    assert_eq!(by_name("sys.unwrap again")["raised"], "InvalidRequest");
    assert_eq!(
        by_name("unwrap the rewrapped-away token")["errors"],
        json!(["wrapping token is not valid or does not exist"])
    );
    assert_eq!(by_name("unwrap the wrapped read")["value"], "default");
    assert_eq!(by_name("unwrap with the wrapping token as client token")["value"], true);
}
