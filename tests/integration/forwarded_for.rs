//! A listener's `x_forwarded_for_*` settings (#19), side by side with `bao server` configured the same way: OpenBao's
//! refusals (status, error text, no other header), the client address taken from the chain (audit entries'
//! `remote_address`, token bound CIDRs, the request log line) and an untrusted header ignored.

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};
use crate::tools::ReferenceServer;

/// A raw GET with the given headers (repeated names are separate lines): status, Cache-Control, body.
fn get(base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let (status, cache, body) = crate::common::raw_get(base, path, token, headers, "cache-control");
    // Go's encoder ends a JSON body with a newline; ours does not: the JSON is compared.
    (status, cache, body.trim_end().to_string())
}

fn audit_stanza(path: &std::path::Path) -> String {
    format!(
        "audit \"file\" \"f\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
        path.display()
    )
}

/// Our server and bao, both with `listener` settings and a file audit device; (ours, root, bao, root, audit logs).
struct Pair {
    ours: TestServer,
    root: String,
    bao: ReferenceServer,
    bao_root: String,
    ours_log: std::path::PathBuf,
    bao_log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn pair(listener: &str, init_headers: &[(&str, &str)]) -> Pair {
    let dir = temp_dir();
    let ours_log = dir.path().join("ours-audit.log");
    let bao_log = dir.path().join("bao-audit.log");
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        &format!("log_requests_level = \"info\"\n{}", audit_stanza(&ours_log)),
        &format!("  tls_disable = true\n{listener}"),
    );
    let ours = TestServer::start_with_config(dir.path(), &config, "http", None);
    let bao = ReferenceServer::start_with_listener(&audit_stanza(&bao_log), listener);
    let hop = init_headers;
    let mut roots = Vec::new();
    for base in [ours.client.base.clone(), bao.addr.clone()] {
        let c = Client::new(&base);
        let (status, init) = c
            .try_call(
                "PUT",
                "sys/init",
                None,
                hop,
                Some(
                    json!({"secret_shares": 1, "secret_threshold": 1})
                        .to_string()
                        .into_bytes(),
                ),
            )
            .unwrap();
        assert_eq!(status, 200, "{base}: {init}");
        let key = init["keys_base64"][0].as_str().unwrap().to_string();
        let (status, _) = c
            .try_call(
                "PUT",
                "sys/unseal",
                None,
                hop,
                Some(json!({"key": key}).to_string().into_bytes()),
            )
            .unwrap();
        assert_eq!(status, 200);
        roots.push(init["root_token"].as_str().unwrap().to_string());
    }
    let bao_root = roots.pop().unwrap();
    let root = roots.pop().unwrap();
    Pair {
        ours,
        root,
        bao,
        bao_root,
        ours_log,
        bao_log,
        _dir: dir,
    }
}

/// The `remote_address` of the audited requests for `path`, in order.
fn audited_addresses(log: &std::path::Path, path: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "request" && e["request"]["path"] == path)
        .map(|e| e["request"]["remote_address"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_trusted_proxy_names_the_client_and_refusals_are_openbaos() {
    let p = pair(
        "  x_forwarded_for_authorized_addrs = \"127.0.0.0/8, ::1\"\n  x_forwarded_for_hop_skips = \"1\"",
        &[("X-Forwarded-For", "127.0.0.1, 127.0.0.1")],
    );
    let sides = [
        (p.ours.client.base.clone(), p.root.clone(), p.ours_log.clone()),
        (p.bao.addr.clone(), p.bao_root.clone(), p.bao_log.clone()),
    ];
    let mut answers: Vec<Vec<(u16, Option<String>, String)>> = Vec::new();
    for (base, root, log) in &sides {
        let mut seen = Vec::new();
        // No header: served as it came (`x_forwarded_for_reject_not_present` is off here; see the test below). One
        // entry with a hop to skip: refused, naming the header lines.
        let (status, _, _) = get(base, "sys/mounts", Some(root), &[]);
        seen.push((status, None, String::new()));
        seen.push(get(base, "sys/mounts", Some(root), &[("X-Forwarded-For", "1.1.1.1")]));
        // Two lines are one chain; the last entry is the proxy's hop, skipped: the client is 2.2.2.2.
        let chain = [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2, 3.3.3.3")];
        let (status, _, body) = get(base, "sys/policies/acl/default", Some(root), &chain);
        assert_eq!(status, 200, "{base}: {body}");
        assert_eq!(
            audited_addresses(log, "sys/policies/acl/default"),
            ["2.2.2.2"],
            "{base}"
        );
        // With the port of the proxy's connection (OpenBao keeps it).
        let ports: Vec<u64> = std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["type"] == "request" && e["request"]["path"] == "sys/policies/acl/default")
            .filter_map(|e| e["request"]["remote_port"].as_u64())
            .collect();
        assert!(ports.len() == 1 && ports[0] > 0, "{base}: {ports:?}");

        // A token bound (through its role) to the client's block works for it through the proxy, and not for
        // another client.
        let c = Client::new(base);
        let role = json!({"token_bound_cidrs": ["2.2.2.0/24"]}).to_string().into_bytes();
        let (status, _) = c
            .try_call("POST", "auth/token/roles/bound", Some(root), &chain, Some(role))
            .unwrap();
        assert_eq!(status, 204, "{base}");
        let ttl = json!({"ttl": "1h"}).to_string().into_bytes();
        let (status, bound) = c
            .try_call("POST", "auth/token/create/bound", Some(root), &chain, Some(ttl))
            .unwrap();
        assert_eq!(status, 200, "{base}: {bound}");
        let token = bound["auth"]["client_token"].as_str().unwrap();
        let (allowed, _, body) = get(base, "auth/token/lookup-self", Some(token), &chain);
        assert_eq!(allowed, 200, "{base}: {body}");
        let elsewhere = [("X-Forwarded-For", "9.9.9.9, 3.3.3.3")];
        let (denied, _, _) = get(base, "auth/token/lookup-self", Some(token), &elsewhere);
        seen.push((denied, None, String::new()));
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    let ours = &answers[0];
    assert_eq!(ours[0].0, 200);
    assert_eq!(
        ours[1].2,
        "{\"errors\":[\"malformed x-forwarded-for configuration or request, hops to skip (1) would skip before \
         earliest chain link (chain length 1)\"]}"
    );
    assert_eq!(ours[2].0, 403);

    // The request log line names the client the proxy gave, with the connection's port.
    let log = p.ours.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("request_path=/v1/sys/policies/acl/default"))
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert!(line.contains("client_address=2.2.2.2:"), "{line}");
}

#[test]
fn an_untrusted_sender_is_refused_or_its_header_ignored() {
    // Only 10.0.0.0/8 is trusted: our 127.0.0.1 is not.
    let strict = pair(
        "  x_forwarded_for_authorized_addrs = [\"10.0.0.0/8\"]\n  x_forwarded_for_reject_not_authorized = \"true\"",
        &[],
    );
    let mut answers = Vec::new();
    for (base, root) in [
        (strict.ours.client.base.clone(), strict.root.clone()),
        (strict.bao.addr.clone(), strict.bao_root.clone()),
    ] {
        let refused = get(&base, "sys/mounts", Some(&root), &[("X-Forwarded-For", "5.5.5.5")]);
        // Without the header the request is served (reject_not_present is off).
        let (status, _, _) = get(&base, "sys/mounts", Some(&root), &[]);
        answers.push((refused, status));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0].0,
        (
            400,
            None,
            "{\"errors\":[\"client address not authorized for x-forwarded-for and configured to reject connection\"]}"
                .into()
        )
    );
    assert_eq!(answers[0].1, 200);

    let lenient = pair("  x_forwarded_for_authorized_addrs = \"10.0.0.0/8\"", &[]);
    for (base, root, log) in [
        (
            lenient.ours.client.base.clone(),
            lenient.root.clone(),
            lenient.ours_log.clone(),
        ),
        (
            lenient.bao.addr.clone(),
            lenient.bao_root.clone(),
            lenient.bao_log.clone(),
        ),
    ] {
        let (status, cache, _) = get(
            &base,
            "sys/policies/acl/default",
            Some(&root),
            &[("X-Forwarded-For", "5.5.5.5")],
        );
        assert_eq!((status, cache.as_deref()), (200, Some("no-store")), "{base}");
        assert_eq!(
            audited_addresses(&log, "sys/policies/acl/default"),
            ["127.0.0.1"],
            "{base}"
        );
    }
}

#[test]
fn bad_settings_are_refused_at_start() {
    for (setting, expected) in [
        (
            "x_forwarded_for_hop_skips = -1",
            "x_forwarded_for_hop_skips cannot be negative but set to -1",
        ),
        (
            "x_forwarded_for_authorized_addrs = \"not-an-address\"",
            "error parsing x_forwarded_for_authorized_addrs",
        ),
    ] {
        let dir = temp_dir();
        let config = write_config(
            dir.path(),
            &dir.path().join("data"),
            "",
            &format!("  tls_disable = true\n  {setting}"),
        );
        let err = match TestServer::try_start(dir.path(), &config, "http", None) {
            Ok(_) => panic!("{setting} was accepted"),
            Err(e) => e,
        };
        assert!(err.contains(expected), "{setting}: {err}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A second listener that requires the header (the first, plain one lets the test servers' readiness probe in).
fn strict_listener(port: u16) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n  \
         x_forwarded_for_authorized_addrs = \"127.0.0.1\"\n  x_forwarded_for_reject_not_present = true\n}}\n"
    )
}

#[test]
fn a_request_without_the_header_is_refused_where_it_is_required() {
    let dir = temp_dir();
    let (ours_port, bao_port) = (free_port(), free_port());
    let config = dir.path().join("vault.hcl");
    std::fs::write(
        &config,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\n{}{}",
            strict_listener(ours_port),
            crate::common::storage_stanza(&dir.path().join("data"))
        ),
    )
    .unwrap();
    let ours = TestServer::start_with_config(dir.path(), &config, "http", None);
    let _bao = ReferenceServer::start_with(&strict_listener(bao_port));
    let mut answers = Vec::new();
    for port in [ours_port, bao_port] {
        let base = format!("http://127.0.0.1:{port}");
        let missing = get(&base, "sys/seal-status", None, &[]);
        let (status, _, body) = get(&base, "sys/seal-status", None, &[("X-Forwarded-For", "4.4.4.4")]);
        assert_eq!(status, 200, "{base}: {body}");
        answers.push(missing);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0],
        (
            400,
            None,
            "{\"errors\":[\"missing x-forwarded-for header and configured to reject when not present\"]}".into()
        )
    );
    // The plain listener of the same server is not affected.
    assert_eq!(get(&ours.client.base, "sys/seal-status", None, &[]).0, 200);
}
