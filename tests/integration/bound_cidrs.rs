//! Tokens bound to client addresses (`token_bound_cidrs`, the token entry's `bound_cidrs`): refused with OpenBao's
//! 403 on every use from elsewhere (without consuming a use), usable from inside, kept across a restart; set by
//! userpass users (also checked at login, and by the legacy `bound_cidrs`), AppRole roles and secret IDs. The test
//! client is always 127.0.0.1.

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};

fn ok(answer: (u16, Value)) -> Value {
    assert!(answer.0 == 200 || answer.0 == 204, "{} {}", answer.0, answer.1);
    answer.1
}

fn token_of(answer: (u16, Value)) -> String {
    ok(answer)["auth"]["client_token"].as_str().unwrap().to_string()
}

fn denied(c: &Client, token: &str) {
    let (status, body) = c.get("auth/token/lookup-self", Some(token));
    assert_eq!(
        (status, &body["errors"]),
        (403, &json!(["permission denied"])),
        "{body}"
    );
}

#[test]
fn bound_tokens_are_refused_from_outside_their_blocks_on_every_use() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    ok(c.put("sys/auth/userpass", Some(&root), json!({"type": "userpass"})));
    ok(c.put("sys/auth/approle", Some(&root), json!({"type": "approle"})));

    // userpass: a user bound elsewhere cannot even log in; one bound here can, and so can its token.
    ok(c.put(
        "auth/userpass/users/far",
        Some(&root),
        json!({"password": "pw", "token_bound_cidrs": "10.0.0.0/8"}),
    ));
    let (status, body) = c.put("auth/userpass/login/far", None, json!({"password": "pw"}));
    assert_eq!(
        (status, &body["errors"]),
        (403, &json!(["permission denied"])),
        "{body}"
    );
    ok(c.put(
        "auth/userpass/users/near",
        Some(&root),
        json!({"password": "pw", "token_bound_cidrs": "127.0.0.1/32, 10.0.0.0/8"}),
    ));
    let read = ok(c.get("auth/userpass/users/near", Some(&root)));
    assert_eq!(read["data"]["token_bound_cidrs"], json!(["127.0.0.1", "10.0.0.0/8"]));
    let near = token_of(c.put("auth/userpass/login/near", None, json!({"password": "pw"})));
    assert_eq!(c.get("auth/token/lookup-self", Some(&near)).0, 200);
    let looked = ok(c.put("auth/token/lookup", Some(&root), json!({"token": near})));
    assert_eq!(looked["data"]["bound_cidrs"], json!(["127.0.0.1", "10.0.0.0/8"]));
    // The legacy name sets the same binding and is shown while in use.
    ok(c.put(
        "auth/userpass/users/old",
        Some(&root),
        json!({"password": "pw", "bound_cidrs": "10.0.0.0/8"}),
    ));
    let read = ok(c.get("auth/userpass/users/old", Some(&root)));
    assert_eq!(
        (&read["data"]["bound_cidrs"], &read["data"]["token_bound_cidrs"]),
        (&json!(["10.0.0.0/8"]), &json!(["10.0.0.0/8"]))
    );
    assert_eq!(c.put("auth/userpass/login/old", None, json!({"password": "pw"})).0, 403);
    let (status, body) = c.put(
        "auth/userpass/users/bad",
        Some(&root),
        json!({"password": "pw", "token_bound_cidrs": "nope"}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("error parsing address \"nope\""),
        "{body}"
    );

    // AppRole: the login is not checked against the token binding, every use of the token is.
    ok(c.put(
        "auth/approle/role/far",
        Some(&root),
        json!({"token_bound_cidrs": "10.0.0.0/8", "token_num_uses": 3}),
    ));
    let role_id = ok(c.get("auth/approle/role/far/role-id", Some(&root)))["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = ok(c.put("auth/approle/role/far/secret-id", Some(&root), json!({})))["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();
    let far = token_of(c.put(
        "auth/approle/login",
        None,
        json!({"role_id": role_id, "secret_id": secret}),
    ));
    denied(c, &far);
    denied(c, &far);
    // Refusals used none of its uses.
    let looked = ok(c.put("auth/token/lookup", Some(&root), json!({"token": far})));
    assert_eq!(
        (&looked["data"]["num_uses"], &looked["data"]["bound_cidrs"]),
        (&json!(3), &json!(["10.0.0.0/8"]))
    );
    assert_eq!(
        ok(c.get("auth/approle/role/far/token-bound-cidrs", Some(&root)))["data"]["token_bound_cidrs"],
        json!(["10.0.0.0/8"])
    );

    // A secret ID binds its tokens more tightly, inside the role's blocks only.
    ok(c.put(
        "auth/approle/role/wide",
        Some(&root),
        json!({"token_bound_cidrs": "127.0.0.0/8"}),
    ));
    let wide_id = ok(c.get("auth/approle/role/wide/role-id", Some(&root)))["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = c.put(
        "auth/approle/role/wide/secret-id",
        Some(&root),
        json!({"token_bound_cidrs": "10.0.0.0/8"}),
    );
    assert_eq!(status, 400, "{body}");
    let tight = ok(c.put(
        "auth/approle/role/wide/secret-id",
        Some(&root),
        json!({"token_bound_cidrs": "127.0.0.1/32"}),
    ))["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();
    let wide = token_of(c.put(
        "auth/approle/login",
        None,
        json!({"role_id": wide_id, "secret_id": tight}),
    ));
    assert_eq!(c.get("auth/token/lookup-self", Some(&wide)).0, 200);
    let looked = ok(c.put("auth/token/lookup", Some(&root), json!({"token": wide})));
    assert_eq!(looked["data"]["bound_cidrs"], json!(["127.0.0.1"]));

    // The binding is stored with the token.
    server.terminate();
    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    denied(&server.client, &far);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(&near)).0, 200);
}

#[test]
fn child_tokens_inherit_their_parents_binding() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    ok(c.put("sys/auth/userpass", Some(&root), json!({"type": "userpass"})));
    let policy = "path \"auth/token/create\" {\n  capabilities = [\"create\", \"update\"]\n}\n";
    ok(c.put("sys/policies/acl/creator", Some(&root), json!({"policy": policy})));
    ok(c.put(
        "auth/userpass/users/near",
        Some(&root),
        json!({"password": "pw", "token_bound_cidrs": "127.0.0.1", "token_policies": "creator"}),
    ));
    let parent = token_of(c.put("auth/userpass/login/near", None, json!({"password": "pw"})));
    let child = token_of(c.put("auth/token/create", Some(&parent), json!({"policies": ["creator"]})));
    let looked = ok(c.put("auth/token/lookup", Some(&root), json!({"token": child})));
    assert_eq!(looked["data"]["bound_cidrs"], json!(["127.0.0.1"]), "{looked}");
    assert_eq!(c.get("auth/token/lookup-self", Some(&child)).0, 200);
    // Root's children are not bound (root has no binding to pass on).
    let free = token_of(c.put("auth/token/create", Some(&root), json!({"ttl": "1h"})));
    let looked = ok(c.put("auth/token/lookup", Some(&root), json!({"token": free})));
    assert!(looked["data"].get("bound_cidrs").is_none(), "{looked}");
}
