//! `key=value` arguments as the reference's `kv-builder` reads them: `key=@file` (file contents), `key=-`
//! (stdin), `key=\@x` (a literal `@x`), a lone `-` or `@file` (a JSON object merged in), repeated keys
//! collected into a list.

use std::io::Read;

use serde_json::{Map, Value};

pub struct Builder<'a> {
    stdin: Option<&'a mut dyn Read>,
    stdin_used: bool,
    pub result: Map<String, Value>,
}

impl<'a> Builder<'a> {
    pub fn new(stdin: Option<&'a mut dyn Read>) -> Builder<'a> {
        Builder {
            stdin,
            stdin_used: false,
            result: Map::new(),
        }
    }

    pub fn add(&mut self, args: &[String]) -> Result<(), String> {
        for a in args {
            self.add_one(a)
                .map_err(|e| format!("invalid key/value pair {}: {e}", super::flags::go_quote(a)))?;
        }
        Ok(())
    }

    fn read_stdin(&mut self) -> Result<Vec<u8>, String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("stdin is not supported".into());
        };
        if self.stdin_used {
            return Err("stdin already consumed".into());
        }
        self.stdin_used = true;
        let mut buf = Vec::new();
        stdin.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        Ok(buf)
    }

    fn merge_json(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
        match de.next() {
            Some(Ok(Value::Object(m))) => {
                for (k, v) in m {
                    self.result.insert(k, v);
                }
                Ok(())
            }
            Some(Ok(_)) => Err("json: cannot unmarshal into Go value of type map[string]interface {}".into()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("EOF".into()),
        }
    }

    fn add_one(&mut self, raw: &str) -> Result<(), String> {
        if raw.is_empty() {
            return Ok(());
        }
        let Some((key, value)) = raw.split_once('=') else {
            if raw == "-" {
                let bytes = self.read_stdin()?;
                return self.merge_json(&bytes);
            }
            if let Some(path) = raw.strip_prefix('@') {
                let bytes = std::fs::read(path).map_err(|e| open_error(path, &e))?;
                return self.merge_json(&bytes);
            }
            return Err("format must be key=value".into());
        };
        let value = if let Some(path) = value.strip_prefix('@') {
            let bytes = std::fs::read(path).map_err(|e| format!("error reading file: {}", open_error(path, &e)))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else if value.starts_with("\\@") {
            value[1..].to_string()
        } else if value == "-" {
            let bytes = self.read_stdin()?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            value.to_string()
        };
        match self.result.get_mut(key) {
            Some(Value::Array(list)) => list.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                self.result.insert(key.to_string(), Value::String(value));
            }
        }
        Ok(())
    }
}

fn open_error(path: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("open {path}: {why}")
}

/// Values as strings (`mapstructure.WeakDecode` into `map[string]string`).
pub fn weak_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => super::format::go_v(other),
    }
}

/// Values as string lists (`mapstructure.WeakDecode` into `map[string][]string`).
pub fn weak_string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(weak_string).collect(),
        other => vec![weak_string(other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_like_kv_builder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v");
        std::fs::write(&file, "from file").unwrap();
        let mut stdin: &[u8] = b"from stdin";
        let mut b = Builder::new(Some(&mut stdin));
        b.add(&[
            "a=1".into(),
            "a=2".into(),
            format!("f=@{}", file.display()),
            "s=-".into(),
            "e=\\@x".into(),
        ])
        .unwrap();
        assert_eq!(
            Value::Object(b.result),
            serde_json::json!({"a": ["1", "2"], "f": "from file", "s": "from stdin", "e": "@x"})
        );
        let mut b = Builder::new(None);
        assert_eq!(
            b.add(&["novalue".into()]).unwrap_err(),
            "invalid key/value pair \"novalue\": format must be key=value"
        );
    }
}
