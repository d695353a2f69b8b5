//! The transit secrets engine over HTTP: interoperability with OpenBao 2.7.2 (a key backed up on one server
//! restores on the other, and what one encrypted, signed or HMAC'd the other decrypts and verifies, both ways),
//! keys and ciphertexts surviving a restart, and rotation racing encryption.

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, TestServer};
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

/// POST `body` to `path`, require 200, and return the answer's `data.<field>`.
fn post_data(c: &Client, token: &str, path: &str, body: Value, field: &str) -> Value {
    expect(c, "POST", path, token, Some(body), 200)["data"][field].clone()
}

/// A reference OpenBao and a server of ours, each initialized, unsealed, with transit mounted at `transit/`.
struct Pair {
    _reference: ReferenceServer,
    bao: Client,
    bao_root: String,
    dir: tempfile::TempDir,
    server: TestServer,
    root: String,
}

impl Pair {
    fn start() -> Pair {
        let reference = ReferenceServer::start();
        let bao = Client::new(&reference.addr);
        let (bao_keys, bao_root) = bao.init(1, 1);
        bao.unseal_with(&bao_keys);
        enable(&bao, &bao_root, "transit", json!({"type": "transit"}));
        let dir = temp_dir();
        let (server, root, _) = TestServer::start_unsealed(dir.path());
        enable(&server.client, &root, "transit", json!({"type": "transit"}));
        Pair {
            _reference: reference,
            bao,
            bao_root,
            dir,
            server,
            root,
        }
    }
}

#[test]
fn transit_keys_move_between_openbao_and_us_both_ways() {
    let pair = Pair::start();
    let (bao, bao_root, ours, root) = (&pair.bao, pair.bao_root.clone(), &pair.server.client, pair.root.clone());

    for key_type in ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "rsa-2048"] {
        // OpenBao -> us.
        let key = format!("from-bao-{key_type}");
        let (made, backup) = create_rotate_and_back_up(bao, &bao_root, &key, key_type);
        restore(ours, &root, &key, &backup);
        check_artifacts(ours, &root, &key, &made, "ours");
        let read = expect(ours, "GET", &format!("transit/keys/{key}"), &root, None, 200);
        let reference_read = expect(bao, "GET", &format!("transit/keys/{key}"), &bao_root, None, 200);
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
                let (theirs_status, theirs) = send(bao, "GET", &path, &bao_root, None);
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
        restore(bao, &bao_root, &key, &backup);
        check_artifacts(bao, &bao_root, &key, &made, "OpenBao");
        // And what OpenBao makes with our key, we read back.
        let made_there = make_artifacts(bao, &bao_root, &key, key_type, &[1, 2]);
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
    let pair = Pair::start();
    let (bao, bao_root, ours, root) = (&pair.bao, pair.bao_root.clone(), &pair.server.client, pair.root.clone());

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
        for (c, token) in [(bao, bao_root.as_str()), (ours, root.as_str())] {
            let body = json!({"type": key_type, "ciphertext": wrap_for_import(c, token, material)});
            expect(c, "POST", &format!("transit/keys/{key}/import"), token, Some(body), 204);
        }
        let ours_read = expect(ours, "GET", &format!("transit/keys/{key}"), &root, None, 200);
        let bao_read = expect(bao, "GET", &format!("transit/keys/{key}"), &bao_root, None, 200);
        assert_eq!(ours_read["data"]["imported_key"], json!(true));
        assert_eq!(
            ours_read["data"]["keys"]["1"]["public_key"],
            bao_read["data"]["keys"]["1"]["public_key"]
        );
        // What OpenBao makes with the imported key, we read.
        let made = make_artifacts(bao, &bao_root, &key, key_type, &[1]);
        let made = Artifacts { hmacs: vec![], ..made };
        check_artifacts(ours, &root, &key, &made, "ours (imported key)");
        if *key_type == "hmac" {
            let theirs = expect(
                bao,
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
    for (c, token) in [(bao, bao_root.as_str()), (ours, root.as_str())] {
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
        bao,
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
    for (c, token) in [(bao, bao_root.as_str()), (ours, root.as_str())] {
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

/// OpenBao's error for `inner` (its handler's plain errors come back 500, wrapped in a multi-error); ours is the
/// same text with 400.
fn assert_same_refusal(bao: (u16, Value), ours: (u16, Value), what: &str) {
    assert_eq!(ours.0, 400, "{what}: {}", ours.1);
    let mine = ours.1["errors"][0].as_str().unwrap_or_default().to_string();
    let theirs = bao.1["errors"][0].as_str().unwrap_or_default().to_string();
    assert!(bao.0 >= 400, "{what}: OpenBao accepted it: {}", bao.1);
    assert!(!mine.is_empty(), "{what}: no error text");
    assert!(
        theirs == mine || theirs == format!("1 error occurred:\n\t* {mine}\n\n"),
        "{what}: OpenBao said {theirs:?}, we said {mine:?}"
    );
}

#[test]
fn transit_public_key_imports_verify_but_cannot_sign_on_both_servers() {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let pair = Pair::start();
    let (bao, bao_root, ours, root) = (&pair.bao, pair.bao_root.clone(), &pair.server.client, pair.root.clone());
    let both = [(bao, bao_root.as_str()), (ours, root.as_str())];

    let ed = ed25519_dalek::SigningKey::from_bytes(&{
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        seed
    });
    let ec = <p256::SecretKey as rsa::Generate>::generate_from_rng(&mut rand::rng());
    let rsa_key = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    // (type, PEM public key, PKCS#8 private key)
    let keys: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "ed25519",
            ed.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
            ed.to_pkcs8_der().unwrap().as_bytes().to_vec(),
        ),
        (
            "ecdsa-p256",
            ec.public_key().to_public_key_pem(LineEnding::LF).unwrap(),
            p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&ec)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        (
            "rsa-2048",
            rsa_key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
            rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&rsa_key)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
    ];
    for (key_type, public_pem, private_der) in &keys {
        let public = format!("pub-{key_type}");
        let full = format!("full-{key_type}");
        for (c, token) in both {
            let body = json!({"type": key_type, "public_key": public_pem});
            expect(
                c,
                "POST",
                &format!("transit/keys/{public}/import"),
                token,
                Some(body),
                204,
            );
            let body = json!({"type": key_type, "ciphertext": wrap_for_import(c, token, private_der)});
            expect(
                c,
                "POST",
                &format!("transit/keys/{full}/import"),
                token,
                Some(body),
                204,
            );
        }
        // The key reads alike: the public key as imported, no private part.
        let mine = expect(ours, "GET", &format!("transit/keys/{public}"), &root, None, 200)["data"].clone();
        let theirs = expect(bao, "GET", &format!("transit/keys/{public}"), &bao_root, None, 200)["data"].clone();
        for field in [
            "type",
            "imported_key",
            "supports_signing",
            "supports_encryption",
            "latest_version",
        ] {
            assert_eq!(mine[field], theirs[field], "{key_type}: {field}");
        }
        assert_eq!(
            mine["keys"]["1"]["public_key"], theirs["keys"]["1"]["public_key"],
            "{key_type}: the public key reads alike"
        );
        let full_read = expect(ours, "GET", &format!("transit/keys/{full}"), &root, None, 200);
        assert_eq!(
            mine["keys"]["1"]["public_key"], full_read["data"]["keys"]["1"]["public_key"],
            "{key_type}: the public-only key shows the full key's public half"
        );
        let exported = expect(
            ours,
            "GET",
            &format!("transit/export/public-key/{public}"),
            &root,
            None,
            200,
        );
        let exported_there = expect(
            bao,
            "GET",
            &format!("transit/export/public-key/{public}"),
            &bao_root,
            None,
            200,
        );
        assert_eq!(exported["data"]["keys"], exported_there["data"]["keys"]);

        // Signatures of each server's full key verify with the other's public-only key (both ways).
        for ((signer, signer_token), (verifier, verifier_token)) in [(both[0], both[1]), (both[1], both[0])] {
            let sig = post_data(
                signer,
                signer_token,
                &format!("transit/sign/{full}"),
                json!({"input": PLAINTEXT}),
                "signature",
            );
            let r = post_data(
                verifier,
                verifier_token,
                &format!("transit/verify/{public}"),
                json!({"input": PLAINTEXT, "signature": sig}),
                "valid",
            );
            assert_eq!(r, json!(true), "{key_type}: verify with the public key");
            let r = post_data(
                verifier,
                verifier_token,
                &format!("transit/verify/{public}"),
                json!({"input": "b3RoZXI=", "signature": sig}),
                "valid",
            );
            assert_eq!(r, json!(false), "{key_type}: other input");
        }
        // A public-only key cannot sign (OpenBao's text).
        let sign = |c: &Client, token: &str| {
            send(
                c,
                "POST",
                &format!("transit/sign/{public}"),
                token,
                Some(json!({"input": PLAINTEXT})),
            )
        };
        assert_same_refusal(sign(bao, &bao_root), sign(ours, &root), "sign with a public key");
        let r = sign(ours, &root);
        assert_eq!(
            r.1["errors"][0],
            json!("requested version for signing does not contain a private part")
        );

        if *key_type == "rsa-2048" {
            // It encrypts (RSA-OAEP with the public key); the full key on the other server decrypts; it cannot.
            for ((enc, enc_token), (dec, dec_token)) in [(both[0], both[1]), (both[1], both[0])] {
                let ct = post_data(
                    enc,
                    enc_token,
                    &format!("transit/encrypt/{public}"),
                    json!({"plaintext": PLAINTEXT}),
                    "ciphertext",
                );
                let r = post_data(
                    dec,
                    dec_token,
                    &format!("transit/decrypt/{full}"),
                    json!({"ciphertext": ct}),
                    "plaintext",
                );
                assert_eq!(r, json!(PLAINTEXT));
                let refuse = |c: &Client, token: &str| {
                    send(
                        c,
                        "POST",
                        &format!("transit/decrypt/{public}"),
                        token,
                        Some(json!({"ciphertext": ct})),
                    )
                };
                assert_same_refusal(refuse(bao, &bao_root), refuse(ours, &root), "decrypt with a public key");
            }
        }

        // Another public key cannot be added to version 1; its private half can, and then the key signs.
        for (c, token) in both {
            let body = json!({"public_key": public_pem, "version": 1});
            let (status, r) = send(
                c,
                "POST",
                &format!("transit/keys/{public}/import_version"),
                token,
                Some(body),
            );
            assert!(status >= 400, "{r}");
            assert!(
                r["errors"][0]
                    .as_str()
                    .unwrap()
                    .contains("cannot add a public key to a key version that already has a public key set"),
                "{r}"
            );
            let body = json!({"ciphertext": wrap_for_import(c, token, private_der), "version": 1});
            expect(
                c,
                "POST",
                &format!("transit/keys/{public}/import_version"),
                token,
                Some(body),
                204,
            );
            let r = expect(
                c,
                "POST",
                &format!("transit/sign/{public}"),
                token,
                Some(json!({"input": PLAINTEXT})),
                200,
            );
            assert!(r["data"]["signature"].as_str().unwrap().starts_with("vault:v1:"));
            let body = json!({"ciphertext": wrap_for_import(c, token, private_der), "version": 1});
            let (status, r) = send(
                c,
                "POST",
                &format!("transit/keys/{public}/import_version"),
                token,
                Some(body),
            );
            assert!(status >= 400);
            assert!(
                r["errors"][0]
                    .as_str()
                    .unwrap()
                    .contains("private key imported, key version cannot be updated"),
                "{r}"
            );
        }
    }

    // Refusals, with OpenBao's texts.
    let (ec_pem, rsa_pem) = (keys[1].1.clone(), keys[2].1.clone());
    let cases = [
        (
            json!({"public_key": ec_pem}),
            "the default type (aes256-gcm96) takes no public key",
        ),
        (
            json!({"type": "hmac", "public_key": ec_pem}),
            "hmac takes no public key",
        ),
        (json!({"type": "ed25519", "public_key": "garbage"}), "not PEM"),
        (
            json!({"type": "ed25519", "public_key": ec_pem}),
            "an EC key for an ed25519 key",
        ),
        (
            json!({"type": "ecdsa-p384", "public_key": ec_pem}),
            "a P-256 key for a P-384 key",
        ),
        (
            json!({"type": "rsa-4096", "public_key": rsa_pem}),
            "a 2048-bit key for rsa-4096",
        ),
        (
            json!({"type": "ecdsa-p256", "public_key": rsa_pem}),
            "an RSA key for an EC key",
        ),
        (
            json!({"type": "ed25519", "derived": true, "public_key": keys[0].1}),
            "a derived ed25519 key",
        ),
    ];
    for (i, (body, what)) in cases.into_iter().enumerate() {
        let path = format!("transit/keys/bad{i}/import");
        assert_same_refusal(
            send(bao, "POST", &path, &bao_root, Some(body.clone())),
            send(ours, "POST", &path, &root, Some(body)),
            what,
        );
        // Nothing was created.
        let (status, _) = send(ours, "GET", &format!("transit/keys/bad{i}"), &root, None);
        assert_eq!(status, 404, "{what}");
    }
}

/// The server's peak resident memory (`VmHWM`, KiB).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A batch body of `n` one-field items of `plaintext`.
fn batch_body(n: usize, plaintext: &str) -> Vec<u8> {
    let item = format!("{{\"plaintext\":\"{plaintext}\"}}");
    let mut body = Vec::with_capacity(n * (item.len() + 1) + 20);
    body.extend_from_slice(b"{\"batch_input\":[");
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

#[test]
fn transit_huge_batches_are_refused_as_openbao_does_and_raised_limits_stay_bounded() {
    let pair = Pair::start();
    let (bao, bao_root, ours, root) = (&pair.bao, pair.bao_root.clone(), &pair.server.client, pair.root.clone());
    for (c, token) in [(bao, bao_root.as_str()), (ours, root.as_str())] {
        expect(c, "POST", "transit/keys/k", token, Some(json!({})), 200);
    }
    let call = |c: &Client, token: &str, body: Vec<u8>| c.call("POST", "transit/encrypt/k", Some(token), Some(body));

    // 499 items are 999 strings: within OpenBao's default of 1,000; 500 are over it; so are 100,000.
    for (n, status) in [(499usize, 200u16), (500, 400), (100_000, 400)] {
        let theirs = call(bao, &bao_root, batch_body(n, "aGk="));
        let mine = call(ours, &root, batch_body(n, "aGk="));
        assert_eq!(theirs.0, status, "OpenBao, {n} items");
        assert_eq!(mine.0, status, "ours, {n} items: {}", mine.1);
        if status == 200 {
            assert_eq!(mine.1["data"]["batch_results"].as_array().unwrap().len(), n);
        } else {
            assert_eq!(mine.1, theirs.1, "{n} items");
            assert_eq!(
                mine.1["errors"][0],
                json!("refused JSON input due to high complexity: exceeded maximum number of strings")
            );
        }
    }
    // A body over the size limit (32 MiB) is 413, read no further.
    let huge = batch_body(40_000, &"A".repeat(1000));
    assert!(huge.len() > 32 * 1024 * 1024);
    // A server answering 413 may close the connection while the client is still sending; on a loaded machine the
    // client then sees the reset before the answer. Such a try is sent again (the answer is what is compared).
    let refused = |c: &Client, token: &str, body: &[u8]| {
        for _ in 0..5 {
            if let Ok(answer) = c.try_call("POST", "transit/encrypt/k", Some(token), &[], Some(body.to_vec())) {
                return answer;
            }
        }
        panic!("no answer to the oversized body after 5 tries");
    };
    let theirs = refused(bao, &bao_root, &huge);
    let mine = refused(ours, &root, &huge);
    assert_eq!(
        (mine.0, &mine.1),
        (413, &json!({"errors": ["http: request body too large"]}))
    );
    assert_eq!(theirs.0, 413);
    assert_eq!(theirs.1, mine.1);
    // One string too big for the estimated-memory limit (32.5 MiB) within the size limit: both refuse it.
    let config = write_config(
        pair.dir.path(),
        &pair.dir.path().join("data2"),
        "max_request_size = 67108864\nmax_request_json_strings = 1000000",
        "  tls_disable = true",
    );
    drop(pair.server);
    let raised = TestServer::start_with_config(pair.dir.path(), &config, "http", None);
    let c = &raised.client;
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    enable(c, &root, "transit", json!({"type": "transit"}));
    expect(c, "POST", "transit/keys/k", &root, Some(json!({})), 200);
    let (status, r) = call(
        c,
        &root,
        format!("{{\"plaintext\":\"{}\"}}", "A".repeat(33 * 1024 * 1024)).into_bytes(),
    );
    assert_eq!(status, 400);
    assert_eq!(
        r["errors"][0],
        json!("refused JSON input due to high complexity: exceeded maximum estimated memory limits")
    );
    // With the string limit raised, 100,000 items are encrypted, each answered, in bounded memory.
    let before = peak_rss_kib(raised.pid());
    // (The answer is larger than the test client's usual 10 MiB limit on a body.)
    let url = format!("http://{}/v1/transit/encrypt/k", raised.addr);
    let mut response = ureq::post(&url)
        .header("X-Vault-Token", &root)
        .send(&batch_body(100_000, "aGVsbG8gdHJhbnNpdA==")[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let results = r["data"]["batch_results"].as_array().unwrap();
    assert_eq!(results.len(), 100_000);
    assert!(results
        .iter()
        .all(|r| r["ciphertext"].as_str().unwrap().starts_with("vault:v1:")));
    let after = peak_rss_kib(raised.pid());
    // The body is 3.3 MB and the answer ~10 MB; a copy per stage (body, parsed items, results, JSON) stays well
    // under 256 MiB.
    assert!(
        after < before + 256 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
    // A batch of more items than the engine takes (bad input must not pin the server) is refused with 400.
    let (status, r) = call(c, &root, batch_body(100_001, "aGk="));
    assert_eq!(status, 400, "{r}");
}

#[test]
fn transit_byok_export_and_derive_key_move_keys_between_openbao_and_us() {
    let pair = Pair::start();
    let (bao, bao_root, ours, root) = (&pair.bao, pair.bao_root.clone(), &pair.server.client, pair.root.clone());
    let both = [(bao, bao_root.as_str()), (ours, root.as_str())];

    // byok-export, both ways: each server imports the other's wrapping key as a public key and exports its
    // exportable keys wrapped for it; the other imports them and uses them.
    for (i, ((from, from_token), (to, to_token))) in [(both[1], both[0]), (both[0], both[1])].into_iter().enumerate() {
        let wrapping = expect(to, "GET", "transit/wrapping_key", to_token, None, 200)["data"]["public_key"].clone();
        expect(
            from,
            "POST",
            "transit/keys/peer-wrapping/import",
            from_token,
            Some(json!({"type": "rsa-4096", "public_key": wrapping})),
            204,
        );
        for key_type in ["aes256-gcm96", "ed25519", "ecdsa-p256", "hmac"] {
            let key = format!("moving-{i}-{key_type}");
            let mut body = json!({"type": key_type, "exportable": true});
            if key_type == "hmac" {
                body["key_size"] = json!(32);
            }
            expect(
                from,
                "POST",
                &format!("transit/keys/{key}"),
                from_token,
                Some(body),
                200,
            );
            let exported = expect(
                from,
                "GET",
                &format!("transit/byok-export/peer-wrapping/{key}/1"),
                from_token,
                None,
                200,
            );
            assert_eq!(exported["data"]["name"], json!(key));
            assert_eq!(exported["data"]["type"], json!(key_type));
            let ciphertext = exported["data"]["keys"]["1"].clone();
            expect(
                to,
                "POST",
                &format!("transit/keys/{key}/import"),
                to_token,
                Some(json!({"type": key_type, "ciphertext": ciphertext})),
                204,
            );
            let made = make_artifacts(from, from_token, &key, key_type, &[1]);
            let made = if key_type == "hmac" {
                made
            } else {
                // The import gives the key a new HMAC key of its own (as OpenBao's does).
                Artifacts { hmacs: vec![], ..made }
            };
            check_artifacts(to, to_token, &key, &made, &format!("byok-export {i} of {key_type}"));
        }
    }
    // byok-export's refusals, with OpenBao's texts.
    for (c, token) in both {
        expect(c, "POST", "transit/keys/not-exportable", token, Some(json!({})), 200);
    }
    for path in [
        "transit/byok-export/nope/moving-0-hmac",
        "transit/byok-export/peer-wrapping/nope",
        "transit/byok-export/peer-wrapping/not-exportable",
        "transit/byok-export/not-exportable/moving-0-aes256-gcm96",
        "transit/byok-export/moving-0-aes256-gcm96/moving-0-aes256-gcm96",
        "transit/byok-export/peer-wrapping/moving-0-hmac/7",
        "transit/byok-export/peer-wrapping/moving-0-hmac?hash=md5",
    ] {
        let path = path.replace("moving-0", "moving-X");
        let (ours_path, bao_path) = (path.replace('X', "0"), path.replace('X', "1"));
        assert_same_refusal(
            send(bao, "GET", &bao_path, &bao_root, None),
            send(ours, "GET", &ours_path, &root, None),
            &path,
        );
    }

    // derive-key: each server holds an EC key and the other's public key; ECDH gives both the same AES key.
    for (c, token) in both {
        expect(
            c,
            "POST",
            "transit/keys/ec",
            token,
            Some(json!({"type": "ecdsa-p384"})),
            200,
        );
    }
    let public_of = |c: &Client, token: &str| {
        expect(c, "GET", "transit/keys/ec", token, None, 200)["data"]["keys"]["1"]["public_key"].clone()
    };
    let (bao_public, ours_public) = (public_of(bao, &bao_root), public_of(ours, &root));
    for ((c, token), peer) in [(both[0], &ours_public), (both[1], &bao_public)] {
        let body = json!({"base_key_name": "ec", "peer_public_key": peer, "derived_key_type": "chacha20-poly1305"});
        expect(c, "POST", "transit/derive-key/shared", token, Some(body), 204);
        let read = expect(c, "GET", "transit/keys/shared", token, None, 200);
        assert_eq!(read["data"]["type"], json!("chacha20-poly1305"));
        assert_eq!(read["data"]["imported_key"], json!(true));
    }
    let made = make_artifacts(ours, &root, "shared", "chacha20-poly1305", &[1]);
    check_artifacts(
        bao,
        &bao_root,
        "shared",
        &Artifacts { hmacs: vec![], ..made },
        "OpenBao (derived key)",
    );
    let made = make_artifacts(bao, &bao_root, "shared", "chacha20-poly1305", &[1]);
    check_artifacts(
        ours,
        &root,
        "shared",
        &Artifacts { hmacs: vec![], ..made },
        "ours (derived key)",
    );
    // Deriving again adds a version to the key, on both.
    for ((c, token), peer) in [(both[0], &ours_public), (both[1], &bao_public)] {
        let body = json!({"base_key_name": "ec", "peer_public_key": peer, "derived_key_type": "chacha20-poly1305"});
        expect(c, "POST", "transit/derive-key/shared", token, Some(body), 204);
        let read = expect(c, "GET", "transit/keys/shared", token, None, 200);
        assert_eq!(read["data"]["latest_version"], json!(2));
    }
    // derive-key's refusals, with OpenBao's texts.
    let p256_public = {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let k = <p256::SecretKey as rsa::Generate>::generate_from_rng(&mut rand::rng());
        k.public_key().to_public_key_pem(LineEnding::LF).unwrap()
    };
    let cases = [
        json!({"peer_public_key": ours_public}),
        json!({"base_key_name": "nope", "peer_public_key": ours_public}),
        json!({"base_key_name": "not-exportable", "peer_public_key": ours_public}),
        json!({"base_key_name": "ec", "peer_public_key": p256_public}),
        json!({"base_key_name": "ec", "peer_public_key": "junk"}),
        json!({"base_key_name": "ec", "peer_public_key": ours_public, "derived_key_type": "hmac"}),
        json!({"base_key_name": "ec", "peer_public_key": ours_public, "key_derivation_algorithm": "x"}),
        json!({"base_key_name": "ec", "peer_public_key": ours_public, "base_key_version": 5}),
        json!({"base_key_name": "ec"}),
    ];
    for body in cases {
        assert_same_refusal(
            send(bao, "POST", "transit/derive-key/bad", &bao_root, Some(body.clone())),
            send(ours, "POST", "transit/derive-key/bad", &root, Some(body.clone())),
            &body.to_string(),
        );
    }
}
