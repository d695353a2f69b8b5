//! `sys/metrics` (#19): Prometheus' text format read by a real parser (Python's `prometheus_client`), OpenBao's JSON
//! shape checked entry by entry against `bao server`, the `telemetry` block and unauthenticated access, `bao read
//! sys/metrics`, and the durable counters surviving restarts (graceful and kill -9).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};
use crate::tools::{python, run_bao, ReferenceServer};

/// A raw GET: status, content type and body text.
pub fn get_text(base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> (u16, String, String) {
    let (status, content_type, body) = crate::common::raw_get(base, path, token, headers, "content-type");
    (status, content_type.unwrap_or_default(), body)
}

fn start_with_telemetry(dir: &std::path::Path, listener_extra: &str) -> (TestServer, String, Vec<String>) {
    start_with_telemetry_and(dir, "", listener_extra)
}

fn start_with_telemetry_and(
    dir: &std::path::Path,
    extra: &str,
    listener_extra: &str,
) -> (TestServer, String, Vec<String>) {
    let config = write_config(
        dir,
        &dir.join("data"),
        &format!("telemetry {{\n  prometheus_retention_time = \"1h\"\n  disable_hostname = true\n}}\n{extra}"),
        &format!("  tls_disable = true\n{listener_extra}"),
    );
    let server = TestServer::start_with_config(dir, &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    (server, root, keys)
}

/// Parse Prometheus text with `prometheus_client.parser`; returns `{family: {"type": ..., "samples": [[name, labels,
/// value], ...]}}` (an error if the text does not parse).
fn parse_prometheus(text: &str) -> Value {
    let dir = temp_dir();
    let input = dir.path().join("metrics.txt");
    std::fs::write(&input, text).unwrap();
    let script = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    out[fam.name] = {"type": fam.type, "samples": [[s.name, s.labels, None if math.isnan(s.value) else s.value] for s in fam.samples]}
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "prometheus_client could not parse our metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample(families: &Value, family: &str, sample: &str) -> f64 {
    families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family}: {families}"))
        .iter()
        .find(|s| s[0] == sample)
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no sample {sample} in {family}: {}", families[family]))
}

#[test]
fn prometheus_text_parses_and_has_openbaos_metrics() {
    let dir = temp_dir();
    let audit = "audit \"file\" \"f\" {\n  options {\n    file_path = \"discard\"\n  }\n}";
    let (server, root, _) = start_with_telemetry_and(dir.path(), audit, "");
    let c = &server.client;
    assert_eq!(c.put("sys/mounts/kv", Some(&root), json!({"type": "kv"})).0, 204);
    for i in 0..3 {
        assert_eq!(c.put(&format!("kv/s{i}"), Some(&root), json!({"v": i})).0, 204);
        assert_eq!(c.get(&format!("kv/s{i}"), Some(&root)).0, 200);
    }
    let (status, child) = c.put("auth/token/create", Some(&root), json!({"ttl": "1h"}));
    assert_eq!(status, 200, "{child}");
    assert_eq!(
        c.put(
            "sys/policies/acl/p",
            Some(&root),
            json!({"policy": "path \"kv/*\" { capabilities = [\"read\"] }"})
        )
        .0,
        204
    );
    assert_eq!(c.get("sys/policies/acl/p", Some(&root)).0, 200);
    let (status, _) = c.call("LIST", "sys/policies/acl", Some(&root), None);
    assert_eq!(status, 200);

    let (status, content_type, text) = get_text(&c.base, "sys/metrics?format=prometheus", Some(&root), &[]);
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let families = parse_prometheus(&text);
    let kind = |name: &str| families[name]["type"].as_str().unwrap_or("missing").to_string();
    // OpenBao's names and types (timings are summaries, in milliseconds).
    for summary in [
        "vault_core_handle_request",
        "vault_core_check_token",
        "vault_route_create_kv_",
        "vault_route_read_kv_",
        "vault_route_update_auth_token_",
        "vault_token_lookup",
        "vault_policy_get_policy",
        "vault_barrier_get",
        "vault_barrier_put",
        "vault_barrier_list",
        "vault_sled_get",
        "vault_sled_list",
        "vault_storage_transaction",
        "vault_storage_commit",
        "vault_sled_flush",
        "vault_storage_batch_size",
        "vault_audit_log_request",
        "vault_audit_log_response",
    ] {
        assert_eq!(kind(summary), "summary", "{summary}: {}", families[summary]);
    }
    assert_eq!(
        sample(&families, "vault_route_read_kv_", "vault_route_read_kv__count"),
        3.0
    );
    assert_eq!(
        sample(&families, "vault_route_create_kv_", "vault_route_create_kv__count"),
        3.0
    );
    assert_eq!(
        sample(
            &families,
            "vault_audit_log_request_failure",
            "vault_audit_log_request_failure_total"
        ),
        0.0
    );
    assert_eq!(kind("vault_token_creation"), "counter");
    let creation = &families["vault_token_creation"]["samples"][0];
    assert_eq!(creation[1]["auth_method"], "token", "{creation}");
    assert_eq!(creation[1]["mount_point"], "auth/token/", "{creation}");
    assert_eq!(creation[1]["creation_ttl"], "1h", "{creation}");
    assert_eq!(creation[1]["token_type"], "service", "{creation}");
    assert_eq!(kind("vault_core_unsealed"), "gauge");
    assert_eq!(families["vault_core_unsealed"]["samples"][0][2], 1.0);
    assert_eq!(kind("vault_core_uptime_seconds"), "gauge");
    // The process collector's metrics (ours adds the thread count).
    for gauge in ["process_threads", "process_resident_memory_bytes", "process_open_fds"] {
        assert_eq!(kind(gauge), "gauge", "{gauge}");
    }
    assert_eq!(kind("process_cpu_seconds"), "counter");
    for counter in [
        "vault_wrapping_token_reuse",
        "vault_storage_flushes",
        "vault_storage_write_batches",
        "vault_storage_batched_transactions",
        "vault_expire_revoked_tokens",
    ] {
        assert_eq!(kind(counter), "counter", "{counter}");
    }
    // The parser reads a counter's sample as `<name>_total`.
    assert!(sample(&families, "vault_storage_flushes", "vault_storage_flushes_total") > 0.0);
    let batches = sample(
        &families,
        "vault_storage_write_batches",
        "vault_storage_write_batches_total",
    );
    let transactions = sample(
        &families,
        "vault_storage_batched_transactions",
        "vault_storage_batched_transactions_total",
    );
    // At least the mount, three writes, the token and the policy.
    assert!(transactions >= batches && batches >= 6.0, "{batches} {transactions}");

    // The token is required here (no unauthenticated access on this listener).
    let (status, _, _) = get_text(&c.base, "sys/metrics?format=prometheus", None, &[]);
    assert_eq!(status, 403);
    // OpenBao's Accept headers ask for the Prometheus format too.
    let (status, content_type, _) = get_text(
        &c.base,
        "sys/metrics",
        Some(&root),
        &[("Accept", "application/openmetrics-text")],
    );
    assert_eq!((status, content_type.starts_with("text/plain")), (200, true));
}

#[test]
fn prometheus_is_refused_without_a_telemetry_block() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let base = &server.client.base;
    let (status, content_type, text) = get_text(base, "sys/metrics?format=prometheus", Some(&root), &[]);
    assert_eq!(
        (status, content_type.as_str(), text.as_str()),
        (400, "text/plain", "prometheus is not enabled")
    );
    let (status, _, text) = get_text(base, "sys/metrics?format=xml", Some(&root), &[]);
    assert_eq!((status, text.as_str()), (400, "metric response format \"xml\" unknown"));
    let (status, content_type, _) = get_text(base, "sys/metrics", Some(&root), &[]);
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
}

#[test]
fn unauthenticated_access_is_per_listener_and_works_while_sealed() {
    let dir = temp_dir();
    let (server, root, _) = start_with_telemetry(
        dir.path(),
        "  telemetry {\n    unauthenticated_metrics_access = true\n  }",
    );
    let base = server.client.base.clone();
    let (status, _, text) = get_text(&base, "sys/metrics", None, &[]);
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["Gauges"].is_array(), "{body}");
    let (status, _, text) = get_text(&base, "sys/metrics?format=prometheus", None, &[]);
    assert_eq!(status, 200);
    parse_prometheus(&text);
    // Only GET, as OpenBao's unauthenticated handler.
    let (status, _) = server.client.call("POST", "sys/metrics", None, Some(b"{}".to_vec()));
    assert_eq!(status, 405);
    // Sealed: still served, and the seal shows.
    assert_eq!(server.client.put("sys/seal", Some(&root), json!({})).0, 204);
    let (status, _, text) = get_text(&base, "sys/metrics?format=prometheus", None, &[]);
    assert_eq!(status, 200);
    let families = parse_prometheus(&text);
    // Under the empty cluster name (as OpenBao while sealed), and the cluster's own series back to 0.
    let unsealed: Vec<(String, f64)> = families["vault_core_unsealed"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[1]["cluster"].as_str().unwrap().to_string(), s[2].as_f64().unwrap()))
        .collect();
    assert_eq!(unsealed.len(), 2, "{unsealed:?}");
    assert!(unsealed.iter().all(|(_, v)| *v == 0.0), "{unsealed:?}");
    assert!(unsealed.iter().any(|(c, _)| c.is_empty()), "{unsealed:?}");
    // The seal was timed as OpenBao times it: the whole, and the teardown before it.
    for family in ["vault_core_seal_internal", "vault_core_pre_seal"] {
        assert_eq!(families[family]["type"], "summary", "{family}");
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Wait until `sys/metrics` (JSON) shows at least one sample, and return it.
fn json_with_samples(c: &Client, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        // Keep requests flowing so every 10-second interval has some.
        c.get("sys/mounts", Some(token));
        let (status, body) = c.get("sys/metrics", Some(token));
        assert_eq!(status, 200, "{body}");
        if body["Samples"].as_array().is_some_and(|s| !s.is_empty())
            && body["Counters"].as_array().is_some_and(|s| !s.is_empty())
        {
            return body;
        }
        assert!(Instant::now() < deadline, "no samples after 25 s: {body}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn json_entries_have_openbaos_fields() {
    let reference = ReferenceServer::start();
    let theirs = Client::new(&reference.addr);
    let (keys_ref, root_ref) = theirs.init(1, 1);
    theirs.unseal_with(&keys_ref);
    assert_eq!(theirs.put("auth/token/create", Some(&root_ref), json!({})).0, 200);
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    assert_eq!(server.client.put("auth/token/create", Some(&root), json!({})).0, 200);

    let expected = json_with_samples(&theirs, &root_ref);
    let ours = json_with_samples(&server.client, &root);
    assert_eq!(keys(&ours), keys(&expected));
    let timestamp = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$").unwrap();
    for body in [&expected, &ours] {
        assert!(
            timestamp.is_match(body["Timestamp"].as_str().unwrap()),
            "{}",
            body["Timestamp"]
        );
    }
    for list in ["Gauges", "Counters", "Samples"] {
        let reference_fields = keys(&expected[list][0]);
        for entry in ours[list].as_array().unwrap() {
            assert_eq!(keys(entry), reference_fields, "{list}: {entry}");
            assert!(entry["Labels"].is_object() && entry["Name"].is_string(), "{entry}");
        }
    }
    // What both show, by name: the seal state, token creations, request timings.
    let names = |body: &Value, list: &str| -> BTreeSet<String> {
        body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&ours, "Gauges").contains("vault.core.unsealed"));
    assert!(names(&expected, "Gauges").contains("vault.core.unsealed"));
    assert!(names(&ours, "Samples").contains("vault.core.handle_request"));

    // `bao read sys/metrics` reads ours.
    let (code, out, err) = run_bao(
        &server.client.base,
        Some(&root),
        &["read", "-format=json", "sys/metrics"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let read: Value = serde_json::from_str(&out).unwrap();
    assert!(read["data"]["Gauges"].is_array(), "{read}");
}

fn durable(c: &Client, root: &str) -> std::collections::BTreeMap<String, u64> {
    let (status, body) = c.get("sys/metrics", Some(root));
    assert_eq!(status, 200, "{body}");
    body["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            let name = m["Name"].as_str().unwrap();
            name.starts_with("vault.storage.") || name == "vault.wrapping.token_reuse"
        })
        .map(|m| (m["Name"].as_str().unwrap().to_string(), m["Count"].as_u64().unwrap()))
        .collect()
}

#[test]
fn durable_counters_survive_restarts_and_kill_9() {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    // A wrapping token presented again after its use is counted.
    let (status, wrapped) = c
        .try_call(
            "POST",
            "sys/wrapping/wrap",
            Some(&root),
            &[("X-Vault-Wrap-TTL", "5m")],
            Some(json!({"a": "b"}).to_string().into_bytes()),
        )
        .unwrap();
    assert_eq!(status, 200, "{wrapped}");
    let token = wrapped["wrap_info"]["token"].as_str().unwrap();
    assert_eq!(c.put("sys/wrapping/unwrap", Some(token), json!({})).0, 200);
    assert_eq!(c.put("sys/wrapping/unwrap", Some(token), json!({})).0, 400);
    let before = durable(c, &root);
    assert_eq!(before["vault.wrapping.token_reuse"], 1, "{before:?}");
    assert!(before["vault.storage.flushes"] > 0, "{before:?}");

    // A graceful stop stores them.
    assert!(server.terminate().success());
    let config = dir.path().join("vault.hcl");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    server.client.unseal_with(&keys);
    let after = durable(&server.client, &root);
    for (name, value) in &before {
        assert!(
            after[name] >= *value,
            "{name}: {value} before, {} after a restart",
            after[name]
        );
    }
    assert_eq!(after["vault.wrapping.token_reuse"], 1);

    // The scheduler stores them every 10 s, so a kill -9 loses at most that much.
    assert_eq!(server.client.put("sys/wrapping/unwrap", Some(token), json!({})).0, 400);
    let counted = durable(&server.client, &root);
    assert_eq!(counted["vault.wrapping.token_reuse"], 2);
    // Sealed and unsealed again before the next persist: nothing counted is lost.
    assert_eq!(server.client.put("sys/seal", Some(&root), json!({})).0, 204);
    server.client.unseal_with(&keys);
    assert_eq!(durable(&server.client, &root)["vault.wrapping.token_reuse"], 2);
    std::thread::sleep(Duration::from_secs(12));
    server.kill9();
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    server.client.unseal_with(&keys);
    let revived = durable(&server.client, &root);
    assert_eq!(revived["vault.wrapping.token_reuse"], 2, "{revived:?}");
    for (name, value) in &counted {
        assert!(
            revived[name] >= *value,
            "{name}: {value} before kill -9, {} after",
            revived[name]
        );
    }
}

/// The same requests on a server: a K/V mount used, tokens created (with a TTL, periodic, as children of root),
/// renewed and revoked (one by its tree, others by prefix), a policy written, read, listed and deleted, a response
/// wrapped and unwrapped.
fn metrics_workload(c: &Client, root: &str) {
    assert_eq!(c.put("sys/mounts/kv", Some(root), json!({"type": "kv"})).0, 204);
    assert_eq!(c.put("kv/a", Some(root), json!({"v": 1})).0, 204);
    assert_eq!(c.get("kv/a", Some(root)).0, 200);
    assert_eq!(c.put("kv/dir/b", Some(root), json!({"v": 2})).0, 204);
    let v2 = json!({"type": "kv", "options": {"version": "2"}});
    assert_eq!(c.put("sys/mounts/kv2", Some(root), v2).0, 204);
    // K/V v2 sets itself up after the mount: retry its first write briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.put("kv2/data/x", Some(root), json!({"data": {"v": 1}})).0 != 200 {
        assert!(Instant::now() < deadline, "kv2 never accepted a write");
        std::thread::sleep(Duration::from_millis(100));
    }
    for path in ["kv2/data/d/y", "kv2/data/d/e/z"] {
        assert_eq!(c.put(path, Some(root), json!({"data": {"v": 1}})).0, 200, "{path}");
    }
    assert_eq!(c.put("sys/mounts/empty", Some(root), json!({"type": "kv"})).0, 204);
    let (status, hour) = c.put("auth/token/create", Some(root), json!({"ttl": "1h"}));
    assert_eq!(status, 200, "{hour}");
    let (status, _) = c.put("auth/token/create", Some(root), json!({"period": "2h"}));
    assert_eq!(status, 200);
    // Only the root policy and no TTL: a token that never expires.
    let (status, forever) = c.put("auth/token/create", Some(root), json!({"policies": ["root"]}));
    assert_eq!(
        (status, forever["auth"]["lease_duration"].as_i64()),
        (200, Some(0)),
        "{forever}"
    );
    let hour_token = hour["auth"]["client_token"].as_str().unwrap();
    assert_eq!(c.put("auth/token/renew-self", Some(hour_token), json!({})).0, 200);
    let (status, doomed) = c.put("auth/token/create", Some(root), json!({"ttl": "10m"}));
    assert_eq!(status, 200);
    let doomed = doomed["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(c.put("auth/token/revoke", Some(root), json!({"token": doomed})).0, 204);
    let (status, orphan) = c.put(
        "auth/token/create-orphan",
        Some(root),
        json!({"ttl": "30m", "policies": ["p"]}),
    );
    assert_eq!(status, 200, "{orphan}");
    let policy = json!({"policy": "path \"kv/*\" { capabilities = [\"read\"] }"});
    assert_eq!(c.put("sys/policies/acl/p", Some(root), policy.clone()).0, 204);
    assert_eq!(c.put("sys/policies/acl/gone", Some(root), policy).0, 204);
    assert_eq!(c.get("sys/policies/acl/p", Some(root)).0, 200);
    assert_eq!(c.call("LIST", "sys/policies/acl", Some(root), None).0, 200);
    assert_eq!(c.call("DELETE", "sys/policies/acl/gone", Some(root), None).0, 204);
    let (status, wrapped) = c
        .try_call(
            "POST",
            "sys/wrapping/wrap",
            Some(root),
            &[("X-Vault-Wrap-TTL", "5m")],
            Some(json!({"a": "b"}).to_string().into_bytes()),
        )
        .unwrap();
    assert_eq!(status, 200, "{wrapped}");
    let wrapping_token = wrapped["wrap_info"]["token"].as_str().unwrap();
    assert_eq!(c.put("sys/wrapping/unwrap", Some(wrapping_token), json!({})).0, 200);
}

/// `{label values joined: value}` of a family's samples named `sample`, for the labels `keys`.
fn by_labels(families: &Value, family: &str, keys: &[&str]) -> std::collections::BTreeMap<String, f64> {
    families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family}"))
        .iter()
        .map(|s| {
            let key: Vec<&str> = keys.iter().map(|k| s[1][*k].as_str().unwrap_or("")).collect();
            (key.join(","), s[2].as_f64().unwrap_or(f64::NAN))
        })
        .collect()
}

/// Label names of a family's first sample (less the quantile of summaries).
fn label_names(families: &Value, family: &str) -> BTreeSet<String> {
    families[family]["samples"][0][1]
        .as_object()
        .map(|m| m.keys().filter(|k| *k != "quantile").cloned().collect())
        .unwrap_or_default()
}

/// Scrape Prometheus text until every family in `wanted` is there (usage gauges come with their period).
fn scrape_until(c: &Client, token: &str, wanted: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, text) = get_text(&c.base, "sys/metrics?format=prometheus", Some(token), &[]);
        assert_eq!(status, 200, "{text}");
        let families = parse_prometheus(&text);
        let missing: Vec<&&str> = wanted.iter().filter(|f| families.get(**f).is_none()).collect();
        if missing.is_empty() {
            return families;
        }
        assert!(Instant::now() < deadline, "still missing after 30 s: {missing:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn openbaos_metric_names_types_and_usage_gauges_match() {
    let telemetry =
        "telemetry {\n  prometheus_retention_time = \"1h\"\n  disable_hostname = true\n  usage_gauge_period = \"1s\"\n}\n";
    let reference = ReferenceServer::start_with(telemetry);
    let theirs = Client::new(&reference.addr);
    let (keys_ref, root_ref) = theirs.init(1, 1);
    theirs.unseal_with(&keys_ref);
    let dir = temp_dir();
    let config = write_config(dir.path(), &dir.path().join("data"), telemetry, "  tls_disable = true");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    metrics_workload(&theirs, &root_ref);
    metrics_workload(&server.client, &root);

    let expected_types: &[(&str, &str)] = &[
        ("vault_core_fetch_acl_and_token", "summary"),
        ("vault_core_unseal", "summary"),
        ("vault_core_post_unseal", "summary"),
        ("vault_token_create", "summary"),
        ("vault_token_revoke_tree", "summary"),
        ("vault_policy_set_policy", "summary"),
        ("vault_policy_list_policies", "summary"),
        ("vault_policy_delete_policy", "summary"),
        ("vault_expire_renew_token", "summary"),
        ("vault_token_create_root", "counter"),
        ("vault_barrier_estimated_encryptions", "counter"),
        ("vault_core_in_flight_requests", "gauge"),
        ("vault_core_mount_table_size", "gauge"),
        ("vault_expire_num_leases", "gauge"),
        ("vault_expire_num_irrevocable_leases", "gauge"),
        ("vault_expire_leases_by_expiration", "gauge"),
        ("vault_token_count", "gauge"),
        ("vault_token_count_by_policy", "gauge"),
        ("vault_token_count_by_auth", "gauge"),
        ("vault_token_count_by_ttl", "gauge"),
        ("vault_secret_kv_count", "gauge"),
        ("vault_core_locked_users", "gauge"),
        ("vault_seal_encrypt", "counter"),
        ("vault_seal_decrypt", "counter"),
        ("vault_seal_shamir_encrypt", "counter"),
        ("vault_seal_shamir_decrypt", "counter"),
        ("vault_seal_encrypt_time", "summary"),
        ("vault_seal_decrypt_time", "summary"),
        ("vault_seal_shamir_encrypt_time", "summary"),
        ("vault_seal_shamir_decrypt_time", "summary"),
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
    ];
    // The parser names a counter's family without `_total`.
    let family = |name: &str| name.trim_end_matches("_total").to_string();
    let wanted: Vec<String> = expected_types.iter().map(|(n, _)| family(n)).collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    // Usage gauges are collected every second: both must have collected since the workload ended.
    std::thread::sleep(Duration::from_secs(3));
    let bao = scrape_until(&theirs, &root_ref, &wanted);
    let ours = scrape_until(&server.client, &root, &wanted);
    for (name, kind) in expected_types {
        let f = family(name);
        assert_eq!(bao[&f]["type"], *kind, "bao's {f}");
        assert_eq!(ours[&f]["type"], *kind, "our {f}");
        assert_eq!(label_names(&ours, &f), label_names(&bao, &f), "labels of {f}");
    }
    // The same tokens, counted the same way: the children of root (root policy), the orphan with "p" (not the root
    // token init made: it has no lease); TTL buckets 1h (1h and 30m), the 2h period and +Inf (no TTL); every lease
    // with a TTL.
    assert_eq!(
        by_labels(&ours, "vault_token_count_by_policy", &["policy"]),
        by_labels(&bao, "vault_token_count_by_policy", &["policy"])
    );
    assert_eq!(
        by_labels(&ours, "vault_token_count_by_ttl", &["creation_ttl"]),
        by_labels(&bao, "vault_token_count_by_ttl", &["creation_ttl"])
    );
    assert_eq!(
        by_labels(&ours, "vault_token_count_by_auth", &["auth_method"]),
        by_labels(&bao, "vault_token_count_by_auth", &["auth_method"])
    );
    assert_eq!(
        by_labels(&ours, "vault_token_count", &["namespace"]),
        by_labels(&bao, "vault_token_count", &["namespace"])
    );
    // Secrets per K/V mount, nested folders included (v1: 2, v2: 3, an empty mount: 0).
    assert_eq!(
        by_labels(&ours, "vault_secret_kv_count", &["mount_point"]),
        by_labels(&bao, "vault_secret_kv_count", &["mount_point"])
    );
    assert_eq!(
        by_labels(&ours, "vault_secret_kv_count", &["mount_point"]).get("kv2/"),
        Some(&3.0)
    );
    let leases = |f: &Value| sample(f, "vault_expire_num_leases", "vault_expire_num_leases");
    assert_eq!(leases(&ours), leases(&bao));
    let total = |f: &Value| -> f64 {
        by_labels(f, "vault_expire_leases_by_expiration", &["expiring"])
            .values()
            .sum()
    };
    assert_eq!(
        total(&ours),
        total(&bao),
        "{}",
        ours["vault_expire_leases_by_expiration"]
    );
    // Go's zero time is where the token that never expires is counted.
    let zero = "0001-01-01 00:00:00 +0000 UTC";
    let zero_bucket = |f: &Value| {
        by_labels(f, "vault_expire_leases_by_expiration", &["expiring"])
            .get(zero)
            .copied()
    };
    assert_eq!((zero_bucket(&ours), zero_bucket(&bao)), (Some(1.0), Some(1.0)));
    // One Shamir encryption of the root key at init, one decryption at unseal.
    for family in ["vault_seal_shamir_encrypt", "vault_seal_shamir_decrypt"] {
        let total = format!("{family}_total");
        assert_eq!(
            (sample(&ours, family, &total), sample(&bao, family, &total)),
            (1.0, 1.0),
            "{family}"
        );
    }
    // Root tokens: the one init made and the children of root (they hold the root policy).
    assert_eq!(
        sample(&ours, "vault_token_create_root", "vault_token_create_root_total"),
        sample(&bao, "vault_token_create_root", "vault_token_create_root_total")
    );
}

#[test]
fn json_fields_are_in_gos_order() {
    let reference = ReferenceServer::start();
    let theirs = Client::new(&reference.addr);
    let (keys_ref, root_ref) = theirs.init(1, 1);
    theirs.unseal_with(&keys_ref);
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let head = regex::Regex::new(
        r#"^\{"Timestamp":"[^"]*","Gauges":\[.*\],"Points":\[\],"Counters":\[.*\],"Samples":\[.*\]\}$"#,
    )
    .unwrap();
    let gauge = regex::Regex::new(r#"\{"Name":"[^"]+","Value":[-0-9.e+]+,"Labels":\{"#).unwrap();
    let aggregate = regex::Regex::new(
        r#"\{"Name":"[^"]+","Count":\d+,"Rate":[-0-9.e+]+,"Sum":[-0-9.e+]+,"Min":[-0-9.e+]+,"Max":[-0-9.e+]+,"Mean":[-0-9.e+]+,"Stddev":[-0-9.e+]+,"Labels":\{"#,
    )
    .unwrap();
    for (c, token) in [(&theirs, &root_ref), (&server.client, &root)] {
        let body = json_with_samples(c, token);
        let (status, _, text) = get_text(&c.base, "sys/metrics", Some(token), &[]);
        assert_eq!(status, 200);
        assert!(head.is_match(&text), "{}: {text}", c.base);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let gauges = parsed["Gauges"].as_array().unwrap().len();
        let aggregates = parsed["Counters"].as_array().unwrap().len() + parsed["Samples"].as_array().unwrap().len();
        assert!(gauges > 0 && aggregates > 0, "{body}");
        assert_eq!(gauge.find_iter(&text).count(), gauges, "{text}");
        assert_eq!(aggregate.find_iter(&text).count(), aggregates, "{text}");
    }
}
