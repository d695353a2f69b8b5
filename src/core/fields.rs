//! Typed access to request data, with OpenBao's error texts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::CoreError;
use crate::framework::parse_duration_second;

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidRequest(msg)
}

pub fn string(data: &Map<String, Value>, key: &str) -> Result<Option<String>, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(invalid(format!(
            "error converting input for field {key:?}: expected a string"
        ))),
    }
}

pub fn boolean(data: &Map<String, Value>, key: &str) -> Result<Option<bool>, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "t" => Ok(Some(true)),
            "false" | "0" | "f" | "" => Ok(Some(false)),
            _ => Err(invalid(format!(
                "error converting input {s} for field {key:?}: invalid syntax"
            ))),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(_) => Err(invalid(format!(
            "error converting input for field {key:?}: expected a boolean"
        ))),
    }
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
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be an integer"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("error converting input {s} for field {key:?}"))),
        Some(_) => Err(invalid(format!("{key} must be an integer"))),
    }
}

/// A list of strings, given as a JSON array or a comma-separated string.
pub fn string_list(data: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Ok(other.to_string()),
            })
            .collect::<Result<Vec<_>, CoreError>>()
            .map(Some),
        Some(_) => Err(invalid(format!(
            "error converting input for field {key:?}: expected a list of strings"
        ))),
    }
}

pub fn string_map(data: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, String>, CoreError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect(),
        Some(_) => Err(invalid(format!(
            "error converting input for field {key:?}: expected a map of strings"
        ))),
    }
}

/// OpenBao's warning for parameters an endpoint does not know.
pub fn unknown_fields_warning(data: &Map<String, Value>, known: &[&str]) -> Option<String> {
    let unknown: Vec<&str> = data.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            unknown.join(" ")
        )
    })
}
