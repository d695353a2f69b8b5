//! AppRole through Python hvac 2.4.0 (`client.auth.approle.*`), unchanged, against our server and the reference side
//! by side.

use serde_json::json;

use crate::tools::run_hvac_script_on_both;

#[test]
fn hvac_approle_matches_reference() {
    let actual = run_hvac_script_on_both("hvac_approle.py");
    let by_name = |name: &str| actual.iter().find(|s| s["step"] == name).unwrap().clone();
    assert_eq!(
        by_name("login")["value"],
        json!({"policies": ["app", "default"], "ttl": 3600, "metadata": {"team": "a", "role_name": "app"}})
    );
    assert_eq!(by_name("uses left")["value"], 4);
    assert_eq!(
        by_name("login with a wrong secret id")["errors"],
        json!(["invalid role or secret ID"])
    );
    assert_eq!(by_name("unwrap it")["value"], true);
    assert_eq!(by_name("login with a destroyed one")["raised"], "InvalidRequest");
}
