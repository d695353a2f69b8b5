//! The system endpoints of issue #19 that are not metrics, quotas or OpenAPI: `sys/tools/{random,hash}` (the same
//! code as transit's), `sys/host-info`, `sys/in-flight-req`, `sys/config/state/sanitized`, the server log (JSON
//! format, request lines, `sys/monitor` and `bao monitor`) and a full run at trace level whose log must hold no
//! secret. Their shapes are compared with OpenBao in `scenarios/tools.json` and `scenarios/observability.json`.

use base64::Engine;
use serde_json::json;
use sha2::Digest;

use crate::common::{temp_dir, TestServer};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[test]
fn tools_random_gives_fresh_bytes_of_the_asked_length_in_both_formats() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let (status, body) = c.put("sys/tools/random", Some(&root), json!({}));
    assert_eq!(status, 200, "{body}");
    let first = b64_decode(body["data"]["random_bytes"].as_str().unwrap());
    assert_eq!(first.len(), 32);
    let (_, body) = c.put("sys/tools/random", Some(&root), json!({}));
    let second = b64_decode(body["data"]["random_bytes"].as_str().unwrap());
    assert_ne!(first, second, "two draws of 32 bytes are equal");
    for (path, body, len) in [
        ("sys/tools/random/16", json!({"format": "hex"}), 16),
        ("sys/tools/random/all/100", json!({"format": "hex"}), 100),
        ("sys/tools/random/seal", json!({"bytes": 7, "format": "hex"}), 7),
        ("sys/tools/random/platform/131072", json!({"format": "hex"}), 131072),
    ] {
        let (status, answer) = c.put(path, Some(&root), body);
        assert_eq!(status, 200, "{path}: {answer}");
        let text = answer["data"]["random_bytes"].as_str().unwrap();
        assert_eq!(hex::decode(text).unwrap().len(), len, "{path}");
    }
    let (status, body) = c.put("sys/tools/random/platform/131073", Some(&root), json!({}));
    assert_eq!(
        (status, body["errors"][0].as_str()),
        (400, Some("'bytes' should be less than 131072"))
    );
}

#[test]
fn tools_hash_matches_the_digests_and_transits_hash() {
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    let input = b"the quick brown fox";
    let expected: Vec<(&str, Vec<u8>)> = vec![
        ("sha2-224", sha2::Sha224::digest(input).to_vec()),
        ("sha2-256", sha2::Sha256::digest(input).to_vec()),
        ("sha2-384", sha2::Sha384::digest(input).to_vec()),
        ("sha2-512", sha2::Sha512::digest(input).to_vec()),
        ("sha3-224", sha3::Sha3_224::digest(input).to_vec()),
        ("sha3-256", sha3::Sha3_256::digest(input).to_vec()),
        ("sha3-384", sha3::Sha3_384::digest(input).to_vec()),
        ("sha3-512", sha3::Sha3_512::digest(input).to_vec()),
    ];
    let (status, _) = c.put("sys/mounts/transit", Some(&root), json!({"type": "transit"}));
    assert_eq!(status, 204);
    for (algorithm, digest) in &expected {
        let (status, body) = c.put(
            &format!("sys/tools/hash/{algorithm}"),
            Some(&root),
            json!({"input": b64(input)}),
        );
        assert_eq!(status, 200, "{algorithm}: {body}");
        assert_eq!(body["data"]["sum"], json!(hex::encode(digest)), "{algorithm}");
        let (_, body) = c.put(
            "sys/tools/hash",
            Some(&root),
            json!({"input": b64(input), "algorithm": algorithm, "format": "base64"}),
        );
        assert_eq!(body["data"]["sum"], json!(b64(digest)), "{algorithm} base64");
        let (_, transit) = c.put(
            &format!("transit/hash/{algorithm}"),
            Some(&root),
            json!({"input": b64(input)}),
        );
        assert_eq!(
            transit["data"]["sum"],
            json!(hex::encode(digest)),
            "transit {algorithm}"
        );
    }
    // A default-policy token may hash (OpenBao's default policy) but not draw random bytes.
    let (_, created) = c.put("auth/token/create", Some(&root), json!({"policies": ["default"]}));
    let user = created["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, _) = c.put("sys/tools/hash", Some(&user), json!({"input": b64(input)}));
    assert_eq!(status, 200);
    let (status, _) = c.put("sys/tools/random", Some(&user), json!({}));
    assert_eq!(status, 403);
}
