//! `sys/policy` and `sys/policies/acl`, the built-ins, parse errors, and capabilities endpoints.

use serde_json::json;

use crate::common::{temp_dir, TestServer};

const READER: &str = "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";

#[test]
fn policy_crud_and_builtins() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());

    assert_eq!(
        c.put("sys/policy/Reader", r, json!({ "policy": READER })).0,
        204,
        "names are lower-cased"
    );
    let (status, list) = c.get("sys/policy", r);
    assert_eq!(status, 200);
    assert_eq!(
        list["keys"],
        json!(["default", "reader", "root"]),
        "legacy fields at the top level too"
    );
    assert_eq!(list["data"]["policies"], json!(["default", "reader", "root"]));
    let (status, list) = c.call("LIST", "sys/policies/acl", r, None);
    assert_eq!(
        (status, list["data"]["keys"].clone()),
        (200, json!(["default", "reader", "root"]))
    );

    let (status, read) = c.get("sys/policy/reader", r);
    assert_eq!(status, 200);
    assert_eq!(
        (
            read["rules"].clone(),
            read["data"]["name"].clone(),
            read["data"]["version"].clone()
        ),
        (json!(READER), json!("reader"), json!(1))
    );
    let (status, read) = c.get("sys/policies/acl/reader", r);
    assert_eq!((status, read["data"]["policy"].clone()), (200, json!(READER)));
    assert!(
        read.get("policy").is_none(),
        "the new endpoint has no legacy top-level copy"
    );
    // JSON policies work too; versions count up.
    let json_policy = r#"{"path": {"secret/*": {"capabilities": ["read"]}}}"#;
    assert_eq!(
        c.put("sys/policies/acl/reader", r, json!({ "policy": json_policy })).0,
        204
    );
    assert_eq!(c.get("sys/policies/acl/reader", r).1["data"]["version"], 2);

    assert_eq!(c.get("sys/policy/nope", r), (404, json!({"errors": []})));
    assert_eq!(c.get("sys/policies/acl/nope", r), (404, json!({"errors": []})));
    let (status, root_policy) = c.get("sys/policy/root", r);
    assert_eq!((status, root_policy["data"]["rules"].clone()), (200, json!("")));
    assert!(c.get("sys/policy/default", r).1["data"]["rules"]
        .as_str()
        .unwrap()
        .contains("auth/token/lookup-self"));
    assert!(c.get("sys/policy/response-wrapping", r).1["data"]["rules"]
        .as_str()
        .unwrap()
        .contains("sys/wrapping/unwrap"));

    let e = |s: &str| json!({ "errors": [s] });
    assert_eq!(
        c.call("DELETE", "sys/policy/default", r, None),
        (400, e("cannot delete default policy"))
    );
    assert_eq!(
        c.call("DELETE", "sys/policy/root", r, None),
        (400, e("cannot delete \"root\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/root", r, json!({ "policy": READER })),
        (400, e("cannot update \"root\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/response-wrapping", r, json!({ "policy": READER })),
        (400, e("cannot update \"response-wrapping\" policy"))
    );
    assert_eq!(
        c.put("sys/policy/x", r, json!({})),
        (400, e("'policy' parameter not supplied or empty"))
    );
    let (status, bad) = c.put("sys/policy/x", r, json!({ "policy": "path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n  capabilities = [\"reed\"]\n}" }));
    assert_eq!(status, 400);
    let msg = bad["errors"][0].as_str().unwrap();
    assert!(
        msg.starts_with("failed to parse policy: ") && msg.contains("line 4") && msg.contains("reed"),
        "{msg}"
    );
    // The default policy is editable; deleting a policy works and is idempotent.
    assert_eq!(c.put("sys/policy/default", r, json!({ "policy": READER })).0, 204);
    assert_eq!(c.get("sys/policy/default", r).1["data"]["rules"], READER);
    assert_eq!(c.call("DELETE", "sys/policy/reader", r, None).0, 204);
    assert_eq!(c.call("DELETE", "sys/policy/reader", r, None).0, 204);
    assert_eq!(c.get("sys/policy", r).1["keys"], json!(["default", "root"]));
}

#[test]
fn capabilities_endpoints_and_enforcement_follow_writes() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());
    c.put("sys/policy/reader", r, json!({ "policy": READER }));
    let (_, created) = c.put("auth/token/create", r, json!({"policies": ["reader"]}));
    let token = created["auth"]["client_token"].as_str().unwrap().to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();

    let (status, caps) = c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}));
    assert_eq!(status, 200);
    assert_eq!(
        (caps["capabilities"].clone(), caps["data"]["secret/foo"].clone()),
        (json!(["list", "read"]), json!(["list", "read"]))
    );
    let (_, caps) = c.put(
        "sys/capabilities",
        r,
        json!({"token": token, "paths": ["secret/a", "other"]}),
    );
    assert_eq!(caps["data"], json!({"secret/a": ["list", "read"], "other": ["deny"]}));
    let (_, caps) = c.put(
        "sys/capabilities-accessor",
        r,
        json!({"accessor": accessor, "path": "secret/a"}),
    );
    assert_eq!(caps["data"]["capabilities"], json!(["list", "read"]));
    let (_, caps) = c.put("sys/capabilities-self", r, json!({"path": "anything"}));
    assert_eq!(caps["data"]["capabilities"], json!(["root"]));
    let (status, acl) = c.get("sys/internal/ui/resultant-acl", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(
        acl["data"]["glob_paths"]["secret/"]["capabilities"],
        json!(["list", "read"])
    );
    assert_eq!(acl["data"]["root"], false);

    // Enforcement follows a policy rewrite at once (the compiled ACL cache is invalidated).
    assert_eq!(
        c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}))
            .1["capabilities"],
        json!(["list", "read"])
    );
    c.put(
        "sys/policy/reader",
        r,
        json!({ "policy": "path \"secret/*\" {\n  capabilities = [\"deny\"]\n}" }),
    );
    assert_eq!(
        c.put("sys/capabilities-self", Some(&token), json!({"path": "secret/foo"}))
            .1["capabilities"],
        json!(["deny"])
    );
    // A denied request is OpenBao's wrapped 403.
    assert_eq!(
        c.get("sys/policy", Some(&token)),
        (403, json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}))
    );
}
