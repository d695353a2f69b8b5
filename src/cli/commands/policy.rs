//! `policy read/write/list/delete/fmt`.

use std::io::Read;

use serde_json::Value;

use super::{client, cmd, exact_args, fail, group, no_args, tri};
use crate::cli::api::{ApiError, Request};
use crate::cli::base::{no_flags, Base, Command, FORMAT, HTTP};
use crate::cli::flags::Flags;
use crate::cli::output::{output_data, Data};

pub fn commands() -> Vec<Command> {
    vec![
        group("policy", "Interact with policies", "  This command groups subcommands for interacting with policies.\n\n      $ vault policy list\n      $ vault policy write my-policy /tmp/policy.hcl\n"),
        cmd("policy list", "Lists the installed policies", "[options]", "  Lists the names of the policies that are installed on the server.\n\n      $ vault policy list\n", HTTP | FORMAT, no_flags, list),
        cmd("policy read", "Prints the contents of a policy", "[options] [NAME]", "  Prints the contents and metadata of the policy.\n\n      $ vault policy read my-policy\n", HTTP | FORMAT, no_flags, read),
        cmd("policy write", "Uploads a named policy from a file", "[options] NAME PATH", "  Uploads a policy from a local file, or from stdin when PATH is \"-\".\n\n      $ vault policy write my-policy /tmp/policy.hcl\n", HTTP, no_flags, write),
        cmd("policy delete", "Deletes a policy by name", "[options] NAME", "  Deletes the policy named NAME. Tokens holding it lose its permissions at once.\n\n      $ vault policy delete my-policy\n", HTTP, no_flags, delete),
        cmd("policy fmt", "Formats a policy on disk", "[options] PATH", "  Formats a local policy file to the canonical format, in place. The policy is checked first.\n\n      $ vault policy fmt my-policy.hcl\n", 0, no_flags, fmt),
    ]
}

fn list(b: &mut Base, f: Flags) -> i32 {
    tri!(no_args(b, &f.args));
    tri!(client(b, 2));
    let c = b.client().expect("built above");
    let mut req = Request::new("GET", "sys/policies/acl").param("list", "true");
    req.operation = "LIST".into();
    let answer = match c.json(req) {
        Ok(v) => v,
        Err(e) => return fail(b, "Error listing policies", &e),
    };
    let keys: Vec<String> = answer
        .get("data")
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if b.ui.is_table() {
        for p in keys {
            b.ui.output(&p);
        }
        return 0;
    }
    output_data(&mut b.ui, Data::Strings(&keys))
}

fn read(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let name = f.args[0].trim().to_lowercase();
    let c = b.client().expect("built above");
    let rules = match c.json(Request::new("GET", &format!("sys/policies/acl/{name}"))) {
        Ok(v) => v
            .get("data")
            .and_then(|d| d.get("policy"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Err(ApiError::Response { status: 404, .. }) => String::new(),
        Err(e) => return fail(b, &format!("Error reading policy named {name}"), &e),
    };
    if rules.is_empty() {
        b.ui.error(&format!("No policy named: {name}"));
        return 2;
    }
    if b.ui.is_table() {
        b.ui.output(rules.trim());
        return 0;
    }
    let mut m = serde_json::Map::new();
    m.insert("policy".into(), Value::String(rules));
    output_data(&mut b.ui, Data::Map(&m))
}

fn write(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 2));
    tri!(client(b, 2));
    let name = f.args[0].clone();
    let formatted = name.to_lowercase().trim().to_string();
    let path = f.args[1].trim().to_string();
    let mut rules = Vec::new();
    if path == "-" {
        if let Err(e) = std::io::stdin().read_to_end(&mut rules) {
            b.ui.error(&format!("Error reading policy: {e}"));
            return 2;
        }
    } else {
        match std::fs::read(&path) {
            Ok(r) => rules = r,
            Err(e) => {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    _ => e.to_string(),
                };
                b.ui.error(&format!("Error opening policy file: open {path}: {why}"));
                return 2;
            }
        }
    }
    let rules = String::from_utf8_lossy(&rules).into_owned();
    let c = b.client().expect("built above");
    let body = serde_json::json!({ "policy": rules });
    if let Err(e) = c.raw(Request::new("PUT", &format!("sys/policies/acl/{formatted}")).json(&body)) {
        return fail(b, "Error uploading policy", &e);
    }
    if name != formatted {
        b.ui.warn(&format!("Policy name was converted from \"{name}\" to \"{formatted}\""));
    }
    b.ui.output(&format!("Success! Uploaded policy: {formatted}"));
    0
}

fn delete(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    tri!(client(b, 2));
    let name = f.args[0].trim().to_lowercase();
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(Request::new("DELETE", &format!("sys/policies/acl/{name}"))) {
        return fail(b, &format!("Error deleting {name}"), &e);
    }
    b.ui.output(&format!("Success! Deleted policy: {name}"));
    0
}

fn fmt(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let raw = f.args[0].trim();
    let path = match raw.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => std::path::Path::new(&home).join(rest),
            None => {
                b.ui.error("Failed to expand path: $HOME is not set");
                return 1;
            }
        },
        None => std::path::PathBuf::from(raw),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            b.ui.error(&format!("Error reading source file: open {}: {why}", path.display()));
            return 1;
        }
    };
    if let Err(e) = crate::policy::parse::parse_policy("fmt", &text) {
        b.ui.error(&format!("failed to parse policy: {e}"));
        return 1;
    }
    let formatted = match format_policy(&text) {
        Ok(s) => s,
        Err(e) => {
            b.ui.error(&format!("Error printing result: {e}"));
            return 1;
        }
    };
    if let Err(e) = std::fs::write(&path, formatted) {
        b.ui.error(&format!("Error writing result: {e}"));
        return 1;
    }
    b.ui.output(&format!("Success! Formatted policy: {}", path.display()));
    0
}

/// HCL in the canonical layout (the reference's HCL printer): two-space indentation, the `=` of consecutive
/// one-line attributes aligned, objects over several lines set apart by blank lines, a blank line between blocks.
/// A file with comments is refused rather than rewritten without them.
pub fn format_policy(text: &str) -> Result<String, String> {
    if has_comment(text) {
        return Err("the file has comments, which this formatter would drop; it was left unchanged".into());
    }
    let body: hcl::Body = hcl::from_str(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    write_body(&mut out, &body, 0);
    Ok(format!("{}\n", out.trim_end()))
}

/// Whether `text` holds a comment (`#`, `//` or `/* */`) outside string literals.
fn has_comment(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut prev = '\0';
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '#' || (prev == '/' && (c == '/' || c == '*')) {
            return true;
        }
        prev = c;
    }
    false
}

fn write_body(out: &mut String, body: &hcl::Body, depth: usize) {
    let pad = "  ".repeat(depth);
    let mut pending: Vec<(String, String)> = Vec::new();
    let flush = |out: &mut String, pending: &mut Vec<(String, String)>| {
        let width = pending.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in pending.drain(..) {
            out.push_str(&format!("{pad}{k:<width$} = {v}\n"));
        }
    };
    // What was written last: nothing, one-line attributes, or a multi-line item (block or object).
    let mut last_multiline = false;
    let mut wrote = false;
    for structure in body.iter() {
        match structure {
            hcl::Structure::Attribute(a) => {
                let value = expr(&a.expr, depth);
                if value.contains('\n') {
                    if !pending.is_empty() {
                        flush(out, &mut pending);
                    }
                    if wrote {
                        out.push('\n');
                    }
                    out.push_str(&format!("{pad}{} = {value}\n", a.key));
                    last_multiline = true;
                } else {
                    if last_multiline {
                        out.push('\n');
                        last_multiline = false;
                    }
                    pending.push((a.key.to_string(), value));
                }
                wrote = true;
            }
            hcl::Structure::Block(blk) => {
                if !pending.is_empty() {
                    flush(out, &mut pending);
                }
                if wrote {
                    out.push('\n');
                }
                out.push_str(&format!("{pad}{}", blk.identifier.as_str()));
                for l in blk.labels.iter() {
                    out.push_str(&format!(" \"{}\"", l.as_str()));
                }
                out.push_str(" {\n");
                write_body(out, &blk.body, depth + 1);
                out.push_str(&format!("{pad}}}\n"));
                last_multiline = true;
                wrote = true;
            }
        }
    }
    if !pending.is_empty() {
        flush(out, &mut pending);
    }
}

fn expr(e: &hcl::Expression, depth: usize) -> String {
    match e {
        hcl::Expression::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(|i| expr(i, depth)).collect::<Vec<_>>().join(", ")
            )
        }
        hcl::Expression::Object(map) => {
            if map.is_empty() {
                return "{}".into();
            }
            let inner_pad = "  ".repeat(depth + 1);
            let entries: Vec<(String, String)> = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        hcl::ObjectKey::Identifier(i) => i.to_string(),
                        hcl::ObjectKey::Expression(x) => expr(x, depth + 1),
                        _ => String::new(),
                    };
                    (key, expr(v, depth + 1))
                })
                .collect();
            let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let mut out = String::from("{\n");
            for (k, v) in entries {
                out.push_str(&format!("{inner_pad}{k:<width$} = {v}\n"));
            }
            out.push_str(&format!("{}}}", "  ".repeat(depth)));
            out
        }
        hcl::Expression::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        other => hcl::format::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_hcl_printer() {
        let text = "path \"secret/*\" {\ncapabilities = [\"read\",\"list\"]\n}\npath \"sys/*\" { capabilities = [\"deny\"] }\n";
        assert_eq!(
            format_policy(text).unwrap(),
            "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n\npath \"sys/*\" {\n  capabilities = [\"deny\"]\n}\n"
        );
        let text = "path \"a\" {\n  capabilities = [\"read\"]\n  allowed_parameters = {\n \"x\" = [\"1\"]\n }\n}\n";
        assert_eq!(
            format_policy(text).unwrap(),
            "path \"a\" {\n  capabilities = [\"read\"]\n\n  allowed_parameters = {\n    \"x\" = [\"1\"]\n  }\n}\n"
        );
    }

    #[test]
    fn refuses_to_drop_comments() {
        assert!(format_policy("# keep me\npath \"a\" { capabilities = [\"read\"] }\n").is_err());
        assert!(format_policy("path \"a#b\" { capabilities = [\"read\"] }\n").is_ok());
    }
}
