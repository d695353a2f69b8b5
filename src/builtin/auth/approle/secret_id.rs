//! Secret IDs: generate (`role/:name/secret-id`) or assign (`custom-secret-id`), look up and destroy by value or by
//! accessor, list a role's accessors, and tidy (expired ones, and records missing their other half), as OpenBao's
//! `path_role.go`, `validation.go` and `path_tidy_user_id.go`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::role::RoleEntry;
use super::{
    accessor_key, invalid, mount_key, read_json, read_mount_key, read_role, tx_read_json, tx_write_json, AppRole,
    MAX_HMAC_INPUT, SECRET_ID_LOCAL_PREFIX, SECRET_ID_PREFIX,
};
use crate::framework::cidr::{validate_list, verify_subset};
use crate::framework::{now_ns, rfc3339_nano, Captures, Fields};
use crate::logical::{BackendFuture, Context, Error, Request, Response, StorageView, TxFail, ViewTxn};

/// Records deleted per transaction by a role's deletion and by the tidy.
pub(super) const DELETE_BATCH: usize = 256;

/// A secret ID's properties (never the secret ID itself: it is stored under its HMAC).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SecretIdEntry {
    /// The HMAC the record is stored under, compared again in constant time when the record is used.
    pub secret_id_hmac: String,
    pub secret_id_accessor: String,
    /// 0: unlimited.
    pub secret_id_num_uses: i64,
    /// Seconds, as asked (the expiration is capped by the mount's maximum TTL).
    pub secret_id_ttl: u64,
    /// Unix nanoseconds.
    pub creation_time: i64,
    /// Unix nanoseconds; 0: never.
    pub expiration_time: i64,
    pub last_updated_time: i64,
    pub metadata: BTreeMap<String, String>,
    pub cidr_list: Vec<String>,
    pub token_bound_cidrs: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AccessorEntry {
    pub secret_id_hmac: String,
}

impl SecretIdEntry {
    pub fn expired(&self, now: i64) -> bool {
        self.expiration_time != 0 && now > self.expiration_time
    }

    fn data(&self) -> Map<String, Value> {
        let time = |ns: i64| {
            if ns == 0 {
                // Go's zero time.
                "0001-01-01T00:00:00Z".to_string()
            } else {
                rfc3339_nano(ns)
            }
        };
        let mut data = Map::new();
        data.insert("secret_id_accessor".into(), json!(self.secret_id_accessor));
        data.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        data.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        data.insert("creation_time".into(), json!(time(self.creation_time)));
        data.insert("expiration_time".into(), json!(time(self.expiration_time)));
        data.insert("last_updated_time".into(), json!(time(self.last_updated_time)));
        data.insert("metadata".into(), json!(self.metadata));
        data.insert("cidr_list".into(), json!(self.cidr_list));
        data.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        data
    }
}

/// The stored HMAC matches the one asked for (constant time).
pub(super) fn same_hmac(stored: &str, asked: &str) -> bool {
    stored.as_bytes().ct_eq(asked.as_bytes()).into()
}

/// OpenBao's `strutil.ParseArbitraryKeyValues` with `,`: JSON object of strings (optionally base64-encoded), or
/// `k=v,k2=v2`.
pub(super) fn parse_metadata(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut input = input.trim().to_string();
    if input.is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&input) {
        if let Ok(text) = String::from_utf8(decoded) {
            input = text;
        }
    }
    let out = match serde_json::from_str::<BTreeMap<String, String>>(&input) {
        Ok(map) => map,
        Err(_) => {
            let pairs: BTreeSet<&str> = input.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            let mut out = BTreeMap::new();
            for pair in pairs {
                let shards: Vec<&str> = pair.split('=').collect();
                let (key, value) = match shards.as_slice() {
                    [k, v] => (k.trim(), v.trim()),
                    _ => return Err("failed to parse the input: invalid <key,value> format".into()),
                };
                if key.is_empty() || value.is_empty() {
                    return Err("failed to parse the input: invalid <key,value> format".into());
                }
                out.insert(key.to_string(), value.to_string());
            }
            out
        }
    };
    if let Some((key, _)) = out.iter().find(|(k, v)| !k.is_empty() && v.is_empty()) {
        return Err(format!("invalid value for key {key:?}"));
    }
    Ok(out)
}

/// Delete a secret ID record (by its full key) and its accessor in the transaction.
pub(super) fn delete_in_tx(tx: &dyn ViewTxn, mount_key: &[u8], prefix: &str, entry_key: &[u8]) -> Result<(), TxFail> {
    if let Some(entry) = tx_read_json::<SecretIdEntry>(tx, entry_key)? {
        tx.delete(&accessor_key(mount_key, prefix, &entry.secret_id_accessor))?;
    }
    tx.delete(entry_key)?;
    Ok(())
}

fn role_missing(name: &str) -> Error {
    invalid(format!("role {name:?} does not exist"))
}

/// A required string field of a secret ID request and the role the request names, in OpenBao's order of checks.
fn required_and_role(
    view: &dyn StorageView,
    req: &Request,
    schema: crate::framework::Schema,
    field: &str,
    m: &Captures,
) -> Result<(String, RoleEntry), Error> {
    let value = Fields::new(&req.data, schema).str(field).unwrap_or_default();
    if value.is_empty() {
        return Err(invalid(format!("missing {field}")));
    }
    let name = m.get("role_name");
    let Some(role) = read_role(view, name)? else {
        return Err(role_missing(name));
    };
    Ok((value, role))
}

/// The role and the HMAC of the secret ID a by-value request names; `None` for a secret ID too long to have been
/// issued.
fn named_secret_id(view: &dyn StorageView, req: &Request, m: &Captures) -> Result<Option<(RoleEntry, String)>, Error> {
    let (secret_id, role) = required_and_role(view, req, super::SECRET_ID_VALUE_FIELDS, "secret_id", m)?;
    if secret_id.len() > MAX_HMAC_INPUT {
        return Ok(None);
    }
    let hmac = role.secret_id_hmac(&secret_id);
    Ok(Some((role, hmac)))
}

/// The role, the accessor and the HMAC of the secret ID it names (if it names one) of a by-accessor request.
fn named_accessor(
    view: &dyn StorageView,
    req: &Request,
    m: &Captures,
) -> Result<(RoleEntry, String, Option<String>), Error> {
    let (accessor, role) = required_and_role(view, req, super::ACCESSOR_FIELDS, "secret_id_accessor", m)?;
    let target = accessor_target(view, &role, &accessor)?;
    Ok((role, accessor, target))
}

fn accessor_not_found(accessor: &str) -> String {
    format!("failed to find accessor entry for secret_id_accessor: {accessor:?}")
}

/// Delete a secret ID record of `role` and its accessor.
async fn destroy(view: &dyn StorageView, role: &RoleEntry, key: Vec<u8>) -> Result<Response, Error> {
    let mount_key = read_mount_key(view)?.unwrap_or_default();
    let prefix = role.secret_id_prefix.clone();
    view.write(move |tx| delete_in_tx(tx, &mount_key, &prefix, &key))
        .await?;
    Ok(Response::no_content())
}

fn entry_key(role: &RoleEntry, secret_id_hmac: &str) -> Vec<u8> {
    format!("{}{secret_id_hmac}", role.secret_ids_folder()).into_bytes()
}

/// The secret ID an accessor names, if the accessor exists.
fn accessor_target(view: &dyn StorageView, role: &RoleEntry, accessor: &str) -> Result<Option<String>, Error> {
    let Some(mount_key) = read_mount_key(view)? else {
        return Ok(None);
    };
    let key = accessor_key(&mount_key, &role.secret_id_prefix, accessor);
    Ok(read_json::<AccessorEntry>(view, &key)?.map(|a| a.secret_id_hmac))
}

impl AppRole {
    pub(super) fn generate_secret_id<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let secret_id = uuid::Uuid::new_v4().to_string();
            let fields = Fields::new(&req.data, super::SECRET_ID_FIELDS);
            self.issue_secret_id(ctx, &fields, m.get("role_name"), secret_id).await
        })
    }

    pub(super) fn custom_secret_id<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let fields = Fields::new(&req.data, super::CUSTOM_SECRET_ID_FIELDS);
            let secret_id = fields.str("secret_id").unwrap_or_default();
            self.issue_secret_id(ctx, &fields, m.get("role_name"), secret_id).await
        })
    }

    /// OpenBao's `handleRoleSecretIDCommon` and `registerSecretIDEntry`.
    async fn issue_secret_id(
        &self,
        ctx: &Context<'_>,
        fields: &Fields<'_>,
        name: &str,
        secret_id: String,
    ) -> Result<Response, Error> {
        if secret_id.is_empty() {
            return Err(invalid("missing secret_id"));
        }
        let Some(role) = read_role(ctx.storage, name)? else {
            return Err(Error::NotFoundMessage(format!("role {name:?} does not exist")));
        };
        if !role.bind_secret_id {
            return Err(invalid("bind_secret_id is not set on the role"));
        }
        if secret_id.len() > MAX_HMAC_INPUT {
            return Err(invalid(format!(
                "failed to store secret_id: failed to create HMAC of secret ID: value is longer than maximum of {MAX_HMAC_INPUT} bytes"
            )));
        }
        let cidr_list = fields.strings("cidr_list").unwrap_or_default();
        validate_list(&cidr_list).map_err(|e| invalid(format!("failed to validate CIDR blocks: {e}")))?;
        verify_subset(&cidr_list, &role.secret_id_bound_cidrs).map_err(invalid)?;
        // The tokens of logins with this secret ID may be bound more tightly than the role's (OpenBao: blocks only,
        // each inside one of the role's token blocks).
        let token_bound_cidrs: Vec<String> = fields
            .strings("token_bound_cidrs")
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        validate_list(&token_bound_cidrs).map_err(|e| invalid(format!("failed to validate token CIDR blocks: {e}")))?;
        verify_subset(&token_bound_cidrs, &role.token.token_bound_cidrs).map_err(invalid)?;
        let num_uses = match fields.int("num_uses") {
            Some(n) if n < 0 => return Err(invalid("num_uses cannot be negative")),
            Some(n) if role.secret_id_num_uses > 0 && (n == 0 || n > role.secret_id_num_uses) => {
                return Err(invalid("num_uses cannot be higher than the role's secret_id_num_uses"))
            }
            Some(n) => n,
            None => role.secret_id_num_uses,
        };
        let ttl = match fields.secs("ttl") {
            Some(t) if role.secret_id_ttl > 0 && (t == 0 || t as u64 > role.secret_id_ttl) => {
                return Err(invalid("ttl cannot be longer than the role's secret_id_ttl"))
            }
            Some(t) => t.max(0) as u64,
            None => role.secret_id_ttl,
        };
        let metadata = parse_metadata(&fields.str("metadata").unwrap_or_default())
            .map_err(|e| invalid(format!("failed to parse metadata: {e}")))?;
        // OpenBao's `deriveSecretIDTTL`: no longer than the mount's maximum.
        let max_lease = ctx.system.max_lease_ttl().as_secs();
        let effective_ttl = if ttl > max_lease { max_lease } else { ttl };
        let now = now_ns();
        let secret_id_hmac = role.secret_id_hmac(&secret_id);
        let entry = SecretIdEntry {
            secret_id_hmac: secret_id_hmac.clone(),
            secret_id_accessor: uuid::Uuid::new_v4().to_string(),
            secret_id_num_uses: num_uses,
            secret_id_ttl: ttl,
            creation_time: now,
            expiration_time: if effective_ttl == 0 {
                0
            } else {
                now.saturating_add((effective_ttl as i64).saturating_mul(1_000_000_000))
            },
            last_updated_time: now,
            metadata,
            cidr_list,
            token_bound_cidrs,
        };
        let key = mount_key(ctx.storage).await?;
        let record_key = entry_key(&role, &secret_id_hmac);
        let index_key = accessor_key(&key, &role.secret_id_prefix, &entry.secret_id_accessor);
        let stored = entry.clone();
        let role_key = super::role_key(&role.name);
        let role_hmac_key = role.hmac_key.clone();
        let role_name = name.to_string();
        ctx.storage
            .write(move |tx| {
                // The role may have been deleted (or replaced) since it was read: its secret IDs would be orphans.
                match tx_read_json::<RoleEntry>(tx, &role_key)? {
                    Some(current) if current.hmac_key == role_hmac_key => {}
                    _ => {
                        return Err(TxFail::Abort(Error::NotFoundMessage(format!(
                            "role {role_name:?} does not exist"
                        ))))
                    }
                }
                if tx.get(&record_key)?.is_some() {
                    return Err(TxFail::Abort(invalid(
                        "failed to store secret_id: SecretID is already registered",
                    )));
                }
                tx_write_json(
                    tx,
                    &index_key,
                    &AccessorEntry {
                        secret_id_hmac: stored.secret_id_hmac.clone(),
                    },
                )?;
                tx_write_json(tx, &record_key, &stored)
            })
            .await?;
        let mut data = Map::new();
        data.insert("secret_id".into(), json!(secret_id));
        data.insert("secret_id_accessor".into(), json!(entry.secret_id_accessor));
        data.insert("secret_id_num_uses".into(), json!(entry.secret_id_num_uses));
        data.insert("secret_id_ttl".into(), json!(effective_ttl));
        Ok(Response {
            wrapped_accessor: Some(entry.secret_id_accessor),
            ..Response::with_data(data)
        })
    }

    pub(super) fn list_secret_ids<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let name = m.get("role_name");
            let Some(role) = read_role(ctx.storage, name)? else {
                return Err(role_missing(name));
            };
            let folder = role.secret_ids_folder();
            // Pages go by the secret IDs' HMACs, the names they are stored under, as in OpenBao.
            let hmacs: Vec<String> = ctx
                .storage
                .list(folder.as_bytes())?
                .into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .collect();
            let fields = Fields::new(&req.data, super::SECRET_ID_FIELDS);
            let mut accessors = Vec::new();
            for hmac in super::page(hmacs, &fields) {
                let key = format!("{folder}{hmac}");
                if let Some(entry) = read_json::<SecretIdEntry>(ctx.storage, key.as_bytes())? {
                    accessors.push(entry.secret_id_accessor);
                }
            }
            crate::framework::keys_response(accessors, vec![])
        })
    }

    pub(super) fn lookup_secret_id<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some((role, asked)) = named_secret_id(ctx.storage, req, &m)? else {
                return Ok(Response::no_content());
            };
            let key = entry_key(&role, &asked);
            let Some(entry) = read_json::<SecretIdEntry>(ctx.storage, &key)? else {
                return Ok(Response::no_content());
            };
            if !same_hmac(&entry.secret_id_hmac, &asked) {
                return Ok(Response::no_content());
            }
            if accessor_target(ctx.storage, &role, &entry.secret_id_accessor)?.is_none() {
                // A secret ID without its accessor is revoked on sight, as OpenBao does.
                ctx.storage.write(move |tx| tx.delete(&key).map(|_| ())).await?;
                return Err(invalid("invalid secret id"));
            }
            Ok(Response::with_data(entry.data()))
        })
    }

    pub(super) fn destroy_secret_id<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let Some((role, asked)) = named_secret_id(ctx.storage, req, &m)? else {
                return Ok(Response::no_content());
            };
            destroy(ctx.storage, &role, entry_key(&role, &asked)).await
        })
    }

    pub(super) fn lookup_accessor<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let (role, accessor, target) = named_accessor(ctx.storage, req, &m)?;
            let Some(secret_id_hmac) = target else {
                // OpenBao answers this one with a 404 whose body is data, not errors.
                let mut data = Map::new();
                data.insert("error".into(), json!(accessor_not_found(&accessor)));
                return Ok(Response {
                    status: Some(404),
                    ..Response::with_data(data)
                });
            };
            match read_json::<SecretIdEntry>(ctx.storage, &entry_key(&role, &secret_id_hmac))? {
                Some(entry) => Ok(Response::with_data(entry.data())),
                None => Ok(Response::no_content()),
            }
        })
    }

    pub(super) fn destroy_accessor<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        req: &'a Request,
        m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            let (role, accessor, target) = named_accessor(ctx.storage, req, &m)?;
            let Some(secret_id_hmac) = target else {
                return Err(invalid(accessor_not_found(&accessor)));
            };
            let key = entry_key(&role, &secret_id_hmac);
            if ctx.storage.get(&key)?.is_none() {
                return Err(Error::Forbidden("invalid secret id accessor".into()));
            }
            destroy(ctx.storage, &role, key).await
        })
    }

    pub(super) fn tidy_endpoint<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        _req: &'a Request,
        _m: Captures<'a>,
    ) -> BackendFuture<'a> {
        Box::pin(async move {
            if self.tidy_running.load(Ordering::Acquire) {
                return Ok(Response::warning("Tidy operation already in progress.".into()));
            }
            self.tidy(ctx.storage).await?;
            Ok(Response {
                warnings: vec![
                    "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
                        .into(),
                ],
                status: Some(202),
                ..Response::default()
            })
        })
    }

    /// Delete expired secret IDs, secret IDs whose accessor is gone and accessors whose secret ID is gone; returns
    /// how many records were deleted. One tidy at a time.
    pub(super) async fn tidy(&self, view: &dyn StorageView) -> Result<usize, Error> {
        if self
            .tidy_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Ok(0);
        }
        struct Reset<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _reset = Reset(&self.tidy_running);
        let Some(mount_key) = read_mount_key(view)? else {
            return Ok(0);
        };
        let mut deleted = 0;
        for prefix in [SECRET_ID_PREFIX, SECRET_ID_LOCAL_PREFIX] {
            deleted += tidy_prefix(view, &mount_key, prefix).await?;
        }
        if deleted > 0 {
            log::info!("approle tidy: deleted {deleted} records");
        }
        Ok(deleted)
    }
}

async fn tidy_prefix(view: &dyn StorageView, mount_key: &[u8], prefix: &'static str) -> Result<usize, Error> {
    let now = now_ns();
    let mut live_hmacs = BTreeSet::new();
    let mut doomed: Vec<Vec<u8>> = Vec::new();
    for key in view.keys(prefix.as_bytes())? {
        let Some(entry) = read_json::<SecretIdEntry>(view, &key)? else {
            continue;
        };
        let accessor = accessor_key(mount_key, prefix, &entry.secret_id_accessor);
        if entry.expired(now) || view.get(&accessor)?.is_none() {
            doomed.push(key);
        } else {
            live_hmacs.insert(entry.secret_id_hmac);
        }
    }
    let mut deleted = 0;
    for batch in doomed.chunks(DELETE_BATCH) {
        let batch = batch.to_vec();
        let key = zeroize::Zeroizing::new(mount_key.to_vec());
        deleted += view
            .write(move |tx| {
                let mut count = 0;
                for entry_key in &batch {
                    // Checked again: a login may have consumed it, or a new one replaced it, meanwhile.
                    let Some(entry) = tx_read_json::<SecretIdEntry>(tx, entry_key)? else {
                        continue;
                    };
                    let accessor = accessor_key(&key, prefix, &entry.secret_id_accessor);
                    if entry.expired(now) || tx.get(&accessor)?.is_none() {
                        delete_in_tx(tx, &key, prefix, entry_key)?;
                        count += 1;
                    }
                }
                Ok(count)
            })
            .await?;
    }
    // Accessors whose secret ID is gone.
    let accessor_prefix = if prefix == SECRET_ID_LOCAL_PREFIX {
        super::ACCESSOR_LOCAL_PREFIX
    } else {
        super::ACCESSOR_PREFIX
    };
    let mut dangling = Vec::new();
    for key in view.keys(accessor_prefix.as_bytes())? {
        if let Some(accessor) = read_json::<AccessorEntry>(view, &key)? {
            if !live_hmacs.contains(&accessor.secret_id_hmac) {
                dangling.push(key);
            }
        }
    }
    for batch in dangling.chunks(DELETE_BATCH) {
        let batch = batch.to_vec();
        deleted += view
            .write(move |tx| {
                let mut count = 0;
                for key in &batch {
                    if tx.delete(key)? {
                        count += 1;
                    }
                }
                Ok(count)
            })
            .await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses_like_openbao() {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(parse_metadata("").unwrap(), map(&[]));
        assert_eq!(parse_metadata(r#"{"a":"b"}"#).unwrap(), map(&[("a", "b")]));
        assert_eq!(parse_metadata("a=b, c=d").unwrap(), map(&[("a", "b"), ("c", "d")]));
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"x":"y"}"#);
        assert_eq!(parse_metadata(&encoded).unwrap(), map(&[("x", "y")]));
        for bad in ["notjson", r#"{"a":1}"#, "a=", "=b", "a=b=c"] {
            assert_eq!(
                parse_metadata(bad).unwrap_err(),
                "failed to parse the input: invalid <key,value> format",
                "{bad}"
            );
        }
        assert_eq!(
            parse_metadata(r#"{"a":""}"#).unwrap_err(),
            "invalid value for key \"a\""
        );
    }
}
