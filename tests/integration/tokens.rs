//! The token store over HTTP: every endpoint, the parent/child tree, use counting under concurrency, expiry, and
//! survival across a restart.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

fn create(c: &Client, token: &str, body: Value) -> Value {
    let (status, resp) = c.put("auth/token/create", Some(token), body);
    assert_eq!(status, 200, "{resp}");
    resp
}

fn token_of(resp: &Value) -> String {
    resp["auth"]["client_token"].as_str().unwrap().to_string()
}

const ADMIN_POLICY: &str =
    "path \"auth/token/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"list\"]\n}\n";

#[test]
fn create_lookup_renew_revoke() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(
        c.put("sys/policy/Admin", Some(&root), json!({ "policy": ADMIN_POLICY }))
            .0,
        204
    );

    let resp = create(
        c,
        &root,
        json!({"policies": ["admin"], "ttl": "1h", "meta": {"team": "x"}, "display_name": "Foo Bar", "num_uses": 0}),
    );
    let auth = &resp["auth"];
    assert!(auth["client_token"].as_str().unwrap().starts_with("s."));
    assert_eq!(auth["policies"], json!(["admin", "default"]));
    assert_eq!(auth["token_policies"], json!(["admin", "default"]));
    assert_eq!(auth["metadata"], json!({"team": "x"}));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(
        (
            auth["renewable"].clone(),
            auth["orphan"].clone(),
            auth["token_type"].clone()
        ),
        (json!(true), json!(false), json!("service"))
    );
    let admin = token_of(&resp);
    let accessor = auth["accessor"].as_str().unwrap().to_string();

    // lookup-self, lookup (GET and POST forms), lookup-accessor.
    let (status, me) = c.get("auth/token/lookup-self", Some(&admin));
    assert_eq!(status, 200, "{me}");
    let d = &me["data"];
    assert_eq!(d["id"], admin.as_str());
    assert_eq!(d["display_name"], "token-Foo-Bar");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["creation_ttl"], 3600);
    assert!(d["ttl"].as_u64().unwrap() > 3590);
    assert!(d["expire_time"].as_str().unwrap().ends_with('Z'));
    let (status, other) = c.put("auth/token/lookup", Some(&root), json!({ "token": admin }));
    assert_eq!((status, other["data"]["accessor"].clone()), (200, json!(accessor)));
    let (status, by_accessor) = c.put(
        "auth/token/lookup-accessor",
        Some(&root),
        json!({ "accessor": accessor }),
    );
    assert_eq!((status, by_accessor["data"]["id"].clone()), (200, json!("")));
    assert_eq!(
        c.put("auth/token/lookup", Some(&root), json!({"token": "s.nope"})),
        (403, json!({"errors": ["bad token"]}))
    );
    assert_eq!(
        c.put("auth/token/lookup-accessor", Some(&root), json!({"accessor": "nope"})),
        (400, json!({"errors": ["1 error occurred:\n\t* invalid accessor\n\n"]}))
    );

    // Renew: increment, capped by explicit_max_ttl with OpenBao's warning.
    let capped = create(
        c,
        &root,
        json!({"policies": ["admin"], "ttl": "1h", "explicit_max_ttl": "30m"}),
    );
    assert_eq!(capped["auth"]["lease_duration"], 1800);
    assert_eq!(
        capped["warnings"],
        json!(["TTL of \"1h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly"])
    );
    let (status, renewed) = c.put("auth/token/renew-self", Some(&admin), json!({"increment": "2h"}));
    assert_eq!(
        (status, renewed["auth"]["lease_duration"].clone()),
        (200, json!(7200)),
        "{renewed}"
    );
    let (status, renewed) = c.put(
        "auth/token/renew",
        Some(&root),
        json!({"token": token_of(&capped), "increment": "2h"}),
    );
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed["auth"]["lease_duration"].as_u64().unwrap() <= 1800);
    assert!(renewed["warnings"][0]
        .as_str()
        .unwrap()
        .contains("exceeded the effective max_ttl"));
    let (status, _) = c.put("auth/token/renew-accessor", Some(&root), json!({"accessor": accessor}));
    assert_eq!(status, 200);
    assert_eq!(
        c.put("auth/token/renew-self", Some(&root), json!({})),
        (400, json!({"errors": ["lease is not renewable"]}))
    );
    let not_renewable = create(c, &root, json!({"policies": ["admin"], "renewable": false}));
    assert_eq!(
        c.put("auth/token/renew-self", Some(&token_of(&not_renewable)), json!({}))
            .0,
        400
    );

    // accessors needs sudo: root yes, admin no.
    let (status, list) = c.call("LIST", "auth/token/accessors", Some(&root), None);
    assert_eq!(status, 200);
    assert!(list["data"]["keys"].as_array().unwrap().contains(&json!(accessor)));
    assert_eq!(c.call("LIST", "auth/token/accessors", Some(&admin), None).0, 403);

    // Revocation by accessor; unknown accessor is a warning; revoke-self.
    let (status, warn) = c.put("auth/token/revoke-accessor", Some(&root), json!({"accessor": "nope"}));
    assert_eq!(
        (status, warn["warnings"].clone()),
        (200, json!(["No token found with this accessor"]))
    );
    assert_eq!(
        c.put("auth/token/revoke-accessor", Some(&root), json!({"accessor": accessor}))
            .0,
        204
    );
    assert_eq!(
        c.get("auth/token/lookup-self", Some(&admin)),
        (403, json!({"errors": ["permission denied"]}))
    );
    let t = token_of(&create(c, &root, json!({"policies": ["admin"]})));
    assert_eq!(c.put("auth/token/revoke-self", Some(&t), json!({})).0, 204);
    assert_eq!(c.get("auth/token/lookup-self", Some(&t)).0, 403);
}

#[test]
fn creation_rules() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    c.put("sys/policy/admin", Some(&root), json!({ "policy": ADMIN_POLICY }));
    c.put(
        "sys/policy/other",
        Some(&root),
        json!({ "policy": "path \"x\" {\n  capabilities = [\"read\"]\n}" }),
    );
    let admin = token_of(&create(c, &root, json!({"policies": ["admin"]})));
    let err = |body: Value| c.put("auth/token/create", Some(&admin), body);
    assert_eq!(
        err(json!({"policies": ["other"]})),
        (400, json!({"errors": ["child policies must be subset of parent"]}))
    );
    // Without sudo, root is just another policy the parent lacks (as in OpenBao).
    assert_eq!(
        err(json!({"policies": ["root"]})),
        (400, json!({"errors": ["child policies must be subset of parent"]}))
    );
    c.put(
        "sys/policy/sudoer",
        Some(&root),
        json!({ "policy": "path \"auth/token/create\" {\n  capabilities = [\"update\", \"sudo\"]\n}" }),
    );
    let sudoer = token_of(&create(c, &root, json!({"policies": ["sudoer"]})));
    assert_eq!(
        c.put("auth/token/create", Some(&sudoer), json!({"policies": ["root"]})),
        (
            400,
            json!({"errors": ["root tokens may not be created without parent token being root"]})
        )
    );
    assert_eq!(
        err(json!({"no_parent": true})),
        (
            400,
            json!({"errors": ["root or sudo privileges required to create orphan token"]})
        )
    );
    assert_eq!(
        err(json!({"period": "1h"})),
        (
            400,
            json!({"errors": ["root or sudo privileges required to create periodic token"]})
        )
    );
    assert_eq!(
        err(json!({"num_uses": -1})),
        (400, json!({"errors": ["number of uses cannot be negative"]}))
    );
    assert_eq!(
        err(json!({"type": "weird"})),
        (400, json!({"errors": ["invalid 'token_type' value"]}))
    );
    assert_eq!(
        err(json!({"ttl": "bogus"})),
        (400, json!({"errors": ["time: invalid duration \"bogus\""]}))
    );
    // Inherit the parent's policies; default is added; unknown parameters are a warning.
    let child = create(c, &admin, json!({"bogus_field": 1}));
    assert_eq!(child["auth"]["policies"], json!(["admin", "default"]));
    assert_eq!(
        child["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [bogus_field]"])
    );
    assert_eq!(child["auth"]["lease_duration"], 768 * 3600, "the system default TTL");
    // create-orphan needs only the policy on its path.
    let (status, orphan) = c.put("auth/token/create-orphan", Some(&admin), json!({}));
    assert_eq!((status, orphan["auth"]["orphan"].clone()), (200, json!(true)));
    // Root children of root never expire.
    let rooty = create(c, &root, json!({}));
    assert_eq!(
        (
            rooty["auth"]["policies"].clone(),
            rooty["auth"]["lease_duration"].clone()
        ),
        (json!(["root"]), json!(0))
    );
    // A periodic token from root: ttl = period.
    let periodic = create(c, &root, json!({"policies": ["admin"], "period": "10m"}));
    assert_eq!(periodic["auth"]["lease_duration"], 600);
    let (_, look) = c.get("auth/token/lookup-self", Some(&token_of(&periodic)));
    assert_eq!(look["data"]["period"], 600);
    // Custom ids only from root.
    let custom = create(c, &root, json!({"id": "my-own-token", "policies": ["admin"]}));
    assert_eq!(token_of(&custom), "my-own-token");
    assert_eq!(c.get("auth/token/lookup-self", Some("my-own-token")).0, 200);
    assert_eq!(
        c.put("auth/token/create", Some(&root), json!({"id": "my-own-token"})).0,
        400
    );
}

#[test]
fn parent_revocation_cascades_but_orphans_survive() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    c.put("sys/policy/admin", Some(&root), json!({ "policy": ADMIN_POLICY }));
    let parent = token_of(&create(c, &root, json!({"policies": ["admin"]})));
    let child = token_of(&create(c, &parent, json!({})));
    let grandchild = token_of(&create(c, &child, json!({})));
    let orphan = token_of(&c.put("auth/token/create-orphan", Some(&parent), json!({})).1);
    assert_eq!(c.put("auth/token/revoke", Some(&root), json!({"token": parent})).0, 204);
    for gone in [&parent, &child, &grandchild] {
        assert_eq!(c.get("auth/token/lookup-self", Some(gone)).0, 403);
    }
    assert_eq!(c.get("auth/token/lookup-self", Some(&orphan)).0, 200);

    // revoke-orphan: the children stay, now orphans.
    let p2 = token_of(&create(c, &root, json!({"policies": ["admin"]})));
    let c2 = token_of(&create(c, &p2, json!({})));
    assert_eq!(
        c.put("auth/token/revoke-orphan", Some(&root), json!({"token": p2})).0,
        204
    );
    assert_eq!(c.get("auth/token/lookup-self", Some(&p2)).0, 403);
    let (status, look) = c.get("auth/token/lookup-self", Some(&c2));
    assert_eq!((status, look["data"]["orphan"].clone()), (200, json!(true)));
    // revoke-orphan is sudo-protected.
    assert_eq!(
        c.put("auth/token/revoke-orphan", Some(&c2), json!({"token": c2})).0,
        403
    );
}

#[test]
fn limited_use_token_under_concurrency() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let token = token_of(&create(c, &root, json!({"policies": ["default"], "num_uses": 1})));
    let base = c.base.clone();
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let base = base.clone();
            let token = token.clone();
            std::thread::spawn(move || Client::new(&base).get("auth/token/lookup-self", Some(&token)).0)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 403), "{statuses:?}");
    assert_eq!(
        c.get("auth/token/lookup-self", Some(&token)).0,
        403,
        "revoked after its last use"
    );

    // Three uses: the counter goes down, a denied request also uses one (as in OpenBao).
    let three = token_of(&create(c, &root, json!({"policies": ["default"], "num_uses": 3})));
    let (_, look) = c.get("auth/token/lookup-self", Some(&three));
    assert_eq!(look["data"]["num_uses"], 2);
    assert_eq!(c.get("sys/policy", Some(&three)).0, 403);
    assert_eq!(c.get("auth/token/lookup-self", Some(&three)).0, 200);
    assert_eq!(c.get("auth/token/lookup-self", Some(&three)).0, 403);
}

#[test]
fn expiry_and_restart() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    c.put("sys/policy/admin", Some(&root), json!({ "policy": ADMIN_POLICY }));
    let short = create(c, &root, json!({"policies": ["admin"], "ttl": "2s"}));
    let short_accessor = short["auth"]["accessor"].as_str().unwrap().to_string();
    let long = create(c, &root, json!({"policies": ["admin"], "ttl": "1h"}));
    let long_token = token_of(&long);
    let long_accessor = long["auth"]["accessor"].as_str().unwrap().to_string();
    server.kill9();

    std::thread::sleep(Duration::from_millis(2200));
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&keys);
    // Expired while the server was down: rejected at once.
    assert_eq!(c.get("auth/token/lookup-self", Some(&token_of(&short))).0, 403);
    // The long token, its accessor and the policy survived the kill -9.
    let (status, look) = c.get("auth/token/lookup-self", Some(&long_token));
    assert_eq!(
        (status, look["data"]["policies"].clone()),
        (200, json!(["admin", "default"]))
    );
    let (status, _) = c.put(
        "auth/token/lookup-accessor",
        Some(&root),
        json!({"accessor": long_accessor}),
    );
    assert_eq!(status, 200);
    let (status, policy) = c.get("sys/policy/admin", Some(&root));
    assert_eq!((status, policy["data"]["rules"].clone()), (200, json!(ADMIN_POLICY)));
    // The sweep removes the expired token from storage (its accessor disappears).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = c.call("LIST", "auth/token/accessors", Some(&root), None);
        if !list["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!(short_accessor))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "expired token never swept");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn roles_and_tidy() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = Some(root.as_str());
    let body = json!({"allowed_policies": ["test1", "tc"], "orphan": true, "token_explicit_max_ttl": "2h", "path_suffix": "sfx"});
    assert_eq!(c.put("auth/token/roles/web", r, body).0, 204);
    let (status, role) = c.get("auth/token/roles/web", r);
    assert_eq!(status, 200);
    assert_eq!(role["data"]["allowed_policies"], json!(["tc", "test1"]));
    assert_eq!(
        (
            role["data"]["token_explicit_max_ttl"].clone(),
            role["data"]["orphan"].clone()
        ),
        (json!(7200), json!(true))
    );
    assert_eq!(role["data"]["token_type"], "default-service");
    assert_eq!(
        c.call("LIST", "auth/token/roles", r, None).1["data"]["keys"],
        json!(["web"])
    );
    assert_eq!(
        c.get("auth/token/roles/Web", r),
        (404, json!({"errors": []})),
        "role names are case-sensitive"
    );

    let (status, made) = c.put("auth/token/create/web", r, json!({"policies": ["test1"], "ttl": "3h"}));
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["auth"]["lease_duration"], 7200);
    assert_eq!(made["auth"]["orphan"], true);
    assert_eq!(
        made["warnings"],
        json!([
            "TTL of \"3h\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly",
            // As OpenBao (see the token_field_types scenario): the token is made, and a missing policy is named.
            "Policy \"test1\" does not exist"
        ])
    );
    let (_, look) = c.get("auth/token/lookup-self", Some(&token_of(&made)));
    assert_eq!(
        (look["data"]["role"].clone(), look["data"]["path"].clone()),
        (json!("web"), json!("auth/token/create/web/sfx"))
    );
    let (_, all) = c.put("auth/token/create/web", r, json!({}));
    assert_eq!(all["auth"]["policies"], json!(["default", "tc", "test1"]));
    assert_eq!(
        c.put("auth/token/create/web", r, json!({"policies": ["other"]})),
        (
            400,
            json!({"errors": ["token policies ([\"default\" \"other\"]) must be subset of the role's allowed policies ([\"default\" \"tc\" \"test1\"]) or glob policies ([])"]})
        )
    );
    assert_eq!(
        c.put("auth/token/create/nope", r, json!({})),
        (400, json!({"errors": ["unknown role nope"]}))
    );

    assert_eq!(
        c.put(
            "auth/token/roles/web2",
            r,
            json!({"disallowed_policies": ["tc"], "token_period": "1h", "renewable": false})
        )
        .0,
        204
    );
    assert_eq!(
        c.put("auth/token/create/web2", r, json!({"policies": ["tc"]})),
        (
            400,
            json!({"errors": ["token policy \"tc\" is disallowed by this role"]})
        )
    );
    let (_, periodic) = c.put("auth/token/create/web2", r, json!({"policies": ["test1"]}));
    assert_eq!(
        (
            periodic["auth"]["lease_duration"].clone(),
            periodic["auth"]["renewable"].clone()
        ),
        (json!(3600), json!(false))
    );
    assert_eq!(c.call("DELETE", "auth/token/roles/web2", r, None).0, 204);
    assert_eq!(c.get("auth/token/roles/web2", r).0, 404);

    let (status, tidy) = c.put("auth/token/tidy", r, json!({}));
    assert_eq!(status, 202);
    assert!(tidy["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("Tidy operation successfully started"));
}

on_postgresql!(
    create_lookup_renew_revoke,
    creation_rules,
    parent_revocation_cascades_but_orphans_survive,
    limited_use_token_under_concurrency,
    expiry_and_restart,
    roles_and_tidy
);
