//! Transit's encodings: Go's base64 (from `crate::framework::encoding`, re-exported here for the engine's modules)
//! and `math/big.Int` as a JSON number (the decimal text of a key component in OpenBao's stored keys and backups).

use zeroize::Zeroizing;

pub use crate::framework::encoding::{decode, decode_raw_url, encode, encode_into, encode_raw_url};

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
