//! A backend's OpenAPI document, built from its path table as OpenBao's `framework/openapi.go` builds it: one path
//! item per pattern (captures as `{name}` path parameters), its help as the description, an operation per declared
//! operation (LIST as a GET with a `list` query parameter, create and update as one POST), operation ids
//! `prefix-verb-suffix`, and each write's body fields as a `<OperationId>Request` schema of the components.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::fields::{Field, FieldDefault, Kind};
use super::path::{Display, PathSpec, PathTable};
use crate::logical::openapi::{
    Document, MediaType, OasOperation, OasResponse, Parameter, PathItem, RequestBody, Schema,
};
use crate::logical::{Operation, SpecialPaths};

/// The OpenAPI path of a pattern: `{*rest}` and `{+rest}` become `{rest}`; a trailing `/` (a pattern that lists a
/// folder) is dropped.
pub fn openapi_path(pattern: &str) -> String {
    pattern.trim_end_matches('/').replace("{*", "{").replace("{+", "{")
}

/// The captures of a pattern, in order.
fn captures(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches(['*', '+']))
        .collect()
}

/// OpenBao's `convertType`: (type, item type, format).
fn convert(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Bool => ("boolean", "", ""),
        Kind::Int => ("integer", "", ""),
        Kind::Str => ("string", "", ""),
        Kind::Map => ("object", "", "map"),
        Kind::KvPairs => ("object", "", "kvpairs"),
        Kind::CommaInts => ("array", "integer", ""),
        Kind::CommaStrings | Kind::Strings => ("array", "string", ""),
        Kind::Duration | Kind::SignedDuration => ("integer", "", "seconds"),
        Kind::Raw => ("array", "object", ""),
    }
}

fn default_value(default: Option<FieldDefault>) -> Option<Value> {
    default.map(|d| match d {
        FieldDefault::Bool(b) => json!(b),
        FieldDefault::Int(i) => json!(i),
        FieldDefault::Str(s) => json!(s),
    })
}

/// OpenBao's `cleanString`: trimmed, whitespace runs as one space.
fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn field_schema(field: &Field) -> Schema {
    let (kind, items, format) = convert(field.kind);
    Schema {
        kind: kind.into(),
        description: clean(field.description),
        format: format.into(),
        items: (!items.is_empty()).then(|| {
            Box::new(Schema {
                kind: items.into(),
                ..Schema::default()
            })
        }),
        default: default_value(field.default),
        deprecated: field.deprecated,
        ..Schema::default()
    }
}

/// `prefix-verb-suffix` in lower case without empty parts (OpenBao's `constructOperationID`).
fn operation_id(path: &str, display: &Display, op: Operation, default_prefix: &str) -> String {
    let (mut verb, mut suffix) = (display.verb, display.suffix);
    if let Some((_, v, s)) = display.per_op.iter().find(|(o, _, _)| *o == op) {
        if !v.is_empty() {
            verb = v;
        }
        if !s.is_empty() {
            suffix = s;
        }
    }
    let prefix = if display.prefix.is_empty() && verb.is_empty() {
        default_prefix
    } else {
        display.prefix
    };
    let path_suffix;
    if suffix.is_empty() && verb.is_empty() {
        path_suffix = path
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        suffix = &path_suffix;
    }
    let verb = match (verb, op) {
        ("", Operation::Update) => "write",
        ("", op) => op.as_str(),
        (verb, _) => verb,
    };
    [prefix, verb, suffix]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

/// `kv-write-data-path` -> `KvWriteDataPath` (OpenBao's `hyphenatedToTitleCase`).
fn title_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn list_parameter(description: &str, required: bool) -> Parameter {
    Parameter {
        name: "list".into(),
        description: description.into(),
        location: "query".into(),
        schema: Some(Schema {
            kind: "string".into(),
            allowed: if required { vec![json!("true")] } else { vec![] },
            ..Schema::default()
        }),
        required,
        deprecated: false,
    }
}

/// Add one path of a table to `doc`.
fn document_path<B, H>(spec: &PathSpec<B, H>, special: &SpecialPaths, default_prefix: &str, doc: &mut Document) {
    let path = openapi_path(spec.pattern);
    if path.is_empty() || spec.display.unpublished {
        return;
    }
    let declared = |op: Operation| spec.operations.iter().any(|(o, _)| *o == op);
    let mut item = PathItem {
        description: clean(spec.help),
        sudo: special.is_root(&path),
        unauthenticated: special.is_unauthenticated(&path),
        ..PathItem::default()
    };
    let path_fields = captures(spec.pattern);
    for name in &path_fields {
        let field = spec.fields.iter().find(|f| f.name == *name);
        let (kind, _, _) = convert(field.map_or(Kind::Str, |f| f.kind));
        item.parameters.push(Parameter {
            name: name.to_string(),
            description: field.map(|f| clean(f.description)).unwrap_or_default(),
            location: "path".into(),
            schema: Some(Schema {
                kind: kind.into(),
                default: field.and_then(|f| default_value(f.default)),
                ..Schema::default()
            }),
            required: true,
            deprecated: field.is_some_and(|f| f.deprecated),
        });
    }
    for field in spec.fields.iter().filter(|f| f.query && !path_fields.contains(&f.name)) {
        let (kind, _, _) = convert(field.kind);
        item.parameters.push(Parameter {
            name: field.name.into(),
            description: clean(field.description),
            location: "query".into(),
            schema: Some(Schema {
                kind: kind.into(),
                default: default_value(field.default),
                ..Schema::default()
            }),
            required: false,
            deprecated: field.deprecated,
        });
    }
    item.parameters.sort_by_key(|p| p.name.to_lowercase());

    let mut seen = Vec::new();
    for (op, _) in spec.operations {
        if seen.contains(op) {
            continue;
        }
        seen.push(*op);
        match op {
            Operation::Create => {
                item.create_supported = true;
                if declared(Operation::Update) {
                    continue;
                }
            }
            Operation::List if declared(Operation::Read) => continue,
            Operation::Renew | Operation::Revoke => continue,
            _ => {}
        }
        let id = operation_id(&path, &spec.display, *op, default_prefix);
        let mut operation = OasOperation {
            operation_id: id.clone(),
            ..OasOperation::default()
        };
        if matches!(op, Operation::Create | Operation::Update | Operation::Patch) {
            let mut body = Schema {
                kind: "object".into(),
                ..Schema::default()
            };
            for field in spec
                .fields
                .iter()
                .filter(|f| !f.query && !path_fields.contains(&f.name))
            {
                if field.required {
                    body.required.push(field.name.into());
                }
                body.properties.insert(field.name.into(), field_schema(field));
            }
            body.required.sort();
            if !body.properties.is_empty() {
                let name = format!("{}Request", title_case(&id));
                doc.components.schemas.insert(name.clone(), body);
                operation.request_body = Some(RequestBody {
                    required: true,
                    content: BTreeMap::from([(
                        "application/json".to_string(),
                        MediaType {
                            schema: Schema {
                                reference: format!("#/components/schemas/{name}"),
                                ..Schema::default()
                            },
                        },
                    )]),
                });
            }
        }
        match op {
            Operation::List => operation.parameters.push(list_parameter("Must be set to `true`", true)),
            Operation::Read if declared(Operation::List) => operation
                .parameters
                .push(list_parameter("Return a list if `true`", false)),
            _ => {}
        }
        let (code, description) = match op {
            Operation::Delete => ("204", "empty body"),
            _ => ("200", "OK"),
        };
        operation.responses.insert(
            code.into(),
            OasResponse {
                description: description.into(),
            },
        );
        let slot = match op {
            Operation::Create | Operation::Update => &mut item.post,
            Operation::Read | Operation::List => &mut item.get,
            Operation::Delete => &mut item.delete,
            Operation::Patch => &mut item.patch,
            Operation::Renew | Operation::Revoke => continue,
        };
        *slot = Some(operation);
    }
    // A folder pattern (`users/`) documents the same path as its bare twin: the first one in the table wins.
    doc.paths.entry(format!("/{path}")).or_insert(item);
}

impl<B: 'static, H: Copy + 'static> PathTable<B, H> {
    /// The OpenAPI document of the table's paths (relative to the mount, without tags: the core adds the mount's
    /// path and the tags). `default_prefix` starts operation ids whose path names no prefix (OpenBao uses the
    /// mount's type).
    pub fn openapi(&self, special: &SpecialPaths, default_prefix: &str) -> Document {
        let mut doc = Document::default();
        for spec in self.paths {
            document_path(spec, special, default_prefix, &mut doc);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_fall_back_as_openbao() {
        let none = Display::NONE;
        assert_eq!(
            operation_id("data/{path}", &none, Operation::Read, "kv"),
            "kv-read-data-path"
        );
        assert_eq!(
            operation_id("data/{path}", &none, Operation::Update, "kv"),
            "kv-write-data-path"
        );
        assert_eq!(operation_id("{path}", &none, Operation::List, "kv"), "kv-list-path");
        let role = Display::new("token", "", "role");
        assert_eq!(
            operation_id("roles/{role_name}", &role, Operation::Read, "token"),
            "token-read-role"
        );
        let create = Display::new("token", "create", "");
        assert_eq!(
            operation_id("create", &create, Operation::Update, "token"),
            "token-create"
        );
        let lookup = Display {
            per_op: &[(Operation::Read, "", "get"), (Operation::Update, "", "update")],
            ..Display::new("token", "look-up", "")
        };
        assert_eq!(
            operation_id("lookup", &lookup, Operation::Read, "token"),
            "token-look-up-get"
        );
        assert_eq!(title_case("kv-write-data-path"), "KvWriteDataPath");
        assert_eq!(openapi_path("restore/{*name}"), "restore/{name}");
        assert_eq!(openapi_path("users/"), "users");
        assert_eq!(openapi_path("mounts/{+path}/tune"), "mounts/{path}/tune");
        assert_eq!(captures("mounts/{+path}/tune"), vec!["path"]);
    }
}
