//! `subkeys/:path`: a version's structure with every leaf value replaced by null (to `depth`, if given).

use serde_json::{Map, Value};

use super::KvV2;
use crate::framework::{field, Fields, Kind, Schema};
use crate::logical::{Error, Operation, Request, Response, StorageView};

pub const SCHEMA: Schema = &[
    field("path", Kind::Str).desc("Location of the secret."),
    field("depth", Kind::Int),
    field("version", Kind::Int).desc("If provided during a read, the value at the version number will be returned"),
];

/// OpenBao's `removeValues`: leaves become null; a non-empty map deeper than `max_depth` (0: no limit) too.
fn remove_values(map: &mut Map<String, Value>, depth: i64, max_depth: i64) {
    for value in map.values_mut() {
        match value {
            Value::Object(inner) if !inner.is_empty() && (max_depth == 0 || depth < max_depth) => {
                remove_values(inner, depth + 1, max_depth)
            }
            other => *other = Value::Null,
        }
    }
}

impl KvV2 {
    pub(super) async fn subkeys(&self, view: &dyn StorageView, key: &str, req: &Request) -> Result<Response, Error> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let fields = Fields::new(&req.data, SCHEMA);
        let depth = fields.int("depth").unwrap_or(0);
        let (mut data, mut secret) = match self.requested_version(view, key, &fields, "subkeys")? {
            Ok(live) => live,
            Err(gone) => return Ok(gone),
        };
        remove_values(&mut secret, 1, depth);
        data.insert("subkeys".into(), Value::Object(secret));
        let mut resp = Response::with_data(data);
        resp.warnings = fields.warnings(&["path"]);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn leaves_become_null() {
        let mut m = json!({"a": "1", "b": {"c": 2, "d": [1]}, "e": {}})
            .as_object()
            .unwrap()
            .clone();
        super::remove_values(&mut m, 1, 0);
        assert_eq!(json!(m), json!({"a": null, "b": {"c": null, "d": null}, "e": null}));
        let mut m = json!({"b": {"c": {"x": 1}}}).as_object().unwrap().clone();
        super::remove_values(&mut m, 1, 1);
        assert_eq!(json!(m), json!({"b": null}));
    }
}
