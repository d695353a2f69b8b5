//! Typed access to request data for the core's own endpoints (the token store, `sys/`): thin accessors over the one
//! field decoder, `framework::fields`, with OpenBao's error texts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::CoreError;
use crate::framework::{decode, ignored_parameters_warning, parse_duration_second, Decoded, Kind};

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidRequest(msg)
}

/// One field decoded by the framework's (Go-compatible) decoder; `None` when absent or null. Errors carry the text
/// OpenBao's framework answers before its handler runs ("Field validation failed: error converting input ...").
fn field(data: &Map<String, Value>, key: &str, kind: Kind) -> Result<Option<Decoded>, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => decode(key, kind, value).map(Some).map_err(|why| {
            invalid(format!(
                "Field validation failed: error converting input for field {key:?}: {why}"
            ))
        }),
    }
}

pub fn string(data: &Map<String, Value>, key: &str) -> Result<Option<String>, CoreError> {
    Ok(match field(data, key, Kind::Str)? {
        Some(Decoded::Str(s)) => Some(s),
        _ => None,
    })
}

pub fn boolean(data: &Map<String, Value>, key: &str) -> Result<Option<bool>, CoreError> {
    Ok(match field(data, key, Kind::Bool)? {
        Some(Decoded::Bool(b)) => Some(b),
        _ => None,
    })
}

/// OpenBao's `parseutil.ParseDurationSecond` of a text: whole seconds (negative ones too) of `"300"`, `"2d"` or a Go
/// duration, and an error for anything past Go's `time.Duration` range (about 292 years), with Go's texts.
pub fn parse_go_duration_secs(text: &str) -> Result<i64, String> {
    Ok(parse_duration_second(&Value::String(text.to_string()))?.unwrap_or(0))
}

/// A duration field as OpenBao's framework decodes a `TypeDurationSecond`: seconds (0 when absent) from a number or
/// text; an error names the field, and a negative value is one.
pub fn duration_secs(data: &Map<String, Value>, key: &str) -> Result<u64, CoreError> {
    let converting = |why: String| invalid(format!("error converting input for field {key:?}: {why}"));
    match data.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => match parse_duration_second(value).map_err(converting)?.unwrap_or(0) {
            secs if secs < 0 => Err(converting(format!("cannot provide negative value '{secs}'"))),
            secs => Ok(secs as u64),
        },
    }
}

pub fn integer(data: &Map<String, Value>, key: &str) -> Result<Option<i64>, CoreError> {
    Ok(match field(data, key, Kind::Int)? {
        Some(Decoded::Int(i)) => Some(i),
        _ => None,
    })
}

/// A list of strings, given as a JSON array or a comma-separated string (empty items dropped).
pub fn string_list(data: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    Ok(match field(data, key, Kind::CommaStrings)? {
        Some(Decoded::Strings(items)) => Some(items.into_iter().filter(|s| !s.is_empty()).collect()),
        _ => None,
    })
}

/// A list of strings as OpenBao's `TypeStringSlice`: a single string is one item, commas and all.
pub fn string_slice(data: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    Ok(match field(data, key, Kind::Strings)? {
        Some(Decoded::Strings(items)) => Some(items),
        _ => None,
    })
}

pub fn string_map(data: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, String>, CoreError> {
    Ok(match field(data, key, Kind::KvPairs)? {
        Some(Decoded::KvPairs(map)) => map,
        _ => BTreeMap::new(),
    })
}

/// OpenBao's warning for parameters an endpoint does not know.
pub fn unknown_fields_warning(data: &Map<String, Value>, known: &[&str]) -> Option<String> {
    let unknown: Vec<&str> = data.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    ignored_parameters_warning(&unknown)
}
