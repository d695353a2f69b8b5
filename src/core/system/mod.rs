//! The system backend mounted at `sys/` (the parts that need an unsealed core and a token).
//! `sys/init`, `sys/seal-status`, `sys/unseal`, `sys/health` and `sys/leader` work while sealed and are served by
//! the HTTP layer straight from the core.

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

/// OpenBao's 405 "unsupported operation" unless `ok`.
fn require(ok: bool) -> Result<(), CoreError> {
    if ok {
        Ok(())
    } else {
        Err(CoreError::UnsupportedOperation)
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
    async fn policy(&self, core: &Core, name: &str, req: &Request, legacy: bool) -> Result<Response, CoreError> {
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

    async fn route(&self, core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
        // `sys/auth/:path/tune` is the auth-method spelling of `sys/mounts/auth/:path/tune`.
        let auth_tune = path
            .strip_prefix("auth/")
            .filter(|rest| rest.ends_with("/tune"))
            .map(|rest| format!("mounts/auth/{rest}"));
        let path = auth_tune.as_deref().unwrap_or(path);
        if let Some(answer) = mounts::route(core, caller, path, req).await {
            return answer;
        }
        if let Some(answer) = leases::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = audit::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = lockout::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = keys::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = cors::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = metrics_quotas::route(core, path, req).await {
            return answer;
        }
        if let Some(answer) = openapi::route(core, caller, path, req).await {
            return answer;
        }
        if let Some(answer) = tools::route(path, req) {
            return answer;
        }
        if let Some(answer) = observability::route(core, path, req) {
            return answer;
        }
        let op = req.operation;
        match path {
            "seal" => {
                if !is_write(op) {
                    return Err(CoreError::MethodNotAllowed);
                }
                core.seal();
                Ok(Response::no_content())
            }
            "policy" | "policies/acl" | "policies/acl/" => {
                let legacy = path == "policy";
                if !(op == Operation::List || (legacy && op == Operation::Read)) {
                    return Err(CoreError::UnsupportedOperation);
                }
                let names = core.list_policies()?;
                let mut data = Map::new();
                data.insert("keys".into(), json!(names));
                if legacy {
                    data.insert("policies".into(), json!(names));
                    return Ok(Response::legacy(data));
                }
                Ok(Response::with_data(data))
            }
            "wrapping/wrap" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                if req.wrap_ttl.is_none() {
                    return Err(CoreError::InvalidRequest(
                        "endpoint requires response wrapping to be used".into(),
                    ));
                }
                Ok(Response::with_data(req.data.clone()))
            }
            "wrapping/unwrap" | "wrapping/rewrap" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                let token = fields::string(&req.data, "token")?.unwrap_or_default();
                if token.is_empty() {
                    return Err(CoreError::InvalidRequest(
                        crate::core::wrapping::INVALID_WRAPPING_TOKEN.into(),
                    ));
                }
                if path == "wrapping/unwrap" {
                    core.unwrap_token(&token, req.wrap_ttl).await
                } else {
                    core.rewrap_token(&token).await
                }
            }
            "capabilities-self" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                Self::capabilities(&caller.acl, req)
            }
            "capabilities" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                let token = fields::string(&req.data, "token")?.filter(|t| !t.is_empty());
                let entry = match token {
                    Some(t) => core
                        .live_token(&t)?
                        .map(|(_, e)| e)
                        .ok_or_else(|| CoreError::InvalidRequest("invalid token".into()))?,
                    None => caller.entry.clone(),
                };
                Self::capabilities(core.acl_for(&entry.policies)?.as_ref(), req)
            }
            "capabilities-accessor" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                let (_, entry) = core
                    .token_by_accessor(&accessor)?
                    .ok_or_else(|| CoreError::InvalidRequest("invalid accessor".into()))?;
                Self::capabilities(core.acl_for(&entry.policies)?.as_ref(), req)
            }
            "version-history" | "version-history/" => {
                if op != Operation::List {
                    return Err(CoreError::UnsupportedOperation);
                }
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
            }
            "step-down" => {
                if !is_write(op) {
                    return Err(CoreError::UnsupportedOperation);
                }
                core.step_down()?;
                Ok(Response::no_content())
            }
            "ha-status" => {
                if op != Operation::Read {
                    return Err(CoreError::UnsupportedOperation);
                }
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
            }
            "loggers" => loggers(None, req),
            other if other.starts_with("loggers/") => loggers(other.strip_prefix("loggers/"), req),
            "internal/ui/resultant-acl" => {
                if op != Operation::Read {
                    return Err(CoreError::UnsupportedOperation);
                }
                match caller.acl.describe() {
                    Value::Object(data) => Ok(Response::with_data(data)),
                    _ => Err(CoreError::NotFound),
                }
            }
            other => {
                if let Some(name) = other.strip_prefix("policy/") {
                    return self.policy(core, name, req, true).await;
                }
                if let Some(name) = other.strip_prefix("policies/acl/") {
                    return self.policy(core, name, req, false).await;
                }
                Err(CoreError::UnsupportedPath)
            }
        }
    }
}

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
}
