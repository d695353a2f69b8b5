//! Go-style command-line flags, as the reference CLI parses them (Go's `flag` package): `-name=value`,
//! `-name value`, `--name` alike; bool flags take no separate value (`-f`, `-f=false`); parsing stops at the
//! first argument that is not a flag (or after `--`), so flags must come before positional arguments. Error
//! texts are Go's, byte for byte.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::env;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Bool,
    Str,
    Int,
    Duration,
    /// Repeatable; each occurrence appends (trimmed). The environment default is comma-separated.
    Slice,
    /// Repeatable `key=value`.
    Map,
    /// Comma-separated paths of PGP public key files, read when the flag is parsed (the reference's
    /// `PubKeyFilesFlag`): each becomes its base64 text. Given once only.
    PgpKeys,
    /// One PGP public key file (`PubKeyFileFlag`).
    PgpKey,
}

#[derive(Clone, Debug)]
pub struct Def {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    /// Environment variable (reference name, `BAO_...`; `VAULT_...` is read too).
    pub env: Option<&'static str>,
    pub usage: &'static str,
}

pub const fn flag(name: &'static str, kind: Kind, default: &'static str, usage: &'static str) -> Def {
    Def {
        name,
        aliases: &[],
        kind,
        default,
        env: None,
        usage,
    }
}

impl Def {
    pub const fn env(mut self, var: &'static str) -> Def {
        self.env = Some(var);
        self
    }
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Def {
        self.aliases = aliases;
        self
    }
}

#[derive(Clone, Debug)]
enum Val {
    Bool(bool),
    Str(String),
    Int(i64),
    Duration(i64),
    Slice(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// Parsed flags: the values (defaults, then environment, then the command line) and the positional arguments.
pub struct Flags {
    defs: Vec<Def>,
    values: HashMap<&'static str, Val>,
    set: Vec<&'static str>,
    pub args: Vec<String>,
}

/// Go's `time.ParseDuration` plus the reference's extensions (`parseutil.ParseDurationSecond`): a bare integer is
/// seconds, `Nd` is days. Returns nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n.saturating_mul(1_000_000_000));
    }
    if let Some(days) = s.strip_suffix('d') {
        return days
            .parse::<i64>()
            .map(|d| d.saturating_mul(86_400_000_000_000))
            .map_err(|_| format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(days)));
    }
    go_parse_duration(s)
}

/// Go's `time.ParseDuration` (nanoseconds).
pub fn go_parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        if num_end == 0 {
            return Err(invalid());
        }
        let number: f64 = s[..num_end].parse().map_err(|_| invalid())?;
        s = &s[num_end..];
        let unit_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {}", go_quote(orig))),
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ))
            }
        };
        total += number * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

/// Go's `time.Duration.String()` for nanoseconds.
pub fn go_duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: the reference prints ns, µs or ms with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1u64)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let frac_ns = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total % 3600) / 60;
        let s = secs_total % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        if frac_ns > 0 {
            let f = format!("{frac_ns:09}");
            out.push('.');
            out.push_str(f.trim_end_matches('0'));
        }
        out.push('s');
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let digits = div.to_string().len() - 1;
    let f = format!("{rem:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `strconv.Quote` (what `%q` prints) for a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if crate::printable::is_printable(c.encode_utf8(&mut [0; 4])) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// One entry of a PGP key flag as the reference reads it: a file (optionally `@file`) whose text is used as is
/// when it is base64, else base64-encoded. (Armored keys are sent encoded whole; Keybase lookups are not made.)
fn read_pgp_file(entry: &str) -> Result<String, String> {
    use base64::Engine;
    let path = entry.trim();
    if let Some(user) = path.strip_prefix("keybase:") {
        return Err(format!("keybase user {} not found", go_quote(user)));
    }
    let path = path.strip_prefix('@').unwrap_or(path);
    if path.is_empty() {
        return Err("empty path".into());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("open {path}: {}", io_error_text(&e)))?;
    let text = String::from_utf8_lossy(&bytes);
    if base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .is_ok()
    {
        return Ok(text.into_owned());
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(&bytes))
}

/// An I/O error as Go's `os` package words it.
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {}: invalid syntax", go_quote(s))),
    }
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = if matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        ) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        format!("strconv.ParseInt: parsing {}: {why}", go_quote(s))
    })
}

impl Flags {
    /// Parse `args` against `defs`. Environment defaults are read first, as the reference does when it declares
    /// its flags.
    pub fn parse(defs: Vec<Def>, args: &[String]) -> Result<Flags, String> {
        let mut flags = Flags {
            defs,
            values: HashMap::new(),
            set: Vec::new(),
            args: Vec::new(),
        };
        for def in flags.defs.clone() {
            let mut value = match def.kind {
                Kind::Bool => Val::Bool(def.default == "true"),
                Kind::Str => Val::Str(def.default.to_string()),
                Kind::Int => Val::Int(def.default.parse().unwrap_or(0)),
                Kind::Duration => Val::Duration(parse_duration(def.default).unwrap_or(0)),
                Kind::Slice | Kind::PgpKeys | Kind::PgpKey => Val::Slice(Vec::new()),
                Kind::Map => Val::Map(BTreeMap::new()),
            };
            if let Some(var) = def.env.and_then(env::lookup) {
                match def.kind {
                    Kind::Bool => {
                        if let Ok(b) = parse_bool(&var) {
                            value = Val::Bool(b)
                        }
                    }
                    Kind::Str => value = Val::Str(var),
                    Kind::Int => {
                        if let Ok(i) = parse_int(&var) {
                            value = Val::Int(i)
                        }
                    }
                    Kind::Duration => {
                        if let Ok(d) = parse_duration(&var) {
                            value = Val::Duration(d)
                        }
                    }
                    Kind::Slice => value = Val::Slice(var.split(',').map(|s| s.trim().to_string()).collect()),
                    Kind::Map | Kind::PgpKeys | Kind::PgpKey => {}
                }
            }
            flags.values.insert(def.name, value);
        }
        let mut rest = args;
        while let Some(s) = rest.first() {
            if s.len() < 2 || !s.starts_with('-') {
                break;
            }
            let mut minuses = 1;
            if s.as_bytes()[1] == b'-' {
                minuses = 2;
                if s.len() == 2 {
                    rest = &rest[1..];
                    break;
                }
            }
            let name_value = &s[minuses..];
            if name_value.is_empty() || name_value.starts_with('-') || name_value.starts_with('=') {
                return Err(format!("bad flag syntax: {s}"));
            }
            rest = &rest[1..];
            let (name, value) = match name_value[1..].find('=') {
                Some(i) => (&name_value[..i + 1], Some(name_value[i + 2..].to_string())),
                None => (name_value, None),
            };
            let Some(def) = flags.find(name).cloned() else {
                if name == "help" || name == "h" {
                    return Err("flag: help requested".into());
                }
                return Err(format!("flag provided but not defined: -{name}"));
            };
            if def.kind == Kind::Bool {
                let v = value.unwrap_or_else(|| "true".into());
                let b =
                    parse_bool(&v).map_err(|e| format!("invalid boolean value {} for -{name}: {}", go_quote(&v), e))?;
                flags.values.insert(def.name, Val::Bool(b));
            } else {
                let v = match value {
                    Some(v) => v,
                    None => match rest.first() {
                        Some(v) => {
                            rest = &rest[1..];
                            v.clone()
                        }
                        None => return Err(format!("flag needs an argument: -{name}")),
                    },
                };
                flags
                    .set_value(&def, &v)
                    .map_err(|e| format!("invalid value {} for flag -{name}: {e}", go_quote(&v)))?;
            }
            if !flags.set.contains(&def.name) {
                flags.set.push(def.name);
            }
        }
        flags.args = rest.to_vec();
        Ok(flags)
    }

    fn find(&self, name: &str) -> Option<&Def> {
        self.defs.iter().find(|d| d.name == name || d.aliases.contains(&name))
    }

    fn set_value(&mut self, def: &Def, v: &str) -> Result<(), String> {
        let first = !self.set.contains(&def.name);
        let value = match def.kind {
            Kind::Bool => Val::Bool(parse_bool(v)?),
            Kind::Str => Val::Str(v.to_string()),
            Kind::Int => {
                let i = parse_int(v)?;
                if i < i32::MIN as i64 || i > i32::MAX as i64 {
                    return Err(format!("incorrect conversion of a 64-bit integer to a lower bit size. Value {i} is not within bounds for int32"));
                }
                Val::Int(i)
            }
            Kind::Duration => Val::Duration(parse_duration(if v == "system" { "-1" } else { v })?),
            Kind::Slice => {
                let mut list = match self.values.get(def.name) {
                    Some(Val::Slice(l)) if !first => l.clone(),
                    _ => Vec::new(),
                };
                list.push(v.trim().to_string());
                Val::Slice(list)
            }
            Kind::PgpKeys | Kind::PgpKey => {
                if !first && matches!(self.values.get(def.name), Some(Val::Slice(l)) if !l.is_empty()) {
                    return Err("can only be specified once".into());
                }
                let keys = v.split(',').map(read_pgp_file).collect::<Result<Vec<_>, _>>()?;
                if def.kind == Kind::PgpKey && keys.len() > 1 {
                    return Err("can only specify one pgp key".into());
                }
                Val::Slice(keys)
            }
            Kind::Map => {
                let Some((k, val)) = v.split_once('=') else {
                    return Err(format!("missing = in KV pair: {}", go_quote(v)));
                };
                let mut map = match self.values.get(def.name) {
                    Some(Val::Map(m)) => m.clone(),
                    _ => BTreeMap::new(),
                };
                map.insert(k.to_string(), val.to_string());
                Val::Map(map)
            }
        };
        self.values.insert(def.name, value);
        Ok(())
    }

    /// Whether the flag was given on the command line.
    pub fn is_set(&self, name: &str) -> bool {
        self.set.contains(&name)
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Val::Bool(true)))
    }

    pub fn str(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Val::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Int(i)) => *i,
            _ => 0,
        }
    }

    /// Nanoseconds.
    pub fn duration(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Duration(d)) => *d,
            _ => 0,
        }
    }

    pub fn duration_std(&self, name: &str) -> Duration {
        Duration::from_nanos(self.duration(name).max(0) as u64)
    }

    pub fn slice(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Val::Slice(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    pub fn map(&self, name: &str) -> BTreeMap<String, String> {
        match self.values.get(name) {
            Some(Val::Map(m)) => m.clone(),
            _ => BTreeMap::new(),
        }
    }

    pub fn defs(&self) -> &[Def] {
        &self.defs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn defs() -> Vec<Def> {
        vec![
            flag("force", Kind::Bool, "false", "").aliases(&["f"]),
            flag("mount", Kind::Str, "", ""),
            flag("cas", Kind::Int, "-1", ""),
            flag("ttl", Kind::Duration, "", ""),
            flag("policy", Kind::Slice, "", ""),
            flag("metadata", Kind::Map, "", ""),
        ]
    }

    #[test]
    fn go_flag_forms() {
        let f = Flags::parse(
            defs(),
            &args(&[
                "-f",
                "--mount=kv",
                "-cas",
                "3",
                "-ttl=1h",
                "-policy=a",
                "-policy",
                "b",
                "x",
                "-y",
            ]),
        )
        .unwrap();
        assert!(f.bool("force"));
        assert_eq!(f.str("mount"), "kv");
        assert_eq!(f.int("cas"), 3);
        assert_eq!(f.duration("ttl"), 3600 * 1_000_000_000);
        assert_eq!(f.slice("policy"), vec!["a", "b"]);
        assert_eq!(f.args, args(&["x", "-y"]));
        let f = Flags::parse(defs(), &args(&["--", "-f"])).unwrap();
        assert!(!f.bool("force"));
        assert_eq!(f.args, args(&["-f"]));
    }

    #[test]
    fn go_flag_errors() {
        let e = |a: &[&str]| Flags::parse(defs(), &args(a)).err().unwrap();
        assert_eq!(e(&["-nope"]), "flag provided but not defined: -nope");
        assert_eq!(e(&["-mount"]), "flag needs an argument: -mount");
        assert_eq!(
            e(&["-f=maybe"]),
            "invalid boolean value \"maybe\" for -f: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            e(&["-cas=x"]),
            "invalid value \"x\" for flag -cas: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            e(&["-ttl=5x"]),
            "invalid value \"5x\" for flag -ttl: time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            e(&["-metadata=x"]),
            "invalid value \"x\" for flag -metadata: missing = in KV pair: \"x\""
        );
        assert_eq!(e(&["---x"]), "bad flag syntax: ---x");
    }

    #[test]
    fn durations_print_as_go() {
        for (ns, s) in [
            (0, "0s"),
            (3_600_000_000_000, "1h0m0s"),
            (90_000_000_000, "1m30s"),
            (1_500_000_000, "1.5s"),
            (-1_000_000_000, "-1s"),
            (1_500_000, "1.5ms"),
        ] {
            assert_eq!(go_duration_string(ns), s);
        }
        assert_eq!(parse_duration("768h").unwrap(), 768 * 3600 * 1_000_000_000);
        assert_eq!(parse_duration("300").unwrap(), 300 * 1_000_000_000);
        assert_eq!(parse_duration("2d").unwrap(), 2 * 86400 * 1_000_000_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400 * 1_000_000_000);
    }
}
