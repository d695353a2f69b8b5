//! CORS headers, side by side with OpenBao: once `sys/config/cors` enables an origin, preflights from it are answered
//! with the same headers, answers to it name it back, and other origins are refused alike; settings survive a
//! restart.

use std::collections::BTreeMap;

use serde_json::json;

use crate::common::{temp_dir, Client, TestServer};
use crate::tools::ReferenceServer;

/// (status, the CORS-related headers) of one raw request.
fn call(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, BTreeMap<String, String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}/v1/{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = agent.run(request.body(()).unwrap()).unwrap();
    let picked = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-") || name.as_str() == "vary")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
        .collect();
    (response.status().as_u16(), picked)
}

#[test]
fn cors_headers_match_openbao() {
    let reference = ReferenceServer::start();
    let rc = Client::new(&reference.addr);
    let (keys, ref_root) = rc.init(1, 1);
    rc.unseal_with(&keys);
    let dir = temp_dir();
    let (ours, root, our_keys) = TestServer::start_unsealed(dir.path());
    let both = [
        (reference.addr.clone(), ref_root),
        (ours.client.base.clone(), root.clone()),
    ];

    let mut answers: Vec<Vec<(u16, BTreeMap<String, String>)>> = Vec::new();
    for (base, token) in &both {
        let c = Client::new(base);
        let mut seen = Vec::new();
        // Disabled: no CORS headers at all.
        seen.push(call(base, "GET", "sys/seal-status", &[("Origin", "https://a.example")]));
        assert_eq!(
            c.put(
                "sys/config/cors",
                Some(token),
                json!({"allowed_origins": ["https://a.example"], "allowed_headers": ["X-Custom"], "allow_credentials": true}),
            )
            .0,
            204
        );
        seen.push(call(
            base,
            "OPTIONS",
            "secret/foo",
            &[
                ("Origin", "https://a.example"),
                ("Access-Control-Request-Method", "PUT"),
            ],
        ));
        seen.push(call(base, "OPTIONS", "secret/foo", &[("Origin", "https://a.example")]));
        seen.push(call(
            base,
            "OPTIONS",
            "secret/foo",
            &[
                ("Origin", "https://b.example"),
                ("Access-Control-Request-Method", "PUT"),
            ],
        ));
        seen.push(call(base, "GET", "sys/seal-status", &[("Origin", "https://a.example")]));
        seen.push(call(base, "GET", "sys/seal-status", &[("Origin", "https://b.example")]));
        seen.push(call(base, "GET", "sys/seal-status", &[]));
        answers.push(seen);
    }
    assert_eq!(answers[1], answers[0], "ours (right) vs OpenBao (left)");
    assert_eq!(answers[0][1].0, 200, "the preflight is answered");
    assert_eq!(answers[0][3].0, 403, "another origin is refused");

    // The settings survive a restart of ours.
    ours.kill9();
    let ours = TestServer::start(dir.path());
    ours.client.unseal_with(&our_keys);
    let (status, headers) = call(
        &ours.client.base,
        "GET",
        "sys/seal-status",
        &[("Origin", "https://a.example")],
    );
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], "https://a.example");
}
