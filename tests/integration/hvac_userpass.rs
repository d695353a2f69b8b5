//! userpass through Python hvac 2.4.0 (`client.auth.userpass.*`), unchanged, against our server and the reference
//! side by side.

use serde_json::json;

use crate::tools::run_hvac_script_on_both;

#[test]
fn hvac_userpass_matches_reference() {
    let actual = run_hvac_script_on_both("hvac_userpass.py");
    let by_name = |name: &str| actual.iter().find(|s| s["step"] == name).unwrap().clone();
    assert_eq!(
        by_name("login")["value"],
        json!({"policies": ["default", "reader"], "ttl": 3600, "metadata": {"username": "alice"}, "type": "service"})
    );
    assert_eq!(by_name("list_user")["value"], json!(["alice"]));
    assert_eq!(
        by_name("login with a wrong password")["errors"],
        json!(["invalid username or password"])
    );
    assert_eq!(by_name("the old password")["raised"], "InvalidRequest");
    assert_eq!(by_name("the new password")["value"], json!(["default", "reader"]));
    assert_eq!(by_name("locked out")["raised"], "Forbidden");
    assert_eq!(by_name("read_user after delete")["raised"], "InvalidPath");
}
