//! The cubbyhole over HTTP: per-token storage no other token (root included) can see, OpenBao's errors, and
//! destruction together with the token (revoke, revoke-orphan, cascading revocation, expiry, last use), checked in
//! the data directory itself.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};
use crate::kv::{expect, send};

fn child(c: &Client, parent: &str, body: Value) -> String {
    let t = expect(c, "POST", "auth/token/create", parent, Some(body), 200);
    t["auth"]["client_token"].as_str().unwrap().to_string()
}

/// Records in the cubbyhole tree of a stopped server's data directory.
fn stored_cubbyhole_records(data: &std::path::Path) -> usize {
    let db = sled::open(data).unwrap();
    db.open_tree("cubbyhole").unwrap().len()
}

#[test]
fn cubbyhole_is_private_to_each_token() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    let a = child(c, r, json!({"policies": ["default"]}));
    let b = child(c, r, json!({"policies": ["default"]}));

    expect(
        c,
        "POST",
        "cubbyhole/secret",
        &a,
        Some(json!({"owner": "a", "n": [1, 2]})),
        204,
    );
    expect(c, "POST", "cubbyhole/dir/inner", &a, Some(json!({"x": true})), 204);
    expect(c, "POST", "cubbyhole/secret", &b, Some(json!({"owner": "b"})), 204);
    let mine = expect(c, "GET", "cubbyhole/secret", &a, None, 200);
    assert_eq!(mine["data"], json!({"owner": "a", "n": [1, 2]}));
    assert_eq!(mine["lease_duration"], 0);
    assert_eq!(
        expect(c, "GET", "cubbyhole/secret", &b, None, 200)["data"],
        json!({"owner": "b"})
    );
    // Root sees nothing of either.
    assert_eq!(
        send(c, "GET", "cubbyhole/secret", r, None),
        (404, json!({"errors": []}))
    );
    assert_eq!(send(c, "LIST", "cubbyhole/", r, None).0, 404);
    assert_eq!(
        expect(c, "LIST", "cubbyhole/", &a, None, 200)["data"]["keys"],
        json!(["dir/", "secret"])
    );
    assert_eq!(
        expect(c, "LIST", "cubbyhole/dir", &a, None, 200)["data"]["keys"],
        json!(["inner"])
    );
    assert_eq!(
        expect(c, "LIST", "cubbyhole", &b, None, 200)["data"]["keys"],
        json!(["secret"])
    );
    assert_eq!(send(c, "LIST", "cubbyhole/secret", &a, None).0, 404);
    // A delete by another token touches only its own cubbyhole.
    expect(c, "DELETE", "cubbyhole/secret", &b, None, 204);
    assert_eq!(send(c, "GET", "cubbyhole/secret", &b, None).0, 404);
    expect(c, "GET", "cubbyhole/secret", &a, None, 200);

    let errors = |resp: Value| resp["errors"].clone();
    assert_eq!(
        errors(expect(c, "POST", "cubbyhole/x", &a, Some(json!({})), 400)),
        json!(["missing data fields"])
    );
    assert_eq!(
        errors(expect(c, "POST", "cubbyhole/x/", &a, Some(json!({"a": 1})), 400)),
        json!(["cannot write to a path ending in '/'"])
    );
    assert_eq!(
        errors(expect(c, "GET", "cubbyhole/", &a, None, 400)),
        json!(["missing path"])
    );
    // Not a cubbyhole operation (the default policy does not even grant patch).
    assert_eq!(send(c, "PATCH", "cubbyhole/secret", &a, Some(json!({"a": 1}))).0, 403);
    assert_eq!(send(c, "PATCH", "cubbyhole/secret", r, Some(json!({"a": 1}))).0, 405);
    expect(c, "POST", "cubbyhole/secret", &a, Some(json!({"replaced": 1})), 204);
    assert_eq!(
        expect(c, "GET", "cubbyhole/secret", &a, None, 200)["data"],
        json!({"replaced": 1})
    );
}

#[test]
fn cubbyhole_goes_with_its_token() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let r = root.as_str();
    let maker = "path \"auth/token/create\" { capabilities = [\"create\", \"update\"] }\n";
    expect(c, "PUT", "sys/policy/maker", r, Some(json!({"policy": maker})), 204);
    let write = |token: &str, n: usize| {
        for i in 0..n {
            expect(c, "POST", &format!("cubbyhole/k{i}"), token, Some(json!({"i": i})), 204);
        }
    };
    // Revoked directly.
    let revoked = child(c, r, json!({"policies": ["default"]}));
    write(&revoked, 3);
    // A parent revoked with its children.
    let parent = child(c, r, json!({"policies": ["default", "maker"]}));
    let grandchild = child(c, &parent, json!({"policies": ["default"]}));
    write(&parent, 2);
    write(&grandchild, 2);
    // revoke-orphan: the token's cubbyhole goes, its child's stays.
    let orphaned_parent = child(c, r, json!({"policies": ["default", "maker"]}));
    let survivor = child(c, &orphaned_parent, json!({"policies": ["default"]}));
    write(&orphaned_parent, 1);
    write(&survivor, 1);
    // Expiry.
    let short = child(c, r, json!({"policies": ["default"], "ttl": "2s"}));
    write(&short, 2);
    // The last use of a limited token: 3 uses = 2 writes and one read.
    let limited = child(c, r, json!({"policies": ["default"], "num_uses": 3}));
    write(&limited, 2);
    expect(c, "GET", "cubbyhole/k0", &limited, None, 200);
    // Root's own cubbyhole stays.
    write(r, 1);

    expect(c, "POST", "auth/token/revoke", r, Some(json!({"token": revoked})), 204);
    expect(c, "POST", "auth/token/revoke", r, Some(json!({"token": parent})), 204);
    expect(
        c,
        "POST",
        "auth/token/revoke-orphan",
        r,
        Some(json!({"token": orphaned_parent})),
        204,
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while send(c, "POST", "auth/token/lookup", r, Some(json!({"token": short}))).0 != 403 {
        assert!(Instant::now() < deadline, "the short token never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The expiry sweep runs every second: wait for it to remove the expired token.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        expect(c, "GET", "cubbyhole/k0", &survivor, None, 200)["data"],
        json!({"i": 0})
    );
    assert_eq!(expect(c, "GET", "cubbyhole/k0", r, None, 200)["data"], json!({"i": 0}));
    for gone in [&revoked, &parent, &grandchild, &orphaned_parent, &short, &limited] {
        assert_eq!(send(c, "GET", "cubbyhole/k0", gone, None).0, 403);
    }
    assert!(server.terminate().success());
    // Left on disk: the survivor's record and root's.
    assert_eq!(stored_cubbyhole_records(&dir.path().join("data")), 2);

    let server = TestServer::start(dir.path());
    server.client.unseal_with(&keys);
    assert_eq!(
        expect(&server.client, "GET", "cubbyhole/k0", &survivor, None, 200)["data"],
        json!({"i": 0})
    );
}
