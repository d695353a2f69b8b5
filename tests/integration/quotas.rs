//! Rate limit quotas (#19): the 429 with OpenBao's text and its headers, block intervals, per-client windows, the
//! most specific quota winning, exempt paths, refused requests in the audit log, and quotas surviving kill -9.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, TestServer};

/// A raw GET: status, the headers (lowercase names) and the JSON body.
fn get(base: &str, path: &str, token: Option<&str>) -> (u16, BTreeMap<String, String>, Value) {
    let (status, headers, text) = crate::common::raw_get_headers(base, path, token, &[]);
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, body)
}

fn setup(dir: &std::path::Path) -> (TestServer, String, Vec<String>) {
    let (server, root, keys) = TestServer::start_unsealed(dir);
    let c = &server.client;
    assert_eq!(c.put("sys/mounts/kv", Some(&root), json!({"type": "kv"})).0, 204);
    assert_eq!(c.put("kv/a", Some(&root), json!({"v": "1"})).0, 204);
    (server, root, keys)
}

#[test]
fn over_the_quota_is_429_with_openbaos_text_and_headers_when_enabled() {
    let dir = temp_dir();
    let (server, root, _) = setup(dir.path());
    let c = &server.client;
    let quota = json!({"rate": 2, "interval": "30s", "path": "kv/"});
    assert_eq!(c.put("sys/quotas/rate-limit/kv", Some(&root), quota).0, 204);
    let base = &c.base;
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);
    let (status, headers, body) = get(base, "kv/a", Some(&root));
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"errors": ["request path \"kv/a\": rate limit quota exceeded"]})
    );
    // As OpenBao: no quota headers unless enabled.
    assert!(
        !headers.contains_key("retry-after") && !headers.contains_key("x-ratelimit-limit"),
        "{headers:?}"
    );

    let settings = json!({"enable_rate_limit_response_headers": true});
    assert_eq!(c.put("sys/quotas/config", Some(&root), settings).0, 204);
    let (status, headers, _) = get(base, "kv/a", Some(&root));
    assert_eq!(status, 429);
    let reset: u64 = headers["x-ratelimit-reset"].parse().unwrap();
    assert!(reset <= 30, "{headers:?}");
    assert_eq!(headers["retry-after"], headers["x-ratelimit-reset"]);
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    // Admitted answers carry the headers too; paths without a quota do not.
    let (status, headers, _) = get(base, "sys/mounts", Some(&root));
    assert_eq!(status, 200);
    assert!(!headers.contains_key("x-ratelimit-limit"), "{headers:?}");
    let global = json!({"rate": 1000, "interval": "1m"});
    assert_eq!(c.put("sys/quotas/rate-limit/global", Some(&root), global).0, 204);
    let (status, headers, _) = get(base, "sys/mounts", Some(&root));
    assert_eq!((status, headers["x-ratelimit-limit"].as_str()), (200, "1000"));
    assert_eq!(headers["x-ratelimit-remaining"], "999");
    // On refusals of other kinds too (OpenBao sets them before anything else runs).
    let (status, headers, _) = get(base, "sys/mounts", Some("not-a-token"));
    assert_eq!((status, headers["x-ratelimit-remaining"].as_str()), (403, "998"));
    // The kv quota is still the one for kv (the most specific wins).
    assert_eq!(get(base, "kv/a", Some(&root)).0, 429);
    // Violations are counted, by quota.
    let (_, metrics) = c.get("sys/metrics", Some(&root));
    let violations: u64 = metrics["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Name"] == "vault.quota.rate_limit.violation" && m["Labels"]["name"] == "kv")
        .map(|m| m["Count"].as_u64().unwrap())
        .sum();
    assert!(violations >= 1, "{metrics}");
}

#[test]
fn a_blocked_client_waits_the_block_interval_and_windows_refill() {
    let dir = temp_dir();
    let (server, root, _) = setup(dir.path());
    let c = &server.client;
    let quota = json!({"rate": 1, "interval": "1s", "block_interval": "3s", "path": "kv/a"});
    assert_eq!(c.put("sys/quotas/rate-limit/blocky", Some(&root), quota).0, 204);
    let settings = json!({"enable_rate_limit_response_headers": true});
    assert_eq!(c.put("sys/quotas/config", Some(&root), settings).0, 204);
    let base = &c.base;
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);
    let refused_at = Instant::now();
    let (status, headers, _) = get(base, "kv/a", Some(&root));
    assert_eq!(status, 429);
    // Whole seconds left of the block, rounded down as OpenBao does.
    assert_eq!(headers["retry-after"], "2", "{headers:?}");
    // Another path under the mount is not this quota's.
    assert_eq!(get(base, "kv/b", Some(&root)).0, 404);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, headers, _) = get(base, "kv/a", Some(&root));
    assert_eq!(status, 429, "a new window does not lift the block");
    // While blocked only `Retry-After` is sent, as OpenBao.
    assert!(!headers.keys().any(|k| k.starts_with("x-ratelimit")), "{headers:?}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    while refused_at.elapsed() < Duration::from_millis(3200) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);

    // Windows refill: without a block interval the next window admits again.
    let quota = json!({"rate": 1, "interval": "1s", "path": "kv/a"});
    assert_eq!(c.put("sys/quotas/rate-limit/blocky", Some(&root), quota).0, 204);
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);
    assert_eq!(get(base, "kv/a", Some(&root)).0, 429);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(base, "kv/a", Some(&root)).0, 200);
}

#[test]
fn exempt_paths_are_never_limited() {
    let dir = temp_dir();
    let (server, root, _) = setup(dir.path());
    let c = &server.client;
    let quota = json!({"rate": 1, "interval": "1m"});
    assert_eq!(c.put("sys/quotas/rate-limit/everything", Some(&root), quota).0, 204);
    // OpenBao's default exemptions.
    for _ in 0..5 {
        assert_eq!(get(&c.base, "sys/seal-status", None).0, 200);
        assert_eq!(get(&c.base, "sys/health", None).0, 200);
    }
    assert_eq!(get(&c.base, "kv/a", Some(&root)).0, 200);
    assert_eq!(get(&c.base, "kv/a", Some(&root)).0, 429);
    // A global quota covers `sys/` too, the quota endpoints included.
    let (status, _, _) = get(&c.base, "sys/quotas/config", Some(&root));
    assert_eq!(status, 429);
    // And the endpoints served outside the pipeline that are not exempt.
    assert_eq!(get(&c.base, "sys/leader", None).0, 429);
    assert_eq!(get(&c.base, "sys/init", None).0, 429);
    assert_eq!(get(&c.base, "sys/health", None).0, 200);
}

#[test]
fn refused_requests_are_audited_when_asked() {
    let dir = temp_dir();
    let log = dir.path().join("audit.log");
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        &format!(
            "audit \"file\" \"file\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}",
            log.display()
        ),
        "  tls_disable = true",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    let c = &server.client;
    assert_eq!(c.put("sys/mounts/kv", Some(&root), json!({"type": "kv"})).0, 204);
    let quota = json!({"rate": 1, "interval": "1m", "path": "kv/"});
    assert_eq!(c.put("sys/quotas/rate-limit/kv", Some(&root), quota).0, 204);
    assert_eq!(get(&c.base, "kv/first", Some(&root)).0, 404);
    assert_eq!(get(&c.base, "kv/unaudited", Some(&root)).0, 429);
    let settings = json!({"enable_rate_limit_audit_logging": true});
    assert_eq!(c.put("sys/quotas/config", Some(&root), settings).0, 204);
    assert_eq!(get(&c.base, "kv/audited", Some(&root)).0, 429);
    let entries: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["error"]
                .as_str()
                .is_some_and(|m| m.contains("rate limit quota exceeded"))
        })
        .collect();
    assert_eq!(refused.len(), 1, "{entries:?}");
    assert_eq!(refused[0]["type"], "request");
    assert_eq!(refused[0]["request"]["path"], "kv/audited");
    assert_eq!(
        refused[0]["error"],
        "request path \"kv/audited\": rate limit quota exceeded"
    );
}

#[test]
fn quotas_and_settings_survive_kill_9() {
    let dir = temp_dir();
    let (server, root, keys) = setup(dir.path());
    let c = &server.client;
    let quota = json!({"rate": 1, "interval": "1h", "block_interval": "10m", "path": "kv/"});
    assert_eq!(c.put("sys/quotas/rate-limit/kv", Some(&root), quota).0, 204);
    let settings = json!({"rate_limit_exempt_paths": ["sys/health"], "enable_rate_limit_response_headers": true});
    assert_eq!(c.put("sys/quotas/config", Some(&root), settings).0, 204);
    let (_, before) = c.get("sys/quotas/rate-limit/kv", Some(&root));
    server.kill9();
    let config = dir.path().join("vault.hcl");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    server.client.unseal_with(&keys);
    let c = &server.client;
    let (status, after) = c.get("sys/quotas/rate-limit/kv", Some(&root));
    assert_eq!(status, 200);
    assert_eq!(after["data"], before["data"]);
    assert_eq!(after["data"]["path"], "kv/");
    let (_, settings) = c.get("sys/quotas/config", Some(&root));
    assert_eq!(settings["data"]["rate_limit_exempt_paths"], json!(["sys/health"]));
    // Enforced again (the limiter state itself starts over, as in OpenBao).
    assert_eq!(get(&c.base, "kv/a", Some(&root)).0, 200);
    let (status, headers, _) = get(&c.base, "kv/a", Some(&root));
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "599");
}

#[test]
fn an_approle_role_quota_limits_that_roles_logins_only() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    assert_eq!(
        c.put("sys/auth/approle", Some(&root), json!({"type": "approle"})).0,
        204
    );
    let mut creds = BTreeMap::new();
    for role in ["web", "api"] {
        assert_eq!(
            c.put(&format!("auth/approle/role/{role}"), Some(&root), json!({})).0,
            204
        );
        let (_, id) = c.get(&format!("auth/approle/role/{role}/role-id"), Some(&root));
        let (_, secret) = c.put(&format!("auth/approle/role/{role}/secret-id"), Some(&root), json!({}));
        creds.insert(
            role,
            json!({"role_id": id["data"]["role_id"], "secret_id": secret["data"]["secret_id"]}),
        );
    }
    let quota = json!({"rate": 2, "interval": "1h", "path": "auth/approle", "role": "web"});
    assert_eq!(c.put("sys/quotas/rate-limit/web", Some(&root), quota).0, 204);
    let login = |role: &str| c.put("auth/approle/login", None, creds[role].clone());
    let (status, body) = login("web");
    assert_eq!(status, 200, "{body}");
    assert!(body["auth"]["client_token"].is_string());
    assert_eq!(login("web").0, 200);
    let (status, body) = login("web");
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body,
        json!({"errors": ["request path \"auth/approle/login\": rate limit quota exceeded"]})
    );
    for _ in 0..3 {
        assert_eq!(login("api").0, 200, "another role is not limited");
    }
    // The mount's other paths are not logins: the role quota does not apply to them.
    for _ in 0..3 {
        assert_eq!(c.get("auth/approle/role/web", Some(&root)).0, 200);
    }
}

/// Two servers on one PostgreSQL table: a quota set on one is enforced by the other (each limits on its own, as
/// OpenBao's servers each keep their own limiter state).
#[test]
fn a_quota_set_on_one_server_applies_on_another_sharing_its_postgresql_table() {
    let _pg = crate::common::OnPostgres::enter();
    let dir = temp_dir();
    let (a, b, root) = crate::postgresql::two_servers(dir.path());
    assert_eq!(a.client.put("sys/mounts/kv", Some(&root), json!({"type": "kv"})).0, 204);
    assert_eq!(a.client.put("kv/a", Some(&root), json!({"v": "1"})).0, 204);
    let quota = json!({"rate": 1, "interval": "1h", "path": "kv/"});
    assert_eq!(a.client.put("sys/quotas/rate-limit/kv", Some(&root), quota).0, 204);
    crate::postgresql::eventually("B has A's quota", || {
        b.client.get("sys/quotas/rate-limit/kv", Some(&root)).0 == 200
    });
    assert_eq!(get(&b.client.base, "kv/a", Some(&root)).0, 200);
    assert_eq!(get(&b.client.base, "kv/a", Some(&root)).0, 429);
    assert_eq!(
        a.client.call("DELETE", "sys/quotas/rate-limit/kv", Some(&root), None).0,
        204
    );
    crate::postgresql::eventually("B drops the quota A deleted", || {
        get(&b.client.base, "kv/a", Some(&root)).0 == 200
    });
}
