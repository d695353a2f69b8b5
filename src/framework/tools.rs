//! OpenBao's key-less tools, written once for the two places that serve them: `sys/tools/hash` and
//! `sys/tools/random` (the system backend) and the transit engine's `hash` and `random` paths. OpenBao runs the same
//! code behind both (`random.HandleRandomAPI`, and `pathHashWrite` twice, differing only in transit answering
//! "input missing" without an `input`), so the fields, bounds, error texts and warnings are the same here too.
//! Also the hash functions transit signs and HMACs with ([`HashType`]).

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};
use zeroize::Zeroizing;

use super::encoding;
use super::fields::{field, go_quote, parse_go_int, FieldDefault, Fields, Kind, Schema};
use crate::logical::{Error, Response};

/// OpenBao's `HashType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    None,
    Sha1,
    Sha2_224,
    Sha2_256,
    Sha2_384,
    Sha2_512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashType {
    pub fn parse(name: &str) -> Option<HashType> {
        Some(match name {
            "none" => HashType::None,
            "sha1" => HashType::Sha1,
            "sha2-224" => HashType::Sha2_224,
            "sha2-256" => HashType::Sha2_256,
            "sha2-384" => HashType::Sha2_384,
            "sha2-512" => HashType::Sha2_512,
            "sha3-224" => HashType::Sha3_224,
            "sha3-256" => HashType::Sha3_256,
            "sha3-384" => HashType::Sha3_384,
            "sha3-512" => HashType::Sha3_512,
            _ => return None,
        })
    }

    /// The digest of `data`; `None` for `none`.
    pub fn digest(self, data: &[u8]) -> Option<Vec<u8>> {
        Some(match self {
            HashType::None => return None,
            HashType::Sha1 => sha1::Sha1::digest(data).to_vec(),
            HashType::Sha2_224 => Sha224::digest(data).to_vec(),
            HashType::Sha2_256 => Sha256::digest(data).to_vec(),
            HashType::Sha2_384 => Sha384::digest(data).to_vec(),
            HashType::Sha2_512 => Sha512::digest(data).to_vec(),
            HashType::Sha3_224 => Sha3_224::digest(data).to_vec(),
            HashType::Sha3_256 => Sha3_256::digest(data).to_vec(),
            HashType::Sha3_384 => Sha3_384::digest(data).to_vec(),
            HashType::Sha3_512 => Sha3_512::digest(data).to_vec(),
        })
    }

    pub fn size(self) -> usize {
        match self {
            HashType::None => 0,
            HashType::Sha1 => 20,
            HashType::Sha2_224 | HashType::Sha3_224 => 28,
            HashType::Sha2_256 | HashType::Sha3_256 => 32,
            HashType::Sha2_384 | HashType::Sha3_384 => 48,
            HashType::Sha2_512 | HashType::Sha3_512 => 64,
        }
    }

    /// HMAC of `data` under `key`; `None` for `none`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        macro_rules! mac {
            ($d:ty) => {{
                let mut m = <Hmac<$d> as hmac::KeyInit>::new_from_slice(key).ok()?;
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }};
        }
        Some(match self {
            HashType::None => return None,
            HashType::Sha1 => mac!(sha1::Sha1),
            HashType::Sha2_224 => mac!(Sha224),
            HashType::Sha2_256 => mac!(Sha256),
            HashType::Sha2_384 => mac!(Sha384),
            HashType::Sha2_512 => mac!(Sha512),
            HashType::Sha3_224 => mac!(Sha3_224),
            HashType::Sha3_256 => mac!(Sha3_256),
            HashType::Sha3_384 => mac!(Sha3_384),
            HashType::Sha3_512 => mac!(Sha3_512),
        })
    }
}

/// The fields of a hash request (OpenBao's `tools/hash` and transit's `hash`).
pub const HASH_FIELDS: Schema = &[
    field("input", Kind::Str).desc("The base64-encoded input data"),
    field("algorithm", Kind::Str).desc("Algorithm to use (POST body parameter). Valid values are: * sha2-224 * sha2-256 * sha2-384 * sha2-512 * sha3-224 * sha3-256 * sha3-384 * sha3-512 Defaults to \"sha2-256\".").default(FieldDefault::Str("sha2-256")),
    field("urlalgorithm", Kind::Str).desc("Algorithm to use (POST URL parameter)"),
    field("format", Kind::Str).desc("Encoding format to use. Can be \"hex\" or \"base64\". Defaults to \"base64\".").default(FieldDefault::Str("hex")),
];

/// The fields of a random request (OpenBao's `tools/random` and transit's `random`).
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

/// Most bytes one random request returns (OpenBao's `random.APIMaxBytes`).
pub const RANDOM_MAX_BYTES: i64 = 128 * 1024;

/// Whether a hash request must carry `input`: transit's answers "input missing" without one, `sys/tools/hash`
/// hashes the empty input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Required,
    Optional,
}

fn invalid(text: impl Into<String>) -> Error {
    Error::InvalidRequest(text.into())
}

fn answer(key: &str, text: String, warnings: Vec<String>) -> Response {
    let mut data = Map::new();
    data.insert(key.into(), json!(text));
    Response {
        warnings,
        ..Response::with_data(data)
    }
}

/// A hash request: the digest of the base64 `input` under `url_algorithm` (the path's) or the `algorithm` field
/// (default `sha2-256`; an empty or null one is refused, as OpenBao), as hex (default) or base64. The fields are
/// expected validated against [`HASH_FIELDS`].
pub fn hash(data: &Map<String, Value>, url_algorithm: &str, input: Input) -> Result<Response, Error> {
    let f = Fields::new(data, HASH_FIELDS);
    if input == Input::Required && !data.contains_key("input") {
        return Err(invalid("input missing"));
    }
    let text = f.str("input").unwrap_or_default();
    let format = f.str("format").unwrap_or_else(|| "hex".into());
    let algorithm = if url_algorithm.is_empty() {
        f.str("algorithm").unwrap_or_else(|| "sha2-256".into())
    } else {
        url_algorithm.to_string()
    };
    let input = encoding::decode(&text).map_err(|e| invalid(format!("unable to decode input as base64: {e}")))?;
    if format != "hex" && format != "base64" {
        return Err(invalid(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    let sum = match HashType::parse(&algorithm) {
        Some(h) if !matches!(h, HashType::None | HashType::Sha1) => h.digest(&input).unwrap_or_default(),
        _ => return Err(invalid(format!("unsupported algorithm {algorithm}"))),
    };
    let text = if format == "hex" {
        hex::encode(sum)
    } else {
        encoding::encode(&sum)
    };
    Ok(answer("sum", text, f.warnings(&["urlalgorithm"])))
}

/// OpenBao's `GenericNameRegex`: `\w([\w-.]*\w)?` with ASCII word characters.
fn is_generic_name(text: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(&first), Some(&last)) => {
            word(first) && word(last) && text.bytes().all(|b| word(b) || b == b'-' || b == b'.')
        }
        _ => false,
    }
}

/// What OpenBao's pattern `random(/<GenericNameRegex source>)?(/(?P<urlbytes>.+))?` captures from the part of the
/// path after `random` (`""`, or starting with `/`): `(source, urlbytes)`, either possibly empty; `None` when the
/// pattern does not match. Like Go's regexp, the longest source that lets the rest match wins, and a segment that
/// cannot be a source (`-3`, `abc-`) becomes part of `urlbytes`.
pub fn random_captures(rest: &str) -> Option<(&str, &str)> {
    if rest.is_empty() {
        return Some(("", ""));
    }
    let after = rest.strip_prefix('/')?;
    let segment = after.split('/').next().unwrap_or("");
    for end in (1..=segment.len()).rev() {
        if !after.is_char_boundary(end) {
            continue;
        }
        let (source, tail) = after.split_at(end);
        if !is_generic_name(source) {
            continue;
        }
        if tail.is_empty() {
            return Some((source, ""));
        }
        if let Some(bytes) = tail.strip_prefix('/').filter(|b| !b.is_empty()) {
            return Some((source, bytes));
        }
    }
    (!after.is_empty()).then_some(("", after))
}

/// A random request: `bytes` (default 32, at most [`RANDOM_MAX_BYTES`]) random bytes as base64 (default) or hex.
/// `source_seg` and `bytes_seg` are what the path captured ([`random_captures`]); as OpenBao, a lone segment is a
/// source when it names one and a byte count otherwise, and the body's `source` is never read (the path's capture
/// replaces it, with a warning). `seal` and `all` use the platform's generator: there is no seal entropy source.
/// The fields are expected validated against [`RANDOM_FIELDS`].
pub fn random(data: &Map<String, Value>, source_seg: &str, bytes_seg: &str) -> Result<Response, Error> {
    let f = Fields::new(data, RANDOM_FIELDS);
    let body_bytes = || f.int("bytes").unwrap_or(32);
    let atoi = |text: &str| {
        parse_go_int(text, false).map_err(|why| {
            invalid(format!(
                "error parsing url-set byte count: strconv.Atoi: parsing {}: {why}",
                go_quote(text)
            ))
        })
    };
    let valid_source = matches!(source_seg, "platform" | "seal" | "all");
    let (source, count) = if source_seg.is_empty() {
        ("platform", body_bytes())
    } else if bytes_seg.is_empty() && valid_source {
        (source_seg, body_bytes())
    } else if bytes_seg.is_empty() {
        ("platform", atoi(source_seg)?)
    } else {
        (source_seg, atoi(bytes_seg)?)
    };
    let format = f.str("format").unwrap_or_else(|| "base64".into());
    if count < 1 {
        return Err(invalid("'bytes' cannot be less than 1"));
    }
    if count > RANDOM_MAX_BYTES {
        return Err(invalid(format!("'bytes' should be less than {RANDOM_MAX_BYTES}")));
    }
    if format != "hex" && format != "base64" {
        return Err(invalid(format!(
            "unsupported encoding format {}; must be \"hex\" or \"base64\"",
            go_quote(&format)
        )));
    }
    let mut warnings = Vec::new();
    match source {
        "platform" | "all" => {}
        "seal" => warnings.push("no seal/entropy augmentation available, using platform entropy source".into()),
        other => {
            return Err(invalid(format!(
                "unsupported entropy source {}; must be \"platform\" or \"seal\", or \"all\"",
                go_quote(other)
            )))
        }
    }
    let mut bytes = Zeroizing::new(vec![0u8; count as usize]);
    rand::fill(&mut bytes[..]);
    let text = if format == "hex" {
        hex::encode(&bytes[..])
    } else {
        encoding::encode(&bytes)
    };
    warnings.extend(f.warnings(&["source", "urlbytes"]));
    Ok(answer("random_bytes", text, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn error(result: Result<Response, Error>) -> String {
        match result {
            Err(Error::InvalidRequest(text)) => text,
            other => panic!("expected a 400, got {:?}", other.map(|r| r.data)),
        }
    }

    fn field(result: Result<Response, Error>, key: &str) -> String {
        let response = result.unwrap_or_else(|e| panic!("{e:?}"));
        response.data.unwrap()[key].as_str().unwrap().to_string()
    }

    #[test]
    fn random_captures_follow_openbaos_regexp() {
        assert_eq!(random_captures(""), Some(("", "")));
        assert_eq!(random_captures("/seal"), Some(("seal", "")));
        assert_eq!(random_captures("/8"), Some(("8", "")));
        assert_eq!(random_captures("/seal/8"), Some(("seal", "8")));
        assert_eq!(random_captures("/platform/4/5"), Some(("platform", "4/5")));
        assert_eq!(random_captures("/-3"), Some(("", "-3")));
        assert_eq!(random_captures("/abc-/5"), Some(("", "abc-/5")));
        assert_eq!(random_captures("/a.b/5"), Some(("a.b", "5")));
        assert_eq!(random_captures("/é8/2"), Some(("", "é8/2")));
        assert_eq!(random_captures("/aé/2"), Some(("", "aé/2")));
        assert_eq!(random_captures("/"), None);
        assert_eq!(random_captures("x"), None);
    }

    #[test]
    fn random_bounds_sources_and_formats() {
        let empty = Map::new();
        assert_eq!(field(random(&empty, "", ""), "random_bytes").len(), 44);
        assert_eq!(field(random(&empty, "8", ""), "random_bytes").len(), 12);
        let hex = body(json!({"format": "hex"}));
        assert_eq!(field(random(&hex, "all", "5"), "random_bytes").len(), 10);
        let seal = random(&body(json!({"source": "x"})), "seal", "").unwrap();
        assert_eq!(
            seal.warnings,
            vec![
                "no seal/entropy augmentation available, using platform entropy source".to_string(),
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: \
                 [source]"
                    .to_string()
            ]
        );
        assert_eq!(error(random(&empty, "all", "0")), "'bytes' cannot be less than 1");
        assert_eq!(
            error(random(&empty, "all", "131073")),
            "'bytes' should be less than 131072"
        );
        assert!(random(&empty, "all", "131072").is_ok());
        assert_eq!(
            error(random(&body(json!({"bytes": null})), "", "")),
            "'bytes' cannot be less than 1"
        );
        assert_eq!(
            error(random(&empty, "abc", "")),
            "error parsing url-set byte count: strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            error(random(&empty, "all", "99999999999999999999")),
            "error parsing url-set byte count: strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            error(random(&empty, "abc", "8")),
            "unsupported entropy source \"abc\"; must be \"platform\" or \"seal\", or \"all\""
        );
        assert_eq!(
            error(random(&body(json!({"format": ""})), "", "")),
            "unsupported encoding format \"\"; must be \"hex\" or \"base64\""
        );
    }

    #[test]
    fn hash_algorithms_formats_and_errors() {
        let hello = body(json!({"input": "aGVsbG8="}));
        let sum = |algorithm: &str| field(hash(&hello, algorithm, Input::Optional), "sum");
        assert_eq!(
            sum(""),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(sum("sha2-224").len(), 56);
        assert_eq!(sum("sha2-384").len(), 96);
        assert_eq!(sum("sha2-512").len(), 128);
        assert_eq!(
            sum("sha3-256"),
            "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392"
        );
        assert_eq!(sum("sha3-224").len(), 56);
        assert_eq!(sum("sha3-384").len(), 96);
        assert_eq!(sum("sha3-512").len(), 128);
        for refused in ["sha1", "none", "md5", "sha2-512/224", "sha2-512/256"] {
            assert_eq!(
                error(hash(&hello, refused, Input::Optional)),
                format!("unsupported algorithm {refused}")
            );
        }
        let b64 = body(json!({"input": "aGVsbG8=", "format": "base64", "algorithm": "sha3-256"}));
        assert_eq!(
            field(hash(&b64, "", Input::Optional), "sum"),
            "Mzi+aU9QxfM4gUmGzfBoZFOoiLhPQk15KvS5ICOY85I="
        );
        let empty = Map::new();
        assert_eq!(
            field(hash(&empty, "", Input::Optional), "sum"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(error(hash(&empty, "", Input::Required)), "input missing");
        assert!(hash(&body(json!({"input": null})), "", Input::Required).is_ok());
        assert_eq!(
            error(hash(
                &body(json!({"input": "aGVsbG8=", "algorithm": ""})),
                "",
                Input::Optional
            )),
            "unsupported algorithm "
        );
        assert_eq!(
            error(hash(&body(json!({"input": "!!", "format": "x"})), "", Input::Optional)),
            "unable to decode input as base64: illegal base64 data at input byte 0"
        );
        assert_eq!(
            error(hash(
                &body(json!({"input": "aGVsbG8=", "format": "x"})),
                "",
                Input::Optional
            )),
            "unsupported encoding format x; must be \"hex\" or \"base64\""
        );
    }
}
