//! Go's `encoding/base64` as OpenBao's clients see it: StdEncoding (its decoder accepts `\r`/`\n` anywhere and
//! non-zero trailing bits, and reports the offset of the first bad byte as "illegal base64 data at input byte N") and
//! RawURLEncoding. Shared by the engines and the system backend (transit, `sys/tools/hash`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::{Zeroize, Zeroizing};

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// [`encode`] appended to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out)
}

pub fn encode_raw_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Go's `base64.RawURLEncoding.DecodeString` (only success matters to its callers).
pub fn decode_raw_url(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    )
    .decode(cleaned)
    .ok()
}

fn value_of(byte: u8) -> Option<u32> {
    match byte {
        b'A'..=b'Z' => Some(u32::from(byte - b'A')),
        b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn corrupt(offset: usize) -> String {
    format!("illegal base64 data at input byte {offset}")
}

/// Go's `base64.StdEncoding.DecodeString`, with its error text. The output is zeroized on drop (it is often a
/// plaintext or a key).
pub fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    // The fast path: canonical input (what every client sends) through the base64 crate, which accepts a subset of
    // what Go accepts; anything else goes through Go's algorithm below for its exact error.
    let fast = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
    );
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3 + 3));
    if fast.decode_vec(text, &mut out).is_ok() {
        return Ok(out);
    }
    out.clear();
    go_decode(text, out)
}

fn go_decode(text: &str, mut out: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, String> {
    let src = text.as_bytes();
    let mut si = 0;
    let skip_newlines = |mut i: usize| {
        while i < src.len() && (src[i] == b'\n' || src[i] == b'\r') {
            i += 1;
        }
        i
    };
    while si < src.len() {
        // One quantum of up to four symbols, as Go's decodeQuantum.
        let mut buf = [0u32; 4];
        let mut len = 4;
        let mut j = 0;
        let mut trailing_garbage = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let byte = src[si];
            si += 1;
            if let Some(v) = value_of(byte) {
                buf[j] = v;
                j += 1;
                continue;
            }
            if byte == b'\n' || byte == b'\r' {
                continue;
            }
            if byte != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    si = skip_newlines(si);
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            si = skip_newlines(si);
            if si < src.len() {
                trailing_garbage = Some(si);
            }
            len = j;
            break;
        }
        let value = (buf[0] << 18) | (buf[1] << 12) | (buf[2] << 6) | buf[3];
        let bytes = [(value >> 16) as u8, (value >> 8) as u8, value as u8];
        out.extend_from_slice(&bytes[..len - 1]);
        buf.zeroize();
        if let Some(offset) = trailing_garbage {
            return Err(corrupt(offset));
        }
        if len < 4 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        assert_eq!(&decode("YQ==").unwrap()[..], b"a");
        assert_eq!(&decode("YR==").unwrap()[..], b"a");
        assert_eq!(&decode("aGVsbG8=").unwrap()[..], b"hello");
        assert_eq!(&decode("aGVs\nbG8=").unwrap()[..], b"hello");
        assert_eq!(&decode("").unwrap()[..], b"");
        assert_eq!(decode("abc").unwrap_err(), "illegal base64 data at input byte 0");
        assert_eq!(decode("YQ").unwrap_err(), "illegal base64 data at input byte 0");
        assert_eq!(decode("YQ=!").unwrap_err(), "illegal base64 data at input byte 2");
        assert_eq!(decode("!").unwrap_err(), "illegal base64 data at input byte 0");
        assert_eq!(decode("aGVsbG8=x").unwrap_err(), "illegal base64 data at input byte 8");
        assert_eq!(decode("YQ=").unwrap_err(), "illegal base64 data at input byte 3");
    }
}
