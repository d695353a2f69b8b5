//! OpenBao's request-field conventions for the secrets engines and the mount endpoints, so bad input gets the same
//! error text: typed fields decoded as Go's `mapstructure` weak decoding does (a JSON number is its text, `"1"` is a
//! true bool, `true` is the integer 1), durations as `parseutil.ParseDurationSecond`, Go's `time.Duration` and
//! RFC 3339 formatting, and the "unrecognized parameters" warning.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::{Map, Value};

use crate::logical::{Error, Operation, Response};

/// A field's type, as OpenBao's `framework.FieldType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Str,
    /// `map[string]interface{}`.
    Map,
    /// `map[string]string`, or a list of `k=v` strings.
    KvPairs,
    /// A list of integers, or a comma-separated string of them.
    CommaInts,
    /// A list of strings, or a comma-separated string of them.
    CommaStrings,
    /// A list of strings; a single string is a list of one (OpenBao's `TypeStringSlice`: no comma split).
    Strings,
    /// Seconds, from a number or a Go duration; negative values refused.
    Duration,
    /// Seconds, from a number or a Go duration; negative values allowed.
    SignedDuration,
    /// Any JSON value, decoded by the handler (OpenBao's `TypeSlice` of maps read through `d.Raw`, e.g. `batch_input`).
    Raw,
}

/// A field's default as documented (OpenBao's `FieldSchema.Default`); handlers apply their defaults themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldDefault {
    Bool(bool),
    Int(i64),
    Str(&'static str),
}

/// One field of a path: its name and type (what the decoder needs) and what the OpenAPI document shows of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub description: &'static str,
    pub default: Option<FieldDefault>,
    pub required: bool,
    pub deprecated: bool,
    /// Read from the query string of a GET (an OpenAPI query parameter rather than a body field).
    pub query: bool,
}

/// A field named `name` of type `kind`, undocumented; the builder methods add the rest.
pub const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        description: "",
        default: None,
        required: false,
        deprecated: false,
        query: false,
    }
}

impl Field {
    pub const fn desc(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    pub const fn default(mut self, default: FieldDefault) -> Self {
        self.default = Some(default);
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    pub const fn query(mut self) -> Self {
        self.query = true;
        self
    }
}

/// A path's fields.
pub type Schema = &'static [Field];

/// Two lists of fields as one, at compile time: a path's own fields and shared ones (`TOKEN_FIELD_LIST`). `N` must
/// be `A + B` (a compile error otherwise).
pub const fn concat_fields<const A: usize, const B: usize, const N: usize>(a: [Field; A], b: [Field; B]) -> [Field; N] {
    assert!(A + B == N, "concat_fields: N must be A + B");
    let mut out = [field("", Kind::Str); N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    out
}

/// Go's type name of a JSON value as decoded by OpenBao (numbers stay `json.Number`).
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

fn unconvertible(name: &str, expected: &str, value: &Value) -> String {
    format!(
        "'{name}' expected type '{expected}', got unconvertible type '{}'",
        go_type(value)
    )
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(text, base, 64)` for base 10 or 0 (prefixes `0x`, `0o`, `0b`, a leading `0` for octal,
/// underscores between digits). The error is the part after `strconv.ParseInt: parsing "...": `.
pub fn parse_go_int(text: &str, base_zero: bool) -> Result<i64, &'static str> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if base_zero {
        let lower = body.to_ascii_lowercase();
        if lower.starts_with("0x") {
            (16, &body[2..])
        } else if lower.starts_with("0o") {
            (8, &body[2..])
        } else if lower.starts_with("0b") {
            (2, &body[2..])
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        }
    } else {
        (10, body)
    };
    let cleaned: String = if base_zero && (radix != 10 || digits.contains('_')) {
        if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
            return Err("invalid syntax");
        }
        digits.chars().filter(|c| *c != '_').collect()
    } else {
        digits.to_string()
    };
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_digit(radix)) {
        return Err("invalid syntax");
    }
    let magnitude = u128::from_str_radix(&cleaned, radix).map_err(|_| "value out of range")?;
    let value = if negative {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    i64::try_from(value).map_err(|_| "value out of range")
}

fn weak_bool(name: &str, value: &Value) -> Result<bool, String> {
    let fail = || format!("'{name}' cannot parse value as 'bool': strconv.ParseBool: invalid syntax");
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => parse_bool(&n.to_string()).ok_or_else(fail),
        Value::String(s) if s.is_empty() => Ok(false),
        Value::String(s) => parse_bool(s).ok_or_else(fail),
        other => Err(unconvertible(name, "bool", other)),
    }
}

fn weak_int(name: &str, value: &Value) -> Result<i64, String> {
    let fail = |why: &str| format!("'{name}' cannot parse value as 'int': strconv.ParseInt: {why}");
    match value {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None if n.is_u64() => Err(fail("value out of range")),
            None => Err(fail("invalid syntax")),
        },
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => parse_go_int(s, true).map_err(fail),
        other => Err(unconvertible(name, "int", other)),
    }
}

fn weak_string(name: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        other => Err(unconvertible(name, "string", other)),
    }
}

fn weak_map(name: &str, value: &Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        // Go's weak decoding merges a list of maps into one map.
        Value::Array(items) if items.iter().all(Value::is_object) => {
            let mut merged = Map::new();
            for item in items {
                if let Value::Object(m) = item {
                    merged.extend(m.clone());
                }
            }
            Ok(merged)
        }
        other => Err(unconvertible(name, "map[string]interface {}", other)),
    }
}

fn decoding_failed(errors: Vec<String>) -> String {
    format!(
        "decoding failed due to the following error(s):\n\n{}",
        errors.join("\n")
    )
}

fn kv_pairs(field: &str, value: &Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => {
            if m.values().all(|v| !v.is_array() && !v.is_object()) {
                return m.iter().map(|(k, v)| Ok((k.clone(), weak_string("", v)?))).collect();
            }
            Err(decoding_failed(vec![unconvertible("[0]", "string", value)]))
        }
        Value::Array(items) => {
            let mut out = BTreeMap::new();
            let mut errors = Vec::new();
            let mut texts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match weak_string(&format!("[{i}]"), item) {
                    Ok(t) => texts.push(t),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                return Err(decoding_failed(errors));
            }
            for (i, text) in texts.iter().enumerate() {
                match text.split_once('=') {
                    Some((k, v)) if !k.is_empty() => {
                        out.insert(k.to_string(), v.to_string());
                    }
                    _ => return Err(format!("invalid key pair at index {i} in field {field:?}")),
                }
            }
            Ok(out)
        }
        _ => Err(format!("invalid key pair at index 0 in field {field:?}")),
    }
}

fn comma_ints(value: &Value) -> Result<Vec<i64>, String> {
    let items: Vec<Value> = match value {
        Value::Null => vec![],
        Value::Number(n) => vec![Value::String(n.to_string())],
        Value::String(s) if s.is_empty() => vec![],
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_string())).collect(),
        Value::Array(items) => items.clone(),
        Value::Object(m) if m.is_empty() => vec![],
        Value::Bool(_) => vec![value.clone()],
        other => {
            return Err(format!(
                "'' source data must be an array or slice, got {}",
                go_type(other)
            ))
        }
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match weak_int(&format!("[{i}]"), item) {
            Ok(v) => out.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(decoding_failed(errors))
    }
}

fn comma_strings(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(vec![]),
        Value::String(s) if s.is_empty() => Ok(vec![]),
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| weak_string(&format!("[{i}]"), v).map(|s| s.trim().to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| decoding_failed(vec![e])),
        other => Ok(vec![weak_string("", other)?]),
    }
}

/// OpenBao's `TypeStringSlice`: weak decoding into `[]string`, a lone value becoming a list of one.
fn string_slice(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| weak_string(&format!("[{i}]"), v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| decoding_failed(vec![e])),
        // Go's weak decoding wraps a lone value in a list and decodes that.
        other => weak_string("[0]", other)
            .map(|s| vec![s])
            .map_err(|e| decoding_failed(vec![e])),
    }
}

/// Go's `strconv.Quote` for the ASCII text that appears in duration errors.
pub(crate) fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig;
    let mut negative = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            negative = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let bytes = s.as_bytes();
        if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let int_part: i128 = if int_len > 0 {
            s[..int_len].parse::<i128>().map_err(|_| invalid())?
        } else {
            0
        };
        if int_part > i64::MAX as i128 {
            return Err(invalid());
        }
        s = &s[int_len..];
        let mut frac_digits = "";
        let mut has_frac = false;
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            frac_digits = &rest[..n];
            has_frac = n > 0;
            s = &rest[n..];
        }
        if int_len == 0 && !has_frac {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ))
            }
        };
        let mut value = int_part * scale;
        if !frac_digits.is_empty() {
            let digits: String = frac_digits.chars().take(18).collect();
            let frac: i128 = digits.parse().unwrap_or(0);
            value += frac * scale / 10i128.pow(digits.len() as u32);
        }
        total += value;
        if total > i64::MAX as i128 {
            return Err(invalid());
        }
    }
    Ok(if negative { -total } else { total })
}

/// OpenBao's `parseutil.ParseDurationSecond`: whole seconds from a number, `"300"`, `"2d"` or a Go duration.
/// `Ok(None)` for a JSON null (an absent value).
pub fn parse_duration_second(value: &Value) -> Result<Option<i64>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("could not parse duration from input".into()),
    };
    if text.is_empty() {
        return Ok(Some(0));
    }
    // As parseutil: a count of seconds or days must fit Go's `time.Duration` (int64 nanoseconds).
    let in_range = |count: i64, unit_ns: i64| {
        count
            .checked_mul(unit_ns)
            .map(|_| Some(count.saturating_mul(unit_ns / 1_000_000_000)))
            .ok_or_else(|| DURATION_OVERFLOW.to_string())
    };
    if let Ok(secs) = parse_go_int(&text, false) {
        return in_range(secs, 1_000_000_000);
    }
    if let Some(days) = text.strip_suffix('d') {
        let days =
            parse_go_int(days, false).map_err(|why| format!("strconv.ParseInt: parsing {}: {why}", go_quote(days)))?;
        return in_range(days, 86_400_000_000_000);
    }
    parse_go_duration(&text).map(|ns| Some((ns / 1_000_000_000) as i64))
}

/// parseutil's error for a count of seconds or days past Go's `time.Duration` range.
pub const DURATION_OVERFLOW: &str = "multiplication of durations resulted in overflow, one operand may be too large";

/// Go's `time.Duration.String()` for whole seconds: `0s`, `45s`, `1m30s`, `1h0m0s`, `-1s`.
pub fn go_duration_string(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let u = secs.unsigned_abs();
    let (h, m, s) = (u / 3600, (u / 60) % 60, u % 60);
    if u < 60 {
        format!("{sign}{s}s")
    } else if u < 3600 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{h}h{m}m{s}s")
    }
}

/// Go's `time.RFC3339Nano` of Unix nanoseconds in UTC (fraction without trailing zeros).
pub fn rfc3339_nano(ns: i64) -> String {
    let mut out = Vec::with_capacity(30);
    write_rfc3339_nano(&mut out, ns);
    // ASCII only.
    String::from_utf8_lossy(&out).into_owned()
}

/// [`rfc3339_nano`], appended to `out`. The date and time of day are remembered per thread for the last second
/// written: this runs twice for every audited request, and most of them fall in the second before.
pub fn write_rfc3339_nano(out: &mut Vec<u8>, ns: i64) {
    use std::cell::RefCell;
    thread_local! {
        static LAST_SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let (second, mut frac) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    LAST_SECOND.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            last.1 = seconds_text(ns);
            last.0 = second;
        }
        out.extend_from_slice(last.1.as_bytes());
    });
    if frac != 0 {
        let mut digits = [b'0'; 9];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        let significant = digits.iter().rposition(|d| *d != b'0').map_or(0, |i| i + 1);
        out.push(b'.');
        out.extend_from_slice(&digits[..significant]);
    }
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS` of the second `ns` falls in.
fn seconds_text(ns: i64) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // Written field by field: a strftime pattern is parsed on each use.
    let t = Utc.timestamp_nanos(ns);
    let mut out = String::with_capacity(20);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out
}

/// Unix nanoseconds now.
pub fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A field's decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Bool(bool),
    Int(i64),
    Str(String),
    Map(Map<String, Value>),
    KvPairs(BTreeMap<String, String>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    /// `None`: a JSON null duration (treated as absent).
    Secs(Option<i64>),
    Raw(Value),
}

/// Decode one value as a field of `kind` (OpenBao's weak decoding); the error is the part after OpenBao's
/// "error converting input for field ...: ".
pub fn decode(field: &str, kind: Kind, value: &Value) -> Result<Decoded, String> {
    Ok(match kind {
        Kind::Bool => Decoded::Bool(weak_bool("", value)?),
        Kind::Int => Decoded::Int(weak_int("", value)?),
        Kind::Str => Decoded::Str(weak_string("", value)?),
        Kind::Map => Decoded::Map(weak_map("", value)?),
        Kind::KvPairs => Decoded::KvPairs(kv_pairs(field, value)?),
        Kind::CommaInts => Decoded::Ints(comma_ints(value)?),
        Kind::CommaStrings => Decoded::Strings(comma_strings(value)?),
        Kind::Strings => Decoded::Strings(string_slice(value)?),
        Kind::Raw => Decoded::Raw(value.clone()),
        Kind::Duration | Kind::SignedDuration => {
            let secs = parse_duration_second(value)?;
            if kind == Kind::Duration {
                if let Some(s) = secs.filter(|s| *s < 0) {
                    return Err(format!("cannot provide negative value '{s}'"));
                }
            }
            Decoded::Secs(secs)
        }
    })
}

/// Whether `value` decodes as `kind` ([`decode`]'s error if not), without copying what always decodes (a raw value,
/// a string): validation must not copy a large body (a transit batch, a plaintext) once more.
fn check(field: &str, kind: Kind, value: &Value) -> Result<(), String> {
    match (kind, value) {
        (Kind::Raw, _) => Ok(()),
        (Kind::Str, Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => Ok(()),
        _ => decode(field, kind, value).map(|_| ()),
    }
}

/// A request's data read through a path's schema, as OpenBao's `framework.FieldData`.
pub struct Fields<'a> {
    data: &'a Map<String, Value>,
    schema: Schema,
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a Map<String, Value>, schema: Schema) -> Self {
        Fields { data, schema }
    }

    /// Check every field in the schema decodes. `prefixed` adds OpenBao's "Field validation failed: " (its request
    /// handler does; the existence check before a create or update does not).
    pub fn validate(&self, prefixed: bool) -> Result<(), Error> {
        for Field { name, kind, .. } in self.schema {
            if let Some(value) = self.data.get(*name) {
                if let Err(why) = check(name, *kind, value) {
                    let message = format!("error converting input for field {name:?}: {why}");
                    return Err(Error::InvalidRequest(if prefixed {
                        format!("Field validation failed: {message}")
                    } else {
                        message
                    }));
                }
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<Decoded> {
        let kind = self.schema.iter().find(|f| f.name == name).map(|f| f.kind)?;
        let value = self.data.get(name)?;
        decode(name, kind, value).ok()
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|d| d != Decoded::Secs(None))
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Decoded::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Decoded::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Decoded::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn map(&self, name: &str) -> Option<Map<String, Value>> {
        match self.get(name)? {
            Decoded::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn kv_pairs(&self, name: &str) -> Option<BTreeMap<String, String>> {
        match self.get(name)? {
            Decoded::KvPairs(m) => Some(m),
            _ => None,
        }
    }

    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        match self.get(name)? {
            Decoded::Ints(v) => Some(v),
            _ => None,
        }
    }

    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            Decoded::Strings(v) => Some(v),
            _ => None,
        }
    }

    pub fn secs(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Decoded::Secs(s) => s,
            _ => None,
        }
    }

    /// OpenBao's warnings for a response with a body: body fields outside the schema are ignored, and fields the
    /// path captured (e.g. `path`) replace body fields of the same name.
    pub fn warnings(&self, captured: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let ignored: Vec<&str> = self
            .data
            .keys()
            .map(String::as_str)
            .filter(|k| !self.schema.iter().any(|f| f.name == *k))
            .collect();
        if let Some(warning) = ignored_parameters_warning(&ignored) {
            out.push(warning);
        }
        let replaced: Vec<&str> = captured
            .iter()
            .copied()
            .filter(|c| self.data.get(*c).is_some_and(|v| !v.is_null()))
            .collect();
        if !replaced.is_empty() {
            out.push(format!(
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
                replaced.join(" ")
            ));
        }
        out
    }
}

/// OpenBao's warning for body parameters an endpoint does not take (the one place it is written).
pub fn ignored_parameters_warning(ignored: &[&str]) -> Option<String> {
    (!ignored.is_empty()).then(|| {
        format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        )
    })
}

/// OpenBao refuses writes to a path ending in `/` before anything else looks at them.
pub fn refuse_write_to_folder(op: Operation, path: &str) -> Result<(), Error> {
    if path.ends_with('/') && matches!(op, Operation::Create | Operation::Update | Operation::Patch) {
        return Err(Error::InvalidRequest("cannot write to a path ending in '/'".into()));
    }
    Ok(())
}

/// `path` as a folder to list: `a` becomes `a/`; the mount root stays empty.
pub fn as_folder(path: &str) -> String {
    if path.is_empty() || path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

/// A LIST answer: 404 when there is nothing, else `{"keys": [...]}` with the request's warnings.
pub fn keys_response(keys: Vec<String>, warnings: Vec<String>) -> Result<Response, Error> {
    if keys.is_empty() {
        return Err(Error::NotFound);
    }
    let mut data = Map::new();
    data.insert("keys".into(), Value::from(keys));
    Ok(Response {
        warnings,
        ..Response::with_data(data)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_go_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_go_duration("-5s").unwrap(), -5_000_000_000);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        assert_eq!(parse_go_duration("x").unwrap_err(), "time: invalid duration \"x\"");
        assert_eq!(
            parse_go_duration("1.5").unwrap_err(),
            "time: missing unit in duration \"1.5\""
        );
        assert_eq!(
            parse_go_duration("1w").unwrap_err(),
            "time: unknown unit \"w\" in duration \"1w\""
        );
        assert_eq!(parse_duration_second(&json!("2d")).unwrap(), Some(172_800));
        assert_eq!(parse_duration_second(&json!(300)).unwrap(), Some(300));
        // Go's time.Duration holds 9223372036.854775807 s.
        assert_eq!(
            parse_duration_second(&json!(9_223_372_036i64)).unwrap(),
            Some(9_223_372_036)
        );
        assert_eq!(parse_duration_second(&json!("2562047h")).unwrap(), Some(9_223_369_200));
        assert_eq!(parse_duration_second(&json!("106751d")).unwrap(), Some(9_223_286_400));
        for overflow in [
            json!(9_223_372_037i64),
            json!("10000000000"),
            json!("106752d"),
            json!(i64::MAX),
        ] {
            assert_eq!(
                parse_duration_second(&overflow).unwrap_err(),
                DURATION_OVERFLOW,
                "{overflow}"
            );
        }
        assert_eq!(
            parse_duration_second(&json!("2562048h")).unwrap_err(),
            "time: invalid duration \"2562048h\""
        );
        assert_eq!(
            parse_duration_second(&json!(u64::MAX)).unwrap_err(),
            "time: invalid duration \"18446744073709551615\""
        );
        assert_eq!(parse_duration_second(&json!("")).unwrap(), Some(0));
        assert_eq!(parse_duration_second(&json!(null)).unwrap(), None);
        assert_eq!(
            parse_duration_second(&json!("bad")).unwrap_err(),
            "strconv.ParseInt: parsing \"ba\": invalid syntax"
        );
        assert_eq!(
            parse_duration_second(&json!(true)).unwrap_err(),
            "could not parse duration from input"
        );
    }

    #[test]
    fn duration_strings_and_times() {
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(45), "45s");
        assert_eq!(go_duration_string(90), "1m30s");
        assert_eq!(go_duration_string(3600), "1h0m0s");
        assert_eq!(go_duration_string(-1), "-1s");
        assert_eq!(rfc3339_nano(1_700_000_000_120_000_000), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339_nano(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            rfc3339_nano(1_700_000_000_000_000_001),
            "2023-11-14T22:13:20.000000001Z"
        );
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
        // The remembered second is replaced when another second comes, and is not reused across it.
        let mut out = Vec::new();
        for ns in [
            1_700_000_000_500_000_000,
            1_700_000_001_000_000_000,
            1_700_000_000_000_000_007,
        ] {
            write_rfc3339_nano(&mut out, ns);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-11-14T22:13:20.5Z 2023-11-14T22:13:21Z 2023-11-14T22:13:20.000000007Z "
        );
    }

    #[test]
    fn weak_decoding_like_mapstructure() {
        const SCHEMA: Schema = &[
            field("b", Kind::Bool),
            field("i", Kind::Int),
            field("m", Kind::Map),
            field("o", Kind::KvPairs),
            field("v", Kind::CommaInts),
        ];
        let schema = SCHEMA;
        let data = json!({"b": "t", "i": true, "m": [], "o": ["a=b"], "v": "1,2"});
        let data = data.as_object().unwrap();
        let f = Fields::new(data, schema);
        f.validate(true).unwrap();
        assert_eq!(f.bool("b"), Some(true));
        assert_eq!(f.int("i"), Some(1));
        assert_eq!(f.map("m"), Some(Map::new()));
        assert_eq!(f.ints("v"), Some(vec![1, 2]));
        let bad = |field: &str, value: Value| {
            let mut m = Map::new();
            m.insert(field.into(), value);
            match Fields::new(&m, schema).validate(true) {
                Err(Error::InvalidRequest(e)) => e,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            bad("b", json!(2)),
            "Field validation failed: error converting input for field \"b\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
        );
        assert_eq!(
            bad("i", json!([1])),
            "Field validation failed: error converting input for field \"i\": '' expected type 'int', got unconvertible type '[]interface {}'"
        );
        assert_eq!(
            bad("m", json!(5)),
            "Field validation failed: error converting input for field \"m\": '' expected type 'map[string]interface {}', got unconvertible type 'json.Number'"
        );
        assert_eq!(
            bad("o", json!("x")),
            "Field validation failed: error converting input for field \"o\": invalid key pair at index 0 in field \"o\""
        );
        assert_eq!(
            bad("v", json!("1, 2")),
            "Field validation failed: error converting input for field \"v\": decoding failed due to the following error(s):\n\n'[1]' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        );
        assert_eq!(parse_go_int("0x10", true), Ok(16));
        assert_eq!(parse_go_int("99999999999999999999", true), Err("value out of range"));
    }
}
