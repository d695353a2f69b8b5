//! The real OpenBao CLI's secrets-engine commands against our server, step by step beside a reference
//! `bao server`: `bao secrets enable/list/tune/move/disable` and `bao kv put/get/patch/list/delete/undelete/destroy/
//! metadata get|put|patch|delete` (path and `-mount` forms), a wrapped `kv get` unwrapped with `bao unwrap`, and
//! the errors. Each step must exit alike and print the same text once ids, times and addresses are masked.

use serde_json::Value;

use crate::common::{temp_dir, Client, TestServer};
use crate::tools::{run_bao, run_flow_on_both, ReferenceServer};

fn is_uuid(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_accessor(word: &str) -> bool {
    let Some((kind, suffix)) = word.rsplit_once('_') else {
        return false;
    };
    !kind.is_empty() && suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_time(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
}

/// Output lines with the values that differ between any two servers masked: ids, accessors, tokens, times, the
/// server's address and the built-in version; the identity store's lines (the reference has one) dropped.
fn mask(text: &str, addr: &str) -> Vec<String> {
    text.replace(addr, "<addr>")
        .lines()
        .filter(|l| !l.trim_start().starts_with("identity/"))
        // `bao secrets move` prints this only if the move is still running at its first status poll: OpenBao's
        // moves run in the background (timing-dependent), ours completes before answering.
        .filter(|l| !l.starts_with("Waiting for terminal status in migration"))
        .map(|line| {
            let first = line.split_whitespace().next().unwrap_or_default();
            let rest = line.trim_start()[first.len()..].trim();
            if first.contains("time") || first.starts_with("wrapping_token") || first.starts_with("wrapping_accessor") {
                // A time, a token or an accessor, or "n/a": keep whether there is one.
                return if rest == "n/a" || rest.is_empty() {
                    format!("{first} {rest}")
                } else {
                    format!("{first} <value>")
                };
            }
            line.split_whitespace()
                .map(|w| {
                    let bare = w.trim_matches(|c: char| c == '"' || c == ',' || c == '.');
                    if is_uuid(bare) {
                        "<uuid>".to_string()
                    } else if is_accessor(bare) {
                        "<accessor>".to_string()
                    } else if is_time(bare) {
                        "<time>".to_string()
                    } else if bare.starts_with("s.") && bare.len() > 20 {
                        "<token>".to_string()
                    } else if bare.contains("+builtin") {
                        "<builtin>".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Sorted keys of a JSON document (and of its `data` member), for output shapes.
fn shape(stdout: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(stdout) else {
        return vec![format!("not json: {}", stdout.trim())];
    };
    let mut keys = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, inner) in obj {
            if k == "identity/" {
                continue;
            }
            keys.push(k.clone());
            if let Some(inner) = inner.as_object() {
                keys.extend(inner.keys().filter(|k| *k != "identity/").map(|ik| format!("{k}.{ik}")));
            }
        }
    }
    keys.sort();
    keys
}

type Step = (String, i32, Vec<String>);

/// The secrets-engine flow against `addr`; returns (step, exit code, masked output) per step.
fn kv_flow(addr: &str) -> Vec<Step> {
    let c = Client::new(addr);
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    let r = Some(root.as_str());
    let mut steps: Vec<Step> = Vec::new();
    let mut text = |name: &str, args: &[&str]| {
        let out = run_bao(addr, r, args);
        assert!(!out.2.contains("panic"), "{name}: {}", out.2);
        let mut lines = mask(&out.1, addr);
        lines.extend(mask(&out.2, addr));
        steps.push((name.to_string(), out.0, lines));
        out
    };

    text(
        "enable kv-v2",
        &["secrets", "enable", "-path=secret", "-version=2", "kv"],
    );
    text(
        "enable kv",
        &["secrets", "enable", "-path=kv1", "-description=first", "kv"],
    );
    text("enable at a used path", &["secrets", "enable", "-path=secret", "kv"]);
    text("secrets list", &["secrets", "list"]);
    text("secrets list detailed", &["secrets", "list", "-detailed"]);
    // A fresh kv-v2 mount of OpenBao upgrades itself in the background for a moment; on a loaded machine the first
    // write can land in that window. Wait until the mount answers, on both servers alike.
    for _ in 0..100 {
        if c.get("secret/config", r).0 == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    text("kv put", &["kv", "put", "secret/foo", "a=b", "c=d"]);
    text("kv put -mount", &["kv", "put", "-mount=secret", "bar", "x=1"]);
    text("kv get", &["kv", "get", "secret/foo"]);
    text("kv get -field", &["kv", "get", "-field=a", "secret/foo"]);
    text("kv patch", &["kv", "patch", "secret/foo", "c=e"]);
    text(
        "kv patch -method=rw",
        &["kv", "patch", "-method=rw", "secret/foo", "d=f"],
    );
    text("kv get -version", &["kv", "get", "-version=1", "secret/foo"]);
    text("kv list", &["kv", "list", "secret"]);
    text("kv list -mount", &["kv", "list", "-mount=secret"]);
    text("kv metadata get", &["kv", "metadata", "get", "secret/foo"]);
    text(
        "kv metadata put",
        &[
            "kv",
            "metadata",
            "put",
            "-max-versions=5",
            "-custom-metadata=owner=me",
            "secret/foo",
        ],
    );
    text(
        "kv metadata patch",
        &["kv", "metadata", "patch", "-custom-metadata=team=x", "secret/foo"],
    );
    text(
        "kv metadata get -mount",
        &["kv", "metadata", "get", "-mount=secret", "foo"],
    );
    text("kv delete", &["kv", "delete", "secret/foo"]);
    text("kv get deleted", &["kv", "get", "secret/foo"]);
    text("kv undelete", &["kv", "undelete", "-versions=3", "secret/foo"]);
    text("kv get undeleted", &["kv", "get", "secret/foo"]);
    text("kv destroy", &["kv", "destroy", "-versions=1", "secret/foo"]);
    text("kv get destroyed", &["kv", "get", "-version=1", "secret/foo"]);
    text("kv delete -versions", &["kv", "delete", "-versions=2", "secret/foo"]);
    text("kv undelete without versions", &["kv", "undelete", "secret/foo"]);
    text("kv metadata delete", &["kv", "metadata", "delete", "secret/foo"]);
    text("kv get after metadata delete", &["kv", "get", "secret/foo"]);
    text("kv get on no mount", &["kv", "get", "nomount/foo"]);
    text("kv put without data", &["kv", "put", "secret/empty"]);

    text("kv put v1", &["kv", "put", "kv1/foo", "a=b"]);
    text("kv put v1 -mount", &["kv", "put", "-mount=kv1", "dir/foo2", "x=y"]);
    text("kv get v1", &["kv", "get", "kv1/foo"]);
    text("kv list v1", &["kv", "list", "kv1"]);
    text("kv delete v1", &["kv", "delete", "kv1/foo"]);
    text("kv get v1 deleted", &["kv", "get", "kv1/foo"]);
    text(
        "secrets tune",
        &["secrets", "tune", "-default-lease-ttl=1h", "-description=tuned", "kv1"],
    );
    text("read tune", &["read", "sys/mounts/kv1/tune"]);
    text(
        "secrets tune upgrade",
        &["secrets", "tune", "-options=version=2", "kv1"],
    );
    text("kv get upgraded", &["kv", "get", "kv1/dir/foo2"]);
    text("secrets move", &["secrets", "move", "kv1", "kv1b"]);
    text("kv get moved", &["kv", "get", "-mount=kv1b", "dir/foo2"]);
    text("secrets disable", &["secrets", "disable", "kv1b"]);
    text("kv get disabled", &["kv", "get", "kv1b/dir/foo2"]);
    text("secrets disable sys", &["secrets", "disable", "sys"]);
    text("secrets move sys", &["secrets", "move", "sys", "x"]);

    // JSON shapes.
    let mut json = |name: &str, args: &[&str]| {
        let out = run_bao(addr, r, args);
        steps.push((name.to_string(), out.0, shape(&out.1)));
        out
    };
    json("secrets list json", &["secrets", "list", "-format=json"]);
    json("kv get json", &["kv", "get", "-format=json", "-mount=secret", "bar"]);
    json(
        "kv metadata get json",
        &["kv", "metadata", "get", "-format=json", "secret/bar"],
    );
    let out = run_bao(addr, r, &["kv", "list", "-format=json", "secret/"]);
    steps.push(("kv list json".into(), out.0, vec![out.1.split_whitespace().collect()]));

    // A wrapped read, unwrapped.
    let out = run_bao(addr, r, &["kv", "get", "-wrap-ttl=5m", "-format=json", "secret/bar"]);
    let token = serde_json::from_str::<Value>(&out.1)
        .ok()
        .and_then(|v| v["wrap_info"]["token"].as_str().map(str::to_string))
        .unwrap_or_default();
    steps.push(("kv get wrapped".into(), out.0, shape(&out.1)));
    let out = run_bao(addr, r, &["unwrap", "-format=json", &token]);
    let data = serde_json::from_str::<Value>(&out.1)
        .map(|v| v["data"]["data"].to_string())
        .unwrap_or_default();
    steps.push(("unwrap".into(), out.0, vec![data]));
    steps
}

#[test]
fn bao_secrets_and_kv_commands_match_reference() {
    let expected = run_flow_on_both(kv_flow);
    // Sanity: the flow did what it says on the reference.
    let step = |name: &str| expected.iter().find(|s| s.0 == name).unwrap();
    assert_eq!(step("kv put").1, 0);
    assert_eq!(step("kv get -field").2, vec!["b".to_string()]);
    assert_eq!(step("kv get after metadata delete").1, 2);
    assert_eq!(step("secrets disable sys").1, 2);
    assert_eq!(step("unwrap").2, vec!["{\"x\":\"1\"}".to_string()]);
}

/// `bao kv get` with a token that may only read `secret/data/*` (it first asks `sys/internal/ui/mounts/secret/...`,
/// which filters by the ACL instead of refusing).
fn limited_token_kv_get(addr: &str) -> (i32, String) {
    let c = crate::common::Client::new(addr);
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    let r = Some(root.as_str());
    if c.get("sys/mounts/secret", r).0 != 200 {
        assert_eq!(
            c.put(
                "sys/mounts/secret",
                r,
                serde_json::json!({"type": "kv", "options": {"version": "2"}})
            )
            .0,
            204
        );
    }
    // A fresh kv-v2 mount may say it is upgrading for a moment on the reference.
    for _ in 0..50 {
        if c.put("secret/data/app", r, serde_json::json!({"data": {"password": "p4ss"}}))
            .0
            == 200
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let policy = "path \"secret/data/*\" {\n  capabilities = [\"read\"]\n}\n";
    assert_eq!(
        c.put("sys/policy/kv-reader", r, serde_json::json!({ "policy": policy }))
            .0,
        204
    );
    let (_, t) = c.put("auth/token/create", r, serde_json::json!({"policies": ["kv-reader"]}));
    let token = t["auth"]["client_token"].as_str().unwrap().to_string();
    let out = run_bao(addr, Some(&token), &["kv", "get", "-field=password", "secret/app"]);
    (out.0, out.1.trim().to_string())
}

#[test]
fn bao_kv_get_with_a_limited_token_matches_reference() {
    let reference = ReferenceServer::start();
    let dir = temp_dir();
    let ours = TestServer::start(dir.path());
    let expected = limited_token_kv_get(&reference.addr);
    assert_eq!(
        expected,
        (0, "p4ss".to_string()),
        "the reference lets a read-only token use bao kv get"
    );
    assert_eq!(limited_token_kv_get(&format!("http://{}", ours.addr)), expected);
}
