//! The cryptography of a key's versions, as OpenBao's `keysutil` does it, so ciphertexts and signatures pass
//! between the two servers: AES-GCM / ChaCha20-Poly1305 as nonce ‖ ciphertext ‖ tag, derived keys by HKDF-SHA256
//! (or SP 800-108 counter mode with HMAC-SHA256 for old keys), convergent nonces from an HMAC of the plaintext,
//! RSA-OAEP(SHA-256) encryption, ECDSA / Ed25519 / RSA-PSS / RSA-PKCS#1 v1.5 signatures. Only RustCrypto crates do
//! the cryptography; this module encodes, selects and checks.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BoxedUint;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};
use zeroize::Zeroizing;

use super::encoding;
use super::policy::{
    internal, user, BigNum, GoRsaPrecomputed, GoRsaPrivateKey, KeyEntry, KeyType, OpError, Policy,
    CURRENT_CONVERGENT_VERSION, ERR_SOFT_DELETED, ERR_TOO_OLD, KDF_HKDF_SHA256, KDF_HMAC_SHA256_COUNTER,
};

pub fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    rand::fill(&mut out[..]);
    out
}

pub use crate::framework::tools::HashType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marshaling {
    Asn1,
    Jws,
}

impl Marshaling {
    pub fn parse(name: &str) -> Option<Marshaling> {
        match name {
            "asn1" => Some(Marshaling::Asn1),
            "jws" => Some(Marshaling::Jws),
            _ => None,
        }
    }
}

/// PSS salt length as OpenBao's request sets it: Go's `PSSSaltLengthAuto` (0), `PSSSaltLengthEqualsHash` (-1) or a
/// count.
pub const SALT_AUTO: i64 = 0;
pub const SALT_EQUALS_HASH: i64 = -1;

pub struct SignOptions {
    pub hash: HashType,
    pub marshaling: Marshaling,
    pub salt_length: i64,
    pub signature_algorithm: String,
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(HashType::Sha2_256.hmac(key, data).unwrap_or_default())
}

/// NIST SP 800-108 counter mode with HMAC-SHA256 (OpenBao's `kdf.CounterMode`), 256 bits.
fn counter_mode_kdf(key: &[u8], context: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(Vec::with_capacity(context.len() + 8));
    input.extend_from_slice(&0u32.to_be_bytes());
    input.extend_from_slice(context);
    input.extend_from_slice(&256u32.to_be_bytes());
    hmac_sha256(key, &input)
}

// ---- key generation ----

macro_rules! ec_curve {
    ($name:ident, $krate:ident) => {
        mod $name {
            use super::*;
            use $krate::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
            use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};
            use $krate::pkcs8::{EncodePublicKey, LineEnding};

            pub fn generate(entry: &mut KeyEntry) -> Result<(), OpError> {
                let key = <SigningKey as rsa::Generate>::generate_from_rng(&mut rand::rng());
                let point = key.verifying_key().to_sec1_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(internal("generated an identity point"));
                };
                entry.ec_d = Some(BigNum::from_bytes(&key.to_bytes()));
                entry.ec_x = Some(BigNum::from_bytes(x));
                entry.ec_y = Some(BigNum::from_bytes(y));
                entry.public_key = public_pem(entry)?;
                Ok(())
            }

            fn field_bytes(n: &BigNum, size: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
                let raw = n.to_bytes().ok_or_else(|| internal("invalid key component"))?;
                if raw.len() > size {
                    return Err(internal("invalid key component"));
                }
                let mut out = Zeroizing::new(vec![0u8; size - raw.len()]);
                out.extend_from_slice(&raw);
                Ok(out)
            }

            fn field_size() -> usize {
                <$krate::FieldBytes>::default().len()
            }

            pub fn verifying_key(entry: &KeyEntry) -> Result<VerifyingKey, OpError> {
                let (Some(x), Some(y)) = (&entry.ec_x, &entry.ec_y) else {
                    return Err(internal("key version has no public key"));
                };
                let size = field_size();
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(&field_bytes(x, size)?);
                sec1.extend_from_slice(&field_bytes(y, size)?);
                VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| internal("invalid public key"))
            }

            fn signing_key(entry: &KeyEntry) -> Result<SigningKey, OpError> {
                let d = entry
                    .ec_d
                    .as_ref()
                    .ok_or_else(|| internal("key version has no private key"))?;
                SigningKey::from_slice(&field_bytes(d, field_size())?).map_err(|_| internal("invalid private key"))
            }

            pub fn public_pem(entry: &KeyEntry) -> Result<String, OpError> {
                let key = $krate::PublicKey::from(verifying_key(entry)?);
                key.to_public_key_pem(LineEnding::LF)
                    .map_err(|e| internal(e.to_string()))
            }

            pub fn sign(entry: &KeyEntry, digest: &[u8], marshaling: Marshaling) -> Result<Vec<u8>, OpError> {
                let key = signing_key(entry)?;
                let sig: Signature = key.sign_prehash(digest).map_err(|e| user(e.to_string()))?;
                Ok(match marshaling {
                    Marshaling::Asn1 => sig.to_der().as_bytes().to_vec(),
                    Marshaling::Jws => sig.to_bytes().to_vec(),
                })
            }

            pub fn verify(
                entry: &KeyEntry,
                digest: &[u8],
                sig: &[u8],
                marshaling: Marshaling,
            ) -> Result<bool, OpError> {
                let signature = match marshaling {
                    Marshaling::Asn1 => match Signature::from_der(sig) {
                        Ok(s) => s,
                        Err(_) => return Err(user("supplied signature is invalid")),
                    },
                    Marshaling::Jws => {
                        // As Go: the first half is r, the second s, each as a big-endian number.
                        let half = sig.len() / 2;
                        let size = field_size();
                        let (r, s) = (&sig[..half], &sig[half..]);
                        let pad = |v: &[u8]| -> Option<Vec<u8>> {
                            let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
                            (v.len() <= size).then(|| [vec![0u8; size - v.len()], v].concat())
                        };
                        match (pad(r), pad(s)) {
                            (Some(r), Some(s)) => match Signature::from_slice(&[r, s].concat()) {
                                Ok(sig) => sig,
                                Err(_) => return Ok(false),
                            },
                            _ => return Ok(false),
                        }
                    }
                };
                let key = verifying_key(entry)?;
                Ok(key.verify_prehash(digest, &signature).is_ok())
            }
        }
    };
}

ec_curve!(ec_p256, p256);
ec_curve!(ec_p384, p384);
ec_curve!(ec_p521, p521);

/// A PKCS#8 DER private key into a version of a key of type `t` (OpenBao's `parseFromKey` for private keys).
pub fn parse_pkcs8_private(t: KeyType, der: &[u8], entry: &mut KeyEntry) -> Result<(), OpError> {
    use rsa::pkcs8::DecodePrivateKey;
    let parse_error = |e: &dyn std::fmt::Display| user(format!("error parsing asymmetric key: {e}"));
    match t {
        KeyType::Ed25519 => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| parse_error(&e))?;
            let public = key.verifying_key().to_bytes();
            let mut full = Zeroizing::new(key.to_bytes().to_vec());
            full.extend_from_slice(&public);
            entry.key = Some(full);
            entry.public_key = encoding::encode(&public);
        }
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
            macro_rules! ec {
                ($krate:ident) => {{
                    let secret = $krate::SecretKey::from_pkcs8_der(der).map_err(|e| parse_error(&e))?;
                    entry.ec_d = Some(BigNum::from_bytes(&secret.to_bytes()));
                    let point = $krate::ecdsa::SigningKey::from(secret)
                        .verifying_key()
                        .to_sec1_point(false);
                    set_ec_public(t, entry, point.as_bytes(), "invalid public key")?;
                }};
            }
            match t {
                KeyType::EcdsaP256 => ec!(p256),
                KeyType::EcdsaP384 => ec!(p384),
                _ => ec!(p521),
            }
        }
        _ if t.is_rsa() => {
            let key = rsa::PrivateKey::from_pkcs8_der(der).map_err(|e| parse_error(&e))?;
            let bytes = t.rsa_bits() / 8;
            if key.size() != bytes {
                return Err(user(format!(
                    "invalid key size: expected {bytes} bytes, got {} bytes",
                    key.size()
                )));
            }
            let go = go_rsa_private(&key)?;
            entry.rsa_public_key = Some(super::policy::GoRsaPublicKey {
                N: go.N.clone(),
                E: go.E,
            });
            entry.rsa_key = Some(go);
        }
        _ => return Err(user(format!("invalid key type: expected {t}"))),
    }
    Ok(())
}

/// Go's `pem.Decode` of the first block: its bytes, whatever its label (`None` when there is no block).
fn pem_first_block(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(text).ok()?;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    encoding::decode(&body).ok()
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// Go's name of a parsed public key's type (in OpenBao's "invalid key type" error).
fn go_public_type(oid: &str) -> &'static str {
    match oid {
        OID_EC_PUBLIC_KEY => "*ecdsa.PublicKey",
        OID_ED25519 => "ed25519.PublicKey",
        _ => "*rsa.PublicKey",
    }
}

/// Set a version's EC public point from its uncompressed SEC1 encoding (0x04 ‖ x ‖ y), and its PEM.
fn set_ec_public(t: KeyType, entry: &mut KeyEntry, sec1: &[u8], invalid: &str) -> Result<(), OpError> {
    let coordinates = sec1
        .strip_prefix(&[4u8])
        .filter(|c| !c.is_empty() && c.len() % 2 == 0)
        .ok_or_else(|| user(invalid))?;
    let (x, y) = coordinates.split_at(coordinates.len() / 2);
    entry.ec_x = Some(BigNum::from_bytes(x));
    entry.ec_y = Some(BigNum::from_bytes(y));
    entry.public_key = public_key_pem(t, entry)?;
    Ok(())
}

/// The algorithm OID of a PKIX public key and, for an EC key, the key type of its curve.
fn spki_algorithm(der: &[u8]) -> Option<(String, Option<KeyType>)> {
    use rsa::pkcs8::der::Decode;
    use rsa::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .and_then(|c| match c.to_string().as_str() {
            "1.2.840.10045.3.1.7" => Some(KeyType::EcdsaP256),
            "1.3.132.0.34" => Some(KeyType::EcdsaP384),
            "1.3.132.0.35" => Some(KeyType::EcdsaP521),
            _ => None,
        });
    Some((spki.algorithm.oid.to_string(), curve))
}

/// Go's name of an EC key type's curve.
fn curve_name(t: KeyType) -> &'static str {
    match t {
        KeyType::EcdsaP384 => "P-384",
        KeyType::EcdsaP521 => "P-521",
        _ => "P-256",
    }
}

/// A PEM public key (PKIX) into a version of a key of type `t`, with no private part (OpenBao's public-key import:
/// `pem.Decode`, `x509.ParsePKIXPublicKey`, `parseFromKey`, with their texts).
pub fn parse_public_pem(t: KeyType, pem: &[u8], entry: &mut KeyEntry) -> Result<(), OpError> {
    use rsa::pkcs8::DecodePublicKey;
    let der = pem_first_block(pem).ok_or_else(|| user("error parsing public key: not in PEM format"))?;
    let (oid, curve) =
        spki_algorithm(&der).ok_or_else(|| user("error parsing public key: x509: malformed public key"))?;
    if !matches!(oid.as_str(), OID_EC_PUBLIC_KEY | OID_ED25519 | OID_RSA) {
        return Err(user("error parsing public key: x509: unknown public key algorithm"));
    }
    let malformed = |_| user("error parsing public key: x509: malformed public key");
    let mismatch = || user(format!("invalid key type: expected {t}, got {}", go_public_type(&oid)));
    match oid.as_str() {
        OID_EC_PUBLIC_KEY => {
            let Some(got) = curve else {
                return Err(user("error parsing public key: x509: unsupported elliptic curve"));
            };
            if !t.is_ecdsa() {
                return Err(mismatch());
            }
            if got != t {
                return Err(user(format!(
                    "invalid curve: expected {}, got {}",
                    curve_name(t),
                    curve_name(got)
                )));
            }
            macro_rules! ec {
                ($krate:ident) => {{
                    let key = $krate::ecdsa::VerifyingKey::from_public_key_der(&der).map_err(malformed)?;
                    let point = key.to_sec1_point(false);
                    set_ec_public(
                        t,
                        entry,
                        point.as_bytes(),
                        "error parsing public key: x509: malformed public key",
                    )?;
                }};
            }
            match t {
                KeyType::EcdsaP256 => ec!(p256),
                KeyType::EcdsaP384 => ec!(p384),
                _ => ec!(p521),
            }
        }
        OID_ED25519 => {
            if t != KeyType::Ed25519 {
                return Err(mismatch());
            }
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(&der).map_err(malformed)?;
            entry.public_key = encoding::encode(key.as_bytes());
        }
        _ => {
            if !t.is_rsa() {
                return Err(mismatch());
            }
            let key = rsa::PublicKey::from_public_key_der(&der).map_err(malformed)?;
            let bytes = t.rsa_bits() / 8;
            if key.size() != bytes {
                return Err(user(format!(
                    "invalid key size: expected {bytes} bytes, got {} bytes",
                    key.size()
                )));
            }
            let e = key.e().to_be_bytes();
            entry.rsa_public_key = Some(super::policy::GoRsaPublicKey {
                N: boxed_to_bignum(key.n().as_ref()),
                E: e.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b)),
            });
        }
    }
    Ok(())
}

/// The private half (PKCS#8 DER) of a version imported as a public key only (OpenBao's
/// `ImportPrivateKeyForVersion`): it must match the stored public key.
pub fn complete_private(t: KeyType, der: &[u8], entry: &mut KeyEntry) -> Result<(), OpError> {
    let mut parsed = KeyEntry::default();
    parse_pkcs8_private(t, der, &mut parsed)?;
    let matches = if t.is_rsa() {
        let public = |e: &KeyEntry| e.rsa_public_key.as_ref().map(|k| (k.N.clone(), k.E));
        parsed.rsa_public_key.is_some() && public(&parsed) == public(entry)
    } else if t.is_ecdsa() {
        parsed.ec_x.is_some() && parsed.ec_x == entry.ec_x && parsed.ec_y == entry.ec_y
    } else {
        !parsed.public_key.is_empty() && parsed.public_key.trim() == entry.public_key.trim()
    };
    if !matches {
        return Err(user("cannot import key, key pair does not match"));
    }
    entry.key = parsed.key;
    entry.ec_d = parsed.ec_d;
    entry.rsa_key = parsed.rsa_key;
    if t.is_rsa() {
        entry.rsa_public_key = parsed.rsa_public_key;
    } else {
        entry.public_key = parsed.public_key;
    }
    Ok(())
}

pub fn rsa_private_key(entry: &KeyEntry) -> Result<rsa::PrivateKey, OpError> {
    rsa_private(entry)
}

fn rsa_private(entry: &KeyEntry) -> Result<rsa::PrivateKey, OpError> {
    let key = entry
        .rsa_key
        .as_ref()
        .ok_or_else(|| internal("key version has no private key"))?;
    let n_bytes = key.N.to_bytes().ok_or_else(|| internal("invalid RSA key"))?;
    let bits = (n_bytes.len() * 8) as u32;
    let uint = |n: &BigNum| -> Result<BoxedUint, OpError> {
        let bytes = n.to_bytes().ok_or_else(|| internal("invalid RSA key"))?;
        BoxedUint::from_be_slice(&bytes, bits).map_err(|_| internal("invalid RSA key"))
    };
    let e = BoxedUint::from_be_slice(&(key.E as u64).to_be_bytes(), 64).map_err(|_| internal("invalid RSA key"))?;
    let primes = key.Primes.iter().map(uint).collect::<Result<Vec<_>, _>>()?;
    rsa::PrivateKey::from_components(uint(&key.N)?, e, uint(&key.D)?, primes).map_err(|e| internal(e.to_string()))
}

fn rsa_public(entry: &KeyEntry) -> Result<rsa::PublicKey, OpError> {
    if entry.rsa_key.is_some() {
        return Ok(rsa_private(entry)?.to_public_key());
    }
    let key = entry
        .rsa_public_key
        .as_ref()
        .ok_or_else(|| internal("key version has no public key"))?;
    let n = key.N.to_bytes().ok_or_else(|| internal("invalid RSA key"))?;
    let n = BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).map_err(|_| internal("invalid RSA key"))?;
    let e = BoxedUint::from_be_slice(&(key.E as u64).to_be_bytes(), 64).map_err(|_| internal("invalid RSA key"))?;
    rsa::PublicKey::new(n, e).map_err(|e| internal(e.to_string()))
}

fn boxed_to_bignum(n: &BoxedUint) -> BigNum {
    BigNum::from_bytes(&Zeroizing::new(n.to_be_bytes().to_vec()))
}

fn go_rsa_private(key: &rsa::PrivateKey) -> Result<GoRsaPrivateKey, OpError> {
    let e = key.e().to_be_bytes();
    let e = e.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    Ok(GoRsaPrivateKey {
        N: boxed_to_bignum(key.n().as_ref()),
        E: e,
        D: boxed_to_bignum(key.d()),
        Primes: key.primes().iter().map(|p| boxed_to_bignum(p.as_ref())).collect(),
        Precomputed: GoRsaPrecomputed {
            Dp: key.dp().map(boxed_to_bignum),
            Dq: key.dq().map(boxed_to_bignum),
            Qinv: key.crt_coefficient().map(|q| boxed_to_bignum(&q)),
            CRTValues: Some(vec![]),
        },
    })
}

/// A new asymmetric version into `entry` (OpenBao's `RotateInMemory` for these types).
pub fn generate_asymmetric(t: KeyType, entry: &mut KeyEntry) -> Result<(), OpError> {
    match t {
        KeyType::EcdsaP256 => ec_p256::generate(entry),
        KeyType::EcdsaP384 => ec_p384::generate(entry),
        KeyType::EcdsaP521 => ec_p521::generate(entry),
        KeyType::Ed25519 => {
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rng());
            let public = key.verifying_key().to_bytes();
            let mut full = Zeroizing::new(key.to_bytes().to_vec());
            full.extend_from_slice(&public);
            entry.key = Some(full);
            entry.public_key = encoding::encode(&public);
            Ok(())
        }
        _ if t.is_rsa() => {
            let key = rsa::PrivateKey::new(&mut rand::rng(), t.rsa_bits()).map_err(|e| internal(e.to_string()))?;
            entry.rsa_key = Some(go_rsa_private(&key)?);
            Ok(())
        }
        _ => Err(internal(format!("unsupported key type {t}"))),
    }
}

/// The PEM public key of an asymmetric version (what a key read shows; RSA's is computed, as OpenBao does).
pub fn public_key_pem(t: KeyType, entry: &KeyEntry) -> Result<String, OpError> {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    match t {
        KeyType::EcdsaP256 => ec_p256::public_pem(entry),
        KeyType::EcdsaP384 => ec_p384::public_pem(entry),
        KeyType::EcdsaP521 => ec_p521::public_pem(entry),
        _ if t.is_rsa() => {
            if entry.rsa_key.is_none() && entry.rsa_public_key.is_none() {
                return Ok(String::new());
            }
            rsa_public(entry)?
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| internal(e.to_string()))
        }
        _ => Ok(entry.public_key.clone()),
    }
}

/// An export format (OpenBao's `format` field): "" (the type's default), "raw", "der" or "pem".
fn pem_wrap(label: &str, der: &[u8], trim: bool) -> Zeroizing<String> {
    // Go's pem.EncodeToMemory: 64-character lines, a final newline.
    let body = encoding::encode(der);
    let mut out = Zeroizing::new(format!("-----BEGIN {label}-----\n"));
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    if trim {
        return Zeroizing::new(out.trim().to_string());
    }
    out
}

macro_rules! ec_der {
    ($krate:ident, $module:ident, $entry:expr, $private:expr) => {{
        use $krate::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let verifying = $module::verifying_key($entry)?;
        if $private {
            let d = $entry
                .ec_d
                .as_ref()
                .ok_or_else(|| internal("key version has no private key"))?;
            let raw = d.to_bytes().ok_or_else(|| internal("invalid key component"))?;
            let size = <$krate::FieldBytes>::default().len();
            let mut padded = Zeroizing::new(vec![0u8; size.saturating_sub(raw.len())]);
            padded.extend_from_slice(&raw);
            let secret = $krate::SecretKey::from_slice(&padded).map_err(|_| internal("invalid private key"))?;
            (
                Zeroizing::new(secret.to_sec1_der().map_err(|e| internal(e.to_string()))?.to_vec()),
                Zeroizing::new(
                    secret
                        .to_pkcs8_der()
                        .map_err(|e| internal(e.to_string()))?
                        .as_bytes()
                        .to_vec(),
                ),
            )
        } else {
            let der = $krate::PublicKey::from(verifying)
                .to_public_key_der()
                .map_err(|e| internal(e.to_string()))?;
            (
                Zeroizing::new(der.as_bytes().to_vec()),
                Zeroizing::new(der.as_bytes().to_vec()),
            )
        }
    }};
}

/// A version's key as `export/<type>/...` shows it in `format`, as OpenBao's `getExportKey` (`private` chooses the
/// private or public half of an asymmetric key).
pub fn export_asymmetric(
    t: KeyType,
    entry: &KeyEntry,
    private: bool,
    format: &str,
) -> Result<Zeroizing<String>, OpError> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    match t {
        KeyType::Ed25519 => {
            if private && entry.key.as_ref().is_none_or(|k| k.is_empty()) {
                return Ok(Zeroizing::new(String::new()));
            }
            if format.is_empty() || format == "raw" {
                return Ok(Zeroizing::new(if private {
                    encoding::encode(entry.key.as_deref().map(|k| &k[..]).unwrap_or_default())
                } else {
                    entry.public_key.trim().to_string()
                }));
            }
            let der: Zeroizing<Vec<u8>> = if private {
                let full = entry.key.as_deref().map(|k| &k[..]).unwrap_or_default();
                let seed: [u8; 32] = full
                    .get(..32)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| internal("invalid Ed25519 key"))?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                // Go's MarshalPKCS8PrivateKey writes the seed only (PKCS#8 v1, no public key).
                let mut der = Zeroizing::new(vec![
                    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
                ]);
                der.extend_from_slice(&key.to_bytes());
                der
            } else {
                let public = encoding::decode(entry.public_key.trim()).map_err(internal)?;
                let public: [u8; 32] = public[..]
                    .try_into()
                    .map_err(|_| internal("invalid Ed25519 public key"))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|e| internal(e.to_string()))?;
                Zeroizing::new(
                    key.to_public_key_der()
                        .map_err(|e| internal(e.to_string()))?
                        .as_bytes()
                        .to_vec(),
                )
            };
            let label = if private { "PRIVATE KEY" } else { "PUBLIC KEY" };
            Ok(match format {
                "der" => Zeroizing::new(encoding::encode(&der)),
                _ => pem_wrap(label, &der, true),
            })
        }
        _ if t.is_ecdsa() => {
            if format == "raw" {
                return Err(user(
                    "unknown key format for ec key; supported values are ``, `der`, or `pem`",
                ));
            }
            if private && entry.ec_d.is_none() {
                return Ok(Zeroizing::new(String::new()));
            }
            let (default_der, pkcs8_der) = match t {
                KeyType::EcdsaP256 => ec_der!(p256, ec_p256, entry, private),
                KeyType::EcdsaP384 => ec_der!(p384, ec_p384, entry, private),
                _ => ec_der!(p521, ec_p521, entry, private),
            };
            let (label, der) = match (private, format) {
                (true, "") => ("EC PRIVATE KEY", default_der),
                (true, _) => ("PRIVATE KEY", pkcs8_der),
                (false, _) => ("PUBLIC KEY", default_der),
            };
            Ok(match format {
                "der" => Zeroizing::new(encoding::encode(&der)),
                _ => pem_wrap(label, &der, true),
            })
        }
        _ if t.is_rsa() => {
            if format == "raw" {
                return Err(user(
                    "unknown key format for rsa key; supported values are ``, `der`, or `pem`",
                ));
            }
            let (label, der): (&str, Zeroizing<Vec<u8>>) = if private {
                if entry.is_private_key_missing() {
                    return Ok(Zeroizing::new(String::new()));
                }
                let key = rsa_private(entry)?;
                if format.is_empty() {
                    let der = key.to_pkcs1_der().map_err(|e| internal(e.to_string()))?;
                    ("RSA PRIVATE KEY", Zeroizing::new(der.as_bytes().to_vec()))
                } else {
                    let der = key.to_pkcs8_der().map_err(|e| internal(e.to_string()))?;
                    ("PRIVATE KEY", Zeroizing::new(der.as_bytes().to_vec()))
                }
            } else {
                let der = rsa_public(entry)?
                    .to_public_key_der()
                    .map_err(|e| internal(e.to_string()))?;
                ("PUBLIC KEY", Zeroizing::new(der.as_bytes().to_vec()))
            };
            // OpenBao leaves the final newline on RSA PEMs (and only on those).
            Ok(match format {
                "der" => Zeroizing::new(encoding::encode(&der)),
                _ => pem_wrap(label, &der, false),
            })
        }
        _ => Err(internal(format!("unsupported key type {t}"))),
    }
}

// ---- symmetric encryption ----

fn aead_seal(t: KeyType, key: &[u8], nonce: &[u8], msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpError> {
    let payload = Payload { msg, aad };
    let fail = |_| internal("encryption failed");
    match t {
        KeyType::Aes128Gcm96 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .encrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(fail),
        KeyType::Aes256Gcm96 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .encrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(fail),
        KeyType::ChaCha20Poly1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .encrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(fail),
        KeyType::XChaCha20Poly1305 => chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .encrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(fail),
        _ => Err(internal(format!("unsupported key type {t}"))),
    }
}

fn aead_open(t: KeyType, key: &[u8], nonce: &[u8], ct: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpError> {
    let payload = Payload { msg: ct, aad };
    // Go's texts for a failed open.
    let gcm_fail = |_| user("cipher: message authentication failed");
    let chacha_fail = |_| user("chacha20poly1305: message authentication failed");
    match t {
        KeyType::Aes128Gcm96 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .decrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(gcm_fail),
        KeyType::Aes256Gcm96 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .decrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(gcm_fail),
        KeyType::ChaCha20Poly1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .decrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(chacha_fail),
        KeyType::XChaCha20Poly1305 => chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| internal("invalid key length"))?
            .decrypt(nonce.try_into().map_err(|_| internal("invalid nonce"))?, payload)
            .map_err(chacha_fail),
        _ => Err(internal(format!("unsupported key type {t}"))),
    }
}

fn nonce_size(t: KeyType) -> usize {
    if t == KeyType::XChaCha20Poly1305 {
        24
    } else {
        12
    }
}

/// A version's key: borrowed from the stored version, or derived (and zeroized when dropped).
enum KeyBytes<'a> {
    Stored(&'a [u8]),
    Derived(Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for KeyBytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            KeyBytes::Stored(key) => key,
            KeyBytes::Derived(key) => key,
        }
    }
}

impl Policy {
    /// The key a version encrypts with: its own, or one derived from `context` (OpenBao's `GetKey`).
    pub fn get_key(&self, context: &[u8], version: i64, num_bytes: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
        Ok(match self.key_for(context, version, num_bytes)? {
            KeyBytes::Stored(key) => Zeroizing::new(key.to_vec()),
            KeyBytes::Derived(key) => key,
        })
    }

    /// [`get_key`](Self::get_key) without copying a stored key (the encrypt/decrypt hot path).
    fn key_for(&self, context: &[u8], version: i64, num_bytes: usize) -> Result<KeyBytes<'_>, OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        if !self.derived {
            let entry = self.entry(version)?;
            return Ok(KeyBytes::Stored(
                entry.key.as_deref().map(|k| &k[..]).unwrap_or_default(),
            ));
        }
        Ok(KeyBytes::Derived(self.derive_key(context, version, num_bytes)?))
    }

    fn derive_key(&self, context: &[u8], version: i64, num_bytes: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
        let t = self.key_type();
        if !t.derivation_supported() {
            return Err(user(format!("derivation not supported for key type {t}")));
        }
        if self.latest_version == 0 {
            return Err(internal("unable to access the key; no key versions found"));
        }
        if version <= 0 || version > self.latest_version {
            return Err(user("invalid key version"));
        }
        if context.is_empty() {
            return Err(user("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"));
        }
        let entry = self.entry(version)?;
        let base = entry.key.as_deref().map(|k| &k[..]).unwrap_or_default();
        match self.kdf {
            KDF_HMAC_SHA256_COUNTER => Ok(counter_mode_kdf(base, context)),
            KDF_HKDF_SHA256 => {
                let hk = hkdf::Hkdf::<Sha256>::new(None, base);
                let mut out = Zeroizing::new(vec![0u8; num_bytes]);
                hk.expand(context, &mut out[..])
                    .map_err(|_| internal("unable to read enough derived bytes"))?;
                if t == KeyType::Ed25519 {
                    // Go's ed25519.GenerateKey reads its seed from the derived bytes; the key is seed ‖ public.
                    let mut seed = Zeroizing::new([0u8; 32]);
                    seed.copy_from_slice(&out[..32]);
                    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                    let mut full = Zeroizing::new(seed.to_vec());
                    full.extend_from_slice(&key.verifying_key().to_bytes());
                    return Ok(full);
                }
                Ok(out)
            }
            _ => Err(internal("unsupported key derivation mode")),
        }
    }

    /// OpenBao's `EncryptWithFactory`: `plaintext` is base64; the answer is `vault:v<N>:<base64>`.
    pub fn encrypt(&self, version: i64, context: &[u8], plaintext: &str, aad: &[u8]) -> Result<String, OpError> {
        let plaintext = encoding::decode(plaintext).map_err(user)?;
        self.encrypt_bytes(version, context, &plaintext, aad)
    }

    /// [`encrypt`](Self::encrypt) of an already decoded plaintext.
    pub fn encrypt_bytes(&self, version: i64, context: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<String, OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        let t = self.key_type();
        if !t.encryption_supported() {
            return Err(user(format!("message encryption not supported for key type {t}")));
        }
        let version = match version {
            0 => self.latest_version,
            v if v < 0 => return Err(user("requested version for encryption is negative")),
            v if v > self.latest_version => {
                return Err(user(
                    "requested version for encryption is higher than the latest key version",
                ))
            }
            v if v < self.min_encryption_version => {
                return Err(user(
                    "requested version for encryption is less than the minimum encryption key version",
                ))
            }
            v => v,
        };
        let ciphertext = if t.is_symmetric() {
            let enc_bytes = t.key_bytes();
            let convergent = self.convergent_version_of(version);
            let hmac_bytes = if convergent > 2 { 32 } else { 0 };
            let key = self.key_for(context, version, enc_bytes + hmac_bytes)?;
            if key.len() < enc_bytes + hmac_bytes {
                return Err(internal("could not derive key, length too small"));
            }
            let nonce = if self.convergent_encryption {
                if convergent < CURRENT_CONVERGENT_VERSION && convergent > 0 {
                    return Err(user(format!(
                        "refusing to support decryption with old convergent encryption key: version {convergent}"
                    )));
                }
                if convergent != CURRENT_CONVERGENT_VERSION {
                    return Err(internal(format!("unhandled convergent version {convergent}")));
                }
                let mac = hmac_sha256(&key[enc_bytes..], plaintext);
                mac[..nonce_size(t)].to_vec()
            } else {
                random_bytes(nonce_size(t)).to_vec()
            };
            let sealed = aead_seal(t, &key[..enc_bytes], &nonce, plaintext, aad)?;
            [nonce, sealed].concat()
        } else {
            let public = rsa_public(self.entry(version)?)?;
            public
                .encrypt(&mut rand::rng(), rsa::Oaep::<Sha256>::new(), plaintext)
                .map_err(|e| internal(format!("failed to RSA encrypt the plaintext: {e}")))?
        };
        let mut out = self.version_prefix(version);
        encoding::encode_into(&ciphertext, &mut out);
        Ok(out)
    }

    /// Split `vault:v<N>:<rest>` (with the key's template); `what` names it in errors ("ciphertext", "signature").
    pub fn parse_versioned<'v>(&self, value: &'v str, what: &str) -> Result<(i64, &'v str), OpError> {
        let (before, after) = self.template_parts()?;
        let Some(rest) = value.strip_prefix(before) else {
            return Err(user(format!("invalid {what}: no prefix")));
        };
        let Some((version, body)) = rest.split_once(after).filter(|_| !after.is_empty()) else {
            return Err(user(format!("invalid {what}: wrong number of fields")));
        };
        let version: i64 =
            go_atoi(version).ok_or_else(|| user(format!("invalid {what}: version number could not be decoded")))?;
        Ok((version, body))
    }

    /// OpenBao's `DecryptWithFactory`: the plaintext, base64.
    pub fn decrypt(&self, context: &[u8], value: &str, aad: &[u8]) -> Result<Zeroizing<String>, OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        let t = self.key_type();
        if !t.encryption_supported() {
            return Err(user(format!("message decryption not supported for key type {t}")));
        }
        let (mut version, body) = self.parse_versioned(value, "ciphertext")?;
        if version == 0 {
            version = 1;
        }
        if version > self.latest_version {
            return Err(user("invalid ciphertext: version is too new"));
        }
        if self.min_decryption_version > 0 && version < self.min_decryption_version {
            return Err(user(ERR_TOO_OLD));
        }
        let convergent = self.convergent_version_of(version);
        if self.convergent_encryption && convergent < CURRENT_CONVERGENT_VERSION && convergent > 0 {
            return Err(user(format!(
                "refusing to support decryption with old convergent encryption key: version {convergent}"
            )));
        }
        let decoded = encoding::decode(body).map_err(|_| user("invalid ciphertext: could not decode base64"))?;
        let plain = if t.is_symmetric() {
            let num_bytes = t.key_bytes();
            let key = self.key_for(context, version, num_bytes)?;
            if key.len() < num_bytes {
                return Err(internal("could not derive enc key, length not correct"));
            }
            let policy_convergent = self.convergent_version;
            if self.convergent_encryption && policy_convergent < CURRENT_CONVERGENT_VERSION && policy_convergent > 0 {
                return Err(user(format!(
                    "refusing to support decryption with old convergent encryption key: version {policy_convergent}"
                )));
            }
            let n = nonce_size(t);
            if decoded.len() < n {
                return Err(user("invalid ciphertext length"));
            }
            Zeroizing::new(aead_open(t, &key[..num_bytes], &decoded[..n], &decoded[n..], aad)?)
        } else {
            let entry = self.entry(version)?;
            if entry.rsa_key.is_none() {
                return Err(internal(
                    "cannot decrypt ciphertext, key version does not have a private counterpart",
                ));
            }
            let private = rsa_private(entry)?;
            Zeroizing::new(
                private
                    .decrypt_blinded(&mut rand::rng(), rsa::Oaep::<Sha256>::new(), &decoded)
                    .map_err(|_| internal("failed to RSA decrypt the ciphertext: crypto/rsa: decryption error"))?,
            )
        };
        Ok(Zeroizing::new(encoding::encode(&plain)))
    }

    /// The HMAC key of a version (OpenBao's `HMACKey`).
    pub fn hmac_key(&self, version: i64) -> Result<Zeroizing<Vec<u8>>, OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        if version < 0 {
            return Err(user("key version does not exist (cannot be negative)"));
        }
        if version > self.latest_version {
            return Err(user(format!(
                "key version does not exist; latest key version is {}",
                self.latest_version
            )));
        }
        let entry = self.entry(version)?;
        let key = if self.key_type() == KeyType::Hmac {
            &entry.key
        } else {
            &entry.hmac_key
        };
        key.clone()
            .ok_or_else(|| user("no HMAC key exists for that key version"))
    }

    /// OpenBao's `SignWithOptions`: the versioned signature and, for derived Ed25519 keys, the public key.
    pub fn sign(
        &self,
        version: i64,
        context: &[u8],
        input: &[u8],
        options: &SignOptions,
    ) -> Result<(String, Option<Vec<u8>>), OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        let t = self.key_type();
        if !t.signing_supported() {
            return Err(internal(format!("message signing not supported for key type {t}")));
        }
        let version = match version {
            0 => self.latest_version,
            v if v < 0 => return Err(user("requested version for signing is negative")),
            v if v > self.latest_version => {
                return Err(user(
                    "requested version for signing is higher than the latest key version",
                ))
            }
            v if self.min_encryption_version > 0 && v < self.min_encryption_version => {
                return Err(user(
                    "requested version for signing is less than the minimum encryption key version",
                ))
            }
            v => v,
        };
        let entry = self.entry(version)?;
        if entry.is_private_key_missing() {
            return Err(user("requested version for signing does not contain a private part"));
        }
        let mut public = None;
        let sig = match t {
            KeyType::EcdsaP256 => ec_p256::sign(entry, input, options.marshaling)?,
            KeyType::EcdsaP384 => ec_p384::sign(entry, input, options.marshaling)?,
            KeyType::EcdsaP521 => ec_p521::sign(entry, input, options.marshaling)?,
            KeyType::Ed25519 => {
                use ed25519_dalek::Signer;
                let full = if self.derived {
                    self.get_key(context, version, 32)
                        .map_err(|e| internal(format!("error deriving key: {}", e.text())))?
                } else {
                    entry.key.clone().unwrap_or_default()
                };
                if full.len() < 32 {
                    return Err(internal("invalid Ed25519 key"));
                }
                let mut seed = Zeroizing::new([0u8; 32]);
                seed.copy_from_slice(&full[..32]);
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                if self.derived {
                    public = Some(key.verifying_key().to_bytes().to_vec());
                }
                key.sign(input).to_bytes().to_vec()
            }
            _ => rsa_sign(entry, input, options)?,
        };
        let encoded = match options.marshaling {
            Marshaling::Asn1 => encoding::encode(&sig),
            Marshaling::Jws => encoding::encode_raw_url(&sig),
        };
        Ok((format!("{}{}", self.version_prefix(version), encoded), public))
    }

    /// OpenBao's `VerifySignatureWithOptions`.
    pub fn verify(
        &self,
        context: &[u8],
        input: &[u8],
        signature: &str,
        options: &SignOptions,
    ) -> Result<bool, OpError> {
        if self.soft_deleted {
            return Err(user(ERR_SOFT_DELETED));
        }
        let t = self.key_type();
        if !t.signing_supported() {
            return Err(user(format!("message verification not supported for key type {t}")));
        }
        let (version, body) = self.parse_versioned(signature, "signature")?;
        if version > self.latest_version {
            return Err(user("invalid signature: version is too new"));
        }
        if self.min_decryption_version > 0 && version < self.min_decryption_version {
            return Err(user(ERR_TOO_OLD));
        }
        let sig = match options.marshaling {
            Marshaling::Asn1 => encoding::decode(body).ok().map(|z| z.to_vec()),
            Marshaling::Jws => encoding::decode_raw_url(body),
        }
        .ok_or_else(|| user("invalid base64 signature value"))?;
        match t {
            KeyType::EcdsaP256 => ec_p256::verify(self.entry(version)?, input, &sig, options.marshaling),
            KeyType::EcdsaP384 => ec_p384::verify(self.entry(version)?, input, &sig, options.marshaling),
            KeyType::EcdsaP521 => ec_p521::verify(self.entry(version)?, input, &sig, options.marshaling),
            KeyType::Ed25519 => {
                let public: Vec<u8> = if self.derived {
                    let full = self
                        .get_key(context, version, 32)
                        .map_err(|e| internal(format!("error deriving key: {}", e.text())))?;
                    full[32..].to_vec()
                } else {
                    encoding::decode(&self.entry(version)?.public_key)
                        .map_err(internal)?
                        .to_vec()
                };
                let Ok(public) = <[u8; 32]>::try_from(public.as_slice()) else {
                    return Err(internal("invalid Ed25519 public key"));
                };
                let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
                    return Ok(false);
                };
                let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
                    return Ok(false);
                };
                Ok(key
                    .verify_strict(input, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok())
            }
            _ => rsa_verify(self.entry(version)?, input, &sig, options),
        }
    }
}

/// Go's `strconv.Atoi` (decimal, optional sign).
pub fn go_atoi(text: &str) -> Option<i64> {
    crate::framework::parse_go_int(text, false).ok()
}

fn rsa_salt(key_bits: usize, hash: HashType, salt_length: i64) -> Result<Option<usize>, OpError> {
    let max = ((key_bits as i64 - 1 + 7) / 8) - 2 - hash.size() as i64;
    if !(SALT_EQUALS_HASH..=max).contains(&salt_length) {
        return Err(user(format!("requested salt length {salt_length} is invalid")));
    }
    Ok(match salt_length {
        SALT_AUTO => None,
        SALT_EQUALS_HASH => Some(hash.size()),
        n => Some(n as usize),
    })
}

macro_rules! with_digest {
    ($hash:expr, $d:ident => $body:expr) => {
        match $hash {
            HashType::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            HashType::Sha2_224 => {
                type $d = Sha224;
                $body
            }
            HashType::Sha2_256 => {
                type $d = Sha256;
                $body
            }
            HashType::Sha2_384 => {
                type $d = Sha384;
                $body
            }
            HashType::Sha2_512 => {
                type $d = Sha512;
                $body
            }
            HashType::Sha3_224 => {
                type $d = Sha3_224;
                $body
            }
            HashType::Sha3_256 => {
                type $d = Sha3_256;
                $body
            }
            HashType::Sha3_384 => {
                type $d = Sha3_384;
                $body
            }
            HashType::Sha3_512 => {
                type $d = Sha3_512;
                $body
            }
            HashType::None => return Err(internal("unsupported hash algorithm")),
        }
    };
}

fn rsa_sign(entry: &KeyEntry, hashed: &[u8], options: &SignOptions) -> Result<Vec<u8>, OpError> {
    let key = rsa_private(entry)?;
    let algorithm = if options.signature_algorithm.is_empty() {
        "pss"
    } else {
        &options.signature_algorithm
    };
    let mut rng = rand::rng();
    let fail = |e: rsa::Error| user(e.to_string());
    match algorithm {
        "pss" => {
            let bits = key.n().as_ref().bit_width() as usize;
            let salt = rsa_salt(bits, options.hash, options.salt_length)?;
            // Go's auto salt when signing: as long as the key allows.
            let salt = salt.unwrap_or((bits - 1).div_ceil(8) - 2 - options.hash.size());
            with_digest!(options.hash, D => key.sign_with_rng(&mut rng, rsa::Pss::<D>::new_with_salt(salt), hashed).map_err(fail))
        }
        "pkcs1v15" => {
            if options.hash == HashType::None {
                return key
                    .sign_with_rng(&mut rng, rsa::Pkcs1v15Sign::new_unprefixed(), hashed)
                    .map_err(fail);
            }
            with_digest!(options.hash, D => key.sign_with_rng(&mut rng, rsa::Pkcs1v15Sign::new::<D>(), hashed).map_err(fail))
        }
        other => Err(internal(format!("unsupported rsa signature algorithm {other}"))),
    }
}

fn rsa_verify(entry: &KeyEntry, hashed: &[u8], sig: &[u8], options: &SignOptions) -> Result<bool, OpError> {
    let key = rsa_public(entry)?;
    let algorithm = if options.signature_algorithm.is_empty() {
        "pss"
    } else {
        &options.signature_algorithm
    };
    match algorithm {
        "pss" => {
            let bits = key.n().as_ref().bit_width() as usize;
            let salt = rsa_salt(bits, options.hash, options.salt_length)?;
            with_digest!(options.hash, D => {
                let scheme = rsa::Pss::<D> { blinded: false, digest: D::new(), salt_len: salt };
                Ok(key.verify(scheme, hashed, sig).is_ok())
            })
        }
        "pkcs1v15" => {
            if options.hash == HashType::None {
                return Ok(key.verify(rsa::Pkcs1v15Sign::new_unprefixed(), hashed, sig).is_ok());
            }
            with_digest!(options.hash, D => Ok(key.verify(rsa::Pkcs1v15Sign::new::<D>(), hashed, sig).is_ok()))
        }
        other => Err(internal(format!("unsupported rsa signature algorithm {other}"))),
    }
}

/// The RSA public key of a version (its own, or the public half of its private key).
pub fn rsa_public_key(entry: &KeyEntry) -> Result<rsa::PublicKey, OpError> {
    rsa_public(entry)
}

/// A version's private key as PKCS#8 DER (what a BYOK import carries for the asymmetric types).
pub fn pkcs8_private_der(t: KeyType, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let encoded = export_asymmetric(t, entry, true, "der")?;
    if encoded.is_empty() {
        return Err(user(
            "failed to wrap target key for import: the key version has no private key",
        ));
    }
    encoding::decode(&encoded).map_err(internal)
}

/// OpenBao's `DeriveKeyECDH` after its checks: the ECDH shared secret of a version's private key and the peer's PEM
/// public key, through HKDF-SHA256 (no salt, no info) to `size` bytes.
pub fn ecdh_derive(t: KeyType, entry: &KeyEntry, peer_pem: &[u8], size: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
    use rsa::pkcs8::DecodePublicKey;
    let parse_error = |why: &str| user(format!("failed to parse supplied peer public key PEM: {why} "));
    let der = pem_first_block(peer_pem).ok_or_else(|| parse_error("data does not contain any valid public keys"))?;
    let (oid, curve) = spki_algorithm(&der).ok_or_else(|| parse_error("x509: malformed public key"))?;
    if oid != OID_EC_PUBLIC_KEY {
        if matches!(oid.as_str(), OID_ED25519 | OID_RSA) {
            return Err(user("supplied peer public key is not an ECDSA key"));
        }
        return Err(parse_error("x509: unknown public key algorithm"));
    }
    let peer_type = curve.ok_or_else(|| parse_error("x509: unsupported elliptic curve"))?;
    if peer_type != t {
        return Err(user(format!(
            "base private key type {t} does not match peer public key curve"
        )));
    }
    let d = entry
        .ec_d
        .as_ref()
        .ok_or_else(|| internal("the base key version has no private key"))?;
    let raw = d.to_bytes().ok_or_else(|| internal("invalid key component"))?;
    macro_rules! shared {
        ($krate:ident) => {{
            let field = <$krate::FieldBytes>::default().len();
            if raw.len() > field {
                return Err(internal("invalid key component"));
            }
            let mut padded = Zeroizing::new(vec![0u8; field - raw.len()]);
            padded.extend_from_slice(&raw);
            let secret = $krate::SecretKey::from_slice(&padded).map_err(|_| internal("invalid private key"))?;
            let peer =
                $krate::PublicKey::from_public_key_der(&der).map_err(|_| parse_error("x509: malformed public key"))?;
            let shared = $krate::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
            Zeroizing::new(shared.raw_secret_bytes().to_vec())
        }};
    }
    let secret = match t {
        KeyType::EcdsaP256 => shared!(p256),
        KeyType::EcdsaP384 => shared!(p384),
        KeyType::EcdsaP521 => shared!(p521),
        _ => return Err(internal("unsupported base key type for ECDH key agreement")),
    };
    let mut out = Zeroizing::new(vec![0u8; size]);
    hkdf::Hkdf::<Sha256>::new(None, &secret)
        .expand(&[], &mut out[..])
        .map_err(|_| internal("unable to read enough derived bytes"))?;
    Ok(out)
}
