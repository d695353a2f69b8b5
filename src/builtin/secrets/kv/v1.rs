//! K/V version 1: one JSON record per path, overwritten on write. A `ttl` (or `lease`) key in the secret is a
//! lease-duration hint for readers; otherwise reads carry the mount's default lease TTL.

use serde_json::{Map, Value};

use super::{key, list_folder, V1_DATA};
use crate::framework::{
    as_folder, decode_json, encode_json, keys_response, parse_duration_second, refuse_write_to_folder, Fields, Schema,
};
use crate::logical::{Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response};

const SCHEMA: Schema = &[];

pub struct KvV1;

/// The lease duration a read reports: the secret's hint, else the mount's default lease TTL (seconds).
fn lease_hint(data: &Map<String, Value>, default_ttl: u64) -> i64 {
    let hint = data.get("ttl").or_else(|| data.get("lease"));
    match hint.map(parse_duration_second) {
        Some(Ok(Some(secs))) => secs,
        _ => i64::try_from(default_ttl).unwrap_or(i64::MAX),
    }
}

impl KvV1 {
    async fn route(&self, ctx: &Context<'_>, req: &Request) -> Result<Response, Error> {
        let (view, path) = (ctx.storage, ctx.path);
        refuse_write_to_folder(req.operation, &req.path)?;
        let fields = Fields::new(&req.data, SCHEMA);
        match req.operation {
            Operation::Read => {
                let Some(bytes) = view.get(&key(V1_DATA, path))? else {
                    return Err(Error::NotFound);
                };
                let data = decode_json(&bytes)?;
                let mut resp = Response::with_data(data);
                let default_ttl = ctx.system.default_lease_ttl().as_secs();
                resp.lease_duration = resp.data.as_ref().map(|d| lease_hint(d, default_ttl)).unwrap_or(0);
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() {
                    return Err(Error::InvalidRequest("missing path".into()));
                }
                if req.data.is_empty() {
                    return Err(Error::InvalidRequest("missing data fields".into()));
                }
                let record = key(V1_DATA, path);
                let value = encode_json(&req.data);
                view.write(move |tx| tx.put(&record, &value)).await?;
                Ok(Response::no_content())
            }
            Operation::Delete => {
                let record = key(V1_DATA, path);
                view.write(move |tx| tx.delete(&record).map(|_| ())).await?;
                Ok(Response::no_content())
            }
            Operation::List => {
                let keys = list_folder(view, V1_DATA, &as_folder(path))?;
                keys_response(keys, fields.warnings(&["path"]))
            }
            Operation::Patch | Operation::Renew | Operation::Revoke => Err(Error::UnsupportedOperation),
        }
    }
}

impl Backend for KvV1 {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(self.route(ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(async move {
            if ctx.path.ends_with('/') {
                return Ok(None);
            }
            Ok(Some(ctx.storage.get(&key(V1_DATA, ctx.path))?.is_some()))
        })
    }
}
