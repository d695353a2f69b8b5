//! The token store's HTTP-free endpoints under `auth/token/` (one match per path, OpenBao's fields and errors).

use serde_json::{json, Map, Value};

use super::token::{CreateRequest, Creator};
use super::token_roles::TokenRole;
use crate::core::router::{CoreBackend, CoreBackendFuture};
use crate::core::{fields, Caller, Core, CoreError, Operation, Request, Response};

pub struct TokenBackend;

const CREATE_FIELDS: &[&str] = &[
    "id",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "renewable",
    "ttl",
    "explicit_max_ttl",
    "period",
    "display_name",
    "num_uses",
    "type",
    "lease",
    "entity_alias",
];

fn write_op(op: Operation) -> bool {
    matches!(op, Operation::Update | Operation::Create)
}

fn require(op_ok: bool) -> Result<(), CoreError> {
    if op_ok {
        Ok(())
    } else {
        Err(CoreError::UnsupportedOperation)
    }
}

fn parse_create(data: &Map<String, Value>) -> Result<CreateRequest, CoreError> {
    match fields::string(data, "type")?.as_deref() {
        None | Some("") | Some("service") | Some("default") => {}
        Some("batch") => {
            return Err(CoreError::InvalidRequest(
                "batch tokens are not supported by this server".into(),
            ))
        }
        Some(_) => return Err(CoreError::InvalidRequest("invalid 'token_type' value".into())),
    }
    Ok(CreateRequest {
        id: fields::string(data, "id")?,
        policies: fields::string_slice(data, "policies")?,
        meta: fields::string_map(data, "meta")?,
        no_parent: fields::boolean(data, "no_parent")?.unwrap_or(false),
        no_default_policy: fields::boolean(data, "no_default_policy")?.unwrap_or(false),
        renewable: fields::boolean(data, "renewable")?,
        ttl: fields::string(data, "ttl")?,
        lease: fields::string(data, "lease")?,
        explicit_max_ttl: fields::string(data, "explicit_max_ttl")?,
        period: fields::string(data, "period")?,
        display_name: fields::string(data, "display_name")?,
        num_uses: fields::integer(data, "num_uses")?.unwrap_or(0),
    })
}

impl TokenBackend {
    async fn create(
        &self,
        core: &Core,
        caller: &Caller,
        req: &Request,
        orphan: bool,
        role: Option<&TokenRole>,
    ) -> Result<Response, CoreError> {
        let params = parse_create(&req.data)?;
        let mut warnings: Vec<String> = fields::unknown_fields_warning(&req.data, CREATE_FIELDS)
            .into_iter()
            .collect();
        let creator = Creator {
            hash: &caller.token_hash,
            entry: &caller.entry,
            privileged: caller.root_privs,
        };
        let (id, entry, more) = core.create_token(creator, params, orphan, &req.path, role).await?;
        warnings.extend(more);
        // As OpenBao: the token is created, with a warning for each policy that does not exist (yet).
        for policy in entry.policies.iter().filter(|p| *p != crate::policy::ROOT_POLICY_NAME) {
            if core.read_policy(policy)?.is_none() {
                warnings.push(format!("Policy {policy:?} does not exist"));
            }
        }
        Ok(Response::with_auth(entry.auth_block(&id), warnings))
    }

    fn token_param(req: &Request) -> Result<Option<String>, CoreError> {
        Ok(fields::string(&req.data, "token")?.filter(|t| !t.is_empty()))
    }

    fn lookup(&self, core: &Core, token: &str) -> Result<Response, CoreError> {
        match core.live_token(token)? {
            Some((_, entry)) => Ok(Response::with_data(entry.lookup_data(token))),
            None => Err(CoreError::Forbidden("bad token".into())),
        }
    }

    fn caller_id(req: &Request) -> Result<String, CoreError> {
        req.client_token
            .as_ref()
            .map(|t| t.as_str().to_string())
            .ok_or(CoreError::PermissionDenied)
    }

    /// The `increment` of the renew endpoints, which OpenBao's framework validates before the handler runs.
    fn increment(req: &Request) -> Result<u64, CoreError> {
        fields::duration_secs(&req.data, "increment").map_err(|e| match e {
            CoreError::InvalidRequest(why) => CoreError::InvalidRequest(format!("Field validation failed: {why}")),
            other => other,
        })
    }

    async fn renew(&self, core: &Core, hash: &[u8], id: &str, increment: u64) -> Result<Response, CoreError> {
        let (entry, warnings) = core.renew_token(hash, increment).await?;
        Ok(Response::with_auth(entry.auth_block(id), warnings))
    }

    /// The `token` of revoke, revoke-orphan and renew, or OpenBao's error.
    fn required_token(req: &Request) -> Result<String, CoreError> {
        Self::token_param(req)?.ok_or_else(|| CoreError::InvalidRequest("missing token ID".into()))
    }

    fn accessor_param(req: &Request) -> Result<String, CoreError> {
        fields::string(&req.data, "accessor")?
            .filter(|a| !a.is_empty())
            .ok_or_else(|| CoreError::InvalidRequest("missing accessor".into()))
    }

    async fn route(&self, core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
        let op = req.operation;
        match path {
            "create" => {
                require(write_op(op))?;
                self.create(core, caller, req, false, None).await
            }
            "create-orphan" => {
                require(write_op(op))?;
                self.create(core, caller, req, true, None).await
            }
            "roles" | "roles/" => {
                require(op == Operation::List)?;
                // An empty list is OpenBao's 404 with no errors, as for every LIST.
                crate::framework::keys_response(core.list_token_roles()?, vec![])
            }
            "tidy" => {
                require(write_op(op))?;
                let report = core.tidy_tokens().await?;
                log::info!("token tidy: {report}");
                let mut resp = Response::warning(
                    "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
                        .into(),
                );
                resp.status = Some(202);
                Ok(resp)
            }
            "lookup" => {
                require(write_op(op) || op == Operation::Read)?;
                match Self::token_param(req)? {
                    Some(token) => self.lookup(core, &token),
                    None => self.lookup(core, &Self::caller_id(req)?),
                }
            }
            "lookup-self" => {
                require(write_op(op) || op == Operation::Read)?;
                let id = Self::caller_id(req)?;
                Ok(Response::with_data(caller.entry.lookup_data(&id)))
            }
            "lookup-accessor" => {
                require(write_op(op))?;
                let accessor = Self::accessor_param(req)?;
                match core.token_by_accessor(&accessor)? {
                    Some((_, entry)) => Ok(Response::with_data(entry.lookup_data(""))),
                    None => Err(CoreError::InvalidRequest(
                        "1 error occurred:\n\t* invalid accessor\n\n".into(),
                    )),
                }
            }
            "renew" => {
                require(write_op(op))?;
                let increment = Self::increment(req)?;
                let token = Self::required_token(req)?;
                let (hash, _) = core
                    .live_token(&token)?
                    .ok_or_else(|| CoreError::InvalidRequest("token not found".into()))?;
                self.renew(core, &hash, &token, increment).await
            }
            "renew-self" => {
                require(write_op(op))?;
                let increment = Self::increment(req)?;
                let id = Self::caller_id(req)?;
                self.renew(core, &caller.token_hash, &id, increment).await
            }
            "renew-accessor" => {
                require(write_op(op))?;
                let increment = Self::increment(req)?;
                let accessor = Self::accessor_param(req)?;
                let (hash, _) = core
                    .token_by_accessor(&accessor)?
                    .ok_or_else(|| CoreError::InvalidRequest("1 error occurred:\n\t* invalid accessor\n\n".into()))?;
                self.renew(core, &hash, "", increment).await
            }
            "revoke" => {
                require(write_op(op))?;
                let token = Self::required_token(req)?;
                if let Some((hash, _)) = core.token_by_id(&token)? {
                    core.revoke_tree(&hash).await?;
                }
                Ok(Response::no_content())
            }
            "revoke-self" => {
                require(write_op(op))?;
                core.revoke_tree(&caller.token_hash).await?;
                Ok(Response::no_content())
            }
            "revoke-accessor" => {
                require(write_op(op))?;
                let accessor = Self::accessor_param(req)?;
                match core.token_by_accessor(&accessor)? {
                    Some((hash, _)) => {
                        core.revoke_tree(&hash).await?;
                        Ok(Response::no_content())
                    }
                    None => Ok(Response::warning("No token found with this accessor".into())),
                }
            }
            "revoke-orphan" => {
                require(write_op(op))?;
                let token = Self::required_token(req)?;
                if let Some((hash, _)) = core.token_by_id(&token)? {
                    core.revoke_orphan(&hash).await?;
                }
                Ok(Response::no_content())
            }
            "accessors" | "accessors/" => {
                require(op == Operation::List)?;
                let mut data = Map::new();
                data.insert("keys".into(), json!(core.list_accessors()?));
                Ok(Response::with_data(data))
            }
            other => {
                if let Some(name) = other.strip_prefix("create/").filter(|n| !n.is_empty()) {
                    require(write_op(op))?;
                    let role = core
                        .read_token_role(name)?
                        .ok_or_else(|| CoreError::InvalidRequest(format!("unknown role {name}")))?;
                    return self.create(core, caller, req, false, Some(&role)).await;
                }
                if let Some(name) = other
                    .strip_prefix("roles/")
                    .filter(|n| !n.is_empty() && !n.contains('/'))
                {
                    return match op {
                        Operation::Read => match core.read_token_role(name)? {
                            Some(role) => Ok(Response::with_data(role.read_data())),
                            None => Err(CoreError::NotFound),
                        },
                        Operation::Update | Operation::Create => {
                            core.write_token_role(name, req.data.clone()).await?;
                            Ok(Response::no_content())
                        }
                        Operation::Delete => {
                            core.delete_token_role(name).await?;
                            Ok(Response::no_content())
                        }
                        _ => Err(CoreError::UnsupportedOperation),
                    };
                }
                Err(CoreError::UnsupportedPath)
            }
        }
    }
}

/// Paths (below `auth/token/`) that need `sudo` (or root), as in OpenBao.
const ROOT_PATHS: &[&str] = &["accessors", "accessors/", "revoke-orphan", "revoke-orphan/*"];

impl CoreBackend for TokenBackend {
    fn special_paths(&self) -> crate::logical::SpecialPaths {
        crate::logical::SpecialPaths {
            root: ROOT_PATHS,
            unauthenticated: &[],
        }
    }

    /// Purges the tombstones of used wrapping tokens past their retention. (Expired tokens are refused at once, and
    /// removed from storage by the expiration manager's worker, `Core::start_expiry_worker`.)
    fn periodic_interval(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(1))
    }

    fn periodic<'a>(&'a self, core: &'a Core) -> crate::core::router::CorePeriodicFuture<'a> {
        Box::pin(async move { core.purge_wrap_tombstones().await.map(|_| ()) })
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
