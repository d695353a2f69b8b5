//! K/V version 2: versioned secrets. One file per path group, as OpenBao's `builtin/logical/kv`: `config`,
//! `data/:path`, `delete|undelete|destroy/:path`, `metadata/:path` (and `detailed-metadata/`), `subkeys/:path`;
//! anything else answers OpenBao's 404 with a hint.

pub mod config;
pub mod data;
pub mod metadata;
pub mod store;
pub mod subkeys;
pub mod versions;

use crate::framework::{refuse_write_to_folder, Fields};
use crate::logical::{
    Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response, StorageView,
};

pub struct KvV2;

/// OpenBao's answer to a path outside the engine's API: 404 with a warning.
fn invalid_path(path: &str, op: Operation) -> Response {
    let warning = match path {
        "metadata" | "data" | "delete" | "undelete" | "destroy" => {
            "Non-listing operations on the root of a K/V v2 mount are not supported.".to_string()
        }
        _ => {
            let sub = match op {
                Operation::Create | Operation::Update => "put",
                Operation::Patch => "patch",
                Operation::Read => "get",
                Operation::List => "list",
                Operation::Delete | Operation::Renew | Operation::Revoke => "delete",
            };
            format!(
                "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv {sub}' for this operation."
            )
        }
    };
    Response {
        warnings: vec![warning],
        status: Some(404),
        ..Default::default()
    }
}

impl KvV2 {
    async fn route(&self, view: &dyn StorageView, path: &str, req: &Request) -> Result<Response, Error> {
        refuse_write_to_folder(req.operation, &req.path)?;
        if path == "config" {
            return self.config(view, req).await;
        }
        if let Some(key) = path.strip_prefix("data/") {
            return self.data(view, key, req).await;
        }
        if let Some(key) = path.strip_prefix("metadata/") {
            return self.metadata(view, key, req, false).await;
        }
        if let Some(key) = path.strip_prefix("detailed-metadata/") {
            return self.metadata(view, key, req, true).await;
        }
        if let Some(key) = path.strip_prefix("subkeys/") {
            return self.subkeys(view, key, req).await;
        }
        for (prefix, action) in [
            ("delete/", versions::Action::Delete),
            ("undelete/", versions::Action::Undelete),
            ("destroy/", versions::Action::Destroy),
        ] {
            if let Some(key) = path.strip_prefix(prefix) {
                return self.versions(view, key, req, action).await;
            }
        }
        Ok(invalid_path(path, req.operation))
    }
}

impl Backend for KvV2 {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(self.route(ctx.storage, ctx.path, req))
    }

    /// `data/` and `metadata/` check existence (by the key's metadata); their fields are validated here first, as
    /// OpenBao's existence check does (so its errors have no "Field validation failed" prefix).
    fn existence<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(async move {
            let relative_path = ctx.path;
            if relative_path.ends_with('/') {
                return Ok(None);
            }
            let (key, schema) = if let Some(key) = relative_path.strip_prefix("data/") {
                (key, data::SCHEMA)
            } else if let Some(key) = relative_path.strip_prefix("metadata/") {
                (key, metadata::SCHEMA)
            } else {
                return Ok(None);
            };
            Fields::new(&req.data, schema).validate(false)?;
            Ok(Some(store::read_meta(ctx.storage, key)?.is_some()))
        })
    }
}
