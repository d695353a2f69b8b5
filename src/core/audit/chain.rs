//! Tamper evidence for a device's entries (not in OpenBao; opt-in with the device option `hmac_chain = "true"`, so
//! entries stay OpenBao's by default). Each entry ends with `"chain":"<hex>"`: HMAC-SHA256, under a key derived from
//! the device's salt, of the previous entry's chain value followed by the entry as written without that field. The
//! chain runs over the device's whole history: across restarts (it resumes from the last entry of the file) and
//! across rotated files (verify them in order). Removing, editing, reordering or inserting an entry breaks the chain
//! at that line; cutting entries off the end of the newest file cannot be told from entries not yet written.
//!
//! Threat model: someone who can write the audit file but does not hold the chain key (kept behind the barrier,
//! exported only to a root token through `sys/audit-chain-key/:path`) cannot change the record undetected, except by
//! truncating its end. Whoever holds the key (or the unsealed server) can rewrite the chain.

use hmac::Mac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const LINK_LEN: usize = 32;
/// The chain value before a device's first entry.
pub const GENESIS: [u8; LINK_LEN] = [0; LINK_LEN];
const FIELD: &[u8] = b",\"chain\":\"";

/// The chain key of a device: derived from its salt, so exporting it reveals nothing of the HMACs of entries.
pub fn chain_key(salt: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut mac = match <HmacSha256 as hmac::KeyInit>::new_from_slice(salt) {
        Ok(mac) => mac,
        Err(_) => return Zeroizing::new(vec![0; LINK_LEN]),
    };
    mac.update(b"vault audit chain key");
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

fn link(key: &[u8], previous: &[u8; LINK_LEN], unchained: &[u8]) -> [u8; LINK_LEN] {
    let mut out = [0u8; LINK_LEN];
    if let Ok(mut mac) = <HmacSha256 as hmac::KeyInit>::new_from_slice(key) {
        mac.update(previous);
        mac.update(unchained);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Add the chain field to `line` (an entry ending in `}\n`); returns the new chain value.
pub fn seal_line(key: &[u8], previous: &[u8; LINK_LEN], line: &mut Vec<u8>) -> [u8; LINK_LEN] {
    let body_len = line.len().saturating_sub(1);
    let value = link(key, previous, &line[..body_len]);
    // `{...}` becomes `{...,"chain":"<hex>"}`.
    line.truncate(body_len.saturating_sub(1));
    line.extend_from_slice(FIELD);
    line.extend_from_slice(hex::encode(value).as_bytes());
    line.extend_from_slice(b"\"}\n");
    value
}

/// Split a chained line (without its newline) into the entry as it was before sealing and its chain value.
fn open_line(line: &[u8]) -> Option<(Vec<u8>, [u8; LINK_LEN])> {
    let tail_len = FIELD.len() + 2 * LINK_LEN + 2;
    if line.len() < tail_len + 1 || !line.ends_with(b"\"}") {
        return None;
    }
    let (head, tail) = line.split_at(line.len() - tail_len);
    if !tail.starts_with(FIELD) {
        return None;
    }
    let hex_value = &tail[FIELD.len()..FIELD.len() + 2 * LINK_LEN];
    let mut value = [0u8; LINK_LEN];
    hex::decode_to_slice(hex_value, &mut value).ok()?;
    let mut unchained = head.to_vec();
    unchained.push(b'}');
    Some((unchained, value))
}

/// The chain value a line ends with, if it is a chained entry (to resume a chain from a file's last line).
pub fn last_link(line: &[u8]) -> Option<[u8; LINK_LEN]> {
    open_line(line.strip_suffix(b"\n").unwrap_or(line)).map(|(_, v)| v)
}

/// Verify `lines` in order, starting from `previous`: `Err(n)` names the first (1-based) line that does not link.
pub fn verify<'a>(
    key: &[u8],
    mut previous: [u8; LINK_LEN],
    lines: impl IntoIterator<Item = &'a [u8]>,
) -> Result<usize, usize> {
    let mut count = 0;
    for (index, line) in lines.into_iter().enumerate() {
        let (unchained, value) = open_line(line).ok_or(index + 1)?;
        let expected = link(key, &previous, &unchained);
        if !bool::from(expected.ct_eq(&value)) {
            return Err(index + 1);
        }
        previous = value;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chained(key: &[u8], entries: &[&str]) -> Vec<Vec<u8>> {
        let mut previous = GENESIS;
        entries
            .iter()
            .map(|e| {
                let mut line = format!("{e}\n").into_bytes();
                previous = seal_line(key, &previous, &mut line);
                line.pop();
                line
            })
            .collect()
    }

    fn all(lines: &[Vec<u8>]) -> Vec<&[u8]> {
        lines.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn detects_edits_deletions_and_reordering() {
        let key = chain_key(&[9u8; 32]);
        let lines = chained(&key, &[r#"{"a":1}"#, r#"p{"b":"x"}"#, r#"{"c":[1,2]}"#, r#"{"d":{}}"#]);
        assert_eq!(verify(&key, GENESIS, all(&lines)), Ok(4));
        let v: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
        assert_eq!(v["a"], 1);
        assert!(v["chain"].as_str().unwrap().len() == 64);
        let mut edited = lines.clone();
        edited[1] = String::from_utf8(edited[1].clone())
            .unwrap()
            .replace("\"x\"", "\"y\"")
            .into_bytes();
        assert_eq!(verify(&key, GENESIS, all(&edited)), Err(2));
        let mut deleted = lines.clone();
        deleted.remove(2);
        assert_eq!(verify(&key, GENESIS, all(&deleted)), Err(3));
        let mut swapped = lines.clone();
        swapped.swap(0, 1);
        assert_eq!(verify(&key, GENESIS, all(&swapped)), Err(1));
        assert_eq!(verify(&chain_key(&[1u8; 32]), GENESIS, all(&lines)), Err(1));
        // Resuming from a file's last line continues the chain.
        assert_eq!(last_link(&lines[3]), open_line(&lines[3]).map(|(_, v)| v));
        assert_eq!(verify(&key, last_link(&lines[1]).unwrap(), all(&lines[2..])), Ok(2));
    }
}
