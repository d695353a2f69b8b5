//! Go's `unicode.IsPrint` over whole strings. OpenBao refuses a request whose path holds anything else (400, no
//! body); this server does the same, and writes nothing else of what a client sent into its log (see
//! [`escape_non_printable`], applied to every log record).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// One character Go's `unicode.IsPrint` rejects: everything but letters, marks, numbers, punctuation, symbols and
/// the ASCII space. So control characters (NUL, newline, DEL, C1), format characters (bidirectional overrides,
/// zero-width spaces, the BOM), every other space, the line and paragraph separators, private-use and unassigned
/// code points. (The Unicode version is the regex crate's, a little newer than Go's: a character assigned in
/// between is printable here and not in OpenBao.)
static NON_PRINTABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[^\p{L}\p{M}\p{N}\p{P}\p{S} ]").expect("a constant pattern, checked by the unit tests")
});

/// Visible ASCII and the space: printable, no need to ask the regex (the common case, on every request path and
/// log record).
fn printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Every character of `text` is printable in Go's sense.
pub fn is_printable(text: &str) -> bool {
    printable_ascii(text) || !NON_PRINTABLE.is_match(text)
}

/// `text` with each non-printable character written as an escape (`\n`, `\r`, `\t`, `\u{0}`, `\u{202e}`), so what
/// a client sent can neither start a new log line nor hide or reorder what follows it. Borrowed when there is
/// nothing to escape.
pub fn escape_non_printable(text: &str) -> Cow<'_, str> {
    if printable_ascii(text) {
        return Cow::Borrowed(text);
    }
    NON_PRINTABLE.replace_all(text, |found: &regex::Captures| {
        found[0]
            .chars()
            .map(|c| c.escape_default().to_string())
            .collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_like_go() {
        // Go: unicode.IsPrint is true for each of these...
        for s in [
            "",
            "sys/mounts/a b",
            "é",
            "日本",
            "a\u{301}",
            "€",
            "%",
            "\u{fffd}",
            "😀",
            "a/b-c_d.e~f",
        ] {
            assert!(is_printable(s), "{s:?}");
        }
        // ...and false for these: C0 and C1 controls, DEL, format characters, spaces other than U+0020, line and
        // paragraph separators, private use, unassigned.
        for s in [
            "a\0b",
            "\n",
            "\r",
            "\t",
            "\x1b[31m",
            "\x7f",
            "\u{85}",
            "\u{9f}",
            "\u{ad}",
            "\u{200b}",
            "\u{202e}",
            "\u{feff}",
            "\u{a0}",
            "\u{3000}",
            "\u{2028}",
            "\u{2029}",
            "\u{e000}",
            "\u{10ffff}",
            "\u{378}",
        ] {
            assert!(!is_printable(s), "{s:?}");
        }
    }

    #[test]
    fn escapes_only_what_is_not_printable() {
        assert!(matches!(
            escape_non_printable("cubbyhole/x y"),
            Cow::Borrowed("cubbyhole/x y")
        ));
        assert_eq!(
            escape_non_printable("cubbyhole/x\n[fake line]"),
            "cubbyhole/x\\n[fake line]"
        );
        assert_eq!(
            escape_non_printable("a\0b\r\t\x1b\u{202e}\u{2028}é\\"),
            "a\\u{0}b\\r\\t\\u{1b}\\u{202e}\\u{2028}é\\"
        );
    }
}
