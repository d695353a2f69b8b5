//! `metadata/:path`: read a key's metadata, write or patch its settings (max_versions, cas_required,
//! metadata_cas_required, delete_version_after, custom_metadata, with `metadata_cas`), delete the key with every
//! version, and list keys (`detailed-metadata/` lists with each key's metadata).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::store::{self, KeyMetadata};
use super::KvV2;
use crate::builtin::secrets::kv::list_folder;
use crate::framework::{field, now_ns, Fields, Kind, Schema};
use crate::logical::{Error, Operation, Request, Response, StorageView, TxFail};
use crate::storage::TxError;

pub const SCHEMA: Schema = &[
    field("path", Kind::Str).desc("Location of the secret."),
    field("cas_required", Kind::Bool).desc("If true the key will require the cas parameter to be set on all write requests. If false, the backend’s configuration will be used."),
    field("metadata_cas_required", Kind::Bool).desc("If true the key will require the cas parameter to be set on all metadata update requests. If false, the backend's configuration will be used."),
    field("max_versions", Kind::Int).desc("The number of versions to keep. If not set, the backend’s configured max version is used."),
    field("delete_version_after", Kind::Duration).desc("The length of time before a version is deleted. If not set, the backend's configured delete_version_after is used. Cannot be greater than the backend's delete_version_after. A zero duration clears the current setting. A negative duration will cause an error."),
    field("custom_metadata", Kind::Map).desc("User-provided key-value pairs that are used to describe arbitrary and version-agnostic information about a secret."),
    field("metadata_cas", Kind::Int).desc("Check-and-set parameter for metadata updates. Must match the current metadata version for the update to succeed. Set to 0 for initial metadata creation."),
    field("after", Kind::Str).desc("Optional entry to list begin listing after, not required to exist. Only used for listing."),
    field("limit", Kind::Int).desc("Optional number of entries to return; defaults to all entries. Only used for listing."),
];

pub const DETAILED_SCHEMA: Schema = &[
    field("path", Kind::Str).desc("Location of the secret."),
    field("after", Kind::Str)
        .desc("Optional entry to list begin listing after, not required to exist. Only used for listing."),
    field("limit", Kind::Int)
        .desc("Optional number of entries to return; defaults to all entries. Only used for listing."),
];

const PREFIX: &str = "custom_metadata validation failed";
const MAX_KEYS: usize = 64;
const MAX_KEY_LENGTH: usize = 128;
const MAX_VALUE_LENGTH: usize = 512;

/// Go's `unicode.IsPrint` (near enough): no control or format characters, no white space but the ASCII space.
fn printable(text: &str) -> bool {
    text.chars().all(|c| {
        c == ' '
            || !(c.is_control()
                || c.is_whitespace()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}'))
    })
}

/// OpenBao's multierror text.
fn multierror(errors: &[String]) -> String {
    let head = if errors.len() == 1 {
        "1 error occurred:".to_string()
    } else {
        format!("{} errors occurred:", errors.len())
    };
    let items: String = errors.iter().map(|e| format!("\n\t* {e}")).collect();
    format!("{head}{items}\n\n")
}

/// OpenBao's `parseCustomMetadata` (values weakly decoded to strings; nulls dropped when patching) and
/// `validateCustomMetadata`.
fn custom_metadata(raw: &Map<String, Value>, drop_nulls: bool) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let text = match v {
            Value::Null if drop_nulls => continue,
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                let kind = if other.is_array() {
                    "[]interface {}"
                } else {
                    "map[string]interface {}"
                };
                return Err(Error::InvalidRequest(format!(
                    "{PREFIX}: '' expected type 'string', got unconvertible type '{kind}'"
                )));
            }
        };
        out.insert(k.clone(), text);
    }
    if out.len() > MAX_KEYS {
        return Err(Error::InvalidRequest(multierror(&[format!(
            "{PREFIX}: payload must contain at most {MAX_KEYS} keys, provided {}",
            out.len()
        )])));
    }
    let mut errors = Vec::new();
    for (key, value) in &out {
        if key.is_empty() || key.len() > MAX_KEY_LENGTH {
            errors.push(format!(
                "{PREFIX}: length of key {key:?} is {} but must be 0 < len(key) <= {MAX_KEY_LENGTH}",
                key.len()
            ));
        }
        if value.is_empty() || value.len() > MAX_VALUE_LENGTH {
            errors.push(format!(
                "{PREFIX}: length of value for key {key:?} is {} but must be 0 < len(value) <= {MAX_VALUE_LENGTH}",
                value.len()
            ));
        }
        if !printable(key) {
            errors.push(format!("{PREFIX}: key {key:?} ({key}) contains unprintable characters"));
        }
        if !printable(value) {
            errors.push(format!(
                "{PREFIX}: value for key {key:?} contains unprintable characters"
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidRequest(multierror(&errors)))
    }
}

/// The settings a metadata write or patch changes.
#[derive(Clone, Default)]
struct Settings {
    max_versions: Option<i64>,
    cas_required: Option<bool>,
    metadata_cas_required: Option<bool>,
    delete_version_after: Option<i64>,
    custom_metadata: Option<BTreeMap<String, String>>,
    metadata_cas: Option<i64>,
}

impl Settings {
    fn from_fields(fields: &Fields) -> Self {
        Settings {
            max_versions: fields.int("max_versions"),
            cas_required: fields.bool("cas_required"),
            metadata_cas_required: fields.bool("metadata_cas_required"),
            delete_version_after: fields.secs("delete_version_after"),
            custom_metadata: None,
            metadata_cas: fields.int("metadata_cas"),
        }
    }

    fn apply(&self, meta: &mut KeyMetadata) {
        if let Some(m) = self.max_versions {
            meta.max_versions = m as u32;
        }
        if let Some(c) = self.cas_required {
            meta.cas_required = c;
        }
        if let Some(c) = self.metadata_cas_required {
            meta.metadata_cas_required = c;
        }
        if let Some(d) = self.delete_version_after {
            meta.delete_version_after = d;
        }
    }

    /// Warnings for settings the engine config overrides.
    fn warnings(&self, config: &store::KvConfig) -> Vec<String> {
        let mut out = Vec::new();
        if self.cas_required == Some(false) && config.cas_required {
            out.push(
                "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.".into(),
            );
        }
        if self.metadata_cas_required == Some(false) && config.metadata_cas_required {
            out.push("\"metadata_cas_required\" set to false, but is mandated by backend config. This value will be ignored.".into());
        }
        out
    }
}

fn check_metadata_cas(given: Option<i64>, required: bool, current: u64) -> Result<(), Error> {
    match given {
        None if required => Err(Error::InvalidRequest(
            "metadata check-and-set parameter required for this call".into(),
        )),
        Some(cas) if cas as u64 != current => Err(Error::InvalidRequest(
            "metadata check-and-set parameter does not match the current version".into(),
        )),
        _ => Ok(()),
    }
}

fn warnings_response(warnings: Vec<String>) -> Response {
    Response {
        warnings,
        ..Default::default()
    }
}

impl KvV2 {
    pub(super) async fn metadata(
        &self,
        view: &dyn StorageView,
        key: &str,
        req: &Request,
        detailed: bool,
    ) -> Result<Response, Error> {
        let schema = if detailed { DETAILED_SCHEMA } else { SCHEMA };
        let fields = Fields::new(&req.data, schema);
        match (req.operation, detailed) {
            (Operation::List, _) => self.list(view, key, &fields, detailed),
            (Operation::Read, false) => {
                let Some(meta) = store::read_meta(view, key)? else {
                    return Err(Error::NotFound);
                };
                let mut resp = Response::with_data(meta.response_data());
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            (Operation::Create | Operation::Update, false) => self.write_metadata(view, key, &fields).await,
            (Operation::Patch, false) => self.patch_metadata(view, key, req, &fields).await,
            (Operation::Delete, false) => {
                let key = key.to_string();
                view.write(move |tx| {
                    let Some(meta) = store::tx_meta(tx, &key)? else {
                        return Ok(());
                    };
                    for v in meta.versions.keys() {
                        tx.delete(&store::version_key(&key, *v))?;
                    }
                    tx.delete(&store::meta_key(&key))?;
                    Ok::<_, TxFail>(())
                })
                .await?;
                Ok(Response::no_content())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    fn list(&self, view: &dyn StorageView, key: &str, fields: &Fields, detailed: bool) -> Result<Response, Error> {
        let after = fields.str("after").unwrap_or_default();
        let limit = fields.int("limit").filter(|l| *l > 0).map(|l| l as usize);
        let meta_prefix = store::META;
        let mut keys: Vec<String> = list_folder(view, meta_prefix, key)?
            .into_iter()
            .filter(|k| after.is_empty() || k.as_str() > after.as_str())
            .collect();
        if let Some(limit) = limit {
            keys.truncate(limit);
        }
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        let mut data = Map::new();
        if detailed {
            let mut info = Map::new();
            for sub in &keys {
                let entry = match store::read_meta(view, &format!("{key}{sub}"))? {
                    Some(meta) if !sub.ends_with('/') => Value::Object(meta.response_data()),
                    _ => json!({}),
                };
                info.insert(sub.clone(), entry);
            }
            data.insert("key_info".into(), Value::Object(info));
        }
        data.insert("keys".into(), json!(keys));
        let mut resp = Response::with_data(data);
        resp.warnings = fields.warnings(&["path"]);
        Ok(resp)
    }

    async fn write_metadata(&self, view: &dyn StorageView, key: &str, fields: &Fields<'_>) -> Result<Response, Error> {
        if key.is_empty() {
            return Err(Error::InvalidRequest("missing path".into()));
        }
        let any = [
            "max_versions",
            "cas_required",
            "delete_version_after",
            "custom_metadata",
            "metadata_cas_required",
        ]
        .iter()
        .any(|f| fields.has(f));
        if !any {
            return Ok(Response::no_content());
        }
        let mut settings = Settings::from_fields(fields);
        if fields.has("custom_metadata") {
            settings.custom_metadata = Some(custom_metadata(
                &fields.map("custom_metadata").unwrap_or_default(),
                false,
            )?);
        }
        let key = key.to_string();
        let now = now_ns();
        let warnings = view
            .write(move |tx| {
                let config = store::tx_config(tx)?;
                let existing = store::tx_meta(tx, &key)?;
                let required =
                    existing.as_ref().is_some_and(|m| m.metadata_cas_required) || config.metadata_cas_required;
                if required && settings.metadata_cas.is_none() {
                    return Err(TxError::Abort(Error::InvalidRequest(
                        "metadata check-and-set parameter required for this call".into(),
                    )));
                }
                let mut meta = match existing {
                    None => {
                        if settings.metadata_cas.is_some_and(|c| c != 0) {
                            return Err(TxError::Abort(Error::InvalidRequest(
                                "metadata_cas must be 0 when creating new metadata".into(),
                            )));
                        }
                        KeyMetadata {
                            created_time: Some(now),
                            updated_time: Some(now),
                            current_metadata_version: 1,
                            ..Default::default()
                        }
                    }
                    Some(mut meta) => {
                        check_metadata_cas(settings.metadata_cas, false, meta.current_metadata_version)
                            .map_err(TxError::Abort)?;
                        meta.current_metadata_version += 1;
                        meta.updated_time = Some(now);
                        meta
                    }
                };
                settings.apply(&mut meta);
                if let Some(custom) = &settings.custom_metadata {
                    meta.custom_metadata = custom.clone();
                }
                store::put_meta(tx, &key, &meta)?;
                Ok(settings.warnings(&config))
            })
            .await?;
        Ok(warnings_response(warnings))
    }

    async fn patch_metadata(
        &self,
        view: &dyn StorageView,
        key: &str,
        req: &Request,
        fields: &Fields<'_>,
    ) -> Result<Response, Error> {
        let patchable = [
            "max_versions",
            "cas_required",
            "metadata_cas_required",
            "delete_version_after",
            "custom_metadata",
        ];
        if !patchable.iter().any(|f| fields.has(f)) {
            return Ok(Response::no_content());
        }
        if key.is_empty() {
            return Err(Error::InvalidRequest("missing path".into()));
        }
        // The patch of custom_metadata keeps its nulls (they remove keys); the rest must validate.
        let custom_patch = match req.data.get("custom_metadata") {
            Some(Value::Object(raw)) => {
                custom_metadata(raw, true)?;
                // OpenBao merges the patch into the stored metadata as JSON and decodes the result, so a value
                // that is not a string (or null) fails there.
                if let Some((k, v)) = raw.iter().find(|(_, v)| !(v.is_string() || v.is_null())) {
                    let kind = match v {
                        Value::Number(_) => "number",
                        Value::Bool(_) => "bool",
                        Value::Array(_) => "array",
                        _ => "object",
                    };
                    return Err(Error::InvalidRequest(format!(
                        "json: cannot unmarshal {kind} into Go struct field .custom_metadata.{k} of type string"
                    )));
                }
                Some(raw.clone())
            }
            None => None,
            // A null (merge patch) removes the whole map: see `clear_custom`.
            Some(_) => None,
        };
        let clear_custom = matches!(req.data.get("custom_metadata"), Some(v) if !v.is_object());
        let settings = Settings::from_fields(fields);
        let key = key.to_string();
        let now = now_ns();
        let warnings = view
            .write(move |tx| {
                let Some(mut meta) = store::tx_meta(tx, &key)? else {
                    return Err(TxError::Abort(Error::NotFoundNoBody));
                };
                let config = store::tx_config(tx)?;
                check_metadata_cas(
                    settings.metadata_cas,
                    meta.metadata_cas_required || config.metadata_cas_required,
                    meta.current_metadata_version,
                )
                .map_err(TxError::Abort)?;
                settings.apply(&mut meta);
                if clear_custom {
                    meta.custom_metadata.clear();
                } else if let Some(patch) = &custom_patch {
                    for (k, v) in patch {
                        match v {
                            Value::Null => {
                                meta.custom_metadata.remove(k);
                            }
                            Value::String(s) => {
                                meta.custom_metadata.insert(k.clone(), s.clone());
                            }
                            other => {
                                meta.custom_metadata.insert(k.clone(), other.to_string());
                            }
                        }
                    }
                }
                meta.current_metadata_version += 1;
                meta.updated_time = Some(now);
                store::put_meta(tx, &key, &meta)?;
                Ok(settings.warnings(&config))
            })
            .await?;
        Ok(warnings_response(warnings))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn custom_metadata_validation_reads_like_openbao() {
        let raw = json!({"": "x"});
        let err = custom_metadata(raw.as_object().unwrap(), false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "1 error occurred:\n\t* custom_metadata validation failed: length of key \"\" is 0 but must be 0 < len(key) <= 128\n\n"
        );
        let raw = json!({"a": 5, "b": true});
        let ok = custom_metadata(raw.as_object().unwrap(), false).unwrap();
        assert_eq!(ok["a"], "5");
        assert_eq!(ok["b"], "1");
        let raw = json!({"a": ""});
        assert!(custom_metadata(raw.as_object().unwrap(), false)
            .unwrap_err()
            .to_string()
            .contains("length of value for key \"a\" is 0"));
    }
}
