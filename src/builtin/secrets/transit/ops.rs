//! The operations on a key: encrypt, decrypt, rewrap, datakey, hmac, sign, verify; and the key-less hash and
//! random. Each takes one item or a `batch_input` list and answers per item as OpenBao does (a batch with a failed
//! item answers 400, or `partial_failure_response_code` when some succeeded).

use std::sync::Arc;

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::crypto::{HashType, Marshaling, SignOptions, SALT_AUTO, SALT_EQUALS_HASH};
use super::policy::{KeyType, NewKey, OpError, Policy};
use super::{encoding, invalid, op_error, with_warnings, Transit};
use crate::framework::{field, Captures, FieldDefault, Fields, Kind, Schema};
use crate::logical::{BackendFuture, Context, Error, Operation, Request, Response};

pub const ENCRYPT_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("plaintext", Kind::Str).desc("\"plaintext\" will return the key in both plaintext and ciphertext; \"wrapped\" will return the ciphertext only."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("type", Kind::Str).desc("Type of key to export (encryption-key, signing-key, hmac-key, public-key)").default(FieldDefault::Str("aes256-gcm96")),
    field("convergent_encryption", Kind::Bool).desc("Whether to support convergent encryption. This is only supported when using a key with key derivation enabled and will require all requests to carry both a context and 96-bit (12-byte) nonce. The given nonce will be used in place of a randomly generated nonce. As a result, when the same context and nonce are supplied, the same ciphertext is generated. It is *very important* when using this mode that you ensure that all nonces are unique for a given context. Failing to do so will severely impact the ciphertext's security."),
    field("key_version", Kind::Int).desc("The version of the key to use for encryption. Must be 0 (for latest) or a value greater than or equal to the min_encryption_version configured on the key."),
    field("partial_failure_response_code", Kind::Int).desc("Ordinarily, if a batch item fails to decrypt due to a bad input, but other batch items succeed, the HTTP response code is 400 (Bad Request). Some applications may want to treat partial failures differently. Providing the parameter returns the given response code integer instead of a 400 in this case. If all values fail HTTP 400 is still returned."),
    field("associated_data", Kind::Str).desc("When using an AEAD cipher mode, such as AES-GCM, this parameter allows passing associated data (AD/AAD) into the encryption function; this data must be passed on subsequent decryption requests but can be transited in plaintext. On successful decryption, both the ciphertext and the associated data are attested not to have been tampered with."),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const DECRYPT_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("ciphertext", Kind::Str).desc("The base64-encoded ciphertext of the keys. The AES key should be encrypted using OAEP with the wrapping key and then concatenated with the import key, wrapped by the AES key."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("partial_failure_response_code", Kind::Int).desc("Ordinarily, if a batch item fails to decrypt due to a bad input, but other batch items succeed, the HTTP response code is 400 (Bad Request). Some applications may want to treat partial failures differently. Providing the parameter returns the given response code integer instead of a 400 in this case. If all values fail HTTP 400 is still returned."),
    field("associated_data", Kind::Str).desc("When using an AEAD cipher mode, such as AES-GCM, this parameter allows passing associated data (AD/AAD) into the encryption function; this data must be passed on subsequent decryption requests but can be transited in plaintext. On successful decryption, both the ciphertext and the associated data are attested not to have been tampered with."),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const REWRAP_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("ciphertext", Kind::Str).desc("The base64-encoded ciphertext of the keys. The AES key should be encrypted using OAEP with the wrapping key and then concatenated with the import key, wrapped by the AES key."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("key_version", Kind::Int).desc("The version of the key to use for encryption. Must be 0 (for latest) or a value greater than or equal to the min_encryption_version configured on the key."),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const DATAKEY_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("plaintext", Kind::Str).desc("\"plaintext\" will return the key in both plaintext and ciphertext; \"wrapped\" will return the ciphertext only."),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("bits", Kind::Int).desc("Number of bits for the key; currently 128, 256, and 512 bits are supported. Defaults to 256.").default(FieldDefault::Int(256)),
    field("key_version", Kind::Int).desc("The version of the key to use for encryption. Must be 0 (for latest) or a value greater than or equal to the min_encryption_version configured on the key."),
    field("associated_data", Kind::Str).desc("When using an AEAD cipher mode, such as AES-GCM, this parameter allows passing associated data (AD/AAD) into the encryption function; this data must be passed on subsequent decryption requests but can be transited in plaintext. On successful decryption, both the ciphertext and the associated data are attested not to have been tampered with."),
];

pub const HMAC_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("input", Kind::Str).desc("The base64-encoded input data"),
    field("algorithm", Kind::Str).desc("Algorithm to use (POST body parameter). Valid values are: * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 Defaults to \"sha2-256\".").default(FieldDefault::Str("sha2-256")),
    field("urlalgorithm", Kind::Str).desc("Algorithm to use (POST URL parameter)"),
    field("key_version", Kind::Int).desc("The version of the key to use for encryption. Must be 0 (for latest) or a value greater than or equal to the min_encryption_version configured on the key."),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const SIGN_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("input", Kind::Str).desc("The base64-encoded input data"),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("key_version", Kind::Int).desc("The version of the key to use for encryption. Must be 0 (for latest) or a value greater than or equal to the min_encryption_version configured on the key."),
    field("hash_algorithm", Kind::Str).desc("Hash algorithm to use (POST body parameter). Valid values are: * sha1 * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 * mldsa-mu * none Defaults to \"sha2-256\" for RSA- and ECDSA-type keys, and \"none\" otherwise. Not valid for all key types, including Ed25519 and ML-DSA. Using \"none\" with a key type that otherwise requires a hash function requires setting prehashed=true and signature_algorithm=pkcs1v15, yielding a PKCSv1_5_NoOID instead of the usual PKCSv1_5_DERnull signature. \"mldsa-mu\" is only valid for prehashed input for MLDSA-type keys."),
    field("algorithm", Kind::Str).desc("Algorithm to use (POST body parameter). Valid values are: * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 Defaults to \"sha2-256\".").default(FieldDefault::Str("sha2-256")),
    field("urlalgorithm", Kind::Str).desc("Algorithm to use (POST URL parameter)"),
    field("prehashed", Kind::Bool).desc("Set to 'true' when the input is already hashed. If the key type is 'rsa-2048', 'rsa-3072' or 'rsa-4096', then the algorithm used to hash the input should be indicated by the 'algorithm' parameter."),
    field("signature_algorithm", Kind::Str).desc("The signature algorithm to use for signing. Currently only applies to RSA key types. Options are 'pss' or 'pkcs1v15'. Defaults to 'pss'"),
    field("marshaling_algorithm", Kind::Str).desc("The method by which to marshal the signature. The default is 'asn1' which is used by openssl and X.509. It can also be set to 'jws' which is used for JWT signatures; setting it to this will also cause the encoding of the signature to be url-safe base64 instead of using standard base64 encoding. Currently only valid for ECDSA P-256 key types\".").default(FieldDefault::Str("asn1")),
    field("salt_length", Kind::Str).desc("The salt length used to sign. Currently only applies to the RSA PSS signature scheme. Options are 'auto' (the default used by Golang, causing the salt to be as large as possible when signing), 'hash' (causes the salt length to equal the length of the hash used in the signature), or an integer between the minimum and the maximum permissible salt lengths for the given RSA key size. Defaults to 'auto'.").default(FieldDefault::Str("auto")),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const VERIFY_FIELDS: Schema = &[
    field("name", Kind::Str).desc("Name of the key"),
    field("input", Kind::Str).desc("The base64-encoded input data"),
    field("context", Kind::Str).desc("Base64 encoded context for key derivation. Required if key derivation is enabled; currently only available with ed25519 keys."),
    field("signature", Kind::Str).desc("The signature, including OpenBao header/key version"),
    field("hmac", Kind::Str).desc("The HMAC, including OpenBao header/key version"),
    field("hash_algorithm", Kind::Str).desc("Hash algorithm to use (POST body parameter). Valid values are: * sha1 * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 * mldsa-mu * none Defaults to \"sha2-256\" for RSA- and ECDSA-type keys, and \"none\" otherwise. Not valid for all key types, including Ed25519 and ML-DSA. Using \"none\" with a key type that otherwise requires a hash function requires setting prehashed=true and signature_algorithm=pkcs1v15, yielding a PKCSv1_5_NoOID instead of the usual PKCSv1_5_DERnull signature. \"mldsa-mu\" is only valid for prehashed input for MLDSA-type keys."),
    field("algorithm", Kind::Str).desc("Algorithm to use (POST body parameter). Valid values are: * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 Defaults to \"sha2-256\".").default(FieldDefault::Str("sha2-256")),
    field("urlalgorithm", Kind::Str).desc("Algorithm to use (POST URL parameter)"),
    field("prehashed", Kind::Bool).desc("Set to 'true' when the input is already hashed. If the key type is 'rsa-2048', 'rsa-3072' or 'rsa-4096', then the algorithm used to hash the input should be indicated by the 'algorithm' parameter."),
    field("signature_algorithm", Kind::Str).desc("The signature algorithm to use for signing. Currently only applies to RSA key types. Options are 'pss' or 'pkcs1v15'. Defaults to 'pss'"),
    field("marshaling_algorithm", Kind::Str).desc("The method by which to marshal the signature. The default is 'asn1' which is used by openssl and X.509. It can also be set to 'jws' which is used for JWT signatures; setting it to this will also cause the encoding of the signature to be url-safe base64 instead of using standard base64 encoding. Currently only valid for ECDSA P-256 key types\".").default(FieldDefault::Str("asn1")),
    field("salt_length", Kind::Str).desc("The salt length used to sign. Currently only applies to the RSA PSS signature scheme. Options are 'auto' (the default used by Golang, causing the salt to be as large as possible when signing), 'hash' (causes the salt length to equal the length of the hash used in the signature), or an integer between the minimum and the maximum permissible salt lengths for the given RSA key size. Defaults to 'auto'.").default(FieldDefault::Str("auto")),
    field("batch_input", Kind::Raw).desc("Specifies a list of items to be processed in a single batch. When this parameter is set, if the parameter 'input' is also set, it will be ignored. Any batch output will preserve the order of the batch input."),
];

pub const HASH_FIELDS: Schema = &[
    field("input", Kind::Str).desc("The base64-encoded input data"),
    field("algorithm", Kind::Str).desc("Algorithm to use (POST body parameter). Valid values are: * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 Defaults to \"sha2-256\".").default(FieldDefault::Str("sha2-256")),
    field("urlalgorithm", Kind::Str).desc("Algorithm to use (POST URL parameter)"),
    field("format", Kind::Str).desc("Encoding format to use. Can be \"hex\" or \"base64\". Defaults to \"base64\".").default(FieldDefault::Str("hex")),
];

pub const RANDOM_FIELDS: Schema = &[
    field("urlbytes", Kind::Str).desc("The number of bytes to generate (POST URL parameter)"),
    field("bytes", Kind::Int)
        .desc("The number of bytes to generate (POST body parameter). Defaults to 32 (256 bits).")
        .default(FieldDefault::Int(32)),
    field("format", Kind::Str)
        .desc("Encoding format to use. Can be \"hex\" or \"base64\". Defaults to \"base64\".")
        .default(FieldDefault::Str("hex")),
    field("source", Kind::Str)
        .desc("Which system to source random data from, ether \"platform\", \"seal\", or \"all\".")
        .default(FieldDefault::Str("platform")),
];

/// Most bytes `random` returns (OpenBao's `APIMaxBytes`).
const RANDOM_MAX_BYTES: i64 = 128 * 1024;
/// Most items in one `batch_input` (bad input must not pin the server).
const MAX_BATCH_ITEMS: usize = 100_000;

/// One batch item (OpenBao's `BatchRequestItem`).
#[derive(Default)]
struct Item {
    context: String,
    plaintext: Option<Zeroizing<String>>,
    ciphertext: String,
    key_version: i64,
    associated_data: String,
    reference: String,
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// OpenBao's `decodeBatchRequestItems`, with its texts (prefixed "failed to parse batch input: ").
fn decode_items(raw: &Value, require_plaintext: bool, require_ciphertext: bool) -> Result<Vec<Item>, Error> {
    let fail = |why: String| invalid(format!("failed to parse batch input: {why}"));
    let Value::Array(list) = raw else {
        let go = match raw {
            Value::String(_) => "string",
            Value::Bool(_) => "bool",
            Value::Number(_) => "json.Number",
            Value::Object(_) => "map[string]interface {}",
            _ => "<nil>",
        };
        return Err(fail(format!("source data must be an array or slice, got {go}")));
    };
    if list.len() > MAX_BATCH_ITEMS {
        return Err(invalid(format!("batch_input holds more than {MAX_BATCH_ITEMS} items")));
    }
    let mut items = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for (i, value) in list.iter().enumerate() {
        let Value::Object(map) = value else {
            return Err(fail(format!("[{i}] expected a map, got '{}'", go_type(value))));
        };
        let mut item = Item::default();
        let string_field = |name: &str, slot: &mut String, errors: &mut Vec<String>| match map.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *slot = s.clone(),
            Some(other) => errors.push(format!(
                "'[{i}].{name}' expected type 'string', got unconvertible type '{}'",
                go_type(other)
            )),
        };
        string_field("context", &mut item.context, &mut errors);
        match map.get("ciphertext") {
            None if require_ciphertext => errors.push(format!("'[{i}].ciphertext' missing ciphertext to decrypt")),
            _ => string_field("ciphertext", &mut item.ciphertext, &mut errors),
        }
        match map.get("plaintext") {
            None if require_plaintext => errors.push(format!("'[{i}].plaintext' missing plaintext to encrypt")),
            None => {}
            Some(Value::String(s)) => item.plaintext = Some(Zeroizing::new(s.clone())),
            Some(other) => errors.push(format!(
                "'[{i}].plaintext' expected type 'string', got unconvertible type '{}'",
                go_type(other)
            )),
        }
        match map.get("key_version") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => item.key_version = v,
                None => errors.push(format!(
                    "error decoding json.Number into [{i}].key_version: strconv.ParseInt: parsing \"{n}\": invalid syntax"
                )),
            },
            Some(other) => errors.push(format!(
                "'[{i}].key_version' expected type 'int', got unconvertible type '{}'",
                go_type(other)
            )),
        }
        string_field("associated_data", &mut item.associated_data, &mut errors);
        string_field("reference", &mut item.reference, &mut errors);
        items.push(item);
    }
    if !errors.is_empty() {
        return Err(fail(errors.join("\n")));
    }
    Ok(items)
}

/// A batch of string maps (OpenBao's `mapstructure.Decode` into `[]map[string]string` for sign, verify, hmac).
fn decode_string_maps(raw: &Value) -> Result<Vec<Map<String, Value>>, Error> {
    let fail = |why: String| invalid(format!("failed to parse batch input: {why}"));
    let Value::Array(list) = raw else {
        return Err(fail(format!(
            "'' source data must be an array or slice, got {}",
            go_type(raw)
        )));
    };
    if list.len() > MAX_BATCH_ITEMS {
        return Err(invalid(format!("batch_input holds more than {MAX_BATCH_ITEMS} items")));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let Value::Object(map) = value else {
            return Err(fail(format!(
                "'[{i}]' expected a map, got '{}'",
                go_type(value).trim_start_matches("[]")
            )));
        };
        for (k, v) in map {
            if !v.is_string() {
                return Err(fail(format!(
                    "'[{i}][{k}]' expected type 'string', got unconvertible type '{}'",
                    go_type(v)
                )));
            }
        }
        out.push(map.clone());
    }
    Ok(out)
}

fn get_str<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    map.get(key).and_then(Value::as_str)
}

/// The answer to a batch: OpenBao's `batchRequestResponse` status rules.
fn batch_status(f: &Fields<'_>, resp: &mut Response, successes: bool, user_errors: bool, internal_errors: bool) {
    if !(user_errors || internal_errors) {
        return;
    }
    let mut code = if user_errors { 400 } else { 500 };
    if successes && f.has("partial_failure_response_code") {
        let wanted = f.int("partial_failure_response_code").unwrap_or(0);
        if (1..=599).contains(&wanted) {
            code = wanted as u16;
        } else {
            resp.warnings.push(format!(
                "invalid HTTP response code override from partial_failure_response_code, reverting to {code}"
            ));
        }
    }
    resp.status = Some(code);
}

fn decode_context(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    if text.is_empty() {
        return Ok(Zeroizing::new(Vec::new()));
    }
    encoding::decode(text)
}

fn decode_aad(policy: &Policy, index: usize, text: &str) -> Result<Zeroizing<Vec<u8>>, OpError> {
    if text.is_empty() {
        return Ok(Zeroizing::new(Vec::new()));
    }
    if !policy.key_type().associated_data_supported() {
        return Err(OpError::User(format!(
            "'[{index}].associated_data' provided for non-AEAD cipher suite {}",
            policy.key_type()
        )));
    }
    encoding::decode(text).map_err(|e| {
        OpError::Internal(format!(
            "unable to get associated_data/additional_data from factory[0]: {e}"
        ))
    })
}

fn hash_algorithm_of(f: &Fields<'_>, m: &Captures<'_>) -> String {
    let url = m.get("urlalgorithm");
    if !url.is_empty() {
        return url.to_string();
    }
    for name in ["hash_algorithm", "algorithm"] {
        if let Some(v) = f.str(name).filter(|v| !v.is_empty()) {
            return v;
        }
    }
    "sha2-256".into()
}

fn salt_length_of(f: &Fields<'_>) -> Result<i64, Error> {
    let Some(raw) = f.str("salt_length") else {
        return Ok(SALT_AUTO);
    };
    match raw.to_lowercase().as_str() {
        "" | "auto" => Ok(SALT_AUTO),
        "hash" => Ok(SALT_EQUALS_HASH),
        other => {
            let n = super::crypto::go_atoi(other)
                .ok_or_else(|| invalid(format!("salt length neither 'auto', 'hash', nor an int: {raw}")))?;
            if n < SALT_EQUALS_HASH {
                return Err(invalid(format!("salt length is invalid: {n}")));
            }
            Ok(n)
        }
    }
}

fn sign_options(f: &Fields<'_>, m: &Captures<'_>) -> Result<(SignOptions, bool), Error> {
    let hash_name = hash_algorithm_of(f, m);
    let hash = HashType::parse(&hash_name).ok_or_else(|| invalid(format!("invalid hash algorithm {hash_name:?}")))?;
    let marshaling_name = f
        .str("marshaling_algorithm")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "asn1".into());
    let marshaling = Marshaling::parse(&marshaling_name)
        .ok_or_else(|| invalid(format!("invalid marshaling type {marshaling_name:?}")))?;
    let prehashed = f.bool("prehashed").unwrap_or(false);
    let signature_algorithm = f.str("signature_algorithm").unwrap_or_default();
    let salt_length = salt_length_of(f)?;
    Ok((
        SignOptions {
            hash,
            marshaling,
            salt_length,
            signature_algorithm,
        },
        prehashed,
    ))
}

impl Transit {
    async fn key_or(&self, ctx: &Context<'_>, name: &str, missing: &str) -> Result<Arc<Policy>, Error> {
        self.get(ctx.storage, name)
            .await?
            .ok_or_else(|| invalid(missing.to_string()))
    }

    pub(super) fn encrypt<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("name");
            let f = Fields::new(&req.data, ENCRYPT_FIELDS);
            let mut batch = CipherBatch::parse(req, &f, CipherOp::Encrypt)?;
            let context_set = batch.context_set();
            let mut warnings = f.warnings(&["name"]);
            let policy = match self.get(ctx.storage, name).await? {
                Some(p) => p,
                None if req.operation == Operation::Create => {
                    let convergent = f.bool("convergent_encryption").unwrap_or(false);
                    if convergent && !context_set {
                        return Err(invalid(
                            "convergent encryption requires derivation to be enabled, so context is required",
                        ));
                    }
                    if super::upsert_disabled(ctx.storage)? {
                        return Err(invalid("encryption key not found"));
                    }
                    let type_name = f
                        .str("type")
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "aes256-gcm96".into());
                    let key_type = match KeyType::parse(&type_name) {
                        Some(t) if t.is_symmetric() => t,
                        Some(t) if t.is_ecdsa() => {
                            return Err(invalid(format!("key type {t} not supported for this operation")))
                        }
                        _ => return Err(invalid(format!("unknown key type {type_name}"))),
                    };
                    let lock = self.lock_for(name);
                    let _guard = lock.lock().await;
                    match self.current(ctx.storage, name)? {
                        Some(p) => {
                            warnings.push(
                                "Attempted creation of the key during the encrypt operation, but it was created beforehand"
                                    .into(),
                            );
                            Arc::new(p)
                        }
                        None => {
                            let p = Policy::create(NewKey {
                                name: name.to_string(),
                                key_type,
                                derived: context_set,
                                convergent,
                                exportable: false,
                                allow_plaintext_backup: false,
                                auto_rotate_period_ns: 0,
                                key_size: 0,
                            })
                            .map_err(op_error)?;
                            self.persist(ctx.storage, p).await?
                        }
                    }
                }
                None => return Err(invalid("encryption key not found")),
            };
            let tally = batch.run(|i, item, context, plaintext| {
                let aad = decode_aad(&policy, i, &item.associated_data)?;
                let ciphertext = policy.encrypt_bytes(item.key_version, context, plaintext, &aad)?;
                Ok(ciphertext_fields(&policy, item, ciphertext))
            });
            batch.finish(&f, tally, warnings, true)
        })
    }

    pub(super) fn decrypt<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, DECRYPT_FIELDS);
            let mut batch = CipherBatch::parse(req, &f, CipherOp::Decrypt)?;
            let policy = self.key_or(ctx, m.get("name"), "encryption key not found").await?;
            let mut tally = batch.run(|i, item, context, _| {
                let aad = decode_aad(&policy, i, &item.associated_data)?;
                let plaintext = policy.decrypt(context, &item.ciphertext, &aad)?;
                let mut out = Map::new();
                out.insert("plaintext".into(), json!(plaintext.as_str()));
                Ok(out)
            });
            // OpenBao's decrypt item always carries `plaintext` (no omitempty).
            for result in tally.results.iter_mut().filter(|r| r.contains_key("error")) {
                result.insert("plaintext".into(), json!(""));
            }
            batch.finish(&f, tally, f.warnings(&["name"]), true)
        })
    }

    pub(super) fn rewrap<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, REWRAP_FIELDS);
            let mut batch = CipherBatch::parse(req, &f, CipherOp::Rewrap)?;
            let policy = self.key_or(ctx, m.get("name"), "encryption key not found").await?;
            let tally = batch.run(|_, item, context, _| {
                let plain = policy.decrypt(context, &item.ciphertext, &[])?;
                let ciphertext = policy.encrypt(item.key_version, context, &plain, &[])?;
                Ok(ciphertext_fields(&policy, item, ciphertext))
            });
            // An internal error fails the whole rewrap; otherwise it answers 200 whatever its items say (OpenBao has
            // no batch status here).
            if let Some(e) = tally.first_internal.clone() {
                return Err(invalid(e));
            }
            batch.finish(&f, tally, f.warnings(&["name"]), false)
        })
    }

    pub(super) fn datakey<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, DATAKEY_FIELDS);
            let show_plaintext = match m.get("plaintext") {
                "plaintext" => true,
                "wrapped" => false,
                _ => return Err(invalid("Invalid path, must be 'plaintext' or 'wrapped'")),
            };
            let context = decode_context(&f.str("context").unwrap_or_default())
                .map_err(|_| invalid("failed to base64-decode context"))?;
            let policy = self.key_or(ctx, m.get("name"), "encryption key not found").await?;
            let bits = if f.has("bits") { f.int("bits").unwrap_or(0) } else { 256 };
            let size = match bits {
                128 => 16,
                256 => 32,
                512 => 64,
                _ => return Err(invalid("invalid bit length")),
            };
            let aad_text = f.str("associated_data").unwrap_or_default();
            if !aad_text.is_empty() && !policy.key_type().associated_data_supported() {
                return Err(invalid(format!(
                    "'associated_data' provided for non-AEAD cipher suite {}",
                    policy.key_type()
                )));
            }
            let aad = decode_aad(&policy, 0, &aad_text).map_err(op_error)?;
            let new_key = super::crypto::random_bytes(size);
            let encoded = Zeroizing::new(encoding::encode(&new_key));
            let version = f.int("key_version").unwrap_or(0);
            let ciphertext = policy.encrypt(version, &context, &encoded, &aad).map_err(op_error)?;
            let mut data = Map::new();
            data.insert("ciphertext".into(), json!(ciphertext));
            data.insert(
                "key_version".into(),
                json!(if version == 0 { policy.latest_version } else { version }),
            );
            if show_plaintext {
                data.insert("plaintext".into(), json!(encoded.as_str()));
            }
            Ok(with_warnings(data, f.warnings(&["name", "plaintext"])))
        })
    }

    pub(super) fn hmac<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, HMAC_FIELDS);
            let policy = self.key_or(ctx, m.get("name"), "encryption key not found").await?;
            let mut version = f.int("key_version").unwrap_or(0);
            if version == 0 {
                version = policy.latest_version;
            } else if version != policy.latest_version
                && policy.min_encryption_version > 0
                && version < policy.min_encryption_version
            {
                return Err(invalid(
                    "cannot generate HMAC: version is too old (disallowed by policy)",
                ));
            }
            let key = policy.hmac_key(version).map_err(op_error)?;
            let url = m.get("urlalgorithm");
            let algorithm = if url.is_empty() {
                f.str("algorithm")
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| "sha2-256".into())
            } else {
                url.to_string()
            };
            let hash = match HashType::parse(&algorithm) {
                Some(h) if h != HashType::None => h,
                // OpenBao formats the unknown algorithm's number with %q.
                _ => return Err(invalid("unsupported algorithm '\\x00'")),
            };
            let batch_raw = req.data.get("batch_input").filter(|v| !v.is_null());
            let items: Vec<Map<String, Value>> = match batch_raw {
                Some(raw) => {
                    let items = decode_string_maps(raw)?;
                    if items.is_empty() {
                        return Err(invalid("missing batch input to process"));
                    }
                    items
                }
                None => {
                    let Some(input) = req.data.get("input").filter(|v| !v.is_null()).and(f.str("input")) else {
                        return Err(invalid("missing input for HMAC"));
                    };
                    let mut item = Map::new();
                    item.insert("input".into(), json!(input));
                    vec![item]
                }
            };
            let mut results = Vec::with_capacity(items.len());
            for item in &items {
                let mut out = Map::new();
                match get_str(item, "input") {
                    None => {
                        out.insert("error".into(), json!("missing input for HMAC"));
                    }
                    Some(input) => match encoding::decode(input) {
                        Err(e) => {
                            out.insert("error".into(), json!(format!("unable to decode input as base64: {e}")));
                        }
                        Ok(input) => {
                            let mac = hash.hmac(&key, &input).unwrap_or_default();
                            out.insert(
                                "hmac".into(),
                                json!(format!("vault:v{version}:{}", encoding::encode(&mac))),
                            );
                        }
                    },
                }
                results.push(out);
            }
            finish_simple_batch(
                batch_raw.is_some(),
                &items,
                results,
                f.warnings(&["name", "urlalgorithm"]),
            )
        })
    }

    pub(super) fn sign<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, SIGN_FIELDS);
            let (options, prehashed) = sign_options(&f, &m)?;
            let policy = self.key_or(ctx, m.get("name"), "signing key not found").await?;
            let t = policy.key_type();
            if !t.signing_supported() {
                return Err(invalid(format!("key type {t} does not support signing")));
            }
            if options.hash == HashType::None && (!prehashed || options.signature_algorithm != "pkcs1v15") {
                return Err(invalid(
                    "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
                ));
            }
            let version = f.int("key_version").unwrap_or(0);
            let batch_raw = req.data.get("batch_input").filter(|v| !v.is_null());
            let items = match batch_raw {
                Some(raw) => {
                    let items = decode_string_maps(raw)?;
                    if items.is_empty() {
                        return Err(invalid("missing batch input to process"));
                    }
                    items
                }
                None => {
                    let mut item = Map::new();
                    item.insert("input".into(), json!(f.str("input").unwrap_or_default()));
                    item.insert("context".into(), json!(f.str("context").unwrap_or_default()));
                    vec![item]
                }
            };
            let mut results = Vec::with_capacity(items.len());
            for item in &items {
                let mut out = Map::new();
                let outcome: Result<(String, Option<Vec<u8>>), OpError> = (|| {
                    let raw_input = get_str(item, "input").ok_or_else(|| OpError::User("missing input".into()))?;
                    let mut input = encoding::decode(raw_input)
                        .map_err(|e| OpError::User(format!("unable to decode input as base64: {e}")))?
                        .to_vec();
                    if t.hash_signature_input() && !prehashed {
                        if let Some(digest) = options.hash.digest(&input) {
                            input = digest;
                        }
                    }
                    let context = decode_context(get_str(item, "context").unwrap_or_default())
                        .map_err(|_| OpError::User("failed to base64-decode context".into()))?;
                    policy.sign(version, &context, &input, &options)
                })();
                match outcome {
                    Ok((signature, public)) => {
                        out.insert("signature".into(), json!(signature));
                        if let Some(public) = public {
                            out.insert("public_key".into(), json!(encoding::encode(&public)));
                        }
                        out.insert(
                            "key_version".into(),
                            json!(if version == 0 { policy.latest_version } else { version }),
                        );
                    }
                    Err(e) => {
                        out.insert("error".into(), json!(e.text()));
                        out.insert("key_version".into(), json!(0));
                    }
                }
                results.push(out);
            }
            if batch_raw.is_some() {
                // OpenBao's batch sign item names the public key `publickey`.
                for r in &mut results {
                    if let Some(public) = r.remove("public_key") {
                        r.insert("publickey".into(), public);
                    }
                }
            }
            finish_simple_batch(
                batch_raw.is_some(),
                &items,
                results,
                f.warnings(&["name", "urlalgorithm"]),
            )
        })
    }

    pub(super) fn verify<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, VERIFY_FIELDS);
            let batch_raw = req.data.get("batch_input").filter(|v| !v.is_null());
            let items = match batch_raw {
                Some(raw) => {
                    let items = decode_string_maps(raw)?;
                    if items.is_empty() {
                        return Err(invalid("missing batch input to process"));
                    }
                    items
                }
                None => {
                    let mut item = Map::new();
                    item.insert("input".into(), json!(f.str("input").unwrap_or_default()));
                    if f.str("signature").is_some_and(|s| !s.is_empty()) {
                        item.insert("signature".into(), json!(f.str("signature")));
                    }
                    if f.str("hmac").is_some_and(|s| !s.is_empty()) {
                        item.insert("hmac".into(), json!(f.str("hmac")));
                    }
                    item.insert("context".into(), json!(f.str("context").unwrap_or_default()));
                    vec![item]
                }
            };
            let (mut sig_found, mut hmac_found, mut missing) = (false, false, false);
            for item in &items {
                if item.contains_key("signature") {
                    sig_found = true;
                } else if item.contains_key("hmac") {
                    hmac_found = true;
                } else {
                    missing = true;
                }
            }
            let single = batch_raw.is_none();
            let problem = match () {
                _ if single && sig_found && hmac_found => Some("provide one of 'signature' or 'hmac'"),
                _ if single && !sig_found && !hmac_found => {
                    Some("neither a 'signature' nor an 'hmac' were given to verify")
                }
                _ if sig_found && hmac_found => {
                    Some("elements of batch_input must all provide 'signature' or all provide 'hmac'")
                }
                _ if missing && sig_found => Some("some elements of batch_input are missing 'signature'"),
                _ if missing && hmac_found => Some("some elements of batch_input are missing 'hmac'"),
                _ if missing => Some("no batch_input elements have 'signature' or 'hmac'"),
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(invalid(problem));
            }
            let hash_name = hash_algorithm_of(&f, &m);
            if hmac_found {
                let policy = self.key_or(ctx, m.get("name"), "encryption key not found").await?;
                let hash = HashType::parse(&hash_name)
                    .ok_or_else(|| invalid(format!("invalid hash algorithm {hash_name:?}")))?;
                let mut results: Vec<Map<String, Value>> =
                    items.iter().map(|item| verify_hmac_item(&policy, hash, item)).collect();
                if !single {
                    // OpenBao's HMAC batch item omits a false `valid`.
                    for r in &mut results {
                        if r.get("valid") == Some(&json!(false)) {
                            r.remove("valid");
                        }
                    }
                }
                return finish_simple_batch(!single, &items, results, f.warnings(&["name", "urlalgorithm"]));
            }
            let (options, prehashed) = sign_options(&f, &m)?;
            let policy = self
                .key_or(ctx, m.get("name"), "signature verification key not found")
                .await?;
            let t = policy.key_type();
            if !t.signing_supported() {
                return Err(invalid(format!("key type {t} does not support verification")));
            }
            if options.hash == HashType::None && (!prehashed || options.signature_algorithm != "pkcs1v15") {
                return Err(invalid(
                    "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
                ));
            }
            let mut results = Vec::with_capacity(items.len());
            for item in &items {
                let mut out = Map::new();
                let outcome: Result<bool, OpError> = (|| {
                    let raw_input = get_str(item, "input").ok_or_else(|| OpError::User("missing input".into()))?;
                    let mut input = encoding::decode(raw_input)
                        .map_err(|e| OpError::User(format!("unable to decode input as base64: {e}")))?
                        .to_vec();
                    let signature =
                        get_str(item, "signature").ok_or_else(|| OpError::User("missing signature".into()))?;
                    if t.hash_signature_input() && !prehashed {
                        if let Some(digest) = options.hash.digest(&input) {
                            input = digest;
                        }
                    }
                    let context = decode_context(get_str(item, "context").unwrap_or_default())
                        .map_err(|_| OpError::User("failed to base64-decode context".into()))?;
                    policy.verify(&context, &input, signature, &options)
                })();
                match outcome {
                    Ok(valid) => {
                        out.insert("valid".into(), json!(valid));
                    }
                    Err(e) => {
                        out.insert("error".into(), json!(e.text()));
                        out.insert("valid".into(), json!(false));
                    }
                }
                results.push(out);
            }
            finish_simple_batch(!single, &items, results, f.warnings(&["name", "urlalgorithm"]))
        })
    }

    pub(super) fn hash<'a>(&'a self, _ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, HASH_FIELDS);
            let Some(input) = req.data.get("input").filter(|v| !v.is_null()).and(f.str("input")) else {
                return Err(invalid("input missing"));
            };
            let format = f
                .str("format")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "hex".into());
            let url = m.get("urlalgorithm");
            let algorithm = if url.is_empty() {
                f.str("algorithm")
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "sha2-256".into())
            } else {
                url.to_string()
            };
            let input =
                encoding::decode(&input).map_err(|e| invalid(format!("unable to decode input as base64: {e}")))?;
            if format != "hex" && format != "base64" {
                return Err(invalid(format!(
                    "unsupported encoding format {format}; must be \"hex\" or \"base64\""
                )));
            }
            let hash = match HashType::parse(&algorithm) {
                Some(h) if !matches!(h, HashType::None | HashType::Sha1) => h,
                _ => return Err(invalid(format!("unsupported algorithm {algorithm}"))),
            };
            let sum = hash.digest(&input).unwrap_or_default();
            let text = if format == "hex" {
                hex::encode(sum)
            } else {
                encoding::encode(&sum)
            };
            let mut data = Map::new();
            data.insert("sum".into(), json!(text));
            Ok(with_warnings(data, f.warnings(&["urlalgorithm"])))
        })
    }

    pub(super) fn random<'a>(&'a self, _ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let f = Fields::new(&req.data, RANDOM_FIELDS);
            let (source_seg, bytes_seg) = (m.get("source"), m.get("urlbytes"));
            let body_bytes = || {
                if f.has("bytes") {
                    f.int("bytes").unwrap_or(0)
                } else {
                    32
                }
            };
            let parse_count = |text: &str| {
                super::crypto::go_atoi(text).ok_or_else(|| {
                    invalid(format!(
                        "error parsing url-set byte count: strconv.Atoi: parsing {text:?}: invalid syntax"
                    ))
                })
            };
            let valid_source = |s: &str| matches!(s, "" | "platform" | "seal" | "all");
            let (mut source, count) = if source_seg.is_empty() {
                (String::new(), body_bytes())
            } else if bytes_seg.is_empty() && valid_source(source_seg) {
                (source_seg.to_string(), body_bytes())
            } else if bytes_seg.is_empty() {
                (String::new(), parse_count(source_seg)?)
            } else {
                (source_seg.to_string(), parse_count(bytes_seg)?)
            };
            if source.is_empty() && source_seg.is_empty() {
                source = f.str("source").unwrap_or_default();
            }
            if count < 1 {
                return Err(invalid("'bytes' cannot be less than 1"));
            }
            if count > RANDOM_MAX_BYTES {
                return Err(invalid(format!("'bytes' should be less than {RANDOM_MAX_BYTES}")));
            }
            let format = f
                .str("format")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "base64".into());
            if format != "hex" && format != "base64" {
                return Err(invalid(format!(
                    "unsupported encoding format {format:?}; must be \"hex\" or \"base64\""
                )));
            }
            let mut warnings = f.warnings(&["source", "urlbytes"]);
            match source.as_str() {
                "" | "platform" | "all" => {}
                "seal" => warnings.push("no seal/entropy augmentation available, using platform entropy source".into()),
                other => {
                    return Err(invalid(format!(
                        "unsupported entropy source {other:?}; must be \"platform\" or \"seal\", or \"all\""
                    )))
                }
            }
            let bytes = super::crypto::random_bytes(count as usize);
            let text = if format == "hex" {
                hex::encode(&bytes[..])
            } else {
                encoding::encode(&bytes)
            };
            let mut data = Map::new();
            data.insert("random_bytes".into(), json!(text));
            Ok(with_warnings(data, warnings))
        })
    }
}

fn verify_hmac_item(policy: &Policy, hash: HashType, item: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let outcome: Result<bool, String> = (|| {
        let raw_input = get_str(item, "input").ok_or("missing input")?;
        let input = encoding::decode(raw_input).map_err(|e| format!("unable to decode input as base64: {e}"))?;
        let given = get_str(item, "hmac").ok_or("missing hmac")?;
        let rest = given
            .strip_prefix("vault:v")
            .ok_or("invalid HMAC to verify: no prefix")?;
        let (version, body) = rest.split_once(':').ok_or("invalid HMAC: wrong number of fields")?;
        let version = super::crypto::go_atoi(version).ok_or("invalid HMAC: version number could not be decoded")?;
        let given = encoding::decode(body).map_err(|e| format!("unable to decode verification HMAC as base64: {e}"))?;
        if version > policy.latest_version {
            return Err("invalid HMAC: version is too new".into());
        }
        if policy.min_decryption_version > 0 && version < policy.min_decryption_version {
            return Err("cannot verify HMAC: version is too old (disallowed by policy)".into());
        }
        let key = policy.hmac_key(version).map_err(|e| e.text().to_string())?;
        let mac = hash.hmac(&key, &input).ok_or("unsupported hash algorithm")?;
        Ok(subtle::ConstantTimeEq::ct_eq(&mac[..], &given[..]).into())
    })();
    match outcome {
        Ok(valid) => {
            out.insert("valid".into(), json!(valid));
        }
        Err(e) => {
            out.insert("error".into(), json!(e));
            out.insert("valid".into(), json!(false));
        }
    }
    out
}

/// Which of the three ciphertext operations a [`CipherBatch`] serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CipherOp {
    Encrypt,
    Decrypt,
    Rewrap,
}

/// The items of an encrypt, decrypt or rewrap request (its `batch_input`, or the single item of its top-level
/// fields), with each item's decoded context (and plaintext, for encrypt) or the error that already settles it.
struct CipherBatch {
    batch: bool,
    items: Vec<Item>,
    contexts: Vec<Zeroizing<Vec<u8>>>,
    plaintexts: Vec<Zeroizing<Vec<u8>>>,
    errors: Vec<Option<OpError>>,
}

/// What running a [`CipherBatch`] gave: one result map per item and OpenBao's batch status inputs.
struct Tally {
    results: Vec<Map<String, Value>>,
    successes: bool,
    user_errors: bool,
    internal_errors: bool,
    /// The text of the first internal error (rewrap fails the whole request with it).
    first_internal: Option<String>,
}

impl CipherBatch {
    /// Read the request's items as OpenBao's encrypt/decrypt/rewrap handlers do, with their texts.
    fn parse(req: &Request, f: &Fields<'_>, op: CipherOp) -> Result<CipherBatch, Error> {
        let batch_raw = req.data.get("batch_input").filter(|v| !v.is_null());
        let items = match batch_raw {
            Some(raw) => {
                let items = decode_items(raw, op == CipherOp::Encrypt, op == CipherOp::Decrypt)?;
                if items.is_empty() {
                    return Err(invalid("missing batch input to process"));
                }
                items
            }
            None => {
                let mut item = Item {
                    context: f.str("context").unwrap_or_default(),
                    ..Item::default()
                };
                if op == CipherOp::Encrypt {
                    let present = req.data.get("plaintext").is_some_and(|v| !v.is_null());
                    let Some(plaintext) = f.str("plaintext").filter(|_| present) else {
                        return Err(invalid("missing plaintext to encrypt"));
                    };
                    item.plaintext = Some(Zeroizing::new(plaintext));
                } else {
                    item.ciphertext = f.str("ciphertext").unwrap_or_default();
                    if item.ciphertext.is_empty() {
                        return Err(invalid("missing ciphertext to decrypt"));
                    }
                }
                if op != CipherOp::Decrypt {
                    item.key_version = f.int("key_version").unwrap_or(0);
                }
                if op != CipherOp::Rewrap {
                    item.associated_data = f.str("associated_data").unwrap_or_default();
                }
                vec![item]
            }
        };
        let context_set = !items[0].context.is_empty();
        let (mut contexts, mut plaintexts) = (Vec::with_capacity(items.len()), Vec::new());
        let mut errors = vec![None; items.len()];
        for (i, item) in items.iter().enumerate() {
            if item.context.is_empty() == context_set {
                return Err(invalid(
                    "context should be set either in all the request blocks or in none",
                ));
            }
            let early = if op == CipherOp::Encrypt {
                let plaintext = item.plaintext.as_deref().map(String::as_str).unwrap_or_default();
                match encoding::decode(plaintext) {
                    Ok(bytes) => {
                        plaintexts.push(bytes);
                        None
                    }
                    Err(e) => {
                        plaintexts.push(Zeroizing::new(Vec::new()));
                        Some(e)
                    }
                }
            } else if item.ciphertext.is_empty() {
                Some("missing ciphertext to decrypt".to_string())
            } else {
                None
            };
            let context = match early {
                Some(e) => Err(e),
                None => decode_context(&item.context),
            };
            match context {
                Ok(c) => contexts.push(c),
                Err(e) => {
                    errors[i] = Some(OpError::User(e));
                    contexts.push(Zeroizing::new(Vec::new()));
                }
            }
        }
        Ok(CipherBatch {
            batch: batch_raw.is_some(),
            items,
            contexts,
            plaintexts,
            errors,
        })
    }

    /// Whether the items carry a context (all do or none does).
    fn context_set(&self) -> bool {
        !self.items[0].context.is_empty()
    }

    /// Run `op(index, item, context, plaintext)` on each item not already settled by an error; the plaintext is
    /// empty but for encrypt.
    fn run(&mut self, mut op: impl FnMut(usize, &Item, &[u8], &[u8]) -> Result<Map<String, Value>, OpError>) -> Tally {
        let mut tally = Tally {
            results: Vec::with_capacity(self.items.len()),
            successes: false,
            user_errors: false,
            internal_errors: false,
            first_internal: None,
        };
        for (i, item) in self.items.iter().enumerate() {
            let outcome = match self.errors[i].take() {
                Some(e) => Err(e),
                None => op(
                    i,
                    item,
                    &self.contexts[i],
                    self.plaintexts.get(i).map(|p| &p[..]).unwrap_or_default(),
                ),
            };
            match outcome {
                Ok(fields) => {
                    tally.successes = true;
                    tally.results.push(fields);
                }
                Err(e) => {
                    match &e {
                        OpError::Internal(text) => {
                            tally.internal_errors = true;
                            tally.first_internal.get_or_insert_with(|| text.clone());
                        }
                        OpError::User(_) => tally.user_errors = true,
                    }
                    let mut fields = Map::new();
                    fields.insert("error".into(), json!(e.text()));
                    tally.results.push(fields);
                }
            }
        }
        tally
    }

    /// The response: `batch_results` (with each item's `reference`; with OpenBao's batch status when `with_status`),
    /// or the single item's fields (its error as the request's error).
    fn finish(
        self,
        f: &Fields<'_>,
        mut tally: Tally,
        warnings: Vec<String>,
        with_status: bool,
    ) -> Result<Response, Error> {
        if !self.batch {
            let single = tally.results.swap_remove(0);
            if let Some(error) = single.get("error").and_then(Value::as_str) {
                return Err(invalid(error));
            }
            return Ok(with_warnings(single, warnings));
        }
        for (result, item) in tally.results.iter_mut().zip(&self.items) {
            result.insert("reference".into(), json!(item.reference));
        }
        let mut data = Map::new();
        data.insert(
            "batch_results".into(),
            Value::Array(tally.results.into_iter().map(Value::Object).collect()),
        );
        let mut resp = with_warnings(data, warnings);
        if with_status {
            batch_status(f, &mut resp, tally.successes, tally.user_errors, tally.internal_errors);
        }
        Ok(resp)
    }
}

/// An encrypt or rewrap item's answer: the ciphertext and the version it was made with.
fn ciphertext_fields(policy: &Policy, item: &Item, ciphertext: String) -> Map<String, Value> {
    let version = if item.key_version == 0 {
        policy.latest_version
    } else {
        item.key_version
    };
    let mut out = Map::new();
    out.insert("ciphertext".into(), json!(ciphertext));
    out.insert("key_version".into(), json!(version));
    out
}
/// The response of hmac/sign/verify: `batch_results` (always 200), or the single item's fields.
fn finish_simple_batch(
    batch: bool,
    items: &[Map<String, Value>],
    mut results: Vec<Map<String, Value>>,
    warnings: Vec<String>,
) -> Result<Response, Error> {
    if !batch {
        let mut single = results.swap_remove(0);
        if let Some(error) = single.get("error").and_then(Value::as_str) {
            return Err(invalid(error));
        }
        if single.contains_key("signature") {
            single.remove("error");
        }
        return Ok(with_warnings(single, warnings));
    }
    for (result, item) in results.iter_mut().zip(items) {
        result.insert(
            "reference".into(),
            json!(get_str(item, "reference").unwrap_or_default()),
        );
    }
    let mut data = Map::new();
    data.insert(
        "batch_results".into(),
        Value::Array(results.into_iter().map(Value::Object).collect()),
    );
    Ok(with_warnings(data, warnings))
}
