//! The transit secrets engine over HTTP: interoperability with OpenBao 2.7.2 (a key backed up on one server
//! restores on the other, and what one encrypted, signed or HMAC'd the other decrypts and verifies, both ways),
//! keys and ciphertexts surviving a restart, and rotation racing encryption.

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};
use crate::kv::{enable, expect, send};
use crate::tools::ReferenceServer;

const PLAINTEXT: &str = "aGVsbG8gdHJhbnNpdA=="; // "hello transit"

/// What one server made with a key, for the other to check.
struct Artifacts {
    /// (ciphertext, expected base64 plaintext)
    ciphertexts: Vec<(String, String)>,
    /// (request body for verify, description)
    signatures: Vec<(Value, String)>,
    hmacs: Vec<String>,
}

fn make_artifacts(c: &Client, token: &str, key: &str, key_type: &str, versions: &[i64]) -> Artifacts {
    let mut out = Artifacts {
        ciphertexts: vec![],
        signatures: vec![],
        hmacs: vec![],
    };
    let encrypts = matches!(key_type, "aes256-gcm96" | "chacha20-poly1305" | "rsa-2048");
    if encrypts {
        for &version in versions {
            let r = expect(
                c,
                "POST",
                &format!("transit/encrypt/{key}"),
                token,
                Some(json!({"plaintext": PLAINTEXT, "key_version": version})),
                200,
            );
            let ct = r["data"]["ciphertext"].as_str().unwrap().to_string();
            assert!(ct.starts_with(&format!("vault:v{version}:")), "{ct}");
            out.ciphertexts.push((ct, PLAINTEXT.into()));
        }
        if key_type != "rsa-2048" {
            let r = expect(
                c,
                "POST",
                &format!("transit/encrypt/{key}"),
                token,
                Some(json!({"plaintext": "YWFk", "associated_data": "Y3R4"})),
                200,
            );
            out.ciphertexts.push((
                r["data"]["ciphertext"].as_str().unwrap().to_string(),
                "YWFk|Y3R4".into(),
            ));
        }
    }
    let signs = matches!(key_type, "ed25519" | "ecdsa-p256" | "rsa-2048");
    if signs {
        let mut variants: Vec<Value> = vec![json!({})];
        match key_type {
            "ecdsa-p256" => {
                variants.push(json!({"marshaling_algorithm": "jws"}));
                variants.push(json!({"hash_algorithm": "sha2-512"}));
            }
            "rsa-2048" => {
                variants.push(json!({"signature_algorithm": "pkcs1v15"}));
                variants.push(json!({"signature_algorithm": "pss", "hash_algorithm": "sha2-384"}));
                variants.push(json!({"signature_algorithm": "pss", "salt_length": "hash"}));
            }
            _ => {}
        }
        for params in variants {
            let mut body = params.clone();
            body["input"] = json!(PLAINTEXT);
            let r = expect(
                c,
                "POST",
                &format!("transit/sign/{key}"),
                token,
                Some(body.clone()),
                200,
            );
            let sig = r["data"]["signature"].as_str().unwrap().to_string();
            body["signature"] = json!(sig);
            out.signatures.push((body, format!("{params}")));
        }
    }
    let r = expect(
        c,
        "POST",
        &format!("transit/hmac/{key}"),
        token,
        Some(json!({"input": PLAINTEXT})),
        200,
    );
    out.hmacs.push(r["data"]["hmac"].as_str().unwrap().to_string());
    out
}

fn check_artifacts(c: &Client, token: &str, key: &str, made: &Artifacts, who: &str) {
    for (ct, expected) in &made.ciphertexts {
        let mut body = json!({"ciphertext": ct});
        let expected = match expected.split_once('|') {
            Some((plain, aad)) => {
                body["associated_data"] = json!(aad);
                plain.to_string()
            }
            None => expected.clone(),
        };
        let r = expect(c, "POST", &format!("transit/decrypt/{key}"), token, Some(body), 200);
        assert_eq!(r["data"]["plaintext"], json!(expected), "{who} decrypting {ct}");
    }
    for (body, what) in &made.signatures {
        let r = expect(
            c,
            "POST",
            &format!("transit/verify/{key}"),
            token,
            Some(body.clone()),
            200,
        );
        assert_eq!(r["data"]["valid"], json!(true), "{who} verifying a signature {what}");
        // A signature over other input must not verify.
        let mut other = body.clone();
        other["input"] = json!("b3RoZXI=");
        let r = expect(c, "POST", &format!("transit/verify/{key}"), token, Some(other), 200);
        assert_eq!(
            r["data"]["valid"],
            json!(false),
            "{who} verifying a signature {what} over other input"
        );
    }
    for hmac in &made.hmacs {
        let r = expect(
            c,
            "POST",
            &format!("transit/verify/{key}"),
            token,
            Some(json!({"input": PLAINTEXT, "hmac": hmac})),
            200,
        );
        assert_eq!(r["data"]["valid"], json!(true), "{who} verifying an HMAC");
    }
}

fn create_rotate_and_back_up(c: &Client, token: &str, key: &str, key_type: &str) -> (Artifacts, String) {
    expect(
        c,
        "POST",
        &format!("transit/keys/{key}"),
        token,
        Some(json!({"type": key_type, "exportable": true, "allow_plaintext_backup": true})),
        200,
    );
    expect(c, "POST", &format!("transit/keys/{key}/rotate"), token, None, 200);
    let made = make_artifacts(c, token, key, key_type, &[1, 2]);
    let r = expect(c, "GET", &format!("transit/backup/{key}"), token, None, 200);
    (made, r["data"]["backup"].as_str().unwrap().to_string())
}

fn restore(c: &Client, token: &str, key: &str, backup: &str) {
    expect(
        c,
        "POST",
        &format!("transit/restore/{key}"),
        token,
        Some(json!({"backup": backup})),
        204,
    );
}

#[test]
fn transit_keys_move_between_openbao_and_us_both_ways() {
    let reference = ReferenceServer::start();
    let bao = Client::new(&reference.addr);
    let (bao_keys, bao_root) = bao.init(1, 1);
    bao.unseal_with(&bao_keys);
    enable(&bao, &bao_root, "transit", json!({"type": "transit"}));

    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let ours = &server.client;
    enable(ours, &root, "transit", json!({"type": "transit"}));

    for key_type in ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "rsa-2048"] {
        // OpenBao -> us.
        let key = format!("from-bao-{key_type}");
        let (made, backup) = create_rotate_and_back_up(&bao, &bao_root, &key, key_type);
        restore(ours, &root, &key, &backup);
        check_artifacts(ours, &root, &key, &made, "ours");
        let read = expect(ours, "GET", &format!("transit/keys/{key}"), &root, None, 200);
        let reference_read = expect(&bao, "GET", &format!("transit/keys/{key}"), &bao_root, None, 200);
        assert_eq!(read["data"]["latest_version"], json!(2));
        assert_eq!(read["data"]["type"], json!(key_type));
        assert_eq!(
            read["data"]["keys"]["1"]["public_key"], reference_read["data"]["keys"]["1"]["public_key"],
            "{key_type}: the restored key shows the same public key"
        );

        // Exports of the same key read alike, in every format.
        let asymmetric = !matches!(key_type, "aes256-gcm96" | "chacha20-poly1305");
        let mut exports = vec!["hmac-key"];
        exports.push(if asymmetric { "signing-key" } else { "encryption-key" });
        if asymmetric {
            exports.push("public-key");
        }
        if key_type == "rsa-2048" {
            exports.push("encryption-key");
        }
        for export in exports {
            for format in ["", "raw", "der", "pem"] {
                let path = format!("transit/export/{export}/{key}?format={format}");
                let (theirs_status, theirs) = send(&bao, "GET", &path, &bao_root, None);
                let (mine_status, mine) = send(ours, "GET", &path, &root, None);
                if theirs_status == 200 {
                    assert_eq!(mine_status, 200, "{path}: {mine}");
                    assert_eq!(mine["data"]["keys"], theirs["data"]["keys"], "{path}");
                } else {
                    assert_ne!(
                        mine_status, 200,
                        "{path}: OpenBao refused with {theirs}, we answered {mine}"
                    );
                }
            }
        }

        // Us -> OpenBao.
        let key = format!("from-ours-{key_type}");
        let (made, backup) = create_rotate_and_back_up(ours, &root, &key, key_type);
        restore(&bao, &bao_root, &key, &backup);
        check_artifacts(&bao, &bao_root, &key, &made, "OpenBao");
        // And what OpenBao makes with our key, we read back.
        let made_there = make_artifacts(&bao, &bao_root, &key, key_type, &[1, 2]);
        check_artifacts(ours, &root, &key, &made_there, "ours (OpenBao's output with our key)");
    }
}

#[test]
fn transit_keys_and_ciphertexts_survive_a_restart() {
    let dir = temp_dir();
    let (server, root, unseal_keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root, "transit", json!({"type": "transit"}));
    expect(c, "POST", "transit/keys/k", &root, Some(json!({})), 200);
    expect(c, "POST", "transit/keys/k/rotate", &root, None, 200);
    expect(
        c,
        "POST",
        "transit/keys/s",
        &root,
        Some(json!({"type": "ed25519"})),
        200,
    );
    let ct = expect(
        c,
        "POST",
        "transit/encrypt/k",
        &root,
        Some(json!({"plaintext": PLAINTEXT})),
        200,
    )["data"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = expect(
        c,
        "POST",
        "transit/sign/s",
        &root,
        Some(json!({"input": PLAINTEXT})),
        200,
    )["data"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    // Upsert through encrypt creates a key too.
    let upserted = expect(
        c,
        "POST",
        "transit/encrypt/auto",
        &root,
        Some(json!({"plaintext": PLAINTEXT})),
        200,
    )["data"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill9();

    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&unseal_keys);
    let r = expect(
        c,
        "POST",
        "transit/decrypt/k",
        &root,
        Some(json!({"ciphertext": ct})),
        200,
    );
    assert_eq!(r["data"]["plaintext"], json!(PLAINTEXT));
    let r = expect(
        c,
        "POST",
        "transit/decrypt/auto",
        &root,
        Some(json!({"ciphertext": upserted})),
        200,
    );
    assert_eq!(r["data"]["plaintext"], json!(PLAINTEXT));
    let r = expect(
        c,
        "POST",
        "transit/verify/s",
        &root,
        Some(json!({"input": PLAINTEXT, "signature": sig})),
        200,
    );
    assert_eq!(r["data"]["valid"], json!(true));
    let r = expect(c, "GET", "transit/keys/k", &root, None, 200);
    assert_eq!(r["data"]["latest_version"], json!(2));
    let (status, list) = send(c, "LIST", "transit/keys", &root, None);
    assert_eq!(status, 200);
    assert_eq!(list["data"]["keys"], json!(["auto", "k", "s"]));
}

#[test]
fn transit_rotation_racing_encryption_never_outruns_storage() {
    let dir = temp_dir();
    let (server, root, unseal_keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable(c, &root, "transit", json!({"type": "transit"}));
    expect(c, "POST", "transit/keys/race", &root, Some(json!({})), 200);
    let base = format!("http://{}", server.addr);
    let encryptor = {
        let (base, root) = (base.clone(), root.clone());
        std::thread::spawn(move || {
            let c = Client::new(&base);
            let mut out = Vec::new();
            for _ in 0..60 {
                let r = expect(
                    &c,
                    "POST",
                    "transit/encrypt/race",
                    &root,
                    Some(json!({"plaintext": PLAINTEXT})),
                    200,
                );
                out.push(r["data"]["ciphertext"].as_str().unwrap().to_string());
            }
            out
        })
    };
    for _ in 0..20 {
        expect(c, "POST", "transit/keys/race/rotate", &root, None, 200);
    }
    let ciphertexts = encryptor.join().unwrap();
    server.kill9();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    c.unseal_with(&unseal_keys);
    let r = expect(c, "GET", "transit/keys/race", &root, None, 200);
    assert_eq!(r["data"]["latest_version"], json!(21));
    for ct in ciphertexts {
        let r = expect(
            c,
            "POST",
            "transit/decrypt/race",
            &root,
            Some(json!({"ciphertext": ct})),
            200,
        );
        assert_eq!(r["data"]["plaintext"], json!(PLAINTEXT));
    }
}

/// Wrap `key` for a server's wrapping key, as OpenBao's BYOK expects: RSA-OAEP(SHA-256) of an ephemeral AES-256 key,
/// then the key wrapped with AES-KWP under it.
fn wrap_for_import(c: &Client, token: &str, key: &[u8]) -> String {
    use aes_gcm::aead::KeyInit;
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    let pem = expect(c, "GET", "transit/wrapping_key", token, None, 200)["data"]["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let public = rsa::PublicKey::from_public_key_pem(&pem).unwrap();
    let mut ephemeral = [0u8; 32];
    rand::fill(&mut ephemeral);
    let wrapped_ephemeral = public
        .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &ephemeral)
        .unwrap();
    let kwp = aes_kw::KwpAes256::new_from_slice(&ephemeral).unwrap();
    let mut buf = vec![0u8; key.len() + 16];
    let wrapped_key = kwp.wrap_key(key, &mut buf).unwrap().to_vec();
    base64::engine::general_purpose::STANDARD.encode([wrapped_ephemeral, wrapped_key].concat())
}

#[test]
fn transit_imported_keys_match_openbaos() {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let reference = ReferenceServer::start();
    let bao = Client::new(&reference.addr);
    let (bao_keys, bao_root) = bao.init(1, 1);
    bao.unseal_with(&bao_keys);
    enable(&bao, &bao_root, "transit", json!({"type": "transit"}));
    let dir = temp_dir();
    let (server, root, _) = TestServer::start_unsealed(dir.path());
    let ours = &server.client;
    enable(ours, &root, "transit", json!({"type": "transit"}));

    let mut aes = [0u8; 32];
    rand::fill(&mut aes);
    let ed = ed25519_dalek::SigningKey::from_bytes(&{
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        seed
    });
    let ec = <p256::SecretKey as rsa::Generate>::generate_from_rng(&mut rand::rng());
    let rsa_key = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let materials: Vec<(&str, Vec<u8>)> = vec![
        ("aes256-gcm96", aes.to_vec()),
        ("chacha20-poly1305", aes.to_vec()),
        ("hmac", aes.to_vec()),
        ("ed25519", ed.to_pkcs8_der().unwrap().as_bytes().to_vec()),
        (
            "ecdsa-p256",
            p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&ec)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        (
            "rsa-2048",
            rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&rsa_key)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
    ];
    for (key_type, material) in &materials {
        let key = format!("imported-{key_type}");
        for (c, token) in [(&bao, bao_root.as_str()), (ours, root.as_str())] {
            let body = json!({"type": key_type, "ciphertext": wrap_for_import(c, token, material)});
            expect(c, "POST", &format!("transit/keys/{key}/import"), token, Some(body), 204);
        }
        let ours_read = expect(ours, "GET", &format!("transit/keys/{key}"), &root, None, 200);
        let bao_read = expect(&bao, "GET", &format!("transit/keys/{key}"), &bao_root, None, 200);
        assert_eq!(ours_read["data"]["imported_key"], json!(true));
        assert_eq!(
            ours_read["data"]["keys"]["1"]["public_key"],
            bao_read["data"]["keys"]["1"]["public_key"]
        );
        // What OpenBao makes with the imported key, we read.
        let made = make_artifacts(&bao, &bao_root, &key, key_type, &[1]);
        let made = Artifacts { hmacs: vec![], ..made };
        check_artifacts(ours, &root, &key, &made, "ours (imported key)");
        if *key_type == "hmac" {
            let theirs = expect(
                &bao,
                "POST",
                &format!("transit/hmac/{key}"),
                &bao_root,
                Some(json!({"input": PLAINTEXT})),
                200,
            );
            let mine = expect(
                ours,
                "POST",
                &format!("transit/hmac/{key}"),
                &root,
                Some(json!({"input": PLAINTEXT})),
                200,
            );
            assert_eq!(
                theirs["data"]["hmac"], mine["data"]["hmac"],
                "the imported HMAC key gives the same MACs"
            );
        }
    }
    // import_version adds the same material as version 2 on both.
    let key = "imported-aes256-gcm96";
    let mut next = [0u8; 32];
    rand::fill(&mut next);
    for (c, token) in [(&bao, bao_root.as_str()), (ours, root.as_str())] {
        let body = json!({"ciphertext": wrap_for_import(c, token, &next)});
        expect(
            c,
            "POST",
            &format!("transit/keys/{key}/import_version"),
            token,
            Some(body),
            204,
        );
    }
    let ct = expect(
        &bao,
        "POST",
        &format!("transit/encrypt/{key}"),
        &bao_root,
        Some(json!({"plaintext": PLAINTEXT})),
        200,
    )["data"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("vault:v2:"));
    let r = expect(
        ours,
        "POST",
        &format!("transit/decrypt/{key}"),
        &root,
        Some(json!({"ciphertext": ct})),
        200,
    );
    assert_eq!(r["data"]["plaintext"], json!(PLAINTEXT));
    // An imported key refuses rotation unless allowed, on both.
    for (c, token) in [(&bao, bao_root.as_str()), (ours, root.as_str())] {
        let (status, _) = send(c, "POST", &format!("transit/keys/{key}/rotate"), token, None);
        assert_ne!(status, 200);
    }
    // A key that is not imported refuses import_version; an existing one refuses import.
    expect(ours, "POST", "transit/keys/plain", &root, Some(json!({})), 200);
    let body = json!({"ciphertext": wrap_for_import(ours, &root, &next)});
    let (status, r) = send(
        ours,
        "POST",
        "transit/keys/plain/import_version",
        &root,
        Some(body.clone()),
    );
    assert_eq!(status, 400);
    assert_eq!(
        r["errors"][0],
        json!("the import_version endpoint can only be used with an imported key")
    );
    let (status, _) = send(ours, "POST", "transit/keys/plain/import", &root, Some(body));
    assert_eq!(status, 400);
}
