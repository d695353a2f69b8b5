//! The AppRole auth method (OpenBao's `builtin/credential/approle`): roles with a role ID and token settings, secret
//! IDs issued against a role (generated or custom, with use counts, TTLs, metadata and CIDR bindings), and `login`
//! (unauthenticated) with role_id + secret_id.
//!
//! Records, all JSON, under the mount's view:
//! - `salt`: the mount's random key; the role ID index and the accessor index are keyed by its HMAC of the ID.
//! - `role/<lower-cased name>`: a role, with its own random HMAC key for its secret IDs.
//! - `role_id/<HMAC(mount key, role_id)>`: the role's name.
//! - `secret_id[_local]/<HMAC(role key, role name)>/<HMAC(role key, secret_id)>`: a secret ID's properties. Secret
//!   IDs are never stored, only their HMAC; a login finds the record by it and compares it again in constant time.
//! - `accessor[_local]/<HMAC(mount key, accessor)>`: the HMAC of the secret ID an accessor names.
//!
//! A secret ID with a use limit is consumed in one storage transaction (checked, then decremented or deleted), so
//! concurrent logins can never use it more often than allowed. Expired secret IDs are refused at login and deleted
//! by the periodic tidy.

mod login;
mod role;
mod secret_id;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::framework::{field, Display, Field, FieldDefault, Kind, PathSpec, PathTable, TOKEN_FIELD_LIST};
use crate::logical::{
    AliasFuture, Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, PeriodicFuture, Request,
    SpecialPaths, StorageView, TxFail, ViewTxn,
};
use crate::storage::StorageError;

pub use role::RoleEntry;

/// OpenBao's limit on a role name and a secret ID (`maxHmacInputLength`).
const MAX_HMAC_INPUT: usize = 4096;
const MOUNT_KEY: &[u8] = b"salt";
const SECRET_ID_PREFIX: &str = "secret_id/";
const SECRET_ID_LOCAL_PREFIX: &str = "secret_id_local/";
const ACCESSOR_PREFIX: &str = "accessor/";
const ACCESSOR_LOCAL_PREFIX: &str = "accessor_local/";
/// How often the periodic tidy runs (OpenBao's rollback manager: once a minute).
const TIDY_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct AppRole {
    /// A tidy is running (OpenBao's `tidySecretIDCASGuard`).
    tidy_running: AtomicBool,
}

impl AppRole {
    pub fn new() -> Self {
        Self::default()
    }
}

const ROLE_FIELD_LIST: [Field; 20] = crate::framework::concat_fields(
    [
        field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
        field("bind_secret_id", Kind::Bool).desc("Impose secret_id to be presented when logging in using this role.").default(FieldDefault::Bool(true)),
        field("bound_cidr_list", Kind::CommaStrings).desc("Deprecated: Please use \"secret_id_bound_cidrs\" instead. Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation.").deprecated(),
        field("secret_id_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation."),
        field("policies", Kind::CommaStrings).desc("Use \"token_policies\" instead. If this and \"token_policies\" are both specified, only \"token_policies\" will be used.").deprecated(),
        field("secret_id_num_uses", Kind::Int).desc("Number of times a SecretID can access the role, after which the SecretID will expire. Defaults to 0 meaning that the the secret_id is of unlimited use."),
        field("secret_id_ttl", Kind::Duration).desc("Duration in seconds after which the issued SecretID should expire. Defaults to 0, meaning no expiration."),
        field("period", Kind::Duration).desc("Use \"token_period\" instead. If this and \"token_period\" are both specified, only \"token_period\" will be used.").deprecated(),
        field("role_id", Kind::Str).desc("Identifier of the role. Defaults to a UUID."),
        field("local_secret_ids", Kind::Bool).desc("If set, the secret IDs generated using this role will be cluster local. This can only be set during role creation and once set, it can't be reset later."),
    ],
    TOKEN_FIELD_LIST,
);
const ROLE_FIELDS: crate::framework::Schema = &ROLE_FIELD_LIST;
const LIST_FIELDS: crate::framework::Schema = &[
    field("after", Kind::Str)
        .desc("Optional entry to list begin listing after, not required to exist. Only used in list operations."),
    field("limit", Kind::Int)
        .desc("Optional number of entries to return; defaults to all entries. Only used in list operations."),
];
const NAME_FIELDS: crate::framework::Schema =
    &[field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes.")];
const ROLE_ID_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("role_id", Kind::Str).desc("Identifier of the role. Defaults to a UUID."),
];
const SECRET_ID_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("metadata", Kind::Str).desc("Metadata to be tied to the SecretID. This should be a JSON formatted string containing metadata in key value pairs."),
    field("cidr_list", Kind::CommaStrings).desc("Comma separated string or list of CIDR blocks enforcing secret IDs to be used from specific set of IP addresses. If 'bound_cidr_list' is set on the role, then the list of CIDR blocks listed here should be a subset of the CIDR blocks listed on the role."),
    field("token_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token."),
    field("num_uses", Kind::Int).desc("Number of times this SecretID can be used, after which the SecretID expires. Overrides secret_id_num_uses role option when supplied. May not be higher than role's secret_id_num_uses."),
    field("ttl", Kind::Duration).desc("Duration in seconds after which this SecretID expires. Overrides secret_id_ttl role option when supplied. May not be longer than role's secret_id_ttl."),
    field("after", Kind::Str).desc("Optional entry to list begin listing after, not required to exist. Only used in list operations."),
    field("limit", Kind::Int).desc("Optional number of entries to return; defaults to all entries. Only used in list operations."),
];
const CUSTOM_SECRET_ID_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("secret_id", Kind::Str).desc("SecretID attached to the role.").default(FieldDefault::Str("")),
    field("metadata", Kind::Str).desc("Metadata to be tied to the SecretID. This should be a JSON formatted string containing metadata in key value pairs."),
    field("cidr_list", Kind::CommaStrings).desc("Comma separated string or list of CIDR blocks enforcing secret IDs to be used from specific set of IP addresses. If 'bound_cidr_list' is set on the role, then the list of CIDR blocks listed here should be a subset of the CIDR blocks listed on the role."),
    field("token_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token."),
    field("num_uses", Kind::Int).desc("Number of times this SecretID can be used, after which the SecretID expires. Overrides secret_id_num_uses role option when supplied. May not be higher than role's secret_id_num_uses."),
    field("ttl", Kind::Duration).desc("Duration in seconds after which this SecretID expires. Overrides secret_id_ttl role option when supplied. May not be longer than role's secret_id_ttl."),
];
const SECRET_ID_VALUE_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("secret_id", Kind::Str)
        .desc("SecretID attached to the role.")
        .default(FieldDefault::Str("")),
];
const ACCESSOR_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("secret_id_accessor", Kind::Str).desc("Accessor of the SecretID"),
];
const LOGIN_FIELDS: crate::framework::Schema = &[
    field("role_id", Kind::Str).desc("Identifier of the role. Defaults to a UUID."),
    field("secret_id", Kind::Str)
        .desc("SecretID attached to the role.")
        .default(FieldDefault::Str("")),
];
const POLICIES_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("policies", Kind::CommaStrings).desc("Use \"token_policies\" instead. If this and \"token_policies\" are both specified, only \"token_policies\" will be used.").deprecated(),
    field("token_policies", Kind::CommaStrings).desc("Comma-separated list of policies"),
];
const PERIOD_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("period", Kind::Duration).desc("Use \"token_period\" instead. If this and \"token_period\" are both specified, only \"token_period\" will be used.").deprecated(),
    field("token_period", Kind::Duration).desc("If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value. This takes an integer number of seconds, or a string duration (e.g. \"24h\")."),
];
const CIDR_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("secret_id_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation."),
    field("bound_cidr_list", Kind::CommaStrings).desc("Deprecated: Please use \"secret_id_bound_cidrs\" instead. Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation.").deprecated(),
    field("token_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token."),
];
const SECRET_ID_NUM_USES_FIELDS: crate::framework::Schema =
    &[field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."), field("secret_id_num_uses", Kind::Int).desc("Number of times a SecretID can access the role, after which the SecretID will expire. Defaults to 0 meaning that the the secret_id is of unlimited use.")];
const SECRET_ID_TTL_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("secret_id_ttl", Kind::Duration).desc(
        "Duration in seconds after which the issued SecretID should expire. Defaults to 0, meaning no expiration.",
    ),
];
const TOKEN_NUM_USES_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("token_num_uses", Kind::Int)
        .desc("The maximum number of times a token may be used, a value of zero means unlimited"),
];
const TOKEN_TTL_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("token_ttl", Kind::Duration).desc("The initial ttl of the token to generate"),
];
const TOKEN_MAX_TTL_FIELDS: crate::framework::Schema = &[
    field("role_name", Kind::Str).desc("Name of the role. Must be less than 4096 bytes."),
    field("token_max_ttl", Kind::Duration).desc("The maximum lifetime of the generated token"),
];

/// A role's setting sub-endpoint (`role/:name/secret-id-ttl`, ...), described by `role::SETTINGS[$setting]`.
macro_rules! setting_path {
    ($setting:expr, [$($op:ident),+]) => {
        PathSpec {
            pattern: role::SETTINGS[$setting].pattern,
            fields: role::SETTINGS[$setting].fields,
            operations: &[$(setting_operation!($op, $setting)),+],
            existence: None,
            help: role::SETTINGS[$setting].help,
            display: Display::new("app-role", "", role::SETTINGS[$setting].suffix),
        }
    };
}

macro_rules! setting_operation {
    (Read, $setting:expr) => {
        (Operation::Read, AppRole::read_setting::<{ $setting }>)
    };
    (Update, $setting:expr) => {
        (Operation::Update, AppRole::update_setting::<{ $setting }>)
    };
    (Delete, $setting:expr) => {
        (Operation::Delete, AppRole::delete_setting::<{ $setting }>)
    };
}

const PATHS: PathTable<AppRole> = PathTable {
    paths: &[
        PathSpec {
            pattern: "role",
            fields: LIST_FIELDS,
            operations: &[(Operation::List, AppRole::list_roles)],
            existence: None,
            help: "Lists all the roles registered with the backend.",
            display: Display::new("app-role", "", "roles"),
        },
        PathSpec {
            pattern: "role/",
            fields: LIST_FIELDS,
            operations: &[(Operation::List, AppRole::list_roles)],
            existence: None,
            help: "Lists all the roles registered with the backend.",
            display: Display::new("app-role", "", "roles"),
        },
        PathSpec {
            pattern: "role/{role_name}",
            fields: ROLE_FIELDS,
            operations: &[
                (Operation::Read, AppRole::read_role),
                (Operation::Create, AppRole::write_role),
                (Operation::Update, AppRole::write_role),
                (Operation::Delete, AppRole::delete_role),
            ],
            existence: Some(AppRole::role_exists),
            help: "Register an role with the backend.",
            display: Display::new("app-role", "", "role"),
        },
        setting_path!(role::ROLE_ID, [Read, Update]),
        setting_path!(role::LOCAL_SECRET_IDS, [Read]),
        setting_path!(role::POLICIES, [Read, Update, Delete]),
        setting_path!(role::SECRET_ID_BOUND_CIDRS, [Read, Update, Delete]),
        setting_path!(role::BOUND_CIDR_LIST, [Read, Update, Delete]),
        setting_path!(role::TOKEN_BOUND_CIDRS, [Read, Update, Delete]),
        setting_path!(role::SECRET_ID_NUM_USES, [Read, Update, Delete]),
        setting_path!(role::SECRET_ID_TTL, [Read, Update, Delete]),
        setting_path!(role::PERIOD, [Read, Update, Delete]),
        setting_path!(role::TOKEN_NUM_USES, [Read, Update, Delete]),
        setting_path!(role::TOKEN_TTL, [Read, Update, Delete]),
        setting_path!(role::TOKEN_MAX_TTL, [Read, Update, Delete]),
        PathSpec {
            pattern: "role/{role_name}/secret-id",
            fields: SECRET_ID_FIELDS,
            operations: &[
                (Operation::Update, AppRole::generate_secret_id),
                (Operation::List, AppRole::list_secret_ids),
            ],
            existence: None,
            help: "Generate a SecretID against this role.",
            display: Display {
                per_op: &[(Operation::List, "", "secret-ids")],
                ..Display::new("app-role", "", "secret-id")
            },
        },
        PathSpec {
            pattern: "role/{role_name}/secret-id/",
            fields: SECRET_ID_FIELDS,
            operations: &[(Operation::List, AppRole::list_secret_ids)],
            existence: None,
            help: "Generate a SecretID against this role.",
            display: Display {
                per_op: &[(Operation::List, "", "secret-ids")],
                ..Display::new("app-role", "", "secret-id")
            },
        },
        PathSpec {
            pattern: "role/{role_name}/secret-id/lookup",
            fields: SECRET_ID_VALUE_FIELDS,
            operations: &[(Operation::Update, AppRole::lookup_secret_id)],
            existence: None,
            help: "Read the properties of an issued secret_id",
            display: Display::new("app-role", "look-up", "secret-id"),
        },
        PathSpec {
            pattern: "role/{role_name}/secret-id/destroy",
            fields: SECRET_ID_VALUE_FIELDS,
            operations: &[
                (Operation::Update, AppRole::destroy_secret_id),
                (Operation::Delete, AppRole::destroy_secret_id),
            ],
            existence: None,
            help: "Invalidate an issued secret_id",
            display: Display {
                per_op: &[(Operation::Delete, "", "secret-id2")],
                ..Display::new("app-role", "destroy", "secret-id")
            },
        },
        PathSpec {
            pattern: "role/{role_name}/secret-id-accessor/lookup",
            fields: ACCESSOR_FIELDS,
            operations: &[(Operation::Update, AppRole::lookup_accessor)],
            existence: None,
            help: "Read an issued secret_id, using its accessor",
            display: Display::new("app-role", "look-up", "secret-id-by-accessor"),
        },
        PathSpec {
            pattern: "role/{role_name}/secret-id-accessor/destroy",
            fields: ACCESSOR_FIELDS,
            operations: &[
                (Operation::Update, AppRole::destroy_accessor),
                (Operation::Delete, AppRole::destroy_accessor),
            ],
            existence: None,
            help: "Invalidate an issued secret_id, using its accessor",
            display: Display {
                per_op: &[(Operation::Delete, "", "secret-id-by-accessor2")],
                ..Display::new("app-role", "destroy", "secret-id-by-accessor")
            },
        },
        PathSpec {
            pattern: "role/{role_name}/custom-secret-id",
            fields: CUSTOM_SECRET_ID_FIELDS,
            operations: &[(Operation::Update, AppRole::custom_secret_id)],
            existence: None,
            help: "Assign a SecretID of choice against the role.",
            display: Display::new("app-role", "", "custom-secret-id"),
        },
        PathSpec {
            pattern: "login",
            fields: LOGIN_FIELDS,
            operations: &[(Operation::Update, AppRole::login)],
            existence: None,
            help: "Issue a token based on the credentials supplied",
            display: Display::new("app-role", "login", ""),
        },
        PathSpec {
            pattern: "tidy/secret-id",
            fields: &[],
            operations: &[(Operation::Update, AppRole::tidy_endpoint)],
            existence: None,
            help: "Trigger the clean-up of expired SecretID entries.",
            display: Display::new("app-role", "tidy", "secret-id"),
        },
    ],
};

impl Backend for AppRole {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(PATHS.handle(self, ctx, req))
    }

    fn existence<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> ExistenceFuture<'a> {
        Box::pin(PATHS.existence(self, ctx, req))
    }

    fn openapi(&self, default_prefix: &str) -> Option<crate::logical::openapi::Document> {
        Some(PATHS.openapi(&self.special_paths(), default_prefix))
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            root: &[],
            unauthenticated: &["login"],
        }
    }

    /// A login is for the role ID it gives (trimmed), as OpenBao's alias lookahead names it.
    fn login_alias<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> AliasFuture<'a> {
        let alias = (ctx.path == "login")
            .then(|| req.data.get("role_id").and_then(|v| v.as_str()))
            .flatten()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty());
        Box::pin(async move { Ok(alias) })
    }

    fn resolves_roles(&self) -> bool {
        true
    }

    /// A login is for the role its role ID names (OpenBao's role resolution for role-based quotas).
    fn resolve_role<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> AliasFuture<'a> {
        Box::pin(async move {
            let role_id = match req.data.get("role_id").and_then(|v| v.as_str()).map(str::trim) {
                Some(id) if ctx.path == "login" && !id.is_empty() => id,
                _ => return Ok(None),
            };
            let Some(mount_key) = read_mount_key(ctx.storage)? else {
                return Ok(None);
            };
            role::read_role_index(ctx.storage, &mount_key, role_id)
        })
    }

    fn periodic_interval(&self) -> Option<Duration> {
        Some(TIDY_INTERVAL)
    }

    fn periodic<'a>(&'a self, ctx: &'a Context<'a>) -> PeriodicFuture<'a> {
        Box::pin(async move {
            self.tidy(ctx.storage).await?;
            Ok(())
        })
    }
}

// Helpers shared by the path groups.

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidRequest(message.into())
}

fn codec(e: impl std::fmt::Display) -> StorageError {
    StorageError::Codec(format!("approle record: {e}"))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Storage(codec(e)))
}

fn read_json<T: DeserializeOwned>(view: &dyn StorageView, key: &[u8]) -> Result<Option<T>, Error> {
    view.get(key)?.map(|bytes| decode(&bytes)).transpose()
}

fn tx_read_json<T: DeserializeOwned>(tx: &dyn ViewTxn, key: &[u8]) -> Result<Option<T>, TxFail> {
    match tx.get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TxFail::Storage(codec(e))),
    }
}

fn tx_write_json<T: Serialize>(tx: &dyn ViewTxn, key: &[u8], value: &T) -> Result<(), TxFail> {
    let bytes = serde_json::to_vec(value).map_err(|e| TxFail::Storage(codec(e)))?;
    tx.put(key, &bytes)
}

/// Hex HMAC-SHA256 of `value` under `key` (OpenBao's `createHMAC`).
fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac = match <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Fresh random bytes, hex-encoded (HMAC keys).
fn random_hex(len: usize) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    rand::fill(&mut bytes[..]);
    Zeroizing::new(hex::encode(&bytes[..]))
}

/// The mount's key, if any role was ever written.
fn read_mount_key(view: &dyn StorageView) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    view.get(MOUNT_KEY)
}

/// The mount's key, created on first use (the first writer wins; every later reader sees its key).
async fn mount_key(view: &dyn StorageView) -> Result<Zeroizing<Vec<u8>>, Error> {
    if let Some(key) = read_mount_key(view)? {
        return Ok(key);
    }
    let mut fresh = Zeroizing::new(vec![0u8; 32]);
    rand::fill(&mut fresh[..]);
    view.write(move |tx| {
        if let Some(existing) = tx.get(MOUNT_KEY)? {
            return Ok(existing);
        }
        tx.put(MOUNT_KEY, &fresh)?;
        Ok(Zeroizing::new(fresh.to_vec()))
    })
    .await
}

fn role_key(name: &str) -> Vec<u8> {
    format!("role/{}", name.to_lowercase()).into_bytes()
}

fn role_id_key(mount_key: &[u8], role_id: &str) -> Vec<u8> {
    format!("role_id/{}", hmac_hex(mount_key, role_id)).into_bytes()
}

fn accessor_key(mount_key: &[u8], secret_id_prefix: &str, accessor: &str) -> Vec<u8> {
    let prefix = if secret_id_prefix == SECRET_ID_LOCAL_PREFIX {
        ACCESSOR_LOCAL_PREFIX
    } else {
        ACCESSOR_PREFIX
    };
    format!("{prefix}{}", hmac_hex(mount_key, accessor)).into_bytes()
}

fn read_role(view: &dyn StorageView, name: &str) -> Result<Option<RoleEntry>, Error> {
    read_json(view, &role_key(name))
}

/// OpenBao's `ListPage`: the names strictly after `after` (in byte order), at most `limit` of them (none or <= 0: all).
fn page(mut names: Vec<String>, fields: &crate::framework::Fields) -> Vec<String> {
    names.sort();
    if let Some(after) = fields.str("after").filter(|a| !a.is_empty()) {
        names.retain(|n| n.as_str() > after.as_str());
    }
    if let Some(limit) = fields.int("limit").filter(|l| *l > 0) {
        names.truncate(limit as usize);
    }
    names
}

/// Seconds as a Go `time.Duration` prints (`1h0m0s`).
fn go_duration(secs: u64) -> String {
    crate::framework::go_duration_string(secs.min(i64::MAX as u64) as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::AppRole;
    use crate::logical::testing::{block_on, call, FixedSystemView};
    use crate::logical::{Backend, Context, Error, MemoryView, Operation, Response, StorageView};

    fn run(b: &AppRole, view: &MemoryView, op: Operation, path: &str, body: Value) -> Result<Response, Error> {
        call(b, view, "auth/approle/", op, path, body)
    }

    fn data(resp: Response) -> Value {
        Value::Object(resp.data.unwrap_or_default())
    }

    fn message(result: Result<Response, Error>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(resp) => panic!("expected an error, got {resp:?}"),
        }
    }

    #[test]
    fn roles_secret_ids_and_logins() {
        let (b, view) = (AppRole::new(), MemoryView::default());
        let w = |path: &str, body: Value| run(&b, &view, Operation::Update, path, body);
        w(
            "role/Web",
            json!({"token_policies": "a,b", "secret_id_num_uses": 2, "token_ttl": "1h"}),
        )
        .unwrap();
        let role = data(run(&b, &view, Operation::Read, "role/web", json!({})).unwrap());
        assert_eq!(role["token_policies"], json!(["a", "b"]));
        assert_eq!(role["secret_id_num_uses"], 2);
        assert_eq!(role["bind_secret_id"], true);
        assert!(role.get("hmac_key").is_none() && role.get("role_id").is_none());
        let role_id = data(run(&b, &view, Operation::Read, "role/web/role-id", json!({})).unwrap())["role_id"]
            .as_str()
            .unwrap()
            .to_string();

        let issued = data(w("role/web/secret-id", json!({"metadata": "env=prod"})).unwrap());
        let secret = issued["secret_id"].as_str().unwrap().to_string();
        assert_eq!(issued["secret_id_num_uses"], 2);
        // Neither the secret ID nor the role's HMAC key is ever stored in clear.
        let stored: Vec<u8> = view
            .keys(b"")
            .unwrap()
            .into_iter()
            .flat_map(|k| [k.clone(), view.get(&k).unwrap().unwrap().to_vec()].concat())
            .collect();
        assert!(!String::from_utf8_lossy(&stored).contains(&secret));

        let login = w("login", json!({"role_id": role_id, "secret_id": secret})).unwrap();
        let auth = login.auth.expect("a login answers with an auth");
        assert_eq!(auth.token_policies, vec!["a", "b"]);
        assert_eq!(auth.lease_duration, 3600);
        assert_eq!(auth.metadata.get("env").map(String::as_str), Some("prod"));
        assert_eq!(auth.metadata.get("role_name").map(String::as_str), Some("web"));
        let looked = data(w("role/web/secret-id/lookup", json!({"secret_id": secret})).unwrap());
        assert_eq!(looked["secret_id_num_uses"], 1);
        assert!(w("login", json!({"role_id": role_id, "secret_id": secret})).is_ok());
        assert_eq!(
            message(w("login", json!({"role_id": role_id, "secret_id": secret}))),
            "invalid role or secret ID"
        );
        // A CIDR-bound secret ID needs the client's address, which an in-process call does not have.
        let bound = data(w("role/web/secret-id", json!({"cidr_list": "10.0.0.0/8"})).unwrap());
        assert_eq!(
            message(w("login", json!({"role_id": role_id, "secret_id": bound["secret_id"]}))),
            "failed to get connection information"
        );

        // Deleting the role takes its secret IDs and its role ID with it.
        run(&b, &view, Operation::Delete, "role/web", json!({})).unwrap();
        assert!(view.keys(b"secret_id/").unwrap().is_empty());
        assert!(view.keys(b"accessor/").unwrap().is_empty());
        assert!(view.keys(b"role_id/").unwrap().is_empty());
        assert_eq!(
            message(w("login", json!({"role_id": role_id, "secret_id": "x"}))),
            "invalid role or secret ID"
        );
    }

    #[test]
    fn role_settings_have_their_own_endpoints() {
        let (b, view) = (AppRole::new(), MemoryView::default());
        let w = |path: &str, body: Value| run(&b, &view, Operation::Update, path, body);
        let r = |path: &str| data(run(&b, &view, Operation::Read, path, json!({})).unwrap());
        w("role/r", json!({"policies": "old", "period": "1h"})).unwrap();
        assert_eq!(r("role/r")["policies"], json!(["old"]));
        assert_eq!(r("role/r/period"), json!({"period": 3600, "token_period": 3600}));
        w("role/r/policies", json!({"token_policies": "new"})).unwrap();
        assert_eq!(r("role/r/policies"), json!({"token_policies": ["new"]}));
        w("role/r/secret-id-ttl", json!({"secret_id_ttl": "10m"})).unwrap();
        assert_eq!(r("role/r/secret-id-ttl"), json!({"secret_id_ttl": 600}));
        run(&b, &view, Operation::Delete, "role/r/secret-id-ttl", json!({})).unwrap();
        assert_eq!(r("role/r/secret-id-ttl"), json!({"secret_id_ttl": 0}));
        w("role/r/token-max-ttl", json!({"token_max_ttl": 60})).unwrap();
        assert_eq!(
            message(w("role/r/token-ttl", json!({"token_ttl": 120}))),
            "token_ttl should not be greater than token_max_ttl"
        );
        assert_eq!(
            message(w("role/r/secret-id-num-uses", json!({}))),
            "missing secret_id_num_uses"
        );
        assert!(matches!(
            w("role/none/secret-id-num-uses", json!({"secret_id_num_uses": 1})),
            Err(Error::UnsupportedPath)
        ));
        w("role/r/role-id", json!({"role_id": "custom"})).unwrap();
        assert_eq!(r("role/r/role-id"), json!({"role_id": "custom"}));
        w("role/s", json!({})).unwrap();
        assert_eq!(
            message(w("role/s/role-id", json!({"role_id": "custom"}))),
            "role_id already in use"
        );
        assert_eq!(
            message(w("role/r", json!({"local_secret_ids": true}))),
            "local_secret_ids can only be modified during role creation"
        );
        let keys = data(run(&b, &view, Operation::List, "role", json!({})).unwrap());
        assert_eq!(keys["keys"], json!(["r", "s"]));
        let keys = data(run(&b, &view, Operation::List, "role", json!({"limit": 1})).unwrap());
        assert_eq!(keys["keys"], json!(["r"]));
        let keys = data(run(&b, &view, Operation::List, "role", json!({"after": "r", "limit": "5"})).unwrap());
        assert_eq!(keys["keys"], json!(["s"]));
    }

    #[test]
    fn the_periodic_tidy_deletes_expired_secret_ids() {
        let (b, view) = (AppRole::new(), MemoryView::default());
        let w = |path: &str, body: Value| run(&b, &view, Operation::Update, path, body);
        w("role/r", json!({})).unwrap();
        let short = data(w("role/r/secret-id", json!({"ttl": 1})).unwrap());
        let long = data(w("role/r/secret-id", json!({})).unwrap());
        assert_eq!(view.keys(b"secret_id/").unwrap().len(), 2);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let system = FixedSystemView::default();
        let ctx = Context {
            path: "",
            storage: &view,
            system: &system,
        };
        assert_eq!(b.periodic_interval(), Some(std::time::Duration::from_secs(60)));
        block_on(b.periodic(&ctx)).unwrap();
        assert_eq!(view.keys(b"secret_id/").unwrap().len(), 1);
        assert_eq!(view.keys(b"accessor/").unwrap().len(), 1);
        let listed = data(run(&b, &view, Operation::List, "role/r/secret-id", json!({})).unwrap());
        assert_eq!(listed["keys"], json!([long["secret_id_accessor"]]));
        let gone = run(
            &b,
            &view,
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": short["secret_id_accessor"]}),
        )
        .unwrap();
        assert_eq!(gone.status, Some(404));
    }
}
