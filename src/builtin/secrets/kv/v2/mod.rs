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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::KvV2;
    use crate::logical::testing::call;
    use crate::logical::{Error, MemoryView, Operation, Response};

    fn data(resp: &Response) -> Value {
        Value::Object(resp.data.clone().unwrap_or_default())
    }

    #[test]
    fn versions_check_and_set_and_soft_delete() {
        let (kv, view) = (KvV2, MemoryView::default());
        let put = |body: Value| call(&kv, &view, "secret/", Operation::Update, "data/app", body);
        let get = |path: &str| call(&kv, &view, "secret/", Operation::Read, path, json!({}));

        assert!(matches!(get("data/app"), Err(Error::NotFound)));
        assert_eq!(data(&put(json!({"data": {"k": "v1"}})).unwrap())["version"], 1);
        assert_eq!(
            data(&put(json!({"data": {"k": "v2"}, "options": {"cas": 1}})).unwrap())["version"],
            2
        );
        match put(json!({"data": {"k": "x"}, "options": {"cas": 1}})) {
            Err(Error::InvalidRequest(m)) => assert_eq!(m, "check-and-set parameter did not match the current version"),
            other => panic!("{other:?}"),
        }
        let latest = data(&get("data/app").unwrap());
        assert_eq!(latest["data"], json!({"k": "v2"}));
        assert_eq!(latest["metadata"]["version"], 2);
        let first = call(
            &kv,
            &view,
            "secret/",
            Operation::Read,
            "data/app",
            json!({"version": 1}),
        )
        .unwrap();
        assert_eq!(data(&first)["data"], json!({"k": "v1"}));

        call(&kv, &view, "secret/", Operation::Delete, "data/app", json!({})).unwrap();
        let deleted = get("data/app").unwrap();
        assert_eq!(deleted.status, Some(404));
        assert_eq!(data(&deleted)["data"], Value::Null);
        call(
            &kv,
            &view,
            "secret/",
            Operation::Update,
            "undelete/app",
            json!({"versions": [2]}),
        )
        .unwrap();
        assert_eq!(data(&get("data/app").unwrap())["data"], json!({"k": "v2"}));

        let meta = data(&get("metadata/app").unwrap());
        assert_eq!(meta["current_version"], 2);
        assert_eq!(meta["versions"].as_object().map(|v| v.len()), Some(2));
        let keys = call(&kv, &view, "secret/", Operation::List, "metadata/", json!({})).unwrap();
        assert_eq!(data(&keys)["keys"], json!(["app"]));
    }

    #[test]
    fn existence_then_the_version_window_slides_and_metadata_delete_removes_all() {
        let (kv, view) = (KvV2, MemoryView::default());
        let exists = |path: &str| {
            let system = crate::logical::testing::FixedSystemView::default();
            let ctx = crate::logical::Context {
                path,
                storage: &view,
                system: &system,
            };
            let req = crate::logical::Request {
                id: String::new(),
                operation: Operation::Update,
                path: format!("secret/{path}"),
                data: serde_json::Map::new(),
                client_token: None,
                wrap_ttl: None,
            };
            crate::logical::testing::block_on(crate::logical::Backend::existence(&kv, &ctx, &req)).unwrap()
        };
        assert_eq!(exists("data/k"), Some(false));
        assert_eq!(exists("config"), None);
        call(
            &kv,
            &view,
            "secret/",
            Operation::Update,
            "config",
            json!({"max_versions": 2}),
        )
        .unwrap();
        for n in 1..=3 {
            call(
                &kv,
                &view,
                "secret/",
                Operation::Update,
                "data/k",
                json!({"data": {"n": n}}),
            )
            .unwrap();
        }
        assert_eq!(exists("data/k"), Some(true));
        let meta = call(&kv, &view, "secret/", Operation::Read, "metadata/k", json!({})).unwrap();
        let meta = data(&meta);
        assert_eq!(meta["oldest_version"], 2);
        assert_eq!(meta["versions"].as_object().map(|v| v.len()), Some(2));
        let gone = call(&kv, &view, "secret/", Operation::Read, "data/k", json!({"version": 1}));
        assert!(matches!(gone, Err(Error::NotFound)), "{gone:?}");
        call(&kv, &view, "secret/", Operation::Delete, "metadata/k", json!({})).unwrap();
        assert!(view_is_empty_but_config(&view));
    }

    fn view_is_empty_but_config(view: &MemoryView) -> bool {
        use crate::logical::StorageView;
        view.keys(b"").map(|k| k == vec![b"config".to_vec()]).unwrap_or(false)
    }
}
