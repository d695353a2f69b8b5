//! `login` with role_id and secret_id (OpenBao's `path_login.go`). A secret ID with a use limit is checked and
//! consumed in one transaction: concurrent logins can never use it more often than allowed. Unlike OpenBao, an
//! expired secret ID is refused at once (OpenBao lets it log in until its tidy has run), and an address refused by a
//! CIDR binding consumes no use.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::role::{read_role_index, RoleEntry};
use super::secret_id::{delete_in_tx, same_hmac, SecretIdEntry};
use super::{
    accessor_key, invalid, read_json, read_mount_key, read_role, role_key, tx_read_json, tx_write_json, AppRole,
    LOGIN_FIELDS, MAX_HMAC_INPUT,
};
use crate::framework::cidr::{belongs, verify_subset};
use crate::framework::{now_ns, Captures, Fields};
use crate::logical::{Auth, BackendFuture, Context, Error, Request, Response, TxFail};

const INVALID_CREDENTIALS: &str = "invalid role or secret ID";

/// What a login does to the secret ID it used.
#[derive(Debug, PartialEq)]
enum Consume {
    /// Unlimited uses: nothing to write.
    Nothing,
    /// Its last use: delete it.
    Delete,
    /// One use less.
    Decrement,
}

/// Refused, with the message; `cleanup` when the secret ID is dead (expired, or its accessor gone) and is deleted.
#[derive(Debug)]
struct Refusal {
    message: String,
    cleanup: bool,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
        cleanup: false,
    }
}

/// The checks of a login with this secret ID, in OpenBao's order, without side effects.
fn check(
    entry: &SecretIdEntry,
    asked_hmac: &str,
    accessor_exists: bool,
    role: &RoleEntry,
    remote: Option<IpAddr>,
    now: i64,
) -> Result<Consume, Refusal> {
    if !same_hmac(&entry.secret_id_hmac, asked_hmac) {
        return Err(refuse(INVALID_CREDENTIALS));
    }
    if !accessor_exists || entry.expired(now) {
        return Err(Refusal {
            message: INVALID_CREDENTIALS.into(),
            cleanup: true,
        });
    }
    verify_subset(&entry.cidr_list, &role.secret_id_bound_cidrs).map_err(refuse)?;
    if !entry.cidr_list.is_empty() {
        let remote = remote.ok_or_else(|| refuse("failed to get connection information"))?;
        let allowed = belongs(remote, &entry.cidr_list).map_err(refuse)?;
        if !allowed {
            // OpenBao words the two cases differently (and prints a nil error in the second).
            return Err(refuse(if entry.secret_id_num_uses == 0 {
                format!("source address \"{remote}\" unauthorized through CIDR restrictions on the secret ID")
            } else {
                format!("source address \"{remote}\" unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)")
            }));
        }
    }
    check_role_cidrs(role, remote)?;
    Ok(match entry.secret_id_num_uses {
        0 => Consume::Nothing,
        1 => Consume::Delete,
        _ => Consume::Decrement,
    })
}

fn check_role_cidrs(role: &RoleEntry, remote: Option<IpAddr>) -> Result<(), Refusal> {
    if role.secret_id_bound_cidrs.is_empty() {
        return Ok(());
    }
    let remote = remote.ok_or_else(|| refuse("failed to get connection information"))?;
    match belongs(remote, &role.secret_id_bound_cidrs) {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse(format!(
            "source address \"{remote}\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
        ))),
        Err(e) => Err(refuse(format!(
            "source address \"{remote}\" unauthorized by CIDR restrictions on the role: {e}"
        ))),
    }
}

impl AppRole {
    pub(super) fn login<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request, _m: Captures<'a>) -> BackendFuture<'a> {
        Box::pin(async move {
            let view = ctx.storage;
            let fields = Fields::new(&req.data, LOGIN_FIELDS);
            let role_id = fields.str("role_id").unwrap_or_default().trim().to_string();
            if role_id.is_empty() {
                return Err(invalid("missing role_id"));
            }
            let Some(mount_key) = read_mount_key(view)? else {
                return Err(invalid(INVALID_CREDENTIALS));
            };
            let role = match read_role_index(view, &mount_key, &role_id)? {
                Some(name) => read_role(view, &name)?,
                None => None,
            };
            let Some(role) = role.filter(|r| bool::from(r.role_id.as_bytes().ct_eq(role_id.as_bytes()))) else {
                return Err(invalid(INVALID_CREDENTIALS));
            };

            let mut metadata = std::collections::BTreeMap::new();
            let mut secret_token_cidrs = Vec::new();
            if role.bind_secret_id {
                let secret_id = fields.str("secret_id").unwrap_or_default().trim().to_string();
                if secret_id.is_empty() {
                    return Err(invalid("missing secret_id"));
                }
                // A secret ID the role does not have is wrong credentials for a role that exists: it counts towards
                // the role ID's lockout (OpenBao's ErrInvalidCredentials).
                if secret_id.len() > MAX_HMAC_INPUT {
                    return Err(Error::InvalidCredentials(INVALID_CREDENTIALS.into()));
                }
                let asked = role.secret_id_hmac(&secret_id);
                let entry_key = format!("{}{asked}", role.secret_ids_folder()).into_bytes();
                let Some(entry) = read_json::<SecretIdEntry>(view, &entry_key)? else {
                    return Err(Error::InvalidCredentials(INVALID_CREDENTIALS.into()));
                };
                let accessor = accessor_key(&mount_key, &role.secret_id_prefix, &entry.secret_id_accessor);
                let now = now_ns();
                let remote = req.remote_addr;
                // Read-only first: a secret ID of unlimited use needs no transaction.
                secret_token_cidrs = entry.token_bound_cidrs.clone();
                match check(&entry, &asked, view.get(&accessor)?.is_some(), &role, remote, now) {
                    Ok(Consume::Nothing) => metadata = entry.metadata,
                    Ok(_) | Err(Refusal { cleanup: true, .. }) => {
                        metadata = self
                            .consume(ctx, &role, &mount_key, entry_key, asked, remote, now)
                            .await?;
                    }
                    Err(refusal) => return Err(invalid(refusal.message)),
                }
            } else {
                check_role_cidrs(&role, req.remote_addr).map_err(|r| invalid(r.message))?;
            }

            metadata.insert("role_name".into(), role.name.clone());
            let mut auth = Auth {
                metadata,
                ..Auth::default()
            };
            role.token.populate_auth(&mut auth);
            // The secret ID's own token binding, when it has one, replaces the role's (OpenBao).
            if !secret_token_cidrs.is_empty() {
                auth.bound_cidrs = crate::framework::cidr::parse_addrs(&secret_token_cidrs).map_err(invalid)?;
            }
            let mut resp = Response::with_auth(auth, vec![]);
            resp.warnings = fields.warnings(&[]);
            Ok(resp)
        })
    }

    /// Check the secret ID again and use it, in one transaction: delete it at its last use, else count one use
    /// down. A dead one (expired, accessor gone) is deleted and refused. Returns its metadata.
    #[allow(clippy::too_many_arguments)]
    async fn consume(
        &self,
        ctx: &Context<'_>,
        role: &RoleEntry,
        mount_key: &[u8],
        entry_key: Vec<u8>,
        asked: String,
        remote: Option<IpAddr>,
        now: i64,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        let role = role.clone();
        let mount_key = zeroize::Zeroizing::new(mount_key.to_vec());
        let role_record = role_key(&role.name);
        let outcome = ctx
            .storage
            .write(move |tx| {
                // The role must still be the one read (not deleted or replaced meanwhile).
                match tx_read_json::<RoleEntry>(tx, &role_record)? {
                    Some(current) if current.hmac_key == role.hmac_key => {}
                    _ => return Err(TxFail::Abort(invalid(INVALID_CREDENTIALS))),
                }
                let Some(mut entry) = tx_read_json::<SecretIdEntry>(tx, &entry_key)? else {
                    return Err(TxFail::Abort(invalid(INVALID_CREDENTIALS)));
                };
                let accessor = accessor_key(&mount_key, &role.secret_id_prefix, &entry.secret_id_accessor);
                let accessor_exists = tx.get(&accessor)?.is_some();
                match check(&entry, &asked, accessor_exists, &role, remote, now) {
                    Ok(Consume::Nothing) => Ok(Ok(entry.metadata)),
                    Ok(Consume::Delete) => {
                        delete_in_tx(tx, &mount_key, &role.secret_id_prefix, &entry_key)?;
                        Ok(Ok(entry.metadata))
                    }
                    Ok(Consume::Decrement) => {
                        entry.secret_id_num_uses -= 1;
                        entry.last_updated_time = now;
                        tx_write_json(tx, &entry_key, &entry)?;
                        Ok(Ok(entry.metadata))
                    }
                    // Committed: the dead secret ID goes, the login is refused.
                    Err(Refusal { cleanup: true, message }) => {
                        delete_in_tx(tx, &mount_key, &role.secret_id_prefix, &entry_key)?;
                        Ok(Err(message))
                    }
                    Err(refusal) => Err(TxFail::Abort(invalid(refusal.message))),
                }
            })
            .await?;
        outcome.map_err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(uses: i64, cidrs: &[&str]) -> SecretIdEntry {
        SecretIdEntry {
            secret_id_hmac: "h".into(),
            secret_id_accessor: "a".into(),
            secret_id_num_uses: uses,
            cidr_list: cidrs.iter().map(|s| s.to_string()).collect(),
            ..SecretIdEntry::default()
        }
    }

    #[test]
    fn checks_in_openbaos_order() {
        let role = RoleEntry::default();
        let local: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        assert_eq!(
            check(&entry(0, &[]), "h", true, &role, local, 1).unwrap(),
            Consume::Nothing
        );
        assert_eq!(
            check(&entry(1, &[]), "h", true, &role, local, 1).unwrap(),
            Consume::Delete
        );
        assert_eq!(
            check(&entry(5, &[]), "h", true, &role, local, 1).unwrap(),
            Consume::Decrement
        );
        assert_eq!(
            check(&entry(0, &[]), "x", true, &role, local, 1).unwrap_err().message,
            INVALID_CREDENTIALS
        );
        assert!(check(&entry(0, &[]), "h", false, &role, local, 1).unwrap_err().cleanup);
        let expired = SecretIdEntry {
            expiration_time: 10,
            ..entry(0, &[])
        };
        assert!(check(&expired, "h", true, &role, local, 11).unwrap_err().cleanup);
        assert!(check(&expired, "h", true, &role, local, 10).is_ok());
        assert_eq!(
            check(&entry(0, &["10.0.0.0/8"]), "h", true, &role, local, 1)
                .unwrap_err()
                .message,
            "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID"
        );
        assert_eq!(
            check(&entry(2, &["10.0.0.0/8"]), "h", true, &role, local, 1)
                .unwrap_err()
                .message,
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)"
        );
        assert!(check(&entry(2, &["127.0.0.0/8"]), "h", true, &role, local, 1).is_ok());
        let bound = RoleEntry {
            secret_id_bound_cidrs: vec!["10.0.0.0/8".into()],
            ..RoleEntry::default()
        };
        assert_eq!(
            check(&entry(0, &[]), "h", true, &bound, local, 1).unwrap_err().message,
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
        );
        assert_eq!(
            check(&entry(0, &["10.0.0.0/8"]), "h", true, &bound, None, 1)
                .unwrap_err()
                .message,
            "failed to get connection information"
        );
    }
}
