//! The engine in-process on a `MemoryView`: every operation and its errors.

use serde_json::{json, Value};

use super::Transit;
use crate::logical::testing::{block_on, call, FixedSystemView};
use crate::logical::{Backend, Context, Error, MemoryView, Operation, Response, StorageView};

const HELLO: &str = "aGVsbG8="; // "hello"

struct Engine {
    backend: Transit,
    view: MemoryView,
}

impl Engine {
    fn new() -> Engine {
        Engine {
            backend: Transit::default(),
            view: MemoryView::default(),
        }
    }

    fn call(&self, op: Operation, path: &str, body: Value) -> Result<Response, Error> {
        call(&self.backend, &self.view, "transit/", op, path, body)
    }

    fn ok(&self, op: Operation, path: &str, body: Value) -> Value {
        match self.call(op, path, body) {
            Ok(resp) => Value::Object(resp.data.unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    }

    fn write(&self, path: &str, body: Value) -> Value {
        self.ok(Operation::Update, path, body)
    }

    fn fails(&self, op: Operation, path: &str, body: Value) -> String {
        match self.call(op, path, body) {
            Err(Error::InvalidRequest(text)) => text,
            other => panic!("{path}: expected a 400, got {other:?}"),
        }
    }

    fn fail_write(&self, path: &str, body: Value) -> String {
        self.fails(Operation::Update, path, body)
    }

    fn encrypt(&self, key: &str, body: Value) -> String {
        let r = self.write(&format!("encrypt/{key}"), body);
        r["ciphertext"].as_str().unwrap().to_string()
    }

    fn decrypt(&self, key: &str, body: Value) -> String {
        let r = self.write(&format!("decrypt/{key}"), body);
        r["plaintext"].as_str().unwrap().to_string()
    }
}

#[test]
fn key_lifecycle_create_read_list_config_delete() {
    let e = Engine::new();
    let created = e.write("keys/k", json!({}));
    assert_eq!(created["type"], json!("aes256-gcm96"));
    assert_eq!(created["latest_version"], json!(1));
    assert_eq!(created["supports_encryption"], json!(true));
    assert!(created["keys"]["1"].is_i64());
    let again = e.write("keys/k", json!({"type": "ed25519"}));
    assert_eq!(
        again["type"],
        json!("aes256-gcm96"),
        "an existing key is answered as is"
    );
    assert_eq!(e.fail_write("keys/x", json!({"type": "nope"})), "unknown key type nope");
    assert_eq!(
        e.fail_write("keys/x", json!({"type": "hmac"})),
        "invalid key size for HMAC key, must be between 32 and 512 bytes"
    );
    assert_eq!(
        e.fail_write("keys/x", json!({"key_size": 64})),
        "key_size is not valid for algorithm aes256-gcm96"
    );
    assert_eq!(
        e.fail_write("keys/x", json!({"convergent_encryption": true})),
        "convergent encryption requires derivation to be enabled"
    );
    assert_eq!(
        e.fail_write("keys/x", json!({"type": "rsa-2048", "derived": true})),
        "key derivation and convergent encryption not supported for keys of type rsa-2048"
    );
    assert_eq!(
        e.fail_write("keys/x", json!({"auto_rotate_period": "30m"})),
        "auto rotate period must be 0 to disable or at least an hour"
    );
    let hmac = e.write("keys/h", json!({"type": "hmac", "key_size": 64}));
    assert_eq!(hmac["key_size"], json!(64));
    assert!(hmac.get("keys").is_none(), "an HMAC key shows no versions");

    let list = e.ok(Operation::List, "keys", json!({}));
    assert_eq!(list["keys"], json!(["h", "k"]));
    assert!(matches!(
        e.call(Operation::Read, "keys/nope", json!({})),
        Err(Error::NotFound)
    ));

    assert_eq!(
        e.fails(Operation::Delete, "keys/k", json!({})),
        "error deleting policy k: deletion is not allowed for this key"
    );
    assert_eq!(
        e.fails(Operation::Delete, "keys/nope", json!({})),
        "error deleting policy nope: could not delete key; not found"
    );
    assert_eq!(
        e.fail_write("keys/nope/config", json!({"deletion_allowed": true})),
        "no existing key named nope could be found"
    );
    let configured = e.write(
        "keys/k/config",
        json!({"deletion_allowed": true, "auto_rotate_period": "2h"}),
    );
    assert_eq!(configured["deletion_allowed"], json!(true));
    assert_eq!(configured["auto_rotate_period"], json!(7200));
    e.ok(Operation::Delete, "keys/k", json!({}));
    assert!(matches!(
        e.call(Operation::Read, "keys/k", json!({})),
        Err(Error::NotFound)
    ));
    assert!(e.view.get(b"policy/k").unwrap().is_none());
    assert!(e.view.get(b"archive/k").unwrap().is_none());
}

#[test]
fn every_symmetric_type_round_trips_and_rejects_tampering() {
    let e = Engine::new();
    for t in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
    ] {
        e.write(&format!("keys/{t}"), json!({"type": t}));
        let ct = e.encrypt(t, json!({"plaintext": HELLO}));
        assert!(ct.starts_with("vault:v1:"));
        assert_eq!(e.decrypt(t, json!({"ciphertext": ct})), HELLO);
        let with_aad = e.encrypt(t, json!({"plaintext": HELLO, "associated_data": "YWFk"}));
        assert_eq!(
            e.decrypt(t, json!({"ciphertext": with_aad, "associated_data": "YWFk"})),
            HELLO
        );
        let wrong = e.fail_write(&format!("decrypt/{t}"), json!({"ciphertext": with_aad}));
        assert!(wrong.ends_with("message authentication failed"), "{t}: {wrong}");
        // Flip one byte of the body.
        let body = ct.strip_prefix("vault:v1:").unwrap();
        let mut raw = super::encoding::decode(body).unwrap().to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let forged = format!("vault:v1:{}", super::encoding::encode(&raw));
        assert!(e
            .fail_write(&format!("decrypt/{t}"), json!({"ciphertext": forged}))
            .contains("authentication failed"));
    }
}

#[test]
fn encrypt_and_decrypt_errors_are_openbaos() {
    let e = Engine::new();
    e.write("keys/k", json!({}));
    assert_eq!(e.fail_write("encrypt/k", json!({})), "missing plaintext to encrypt");
    assert_eq!(
        e.fail_write("encrypt/k", json!({"plaintext": "abc"})),
        "illegal base64 data at input byte 0"
    );
    assert_eq!(
        e.fail_write("encrypt/k", json!({"plaintext": HELLO, "key_version": 2})),
        "requested version for encryption is higher than the latest key version"
    );
    assert_eq!(
        e.fail_write("encrypt/k", json!({"plaintext": HELLO, "key_version": -1})),
        "requested version for encryption is negative"
    );
    assert_eq!(e.fail_write("decrypt/k", json!({})), "missing ciphertext to decrypt");
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "foo"})),
        "invalid ciphertext: no prefix"
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "vault:v1"})),
        "invalid ciphertext: wrong number of fields"
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "vault:vx:AA"})),
        "invalid ciphertext: version number could not be decoded"
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "vault:v2:AAAA"})),
        "invalid ciphertext: version is too new"
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "vault:v1:AAAA"})),
        "invalid ciphertext length"
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": "vault:v1:!"})),
        "invalid ciphertext: could not decode base64"
    );
    assert_eq!(
        e.fail_write("decrypt/nope", json!({"ciphertext": "vault:v1:AAAA"})),
        "encryption key not found"
    );
    e.write("keys/r", json!({"type": "rsa-2048"}));
    assert_eq!(
        e.fail_write("encrypt/r", json!({"plaintext": HELLO, "associated_data": "YWFk"})),
        "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"
    );
    let ct = e.encrypt("r", json!({"plaintext": HELLO}));
    assert_eq!(e.decrypt("r", json!({"ciphertext": ct})), HELLO);
    e.write("keys/s", json!({"type": "ed25519"}));
    assert_eq!(
        e.fail_write("encrypt/s", json!({"plaintext": HELLO})),
        "message encryption not supported for key type ed25519"
    );
}

#[test]
fn encrypt_upserts_a_missing_key_with_the_request_settings() {
    let e = Engine::new();
    let ct = e.encrypt(
        "new",
        json!({"plaintext": HELLO, "context": "Y3R4", "type": "chacha20-poly1305"}),
    );
    let key = e.ok(Operation::Read, "keys/new", json!({}));
    assert_eq!(key["type"], json!("chacha20-poly1305"));
    assert_eq!(key["derived"], json!(true));
    assert_eq!(e.decrypt("new", json!({"ciphertext": ct, "context": "Y3R4"})), HELLO);
    assert_eq!(
        e.fail_write("encrypt/other", json!({"plaintext": HELLO, "type": "ecdsa-p256"})),
        "key type ecdsa-p256 not supported for this operation"
    );
    e.write("config/keys", json!({"disable_upsert": true}));
    assert_eq!(
        e.fail_write("encrypt/third", json!({"plaintext": HELLO})),
        "encryption key not found"
    );
}

#[test]
fn derived_and_convergent_keys() {
    let e = Engine::new();
    e.write("keys/d", json!({"derived": true}));
    assert!(e
        .fail_write("encrypt/d", json!({"plaintext": HELLO}))
        .starts_with("missing 'context' for key derivation"));
    let ct = e.encrypt("d", json!({"plaintext": HELLO, "context": "YQ=="}));
    assert_eq!(e.decrypt("d", json!({"ciphertext": ct, "context": "YQ=="})), HELLO);
    assert!(e
        .fail_write("decrypt/d", json!({"ciphertext": ct, "context": "Yg=="}))
        .contains("authentication failed"));

    e.write("keys/c", json!({"derived": true, "convergent_encryption": true}));
    let a = e.encrypt("c", json!({"plaintext": HELLO, "context": "YQ=="}));
    let b = e.encrypt("c", json!({"plaintext": HELLO, "context": "YQ=="}));
    let other = e.encrypt("c", json!({"plaintext": HELLO, "context": "Yg=="}));
    assert_eq!(a, b, "convergent encryption is deterministic");
    assert_ne!(a, other);
    assert_eq!(e.decrypt("c", json!({"ciphertext": a, "context": "YQ=="})), HELLO);
    let key = e.ok(Operation::Read, "keys/c", json!({}));
    assert_eq!(key["convergent_encryption_version"], json!(-1));
    assert_eq!(key["kdf"], json!("hkdf_sha256"));
}

#[test]
fn rotation_versions_config_and_trim() {
    let e = Engine::new();
    e.write("keys/k", json!({}));
    let v1 = e.encrypt("k", json!({"plaintext": HELLO}));
    let rotated = e.write("keys/k/rotate", json!({}));
    assert_eq!(rotated["latest_version"], json!(2));
    e.write("keys/k/rotate", json!({}));
    let v3 = e.encrypt("k", json!({"plaintext": HELLO}));
    assert!(v3.starts_with("vault:v3:"));
    let old = e.encrypt("k", json!({"plaintext": HELLO, "key_version": 1}));
    assert!(old.starts_with("vault:v1:"));
    assert_eq!(e.fail_write("keys/nope/rotate", json!({})), "key not found");

    // Rewrap moves a ciphertext to the latest version.
    let r = e.write("rewrap/k", json!({"ciphertext": v1}));
    assert_eq!(r["key_version"], json!(3));
    assert_eq!(e.decrypt("k", json!({"ciphertext": r["ciphertext"]})), HELLO);

    assert_eq!(
        e.fail_write("keys/k/config", json!({"min_decryption_version": 4})),
        "cannot set min decryption version of 4, latest key version is 3"
    );
    assert_eq!(
        e.fail_write("keys/k/config", json!({"min_decryption_version": 3, "min_encryption_version": 2})),
        "cannot set min encryption/decryption values; min encryption version of 2 must be greater than or equal to min decryption version of 3"
    );
    assert_eq!(
        e.fail_write("keys/k/trim", json!({"min_available_version": 2})),
        "minimum available version cannot be set when minimum encryption version is not set"
    );
    e.write(
        "keys/k/config",
        json!({"min_decryption_version": 2, "min_encryption_version": 3}),
    );
    assert_eq!(
        e.fail_write("decrypt/k", json!({"ciphertext": v1})),
        "ciphertext or signature version is disallowed by policy (too old)"
    );
    assert_eq!(
        e.fail_write("encrypt/k", json!({"plaintext": HELLO, "key_version": 2})),
        "requested version for encryption is less than the minimum encryption key version"
    );
    // Lowering min_decryption_version brings version 1 back from the archive.
    e.write("keys/k/config", json!({"min_decryption_version": 1}));
    assert_eq!(e.decrypt("k", json!({"ciphertext": v1})), HELLO);
    e.write("keys/k/config", json!({"min_decryption_version": 2}));
    let trimmed = e.write("keys/k/trim", json!({"min_available_version": 2}));
    assert_eq!(trimmed["min_available_version"], json!(2));
    assert_eq!(
        e.fail_write("keys/k/trim", json!({"min_available_version": 1})),
        "minimum available version cannot be decremented"
    );
    assert_eq!(
        e.fail_write("keys/k/config", json!({"min_decryption_version": 1})),
        "min decryption version should not be less then min available version"
    );
    // Version 1 is gone from storage too.
    let archive: Value = serde_json::from_slice(&e.view.get(b"archive/k").unwrap().unwrap()).unwrap();
    assert_eq!(archive["keys"].as_array().unwrap().len(), 2, "versions 2 and 3 only");
    assert_eq!(e.decrypt("k", json!({"ciphertext": v3})), HELLO);
}

#[test]
fn batches_answer_per_item() {
    let e = Engine::new();
    e.write("keys/k", json!({}));
    let resp = e
        .call(
            Operation::Update,
            "encrypt/k",
            json!({"batch_input": [{"plaintext": HELLO, "reference": "a"}, {"plaintext": "!"}]}),
        )
        .unwrap();
    assert_eq!(resp.status, Some(400));
    let results = &resp.data.unwrap()["batch_results"];
    assert_eq!(results[0]["reference"], json!("a"));
    assert_eq!(results[0]["key_version"], json!(1));
    assert_eq!(results[1]["error"], json!("illegal base64 data at input byte 0"));
    assert_eq!(results[1]["reference"], json!(""));
    let ct = results[0]["ciphertext"].as_str().unwrap().to_string();

    let resp = e
        .call(
            Operation::Update,
            "encrypt/k",
            json!({"partial_failure_response_code": 207, "batch_input": [{"plaintext": HELLO}, {"plaintext": "!"}]}),
        )
        .unwrap();
    assert_eq!(resp.status, Some(207));

    let resp = e
        .call(
            Operation::Update,
            "decrypt/k",
            json!({"batch_input": [{"ciphertext": ct}, {"ciphertext": "foo"}]}),
        )
        .unwrap();
    let results = &resp.data.unwrap()["batch_results"];
    assert_eq!(results[0]["plaintext"], json!(HELLO));
    assert_eq!(results[1]["error"], json!("invalid ciphertext: no prefix"));
    assert_eq!(results[1]["plaintext"], json!(""));

    assert_eq!(
        e.fail_write("encrypt/k", json!({"batch_input": []})),
        "missing batch input to process"
    );
    assert_eq!(
        e.fail_write("encrypt/k", json!({"batch_input": "x"})),
        "failed to parse batch input: source data must be an array or slice, got string"
    );
    assert_eq!(
        e.fail_write("encrypt/k", json!({"batch_input": [{"plaintext": 1}]})),
        "failed to parse batch input: '[0].plaintext' expected type 'string', got unconvertible type 'json.Number'"
    );
    assert_eq!(
        e.fail_write(
            "encrypt/k",
            json!({"batch_input": [{"plaintext": HELLO, "context": "YQ=="}, {"plaintext": HELLO}]})
        ),
        "context should be set either in all the request blocks or in none"
    );
}

#[test]
fn signatures_for_every_asymmetric_type() {
    let e = Engine::new();
    for t in ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"] {
        let created = e.write(&format!("keys/{t}"), json!({"type": t}));
        assert!(created["keys"]["1"]["public_key"].as_str().unwrap().len() > 40, "{t}");
        for marshaling in ["asn1", "jws"] {
            let r = e.write(
                &format!("sign/{t}"),
                json!({"input": HELLO, "marshaling_algorithm": marshaling}),
            );
            let sig = r["signature"].as_str().unwrap();
            assert!(sig.starts_with("vault:v1:"));
            let body = json!({"input": HELLO, "signature": sig, "marshaling_algorithm": marshaling});
            assert_eq!(
                e.write(&format!("verify/{t}"), body)["valid"],
                json!(true),
                "{t} {marshaling}"
            );
            let body = json!({"input": "b3RoZXI=", "signature": sig, "marshaling_algorithm": marshaling});
            assert_eq!(
                e.write(&format!("verify/{t}"), body)["valid"],
                json!(false),
                "{t} {marshaling}"
            );
        }
    }
    for params in [
        json!({"signature_algorithm": "pkcs1v15"}),
        json!({"signature_algorithm": "pss", "salt_length": "hash", "hash_algorithm": "sha3-256"}),
        json!({"hash_algorithm": "sha1"}),
    ] {
        let mut body = params.clone();
        body["input"] = json!(HELLO);
        let sig = e.write("sign/rsa-2048", body.clone())["signature"].clone();
        body["signature"] = sig;
        assert_eq!(e.write("verify/rsa-2048", body)["valid"], json!(true), "{params}");
    }
    assert_eq!(
        e.fail_write("sign/rsa-2048", json!({"input": HELLO, "hash_algorithm": "none"})),
        "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15"
    );
    assert_eq!(
        e.fail_write("sign/rsa-2048", json!({"input": HELLO, "salt_length": "abc"})),
        "salt length neither 'auto', 'hash', nor an int: abc"
    );
    e.write("keys/aes", json!({}));
    assert_eq!(
        e.fail_write("sign/aes", json!({"input": HELLO})),
        "key type aes256-gcm96 does not support signing"
    );
    assert_eq!(
        e.fail_write("sign/nope", json!({"input": HELLO})),
        "signing key not found"
    );
    assert_eq!(
        e.fail_write("verify/ed25519", json!({"input": HELLO})),
        "neither a 'signature' nor an 'hmac' were given to verify"
    );
    assert_eq!(
        e.fail_write("verify/ed25519", json!({"input": HELLO, "signature": "x"})),
        "invalid signature: no prefix"
    );

    // A derived Ed25519 key signs per context and returns the public key.
    e.write("keys/ded", json!({"type": "ed25519", "derived": true}));
    let r = e.write("sign/ded", json!({"input": HELLO, "context": "YQ=="}));
    assert!(r["public_key"].is_string());
    let read = e.ok(Operation::Read, "keys/ded", json!({"context": "YQ=="}));
    assert_eq!(read["keys"]["1"]["public_key"], r["public_key"]);
    let body = json!({"input": HELLO, "context": "YQ==", "signature": r["signature"]});
    assert_eq!(e.write("verify/ded", body)["valid"], json!(true));
    let body = json!({"input": HELLO, "context": "Yg==", "signature": r["signature"]});
    assert_eq!(e.write("verify/ded", body)["valid"], json!(false));
}

#[test]
fn hmac_hash_random_and_datakeys() {
    let e = Engine::new();
    e.write("keys/k", json!({}));
    let mac = e.write("hmac/k", json!({"input": HELLO}))["hmac"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(mac.starts_with("vault:v1:"));
    assert_eq!(
        e.write("verify/k", json!({"input": HELLO, "hmac": mac}))["valid"],
        json!(true)
    );
    assert_eq!(
        e.write("verify/k", json!({"input": "YQ==", "hmac": mac}))["valid"],
        json!(false)
    );
    let long = e.write("hmac/k/sha2-512", json!({"input": HELLO}))["hmac"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        e.write("verify/k/sha2-512", json!({"input": HELLO, "hmac": long}))["valid"],
        json!(true)
    );
    assert_eq!(
        e.fail_write("hmac/k/md5", json!({"input": HELLO})),
        "unsupported algorithm '\\x00'"
    );
    assert_eq!(e.fail_write("hmac/k", json!({})), "missing input for HMAC");
    assert_eq!(
        e.fail_write("verify/k", json!({"input": HELLO, "hmac": "x"})),
        "invalid HMAC to verify: no prefix"
    );

    let sum = e.write("hash", json!({"input": HELLO}));
    assert_eq!(
        sum["sum"],
        json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    let sum = e.write("hash/sha3-256", json!({"input": HELLO, "format": "base64"}));
    assert_eq!(sum["sum"], json!("Mzi+aU9QxfM4gUmGzfBoZFOoiLhPQk15KvS5ICOY85I="));
    assert_eq!(e.fail_write("hash", json!({})), "input missing");
    assert_eq!(
        e.fail_write("hash/md5", json!({"input": HELLO})),
        "unsupported algorithm md5"
    );

    let r = e.write("random/16", json!({"format": "hex"}));
    assert_eq!(r["random_bytes"].as_str().unwrap().len(), 32);
    let r = e.write("random", json!({}));
    assert_eq!(
        super::encoding::decode(r["random_bytes"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        e.fail_write("random", json!({"bytes": 0})),
        "'bytes' cannot be less than 1"
    );
    assert_eq!(
        e.fail_write("random/x", json!({})),
        "error parsing url-set byte count: strconv.Atoi: parsing \"x\": invalid syntax"
    );
    // As OpenBao's regexp: a segment that cannot be a source is the byte count's text, and `-3` is no source.
    assert_eq!(
        e.fail_write("random/platform/4/5", json!({})),
        "error parsing url-set byte count: strconv.Atoi: parsing \"4/5\": invalid syntax"
    );
    assert_eq!(
        e.write("random/-3", json!({"format": "hex"}))["random_bytes"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    let dk = e.write("datakey/plaintext/k", json!({"bits": 128}));
    let plain = dk["plaintext"].as_str().unwrap();
    assert_eq!(super::encoding::decode(plain).unwrap().len(), 16);
    assert_eq!(e.decrypt("k", json!({"ciphertext": dk["ciphertext"]})), plain);
    let wrapped = e.write("datakey/wrapped/k", json!({}));
    assert!(wrapped.get("plaintext").is_none());
    assert_eq!(
        e.fail_write("datakey/wrapped/k", json!({"bits": 100})),
        "invalid bit length"
    );
    assert_eq!(
        e.fail_write("datakey/other/k", json!({})),
        "Invalid path, must be 'plaintext' or 'wrapped'"
    );
}

#[test]
fn export_backup_and_restore() {
    let e = Engine::new();
    e.write("keys/k", json!({}));
    assert_eq!(
        e.fails(Operation::Read, "export/encryption-key/k", json!({})),
        "private key material is not exportable"
    );
    assert_eq!(
        e.fails(Operation::Read, "backup/k", json!({})),
        "exporting is disallowed on the policy"
    );
    e.write("keys/k/config", json!({"exportable": true}));
    assert_eq!(
        e.fails(Operation::Read, "backup/k", json!({})),
        "plaintext backup is disallowed on the policy"
    );
    e.write("keys/k/config", json!({"allow_plaintext_backup": true}));
    e.write("keys/k/rotate", json!({}));
    let ct = e.encrypt("k", json!({"plaintext": HELLO, "key_version": 1}));
    let exported = e.ok(Operation::Read, "export/encryption-key/k", json!({}));
    assert_eq!(exported["keys"].as_object().unwrap().len(), 2);
    let one = e.ok(Operation::Read, "export/encryption-key/k/latest", json!({}));
    assert_eq!(one["keys"]["2"], exported["keys"]["2"]);
    assert_eq!(
        e.fails(Operation::Read, "export/bogus/k", json!({})),
        "invalid export type: bogus"
    );

    let backup = e.ok(Operation::Read, "backup/k", json!({}))["backup"]
        .as_str()
        .unwrap()
        .to_string();
    let decoded: Value = serde_json::from_slice(&super::encoding::decode(&backup).unwrap()).unwrap();
    assert_eq!(decoded["policy"]["name"], json!("k"));
    assert_eq!(decoded["policy"]["backup_info"]["version"], json!(2));
    assert_eq!(
        decoded["archived_keys"]["keys"].as_array().unwrap().len(),
        3,
        "a placeholder and two versions"
    );

    // Into another mount, under another name.
    let other = Engine::new();
    assert_eq!(other.fail_write("restore", json!({})), "'backup' must be supplied");
    assert_eq!(
        other.fail_write("restore/a/b", json!({"backup": backup})),
        "key names cannot be paths"
    );
    other.write("restore/copy", json!({"backup": backup}));
    assert_eq!(other.decrypt("copy", json!({"ciphertext": ct})), HELLO);
    let read = other.ok(Operation::Read, "keys/copy", json!({}));
    assert_eq!(read["latest_version"], json!(2));
    assert!(read["restore_info"]["time"].is_string());
    assert_eq!(
        other.fail_write("restore/copy", json!({"backup": backup})),
        "key \"copy\" already exists"
    );
    other.write("restore/copy", json!({"backup": backup, "force": true}));
    assert_eq!(
        other.fail_write("restore", json!({"backup": "!!"})),
        "illegal base64 data at input byte 0"
    );
}

#[test]
fn auto_rotation_runs_from_the_periodic_hook() {
    let e = Engine::new();
    e.write("keys/due", json!({"auto_rotate_period": "1h"}));
    e.write("keys/fresh", json!({"auto_rotate_period": "1h"}));
    e.write("keys/never", json!({}));
    // Age the latest version of `due` and `never` in storage.
    for name in ["due", "never"] {
        let key = format!("policy/{name}").into_bytes();
        let mut record: Value = serde_json::from_slice(&e.view.get(&key).unwrap().unwrap()).unwrap();
        record["keys"]["1"]["time"] = json!("2020-01-01T00:00:00Z");
        let bytes = serde_json::to_vec(&record).unwrap();
        let view: &dyn StorageView = &e.view;
        block_on(view.write(move |tx| tx.put(&key, &bytes))).unwrap();
    }
    let backend = Transit::default();
    let system = FixedSystemView::default();
    let ctx = Context {
        path: "",
        storage: &e.view,
        system: &system,
    };
    assert!(backend.periodic_interval().is_some());
    block_on(backend.periodic(&ctx)).unwrap();
    let version = |name: &str| {
        let r = call(
            &backend,
            &e.view,
            "transit/",
            Operation::Read,
            &format!("keys/{name}"),
            json!({}),
        )
        .unwrap();
        r.data.unwrap()["latest_version"].clone()
    };
    assert_eq!(version("due"), json!(2));
    assert_eq!(version("fresh"), json!(1));
    assert_eq!(version("never"), json!(1));
    // Running again does not rotate the just-rotated key.
    block_on(backend.periodic(&ctx)).unwrap();
    assert_eq!(version("due"), json!(2));
}

#[test]
fn cache_config_is_validated_and_stored() {
    let e = Engine::new();
    assert_eq!(e.ok(Operation::Read, "cache-config", json!({}))["size"], json!(0));
    assert_eq!(
        e.fail_write("cache-config", json!({"size": 5})),
        "size must be 0 or a value greater or equal to 10"
    );
    e.write("cache-config", json!({"size": 10}));
    assert_eq!(e.ok(Operation::Read, "cache-config", json!({}))["size"], json!(10));
    // More keys than the cache holds still all work.
    for i in 0..15 {
        e.write(&format!("keys/k{i}"), json!({}));
    }
    for i in 0..15 {
        let ct = e.encrypt(&format!("k{i}"), json!({"plaintext": HELLO}));
        assert_eq!(e.decrypt(&format!("k{i}"), json!({"ciphertext": ct})), HELLO);
    }
    assert!(e.backend.cache.read().unwrap().len() <= 10);
}

#[test]
fn stored_keys_never_show_in_debug_output() {
    let e = Engine::new();
    e.write("keys/k", json!({"exportable": true}));
    let exported = e.ok(Operation::Read, "export/encryption-key/k", json!({}));
    let key = exported["keys"]["1"].as_str().unwrap().to_string();
    let cached = e.backend.cached("k").unwrap();
    assert!(!format!("{cached:?}").contains(&key));
}
