//! Policy text (HCL or JSON) -> `Policy`. Errors name the line of the offending `path` block.

use std::collections::BTreeMap;
use std::time::Duration;

use hcl::{Body, Value};
use serde_json::Value as Json;

use super::acl::Capability;
use crate::duration::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    /// As written, without a leading slash (may end in `*`, may contain `+` segments).
    pub path: String,
    pub capabilities: u16,
    /// `None` when not given; parameter name (lower-cased) -> allowed values (empty = any).
    pub allowed_parameters: Option<BTreeMap<String, Vec<Json>>>,
    pub denied_parameters: Option<BTreeMap<String, Vec<Json>>>,
    pub required_parameters: Vec<String>,
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub paths: Vec<PathRule>,
}

fn line_of(text: &str, path: &str) -> usize {
    let needle = format!("\"{path}\"");
    text.lines()
        .position(|l| l.trim_start().starts_with("path") && l.contains(&needle))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// Parse a policy named `name` from HCL or JSON text.
pub fn parse_policy(name: &str, text: &str) -> Result<Policy, String> {
    let blocks: Vec<(String, Json)> = if text.trim_start().starts_with('{') {
        parse_json_blocks(text)?
    } else {
        parse_hcl_blocks(text)?
    };
    let mut paths = Vec::new();
    for (path, body) in blocks {
        let rule = parse_rule(&path, &body).map_err(|e| {
            let line = line_of(text, &path);
            if line > 0 {
                format!("path {path:?} (line {line}): {e}")
            } else {
                format!("path {path:?}: {e}")
            }
        })?;
        paths.push(rule);
    }
    Ok(Policy {
        name: name.to_string(),
        paths,
    })
}

fn hcl_to_json(value: Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

fn parse_hcl_blocks(text: &str) -> Result<Vec<(String, Json)>, String> {
    let body: Body = hcl::from_str(text).map_err(|e| e.to_string().replace('\n', " "))?;
    if let Some(attr) = body.attributes().next() {
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(attr.key()))
            .map(|i| i + 1)
            .unwrap_or(0);
        return Err(format!("invalid key {:?} on line {line}", attr.key()));
    }
    let mut out = Vec::new();
    for block in body.blocks() {
        if block.identifier() != "path" {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(block.identifier()))
                .map(|i| i + 1)
                .unwrap_or(0);
            return Err(format!("invalid key {:?} on line {line}", block.identifier()));
        }
        let [label] = block.labels() else {
            return Err("a path block takes exactly one label: path \"<path>\" { ... }".into());
        };
        let mut map = serde_json::Map::new();
        for attr in block.body().attributes() {
            map.insert(attr.key().to_string(), hcl_to_json(Value::from(attr.expr().clone())));
        }
        if let Some(inner) = block.body().blocks().next() {
            return Err(format!(
                "path {:?}: invalid key {:?}",
                label.as_str(),
                inner.identifier()
            ));
        }
        out.push((label.as_str().to_string(), Json::Object(map)));
    }
    Ok(out)
}

fn parse_json_blocks(text: &str) -> Result<Vec<(String, Json)>, String> {
    let doc: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Json::Object(top) = doc else {
        return Err("policy JSON must be an object".into());
    };
    let mut out = Vec::new();
    for (key, value) in top {
        if key != "path" {
            return Err(format!("invalid key {key:?} on line 0"));
        }
        // {"path": {"a": {...}}} or {"path": [{"a": {...}}, ...]}
        let entries: Vec<Json> = match value {
            Json::Array(items) => items,
            other => vec![other],
        };
        for entry in entries {
            let Json::Object(paths) = entry else {
                return Err("\"path\" must map paths to rules".into());
            };
            for (path, body) in paths {
                out.push((path, body));
            }
        }
    }
    Ok(out)
}

fn string_list(key: &str, value: &Json) -> Result<Vec<String>, String> {
    match value {
        Json::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key} must be a list of strings"))
            })
            .collect(),
        Json::String(s) => Ok(s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()),
        _ => Err(format!("{key} must be a list of strings")),
    }
}

fn parameter_map(key: &str, value: &Json) -> Result<BTreeMap<String, Vec<Json>>, String> {
    // HCL may give a map or a list of single-entry maps.
    let mut out = BTreeMap::new();
    let maps: Vec<&serde_json::Map<String, Json>> = match value {
        Json::Object(m) => vec![m],
        Json::Array(items) => items.iter().filter_map(Json::as_object).collect(),
        _ => return Err(format!("{key} must be a map of parameter names to value lists")),
    };
    for map in maps {
        for (name, values) in map {
            let list = match values {
                Json::Array(items) => items.clone(),
                Json::Null => vec![],
                other => vec![other.clone()],
            };
            out.entry(name.to_lowercase()).or_insert_with(Vec::new).extend(list);
        }
    }
    Ok(out)
}

fn ttl(key: &str, value: &Json) -> Result<Duration, String> {
    match value {
        Json::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{key} must be a duration")),
        Json::String(s) => parse_duration(s).map_err(|e| format!("{key}: {e}")),
        _ => Err(format!("{key} must be a duration")),
    }
}

fn parse_rule(path: &str, body: &Json) -> Result<PathRule, String> {
    let Json::Object(fields) = body else {
        return Err("rule must be an object".into());
    };
    let mut rule = PathRule {
        path: path.trim_start_matches('/').to_string(),
        capabilities: 0,
        allowed_parameters: None,
        denied_parameters: None,
        required_parameters: vec![],
        min_wrapping_ttl: None,
        max_wrapping_ttl: None,
    };
    for (key, value) in fields {
        match key.as_str() {
            "capabilities" => {
                for cap in string_list(key, value)? {
                    let c = Capability::parse(&cap).ok_or_else(|| format!("invalid capability {cap:?}"))?;
                    rule.capabilities |= c as u16;
                }
            }
            // The pre-0.9 form: policy = "read" | "write" | "sudo" | "deny".
            "policy" => {
                let level = value.as_str().ok_or("policy must be a string")?;
                rule.capabilities |= match level {
                    "deny" => Capability::Deny as u16,
                    "read" => Capability::Read as u16 | Capability::List as u16,
                    "write" => Capability::WRITE,
                    "sudo" => Capability::WRITE | Capability::Sudo as u16,
                    other => return Err(format!("invalid policy {other:?}")),
                };
            }
            "allowed_parameters" => rule.allowed_parameters = Some(parameter_map(key, value)?),
            "denied_parameters" => rule.denied_parameters = Some(parameter_map(key, value)?),
            "required_parameters" => rule.required_parameters = string_list(key, value)?,
            "min_wrapping_ttl" => rule.min_wrapping_ttl = Some(ttl(key, value)?),
            "max_wrapping_ttl" => rule.max_wrapping_ttl = Some(ttl(key, value)?),
            other => return Err(format!("invalid key {other:?}")),
        }
    }
    if let (Some(min), Some(max)) = (rule.min_wrapping_ttl, rule.max_wrapping_ttl) {
        if max < min {
            return Err("max_wrapping_ttl cannot be less than min_wrapping_ttl".into());
        }
    }
    if rule.capabilities & Capability::Deny as u16 != 0 {
        rule.capabilities = Capability::Deny as u16;
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hcl_and_json_alike() {
        let hcl = r#"
path "secret/*" {
  capabilities = ["read", "list"]
  allowed_parameters = {
    "Foo" = ["a", "b*"]
    "*" = []
  }
  required_parameters = ["foo"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = 90
}
"#;
        let json = r#"{"path": {"secret/*": {"capabilities": ["read", "list"], "allowed_parameters": {"Foo": ["a", "b*"], "*": []},
            "required_parameters": ["foo"], "min_wrapping_ttl": "1s", "max_wrapping_ttl": 90}}}"#;
        let a = parse_policy("p", hcl).unwrap();
        let b = parse_policy("p", json).unwrap();
        assert_eq!(a, b);
        let rule = &a.paths[0];
        assert_eq!(rule.capabilities, Capability::Read as u16 | Capability::List as u16);
        assert_eq!(rule.allowed_parameters.as_ref().unwrap()["foo"].len(), 2);
        assert_eq!(rule.max_wrapping_ttl, Some(Duration::from_secs(90)));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_policy(
            "p",
            "path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"x\" {\n  capabilities = [\"reed\"]\n}",
        )
        .unwrap_err();
        assert!(e.contains("line 4") && e.contains("invalid capability \"reed\""), "{e}");
        let e = parse_policy("p", "path \"x\" {\n capabilities = [\"read\"\n}").unwrap_err();
        assert!(
            e.contains('3') || e.contains('2'),
            "syntax errors carry a position: {e}"
        );
        let e = parse_policy("p", "pathx \"x\" {\n  capabilities = [\"read\"]\n}").unwrap_err();
        assert!(e.contains("invalid key \"pathx\" on line 1"), "{e}");
        let e = parse_policy("p", "path \"x\" {\n  capabilities = [\"read\"]\n  colour = 1\n}").unwrap_err();
        assert!(e.contains("invalid key \"colour\""), "{e}");
    }

    #[test]
    fn builtins_parse() {
        assert!(
            parse_policy("default", crate::policy::DEFAULT_POLICY)
                .unwrap()
                .paths
                .len()
                > 10
        );
        assert_eq!(
            parse_policy("rw", crate::policy::RESPONSE_WRAPPING_POLICY)
                .unwrap()
                .paths
                .len(),
            3
        );
    }
}
