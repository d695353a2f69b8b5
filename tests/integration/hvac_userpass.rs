//! userpass through Python hvac 2.4.0 (`client.auth.userpass.*`), unchanged, against our server and the reference
//! side by side.

use serde_json::json;

use crate::common::{temp_dir, TestServer};
use crate::tools::{run_hvac_script, ReferenceServer};

#[test]
fn hvac_userpass_matches_reference() {
    let reference = ReferenceServer::start();
    let dir = temp_dir();
    let ours = TestServer::start(dir.path());
    let expected = run_hvac_script("hvac_userpass.py", &reference.addr);
    let actual = run_hvac_script("hvac_userpass.py", &format!("http://{}", ours.addr));
    assert_eq!(expected.len(), actual.len());
    for (e, a) in expected.iter().zip(&actual) {
        assert_eq!(e, a, "step {} differs (reference vs ours)", e["step"]);
    }
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
