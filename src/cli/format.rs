//! Output as the reference CLI prints it: the `Key  Value` tables (columnize), Go's `%v` of decoded JSON values,
//! Go's `json.MarshalIndent` (HTML-escaped), YAML as `sigs.k8s.io/yaml` (go-yaml v2) writes it, durations, and
//! the text wrapping of warnings (minimal raggedness, as `kr/text`).

use std::fmt::Write as _;
use std::io::Write;

use serde_json::Value;

/// Column delimiter that is never part of a value (the reference's "hope delimiter").
pub const HOPE_DELIM: &str = "♨";

/// Where output goes. Errors may be held back (with `-output-curl-string` they are replaced by the curl command).
pub struct Ui {
    pub format: String,
    pub hold_errors: bool,
    held: Vec<u8>,
}

impl Ui {
    pub fn new(format: &str) -> Ui {
        Ui {
            format: format.to_string(),
            hold_errors: false,
            held: Vec::new(),
        }
    }

    /// A line on stdout.
    pub fn output(&mut self, s: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.write_all(b"\n");
    }

    /// Text on stdout without a newline.
    pub fn raw(&mut self, s: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    /// A line on stderr.
    pub fn error(&mut self, s: &str) {
        if self.hold_errors {
            self.held.extend_from_slice(s.as_bytes());
            self.held.push(b'\n');
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(s.as_bytes());
        let _ = err.write_all(b"\n");
    }

    pub fn warn(&mut self, s: &str) {
        self.error(s)
    }

    pub fn take_held(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }

    pub fn is_table(&self) -> bool {
        self.format == "table"
    }
}

/// Go's `fmt` `%v` of a value decoded from JSON (numbers as their JSON text).
pub fn go_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item);
            }
            out.push(']');
        }
    }
}

/// Go's `%q` of a `[]string`.
pub fn go_q_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| super::flags::go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// The reference's `humanDuration`: Go's duration text without the trailing zero units.
pub fn human_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut s = super::flags::go_duration_string(secs.saturating_mul(1_000_000_000));
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(idx) = s.find("h0m") {
        if idx > 0 {
            s = format!("{}{}", &s[..idx + 1], &s[idx + 3..]);
        }
    }
    s
}

/// `humanDurationInt`: an integer number of seconds as a duration; anything else unchanged.
pub fn human_duration_value(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Value::String(human_duration(i)),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

pub fn looks_like_duration(k: &str) -> bool {
    k == "period"
        || k.ends_with("_period")
        || k == "ttl"
        || k.ends_with("_ttl")
        || k == "duration"
        || k.ends_with("_duration")
        || k == "lease_max"
        || k == "ttl_max"
}

/// `columnize.Format` with the reference's settings: glue of four spaces, empty cells shown as `n/a`, the whole
/// result trimmed.
pub fn columnize(lines: &[String], delim: &str) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            l.split(delim)
                .map(|c| {
                    let c = c.trim();
                    if c.is_empty() {
                        "n/a".to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            let w = c.chars().count();
            if i >= widths.len() {
                widths.push(w);
            } else if w > widths[i] {
                widths[i] = w;
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if i == row.len() - 1 {
                out.push_str(c);
                out.push('\n');
            } else {
                out.push_str(c);
                for _ in c.chars().count()..widths[i] {
                    out.push(' ');
                }
                out.push_str("    ");
            }
        }
    }
    out.trim().to_string()
}

/// `tableOutput`: the first row is the header, underlined with dashes.
pub fn table_output(list: &[String], delim: &str) -> String {
    if list.is_empty() {
        return String::new();
    }
    let headers: Vec<&str> = list[0].split(delim).collect();
    let underline = headers
        .iter()
        .map(|h| "-".repeat(h.trim().len()))
        .collect::<Vec<_>>()
        .join(delim);
    let mut rows = Vec::with_capacity(list.len() + 1);
    rows.push(list[0].clone());
    rows.push(underline);
    rows.extend_from_slice(&list[1..]);
    columnize(&rows, delim)
}

/// Rows of `key ♨ value` for a map, sorted by key, durations made human (the reference's `OutputMap`).
pub fn map_rows(map: &serde_json::Map<String, Value>) -> Vec<String> {
    map.iter()
        .map(|(k, v)| {
            let v = if looks_like_duration(k) {
                human_duration_value(v)
            } else {
                v.clone()
            };
            format!("{k} {HOPE_DELIM} {}", go_v(&v))
        })
        .collect()
}

/// The reference's `OutputMap` in table form (nothing for an empty map).
pub fn map_table(map: &serde_json::Map<String, Value>) -> Option<String> {
    if map.is_empty() {
        return None;
    }
    let mut out = vec![format!("Key{HOPE_DELIM}Value")];
    out.extend(map_rows(map));
    Some(table_output(&out, HOPE_DELIM))
}

/// Go's `json.MarshalIndent(v, "", "  ")`: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out
}

fn write_json(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_json(out, item, depth + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                indent(out, depth + 1);
                write_json_string(out, k);
                out.push_str(": ");
                write_json(out, item, depth + 1);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

/// An object with its fields in the given order, as Go's `MarshalIndent` writes a struct.
pub fn go_json_ordered(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{\n");
    let n = fields.len();
    for (i, (k, v)) in fields.iter().enumerate() {
        out.push_str("  ");
        write_json_string(&mut out, k);
        out.push_str(": ");
        out.push_str(&go_json(v).replace('\n', "\n  "));
        if i + 1 < n {
            out.push(',');
        }
        out.push('\n');
    }
    out.push('}');
    out
}

/// The same fields as one map (YAML sorts keys anyway).
pub fn ordered_to_value(fields: &[(&str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Compact Go JSON (what `json.Marshal` sends as a request body).
pub fn go_json_compact(v: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, v);
    out
}

fn write_compact(out: &mut String, v: &Value) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_compact(out, item);
            }
            out.push('}');
        }
        other => write_json(out, other, 0),
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// YAML as the reference prints it (`sigs.k8s.io/yaml`, i.e. go-yaml v2 over the JSON form), without the trailing
/// newline.
pub fn go_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_yaml_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_yaml_seq(&mut out, a, 0),
        other => {
            out.push_str(&yaml_scalar(other, 0));
            out.push('\n');
        }
    }
    out.trim().to_string()
}

fn write_yaml_map(out: &mut String, m: &serde_json::Map<String, Value>, depth: usize) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by(|a, b| yaml_key_order(a, b));
    for k in keys {
        let v = &m[k];
        indent(out, depth);
        out.push_str(&yaml_string(k, depth));
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_yaml_map(out, inner, depth + 1);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                // go-yaml v2 writes a sequence under a key at the key's own indentation.
                write_yaml_seq(out, items, depth);
            }
            other => {
                out.push(' ');
                out.push_str(&yaml_scalar(other, depth + 1));
                out.push('\n');
            }
        }
    }
}

fn write_yaml_seq(out: &mut String, items: &[Value], depth: usize) {
    for item in items {
        indent(out, depth);
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                write_yaml_map(&mut nested, inner, depth + 1);
                // The first key goes on the dash's line.
                let trimmed = nested.trim_start_matches(' ');
                out.push_str(trimmed);
            }
            Value::Array(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                write_yaml_seq(&mut nested, inner, depth + 1);
                out.push_str(nested.trim_start_matches(' '));
            }
            other => {
                out.push_str(&yaml_scalar(other, depth + 1));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(v: &Value, depth: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s, depth),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// go-yaml v2's ordering of map keys: letters after other characters, runs of digits compared as numbers.
fn yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.saturating_mul(10).saturating_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.saturating_mul(10).saturating_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Would go-yaml v2 read this plain scalar as something other than a string?
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
        "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", "<<",
    ];
    if s.is_empty() || WORDS.contains(&s) {
        return true;
    }
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['-', '+']).unwrap_or(&plain);
    if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return true;
        }
    }
    if let Some(bin) = body.strip_prefix("0b") {
        if !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1') {
            return true;
        }
    }
    if body.parse::<f64>().is_ok() && body.chars().any(|c| c.is_ascii_digit()) && !body.contains(['i', 'n', 'I', 'N']) {
        return true;
    }
    // Base-60 floats (`1:20`) and timestamps (`2001-12-14`, `2001-12-14T21:59:43.10Z`).
    if body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
    {
        return true;
    }
    let b = s.as_bytes();
    if b.len() >= 8 && b[4] == b'-' && b[..4].iter().all(u8::is_ascii_digit) {
        let date_end = s.find(['T', 't', ' ']).unwrap_or(s.len());
        let date = &s[..date_end];
        let parts: Vec<&str> = date.split('-').collect();
        if parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            return date_end == s.len() || chrono::DateTime::parse_from_rfc3339(s).is_ok() || s.len() > date_end;
        }
    }
    false
}

fn yaml_plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with('\t') {
        return false;
    }
    if matches!(
        first,
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`'
    ) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && (second.is_none() || second == Some(' ')) {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars().all(|c| c == ' ' || (!c.is_control() && c != '\u{feff}'))
}

fn yaml_string(s: &str, depth: usize) -> String {
    if s.contains('\n') {
        // Literal block, indented one level deeper than its key; `|-` strips the final newline.
        let chomp = if s.ends_with('\n') { "|" } else { "|-" };
        let mut out = String::from(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(&mut out, depth.max(1));
                out.push_str(line);
            }
        }
        return out;
    }
    if !resolves_to_non_string(s) && yaml_plain_allowed(s) {
        return s.to_string();
    }
    if resolves_to_non_string(s) && !s.is_empty() && yaml_plain_allowed(s) || s.is_empty() {
        // go-yaml v2 asks for a double-quoted scalar when the plain one would change type.
        let mut out = String::new();
        write_json_string(&mut out, s);
        return out
            .replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&");
    }
    if s.chars().all(|c| !c.is_control()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::new();
    write_json_string(&mut out, s);
    out
}

/// `kr/text`'s `Wrap`: words into lines of at most `lim` runes with minimal raggedness.
pub fn wrap(s: &str, lim: usize) -> String {
    let replaced = s.trim().replace('\n', " ");
    let words: Vec<&str> = replaced.split(' ').collect();
    let n = words.len();
    let lim = lim as i64;
    let lens: Vec<i64> = words.iter().map(|w| w.chars().count() as i64).collect();
    // length(i, j) = runes of words i..=j joined by single spaces.
    let length = |i: usize, j: usize| -> i64 { lens[i..=j].iter().sum::<i64>() + (j - i) as i64 };
    let mut nbrk = vec![0usize; n];
    let mut cost = vec![i64::from(i32::MAX); n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= lim {
            cost[i] = 0;
            nbrk[i] = n;
        } else {
            for j in i + 1..n {
                let d = lim - length(i, j - 1);
                let mut c = d * d + cost[j];
                if length(i, j - 1) > lim {
                    c += 100_000;
                }
                if c < cost[i] {
                    cost[i] = c;
                    nbrk[i] = j;
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        let end = nbrk[i].max(i + 1);
        lines.push(words[i..end].join(" "));
        i = end;
    }
    lines.join("\n")
}

/// `wrapAtLengthWithPadding`: wrapped at 78 columns minus `pad`, each line indented by `pad`.
pub fn wrap_at_length_with_padding(s: &str, pad: usize) -> String {
    let wrapped = wrap(s, 78 - pad);
    wrapped
        .split('\n')
        .map(|l| format!("{}{l}", " ".repeat(pad)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn wrap_at_length(s: &str) -> String {
    wrap_at_length_with_padding(s, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_value_formatting() {
        let v = json!({"created_time": "t", "custom_metadata": null, "deletion_time": "", "destroyed": false, "version": 1, "l": ["a", 2]});
        assert_eq!(
            go_v(&v),
            "map[created_time:t custom_metadata:<nil> deletion_time: destroyed:false l:[a 2] version:1]"
        );
    }

    #[test]
    fn tables_like_columnize() {
        let rows = vec![
            format!("Key{HOPE_DELIM}Value"),
            format!("created_time {HOPE_DELIM} x"),
            format!("deletion_time {HOPE_DELIM} "),
        ];
        assert_eq!(
            table_output(&rows, HOPE_DELIM),
            "Key              Value\n---              -----\ncreated_time     x\ndeletion_time    n/a"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(60), "1m");
        assert_eq!(human_duration(2764800), "768h");
        assert_eq!(human_duration(3601), "1h1s");
        assert_eq!(human_duration(90), "1m30s");
    }

    #[test]
    fn json_like_go() {
        let v = json!({"b": "<x&y>", "a": [], "c": {}});
        assert_eq!(
            go_json(&v),
            "{\n  \"a\": [],\n  \"b\": \"\\u003cx\\u0026y\\u003e\",\n  \"c\": {}\n}"
        );
    }

    #[test]
    fn yaml_like_go_yaml_v2() {
        let v = json!({"a": "x: y", "b": "true", "c": "123", "d": "", "e": "-x", "f": "multi\nline", "g": "1.5",
            "h": "2026-12-03T16:35:45.150956261Z", "i": "yes", "j": " lead", "k": "it's", "l": "#c", "m": "a#b",
            "n": null, "o": ["root"], "p": {"version": "2"}});
        assert_eq!(
            go_yaml(&v),
            "a: 'x: y'\nb: \"true\"\nc: \"123\"\nd: \"\"\ne: -x\nf: |-\n  multi\n  line\ng: \"1.5\"\nh: \"2026-12-03T16:35:45.150956261Z\"\ni: \"yes\"\nj: ' lead'\nk: it's\nl: '#c'\nm: a#b\n\"n\": null\no:\n- root\np:\n  version: \"2\""
        );
    }

    #[test]
    fn wraps_like_kr_text() {
        let s = "The token was not stored in token helper. Set the BAO_TOKEN environment variable or pass the token below with each request to Vault.";
        assert_eq!(
            wrap_at_length(s),
            "The token was not stored in token helper. Set the BAO_TOKEN environment\nvariable or pass the token below with each request to Vault."
        );
    }
}
