//! The cubbyhole: per-token private storage at `cubbyhole/`. The core gives each request the view of its own
//! token's records (`StorageScope::PerToken`), so no other token (root included) can reach them, and deletes them
//! with the token.

use crate::framework::{as_folder, decode_json, encode_json, keys_response, refuse_write_to_folder, Fields, Schema};
use crate::logical::{
    Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response, StorageScope,
};

const SCHEMA: Schema = &[];

pub struct Cubbyhole;

impl Cubbyhole {
    async fn route(&self, ctx: &Context<'_>, req: &Request) -> Result<Response, Error> {
        let (view, path) = (ctx.storage, ctx.path);
        refuse_write_to_folder(req.operation, &req.path)?;
        let fields = Fields::new(&req.data, SCHEMA);
        match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(Error::InvalidRequest("missing path".into()));
                }
                let Some(bytes) = view.get(path.as_bytes())? else {
                    return Err(Error::NotFound);
                };
                let mut resp = Response::with_data(decode_json(&bytes)?);
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if req.data.is_empty() {
                    return Err(Error::InvalidRequest("missing data fields".into()));
                }
                if path.is_empty() {
                    return Err(Error::InvalidRequest("missing path".into()));
                }
                let record = path.as_bytes().to_vec();
                let value = encode_json(&req.data);
                // The view refuses the write if the token was revoked since the request began.
                view.write(move |tx| tx.put(&record, &value)).await?;
                Ok(Response::no_content())
            }
            Operation::Delete => {
                let record = path.as_bytes().to_vec();
                view.write(move |tx| tx.delete(&record).map(|_| ())).await?;
                Ok(Response::no_content())
            }
            Operation::List => {
                let keys: Vec<String> = view
                    .list(as_folder(path).as_bytes())?
                    .into_iter()
                    .map(|k| String::from_utf8_lossy(&k).into_owned())
                    .collect();
                keys_response(keys, fields.warnings(&["path"]))
            }
            Operation::Patch | Operation::Renew | Operation::Revoke => Err(Error::UnsupportedOperation),
        }
    }
}

impl Backend for Cubbyhole {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(self.route(ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(async move {
            if ctx.path.ends_with('/') {
                return Ok(None);
            }
            Ok(Some(ctx.storage.get(ctx.path.as_bytes())?.is_some()))
        })
    }

    fn storage_scope(&self) -> StorageScope {
        StorageScope::PerToken
    }
}
