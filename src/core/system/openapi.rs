//! `sys/internal/specs/openapi`: the OpenAPI 3 document of every mounted backend the caller may see (the mounts
//! `sys/internal/ui/mounts` lists to it), each backend's own document (built from its path table) under its mount
//! path, as OpenBao's `pathInternalOpenAPI` merges them. `generic_mount_paths` puts `{<mount>_mount_path}`
//! parameters in place of the mount paths (the singletons, `sys/`, `cubbyhole/` and `auth/token/`, keep theirs). The
//! system backend documents its own path tables under `sys/`, tagged `system` as OpenBao tags them.

use serde_json::json;

use super::mounts::has_mount_access;
use super::{Handler, SystemBackend};
use crate::core::mounts::{MountEntry, Table};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response, VERSION};
use crate::framework::{field, Display, FieldDefault, Fields, Kind, PathSpec, PathTable, Schema};
use crate::logical::openapi::{Document, Parameter, Schema as OasSchema};

const SCHEMA: Schema = &[
    field("context", Kind::Str).desc("Context string appended to every operationId"),
    field("generic_mount_paths", Kind::Bool)
        .desc("Use generic mount paths")
        .query()
        .default(FieldDefault::Bool(false)),
];

/// `sys/internal/specs/openapi`.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[PathSpec {
        pattern: "internal/specs/openapi",
        fields: SCHEMA,
        operations: &[(Operation::Read, generate), (Operation::Update, generate)],
        existence: None,
        help: "Generate an OpenAPI 3 document of all mounted paths.",
        display: Display {
            per_op: &[(Operation::Update, "", "open-api-document-with-parameters")],
            ..Display::new("internal", "generate", "open-api-document")
        },
    }],
};

handler!(generate, |core, caller, req, _| document(core, caller, req));

/// Types mounted once by the server: their paths stay literal with `generic_mount_paths`.
fn is_singleton(table: Table, kind: &str) -> bool {
    match table {
        Table::Auth => kind == "token",
        Table::Secret => matches!(kind, "system" | "identity" | "cubbyhole"),
    }
}

fn document(core: &Core, caller: &Caller, req: &Request) -> Result<Response, CoreError> {
    let fields = Fields::new(&req.data, SCHEMA);
    fields.validate(true)?;
    let generic = fields.bool("generic_mount_paths").unwrap_or(false);
    let mut doc = Document::new(VERSION);
    let tables = core.mount_tables();
    let groups: [(Table, &[MountEntry], &str, &str); 2] = [
        (Table::Secret, &tables.secret, "", "secrets"),
        (Table::Auth, &tables.auth, "auth/", "auth"),
    ];
    for (table, entries, prefix, tag) in groups {
        for entry in entries {
            let full = format!("{prefix}{}", entry.path);
            if entry.config.listing_visibility != "unauth" && !has_mount_access(&caller.acl, &full) {
                continue;
            }
            let Some((mount, _)) = core.router.route(&full) else {
                continue;
            };
            let Some(backend_doc) = mount.openapi(&entry.kind) else {
                continue;
            };
            let parameter = (generic && !is_singleton(table, &entry.kind))
                .then(|| format!("{}_mount_path", entry.path.replace('-', "_").trim_end_matches('/')));
            let mount_for_path = match &parameter {
                Some(name) => format!("{{{name}}}/"),
                None => entry.path.clone(),
            };
            for (path, mut item) in backend_doc.paths {
                for operation in item.operations_mut() {
                    if operation.tags.is_empty() {
                        operation.tags = vec![if entry.kind == "system" { "system" } else { tag }.to_string()];
                    }
                }
                if let Some(name) = &parameter {
                    item.parameters.push(Parameter {
                        name: name.clone(),
                        description: "Path that the backend was mounted at".into(),
                        location: "path".into(),
                        schema: Some(OasSchema {
                            kind: "string".into(),
                            default: Some(json!(entry.path.trim_end_matches('/'))),
                            ..OasSchema::default()
                        }),
                        required: true,
                        deprecated: false,
                    });
                }
                let relative = path.trim_start_matches('/');
                doc.paths.insert(format!("/{prefix}{mount_for_path}{relative}"), item);
            }
            doc.components.schemas.extend(backend_doc.components.schemas);
        }
    }
    let body = serde_json::to_vec(&doc).map_err(|e| CoreError::Internal(format!("openapi document: {e}")))?;
    Ok(Response {
        raw: Some(("application/json".into(), body)),
        ..Response::default()
    })
}
