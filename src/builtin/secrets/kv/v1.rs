//! K/V version 1: one JSON record per path, overwritten on write. A `ttl` (or `lease`) key in the secret is a
//! lease-duration hint for readers; otherwise reads carry the mount's default lease TTL.

use serde_json::{Map, Value};

use super::{key, list_folder, V1_DATA};
use crate::framework::{
    as_folder, decode_json, encode_json, keys_response, parse_duration_second, Captures, Display, Fields, PathSpec,
    PathTable, Schema,
};
use crate::logical::{Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response};

const SCHEMA: Schema = &[];

pub struct KvV1;

const PATHS: PathTable<KvV1> = PathTable {
    paths: &[PathSpec {
        pattern: "{*path}",
        fields: SCHEMA,
        operations: &[
            (Operation::Read, KvV1::read),
            (Operation::Create, KvV1::write),
            (Operation::Update, KvV1::write),
            (Operation::Delete, KvV1::delete),
            (Operation::List, KvV1::list),
        ],
        existence: Some(KvV1::exists),
        help: "Pass-through secret storage to the storage backend, allowing you to read/write arbitrary data into secret storage.",
        display: Display::NONE,
    }],
};

/// The lease duration a read reports: the secret's hint, else the mount's default lease TTL (seconds).
fn lease_hint(data: &Map<String, Value>, default_ttl: u64) -> i64 {
    let hint = data.get("ttl").or_else(|| data.get("lease"));
    match hint.map(parse_duration_second) {
        Some(Ok(Some(secs))) => secs,
        _ => i64::try_from(default_ttl).unwrap_or(i64::MAX),
    }
}

impl KvV1 {
    fn read<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some(bytes) = ctx.storage.get(&key(V1_DATA, m.get("path")))? else {
                return Err(Error::NotFound);
            };
            let data = decode_json(&bytes)?;
            let mut resp = Response::with_data(data);
            let default_ttl = ctx.system.default_lease_ttl().as_secs();
            resp.lease_duration = resp.data.as_ref().map(|d| lease_hint(d, default_ttl)).unwrap_or(0);
            resp.warnings = Fields::new(&req.data, SCHEMA).warnings(&["path"]);
            Ok(resp)
        })
    }

    fn write<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let path = m.get("path");
            if path.is_empty() {
                return Err(Error::InvalidRequest("missing path".into()));
            }
            if req.data.is_empty() {
                return Err(Error::InvalidRequest("missing data fields".into()));
            }
            let record = key(V1_DATA, path);
            let value = encode_json(&req.data);
            ctx.storage.write(move |tx| tx.put(&record, &value)).await?;
            Ok(Response::no_content())
        })
    }

    fn delete<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let record = key(V1_DATA, m.get("path"));
            ctx.storage.write(move |tx| tx.delete(&record).map(|_| ())).await?;
            Ok(Response::no_content())
        })
    }

    fn list<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let keys = list_folder(ctx.storage, V1_DATA, &as_folder(m.get("path")))?;
            keys_response(keys, Fields::new(&req.data, SCHEMA).warnings(&["path"]))
        })
    }

    fn exists<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> ExistenceFuture<'a> {
        Box::pin(async move {
            let path = m.get("path");
            if path.ends_with('/') {
                return Ok(None);
            }
            Ok(Some(ctx.storage.get(&key(V1_DATA, path))?.is_some()))
        })
    }
}

impl Backend for KvV1 {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(PATHS.handle(self, ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(PATHS.existence(self, ctx, req))
    }

    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        Some(PATHS.openapi(&self.special_paths(), default_prefix))
    }
}
