//! Go's encodings as transit's clients see them: `encoding/base64`'s StdEncoding (its decoder accepts `\r`/`\n`
//! anywhere and non-zero trailing bits, and reports the offset of the first bad byte as "illegal base64 data at
//! input byte N"), and `math/big.Int` as a JSON number (the decimal text of a key component in OpenBao's stored
//! keys and backups).

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

/// A `big.Int`'s decimal text as big-endian bytes (no leading zeros); `None` for anything but digits.
pub fn decimal_to_bytes(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(text.len() / 2 + 1));
    for digit in text.bytes() {
        let mut carry = u32::from(digit - b'0');
        for byte in out.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            out.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    Some(out)
}

/// Big-endian bytes as a `big.Int`'s decimal text.
pub fn bytes_to_decimal(bytes: &[u8]) -> Zeroizing<String> {
    let mut work: Zeroizing<Vec<u8>> = Zeroizing::new(bytes.iter().copied().skip_while(|b| *b == 0).collect());
    let mut digits: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    while !work.is_empty() {
        let mut remainder = 0u32;
        for byte in work.iter_mut() {
            let v = (remainder << 8) | u32::from(*byte);
            *byte = (v / 10) as u8;
            remainder = v % 10;
        }
        digits.push(b'0' + remainder as u8);
        let zeros = work.iter().take_while(|b| **b == 0).count();
        work.drain(..zeros);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    Zeroizing::new(String::from_utf8_lossy(&digits).into_owned())
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

    #[test]
    fn big_ints_round_trip() {
        let text = "110817919766113837349124841022821673125033728967078039449965925614811105281348";
        let bytes = decimal_to_bytes(text).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes_to_decimal(&bytes)[..], text);
        assert_eq!(&decimal_to_bytes("65537").unwrap()[..], &[1, 0, 1]);
        assert_eq!(bytes_to_decimal(&[]).as_str(), "0");
        assert!(decimal_to_bytes("-1").is_none());
    }
}
