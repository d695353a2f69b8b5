//! The userpass auth method: users with a password (stored only as a bcrypt hash, cost 10, as OpenBao does, so a
//! `password_hash` exported from OpenBao works here) and token settings; `login/:username` (unauthenticated)
//! answers with the token the core then creates. Usernames are lower-cased. Records: `user/<username>` as JSON.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use crate::framework::{
    concat_fields, field, parse_policies, upgrade_legacy, Captures, Display, Field, Fields, Kind, PathSpec, PathTable,
    Schema, TokenParams, TOKEN_FIELD_LIST,
};
use crate::logical::{
    AliasFuture, Auth, Backend, BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response,
    SpecialPaths, StorageView, TxFail,
};

/// OpenBao's bcrypt cost for userpass passwords.
const BCRYPT_COST: u32 = 10;
/// The bcrypt costs a given `password_hash` may have (OpenBao's `minCost` and `maxCost`).
const MIN_GIVEN_COST: u32 = 5;
const MAX_GIVEN_COST: u32 = 12;

/// A user's own fields (the legacy ones among them), then the `token_*` ones every auth method has.
const USER_FIELD_LIST: [Field; 17] = concat_fields(
    [
        field("username", Kind::Str).desc("Username for this user."),
        field("password", Kind::Str).desc("Password for this user."),
        field("password_hash", Kind::Str).desc("Pre-hashed bcrypt password for this user. Mutually exclusive with password."),
        field("policies", Kind::CommaStrings).desc("Use \"token_policies\" instead. If this and \"token_policies\" are both specified, only \"token_policies\" will be used.").deprecated(),
        field("ttl", Kind::Duration).desc("Use \"token_ttl\" instead. If this and \"token_ttl\" are both specified, only \"token_ttl\" will be used.").deprecated(),
        field("max_ttl", Kind::Duration).desc("Use \"token_max_ttl\" instead. If this and \"token_max_ttl\" are both specified, only \"token_max_ttl\" will be used.").deprecated(),
        field("bound_cidrs", Kind::CommaStrings).desc("Use \"token_bound_cidrs\" instead. If this and \"token_bound_cidrs\" are both specified, only \"token_bound_cidrs\" will be used.").deprecated(),
    ],
    TOKEN_FIELD_LIST,
);
const USER_FIELDS: Schema = &USER_FIELD_LIST;
const PASSWORD_FIELDS: &[Field] = &[
    field("username", Kind::Str).desc("Username for this user."),
    field("password", Kind::Str).desc("Password for this user."),
    field("password_hash", Kind::Str)
        .desc("Pre-hashed bcrypt password for this user. Mutually exclusive with password."),
];
const POLICIES_FIELDS: &[Field] = &[
    field("username", Kind::Str).desc("Username for this user."),
    field("policies", Kind::CommaStrings).desc("Use \"token_policies\" instead. If this and \"token_policies\" are both specified, only \"token_policies\" will be used.").deprecated(),
    field("token_policies", Kind::CommaStrings).desc("Comma-separated list of policies"),
];
const LOGIN_FIELDS: &[Field] = &[
    field("username", Kind::Str).desc("Username for this user."),
    field("password", Kind::Str).desc("Password for this user."),
];

pub struct Userpass;

const PATHS: PathTable<Userpass> = PathTable {
    paths: &[
        PathSpec {
            pattern: "users",
            fields: &[],
            operations: &[(Operation::List, Userpass::list)],
            existence: None,
            help: "Manage users allowed to authenticate.",
            display: Display::new("userpass", "", "users"),
        },
        PathSpec {
            pattern: "users/",
            fields: &[],
            operations: &[(Operation::List, Userpass::list)],
            existence: None,
            help: "Manage users allowed to authenticate.",
            display: Display::new("userpass", "", "users"),
        },
        PathSpec {
            pattern: "users/{username}",
            fields: USER_FIELDS,
            operations: &[
                (Operation::Read, Userpass::read),
                (Operation::Create, Userpass::write),
                (Operation::Update, Userpass::write),
                (Operation::Delete, Userpass::delete),
            ],
            existence: Some(Userpass::exists),
            help: "Manage users allowed to authenticate.",
            display: Display::new("userpass", "", "user"),
        },
        PathSpec {
            pattern: "users/{username}/password",
            fields: PASSWORD_FIELDS,
            operations: &[(Operation::Update, Userpass::set_password)],
            existence: None,
            help: "Reset user's password.",
            display: Display::new("userpass", "reset", "password"),
        },
        PathSpec {
            pattern: "users/{username}/policies",
            fields: POLICIES_FIELDS,
            operations: &[(Operation::Update, Userpass::set_policies)],
            existence: None,
            help: "Update the policies associated with the username.",
            display: Display::new("userpass", "update", "policies"),
        },
        PathSpec {
            pattern: "login/{username}",
            fields: LOGIN_FIELDS,
            operations: &[(Operation::Update, Userpass::login)],
            existence: None,
            help: "Log in with a username and password.",
            display: Display::new("userpass", "login", ""),
        },
    ],
};

/// A stored user. The legacy (pre-`token_*`) settings are kept apart, as OpenBao keeps them, because a read shows
/// them under their old names while they are in use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserEntry {
    /// bcrypt.
    password_hash: String,
    #[serde(flatten)]
    token: TokenParams,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    max_ttl: u64,
    /// The legacy name of `token_bound_cidrs`, shown while it is the one given.
    #[serde(default)]
    bound_cidrs: Vec<String>,
}

fn user_key(username: &str) -> Vec<u8> {
    format!("user/{}", username.to_lowercase()).into_bytes()
}

fn read_user(view: &dyn StorageView, username: &str) -> Result<Option<UserEntry>, Error> {
    match view.get(&user_key(username))? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Storage(crate::storage::StorageError::Codec(format!("userpass user: {e}")))),
    }
}

fn encode_user(user: &UserEntry) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(user).map_err(|e| Error::Storage(crate::storage::StorageError::Codec(e.to_string())))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidRequest(message.into())
}

/// The new password hash a write asks for: exactly one of `password` and `password_hash` (OpenBao's
/// `validatePasswordInput`); `Ok(None)` when `required` is false and neither is given.
fn new_password_hash(fields: &Fields, required: bool) -> Result<Option<String>, Error> {
    let password = fields.str("password").filter(|p| !p.is_empty());
    let given_hash = fields.str("password_hash").filter(|h| !h.is_empty());
    match (password, given_hash) {
        (Some(_), Some(_)) => Err(invalid("only one of password or password_hash may be provided")),
        (None, None) if required => Err(invalid("must provide either password or password_hash")),
        (None, None) => Ok(None),
        (Some(password), None) => bcrypt::hash(password.as_bytes(), BCRYPT_COST)
            .map(Some)
            .map_err(|_| invalid("failed to hash the password")),
        (None, Some(hash)) => {
            let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
                return Err(invalid("password_hash is not a valid bcrypt hash"));
            };
            // OpenBao's bounds on a given hash: not weaker than `htpasswd -B`, not so slow that logins become a DoS.
            match parts.get_cost() {
                cost if cost < MIN_GIVEN_COST => Err(invalid(format!(
                    "bcrypt cost of {cost} is too low, want {MIN_GIVEN_COST} at minimum"
                ))),
                cost if cost > MAX_GIVEN_COST => Err(invalid(format!(
                    "bcrypt cost of {cost} exceeds maximum cost of {MAX_GIVEN_COST}"
                ))),
                _ => Ok(Some(hash)),
            }
        }
    }
}

/// A bcrypt hash checked against when the user does not exist, so an unknown user costs the same time as a wrong
/// password (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| bcrypt::hash("userpass-timing-equalizer", BCRYPT_COST).unwrap_or_default())
}

impl Userpass {
    fn list<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let keys: Vec<String> = ctx
                .storage
                .list(b"user/")?
                .into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .collect();
            crate::framework::keys_response(keys, vec![])
        })
    }

    fn exists<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> ExistenceFuture<'a> {
        Box::pin(async move { Ok(Some(read_user(ctx.storage, m.get("username"))?.is_some())) })
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some(user) = read_user(ctx.storage, m.get("username"))? else {
                return Err(Error::NotFound);
            };
            let mut data = Map::new();
            user.token.populate_data(&mut data);
            if user.ttl > 0 {
                data.insert("ttl".into(), json!(user.ttl));
            }
            if user.max_ttl > 0 {
                data.insert("max_ttl".into(), json!(user.max_ttl));
            }
            if !user.policies.is_empty() {
                data.insert("policies".into(), json!(user.token.token_policies));
            }
            if !user.bound_cidrs.is_empty() {
                data.insert("bound_cidrs".into(), json!(user.token.token_bound_cidrs));
            }
            let mut resp = Response::with_data(data);
            resp.warnings = Fields::new(&req.data, USER_FIELDS).warnings(&["username"]);
            Ok(resp)
        })
    }

    fn write<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let username = m.get("username").to_lowercase();
            let fields = Fields::new(&req.data, USER_FIELDS);
            let mut user = read_user(ctx.storage, &username)?.unwrap_or_default();
            user.token.parse(&fields)?;
            let creating = req.operation == Operation::Create;
            if let Some(hash) = new_password_hash(&fields, creating)? {
                user.password_hash = hash;
            }
            let legacy_cidrs = fields
                .strings("bound_cidrs")
                .map(|c| crate::framework::cidr::parse_addrs(&c).map_err(invalid))
                .transpose()?;
            let new_cidrs = fields
                .has("token_bound_cidrs")
                .then(|| user.token.token_bound_cidrs.clone());
            upgrade_legacy(
                new_cidrs,
                legacy_cidrs,
                &mut user.bound_cidrs,
                &mut user.token.token_bound_cidrs,
            );
            let new_policies = fields.strings("token_policies");
            let old_policies = fields.strings("policies").map(|p| parse_policies(&p));
            upgrade_legacy(
                new_policies,
                old_policies,
                &mut user.policies,
                &mut user.token.token_policies,
            );
            let secs = |name| fields.secs(name).map(|s: i64| s.max(0) as u64);
            upgrade_legacy(secs("token_ttl"), secs("ttl"), &mut user.ttl, &mut user.token.token_ttl);
            upgrade_legacy(
                secs("token_max_ttl"),
                secs("max_ttl"),
                &mut user.max_ttl,
                &mut user.token.token_max_ttl,
            );
            let record = encode_user(&user)?;
            let key = user_key(&username);
            ctx.storage.write(move |tx| tx.put(&key, &record)).await?;
            Ok(Response::no_content())
        })
    }

    fn delete<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let key = user_key(m.get("username"));
            ctx.storage.write(move |tx| tx.delete(&key).map(|_| ())).await?;
            Ok(Response::no_content())
        })
    }

    /// Change one stored user inside a transaction; a user that does not exist is OpenBao's "username does not
    /// exist" (a 500 there, a 400 here: it is the caller's mistake).
    async fn update_user(
        view: &dyn StorageView,
        username: &str,
        change: impl Fn(&mut UserEntry) + Send + 'static,
    ) -> Result<(), Error> {
        let key = user_key(username);
        view.write(move |tx| {
            let Some(bytes) = tx.get(&key)? else {
                return Err(TxFail::Abort(invalid("username does not exist")));
            };
            let mut user: UserEntry = serde_json::from_slice(&bytes)
                .map_err(|e| TxFail::Storage(crate::storage::StorageError::Codec(e.to_string())))?;
            change(&mut user);
            let record = serde_json::to_vec(&user)
                .map_err(|e| TxFail::Storage(crate::storage::StorageError::Codec(e.to_string())))?;
            tx.put(&key, &record)
        })
        .await
    }

    fn set_password<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let fields = Fields::new(&req.data, PASSWORD_FIELDS);
            let hash = new_password_hash(&fields, true)?.unwrap_or_default();
            Self::update_user(ctx.storage, m.get("username"), move |user| {
                user.password_hash = hash.clone()
            })
            .await?;
            Ok(Response::no_content())
        })
    }

    fn set_policies<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let fields = Fields::new(&req.data, POLICIES_FIELDS);
            let new = fields.strings("token_policies");
            let old = fields.strings("policies").map(|p| parse_policies(&p));
            Self::update_user(ctx.storage, m.get("username"), move |user| {
                if let Some(policies) = &new {
                    user.token.token_policies = policies.iter().filter(|p| !p.is_empty()).cloned().collect();
                }
                let mut legacy = std::mem::take(&mut user.policies);
                upgrade_legacy(new.clone(), old.clone(), &mut legacy, &mut user.token.token_policies);
                user.policies = legacy;
            })
            .await?;
            Ok(Response::no_content())
        })
    }

    fn login<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let username = m.get("username").to_lowercase();
            let fields = Fields::new(&req.data, LOGIN_FIELDS);
            let password = fields.str("password").unwrap_or_default();
            if password.is_empty() {
                return Err(invalid("missing password"));
            }
            let user = read_user(ctx.storage, &username)?;
            let hash = user
                .as_ref()
                .map(|u| u.password_hash.as_str())
                .unwrap_or_else(|| dummy_hash());
            // Always one bcrypt verification, user or not.
            let matches = bcrypt::verify(password.as_bytes(), hash).unwrap_or(false);
            let user = match user {
                // Only a known user's failures count towards a lockout (as OpenBao: no records for names that
                // do not exist).
                Some(_) if !matches => return Err(Error::InvalidCredentials("invalid username or password".into())),
                Some(user) => user,
                None => return Err(invalid("invalid username or password")),
            };
            // A user bound to client addresses logs in only from them (OpenBao: after the password check).
            if !crate::framework::cidr::addr_allowed(req.remote_addr, &user.token.token_bound_cidrs) {
                return Err(Error::PermissionDenied);
            }
            let mut auth = Auth {
                display_name: username.clone(),
                ..Auth::default()
            };
            auth.metadata.insert("username".into(), username);
            user.token.populate_auth(&mut auth);
            let mut resp = Response::with_auth(auth, vec![]);
            resp.warnings = fields.warnings(&["username"]);
            Ok(resp)
        })
    }
}

impl Backend for Userpass {
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
            unauthenticated: &["login/*"],
        }
    }

    /// A login is for the (lower-cased) user its path names.
    fn login_alias<'a>(&'a self, ctx: &'a Context<'a>, _req: &'a Request) -> AliasFuture<'a> {
        let alias = ctx
            .path
            .strip_prefix("login/")
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .map(str::to_lowercase);
        Box::pin(async move { Ok(alias) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::Userpass;
    use crate::logical::testing::call;
    use crate::logical::{Error, MemoryView, Operation};

    #[test]
    fn users_log_in_with_their_password_only() {
        let (up, view) = (Userpass, MemoryView::default());
        let write = |path: &str, body: Value| call(&up, &view, "auth/userpass/", Operation::Update, path, body);
        write(
            "users/Alice",
            json!({"password": "pw", "token_policies": "a,b", "token_ttl": "1h"}),
        )
        .unwrap();
        let read = call(&up, &view, "auth/userpass/", Operation::Read, "users/alice", json!({})).unwrap();
        let data = Value::Object(read.data.unwrap_or_default());
        assert_eq!(data["token_policies"], json!(["a", "b"]));
        assert_eq!(data["token_ttl"], 3600);
        assert!(data.get("password").is_none() && !data.to_string().contains("$2"));

        let login = write("login/ALICE", json!({"password": "pw"})).unwrap();
        let auth = login.auth.expect("a login answers with an auth");
        assert_eq!(auth.token_policies, vec!["a", "b"]);
        assert_eq!(auth.metadata.get("username").map(String::as_str), Some("alice"));
        assert_eq!(auth.display_name, "alice");
        assert_eq!(auth.lease_duration, 3600);
        for (user, password) in [("alice", "wrong"), ("nobody", "pw")] {
            match write(&format!("login/{user}"), json!({"password": password})) {
                Err(Error::InvalidRequest(m) | Error::InvalidCredentials(m)) => {
                    assert_eq!(m, "invalid username or password")
                }
                other => panic!("{other:?}"),
            }
        }
        match write("login/alice", json!({})) {
            Err(Error::InvalidRequest(m)) => assert_eq!(m, "missing password"),
            other => panic!("{other:?}"),
        }
        write("users/alice/password", json!({"password": "new"})).unwrap();
        assert!(write("login/alice", json!({"password": "pw"})).is_err());
        assert!(write("login/alice", json!({"password": "new"})).is_ok());
        let keys = call(&up, &view, "auth/userpass/", Operation::List, "users/", json!({})).unwrap();
        assert_eq!(keys.data.unwrap_or_default()["keys"], json!(["alice"]));
    }
}
