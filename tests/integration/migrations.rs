//! Storage format versions at start-up: recorded at creation, a newer format refused with a clear error, and a real
//! data directory written by an older build (`tests/fixtures/format3`, made by `tests/fixtures/make-format3.sh`)
//! migrated at start-up with every secret in it readable afterwards, or left untouched when a migration fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, vault_bin, write_config, TestServer};

/// Start the server on `config` expecting it to refuse: returns its exit code and stderr. A server that starts
/// instead is killed after 30 seconds and the test fails (rather than waiting for it forever).
fn start_refused(config: &Path) -> (i32, String) {
    let stderr_path = config.with_file_name("refused-stderr.log");
    let mut child = std::process::Command::new(vault_bin())
        .args(["server", &format!("-config={}", config.display())])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server started instead of refusing: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&stderr_path).unwrap(),
    )
}

#[test]
fn newer_format_version_is_refused() {
    let dir = temp_dir();
    // Unsealed once, so the unseal-phase migrations have run too.
    let (server, _, _) = TestServer::start_unsealed(dir.path());
    assert!(server.terminate().success());

    let data = dir.path().join("data");
    {
        let db = open_db(&data);
        let meta = db.open_tree("meta").unwrap();
        let version = meta
            .get(b"format_version")
            .unwrap()
            .expect("format version recorded at creation");
        assert_eq!(
            version.as_ref(),
            &vault::storage::migrate::supported_version().to_be_bytes()
        );
        assert!(
            meta.get(b"migration/0001").unwrap().is_some(),
            "applied migrations are recorded"
        );
        meta.insert(
            b"format_version",
            &(vault::storage::migrate::supported_version() + 1).to_be_bytes(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let (code, stderr) = start_refused(&config);
    assert_ne!(code, 0);
    assert!(stderr.contains("is newer than this server supports"), "{stderr}");
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(name).join("fixture.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's root token works, and its ACL policies read back as written (in HCL and in JSON).
fn check_root_and_policies(c: &crate::common::Client, fx: &Value) {
    let root = s(fx, "root_token");
    let (status, body) = c.get("auth/token/lookup-self", Some(root));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["policies"], json!(["root"]));
    for (name, text) in fx["policies"].as_object().unwrap() {
        let (status, body) = c.get(&format!("sys/policies/acl/{name}"), Some(root));
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["data"]["policy"], *text, "{name}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the fixture's data directory in `dir/data` (the committed fixture is never opened in place).
fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let data = dir.join("data");
    copy_dir(&fixture_dir(name).join("data"), &data);
    data
}

/// Open a data directory with sled directly. Retries while the lock is still held: a `sled::Db` dropped a moment
/// ago releases its file lock only when its background flusher thread lets go of it.
pub(crate) fn open_db(data: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sled::open(data) {
            Ok(db) => return db,
            Err(e) if Instant::now() < deadline && e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("opening {}: {e}", data.display()),
        }
    }
}

/// The plain `meta` tree of a stopped server's data directory, as (key, value) text pairs.
fn meta_records(data: &Path) -> Vec<(String, Vec<u8>)> {
    let db = open_db(data);
    let meta = db.open_tree("meta").unwrap();
    meta.iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (String::from_utf8_lossy(&k).into_owned(), v.to_vec())
        })
        .collect()
}

fn meta_value(records: &[(String, Vec<u8>)], key: &str) -> Option<Vec<u8>> {
    records.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn format_version(records: &[(String, Vec<u8>)]) -> u32 {
    let v = meta_value(records, "format_version").expect("a format version record");
    u32::from_be_bytes(v.try_into().unwrap())
}

fn start(dir: &Path, data: &Path) -> TestServer {
    let config = write_config(dir, data, "", "  tls_disable = true");
    TestServer::start_with_config(dir, &config, "http", None)
}

/// Every lease id below `prefix` (a folder), through `LIST sys/leases/lookup`.
fn all_leases(c: &crate::common::Client, root: &str, prefix: &str) -> Vec<String> {
    let (status, body) = c.call("LIST", &format!("sys/leases/lookup/{prefix}"), Some(root), None);
    if status == 404 {
        return vec![];
    }
    assert_eq!(status, 200, "{prefix}: {body}");
    let mut out = Vec::new();
    for key in body["data"]["keys"].as_array().unwrap() {
        let key = key.as_str().unwrap();
        if key.ends_with('/') {
            out.extend(all_leases(c, root, &format!("{prefix}{key}")));
        } else {
            out.push(format!("{prefix}{key}"));
        }
    }
    out
}

/// Unseal with the two shares the fixture was NOT unsealed with last (any two of three work).
fn unseal(server: &TestServer, fx: &Value) {
    let keys: Vec<String> = fx["unseal_keys"].as_array().unwrap()[1..]
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let body = server.client.unseal_with(&keys);
    assert_eq!(body["sealed"], json!(false), "{body}");
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn fixture_from_format_3_is_migrated_and_every_secret_is_readable() {
    let fx = fixture("format3");
    let dir = temp_dir();
    let data = copy_fixture("format3", dir.path());

    // The fixture really is the older format, with the old server's own migration records.
    let before = meta_records(&data);
    assert_eq!(format_version(&before), 3);
    assert_eq!(fx["format_version"], json!(3));
    assert!(meta_value(&before, "migration/0003").is_some());
    assert!(meta_value(&before, "migration/0004").is_none());

    let server = start(dir.path(), &data);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("applied storage migration 0004 (mounts and secrets engines)"),
        "{log}"
    );
    assert!(!log.contains("applied storage migration 0003"), "{log}");
    assert!(
        log.contains("storage migration 0005 (token entries with role) runs at unseal"),
        "{log}"
    );
    assert!(!log.contains("applied storage migration 0005"), "{log}");
    let c = &server.client;
    let (status, body) = c.get("sys/seal-status", None);
    assert_eq!(status, 200);
    assert_eq!(body["initialized"], json!(true));
    assert_eq!(body["sealed"], json!(true));
    assert_eq!((body["t"].clone(), body["n"].clone()), (json!(2), json!(3)));
    unseal(&server, &fx);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("applied storage migration 0005 (token entries with role)"),
        "{log}"
    );

    let root = s(&fx, "root_token");
    check_root_and_policies(c, &fx);
    let (status, body) = c.call("LIST", "sys/policies/acl", Some(root), None);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["keys"], json!(["app-read", "default", "ops", "root"]));

    // The token role.
    let (status, body) = c.get("auth/token/roles/app", Some(root));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["allowed_policies"], json!(["app-read"]));
    assert_eq!(body["data"]["orphan"], json!(true));

    // Every token: its entry by id and by accessor, as the old server created it.
    let tokens = fx["tokens"].as_object().unwrap();
    for (name, t) in tokens {
        let (status, body) = c.put("auth/token/lookup", Some(root), json!({"token": s(t, "token")}));
        assert_eq!(status, 200, "{name}: {body}");
        let d = &body["data"];
        assert_eq!(d["policies"], t["policies"], "{name}");
        assert_eq!(d["accessor"], t["accessor"], "{name}");
        assert_eq!(d["orphan"], json!(t["orphan"].as_bool().unwrap_or(false)), "{name}");
        if let Some(display) = t.get("display_name") {
            assert_eq!(d["display_name"], *display, "{name}");
        }
        if let Some(meta) = t.get("meta") {
            assert_eq!(d["meta"], *meta, "{name}");
        }
        if let Some(role) = t.get("role") {
            assert_eq!(d["role"], *role, "{name}");
        }
        assert_eq!(d["num_uses"], json!(t["num_uses"].as_i64().unwrap_or(0)), "{name}");
        // Ten years of TTL at creation: still years left.
        assert!(d["ttl"].as_u64().unwrap() > 365 * 24 * 3600, "{name}: {d}");
        let (status, body) = c.put(
            "auth/token/lookup-accessor",
            Some(root),
            json!({"accessor": s(t, "accessor")}),
        );
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["data"]["policies"], t["policies"], "{name}");
    }

    // The tokens work with their policies: allowed where the policy says, denied elsewhere.
    let app = s(&tokens["app"], "token");
    assert_eq!(c.get("sys/policies/acl/app-read", Some(app)).0, 200);
    assert_eq!(c.get("sys/policies/acl/ops", Some(app)).0, 403);
    let ops = s(&tokens["ops"], "token");
    assert_eq!(c.get("sys/policies/acl/app-read", Some(ops)).0, 200);
    let (status, body) = c.put(
        "sys/capabilities-self",
        Some(ops),
        json!({"paths": ["auth/token/create", "sys/mounts"]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth/token/create"], json!(["create", "update"]));
    assert_eq!(body["sys/mounts"], json!(["deny"]));
    // A use-limited token counts down from what it had.
    let limited = s(&tokens["limited"], "token");
    let (status, body) = c.get("auth/token/lookup-self", Some(limited));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["num_uses"], json!(2));

    // Migration 0006 gave every token its auth lease; the root token from sys/init has none (OpenBao's rule).
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(log.contains("applied storage migration 0006 (leases)"), "{log}");
    // Migration 0007 re-encoded every token with no address binding: each still works (above), and none is bound.
    assert!(
        log.contains("applied storage migration 0007 (token bound CIDRs)"),
        "{log}"
    );
    let looked = c.put("auth/token/lookup", Some(root), json!({"token": limited})).1;
    assert!(looked["data"].get("bound_cidrs").is_none(), "{looked}");
    let token_leases = all_leases(c, root, "auth/token/");
    assert!(
        token_leases.iter().all(|id| !id.starts_with("auth/token/root/")),
        "{token_leases:?}"
    );
    let wrapping_leases = all_leases(c, root, "sys/wrapping/");
    // Every token (wrapping tokens too) but the root token has exactly one lease.
    let (status, body) = c.call("LIST", "auth/token/accessors", Some(root), None);
    assert_eq!(status, 200, "{body}");
    let accessors = body["data"]["keys"].as_array().unwrap().len();
    assert_eq!(
        token_leases.len() + wrapping_leases.len(),
        accessors - 1,
        "{token_leases:?} {wrapping_leases:?}"
    );
    for id in &token_leases {
        let (status, body) = c.put("sys/leases/lookup", Some(root), json!({"lease_id": id}));
        assert_eq!(status, 200, "{id}: {body}");
    }
    // Revoking a migrated lease revokes its token (the one made through the role `app`).
    let role_leases: Vec<&String> = token_leases
        .iter()
        .filter(|id| id.starts_with("auth/token/create/app/"))
        .collect();
    assert_eq!(role_leases.len(), 1, "{token_leases:?}");
    let role_token = s(&tokens["role"], "token");
    assert_eq!(c.get("auth/token/lookup-self", Some(role_token)).0, 200);
    let (status, body) = c.put("sys/leases/revoke", Some(root), json!({"lease_id": role_leases[0]}));
    assert_eq!(status, 204, "{body}");
    assert_eq!(c.get("auth/token/lookup-self", Some(role_token)).0, 403);

    // Wrapped data: lookup shows its creation, unwrap gives exactly what was wrapped.
    let wrapped = &fx["wrapped"];
    let w_data = s(&wrapped["data"], "token");
    let (status, body) = c.put("sys/wrapping/lookup", None, json!({"token": w_data}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["creation_path"], json!("sys/wrapping/wrap"));
    let (status, body) = c.put("sys/wrapping/unwrap", Some(w_data), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], wrapped["data"]["data"]);
    // Used now: a second unwrap is refused.
    let (status, body) = c.put("sys/wrapping/unwrap", Some(w_data), json!({}));
    assert_eq!(status, 400, "{body}");

    // A wrapped token: unwraps to a working token with the policies it was created with.
    let w_token = s(&wrapped["token"], "token");
    let (status, body) = c.put("sys/wrapping/unwrap", Some(w_token), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["accessor"], wrapped["token"]["wrapped_accessor"]);
    assert_eq!(body["auth"]["policies"], wrapped["token"]["policies"]);
    let unwrapped = body["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(c.get("sys/policies/acl/app-read", Some(&unwrapped)).0, 200);

    // The wrapping token used before the upgrade left a tombstone: presenting it again is the reuse error.
    let (status, body) = c.put("sys/wrapping/unwrap", Some(s(&wrapped["used"], "token")), json!({}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"], json!(["wrapping token is not valid or does not exist"]));

    // The parent index came along: revoking `ops` revokes its child.
    let child = s(&tokens["child"], "token");
    assert_eq!(c.get("sys/policies/acl/app-read", Some(child)).0, 200);
    assert_eq!(c.put("auth/token/revoke", Some(root), json!({"token": ops})).0, 204);
    assert_eq!(c.get("sys/policies/acl/app-read", Some(child)).0, 403);
    let (status, body) = c.put("auth/token/lookup", Some(root), json!({"token": child}));
    assert_ne!(status, 200, "{body}");
    assert_eq!(c.get("auth/token/lookup-self", Some(app)).0, 200);

    // What format 4 added works on the migrated directory: the default mounts, and a new K/V mount.
    let (status, body) = c.get("sys/mounts", Some(root));
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["cubbyhole/"].is_object(), "{body}");
    assert_eq!(
        c.put(
            "sys/mounts/kv",
            Some(root),
            json!({"type": "kv", "options": {"version": "2"}})
        )
        .0,
        204
    );
    let (status, body) = c.put("kv/data/after-upgrade", Some(root), json!({"data": {"k": "v"}}));
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());

    // Recorded: the current format, the old server's records unchanged, the new migration's record added.
    let after = meta_records(&data);
    assert_eq!(format_version(&after), vault::storage::migrate::supported_version());
    assert_eq!(format_version(&after), 8);
    for v in 1..=3 {
        let key = format!("migration/{v:04}");
        assert_eq!(meta_value(&after, &key), meta_value(&before, &key), "{key}");
    }
    let record = String::from_utf8(meta_value(&after, "migration/0004").unwrap()).unwrap();
    assert!(record.starts_with("mounts and secrets engines 20"), "{record}");
    let record = String::from_utf8(meta_value(&after, "migration/0005").unwrap()).unwrap();
    assert!(record.starts_with("token entries with role 20"), "{record}");
    let layout = String::from_utf8(meta_value(&after, "layout").unwrap()).unwrap();
    assert!(
        layout.ends_with(",wrap_tombstone_purge,mounts,logical,cubbyhole,leases,lease_expiry,token_leases"),
        "{layout}"
    );

    // Started again: nothing left to migrate, and everything is still there.
    let server = start(dir.path(), &data);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(!log.contains("applied storage migration"), "{log}");
    unseal(&server, &fx);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(app)).0, 200);
    let (status, body) = server.client.get("kv/data/after-upgrade", Some(root));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"], json!({"k": "v"}));
    assert!(server.terminate().success());
}

#[test]
fn failed_migration_leaves_the_fixture_at_its_old_format() {
    let fx = fixture("format3");
    let dir = temp_dir();
    let data = copy_fixture("format3", dir.path());

    // Tamper with the plain `meta` tree: a layout that is not format 3's, so migration 0004 refuses after it has
    // already written the new layout in its transaction.
    let tampered = "meta,core,tokens,unexpected_tree";
    let original = {
        let db = open_db(&data);
        let meta = db.open_tree("meta").unwrap();
        let original = meta.insert(b"layout", tampered).unwrap().unwrap().to_vec();
        db.flush().unwrap();
        original
    };
    let before = meta_records(&data);
    assert_eq!(format_version(&before), 3);

    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let (code, stderr) = start_refused(&config);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "storage migration 4 (mounts and secrets engines) failed: the recorded layout is {tampered:?}, expected"
        )),
        "{stderr}"
    );

    // Nothing of the failed migration is left: same records, same bytes, still format 3.
    let after = meta_records(&data);
    assert_eq!(after, before);
    assert_eq!(format_version(&after), 3);
    assert!(meta_value(&after, "migration/0004").is_none());
    assert_eq!(meta_value(&after, "layout").unwrap(), tampered.as_bytes());

    // With the record restored the same directory migrates, and its secrets are there.
    {
        let db = open_db(&data);
        db.open_tree("meta").unwrap().insert(b"layout", original).unwrap();
        db.flush().unwrap();
    }
    let server = start(dir.path(), &data);
    unseal(&server, &fx);
    let app = s(&fx["tokens"]["app"], "token");
    assert_eq!(server.client.get("sys/policies/acl/app-read", Some(app)).0, 200);
    let (status, body) = server.client.put(
        "sys/wrapping/unwrap",
        Some(s(&fx["wrapped"]["data"], "token")),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], fx["wrapped"]["data"]["data"]);
    assert!(server.terminate().success());
    assert_eq!(
        format_version(&meta_records(&data)),
        vault::storage::migrate::supported_version()
    );
}

/// The first format-2 builds stored token entries without the `role` field later added under the same version;
/// the current server could not decode any of them (every token, root included, answered 500). Migrations 0003 and
/// 0004 run at start-up, 0005 re-encodes the entries at unseal.
#[test]
fn fixture_from_early_format_2_runs_three_migrations_and_every_token_works() {
    let fx = fixture("format2");
    let dir = temp_dir();
    let data = copy_fixture("format2", dir.path());
    let before = meta_records(&data);
    assert_eq!(format_version(&before), 2);
    assert!(meta_value(&before, "migration/0003").is_none());

    let server = start(dir.path(), &data);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    let at_open = log.find("applied storage migration 0003 (response wrapping)");
    let then = log.find("applied storage migration 0004 (mounts and secrets engines)");
    assert!(at_open.is_some() && then.is_some() && at_open < then, "{log}");
    assert!(!log.contains("applied storage migration 0005"), "{log}");
    unseal(&server, &fx);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("applied storage migration 0005 (token entries with role)"),
        "{log}"
    );

    let c = &server.client;
    let root = s(&fx, "root_token");
    check_root_and_policies(c, &fx);
    let tokens = fx["tokens"].as_object().unwrap();
    for (name, t) in tokens {
        let (status, body) = c.put("auth/token/lookup", Some(root), json!({"token": s(t, "token")}));
        assert_eq!(status, 200, "{name}: {body}");
        let d = &body["data"];
        assert_eq!(d["policies"], t["policies"], "{name}");
        assert_eq!(d["accessor"], t["accessor"], "{name}");
        assert_eq!(d["display_name"], t["display_name"], "{name}");
        assert_eq!(d["orphan"], json!(t["orphan"].as_bool().unwrap_or(false)), "{name}");
        assert_eq!(d["num_uses"], json!(t["num_uses"].as_i64().unwrap_or(0)), "{name}");
        assert!(d.get("role").is_none(), "{name}: {d}");
        if let Some(meta) = t.get("meta") {
            assert_eq!(d["meta"], *meta, "{name}");
        }
        assert!(d["ttl"].as_u64().unwrap() > 365 * 24 * 3600, "{name}: {d}");
    }
    let app = s(&tokens["app"], "token");
    assert_eq!(c.get("sys/policies/acl/app-read", Some(app)).0, 200);
    assert_eq!(c.get("sys/policies/acl/ops", Some(app)).0, 403);
    let limited = s(&tokens["limited"], "token");
    let (status, body) = c.get("auth/token/lookup-self", Some(limited));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["num_uses"], json!(2));
    // A re-encoded entry is written back correctly by later changes too: renew and revoke with its children.
    let ops = s(&tokens["ops"], "token");
    let child = s(&tokens["child"], "token");
    assert_eq!(c.get("sys/policies/acl/app-read", Some(child)).0, 200);
    assert_eq!(c.put("auth/token/revoke", Some(root), json!({"token": ops})).0, 204);
    assert_eq!(c.get("sys/policies/acl/app-read", Some(child)).0, 403);
    // A token created now, next to the migrated ones.
    let (status, body) = c.put("auth/token/create", Some(root), json!({"policies": ["app-read"]}));
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());

    let after = meta_records(&data);
    assert_eq!(format_version(&after), 8);
    for v in 1..=2 {
        let key = format!("migration/{v:04}");
        assert_eq!(meta_value(&after, &key), meta_value(&before, &key), "{key}");
    }
    for v in 3..=6 {
        assert!(meta_value(&after, &format!("migration/{v:04}")).is_some(), "{v}");
    }

    // Again: nothing to migrate, the migrated tokens still work.
    let server = start(dir.path(), &data);
    unseal(&server, &fx);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(!log.contains("applied storage migration"), "{log}");
    assert_eq!(server.client.get("sys/policies/acl/app-read", Some(app)).0, 200);
    assert!(server.terminate().success());
}

/// The fixture's keyring, opened with two of its unseal keys (to write an encrypted record as the server would).
fn fixture_keyring(fx: &Value, data: &Path) -> vault::storage::Keyring {
    let shares: Vec<_> = fx["unseal_keys"].as_array().unwrap()[..2]
        .iter()
        .map(|k| vault::seal::parse_key(k.as_str().unwrap()).unwrap())
        .collect();
    let root_key = vault::seal::combine(&shares).unwrap();
    let db = open_db(data);
    let sealed = db.open_tree("meta").unwrap().get(b"keyring").unwrap().unwrap();
    let aad = vault::storage::barrier::aad("meta", b"keyring");
    vault::storage::Keyring::open(&root_key, &aad, &sealed).unwrap()
}

/// Every (key, stored value) of a tree, as on disk.
pub(crate) fn raw_tree(data: &Path, tree: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = open_db(data);
    let t = db.open_tree(tree).unwrap();
    t.iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// An unseal-phase migration that fails after rewriting records refuses the unseal: the server stays sealed, the
/// directory stays at the version before it with every record as it was, and the next unseal retries it.
#[test]
fn failed_unseal_migration_refuses_the_unseal_and_rewrites_nothing() {
    let fx = fixture("format2");
    let dir = temp_dir();
    let data = copy_fixture("format2", dir.path());

    // A token record that decrypts but is no token entry, sorted after every real one (their keys are 32-byte
    // hashes), so 0005 has already re-encoded the real entries in its transaction when it reaches this one.
    let bad_key = [0xffu8; 40];
    {
        let keyring = fixture_keyring(&fx, &data);
        let sealed = keyring
            .encrypt(
                &vault::storage::barrier::aad("tokens", &bad_key),
                b"\x01not a token entry",
            )
            .unwrap();
        let db = open_db(&data);
        db.open_tree("tokens").unwrap().insert(bad_key, sealed).unwrap();
        db.flush().unwrap();
    }
    let tokens_before = raw_tree(&data, "tokens");
    assert_eq!(tokens_before.len(), 7, "root, five tokens and the bad record");

    let server = start(dir.path(), &data);
    let keys: Vec<&str> = fx["unseal_keys"].as_array().unwrap()[1..]
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let c = &server.client;
    assert_eq!(c.put("sys/unseal", None, json!({"key": keys[0]})).0, 200);
    let (status, body) = c.put("sys/unseal", None, json!({"key": keys[1]}));
    assert_eq!(status, 500, "{body}");
    let (_, status_body) = c.get("sys/seal-status", None);
    assert_eq!(status_body["sealed"], json!(true), "{status_body}");
    let root = s(&fx, "root_token");
    assert_eq!(c.get("auth/token/lookup-self", Some(root)).0, 503);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("storage migration 5 (token entries with role) failed: token entry 6 decodes in neither shape"),
        "{log}"
    );
    assert!(server.terminate().success());

    // Version 4 (the start-up migrations ran), no record of 0005, and every token record byte-for-byte as before.
    let meta = meta_records(&data);
    assert_eq!(format_version(&meta), 4);
    assert!(meta_value(&meta, "migration/0005").is_none());
    assert_eq!(raw_tree(&data, "tokens"), tokens_before);

    // Without the bad record the next unseal migrates and the tokens work.
    {
        let db = open_db(&data);
        db.open_tree("tokens").unwrap().remove(bad_key).unwrap();
        db.flush().unwrap();
    }
    let server = start(dir.path(), &data);
    unseal(&server, &fx);
    assert_eq!(server.client.get("auth/token/lookup-self", Some(root)).0, 200);
    let app = s(&fx["tokens"]["app"], "token");
    assert_eq!(server.client.get("sys/policies/acl/app-read", Some(app)).0, 200);
    assert!(server.terminate().success());
    assert_eq!(format_version(&meta_records(&data)), 8);
}

/// A snapshot file holding `data`'s records exactly as stored, declared as storage format `format` (what a server of
/// that format would have written; its sealed sums are not verifiable, so it restores with `-force` only).
fn snapshot_of_raw_store(data: &Path, format: u32) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    use vault::storage::snapshot::SnapshotHeader;

    let db = open_db(data);
    let names: Vec<&str> = std::iter::once(vault::storage::META_TREE)
        .chain(vault::storage::Tree::ALL.iter().map(|t| t.name()))
        .collect();
    let existing: Vec<Vec<u8>> = db.tree_names().into_iter().map(|n| n.to_vec()).collect();
    let mut state = Vec::new();
    let mut trees = std::collections::BTreeMap::new();
    for name in names {
        if !existing.contains(&name.as_bytes().to_vec()) {
            continue;
        }
        let tree = db.open_tree(name).unwrap();
        let mut count = 0u64;
        for item in tree.iter() {
            let (k, v) = item.unwrap();
            state.push(name.len() as u8);
            state.extend_from_slice(name.as_bytes());
            state.extend_from_slice(&(k.len() as u32).to_be_bytes());
            state.extend_from_slice(&k);
            state.extend_from_slice(&(v.len() as u32).to_be_bytes());
            state.extend_from_slice(&v);
            count += 1;
        }
        trees.insert(name.to_string(), count);
    }
    drop(db);
    let header = SnapshotHeader {
        format: "vault-sled-snapshot".into(),
        snapshot_version: 1,
        server_version: "format-3 build".into(),
        storage_format_version: format,
        created_at: "2026-11-20T00:00:00Z".into(),
        key_id: "0".repeat(32),
        cluster_name: None,
        cluster_id: None,
        entries: trees.values().sum(),
        trees,
        state_bytes: state.len() as u64,
    };
    let header_json = serde_json::to_vec_pretty(&header).unwrap();
    let sums = format!(
        "{}  meta.json\n{}  state.bin\n",
        hex::encode(Sha256::digest(&header_json)),
        hex::encode(Sha256::digest(&state))
    );
    crate::common::tar_gz(&[
        ("meta.json", &header_json[..]),
        ("state.bin", &state[..]),
        ("SHA256SUMS", sums.as_bytes()),
        ("SHA256SUMS.sealed", b"sealed by a keyring this test does not have"),
    ])
}

/// Restoring a snapshot of an older storage format migrates it: the start-up migrations when it is swapped in, the
/// keyring's at the unseal with its own keys; every secret in it works afterwards.
#[test]
fn an_older_format_snapshot_is_migrated_when_restored() {
    let fx = fixture("format3");
    let fixture_copy = temp_dir();
    let snapshot = snapshot_of_raw_store(&copy_fixture("format3", fixture_copy.path()), 3);

    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let mut resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/v1/sys/storage/raft/snapshot-force", c.base))
        .header("X-Vault-Token", &root)
        .send(&snapshot[..])
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(c.get("sys/seal-status", None).1["sealed"], true);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(log.contains("applied storage migration 0004"), "{log}");

    let keys: Vec<String> = fx["unseal_keys"].as_array().unwrap()[..2]
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    c.unseal_with(&keys);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(log.contains("applied storage migration 0005"), "{log}");
    let fixture_root = fx["root_token"].as_str().unwrap();
    assert_eq!(c.get("auth/token/lookup-self", Some(fixture_root)).0, 200);
    let (status, policy) = c.get("sys/policies/acl/app-read", Some(fixture_root));
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["data"]["policy"], fx["policies"]["app-read"]);
    let app = fx["tokens"]["app"]["token"].as_str().unwrap();
    let (status, me) = c.get("auth/token/lookup-self", Some(app));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["meta"]["owner"], "fixture");
    // The mount table a format-3 store lacked is written at the unseal: K/V works on the restored store.
    let (status, body) = c.put(
        "sys/mounts/kv",
        Some(fixture_root),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(c.put("kv/data/x", Some(fixture_root), json!({"data": {"a": 1}})).0, 200);
}
