//! `config`: the engine-wide settings (max_versions, cas_required, metadata_cas_required, delete_version_after).

use serde_json::{json, Map};

use super::store::{self, KvConfig, DELETE_VERSION_AFTER_DISABLED};
use super::KvV2;
use crate::framework::{field, go_duration_string, Fields, Kind, Schema};
use crate::logical::{Error, Operation, Request, Response, StorageView, TxFail};

pub const SCHEMA: Schema = &[
    field("max_versions", Kind::Int).desc("The number of versions to keep. If not set, the backend’s configured max version is used."),
    field("cas_required", Kind::Bool).desc("If true the key will require the cas parameter to be set on all write requests. If false, the backend’s configuration will be used."),
    field("metadata_cas_required", Kind::Bool).desc("If true the key will require the cas parameter to be set on all metadata update requests. If false, the backend's configuration will be used."),
    field("delete_version_after", Kind::SignedDuration).desc("The length of time before a version is deleted. If not set, the backend's configured delete_version_after is used. Cannot be greater than the backend's delete_version_after. A zero duration clears the current setting. A negative duration will cause an error."),
];

fn config_data(config: &KvConfig) -> Map<String, serde_json::Value> {
    let mut m = Map::new();
    m.insert("max_versions".into(), json!(config.max_versions));
    m.insert("cas_required".into(), json!(config.cas_required));
    m.insert("metadata_cas_required".into(), json!(config.metadata_cas_required));
    m.insert(
        "delete_version_after".into(),
        json!(go_duration_string(config.delete_version_after)),
    );
    m
}

impl KvV2 {
    pub(super) async fn config(&self, view: &dyn StorageView, req: &Request) -> Result<Response, Error> {
        let fields = Fields::new(&req.data, SCHEMA);
        match req.operation {
            Operation::Read => {
                let config = store::read_config(view)?;
                let mut resp = Response::with_data(config_data(&config));
                resp.warnings = fields.warnings(&[]);
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if !SCHEMA.iter().any(|f| fields.has(f.name)) {
                    return Ok(Response::no_content());
                }
                let max_versions = fields.int("max_versions");
                let cas_required = fields.bool("cas_required");
                let metadata_cas_required = fields.bool("metadata_cas_required");
                let delete_version_after = fields.secs("delete_version_after");
                view.write(move |tx| {
                    let mut config = store::tx_config(tx)?;
                    if let Some(m) = max_versions {
                        config.max_versions = m as u32;
                    }
                    if let Some(c) = cas_required {
                        config.cas_required = c;
                    }
                    if let Some(c) = metadata_cas_required {
                        config.metadata_cas_required = c;
                    }
                    if let Some(d) = delete_version_after {
                        config.delete_version_after = if d < 0 { DELETE_VERSION_AFTER_DISABLED } else { d };
                    }
                    tx.put_as(&store::config_key(), &config)?;
                    Ok::<_, TxFail>(())
                })
                .await?;
                Ok(Response::no_content())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}
