//! The cubbyhole: per-token private storage at `cubbyhole/`. The core gives each request the view of its own
//! token's records (`StorageScope::PerToken`), so no other token (root included) can reach them, and deletes them
//! with the token.

use crate::framework::{
    as_folder, decode_json, encode_json, keys_response, Captures, Display, Fields, PathSpec, PathTable, Schema,
};
use crate::logical::{
    Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response, StorageScope,
};

const SCHEMA: Schema = &[];

pub struct Cubbyhole;

const PATHS: PathTable<Cubbyhole> = PathTable {
    paths: &[PathSpec {
        pattern: "{*path}",
        fields: SCHEMA,
        operations: &[
            (Operation::Read, Cubbyhole::read),
            (Operation::Create, Cubbyhole::write),
            (Operation::Update, Cubbyhole::write),
            (Operation::Delete, Cubbyhole::delete),
            (Operation::List, Cubbyhole::list),
        ],
        existence: Some(Cubbyhole::exists),
        help: "Pass-through secret storage to a token-specific cubbyhole in the storage backend, allowing you to read/write arbitrary data into secret storage.",
        display: Display { per_op: &[(Operation::Read, "read", ""), (Operation::List, "list", ""), (Operation::Create, "write", ""), (Operation::Update, "write", ""), (Operation::Delete, "delete", "")], ..Display::new("cubbyhole", "", "") },
    }],
};

impl Cubbyhole {
    fn read<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let path = m.get("path");
            if path.is_empty() {
                return Err(Error::InvalidRequest("missing path".into()));
            }
            let Some(bytes) = ctx.storage.get(path.as_bytes())? else {
                return Err(Error::NotFound);
            };
            let mut resp = Response::with_data(decode_json(&bytes)?);
            resp.warnings = Fields::new(&req.data, SCHEMA).warnings(&["path"]);
            Ok(resp)
        })
    }

    fn write<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let path = m.get("path");
            if req.data.is_empty() {
                return Err(Error::InvalidRequest("missing data fields".into()));
            }
            if path.is_empty() {
                return Err(Error::InvalidRequest("missing path".into()));
            }
            let record = path.as_bytes().to_vec();
            let value = encode_json(&req.data);
            // The view refuses the write if the token was revoked since the request began.
            ctx.storage.write(move |tx| tx.put(&record, &value)).await?;
            Ok(Response::no_content())
        })
    }

    fn delete<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let record = m.get("path").as_bytes().to_vec();
            ctx.storage.write(move |tx| tx.delete(&record).map(|_| ())).await?;
            Ok(Response::no_content())
        })
    }

    fn list<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let keys: Vec<String> = ctx
                .storage
                .list(as_folder(m.get("path")).as_bytes())?
                .into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .collect();
            keys_response(keys, Fields::new(&req.data, SCHEMA).warnings(&["path"]))
        })
    }

    fn exists<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> ExistenceFuture<'a> {
        Box::pin(async move {
            let path = m.get("path");
            if path.ends_with('/') {
                return Ok(None);
            }
            Ok(Some(ctx.storage.get(path.as_bytes())?.is_some()))
        })
    }
}

impl Backend for Cubbyhole {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(PATHS.handle(self, ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(PATHS.existence(self, ctx, req))
    }

    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        Some(PATHS.openapi(&self.special_paths(), default_prefix))
    }

    fn storage_scope(&self) -> StorageScope {
        StorageScope::PerToken
    }
}
