//! K/V version 1: one JSON record per path, overwritten on write. A `ttl` (or `lease`) key in the secret is a
//! lease-duration hint for readers; otherwise reads carry the mount's default lease TTL.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{decode_json, encode_json, key, list_folder, V1_DATA};
use crate::core::router::{Backend, BackendFuture, ExistenceFuture};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response};
use crate::engines::framework::{
    as_folder, keys_response, parse_duration_second, refuse_write_to_folder, Fields, Schema,
};
use crate::storage::{Tree, TxError};

const SCHEMA: Schema = &[];

pub struct KvV1 {
    /// `<uuid>/1/`.
    prefix: Vec<u8>,
    /// The mount's default lease TTL (seconds), for reads without a `ttl`.
    default_ttl: u64,
}

impl KvV1 {
    pub fn new(mount_prefix: &[u8], default_ttl: u64) -> Arc<Self> {
        Arc::new(KvV1 {
            prefix: [mount_prefix, V1_DATA].concat(),
            default_ttl,
        })
    }

    fn lease_hint(&self, data: &Map<String, Value>) -> i64 {
        let hint = data.get("ttl").or_else(|| data.get("lease"));
        match hint.map(parse_duration_second) {
            Some(Ok(Some(secs))) => secs,
            _ => i64::try_from(self.default_ttl).unwrap_or(i64::MAX),
        }
    }

    async fn route(&self, core: &Core, path: &str, req: &Request) -> Result<Response, CoreError> {
        refuse_write_to_folder(req.operation, &req.path)?;
        let fields = Fields::new(&req.data, SCHEMA);
        match req.operation {
            Operation::Read => {
                let Some(bytes) = core.storage.get_raw(Tree::Logical, &key(&self.prefix, b"", path))? else {
                    return Err(CoreError::NotFound);
                };
                let data = decode_json(&bytes)?;
                let mut resp = Response::with_data(data);
                resp.lease_duration = resp.data.as_ref().map(|d| self.lease_hint(d)).unwrap_or(0);
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() {
                    return Err(CoreError::InvalidRequest("missing path".into()));
                }
                if req.data.is_empty() {
                    return Err(CoreError::InvalidRequest("missing data fields".into()));
                }
                let record = key(&self.prefix, b"", path);
                let value = encode_json(&req.data);
                core.storage
                    .write(move |tx| {
                        tx.put_raw(Tree::Logical, &record, &value)?;
                        Ok::<_, TxError<CoreError>>(())
                    })
                    .await??;
                Ok(Response::no_content())
            }
            Operation::Delete => {
                let record = key(&self.prefix, b"", path);
                core.storage
                    .write(move |tx| {
                        tx.remove(Tree::Logical, &record)?;
                        Ok::<_, TxError<CoreError>>(())
                    })
                    .await??;
                Ok(Response::no_content())
            }
            Operation::List => {
                let keys = list_folder(&core.storage, &self.prefix, &as_folder(path))?;
                keys_response(keys, fields.warnings(&["path"]))
            }
            Operation::Patch => Err(CoreError::UnsupportedOperation),
        }
    }
}

impl Backend for KvV1 {
    fn handle<'a>(
        &'a self,
        core: &'a Core,
        _caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> BackendFuture<'a> {
        Box::pin(self.route(core, relative_path, req))
    }

    fn existence<'a>(
        &'a self,
        core: &'a Core,
        _token_hash: &'a [u8],
        relative_path: &'a str,
        _req: &'a Request,
    ) -> ExistenceFuture<'a> {
        Box::pin(async move {
            if relative_path.ends_with('/') {
                return Ok(None);
            }
            let record = key(&self.prefix, b"", relative_path);
            Ok(Some(core.storage.get_raw(Tree::Logical, &record)?.is_some()))
        })
    }
}
