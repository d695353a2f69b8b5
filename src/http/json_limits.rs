//! OpenBao's limits on the complexity of a JSON request body (`EnforceJSONComplexityLimits` in its `http/json.go`):
//! before a body is decoded, its tokens are walked once, counting every string (object keys included) and an
//! estimate of the memory its decoded form takes; past either limit the request is refused with 400 "refused JSON
//! input due to high complexity: ...", whatever the endpoint. This is what answers a huge transit `batch_input`
//! (OpenBao's default allows 1,000 strings: a batch of 499 one-field items) before any of it is decoded, so such a
//! request costs one pass over its bytes and no allocation.
//!
//! The walk never fails on malformed JSON: it stops there and leaves the error to the decoder, which names it.

use crate::config::{DEFAULT_MAX_JSON_MEMORY, DEFAULT_MAX_JSON_STRINGS};

/// The limits; a negative one is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    pub max_memory: i64,
    pub max_strings: i64,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_memory: DEFAULT_MAX_JSON_MEMORY,
            max_strings: DEFAULT_MAX_JSON_STRINGS,
        }
    }
}

// OpenBao's estimated cost of each token (a pointer and its type, plus the value's own size).
const COST_BASE: i64 = 8 + 8;
const COST_NULL: i64 = 1;
const COST_BOOL: i64 = 1;
const COST_NUMBER: i64 = 8;
const COST_STRING: i64 = 16;
const COST_ARRAY: i64 = 8 + 8 + 8;
const COST_OBJECT: i64 = 8 + 64;

/// Refuse `body` when it exceeds `limits`, with OpenBao's text.
pub fn check(body: &[u8], limits: JsonLimits) -> Result<(), String> {
    if limits.max_memory < 0 && limits.max_strings < 0 {
        return Ok(());
    }
    let (mut memory, mut strings) = (0i64, 0i64);
    let mut i = 0;
    while i < body.len() {
        let (cost, next, is_string) = match body[i] {
            b'[' => (COST_BASE + COST_ARRAY, i + 1, false),
            b'{' => (COST_BASE + COST_OBJECT, i + 1, false),
            b'"' => {
                let Some((len, end)) = string_token(body, i + 1) else {
                    return Ok(());
                };
                (COST_BASE + COST_STRING + len as i64, end + 1, true)
            }
            b't' | b'f' => (COST_BASE + COST_BOOL, skip_word(body, i), false),
            b'n' => (COST_BASE + COST_NULL, skip_word(body, i), false),
            b'-' | b'0'..=b'9' => (COST_BASE + COST_NUMBER, skip_word(body, i), false),
            // Closing delimiters cost nothing; separators and white space are no tokens.
            b']' | b'}' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => (0, i + 1, false),
            // Anything else is malformed: the decoder says how.
            _ => return Ok(()),
        };
        i = next;
        memory += cost;
        if limits.max_memory >= 0 && memory > limits.max_memory {
            return Err(refused("exceeded maximum estimated memory limits"));
        }
        if is_string {
            strings += 1;
            if limits.max_strings >= 0 && strings > limits.max_strings {
                return Err(refused("exceeded maximum number of strings"));
            }
        }
    }
    Ok(())
}

fn refused(why: &str) -> String {
    format!("refused JSON input due to high complexity: {why}")
}

/// The decoded length of the string starting at `start` (just past its opening quote) and the index of its closing
/// quote; `None` when it does not end.
fn string_token(body: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut len = 0usize;
    let mut i = start;
    loop {
        // Plain bytes decode to themselves: skip to the next quote or escape at once.
        let plain = body.get(i..)?.iter().position(|b| *b == b'"' || *b == b'\\')?;
        len += plain;
        i += plain;
        if body[i] == b'"' {
            return Some((len, i));
        }
        if body.get(i + 1) == Some(&b'u') {
            let code = body
                .get(i + 2..i + 6)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            len += match code {
                0..=0x7f => 1,
                0x80..=0x7ff => 2,
                // A surrogate half: a pair makes 4 bytes, 2 for each half.
                0xd800..=0xdfff => 2,
                _ => 3,
            };
            i += 6;
        } else {
            len += 1;
            i += 2;
        }
    }
}

/// The index just past the literal or number starting at `start`.
fn skip_word(body: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < body.len() && matches!(body[i], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'+' | b'-') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_memory: i64, max_strings: i64) -> JsonLimits {
        JsonLimits {
            max_memory,
            max_strings,
        }
    }

    #[test]
    fn strings_are_counted_keys_included() {
        let body = br#"{"batch_input":[{"plaintext":"aGk="},{"plaintext":"aGk="}]}"#;
        assert_eq!(check(body, limits(-1, 5)), Ok(()));
        assert_eq!(
            check(body, limits(-1, 4)),
            Err("refused JSON input due to high complexity: exceeded maximum number of strings".into())
        );
    }

    #[test]
    fn memory_is_estimated_as_openbao_does() {
        // {"a":[1,true,null,"xy"]}: object 88, "a" 33, array 40, number 24, true 17, null 17, "xy" 34.
        let body = br#"{"a":[1,true,null,"xy"]}"#;
        assert_eq!(check(body, limits(253, -1)), Ok(()));
        assert_eq!(
            check(body, limits(252, -1)),
            Err("refused JSON input due to high complexity: exceeded maximum estimated memory limits".into())
        );
        // Escapes count as the bytes they decode to: "\u00e9\n" is 3 bytes.
        assert_eq!(check(br#"["\u00e9\n"]"#, limits(40 + 35, -1)), Ok(()));
        assert!(check(br#"["\u00e9\n"]"#, limits(40 + 34, -1)).is_err());
    }

    #[test]
    fn malformed_input_is_left_to_the_decoder() {
        assert_eq!(check(br#"{"a": "#, limits(1000, 1)), Ok(()));
        assert_eq!(check(b"not json", limits(1000, 1)), Ok(()));
        assert_eq!(check(br#"{"a": "unterminated"#, limits(1000, 1)), Ok(()));
    }

    #[test]
    fn negative_limits_are_none() {
        let body = format!("[{}]", vec!["\"s\""; 5000].join(","));
        assert_eq!(check(body.as_bytes(), limits(-1, -1)), Ok(()));
        assert!(check(body.as_bytes(), JsonLimits::default()).is_err());
    }
}
