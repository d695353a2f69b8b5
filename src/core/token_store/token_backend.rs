//! The token store's HTTP-free endpoints under `auth/token/`, declared as a path table (patterns, typed fields,
//! operations, help) as every backend's are: routed, validated and documented in the OpenAPI document by the
//! framework; the handlers see the core and the caller.

use serde_json::{json, Map};

use super::token::{CreateRequest, Creator};
use super::token_roles::TokenRole;
use crate::core::router::{CoreBackend, CoreBackendFuture};
use crate::core::{Caller, Core, CoreError, Operation, Request, Response};
use crate::framework::{
    concat_fields, field, Captures, Display, Field, FieldDefault, Fields, Kind, PathSpec, PathTable, Schema,
};

pub struct TokenBackend;

/// A token-store handler: unlike a [`crate::logical::Backend`]'s, it sees the core (it creates, renews and revokes
/// the tokens every request is checked against) and the caller.
type Handler = for<'a> fn(&'a TokenBackend, &'a Core, &'a Caller, &'a Request, Captures<'a>) -> CoreBackendFuture<'a>;

/// The fields of a create, in the order OpenBao's handler reads them (the first that does not decode is reported).
const CREATE_FIELD_LIST: [Field; 14] = [
    field("type", Kind::Str).desc("Token type"),
    field("id", Kind::Str).desc("Value for the token"),
    field("policies", Kind::Strings).desc("List of policies for the token"),
    field("meta", Kind::KvPairs).desc("Arbitrary key=value metadata to associate with the token"),
    field("no_parent", Kind::Bool).desc("Create the token with no parent"),
    field("no_default_policy", Kind::Bool).desc("Do not include default policy for this token"),
    field("renewable", Kind::Bool)
        .desc("Allow token to be renewed past its initial TTL up to system/mount maximum TTL")
        .default(FieldDefault::Bool(true)),
    field("ttl", Kind::Str).desc("Time to live for this token"),
    field("lease", Kind::Str).desc("Use 'ttl' instead").deprecated(),
    field("explicit_max_ttl", Kind::Str).desc("Explicit Max TTL of this token"),
    field("period", Kind::Str).desc("Renew period"),
    field("display_name", Kind::Str).desc("Name to associate with this token"),
    field("num_uses", Kind::Int).desc("Max number of uses for this token"),
    field("entity_alias", Kind::Str).desc("Name of the entity alias to associate with this token"),
];
const CREATE_FIELDS: Schema = &CREATE_FIELD_LIST;
const CREATE_ROLE_FIELD_LIST: [Field; 15] = concat_fields(
    CREATE_FIELD_LIST,
    [field("role_name", Kind::Str).desc("Name of the role")],
);
const CREATE_ROLE_FIELDS: Schema = &CREATE_ROLE_FIELD_LIST;

/// A role's fields, in the order [`TokenRole::update_from`] reads them.
const ROLE_FIELDS: Schema = &[
    field("role_name", Kind::Str).desc("Name of the role"),
    field("allowed_policies", Kind::CommaStrings).desc("If set, tokens can be created with any subset of the policies in this list, rather than the normal semantics of tokens being a subset of the calling token's policies. The parameter is a comma-delimited string of policy names."),
    field("disallowed_policies", Kind::CommaStrings).desc("If set, successful token creation via this role will require that no policies in the given list are requested. The parameter is a comma-delimited string of policy names."),
    field("allowed_policies_glob", Kind::CommaStrings).desc("If set, tokens can be created with any subset of glob matched policies in this list, rather than the normal semantics of tokens being a subset of the calling token's policies. The parameter is a comma-delimited string of policy name globs."),
    field("disallowed_policies_glob", Kind::CommaStrings).desc("If set, successful token creation via this role will require that no requested policies glob match any of policies in this list. The parameter is a comma-delimited string of policy name globs."),
    field("orphan", Kind::Bool).desc("If true, tokens created via this role will be orphan tokens (have no parent)"),
    field("renewable", Kind::Bool)
        .desc("Tokens created via this role will be renewable or not according to this value. Defaults to \"true\".")
        .default(FieldDefault::Bool(true)),
    field("path_suffix", Kind::Str).desc("If set, tokens created via this role will contain the given suffix as a part of their path. This can be used to assist use of the 'revoke-prefix' endpoint later on. The given suffix must match the regular expression.\\w[\\w-.]+\\w"),
    field("token_explicit_max_ttl", Kind::Duration).desc("If set, tokens created via this role carry an explicit maximum TTL. During renewal, the current maximum TTL values of the role and the mount are not checked for changes, and any updates to these values will have no effect on the token being renewed."),
    field("explicit_max_ttl", Kind::Duration).desc("Use 'token_explicit_max_ttl' instead.").deprecated(),
    field("token_period", Kind::Duration).desc("If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value. This takes an integer number of seconds, or a string duration (e.g. \"24h\")."),
    field("period", Kind::Duration).desc("Use 'token_period' instead.").deprecated(),
    field("token_no_default_policy", Kind::Bool).desc("If true, the 'default' policy will not automatically be added to generated tokens"),
    field("token_num_uses", Kind::Int).desc("The maximum number of times a token may be used, a value of zero means unlimited"),
    field("token_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token."),
    field("bound_cidrs", Kind::CommaStrings).desc("Use 'token_bound_cidrs' instead.").deprecated(),
    field("token_type", Kind::Str).desc("The type of token to generate, service or batch").default(FieldDefault::Str("default-service")),
];

const TOKEN_FIELD: Field = field("token", Kind::Str).desc("Token to lookup (POST request body)");
const ACCESSOR_FIELD: Field = field("accessor", Kind::Str).desc("Accessor of the token to look up (request body)");
const INCREMENT_FIELD: Field = field("increment", Kind::Duration)
    .desc("The desired increment in seconds to the token expiration")
    .default(FieldDefault::Int(0));

const PATHS: PathTable<TokenBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "create",
            fields: CREATE_FIELDS,
            operations: &[(Operation::Update, TokenBackend::create)],
            existence: None,
            help: "The token create path is used to create new tokens.",
            display: Display::new("token", "create", ""),
        },
        PathSpec {
            pattern: "create-orphan",
            fields: CREATE_FIELDS,
            operations: &[(Operation::Update, TokenBackend::create_orphan)],
            existence: None,
            help: "The token create path is used to create new orphan tokens.",
            display: Display::new("token", "create", "orphan"),
        },
        PathSpec {
            pattern: "create/{role_name}",
            fields: CREATE_ROLE_FIELDS,
            operations: &[(Operation::Update, TokenBackend::create_against_role)],
            existence: None,
            help: "This endpoint will create a token against the specified role name.",
            display: Display::new("token", "create", "against-role"),
        },
        PathSpec {
            pattern: "roles",
            fields: &[],
            operations: &[(Operation::List, TokenBackend::list_roles)],
            existence: None,
            help: "This endpoint lists configured roles.",
            display: Display::new("token", "", "roles"),
        },
        PathSpec {
            pattern: "roles/",
            fields: &[],
            operations: &[(Operation::List, TokenBackend::list_roles)],
            existence: None,
            help: "This endpoint lists configured roles.",
            display: Display::new("token", "", "roles"),
        },
        PathSpec {
            pattern: "roles/{role_name}",
            fields: ROLE_FIELDS,
            operations: &[
                (Operation::Read, TokenBackend::read_role),
                (Operation::Create, TokenBackend::write_role),
                (Operation::Update, TokenBackend::write_role),
                (Operation::Delete, TokenBackend::delete_role),
            ],
            existence: None,
            help: "This endpoint allows creating, reading, and deleting roles.",
            display: Display::new("token", "", "role"),
        },
        PathSpec {
            pattern: "tidy",
            fields: &[],
            operations: &[(Operation::Update, TokenBackend::tidy)],
            existence: None,
            help: "This endpoint performs cleanup tasks that can be run if certain error conditions have occurred.",
            display: Display::new("token", "tidy", ""),
        },
        PathSpec {
            pattern: "lookup",
            fields: &[TOKEN_FIELD],
            operations: &[
                (Operation::Read, TokenBackend::lookup),
                (Operation::Update, TokenBackend::lookup),
            ],
            existence: None,
            help: "This endpoint will lookup a token and its properties.",
            display: Display {
                per_op: &[(Operation::Read, "", "get"), (Operation::Update, "", "update")],
                ..Display::new("token", "look-up", "")
            },
        },
        PathSpec {
            pattern: "lookup-self",
            fields: &[TOKEN_FIELD],
            operations: &[
                (Operation::Read, TokenBackend::lookup_self),
                (Operation::Update, TokenBackend::lookup_self),
            ],
            existence: None,
            help: "This endpoint will lookup a token and its properties.",
            display: Display {
                per_op: &[(Operation::Read, "", "self-get"), (Operation::Update, "", "self-update")],
                ..Display::new("token", "look-up", "")
            },
        },
        PathSpec {
            pattern: "lookup-accessor",
            fields: &[ACCESSOR_FIELD],
            operations: &[(Operation::Update, TokenBackend::lookup_accessor)],
            existence: None,
            help: "This endpoint will lookup a token associated with the given accessor and its properties. Response will not contain the token ID.",
            display: Display::new("token", "look-up", "by-accessor"),
        },
        PathSpec {
            pattern: "renew",
            fields: &[INCREMENT_FIELD, TOKEN_FIELD],
            operations: &[(Operation::Update, TokenBackend::renew)],
            existence: None,
            help: "This endpoint will renew the given token and prevent expiration.",
            display: Display::new("token", "renew", ""),
        },
        PathSpec {
            pattern: "renew-self",
            fields: &[INCREMENT_FIELD],
            operations: &[(Operation::Update, TokenBackend::renew_self)],
            existence: None,
            help: "This endpoint will renew the token used to call it and prevent expiration.",
            display: Display::new("token", "renew", "self"),
        },
        PathSpec {
            pattern: "renew-accessor",
            fields: &[INCREMENT_FIELD, ACCESSOR_FIELD],
            operations: &[(Operation::Update, TokenBackend::renew_accessor)],
            existence: None,
            help: "This endpoint will renew a token associated with the given accessor and its properties. Response will not contain the token ID.",
            display: Display::new("token", "renew", "accessor"),
        },
        PathSpec {
            pattern: "revoke",
            fields: &[TOKEN_FIELD],
            operations: &[(Operation::Update, TokenBackend::revoke)],
            existence: None,
            help: "This endpoint will delete the given token and all of its child tokens.",
            display: Display::new("token", "revoke", ""),
        },
        PathSpec {
            pattern: "revoke-self",
            fields: &[],
            operations: &[(Operation::Update, TokenBackend::revoke_self)],
            existence: None,
            help: "This endpoint will delete the token used to call it and all of its child tokens.",
            display: Display::new("token", "revoke", "self"),
        },
        PathSpec {
            pattern: "revoke-accessor",
            fields: &[ACCESSOR_FIELD],
            operations: &[(Operation::Update, TokenBackend::revoke_accessor)],
            existence: None,
            help: "This endpoint will delete the token associated with the accessor and all of its child tokens.",
            display: Display::new("token", "revoke", "accessor"),
        },
        PathSpec {
            pattern: "revoke-orphan",
            fields: &[TOKEN_FIELD],
            operations: &[(Operation::Update, TokenBackend::revoke_orphan)],
            existence: None,
            help: "This endpoint will delete the token and orphan its child tokens.",
            display: Display::new("token", "revoke", "orphan"),
        },
        PathSpec {
            pattern: "accessors",
            fields: &[],
            operations: &[(Operation::List, TokenBackend::list_accessors)],
            existence: None,
            help: "List token accessors, which can then be be used to iterate and discover their properties or revoke them. Because this can be used to cause a denial of service, this endpoint requires 'sudo' capability in addition to 'list'.",
            display: Display::new("token", "", "accessors"),
        },
        PathSpec {
            pattern: "accessors/",
            fields: &[],
            operations: &[(Operation::List, TokenBackend::list_accessors)],
            existence: None,
            help: "List token accessors, which can then be be used to iterate and discover their properties or revoke them. Because this can be used to cause a denial of service, this endpoint requires 'sudo' capability in addition to 'list'.",
            display: Display::new("token", "", "accessors"),
        },
    ],
};

/// A field's value when the request gives one (a JSON null is none, as OpenBao's `GetOk`).
fn given<T>(req: &Request, name: &str, value: Option<T>) -> Option<T> {
    value.filter(|_| req.data.get(name).is_some_and(|v| !v.is_null()))
}

fn parse_create(req: &Request, schema: Schema) -> Result<CreateRequest, CoreError> {
    let fields = Fields::new(&req.data, schema);
    match fields.str("type").as_deref() {
        None | Some("") | Some("service") | Some("default") => {}
        Some("batch") => {
            return Err(CoreError::InvalidRequest(
                "batch tokens are not supported by this server".into(),
            ))
        }
        Some(_) => return Err(CoreError::InvalidRequest("invalid 'token_type' value".into())),
    }
    Ok(CreateRequest {
        id: given(req, "id", fields.str("id")),
        policies: given(req, "policies", fields.strings("policies")),
        meta: fields.kv_pairs("meta").unwrap_or_default(),
        no_parent: fields.bool("no_parent").unwrap_or(false),
        no_default_policy: fields.bool("no_default_policy").unwrap_or(false),
        renewable: given(req, "renewable", fields.bool("renewable")),
        ttl: given(req, "ttl", fields.str("ttl")),
        lease: given(req, "lease", fields.str("lease")),
        explicit_max_ttl: given(req, "explicit_max_ttl", fields.str("explicit_max_ttl")),
        period: given(req, "period", fields.str("period")),
        display_name: given(req, "display_name", fields.str("display_name")),
        num_uses: fields.int("num_uses").unwrap_or(0),
    })
}

/// A non-empty text field (`token`, `accessor`).
fn text(req: &Request, name: &str) -> Option<String> {
    req.data
        .get(name)
        .and_then(|v| crate::framework::decode(name, Kind::Str, v).ok())
        .and_then(|d| match d {
            crate::framework::Decoded::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        })
}

fn caller_id(req: &Request) -> Result<String, CoreError> {
    req.client_token
        .as_ref()
        .map(|t| t.as_str().to_string())
        .ok_or(CoreError::PermissionDenied)
}

/// The `increment` of the renew endpoints (validated before the handler runs).
fn increment(req: &Request) -> u64 {
    Fields::new(&req.data, &[INCREMENT_FIELD])
        .secs("increment")
        .map_or(0, |s| s.max(0) as u64)
}

/// The `token` of revoke, revoke-orphan and renew, or OpenBao's error.
fn required_token(req: &Request) -> Result<String, CoreError> {
    text(req, "token").ok_or_else(|| CoreError::InvalidRequest("missing token ID".into()))
}

fn required_accessor(req: &Request) -> Result<String, CoreError> {
    text(req, "accessor").ok_or_else(|| CoreError::InvalidRequest("missing accessor".into()))
}

fn invalid_accessor() -> CoreError {
    CoreError::InvalidRequest("1 error occurred:\n\t* invalid accessor\n\n".into())
}

impl TokenBackend {
    async fn create_token(
        core: &Core,
        caller: &Caller,
        req: &Request,
        orphan: bool,
        role: Option<&TokenRole>,
        schema: Schema,
    ) -> Result<Response, CoreError> {
        let params = parse_create(req, schema)?;
        let mut warnings: Vec<String> = Fields::new(&req.data, CREATE_FIELDS)
            .warnings(&[])
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

    fn create<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(Self::create_token(core, caller, req, false, None, CREATE_FIELDS))
    }

    fn create_orphan<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(Self::create_token(core, caller, req, true, None, CREATE_FIELDS))
    }

    fn create_against_role<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        req: &'a Request,
        m: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("role_name");
            let role = core
                .read_token_role(name)?
                .ok_or_else(|| CoreError::InvalidRequest(format!("unknown role {name}")))?;
            Self::create_token(core, caller, req, false, Some(&role), CREATE_ROLE_FIELDS).await
        })
    }

    fn list_roles<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        _: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        // An empty list is OpenBao's 404 with no errors, as for every LIST.
        Box::pin(async move { crate::framework::keys_response(core.list_token_roles()?, vec![]) })
    }

    fn read_role<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        _: &'a Request,
        m: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            match core.read_token_role(m.get("role_name"))? {
                Some(role) => Ok(Response::with_data(role.read_data())),
                None => Err(CoreError::NotFound),
            }
        })
    }

    fn write_role<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        req: &'a Request,
        m: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            core.write_token_role(m.get("role_name"), req.data.clone()).await?;
            Ok(Response::no_content())
        })
    }

    fn delete_role<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        _: &'a Request,
        m: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            core.delete_token_role(m.get("role_name")).await?;
            Ok(Response::no_content())
        })
    }

    fn tidy<'a>(&'a self, core: &'a Core, _: &'a Caller, _: &'a Request, _: Captures<'a>) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let report = core.tidy_tokens().await?;
            log::info!("token tidy: {report}");
            let mut resp = Response::warning(
                "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
                    .into(),
            );
            resp.status = Some(202);
            Ok(resp)
        })
    }

    fn lookup_token(core: &Core, token: &str) -> Result<Response, CoreError> {
        match core.live_token(token)? {
            Some((_, entry)) => Ok(Response::with_data(entry.lookup_data(token))),
            None => Err(CoreError::Forbidden("bad token".into())),
        }
    }

    fn lookup<'a>(&'a self, core: &'a Core, _: &'a Caller, req: &'a Request, _: Captures<'a>) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            match text(req, "token") {
                Some(token) => Self::lookup_token(core, &token),
                None => Self::lookup_token(core, &caller_id(req)?),
            }
        })
    }

    fn lookup_self<'a>(
        &'a self,
        _: &'a Core,
        caller: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let id = caller_id(req)?;
            Ok(Response::with_data(caller.entry.lookup_data(&id)))
        })
    }

    fn lookup_accessor<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let accessor = required_accessor(req)?;
            match core.token_by_accessor(&accessor)? {
                Some((_, entry)) => Ok(Response::with_data(entry.lookup_data(""))),
                None => Err(invalid_accessor()),
            }
        })
    }

    async fn renew_token(core: &Core, hash: &[u8], id: &str, increment: u64) -> Result<Response, CoreError> {
        let (entry, warnings) = core.renew_token(hash, increment).await?;
        Ok(Response::with_auth(entry.auth_block(id), warnings))
    }

    fn renew<'a>(&'a self, core: &'a Core, _: &'a Caller, req: &'a Request, _: Captures<'a>) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let increment = increment(req);
            let token = required_token(req)?;
            let (hash, _) = core
                .live_token(&token)?
                .ok_or_else(|| CoreError::InvalidRequest("token not found".into()))?;
            Self::renew_token(core, &hash, &token, increment).await
        })
    }

    fn renew_self<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let increment = increment(req);
            let id = caller_id(req)?;
            Self::renew_token(core, &caller.token_hash, &id, increment).await
        })
    }

    fn renew_accessor<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let increment = increment(req);
            let accessor = required_accessor(req)?;
            let (hash, _) = core.token_by_accessor(&accessor)?.ok_or_else(invalid_accessor)?;
            Self::renew_token(core, &hash, "", increment).await
        })
    }

    fn revoke<'a>(&'a self, core: &'a Core, _: &'a Caller, req: &'a Request, _: Captures<'a>) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let token = required_token(req)?;
            if let Some((hash, _)) = core.token_by_id(&token)? {
                core.revoke_tree(&hash).await?;
            }
            Ok(Response::no_content())
        })
    }

    fn revoke_self<'a>(
        &'a self,
        core: &'a Core,
        caller: &'a Caller,
        _: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            core.revoke_tree(&caller.token_hash).await?;
            Ok(Response::no_content())
        })
    }

    fn revoke_accessor<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let accessor = required_accessor(req)?;
            match core.token_by_accessor(&accessor)? {
                Some((hash, _)) => {
                    core.revoke_tree(&hash).await?;
                    Ok(Response::no_content())
                }
                None => Ok(Response::warning("No token found with this accessor".into())),
            }
        })
    }

    fn revoke_orphan<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        req: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let token = required_token(req)?;
            if let Some((hash, _)) = core.token_by_id(&token)? {
                core.revoke_orphan(&hash).await?;
            }
            Ok(Response::no_content())
        })
    }

    fn list_accessors<'a>(
        &'a self,
        core: &'a Core,
        _: &'a Caller,
        _: &'a Request,
        _: Captures<'a>,
    ) -> CoreBackendFuture<'a> {
        Box::pin(async move {
            let mut data = Map::new();
            data.insert("keys".into(), json!(core.list_accessors()?));
            Ok(Response::with_data(data))
        })
    }

    async fn route(&self, core: &Core, caller: &Caller, path: &str, req: &Request) -> Result<Response, CoreError> {
        // OpenBao validates a role write in the role path's existence check, before its handler: without the usual
        // "Field validation failed" prefix, for new and existing roles alike.
        if matches!(req.operation, Operation::Create | Operation::Update)
            && crate::framework::path::match_pattern("roles/{role_name}", path).is_some()
        {
            Fields::new(&req.data, ROLE_FIELDS).validate(false)?;
        }
        let routed = PATHS.route(req.operation, path, req)?;
        (routed.handler)(self, core, caller, req, routed.captures).await
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

    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        Some(PATHS.openapi(&self.special_paths(), default_prefix))
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

/// The token store in-process, through its path table: a dev-initialized core on a temporary store, requests handed
/// to the backend as the router hands them (the path relative to `auth/token/`), as root.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::core::CoreSettings;
    use crate::logical::ClientToken;
    use crate::storage::Storage;

    struct Fixture {
        _dir: tempfile::TempDir,
        core: Core,
        root: String,
        caller: Caller,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let storage = Arc::new(Storage::open(&dir.path().join("data")).unwrap());
            let core = Core::new(storage, CoreSettings::default());
            let root = core.dev_init(None).await.unwrap().root_token.to_string();
            let (token_hash, entry) = core.live_token(&root).unwrap().unwrap();
            let acl = core.acl_for(&entry.policies).unwrap();
            let caller = Caller {
                token_hash,
                entry,
                acl,
                root_privs: true,
            };
            Fixture {
                _dir: dir,
                core,
                root,
                caller,
            }
        }

        async fn call(&self, op: Operation, relative: &str, data: Value) -> Result<Response, CoreError> {
            let req = Request {
                id: "test".into(),
                operation: op,
                path: format!("auth/token/{relative}"),
                data: data.as_object().cloned().unwrap_or_default(),
                client_token: Some(ClientToken::new(&self.root)),
                wrap_ttl: None,
                remote_addr: None,
                remote_port: None,
                secret: None,
                headers: Default::default(),
            };
            TokenBackend.handle(&self.core, &self.caller, relative, &req).await
        }
    }

    fn message(result: Result<Response, CoreError>) -> String {
        match result {
            Err(CoreError::InvalidRequest(m)) => m,
            other => panic!("not an invalid request: {other:?}"),
        }
    }

    #[actix_web::test]
    async fn requests_are_routed_and_validated_by_the_path_table() {
        let f = Fixture::new().await;
        assert!(matches!(
            f.call(Operation::Read, "create", json!({})).await,
            Err(CoreError::UnsupportedOperation)
        ));
        assert!(matches!(
            f.call(Operation::Update, "no-such-path", json!({})).await,
            Err(CoreError::UnsupportedPath)
        ));
        // A role name is a name, as OpenBao's pattern has it.
        assert!(matches!(
            f.call(Operation::Update, "create/a@b", json!({})).await,
            Err(CoreError::UnsupportedPath)
        ));
        assert_eq!(
            message(f.call(Operation::Update, "roles/", json!({})).await),
            "cannot write to a path ending in '/'"
        );
        assert_eq!(
            message(f.call(Operation::Update, "create", json!({"num_uses": "many"})).await),
            "Field validation failed: error converting input for field \"num_uses\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        );
        assert_eq!(
            message(f.call(Operation::Update, "renew-self", json!({"increment": "-5s"})).await),
            "Field validation failed: error converting input for field \"increment\": cannot provide negative value '-5'"
        );
        // A role write is validated as OpenBao's existence check does it: without the prefix.
        assert_eq!(
            message(f.call(Operation::Update, "roles/web", json!({"orphan": "maybe"})).await),
            "error converting input for field \"orphan\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
        );
        assert!(matches!(
            f.call(Operation::Read, "roles/web", json!({})).await,
            Err(CoreError::NotFound)
        ));
    }

    #[actix_web::test]
    async fn tokens_are_created_looked_up_renewed_and_revoked_through_the_table() {
        let f = Fixture::new().await;
        let created = f
            .call(
                Operation::Update,
                "create",
                json!({"policies": ["a"], "ttl": "1h", "renewable": true, "bogus": 1}),
            )
            .await
            .unwrap();
        assert!(created
            .warnings
            .iter()
            .any(|w| w.contains("unrecognized parameters: [bogus]")));
        let auth = created.auth.unwrap();
        let token = auth.client_token.clone();
        assert_eq!(auth.policies, vec!["a".to_string(), "default".to_string()]);
        let looked = f
            .call(Operation::Update, "lookup", json!({"token": token}))
            .await
            .unwrap();
        assert_eq!(looked.data.unwrap()["creation_ttl"], json!(3600));
        let renewed = f
            .call(Operation::Update, "renew", json!({"token": token, "increment": "30m"}))
            .await
            .unwrap();
        assert_eq!(renewed.auth.unwrap().lease_duration, 1800);
        assert_eq!(
            message(f.call(Operation::Update, "revoke", json!({})).await),
            "missing token ID"
        );
        f.call(Operation::Update, "revoke", json!({"token": token}))
            .await
            .unwrap();
        assert!(matches!(
            f.call(Operation::Update, "lookup", json!({"token": token})).await,
            Err(CoreError::Forbidden(_))
        ));

        // A role, and a token created against it.
        f.call(
            Operation::Update,
            "roles/web",
            json!({"allowed_policies": "a,b", "orphan": true}),
        )
        .await
        .unwrap();
        let role = f.call(Operation::Read, "roles/web", json!({})).await.unwrap();
        assert_eq!(role.data.unwrap()["orphan"], json!(true));
        let keys = f.call(Operation::List, "roles", json!({})).await.unwrap();
        assert_eq!(keys.data.unwrap()["keys"], json!(["web"]));
        let against = f
            .call(Operation::Update, "create/web", json!({"policies": ["b"]}))
            .await
            .unwrap();
        assert_eq!(
            against.auth.unwrap().policies,
            vec!["b".to_string(), "default".to_string()]
        );
        assert_eq!(
            message(f.call(Operation::Update, "create/nope", json!({})).await),
            "unknown role nope"
        );
    }

    #[test]
    fn the_table_documents_the_token_store_as_openbao() {
        let doc = serde_json::to_value(TokenBackend.openapi("token").unwrap()).unwrap();
        let paths = &doc["paths"];
        assert_eq!(paths["/create"]["post"]["operationId"], "token-create");
        assert_eq!(
            paths["/create/{role_name}"]["post"]["operationId"],
            "token-create-against-role"
        );
        assert_eq!(paths["/lookup"]["get"]["operationId"], "token-look-up-get");
        assert_eq!(paths["/lookup"]["post"]["operationId"], "token-look-up-update");
        assert_eq!(paths["/roles/{role_name}"]["x-vault-createSupported"], true);
        assert_eq!(paths["/accessors"]["x-vault-sudo"], true);
        assert_eq!(paths["/accessors"]["get"]["operationId"], "token-list-accessors");
        let create = &doc["components"]["schemas"]["TokenCreateRequest"]["properties"];
        assert_eq!(create["renewable"]["default"], true);
        assert_eq!(create["meta"]["format"], "kvpairs");
        assert_eq!(create["lease"]["deprecated"], true);
    }
}
