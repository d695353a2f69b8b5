//! The system backend mounted at `sys/` (the parts that need an unsealed core and a token), declared as path tables
//! as every backend is (`crate::framework::path`): each area (mounts, leases, audit, keys, ...) lists its paths with
//! their patterns, typed fields, operations, help and OpenAPI names, and [`SystemBackend`] routes a request through
//! them in order and documents them in `sys/internal/specs/openapi`. As the token store's, the handlers see the
//! core and the caller. `sys/init`, `sys/seal-status`, `sys/unseal`, `sys/health` and `sys/leader` work while
//! sealed and are served by the HTTP layer straight from the core.

/// A handler of the system backend's tables: `handler!(name, |core, caller, req, captures| body)`, the body an
/// expression run in an `async` block.
macro_rules! handler {
    ($name:ident, |$core:pat_param, $caller:pat_param, $req:pat_param, $m:pat_param| $body:expr) => {
        fn $name<'a>(
            _: &'a crate::core::system::SystemBackend,
            $core: &'a crate::core::Core,
            $caller: &'a crate::core::Caller,
            $req: &'a crate::core::Request,
            $m: crate::framework::Captures<'a>,
        ) -> crate::core::router::CoreBackendFuture<'a> {
            Box::pin(async move { $body })
        }
    };
}

pub mod audit;
pub mod cors;
pub mod host_info;
pub mod keys;
pub mod leases;
pub mod lockout;
pub mod metrics_quotas;
pub mod mounts;
pub mod observability;
pub mod openapi;
pub mod tools;

use serde_json::{json, Map, Value};

use crate::core::policies::PolicyRecord;
use crate::core::router::{CoreBackend, CoreBackendFuture};
use crate::core::{fields, Caller, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, refuse_write_to_folder, Captures, Display, Kind, PathSpec, PathTable, Schema};
use crate::policy::Acl;

pub struct SystemBackend;

fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Update | Operation::Create)
}

/// A JSON object built with `json!` as the `data` map of a response.
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `data` of a policy read; `text_key` is `rules` on `sys/policy` and `policy` on `sys/policies/acl`.
fn policy_data(record: &PolicyRecord, text_key: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("name".into(), json!(record.name));
    data.insert(text_key.into(), json!(record.text));
    data.insert("version".into(), json!(record.version));
    data.insert("modified".into(), json!(record.modified));
    data.insert("cas_required".into(), json!(false));
    data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    data.insert("allow_slashes_in_identity_templates".into(), json!(false));
    data
}

fn root_policy_data(text_key: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("name".into(), json!("root"));
    data.insert(text_key.into(), json!(""));
    data.insert("version".into(), json!(0));
    data.insert("cas_required".into(), json!(false));
    data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    data.insert("allow_slashes_in_identity_templates".into(), json!(false));
    data
}

impl SystemBackend {
    async fn policy(core: &Core, name: &str, req: &Request, legacy: bool) -> Result<Response, CoreError> {
        let text_key = if legacy { "rules" } else { "policy" };
        let wrap = |data| {
            if legacy {
                Response::legacy(data)
            } else {
                Response::with_data(data)
            }
        };
        match req.operation {
            Operation::Read => {
                let name = crate::core::policies::normalize_name(name);
                if name == crate::policy::ROOT_POLICY_NAME {
                    return Ok(wrap(root_policy_data(text_key)));
                }
                match core.read_policy(&name)? {
                    Some(record) => Ok(wrap(policy_data(&record, text_key))),
                    None => Err(CoreError::NotFound),
                }
            }
            Operation::Update | Operation::Create => {
                let text = match fields::string(&req.data, "policy")? {
                    Some(t) if !t.is_empty() => t,
                    _ => fields::string(&req.data, "rules")?.unwrap_or_default(),
                };
                core.write_policy(name, &text).await?;
                Ok(Response::no_content())
            }
            Operation::Delete => {
                core.delete_policy(name).await?;
                Ok(Response::no_content())
            }
            _ => Err(CoreError::UnsupportedOperation),
        }
    }

    fn paths_param(req: &Request) -> Result<(Vec<String>, bool), CoreError> {
        let mut paths = fields::string_list(&req.data, "paths")?.unwrap_or_default();
        if let Some(path) = fields::string(&req.data, "path")?.filter(|p| !p.is_empty()) {
            paths.push(path);
        }
        if paths.is_empty() {
            return Err(CoreError::InvalidRequest("missing path".into()));
        }
        let single = paths.len() == 1;
        Ok((paths, single))
    }

    fn capabilities(acl: &Acl, req: &Request) -> Result<Response, CoreError> {
        let (paths, single) = Self::paths_param(req)?;
        let mut data = Map::new();
        let mut last = Vec::new();
        for path in paths {
            let caps = acl.capabilities(path.trim_start_matches('/'));
            last = caps.clone();
            data.insert(path, json!(caps));
        }
        if single {
            data.insert("capabilities".into(), json!(last));
        }
        Ok(Response::legacy(data))
    }

    /// Route a request through the areas' tables: the first path whose pattern matches serves it. Not through
    /// [`PathTable::route`]: its refusal of every write to a folder and its field validation before the handler
    /// would change answers `sys/` gives (the handlers validate their fields themselves, in their order, and only
    /// some areas refuse folder writes: [`refuse_before_routing`]); an operation a path does not declare is
    /// [`unsupported_operation`].
    async fn route(&self, core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
        refuse_before_routing(path, req)?;
        for table in TABLES {
            if let Some((spec, captures)) = table.find(path) {
                return match spec.operations.iter().find(|(op, _)| *op == req.operation) {
                    Some((_, handler)) => handler(self, core, caller, req, captures).await,
                    None => Err(unsupported_operation(spec.pattern, req.operation)),
                };
            }
        }
        Err(CoreError::UnsupportedPath)
    }
}

/// A handler of the system backend's tables: unlike a [`crate::logical::Backend`]'s, it sees the core and the caller
/// (as the token store's).
pub(crate) type Handler =
    for<'a> fn(&'a SystemBackend, &'a Core, &'a Caller, &'a Request, Captures<'a>) -> CoreBackendFuture<'a>;

/// The tables, in the order a path is tried.
const TABLES: [&PathTable<SystemBackend, Handler>; 11] = [
    &mounts::PATHS,
    &leases::PATHS,
    &audit::PATHS,
    &lockout::PATHS,
    &keys::PATHS,
    &cors::PATHS,
    &metrics_quotas::PATHS,
    &openapi::PATHS,
    &tools::PATHS,
    &observability::PATHS,
    &PATHS,
];

/// What OpenBao refuses under `sys/` before a handler looks at the request: a write to a folder below `sys/auth/`,
/// `sys/mounts/` and `sys/tools/` (any writing operation), `sys/leases/` and `sys/locked-users/` (create and update);
/// a rate limit quota name that is no name is an unknown path.
fn refuse_before_routing(path: &str, req: &Request) -> Result<(), CoreError> {
    let op = req.operation;
    let under = |prefix: &str| path.strip_prefix(prefix);
    let tool = ["tools/hash", "tools/random"]
        .iter()
        .any(|t| under(t).is_some_and(|tail| tail.is_empty() || tail.starts_with('/')));
    if under("auth/").is_some_and(|m| !m.is_empty()) || under("mounts/").is_some() || tool {
        refuse_write_to_folder(op, &req.path)?;
    }
    if is_write(op) && (under("leases/").is_some() || under("locked-users/").is_some_and(|rest| !rest.is_empty())) {
        refuse_write_to_folder(op, &req.path)?;
    }
    if let Some(name) = under("quotas/rate-limit/").filter(|n| !n.is_empty()) {
        if !metrics_quotas::valid_name(name) {
            return Err(CoreError::UnsupportedPath);
        }
    }
    Ok(())
}

/// The answer to an operation a path does not declare: OpenBao's 405 "unsupported operation", but for the paths whose
/// answer differs (`sys/seal` is the HTTP layer's 405, `sys/internal/specs/openapi` the system backend's own text, a
/// LIST of `sys/locked-users` an unknown path).
fn unsupported_operation(pattern: &str, op: Operation) -> CoreError {
    match pattern {
        "seal" => CoreError::MethodNotAllowed,
        "internal/specs/openapi" => CoreError::LoginUnsupportedOperation,
        "locked-users" if op == Operation::List => CoreError::UnsupportedPath,
        _ => CoreError::UnsupportedOperation,
    }
}

const POLICY_NAME: crate::framework::Field = field("name", Kind::Str).desc("The name of the policy. Example: \"ops\"");
const POLICY_FIELDS: Schema = &[POLICY_NAME, field("policy", Kind::Str).desc("The rules of the policy.")];
const LEGACY_POLICY_FIELDS: Schema = &[
    POLICY_NAME,
    field("policy", Kind::Str).desc("The rules of the policy."),
    field("rules", Kind::Str).desc("The rules of the policy.").deprecated(),
];
const WRAPPED_TOKEN: Schema = &[field("token", Kind::Str).desc("The wrapping token.")];
const CAPABILITY_PATHS: [crate::framework::Field; 2] = [
    field("path", Kind::Str).desc("Use 'paths' instead.").deprecated(),
    field("paths", Kind::CommaStrings).desc("Paths on which capabilities are being queried."),
];
const CAPABILITIES_FIELDS: Schema = &[
    CAPABILITY_PATHS[0],
    CAPABILITY_PATHS[1],
    field("token", Kind::Str).desc("Token for which capabilities are being queried."),
];
const CAPABILITIES_SELF_FIELDS: Schema = &CAPABILITY_PATHS;
const CAPABILITIES_ACCESSOR_FIELDS: Schema = &[
    field("accessor", Kind::Str).desc("Accessor of the token for which capabilities are being queried."),
    CAPABILITY_PATHS[0],
    CAPABILITY_PATHS[1],
];
const LEVEL: crate::framework::Field = field("level", Kind::Str).desc(
    "Log verbosity level. Supported values (in order of detail) are \"trace\", \"debug\", \"info\", \"warn\", and \"error\".",
);
const LOGGER_FIELDS: Schema = &[
    field("name", Kind::Str).desc("The name of the logger to be modified."),
    LEVEL,
];

/// The paths of no area of their own: seal and step-down, ACL policies, response wrapping, capabilities, version
/// history, HA status, loggers and the resultant ACL. Writes are updates only: the core never asks a core backend's
/// existence, so no request to `sys/` is a create.
const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "seal",
            fields: &[],
            operations: &[(Operation::Update, seal)],
            existence: None,
            help: "Seals the OpenBao instance.",
            display: Display::new("", "seal", ""),
        },
        PathSpec {
            pattern: "policy",
            fields: &[],
            operations: &[
                (Operation::Read, list_policies_legacy),
                (Operation::List, list_policies_legacy),
            ],
            existence: None,
            help: "List the configured access control policies.",
            display: Display::new("policies", "list", ""),
        },
        PathSpec {
            pattern: "policies/acl",
            fields: &[],
            operations: &[(Operation::List, list_policies)],
            existence: None,
            help: "List the configured access control policies.",
            display: Display::new("policies", "list", "acl-policies"),
        },
        PathSpec {
            pattern: "policies/acl/",
            fields: &[],
            operations: &[(Operation::List, list_policies)],
            existence: None,
            help: "List the configured access control policies.",
            display: Display::new("policies", "list", "acl-policies"),
        },
        PathSpec {
            pattern: "wrapping/wrap",
            fields: &[],
            operations: &[(Operation::Update, wrap)],
            existence: None,
            help: "Response-wraps an arbitrary JSON object.",
            display: Display::new("", "wrap", ""),
        },
        PathSpec {
            pattern: "wrapping/unwrap",
            fields: WRAPPED_TOKEN,
            operations: &[(Operation::Update, unwrap)],
            existence: None,
            help: "Unwraps a response-wrapped token.",
            display: Display::new("", "unwrap", ""),
        },
        PathSpec {
            pattern: "wrapping/rewrap",
            fields: WRAPPED_TOKEN,
            operations: &[(Operation::Update, rewrap)],
            existence: None,
            help: "Rotates a response-wrapped token.",
            display: Display::new("", "rewrap", ""),
        },
        PathSpec {
            pattern: "capabilities-self",
            fields: CAPABILITIES_SELF_FIELDS,
            operations: &[(Operation::Update, capabilities_self)],
            existence: None,
            help: "Fetches the capabilities of the given token on the given path.",
            display: Display::new("query", "token-self", "capabilities"),
        },
        PathSpec {
            pattern: "capabilities",
            fields: CAPABILITIES_FIELDS,
            operations: &[(Operation::Update, capabilities)],
            existence: None,
            help: "Fetches the capabilities of the given token on the given path.",
            display: Display::new("query", "token", "capabilities"),
        },
        PathSpec {
            pattern: "capabilities-accessor",
            fields: CAPABILITIES_ACCESSOR_FIELDS,
            operations: &[(Operation::Update, capabilities_accessor)],
            existence: None,
            help: "Fetches the capabilities of the token associated with the given token, on the given path.",
            display: Display::new("query", "token-accessor", "capabilities"),
        },
        PathSpec {
            pattern: "version-history",
            fields: &[],
            operations: &[(Operation::List, version_history)],
            existence: None,
            help: "List historical version changes sorted by installation time in ascending order.",
            display: Display::new("version", "history", ""),
        },
        PathSpec {
            pattern: "version-history/",
            fields: &[],
            operations: &[(Operation::List, version_history)],
            existence: None,
            help: "List historical version changes sorted by installation time in ascending order.",
            display: Display::new("version", "history", ""),
        },
        PathSpec {
            pattern: "step-down",
            fields: &[],
            operations: &[(Operation::Update, step_down)],
            existence: None,
            help: "Cause the node to give up active status.",
            display: Display::new("", "step-down", "leader"),
        },
        PathSpec {
            pattern: "ha-status",
            fields: &[],
            operations: &[(Operation::Read, ha_status)],
            existence: None,
            help: "Provides information about the nodes in an HA cluster.",
            display: Display::new("ha", "status", ""),
        },
        PathSpec {
            pattern: "loggers",
            fields: &[LEVEL],
            operations: &[
                (Operation::Read, all_loggers),
                (Operation::Update, all_loggers),
                (Operation::Delete, all_loggers),
            ],
            existence: None,
            help: "Read, modify, or revert the log verbosity level of all loggers.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", ""),
                    (Operation::Update, "update", ""),
                    (Operation::Delete, "revert", ""),
                ],
                ..Display::new("loggers", "", "verbosity-level")
            },
        },
        PathSpec {
            pattern: "loggers/{*name}",
            fields: LOGGER_FIELDS,
            operations: &[
                (Operation::Read, one_logger),
                (Operation::Update, one_logger),
                (Operation::Delete, one_logger),
            ],
            existence: None,
            help: "Read, modify, or revert the log verbosity level of one logger.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", ""),
                    (Operation::Update, "update", ""),
                    (Operation::Delete, "revert", ""),
                ],
                ..Display::new("loggers", "", "verbosity-level-for")
            },
        },
        PathSpec {
            pattern: "internal/ui/resultant-acl",
            fields: &[],
            operations: &[(Operation::Read, resultant_acl)],
            existence: None,
            help:
                "Information about a token's resultant ACL. Internal API; its location, inputs, and outputs may change.",
            display: Display::new("internal-ui", "read", "resultant-acl"),
        },
        PathSpec {
            pattern: "policy/{*name}",
            fields: LEGACY_POLICY_FIELDS,
            operations: &[
                (Operation::Read, legacy_policy),
                (Operation::Update, legacy_policy),
                (Operation::Delete, legacy_policy),
            ],
            existence: None,
            help: "Read, Modify, or Delete an access control policy.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", ""),
                    (Operation::Update, "write", ""),
                    (Operation::Delete, "delete", ""),
                ],
                ..Display::new("policies", "", "acl-policy2")
            },
        },
        PathSpec {
            pattern: "policies/acl/{+name}",
            fields: POLICY_FIELDS,
            operations: &[
                (Operation::Read, acl_policy),
                (Operation::Update, acl_policy),
                (Operation::Delete, acl_policy),
            ],
            existence: None,
            help: "Read, Modify, or Delete an access control policy.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", ""),
                    (Operation::Update, "write", ""),
                    (Operation::Delete, "delete", ""),
                ],
                ..Display::new("policies", "", "acl-policy")
            },
        },
    ],
};

handler!(seal, |core, _, _, _| {
    core.seal();
    Ok(Response::no_content())
});

handler!(list_policies, |core, _, _, _| {
    let mut data = Map::new();
    data.insert("keys".into(), json!(core.list_policies()?));
    Ok(Response::with_data(data))
});

// `sys/policy`: a read too, with the legacy `policies` key.
handler!(list_policies_legacy, |core, _, _, _| {
    let names = core.list_policies()?;
    let mut data = Map::new();
    data.insert("keys".into(), json!(names));
    data.insert("policies".into(), json!(names));
    Ok(Response::legacy(data))
});

handler!(wrap, |_, _, req, _| {
    if req.wrap_ttl.is_none() {
        return Err(CoreError::InvalidRequest(
            "endpoint requires response wrapping to be used".into(),
        ));
    }
    Ok(Response::with_data(req.data.clone()))
});

/// The `token` of an unwrap or rewrap, or OpenBao's error when there is none.
fn wrapped_token(req: &Request) -> Result<String, CoreError> {
    let token = fields::string(&req.data, "token")?.unwrap_or_default();
    if token.is_empty() {
        return Err(CoreError::InvalidRequest(
            crate::core::wrapping::INVALID_WRAPPING_TOKEN.into(),
        ));
    }
    Ok(token)
}

handler!(unwrap, |core, _, req, _| {
    let token = wrapped_token(req)?;
    core.unwrap_token(&token, req.wrap_ttl).await
});

handler!(rewrap, |core, _, req, _| {
    let token = wrapped_token(req)?;
    core.rewrap_token(&token).await
});

handler!(capabilities_self, |_, caller, req, _| SystemBackend::capabilities(
    &caller.acl,
    req
));

handler!(capabilities, |core, caller, req, _| {
    let token = fields::string(&req.data, "token")?.filter(|t| !t.is_empty());
    let entry = match token {
        Some(t) => core
            .live_token(&t)?
            .map(|(_, e)| e)
            .ok_or_else(|| CoreError::InvalidRequest("invalid token".into()))?,
        None => caller.entry.clone(),
    };
    SystemBackend::capabilities(core.acl_for(&entry.policies)?.as_ref(), req)
});

handler!(capabilities_accessor, |core, _, req, _| {
    let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
    let (_, entry) = core
        .token_by_accessor(&accessor)?
        .ok_or_else(|| CoreError::InvalidRequest("invalid accessor".into()))?;
    SystemBackend::capabilities(core.acl_for(&entry.policies)?.as_ref(), req)
});

handler!(version_history, |core, _, _, _| {
    let history = core.version_history()?;
    let mut key_info = Map::new();
    let mut previous: Option<String> = None;
    for entry in &history {
        let installed = chrono::DateTime::from_timestamp(entry.installed, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        key_info.insert(
            entry.version.clone(),
            json!({
                "commit_date": entry.commit_date,
                "previous_version": previous,
                "timestamp_installed": installed,
            }),
        );
        previous = Some(entry.version.clone());
    }
    let keys: Vec<&str> = history.iter().map(|e| e.version.as_str()).collect();
    let mut data = Map::new();
    data.insert("keys".into(), json!(keys));
    data.insert("key_info".into(), Value::Object(key_info));
    Ok(Response::with_data(data))
});

handler!(step_down, |core, _, _, _| {
    core.step_down()?;
    Ok(Response::no_content())
});

handler!(ha_status, |core, _, _, _| {
    let nodes: Vec<Value> = core
        .ha_nodes()?
        .into_iter()
        .map(|(node, active)| {
            json!({
                "hostname": node.hostname,
                "api_address": node.api_address,
                "cluster_address": node.cluster_address,
                "active_node": active,
                // OpenBao reports no echo for the active node itself.
                "last_echo": if active { Value::Null } else { json!(node.last_echo) },
                "version": node.version,
            })
        })
        .collect();
    let mut data = Map::new();
    data.insert("nodes".into(), json!(nodes));
    Ok(Response::legacy(data))
});

handler!(all_loggers, |_, _, req, _| loggers(None, req));
handler!(one_logger, |_, _, req, m| loggers(Some(m.get("name")), req));

handler!(resultant_acl, |_, caller, _, _| match caller.acl.describe() {
    Value::Object(data) => Ok(Response::with_data(data)),
    _ => Err(CoreError::NotFound),
});

handler!(legacy_policy, |core, _, req, m| SystemBackend::policy(
    core,
    m.get("name"),
    req,
    true
)
.await);
handler!(acl_policy, |core, _, req, m| SystemBackend::policy(
    core,
    m.get("name"),
    req,
    false
)
.await);

/// `sys/loggers` and `sys/loggers/:name`: read, set and reset log levels at runtime (see `crate::logging`).
fn loggers(name: Option<&str>, req: &Request) -> Result<Response, CoreError> {
    use crate::logging;
    let level_field = || -> Result<log::LevelFilter, CoreError> {
        match fields::string(&req.data, "level")?.filter(|l| !l.is_empty()) {
            Some(level) => logging::parse_level(&level).map_err(CoreError::InvalidRequest),
            None => Err(CoreError::InvalidRequest("level is required".into())),
        }
    };
    let unknown = |name: &str| CoreError::InvalidRequest(format!("logger {name:?} not found"));
    match (req.operation, name) {
        (Operation::Read, None) => {
            let data = logging::current_levels()
                .into_iter()
                .map(|(name, level)| (name.to_string(), json!(level)))
                .collect();
            Ok(Response::with_data(data))
        }
        (Operation::Read, Some(name)) => {
            let mut data = Map::new();
            if let Some(level) = logging::logger_level(name) {
                data.insert(name.to_string(), json!(level));
            }
            Ok(Response::with_data(data))
        }
        (Operation::Update | Operation::Create, None) => {
            logging::set_all(level_field()?);
            Ok(Response::no_content())
        }
        (Operation::Update | Operation::Create, Some(name)) => {
            let level = level_field()?;
            if !logging::set_logger(name, level) {
                return Err(unknown(name));
            }
            Ok(Response::no_content())
        }
        (Operation::Delete, name) => {
            if !logging::reset(name) {
                return Err(unknown(name.unwrap_or_default()));
            }
            Ok(Response::no_content())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// Paths (below `sys/`) that need `sudo` (or root) on top of the operation's capability, as in OpenBao.
const ROOT_PATHS: &[&str] = &[
    "seal",
    "step-down",
    "rotate",
    "rotate/keyring",
    "rotate/root",
    "auth/*",
    "audit",
    "audit/*",
    "audit-chain-key/*",
    "raw",
    "raw/*",
    "remount",
    "config/cors",
    "config/auditing/*",
    "config/ui/headers/*",
    "leases",
    "leases/revoke-prefix/*",
    "leases/revoke-force/*",
    "leases/lookup/*",
    "storage/raft/snapshot",
    "storage/raft/snapshot-force",
    "internal/inspect/*",
];

impl CoreBackend for SystemBackend {
    fn special_paths(&self) -> crate::logical::SpecialPaths {
        crate::logical::SpecialPaths {
            root: ROOT_PATHS,
            unauthenticated: &[],
        }
    }

    fn handle<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        relative_path: &'a str,
        req: &'a Request,
    ) -> CoreBackendFuture<'a> {
        Box::pin(self.route(core, caller, relative_path, req))
    }

    /// The document of every area's table (the first path of a pattern wins, as within one table).
    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        let special = self.special_paths();
        let mut doc = crate::logical::openapi::Document::default();
        for table in TABLES {
            let part = table.openapi(&special, default_prefix);
            for (path, item) in part.paths {
                doc.paths.entry(path).or_insert(item);
            }
            doc.components.schemas.extend(part.components.schemas);
        }
        Some(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path a pattern matches: each capture filled with a name, each rest capture with three segments.
    fn sample(pattern: &str) -> String {
        pattern
            .split('/')
            .map(|part| match part.as_bytes() {
                [b'{', b'*' | b'+', ..] => "x/y/z",
                [b'{', ..] => "x",
                _ => part,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every path of the tables is reachable: no earlier pattern (of its table or an earlier one) takes its paths.
    /// (`tools/random/{source}` is `tools/random/{urlbytes}` under another name, documented as OpenBao documents
    /// both; one handler serves them.)
    #[test]
    fn no_pattern_is_shadowed() {
        for (t, table) in TABLES.iter().enumerate() {
            for spec in table.paths.iter().filter(|s| s.pattern != "tools/random/{source}") {
                let path = sample(spec.pattern);
                let found = TABLES
                    .iter()
                    .find_map(|table| table.find(&path))
                    .map(|(found, _)| found.pattern);
                assert_eq!(found, Some(spec.pattern), "{path} (table {t})");
            }
        }
    }

    /// Each documented operation has an id of its own and every path says what it is for.
    #[test]
    fn the_document_names_each_operation_once() {
        let doc = SystemBackend.openapi("system").unwrap();
        let mut ids = Vec::new();
        for (path, item) in &doc.paths {
            assert!(!item.description.is_empty(), "{path} has no help");
            for op in [&item.get, &item.post, &item.delete, &item.patch].into_iter().flatten() {
                assert!(!ids.contains(&op.operation_id), "{} twice", op.operation_id);
                ids.push(op.operation_id.clone());
            }
        }
        assert!(ids.len() > 90, "{} operations", ids.len());
        assert!(doc.paths.contains_key("/mounts/{path}/tune"));
        assert!(
            !doc.paths.keys().any(|p| p.contains("{rest}")),
            "a catch-all is published"
        );
    }
}
