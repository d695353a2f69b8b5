//! The HTTP conventions every later feature relies on: tokens, methods, bodies, error shapes and statuses.

use serde_json::json;

use crate::common::{temp_dir, write_config, TestServer};

#[test]
fn errors_tokens_and_methods() {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        "max_request_size = 4096",
        "  tls_disable = true",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let c = &server.client;
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);

    let denied = json!({"errors": ["permission denied"]});
    assert_eq!(c.get("foo/bar", None), (403, denied.clone()));
    assert_eq!(c.get("foo/bar", Some("s.not-a-token")), (403, denied.clone()));
    assert_eq!(
        c.get("foo/bar", Some(&root)),
        (
            404,
            json!({"errors": ["no handler for route \"foo/bar\". route entry not found."]})
        )
    );
    assert_eq!(
        c.get("", Some(&root)),
        (
            404,
            json!({"errors": ["no handler for route \"\". route entry not found."]})
        )
    );
    assert_eq!(c.call("LIST", "foo/", Some(&root), None).0, 404);
    assert_eq!(c.get("foo/?list=true", Some(&root)).0, 404);

    // Authorization: Bearer is accepted like X-Vault-Token.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .get(format!("{}/v1/sys/seal", c.base))
        .header("Authorization", format!("Bearer {root}"))
        .call()
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        405,
        "authenticated, then GET is not a sys/seal operation"
    );
    let resp = agent
        .get(format!("{}/v1/sys/seal", c.base))
        .header("Authorization", "Bearer nope")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Bodies: malformed JSON, a non-object, too large.
    let (status, body) = c.call("POST", "foo/bar", Some(&root), Some(b"{bad".to_vec()));
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("failed to decode JSON input: "),
        "{body}"
    );
    assert_eq!(
        c.call("POST", "foo/bar", Some(&root), Some(b"[1,2]".to_vec())),
        (
            400,
            json!({"errors": ["failed to decode JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"]})
        )
    );
    let big = format!("{{\"v\":\"{}\"}}", "a".repeat(5000));
    assert_eq!(
        c.call("POST", "foo/bar", Some(&root), Some(big.into_bytes())),
        (413, json!({"errors": ["http: request body too large"]}))
    );

    // Unsupported operations and paths outside /v1/.
    assert_eq!(
        c.call("PATCH", "sys/seal-status", None, None),
        (405, json!({"errors": []}))
    );
    assert_eq!(
        c.call("DELETE", "sys/seal", Some(&root), None),
        (405, json!({"errors": []}))
    );
    assert_eq!(c.call("TRACE", "foo", Some(&root), None).0, 405);
    let resp = agent.get(format!("{}/v2/sys/health", c.base)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.headers().get("content-type").unwrap(), "application/json");

    // A wrap request cannot be honoured yet: refuse it rather than answer unwrapped.
    let resp = agent
        .post(format!("{}/v1/sys/seal", c.base))
        .header("X-Vault-Token", &root)
        .header("X-Vault-Wrap-TTL", "nonsense")
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
