//! The reference's `OutputSecret`, `OutputList`, `OutputData` and `PrintRawField` over the formats.

use std::io::IsTerminal;

use serde_json::{Map, Value};

use super::api::Secret;
use super::format::{
    go_json, go_q_list, go_v, go_yaml, human_duration, human_duration_value, looks_like_duration, map_table,
    table_output, wrap_at_length_with_padding, Ui, HOPE_DELIM,
};

/// What `OutputData` can print.
pub enum Data<'a> {
    Map(&'a Map<String, Value>),
    List(&'a [Value]),
    Strings(&'a [String]),
    Value(&'a Value),
}

fn invalid_format(ui: &mut Ui) -> i32 {
    let f = ui.format.clone();
    ui.error(&format!("Invalid output format: {f}"));
    1
}

pub fn print_warnings(ui: &mut Ui, secret: &Secret) {
    let warnings = secret.warnings_list();
    if warnings.is_empty() {
        return;
    }
    ui.warn("WARNING! The following warnings were returned from Vault:\n");
    for w in warnings {
        ui.warn(&wrap_at_length_with_padding(&format!("* {w}"), 2));
        ui.warn("");
    }
}

/// `OutputSecret`.
pub fn output_secret(ui: &mut Ui, secret: &Secret) -> i32 {
    match ui.format.as_str() {
        "json" => {
            let s = secret.to_json();
            ui.output(&s);
            0
        }
        "yaml" | "yml" => {
            let s = go_yaml(&secret.to_value());
            ui.output(&s);
            0
        }
        "table" => {
            secret_table(ui, secret);
            0
        }
        "pretty" => {
            ui.error("Could not parse output: cannot use the pretty formatter for this type");
            1
        }
        "raw" => {
            ui.error(
                "Could not parse output: This command does not support the -format=raw option; only `vault read` does.",
            );
            1
        }
        _ => invalid_format(ui),
    }
}

fn secret_table(ui: &mut Ui, secret: &Secret) {
    print_warnings(ui, secret);
    let d = HOPE_DELIM;
    let mut out: Vec<String> = Vec::new();
    if secret.lease_duration > 0 {
        if !secret.lease_id.is_empty() {
            out.push(format!("lease_id {d} {}", secret.lease_id));
            out.push(format!("lease_duration {d} {}", human_duration(secret.lease_duration)));
            out.push(format!("lease_renewable {d} {}", secret.renewable));
        } else {
            out.push(format!(
                "refresh_interval {d} {}",
                human_duration(secret.lease_duration)
            ));
        }
    }
    if let Some(auth) = &secret.auth {
        if let Some(mfa) = auth.get("mfa_requirement").filter(|m| !m.is_null()) {
            out.push(format!(
                "mfa_request_id {d} {}",
                mfa.get("mfa_request_id").and_then(Value::as_str).unwrap_or_default()
            ));
        } else {
            out.push(format!("token {d} {}", secret.auth_str("client_token")));
            out.push(format!("token_accessor {d} {}", secret.auth_str("accessor")));
            let lease = auth.get("lease_duration").and_then(Value::as_i64).unwrap_or(0);
            if lease == 0 {
                out.push(format!("token_duration {d} ∞"));
            } else {
                out.push(format!("token_duration {d} {}", human_duration(lease)));
            }
            out.push(format!(
                "token_renewable {d} {}",
                auth.get("renewable").and_then(Value::as_bool).unwrap_or(false)
            ));
            out.push(format!(
                "token_policies {d} {}",
                go_q_list(&secret.auth_list("token_policies"))
            ));
            out.push(format!(
                "identity_policies {d} {}",
                go_q_list(&secret.auth_list("identity_policies"))
            ));
            out.push(format!("policies {d} {}", go_q_list(&secret.auth_list("policies"))));
            if let Some(meta) = auth.get("metadata").and_then(Value::as_object) {
                for (k, v) in meta {
                    out.push(format!("token_meta_{k} {d} {}", go_v(v)));
                }
            }
        }
    }
    if secret.wrap_info.is_some() {
        out.push(format!("wrapping_token: {d} {}", secret.wrap_str("token")));
        out.push(format!("wrapping_accessor: {d} {}", secret.wrap_str("accessor")));
        out.push(format!("wrapping_token_ttl: {d} {}", human_duration(secret.wrap_ttl())));
        out.push(format!(
            "wrapping_token_creation_time: {d} {}",
            go_time_string(&secret.wrap_str("creation_time"))
        ));
        out.push(format!(
            "wrapping_token_creation_path: {d} {}",
            secret.wrap_str("creation_path")
        ));
        let wrapped = secret.wrap_str("wrapped_accessor");
        if !wrapped.is_empty() {
            out.push(format!("wrapped_accessor: {d} {wrapped}"));
        }
    }
    if let Some(data) = secret.data_map() {
        for (k, v) in data {
            let v = if looks_like_duration(k) {
                human_duration_value(v)
            } else {
                v.clone()
            };
            out.push(format!("{k} {d} {}", go_v(&v)));
        }
    }
    if out.is_empty() {
        return;
    }
    out.insert(0, format!("Key{d}Value"));
    let t = table_output(&out, d);
    ui.output(&t);
}

/// Go's `time.Time.String()` of an RFC 3339 timestamp (`2006-01-02 15:04:05.999999999 -0700 MST`).
pub fn go_time_string(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    };
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{}", format!("{nanos:09}").trim_end_matches('0'))
    };
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "+0000 UTC".to_string()
    } else {
        let z = t.format("%z").to_string();
        format!("{z} {z}")
    };
    format!("{}{frac} {zone}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// `OutputList` of a list response.
pub fn output_list(ui: &mut Ui, secret: &Secret, detailed: bool) -> i32 {
    let keys = secret
        .data_map()
        .and_then(|d| d.get("keys"))
        .cloned()
        .unwrap_or(Value::Null);
    match ui.format.as_str() {
        "json" => {
            let s = if detailed { secret.to_json() } else { go_json(&keys) };
            ui.output(&s);
            0
        }
        "yaml" | "yml" => {
            let s = go_yaml(&keys);
            ui.output(&s);
            0
        }
        "table" => {
            print_warnings(ui, secret);
            let Some(list) = keys.as_array() else {
                ui.error("Could not parse output: error: table formatter cannot output list for this data type");
                return 1;
            };
            list_table(ui, list, secret, detailed)
        }
        "pretty" => {
            ui.error("Could not parse output: cannot use the pretty formatter for this type");
            1
        }
        _ => invalid_format(ui),
    }
}

fn list_table(ui: &mut Ui, list: &[Value], secret: &Secret, detailed: bool) -> i32 {
    if list.is_empty() {
        return 0;
    }
    let mut keys = Vec::with_capacity(list.len());
    for v in list {
        match v.as_str() {
            Some(s) => keys.push(s.to_string()),
            None => {
                ui.error(&format!("Could not parse output: {} is not a string", go_v(v)));
                return 1;
            }
        }
    }
    keys.sort();
    let info = secret
        .data_map()
        .and_then(|d| d.get("key_info"))
        .and_then(Value::as_object)
        .filter(|m| detailed && !m.is_empty());
    let mut header = "Keys".to_string();
    let mut rows = keys.clone();
    if let Some(info) = info {
        let mut headers: Vec<String> = Vec::new();
        for (k, v) in info {
            if !keys.contains(k) {
                continue;
            }
            if let Some(m) = v.as_object() {
                for h in m.keys() {
                    if !headers.contains(h) {
                        headers.push(h.clone());
                    }
                }
            }
        }
        headers.sort();
        if !headers.is_empty() {
            header = format!("{header}{HOPE_DELIM}{}", headers.join(HOPE_DELIM));
            for row in rows.iter_mut() {
                let mut cells = vec![row.clone()];
                if let Some(values) = info.get(row.as_str()).and_then(Value::as_object) {
                    for h in &headers {
                        match values.get(h) {
                            Some(v) => {
                                let v = if looks_like_duration(h) {
                                    human_duration_value(v)
                                } else {
                                    v.clone()
                                };
                                cells.push(go_v(&v));
                            }
                            None => cells.push("n/a".into()),
                        }
                    }
                }
                *row = cells.join(HOPE_DELIM);
            }
        }
    }
    let mut out = vec![header];
    out.extend(rows);
    let t = table_output(&out, HOPE_DELIM);
    ui.output(&t);
    0
}

/// `OutputData`.
pub fn output_data(ui: &mut Ui, data: Data) -> i32 {
    let as_value = match &data {
        Data::Map(m) => Value::Object((*m).clone()),
        Data::List(l) => Value::Array(l.to_vec()),
        Data::Strings(s) => Value::Array(s.iter().map(|x| Value::String(x.clone())).collect()),
        Data::Value(v) => (*v).clone(),
    };
    match ui.format.as_str() {
        "json" => {
            let s = go_json(&as_value);
            ui.output(&s);
            0
        }
        "yaml" | "yml" => {
            let s = go_yaml(&as_value);
            ui.output(&s);
            0
        }
        "table" => match data {
            Data::Map(m) => {
                if let Some(t) = map_table(m) {
                    ui.output(&t);
                }
                0
            }
            Data::Value(Value::Object(m)) => {
                if let Some(t) = map_table(m) {
                    ui.output(&t);
                }
                0
            }
            Data::Strings(s) => {
                let t = table_output(s, "|");
                ui.output(&t);
                0
            }
            Data::List(l) => list_table(ui, l, &Secret::default(), false),
            Data::Value(Value::Array(l)) => list_table(ui, l, &Secret::default(), false),
            _ => {
                ui.error("Could not parse output: cannot use the table formatter for this type");
                1
            }
        },
        "pretty" => {
            ui.error("Could not parse output: cannot use the pretty formatter for this type");
            1
        }
        _ => invalid_format(ui),
    }
}

/// `RawField`: a field of the secret, the auth or wrapping fields first.
pub fn raw_field(secret: &Secret, field: &str) -> Value {
    let data = |f: &str| secret.data_map().and_then(|d| d.get(f)).cloned().unwrap_or(Value::Null);
    if let Some(auth) = &secret.auth {
        let get = |k: &str| auth.get(k).cloned().unwrap_or(Value::Null);
        return match field {
            "token" => Value::from(secret.auth_str("client_token")),
            "token_accessor" => Value::from(secret.auth_str("accessor")),
            "token_duration" => auth.get("lease_duration").cloned().unwrap_or(Value::from(0)),
            "token_renewable" => auth.get("renewable").cloned().unwrap_or(Value::Bool(false)),
            "token_policies" => get("token_policies"),
            "identity_policies" => get("identity_policies"),
            "policies" => get("policies"),
            _ => data(field),
        };
    }
    if secret.wrap_info.is_some() {
        return match field {
            "wrapping_token" => Value::from(secret.wrap_str("token")),
            "wrapping_accessor" => Value::from(secret.wrap_str("accessor")),
            "wrapping_token_ttl" => Value::from(secret.wrap_ttl()),
            "wrapping_token_creation_time" => Value::from(secret.wrap_str("creation_time")),
            "wrapping_token_creation_path" => Value::from(secret.wrap_str("creation_path")),
            "wrapped_accessor" => Value::from(secret.wrap_str("wrapped_accessor")),
            _ => data(field),
        };
    }
    match field {
        "lease_duration" | "refresh_interval" => Value::from(secret.lease_duration),
        "lease_id" => Value::from(secret.lease_id.clone()),
        "request_id" => Value::from(secret.request_id.clone()),
        "renewable" => Value::Bool(secret.renewable),
        "data" => match secret.data_map().and_then(|d| d.get("data")) {
            Some(v) => v.clone(),
            None => secret.data.clone(),
        },
        _ => data(field),
    }
}

/// `PrintRawField` of a value already picked (`Null` = not there); `container` names what was searched.
pub fn print_field_value(ui: &mut Ui, val: &Value, field: &str) -> i32 {
    print_field_value_in(ui, val, field, "secret")
}

fn print_field_value_in(ui: &mut Ui, val: &Value, field: &str, container: &str) -> i32 {
    if val.is_null() {
        ui.error(&format!("Field \"{field}\" not present in {container}"));
        return 1;
    }
    match ui.format.as_str() {
        "" | "table" | "raw" => {
            let s = go_v(val);
            print_raw(ui, &s);
            0
        }
        "json" => {
            let s = go_json(val);
            print_raw(ui, &s);
            0
        }
        "yaml" | "yml" => {
            let s = go_yaml(val);
            print_raw(ui, &format!("{s}\n"));
            0
        }
        "pretty" => {
            print_raw(ui, "");
            0
        }
        _ => invalid_format(ui),
    }
}

pub fn print_raw_field(ui: &mut Ui, secret: &Secret, field: &str) -> i32 {
    let v = raw_field(secret, field);
    print_field_value(ui, &v, field)
}

pub fn print_map_field(ui: &mut Ui, map: &Map<String, Value>, field: &str) -> i32 {
    let v = map.get(field).cloned().unwrap_or(Value::Null);
    print_field_value_in(ui, &v, field, "map")
}

/// `PrintRaw`: with a newline on a terminal, without when piped.
pub fn print_raw(ui: &mut Ui, s: &str) {
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true);
    if colour {
        ui.output(s);
    } else {
        ui.raw(s);
    }
}
