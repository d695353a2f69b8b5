//! Tokens for logins: an auth method's login answers with the `Auth` it asks for, and the core creates that token
//! here, as OpenBao's `handleLoginRequest` does: an orphan with the method's policies (plus `default` unless asked
//! not to), its metadata, `<mount>-<name>` as display name, the login path, and a TTL from the request, the auth
//! mount's default and its maximum (OpenBao's `CalculateTTL`).

use zeroize::Zeroizing;

use super::token::{self, calculate_ttl, sanitize_policies, TokenEntry, TtlLimits};
use crate::core::router::MountSystemView;
use crate::core::{Core, CoreError};
use crate::logical::{Auth, SystemView};
use crate::storage::{Tree, TxError};

/// The effective TTL of a login's token and the warnings of any capping: the token store's `CalculateTTL` over
/// the auth mount's default and maximum and the method's own maximum.
fn login_ttl(auth: &Auth, system: &MountSystemView) -> Result<(u64, Vec<String>), CoreError> {
    let system_max = system.max_lease_ttl().as_secs();
    let limits = TtlLimits {
        explicit_max_ttl: auth.explicit_max_ttl,
        default_ttl: system.default_lease_ttl().as_secs(),
        max_ttl: match auth.max_ttl {
            m if m > 0 && m < system_max => m,
            _ => system_max,
        },
    };
    calculate_ttl(&limits, auth.period, auth.lease_duration, 0, 0)
}

/// `auth/userpass/` -> `userpass-`, the prefix of a login token's display name.
fn display_prefix(mount_path: &str) -> String {
    let relative = mount_path.strip_prefix("auth/").unwrap_or(mount_path);
    relative.trim_end_matches('/').replace('/', "-")
}

/// OpenBao's login display name: the mount path with `/` as `-`, then the method's name, one trailing `-` dropped
/// (so a method that names nobody, like AppRole, gives just the mount: `approle`).
fn login_display_name(mount_path: &str, name: &str) -> String {
    let joined = format!("{}-{name}", display_prefix(mount_path));
    joined.strip_suffix('-').map(str::to_string).unwrap_or(joined)
}

impl Core {
    /// Revoke every token a login at the auth mount `mount_path` (`auth/userpass/`) created, with its descendants:
    /// what disabling the method does. Returns how many were revoked.
    pub async fn revoke_logins_of(&self, mount_path: &str) -> Result<usize, CoreError> {
        let mut revoked = 0;
        for hash in self.storage.keys_with_prefix(Tree::Tokens, b"")? {
            let Some(entry) = self.storage.get::<TokenEntry>(Tree::Tokens, &hash)? else {
                continue;
            };
            if entry.path.starts_with(mount_path) {
                self.revoke_tree(&hash).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Create the token a login asked for; returns the rendered `auth` block and the warnings.
    pub async fn issue_login_token(
        &self,
        asked: Auth,
        mount_path: &str,
        system: &MountSystemView,
        request_path: &str,
    ) -> Result<(Auth, Vec<String>), CoreError> {
        let mut policies = sanitize_policies(&asked.token_policies);
        if policies.iter().any(|p| p == "root") {
            return Err(CoreError::InvalidRequest(
                "auth methods cannot create root tokens".into(),
            ));
        }
        if !asked.no_default_policy && !policies.iter().any(|p| p == crate::policy::DEFAULT_POLICY_NAME) {
            policies.push(crate::policy::DEFAULT_POLICY_NAME.into());
            policies.sort();
        }
        let (ttl, warnings) = login_ttl(&asked, system)?;
        let id = token::generate_token_id();
        let hash = self.unsealed()?.token_salt.hash(&id);
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let entry = TokenEntry {
            accessor: token::generate_accessor(),
            parent: None,
            policies,
            meta: asked.metadata.clone(),
            display_name: login_display_name(mount_path, &asked.display_name),
            path: request_path.to_string(),
            issue_time: now,
            last_renewal: now,
            ttl,
            creation_ttl: ttl,
            explicit_max_ttl: asked.explicit_max_ttl,
            period: asked.period,
            num_uses: asked.num_uses.max(0),
            renewable: asked.renewable && ttl > 0,
            renewed: false,
            role: None,
            bound_cidrs: if ttl == 0 {
                Vec::new()
            } else {
                asked.bound_cidrs.clone()
            },
        };
        let stored = entry.clone();
        let mount_uuid = system.uuid.clone();
        self.storage
            .write(move |tx| {
                // The method may have been disabled since the login was routed (its tokens were revoked then): a
                // token it would create now would outlive it.
                let mounted = match tx.get_raw(Tree::Mounts, crate::core::mounts::AUTH_TABLE_KEY)? {
                    Some(table) => crate::core::mounts::decode_table(&table).map_err(TxError::Storage)?,
                    None => Vec::new(),
                };
                if !mounted.iter().any(|e| e.uuid == mount_uuid) {
                    return Err(TxError::Abort(CoreError::PermissionDenied));
                }
                if tx.get_raw(Tree::Tokens, &hash)?.is_some() {
                    return Err(TxError::Abort(CoreError::InvalidRequest(
                        "cannot create a token with a duplicate ID".into(),
                    )));
                }
                token::insert(tx, &hash, &stored)?;
                Ok(())
            })
            .await??;
        let id: Zeroizing<String> = id;
        Ok((entry.auth_block(&id), warnings))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn system(default: u64, max: u64) -> MountSystemView {
        MountSystemView {
            default_lease_ttl: Duration::from_secs(default),
            max_lease_ttl: Duration::from_secs(max),
            uuid: String::new(),
            accessor: String::new(),
            local: false,
        }
    }

    #[test]
    fn login_ttls_follow_calculate_ttl() {
        let asked = |ttl, max_ttl, explicit, period| Auth {
            lease_duration: ttl,
            max_ttl,
            explicit_max_ttl: explicit,
            period,
            ..Auth::default()
        };
        let sys = system(600, 3600);
        let ttl = |a: Auth| login_ttl(&a, &sys).unwrap().0;
        assert_eq!(ttl(asked(0, 0, 0, 0)), 600);
        assert_eq!(ttl(asked(60, 0, 0, 0)), 60);
        let (capped, warnings) = login_ttl(&asked(7200, 0, 0, 0), &sys).unwrap();
        assert_eq!((capped, warnings.len()), (3600, 1));
        assert_eq!(ttl(asked(1800, 900, 0, 0)), 900);
        assert_eq!(ttl(asked(1800, 0, 300, 0)), 300);
        // A period is capped at the effective max TTL, with a warning, as OpenBao's CalculateTTL does.
        let (period, warnings) = login_ttl(&asked(0, 0, 0, 7200), &sys).unwrap();
        assert_eq!((period, warnings.len()), (3600, 1));
        assert_eq!(ttl(asked(0, 0, 100, 7200)), 100);
        assert_eq!(display_prefix("auth/userpass/"), "userpass");
        assert_eq!(display_prefix("auth/team/people/"), "team-people");
    }
}
