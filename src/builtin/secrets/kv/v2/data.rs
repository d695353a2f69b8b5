//! `data/:path`: read a version (`?version=`), write a new version (`options.cas`), patch the latest version with a
//! JSON merge patch, and soft-delete the latest version.

use serde_json::{json, Map, Value};

use super::store::{self, KeyMetadata};
use super::KvV2;
use crate::framework::{decode_json, encode_json, field};
use crate::framework::{now_ns, Fields, Kind, Schema};
use crate::logical::{Error, Operation, Request, Response, StorageView};
use crate::storage::TxError;

pub const SCHEMA: Schema = &[
    field("path", Kind::Str).desc("Location of the secret."),
    field("version", Kind::Int).desc("If provided during a read, the value at the version number will be returned"),
    field("options", Kind::Map).desc("Options for writing a KV entry. Set the \"cas\" value to use a Check-And-Set operation. If not set the write will be allowed. If set to 0 a write will only be allowed if the key doesn’t exist. If the index is non-zero the write will only be allowed if the key’s current version matches the version specified in the cas parameter."),
    field("data", Kind::Map).desc("The contents of the data map will be stored and returned on read."),
];

/// OpenBao's `validateCheckAndSetOption`.
pub(super) fn check_and_set(
    options: Option<&Map<String, Value>>,
    cas_required: bool,
    meta: &KeyMetadata,
) -> Result<(), Error> {
    match options.and_then(|o| o.get("cas")) {
        Some(raw) => {
            let mut probe = Map::new();
            probe.insert("cas".into(), raw.clone());
            const CAS: &[crate::framework::Field] = &[field("cas", Kind::Int)];
            let cas = Fields::new(&probe, CAS)
                .int("cas")
                .ok_or_else(|| Error::InvalidRequest("error parsing check-and-set parameter".into()))?;
            if cas as u64 != meta.current_version {
                return Err(Error::InvalidRequest(
                    "check-and-set parameter did not match the current version".into(),
                ));
            }
            Ok(())
        }
        None if cas_required || meta.cas_required => Err(Error::InvalidRequest(
            "check-and-set parameter required for this call".into(),
        )),
        None => Ok(()),
    }
}

/// RFC 7386 JSON merge patch.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// What a read or patch found: the answer, or the version's metadata with a 404 (deleted or destroyed).
pub(super) enum Outcome {
    Done(Map<String, Value>),
    Gone(Map<String, Value>),
}

pub(super) fn gone(data: Map<String, Value>) -> Response {
    Response {
        data: Some(data),
        status: Some(404),
        ..Default::default()
    }
}

impl KvV2 {
    pub(super) async fn data(&self, view: &dyn StorageView, key: &str, req: &Request) -> Result<Response, Error> {
        let fields = Fields::new(&req.data, SCHEMA);
        match req.operation {
            Operation::Read => self.read_version(view, key, &fields),
            Operation::Create | Operation::Update => {
                if key.is_empty() {
                    return Err(Error::InvalidRequest("missing path".into()));
                }
                let Some(data) = fields.map("data") else {
                    return Err(Error::InvalidRequest("no data provided".into()));
                };
                let options = fields.map("options");
                let bytes = encode_json(&data);
                let key_owned = key.to_string();
                let now = now_ns();
                let summary = view
                    .write(move |tx| {
                        let config = store::tx_config(tx)?;
                        let meta = store::tx_meta(tx, &key_owned)?.unwrap_or_default();
                        check_and_set(options.as_ref(), config.cas_required, &meta).map_err(TxError::Abort)?;
                        let (meta, version) = store::add_version(tx, &key_owned, meta, &config, &bytes, now)?;
                        Ok(meta.summary_of(version))
                    })
                    .await?;
                let mut resp = Response::with_data(summary);
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            Operation::Patch => {
                if req.data.get("data").is_none_or(Value::is_null) {
                    return Err(Error::InvalidRequest("no data provided".into()));
                }
                let patch = Value::Object(fields.map("data").unwrap_or_default());
                let options = fields.map("options");
                let key_owned = key.to_string();
                let now = now_ns();
                let outcome = view
                    .write(move |tx| {
                        let Some(meta) = store::tx_meta(tx, &key_owned)? else {
                            return Err(TxError::Abort(Error::NotFoundNoBody));
                        };
                        let config = store::tx_config(tx)?;
                        check_and_set(options.as_ref(), config.cas_required, &meta).map_err(TxError::Abort)?;
                        let current = meta.current_version;
                        let Some(vm) = meta.versions.get(&current).cloned() else {
                            return Err(TxError::Abort(Error::NotFoundNoBody));
                        };
                        if vm.gone(now) {
                            return Ok(Outcome::Gone(meta.version_summary(current, &vm)));
                        }
                        let stored = tx
                            .get(&store::version_key(&key_owned, current))?
                            .ok_or_else(|| TxError::Storage(missing_version_data()))?;
                        let mut value =
                            Value::Object(decode_json(&stored).map_err(|e| TxError::Storage(storage_error(e)))?);
                        merge_patch(&mut value, &patch);
                        let patched = match value {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        let bytes = encode_json(&patched);
                        let (meta, version) = store::add_version(tx, &key_owned, meta, &config, &bytes, now)?;
                        Ok(Outcome::Done(meta.summary_of(version)))
                    })
                    .await?;
                match outcome {
                    Outcome::Done(summary) => {
                        let mut resp = Response::with_data(summary);
                        resp.warnings = fields.warnings(&["path"]);
                        Ok(resp)
                    }
                    Outcome::Gone(summary) => Ok(gone(summary)),
                }
            }
            Operation::Delete => {
                let key_owned = key.to_string();
                let now = now_ns();
                view.write(move |tx| {
                    let Some(mut meta) = store::tx_meta(tx, &key_owned)? else {
                        return Ok(());
                    };
                    let current = meta.current_version;
                    match meta.versions.get_mut(&current) {
                        Some(lv) if !lv.gone(now) => lv.deletion = Some(now),
                        _ => return Ok(()),
                    }
                    store::put_meta(tx, &key_owned, &meta)
                })
                .await?;
                Ok(Response::no_content())
            }
            Operation::List | Operation::Renew | Operation::Revoke => Err(Error::UnsupportedOperation),
        }
    }

    /// A version's data (the latest unless `version` is given): metadata and data point reads, no scan.
    fn read_version(&self, view: &dyn StorageView, key: &str, fields: &Fields) -> Result<Response, Error> {
        let (mut data, secret) = match self.requested_version(view, key, fields, "data")? {
            Ok(live) => live,
            Err(gone) => return Ok(gone),
        };
        data.insert("data".into(), Value::Object(secret));
        let mut resp = Response::with_data(data);
        resp.warnings = fields.warnings(&["path"]);
        Ok(resp)
    }
}

/// A readable version: the answer's `data` map so far, and the version's secret.
type LiveVersion = (Map<String, Value>, Map<String, Value>);

impl KvV2 {
    /// The version a read asks for (`version`, else the latest), shared by `data/` and `subkeys/`: the answer's
    /// `data` map (`field` null, `metadata` filled) with the version's secret, or the finished answer for a deleted or
    /// destroyed version.
    pub(super) fn requested_version(
        &self,
        view: &dyn StorageView,
        key: &str,
        fields: &Fields,
        field: &str,
    ) -> Result<Result<LiveVersion, Response>, Error> {
        let Some(meta) = store::read_meta(view, key)? else {
            return Err(Error::NotFound);
        };
        let version = match fields.int("version") {
            Some(v) if v > 0 => v as u64,
            _ => meta.current_version,
        };
        let Some(vm) = meta.versions.get(&version) else {
            return Err(Error::NotFound);
        };
        let mut data = Map::new();
        data.insert(field.into(), Value::Null);
        data.insert("metadata".into(), json!(meta.version_summary(version, vm)));
        if vm.gone(now_ns()) {
            return Ok(Err(gone(data)));
        }
        let stored = view
            .get(&store::version_key(key, version))?
            .ok_or_else(missing_version_data)?;
        Ok(Ok((data, decode_json(&stored)?)))
    }
}

fn missing_version_data() -> crate::storage::StorageError {
    crate::storage::StorageError::Codec("could not find version data".into())
}

fn storage_error(e: Error) -> crate::storage::StorageError {
    match e {
        Error::Storage(s) => s,
        other => crate::storage::StorageError::Codec(other.to_string()),
    }
}
