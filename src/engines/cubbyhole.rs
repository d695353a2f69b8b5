//! The cubbyhole: per-token private storage at `cubbyhole/`. Each token sees only its own records, keyed in the
//! `cubbyhole` tree by the token's salted hash (`hash ++ path`), so no other token (root included) can reach them.
//! A token's cubbyhole goes in the same transaction that revokes the token (see `auth::token`).

use std::sync::Arc;

use crate::core::router::{Backend, BackendFuture, ExistenceFuture};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response};
use crate::engines::framework::{as_folder, keys_response, refuse_write_to_folder, Fields, Schema};
use crate::engines::kv::{decode_json, encode_json};
use crate::storage::{Tree, TxError};

const SCHEMA: Schema = &[];

/// Where OpenBao keeps a wrapping token's wrapped response: its cubbyhole's `response`.
const WRAPPED_RESPONSE_KEY: &str = "response";

pub struct Cubbyhole;

impl Cubbyhole {
    pub fn new() -> Arc<Self> {
        Arc::new(Cubbyhole)
    }
}

fn record_key(token_hash: &[u8], path: &str) -> Vec<u8> {
    [token_hash, path.as_bytes()].concat()
}

impl Core {
    /// Every cubbyhole record of these tokens (to delete with them).
    pub fn cubbyhole_keys<'a>(
        &self,
        token_hashes: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Vec<u8>>, CoreError> {
        let mut out = Vec::new();
        for hash in token_hashes {
            out.extend(self.storage.keys_with_prefix(Tree::Cubbyhole, hash)?);
        }
        Ok(out)
    }

    /// Delete what a write that raced a revocation may have left in the revoked tokens' cubbyholes (no request can
    /// reach them any more).
    pub async fn purge_cubbyholes<'a>(
        &self,
        token_hashes: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), CoreError> {
        let keys = self.cubbyhole_keys(token_hashes)?;
        if keys.is_empty() {
            return Ok(());
        }
        self.storage
            .write(move |tx| {
                for key in &keys {
                    tx.remove(Tree::Cubbyhole, key)?;
                }
                Ok::<_, TxError<CoreError>>(())
            })
            .await??;
        Ok(())
    }
}

impl Cubbyhole {
    async fn route(&self, core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
        refuse_write_to_folder(req.operation, &req.path)?;
        let fields = Fields::new(&req.data, SCHEMA);
        let hash = caller.token_hash.as_slice();
        match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(CoreError::InvalidRequest("missing path".into()));
                }
                let Some(bytes) = core.storage.get_raw(Tree::Cubbyhole, &record_key(hash, path))? else {
                    return Err(CoreError::NotFound);
                };
                let mut resp = Response::with_data(decode_json(&bytes)?);
                resp.warnings = fields.warnings(&["path"]);
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if req.data.is_empty() {
                    return Err(CoreError::InvalidRequest("missing data fields".into()));
                }
                if path.is_empty() {
                    return Err(CoreError::InvalidRequest("missing path".into()));
                }
                let token = hash.to_vec();
                let record = record_key(hash, path);
                let value = encode_json(&req.data);
                core.storage
                    .write(move |tx| {
                        // The token may have been revoked since the request began: its cubbyhole is gone for good.
                        if tx.get_raw(Tree::Tokens, &token)?.is_none() {
                            return Err(TxError::Abort(CoreError::PermissionDenied));
                        }
                        tx.put_raw(Tree::Cubbyhole, &record, &value)?;
                        Ok(())
                    })
                    .await??;
                Ok(Response::no_content())
            }
            Operation::Delete => {
                let record = record_key(hash, path);
                core.storage
                    .write(move |tx| {
                        tx.remove(Tree::Cubbyhole, &record)?;
                        Ok::<_, TxError<CoreError>>(())
                    })
                    .await??;
                Ok(Response::no_content())
            }
            Operation::List => {
                let keys: Vec<String> = core
                    .storage
                    .list_children(Tree::Cubbyhole, &record_key(hash, &as_folder(path)))?
                    .into_iter()
                    .map(|k| String::from_utf8_lossy(&k).into_owned())
                    .collect();
                keys_response(keys, fields.warnings(&["path"]))
            }
            Operation::Patch => Err(CoreError::UnsupportedOperation),
        }
    }
}

impl Backend for Cubbyhole {
    fn handle<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> BackendFuture<'a> {
        Box::pin(self.route(core, caller, relative_path, req))
    }

    fn existence<'a>(
        &'a self,
        core: &'a Core,
        token_hash: &'a [u8],
        relative_path: &'a str,
        _req: &'a Request,
    ) -> ExistenceFuture<'a> {
        Box::pin(async move {
            if relative_path.ends_with('/') {
                return Ok(None);
            }
            // A wrapping token's wrapped response is, in OpenBao, its cubbyhole's `response`: a write there is an
            // update (which the response-wrapping policy does not grant), never a create.
            if relative_path == WRAPPED_RESPONSE_KEY
                && core.storage.get_raw(Tree::WrappedResponses, token_hash)?.is_some()
            {
                return Ok(Some(true));
            }
            let record = record_key(token_hash, relative_path);
            Ok(Some(core.storage.get_raw(Tree::Cubbyhole, &record)?.is_some()))
        })
    }
}
