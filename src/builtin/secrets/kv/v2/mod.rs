//! K/V version 2: versioned secrets. One file per path group, as OpenBao's `builtin/logical/kv`: `config`,
//! `data/:path`, `delete|undelete|destroy/:path`, `metadata/:path` (and `detailed-metadata/`), `subkeys/:path`;
//! anything else answers OpenBao's 404 with a hint.

pub mod config;
pub mod data;
pub mod metadata;
pub mod store;
pub mod subkeys;
pub mod versions;

use crate::framework::{Captures, Display, Fields, PathSpec, PathTable};
use crate::logical::{Backend, BackendFuture, Context, ExistenceFuture, Operation, Request, Response};

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

/// OpenBao's K/V v2 paths, tried in order; the last one answers every other path with the 404 hint.
const PATHS: PathTable<KvV2> = PathTable {
    paths: &[
        PathSpec {
            pattern: "config",
            fields: config::SCHEMA,
            operations: &[
                (Operation::Read, KvV2::on_config),
                (Operation::Create, KvV2::on_config),
                (Operation::Update, KvV2::on_config),
            ],
            existence: None,
            help: "Configures settings for the KV store.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "data/{*path}",
            fields: data::SCHEMA,
            operations: &[
                (Operation::Read, KvV2::on_data),
                (Operation::Create, KvV2::on_data),
                (Operation::Update, KvV2::on_data),
                (Operation::Patch, KvV2::on_data),
                (Operation::Delete, KvV2::on_data),
            ],
            existence: Some(KvV2::exists),
            help: "Write, Patch, Read, and Delete data in the Key-Value Store.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "metadata/{*path}",
            fields: metadata::SCHEMA,
            operations: &[
                (Operation::List, KvV2::on_metadata),
                (Operation::Read, KvV2::on_metadata),
                (Operation::Create, KvV2::on_metadata),
                (Operation::Update, KvV2::on_metadata),
                (Operation::Patch, KvV2::on_metadata),
                (Operation::Delete, KvV2::on_metadata),
            ],
            existence: Some(KvV2::exists),
            help: "Configures settings for the KV store.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "detailed-metadata/{*path}",
            fields: metadata::DETAILED_SCHEMA,
            operations: &[(Operation::List, KvV2::on_detailed_metadata)],
            existence: None,
            help: "Lists keys with their metadata.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "subkeys/{*path}",
            fields: subkeys::SCHEMA,
            operations: &[(Operation::Read, KvV2::on_subkeys)],
            existence: None,
            help: "Read the structure of a secret entry from the Key-Value store with the values removed.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "delete/{*path}",
            fields: versions::SCHEMA,
            operations: &[
                (Operation::Create, KvV2::on_delete),
                (Operation::Update, KvV2::on_delete),
            ],
            existence: None,
            help: "Marks one or more versions as deleted in the KV store.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "undelete/{*path}",
            fields: versions::SCHEMA,
            operations: &[
                (Operation::Create, KvV2::on_undelete),
                (Operation::Update, KvV2::on_undelete),
            ],
            existence: None,
            help: "Undeletes one or more versions from the KV store.",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "destroy/{*path}",
            fields: versions::SCHEMA,
            operations: &[
                (Operation::Create, KvV2::on_destroy),
                (Operation::Update, KvV2::on_destroy),
            ],
            existence: None,
            help: "Permanently removes one or more versions in the KV store",
            display: Display::NONE,
        },
        PathSpec {
            pattern: "{*path}",
            fields: &[],
            operations: &[
                (Operation::Read, KvV2::on_invalid),
                (Operation::Create, KvV2::on_invalid),
                (Operation::Update, KvV2::on_invalid),
                (Operation::Patch, KvV2::on_invalid),
                (Operation::Delete, KvV2::on_invalid),
                (Operation::List, KvV2::on_invalid),
            ],
            existence: None,
            help: "This path is not a part of the versioned K/V API.",
            display: Display {
                unpublished: true,
                ..Display::NONE
            },
        },
    ],
};

impl KvV2 {
    fn on_config<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, _: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.config(ctx.storage, req))
    }

    fn on_data<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.data(ctx.storage, m.get("path"), req))
    }

    fn on_metadata<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.metadata(ctx.storage, m.get("path"), req, false))
    }

    fn on_detailed_metadata<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(self.metadata(ctx.storage, m.get("path"), req, true))
    }

    fn on_subkeys<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.subkeys(ctx.storage, m.get("path"), req))
    }

    fn on_delete<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.versions(ctx.storage, m.get("path"), req, versions::Action::Delete))
    }

    fn on_undelete<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.versions(ctx.storage, m.get("path"), req, versions::Action::Undelete))
    }

    fn on_destroy<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(self.versions(ctx.storage, m.get("path"), req, versions::Action::Destroy))
    }

    fn on_invalid<'a>(&'a self, _: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        let resp = invalid_path(m.get("path"), req.operation);
        Box::pin(async move { Ok(resp) })
    }

    /// `data/` and `metadata/` check existence (by the key's metadata); their fields are validated here first, as
    /// OpenBao's existence check does (so its errors have no "Field validation failed" prefix).
    fn exists<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> ExistenceFuture<'a> {
        Box::pin(async move {
            let key = m.get("path");
            if key.ends_with('/') {
                return Ok(None);
            }
            let schema = if ctx.path.starts_with("data/") {
                data::SCHEMA
            } else {
                metadata::SCHEMA
            };
            Fields::new(&req.data, schema).validate(false)?;
            Ok(Some(store::read_meta(ctx.storage, key)?.is_some()))
        })
    }
}

impl Backend for KvV2 {
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
                remote_addr: None,
                remote_port: None,
                secret: None,
                headers: Default::default(),
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
