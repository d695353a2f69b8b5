//! Roles: `role/:name` (create, update, read, delete), `LIST role`, `role/:name/role-id` and the per-setting
//! sub-endpoints (`policies`, `secret-id-ttl`, `token-ttl`, ...), as OpenBao's `path_role.go`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::{
    go_duration, hmac_hex, invalid, mount_key, random_hex, read_json, read_role, role_id_key, role_key, tx_read_json,
    tx_write_json, AppRole, MAX_HMAC_INPUT, ROLE_FIELDS, SECRET_ID_LOCAL_PREFIX, SECRET_ID_PREFIX,
};
use crate::framework::cidr::validate_list;
use crate::framework::{parse_policies, upgrade_legacy, Captures, Fields, Schema, TokenParams};
use crate::logical::{
    BackendFuture, Context, Error, ExistenceFuture, Operation, Request, Response, StorageView, TxFail, ViewTxn,
};

/// A role's secret key for the HMACs of its secret IDs; wiped when dropped, never shown.
#[derive(Clone, Default, PartialEq)]
pub struct HmacKey(Zeroizing<String>);

impl HmacKey {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

impl Serialize for HmacKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HmacKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(HmacKey(Zeroizing::new(String::deserialize(deserializer)?)))
    }
}

/// A stored role. The legacy `policies` and `period` are kept apart, as OpenBao keeps them, because a read shows them
/// under their old names while they are in use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleEntry {
    #[serde(flatten)]
    pub token: TokenParams,
    /// Lower-cased.
    pub name: String,
    pub role_id: String,
    pub hmac_key: HmacKey,
    #[serde(default)]
    pub policies: Vec<String>,
    /// Seconds.
    #[serde(default)]
    pub period: u64,
    pub secret_id_num_uses: i64,
    /// Seconds.
    pub secret_id_ttl: u64,
    pub bind_secret_id: bool,
    #[serde(default)]
    pub secret_id_bound_cidrs: Vec<String>,
    /// `secret_id/` or `secret_id_local/`.
    pub secret_id_prefix: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RoleIdIndex {
    name: String,
}

impl RoleEntry {
    /// Where this role's secret IDs live: `secret_id/<HMAC of the role name>/`.
    pub fn secret_ids_folder(&self) -> String {
        format!(
            "{}{}/",
            self.secret_id_prefix,
            hmac_hex(self.hmac_key.as_bytes(), &self.name)
        )
    }

    pub fn secret_id_hmac(&self, secret_id: &str) -> String {
        hmac_hex(self.hmac_key.as_bytes(), secret_id)
    }

    /// OpenBao's `validateRoleConstraints`.
    fn check_constraints(&self) -> Result<(), Error> {
        if self.bind_secret_id || !self.secret_id_bound_cidrs.is_empty() || !self.token.token_bound_cidrs.is_empty() {
            Ok(())
        } else {
            Err(invalid("at least one constraint should be enabled on the role"))
        }
    }

    fn data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("bind_secret_id".into(), json!(self.bind_secret_id));
        data.insert(
            "local_secret_ids".into(),
            json!(self.secret_id_prefix == SECRET_ID_LOCAL_PREFIX),
        );
        data.insert("secret_id_bound_cidrs".into(), cidrs_value(&self.secret_id_bound_cidrs));
        data.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        data.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        self.token.populate_data(&mut data);
        if self.period != 0 {
            data.insert("period".into(), json!(self.period));
        }
        if !self.policies.is_empty() {
            data.insert("policies".into(), json!(self.policies));
        }
        data
    }
}

/// A CIDR list as OpenBao shows one that was never set: `null`.
fn cidrs_value(cidrs: &[String]) -> Value {
    if cidrs.is_empty() {
        Value::Null
    } else {
        json!(cidrs)
    }
}

fn validate_cidrs(cidrs: &[String]) -> Result<(), Error> {
    validate_list(cidrs)
        .map(|_| ())
        .map_err(|e| invalid(format!("failed to validate CIDR blocks: {e}")))
}

/// Write a role and its role ID index in the transaction (OpenBao's `setRoleEntry`): a role ID another role has is
/// refused; a changed role ID moves the index.
fn store_role(tx: &dyn ViewTxn, mount_key: &[u8], role: &RoleEntry, previous_role_id: &str) -> Result<(), TxFail> {
    role.check_constraints().map_err(TxFail::Abort)?;
    let index_key = role_id_key(mount_key, &role.role_id);
    if let Some(index) = tx_read_json::<RoleIdIndex>(tx, &index_key)? {
        if index.name != role.name {
            return Err(TxFail::Abort(invalid("role_id already in use")));
        }
    }
    if !previous_role_id.is_empty() && previous_role_id != role.role_id {
        tx.delete(&role_id_key(mount_key, previous_role_id))?;
    }
    tx_write_json(tx, &role_key(&role.name), role)?;
    tx_write_json(
        tx,
        &index_key,
        &RoleIdIndex {
            name: role.name.clone(),
        },
    )
}

/// Change an existing role in one transaction; a role that does not exist is OpenBao's "unsupported path".
async fn update_role(
    view: &dyn StorageView,
    name: &str,
    change: impl Fn(&mut RoleEntry) -> Result<(), Error> + Send + 'static,
) -> Result<Response, Error> {
    if read_role(view, name)?.is_none() {
        return Err(Error::UnsupportedPath);
    }
    let key = mount_key(view).await?;
    let name = name.to_lowercase();
    view.write(move |tx| {
        let Some(mut role) = tx_read_json::<RoleEntry>(tx, &role_key(&name))? else {
            return Err(TxFail::Abort(Error::UnsupportedPath));
        };
        let previous = role.role_id.clone();
        change(&mut role).map_err(TxFail::Abort)?;
        store_role(tx, &key, &role, &previous)
    })
    .await?;
    Ok(Response::no_content())
}

fn one(key: &str, value: Value) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert(key.into(), value);
    data
}

fn secs(fields: &Fields, name: &str) -> Option<u64> {
    fields.secs(name).map(|s| s.max(0) as u64)
}

impl AppRole {
    pub(super) fn list_roles<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        _m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let keys: Vec<String> = ctx
                .storage
                .list(b"role/")?
                .into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .collect();
            let fields = Fields::new(&req.data, super::LIST_FIELDS);
            crate::framework::keys_response(super::page(keys, &fields), vec![])
        })
    }

    pub(super) fn role_exists<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        m: Captures<'a>,
    ) -> ExistenceFuture<'a> {
        Box::pin(async move { Ok(Some(read_role(ctx.storage, m.get("role_name"))?.is_some())) })
    }

    pub(super) fn read_role<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some(role) = read_role(ctx.storage, m.get("role_name"))? else {
                return Err(Error::NotFound);
            };
            Ok(Response::with_data(role.data()))
        })
    }

    pub(super) fn write_role<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let given_name = m.get("role_name");
            if given_name.len() > MAX_HMAC_INPUT {
                return Err(invalid(format!(
                    "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
                )));
            }
            let fields = Fields::new(&req.data, ROLE_FIELDS);
            let existing = read_role(ctx.storage, given_name)?;
            let creating = existing.is_none();
            if creating && req.operation != Operation::Create {
                return Err(Error::NotFoundMessage(format!(
                    "role name {given_name:?} doesn't exist"
                )));
            }
            let mut role = existing.unwrap_or_else(|| RoleEntry {
                name: given_name.to_lowercase(),
                hmac_key: HmacKey(random_hex(32)),
                secret_id_prefix: SECRET_ID_PREFIX.into(),
                bind_secret_id: true,
                ..RoleEntry::default()
            });
            let previous_role_id = role.role_id.clone();
            role.token.parse(&fields)?;
            if let Some(local) = fields.bool("local_secret_ids") {
                if !creating {
                    return Err(invalid("local_secret_ids can only be modified during role creation"));
                }
                if local {
                    role.secret_id_prefix = SECRET_ID_LOCAL_PREFIX.into();
                }
            }
            match fields.str("role_id") {
                Some(role_id) => role.role_id = role_id,
                None if creating => role.role_id = uuid::Uuid::new_v4().to_string(),
                None => {}
            }
            if role.role_id.is_empty() {
                return Err(invalid("invalid role_id supplied, or failed to generate a role_id"));
            }
            if role.role_id.len() > MAX_HMAC_INPUT {
                return Err(invalid(format!(
                    "role_id is longer than maximum of {MAX_HMAC_INPUT} bytes"
                )));
            }
            if let Some(bind) = fields.bool("bind_secret_id") {
                role.bind_secret_id = bind;
            }
            if let Some(cidrs) = fields
                .strings("secret_id_bound_cidrs")
                .or_else(|| fields.strings("bound_cidr_list"))
            {
                role.secret_id_bound_cidrs = cidrs;
            }
            validate_cidrs(&role.secret_id_bound_cidrs)?;
            if let Some(uses) = fields.int("secret_id_num_uses") {
                role.secret_id_num_uses = uses;
            }
            if role.secret_id_num_uses < 0 {
                return Err(invalid("secret_id_num_uses cannot be negative"));
            }
            if let Some(ttl) = secs(&fields, "secret_id_ttl") {
                role.secret_id_ttl = ttl;
            }
            // As OpenBao's tokenutil: `token_policies` is kept as given; only the legacy `policies` is normalized.
            let new_policies = fields.strings("token_policies");
            let old_policies = fields.strings("policies").map(|p| parse_policies(&p));
            upgrade_legacy(
                new_policies,
                old_policies,
                &mut role.policies,
                &mut role.token.token_policies,
            );
            upgrade_legacy(
                secs(&fields, "token_period"),
                secs(&fields, "period"),
                &mut role.period,
                &mut role.token.token_period,
            );
            let max_lease = ctx.system.max_lease_ttl().as_secs();
            if role.period > max_lease {
                return Err(invalid(format!(
                    "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
                    go_duration(role.period),
                    go_duration(max_lease)
                )));
            }
            let mut warnings = Vec::new();
            if role.token.token_max_ttl > max_lease {
                warnings.push(
                    "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
                        .to_string(),
                );
            }
            role.check_constraints()?;

            let key = mount_key(ctx.storage).await?;
            ctx.storage
                .write(move |tx| {
                    let mut role = role.clone();
                    let mut previous = previous_role_id.clone();
                    // A role created by a concurrent request keeps its key (its secret IDs stay valid).
                    if let Some(stored) = tx_read_json::<RoleEntry>(tx, &role_key(&role.name))? {
                        role.hmac_key = stored.hmac_key.clone();
                        role.secret_id_prefix = stored.secret_id_prefix.clone();
                        previous = stored.role_id.clone();
                    }
                    store_role(tx, &key, &role, &previous)
                })
                .await?;
            if warnings.is_empty() {
                Ok(Response::no_content())
            } else {
                Ok(Response {
                    warnings,
                    ..Response::default()
                })
            }
        })
    }

    pub(super) fn delete_role<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let view = ctx.storage;
            let Some(role) = read_role(view, m.get("role_name"))? else {
                return Ok(Response::no_content());
            };
            // The secret IDs first, in bounded batches, then the role and its index: a role whose deletion stopped
            // half way still exists and can be deleted again.
            let folder = role.secret_ids_folder();
            let entry_keys = view.keys(folder.as_bytes())?;
            for batch in entry_keys.chunks(super::secret_id::DELETE_BATCH) {
                let batch = batch.to_vec();
                let mount_key = super::read_mount_key(view)?.unwrap_or_default();
                let prefix = role.secret_id_prefix.clone();
                view.write(move |tx| {
                    for key in &batch {
                        super::secret_id::delete_in_tx(tx, &mount_key, &prefix, key)?;
                    }
                    Ok(())
                })
                .await?;
            }
            let mount_key = super::read_mount_key(view)?.unwrap_or_default();
            let name = role.name.clone();
            view.write(move |tx| {
                if let Some(stored) = tx_read_json::<RoleEntry>(tx, &role_key(&name))? {
                    tx.delete(&role_id_key(&mount_key, &stored.role_id))?;
                }
                tx.delete(&role_key(&name))?;
                Ok(())
            })
            .await?;
            Ok(Response::no_content())
        })
    }
}

/// A change to a role that an update checked and will store.
type Change = Box<dyn Fn(&mut RoleEntry) + Send>;

/// Checks an update of a setting against the request and the stored role; the change to store, if any.
type CheckUpdate = fn(&Fields, &RoleEntry, &Context) -> Result<Option<Change>, Error>;

/// A role's setting sub-endpoint (`role/:name/token-ttl`, ...) as data; [`AppRole::read_setting`],
/// [`AppRole::update_setting`] and [`AppRole::delete_setting`] serve them all.
pub(super) struct Setting {
    pub pattern: &'static str,
    /// The operation ids' suffix in the OpenAPI document (the last segment of the pattern).
    pub suffix: &'static str,
    pub fields: Schema,
    pub help: &'static str,
    /// What a read shows.
    show: fn(&RoleEntry) -> Map<String, Value>,
    /// A warning every read carries.
    warning: Option<&'static str>,
    /// `None` for a setting that cannot be updated.
    update: Option<CheckUpdate>,
    /// What a delete resets; `None` for a setting that is never stored, so a delete has nothing to do.
    reset: Option<fn(&mut RoleEntry)>,
}

// Indexes into SETTINGS, for the path table.
pub(super) const ROLE_ID: usize = 0;
pub(super) const LOCAL_SECRET_IDS: usize = 1;
pub(super) const POLICIES: usize = 2;
pub(super) const SECRET_ID_BOUND_CIDRS: usize = 3;
pub(super) const BOUND_CIDR_LIST: usize = 4;
pub(super) const TOKEN_BOUND_CIDRS: usize = 5;
pub(super) const SECRET_ID_NUM_USES: usize = 6;
pub(super) const SECRET_ID_TTL: usize = 7;
pub(super) const PERIOD: usize = 8;
pub(super) const TOKEN_NUM_USES: usize = 9;
pub(super) const TOKEN_TTL: usize = 10;
pub(super) const TOKEN_MAX_TTL: usize = 11;

pub(super) const SETTINGS: [Setting; 12] = [
    Setting {
        pattern: "role/{role_name}/role-id",
        suffix: "role-id",
        fields: super::ROLE_ID_FIELDS,
        help: "Returns the 'role_id' of the role.",
        show: |r| one("role_id", json!(r.role_id)),
        warning: None,
        update: Some(|fields, _, _| {
            let role_id = fields.str("role_id").unwrap_or_default();
            if role_id.is_empty() {
                return Err(invalid("missing role_id"));
            }
            if role_id.len() > MAX_HMAC_INPUT {
                return Err(invalid(format!(
                    "role_id is longer than maximum of {MAX_HMAC_INPUT} bytes"
                )));
            }
            Ok(Some(Box::new(move |role| role.role_id = role_id.clone())))
        }),
        reset: None,
    },
    Setting {
        pattern: "role/{role_name}/local-secret-ids",
        suffix: "local-secret-ids",
        fields: super::NAME_FIELDS,
        help: "Enables cluster local secret IDs",
        show: |r| one("local_secret_ids", json!(r.secret_id_prefix == SECRET_ID_LOCAL_PREFIX)),
        warning: None,
        update: None,
        reset: None,
    },
    Setting {
        pattern: "role/{role_name}/policies",
        suffix: "policies",
        fields: super::POLICIES_FIELDS,
        help: "Policies of the role.",
        show: |r| {
            let mut data = one("token_policies", json!(r.token.token_policies));
            if !r.policies.is_empty() {
                data.insert("policies".into(), json!(r.policies));
            }
            data
        },
        warning: None,
        update: Some(|fields, _, _| {
            let new = fields.strings("token_policies").map(|p| parse_policies(&p));
            let old = fields.strings("policies").map(|p| parse_policies(&p));
            let change: Change = match (new, old) {
                (Some(new), given_old) => {
                    let legacy = given_old.is_some();
                    Box::new(move |role| {
                        role.token.token_policies = new.clone();
                        role.policies = if legacy { new.clone() } else { Vec::new() };
                    })
                }
                (None, Some(old)) => Box::new(move |role| {
                    role.policies = old.clone();
                    role.token.token_policies = old.clone();
                }),
                (None, None) => return Err(invalid("missing token_policies")),
            };
            Ok(Some(change))
        }),
        reset: Some(|role| {
            role.token.token_policies.clear();
            role.policies.clear();
        }),
    },
    Setting {
        pattern: "role/{role_name}/secret-id-bound-cidrs",
        suffix: "secret-id-bound-cidrs",
        fields: super::CIDR_FIELDS,
        help: "Comma separated list of CIDR blocks, if set, specifies blocks of IP addresses which can perform the login operation",
        show: |r| one("secret_id_bound_cidrs", cidrs_value(&r.secret_id_bound_cidrs)),
        warning: None,
        update: Some(update_bound_cidrs),
        reset: Some(|role| role.secret_id_bound_cidrs.clear()),
    },
    // The deprecated name of `secret_id_bound_cidrs`; its legacy value is always upgraded, so it reads as `null`.
    Setting {
        pattern: "role/{role_name}/bound-cidr-list",
        suffix: "bound-cidr-list",
        fields: super::CIDR_FIELDS,
        help: "Deprecated: Comma separated list of CIDR blocks, if set, specifies blocks of IP addresses which can perform the login operation",
        show: |_| one("bound_cidr_list", Value::Null),
        warning: Some(
            "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.",
        ),
        update: Some(update_bound_cidrs),
        reset: Some(|role| role.secret_id_bound_cidrs.clear()),
    },
    Setting {
        pattern: "role/{role_name}/token-bound-cidrs",
        suffix: "token-bound-cidrs",
        fields: super::CIDR_FIELDS,
        help: "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can use the returned token.",
        show: |role| one("token_bound_cidrs", json!(role.token.token_bound_cidrs)),
        warning: None,
        update: Some(|fields, _, _| update_token_bound_cidrs(fields)),
        reset: Some(|role| role.token.token_bound_cidrs.clear()),
    },
    Setting {
        pattern: "role/{role_name}/secret-id-num-uses",
        suffix: "secret-id-num-uses",
        fields: super::SECRET_ID_NUM_USES_FIELDS,
        help: "Use limit of the SecretID generated against the role.",
        show: |r| one("secret_id_num_uses", json!(r.secret_id_num_uses)),
        warning: None,
        update: Some(|fields, _, _| {
            let uses = required_count(fields, "secret_id_num_uses", "secret_id_num_uses cannot be negative")?;
            Ok(Some(Box::new(move |role| role.secret_id_num_uses = uses)))
        }),
        reset: Some(|role| role.secret_id_num_uses = 0),
    },
    Setting {
        pattern: "role/{role_name}/secret-id-ttl",
        suffix: "secret-id-ttl",
        fields: super::SECRET_ID_TTL_FIELDS,
        help: "Duration in seconds of the SecretID generated against the role.",
        show: |r| one("secret_id_ttl", json!(r.secret_id_ttl)),
        warning: None,
        update: Some(|fields, _, _| {
            let ttl = required_secs(fields, "secret_id_ttl")?;
            Ok(Some(Box::new(move |role| role.secret_id_ttl = ttl)))
        }),
        reset: Some(|role| role.secret_id_ttl = 0),
    },
    Setting {
        pattern: "role/{role_name}/period",
        suffix: "period",
        fields: super::PERIOD_FIELDS,
        help: "Updates the value of 'period' on the role",
        show: |r| {
            let mut data = one("token_period", json!(r.token.token_period));
            if r.period > 0 {
                data.insert("period".into(), json!(r.period));
            }
            data
        },
        warning: None,
        update: Some(|fields, _, ctx| {
            let (new, old) = (secs(fields, "token_period"), secs(fields, "period"));
            let Some(period) = new.or(old) else {
                return Err(invalid("missing period"));
            };
            let max_lease = ctx.system.max_lease_ttl().as_secs();
            if period > max_lease {
                return Err(invalid(format!(
                    "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
                    go_duration(period),
                    go_duration(max_lease)
                )));
            }
            let legacy = old.is_some();
            Ok(Some(Box::new(move |role| {
                role.token.token_period = period;
                role.period = if legacy { period } else { 0 };
            })))
        }),
        reset: Some(|role| {
            role.token.token_period = 0;
            role.period = 0;
        }),
    },
    Setting {
        pattern: "role/{role_name}/token-num-uses",
        suffix: "token-num-uses",
        fields: super::TOKEN_NUM_USES_FIELDS,
        help: "Number of times issued tokens can be used",
        show: |r| one("token_num_uses", json!(r.token.token_num_uses)),
        warning: None,
        update: Some(|fields, _, _| {
            let uses = required_count(fields, "token_num_uses", "'token_num_uses' cannot be negative")?;
            Ok(Some(Box::new(move |role| role.token.token_num_uses = uses)))
        }),
        reset: Some(|role| role.token.token_num_uses = 0),
    },
    Setting {
        pattern: "role/{role_name}/token-ttl",
        suffix: "token-ttl",
        fields: super::TOKEN_TTL_FIELDS,
        help: "Duration in seconds, the lifetime of the token issued by using the SecretID that is generated against this role, before which the token needs to be renewed.",
        show: |r| one("token_ttl", json!(r.token.token_ttl)),
        warning: None,
        update: Some(|fields, role, _| {
            let ttl = required_secs(fields, "token_ttl")?;
            if role.token.token_max_ttl > 0 && ttl > role.token.token_max_ttl {
                return Err(invalid("token_ttl should not be greater than token_max_ttl"));
            }
            Ok(Some(Box::new(move |role| role.token.token_ttl = ttl)))
        }),
        reset: Some(|role| role.token.token_ttl = 0),
    },
    Setting {
        pattern: "role/{role_name}/token-max-ttl",
        suffix: "token-max-ttl",
        fields: super::TOKEN_MAX_TTL_FIELDS,
        help: "Duration in seconds, the maximum lifetime of the tokens issued by using the SecretIDs that were generated against this role, after which the tokens are not allowed to be renewed.",
        show: |r| one("token_max_ttl", json!(r.token.token_max_ttl)),
        warning: None,
        update: Some(|fields, role, _| {
            let max = required_secs(fields, "token_max_ttl")?;
            if role.token.token_ttl > 0 && max > 0 && role.token.token_ttl > max {
                return Err(invalid("token_max_ttl should be greater than or equal to token_ttl"));
            }
            Ok(Some(Box::new(move |role| role.token.token_max_ttl = max)))
        }),
        reset: Some(|role| role.token.token_max_ttl = 0),
    },
];

/// A count an update must give, which cannot be negative.
fn required_count(fields: &Fields, name: &str, negative: &str) -> Result<i64, Error> {
    match fields.int(name) {
        None => Err(invalid(format!("missing {name}"))),
        Some(count) if count < 0 => Err(invalid(negative)),
        Some(count) => Ok(count),
    }
}

/// A duration an update must give, in seconds.
fn required_secs(fields: &Fields, name: &str) -> Result<u64, Error> {
    secs(fields, name).ok_or_else(|| invalid(format!("missing {name}")))
}

/// `secret-id-bound-cidrs` and its deprecated name `bound-cidr-list` take either field.
fn update_bound_cidrs(fields: &Fields, _role: &RoleEntry, _ctx: &Context) -> Result<Option<Change>, Error> {
    let cidrs = fields
        .strings("secret_id_bound_cidrs")
        .or_else(|| fields.strings("bound_cidr_list"));
    let Some(cidrs) = cidrs else {
        return update_token_bound_cidrs(fields);
    };
    if cidrs.is_empty() {
        return Err(invalid("missing bound_cidr_list"));
    }
    validate_cidrs(&cidrs)?;
    Ok(Some(Box::new(move |role| role.secret_id_bound_cidrs = cidrs.clone())))
}

impl AppRole {
    pub(super) fn read_setting<'a, const S: usize>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let setting = &SETTINGS[S];
            let Some(role) = read_role(ctx.storage, m.get("role_name"))? else {
                return Err(Error::NotFound);
            };
            let mut resp = Response::with_data((setting.show)(&role));
            resp.warnings.extend(setting.warning.map(String::from));
            Ok(resp)
        })
    }

    pub(super) fn update_setting<'a, const S: usize>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let setting = &SETTINGS[S];
            let Some(update) = setting.update else {
                return Err(Error::UnsupportedOperation);
            };
            let name = m.get("role_name");
            let Some(role) = read_role(ctx.storage, name)? else {
                return Err(Error::UnsupportedPath);
            };
            let fields = Fields::new(&req.data, setting.fields);
            match update(&fields, &role, ctx)? {
                Some(change) => {
                    update_role(ctx.storage, name, move |role| {
                        change(role);
                        Ok(())
                    })
                    .await
                }
                None => Ok(Response::no_content()),
            }
        })
    }

    /// Reset a setting of a role; nothing to do for a role that does not exist.
    pub(super) fn delete_setting<'a, const S: usize>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some(reset) = SETTINGS[S].reset else {
                return Ok(Response::no_content());
            };
            let name = m.get("role_name");
            if read_role(ctx.storage, name)?.is_none() {
                return Ok(Response::no_content());
            }
            update_role(ctx.storage, name, move |role| {
                reset(role);
                Ok(())
            })
            .await
        })
    }
}
/// `token_bound_cidrs` given to a role's CIDR endpoints (OpenBao's `pathRoleBoundCIDRUpdateCommon`): addresses or
/// blocks the role's tokens may be used from.
fn update_token_bound_cidrs(fields: &Fields) -> Result<Option<Change>, Error> {
    let Some(cidrs) = fields.strings("token_bound_cidrs") else {
        return Ok(None);
    };
    let parsed = crate::framework::cidr::parse_addrs(&cidrs)
        .map_err(|e| invalid(format!("failed to parse token_bound_cidrs: {e}")))?;
    Ok(Some(Box::new(move |role| {
        role.token.token_bound_cidrs = parsed.clone()
    })))
}

/// The name of the role with this role ID, if any (the index `role_id/<HMAC>`).
pub(super) fn read_role_index(
    view: &dyn StorageView,
    mount_key: &[u8],
    role_id: &str,
) -> Result<Option<String>, Error> {
    Ok(read_json::<RoleIdIndex>(view, &role_id_key(mount_key, role_id))?.map(|i| i.name))
}
