//! Token roles (`auth/token/roles/:name`): named presets and limits for `auth/token/create/:role`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::core::{fields, Core, CoreError};
use crate::storage::{Tree, TxError};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRole {
    pub name: String,
    pub allowed_policies: Vec<String>,
    pub disallowed_policies: Vec<String>,
    pub allowed_policies_glob: Vec<String>,
    pub disallowed_policies_glob: Vec<String>,
    pub orphan: bool,
    pub renewable: bool,
    pub path_suffix: String,
    pub token_explicit_max_ttl: u64,
    pub token_period: u64,
    /// Values given through the deprecated `explicit_max_ttl` / `period` fields, reported back as given.
    pub legacy_explicit_max_ttl: u64,
    pub legacy_period: u64,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    /// Addresses the tokens it creates may be used from, as `framework::cidr::parse_addrs` keeps them.
    pub token_bound_cidrs: Vec<String>,
}

/// Go's `%q` of a string list: `["a" "b"]`.
pub fn go_quoted_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(" ")
    )
}

fn policy_list(data: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    Ok(fields::string_list(data, key)?.map(|l| crate::core::token_store::token::sanitize_policies(&l)))
}

impl TokenRole {
    pub fn explicit_max_ttl(&self) -> u64 {
        if self.token_explicit_max_ttl > 0 {
            self.token_explicit_max_ttl
        } else {
            self.legacy_explicit_max_ttl
        }
    }

    pub fn period(&self) -> u64 {
        if self.token_period > 0 {
            self.token_period
        } else {
            self.legacy_period
        }
    }

    /// Apply a write's fields on top of the current role (a new role starts from OpenBao's defaults).
    pub fn update_from(&mut self, data: &Map<String, Value>) -> Result<(), CoreError> {
        if let Some(v) = policy_list(data, "allowed_policies")? {
            self.allowed_policies = v;
        }
        if let Some(v) = policy_list(data, "disallowed_policies")? {
            self.disallowed_policies = v;
        }
        if let Some(v) = policy_list(data, "allowed_policies_glob")? {
            self.allowed_policies_glob = v;
        }
        if let Some(v) = policy_list(data, "disallowed_policies_glob")? {
            self.disallowed_policies_glob = v;
        }
        if let Some(v) = fields::boolean(data, "orphan")? {
            self.orphan = v;
        }
        if let Some(v) = fields::boolean(data, "renewable")? {
            self.renewable = v;
        }
        if let Some(v) = fields::string(data, "path_suffix")? {
            if v.contains("..") {
                return Err(CoreError::InvalidRequest(
                    "error: path_suffix cannot contain \"..\"".into(),
                ));
            }
            self.path_suffix = v.trim_matches('/').to_string();
        }
        if data.contains_key("token_explicit_max_ttl") {
            self.token_explicit_max_ttl = fields::duration_secs(data, "token_explicit_max_ttl")?;
        }
        if data.contains_key("explicit_max_ttl") {
            self.legacy_explicit_max_ttl = fields::duration_secs(data, "explicit_max_ttl")?;
        }
        if data.contains_key("token_period") {
            self.token_period = fields::duration_secs(data, "token_period")?;
        }
        if data.contains_key("period") {
            self.legacy_period = fields::duration_secs(data, "period")?;
        }
        if let Some(v) = fields::boolean(data, "token_no_default_policy")? {
            self.token_no_default_policy = v;
        }
        if let Some(v) = fields::integer(data, "token_num_uses")? {
            if v < 0 {
                return Err(CoreError::InvalidRequest("token_num_uses cannot be negative".into()));
            }
            self.token_num_uses = v;
        }
        for key in ["token_bound_cidrs", "bound_cidrs"] {
            if let Some(list) = fields::string_list(data, key)? {
                self.token_bound_cidrs = crate::framework::cidr::parse_addrs(&list)
                    .map_err(|e| CoreError::InvalidRequest(format!("error parsing role fields: {e}")))?;
            }
        }
        match fields::string(data, "token_type")?.as_deref() {
            None | Some("") | Some("service") | Some("default-service") | Some("default") => Ok(()),
            Some("batch") | Some("default-batch") => Err(CoreError::InvalidRequest(
                "batch tokens are not supported by this server".into(),
            )),
            Some(_) => Err(CoreError::InvalidRequest("invalid 'token_type' value".into())),
        }
    }

    pub fn read_data(&self) -> Map<String, Value> {
        let data = json!({
            "allowed_entity_aliases": Value::Null,
            "allowed_policies": self.allowed_policies,
            "allowed_policies_glob": self.allowed_policies_glob,
            "disallowed_policies": self.disallowed_policies,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "explicit_max_ttl": self.legacy_explicit_max_ttl,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": self.legacy_period,
            "renewable": self.renewable,
            "token_explicit_max_ttl": self.explicit_max_ttl(),
            "token_no_default_policy": self.token_no_default_policy,
            "token_num_uses": self.token_num_uses,
            "token_period": self.period(),
            "token_type": "default-service",
        });
        match data {
            Value::Object(mut m) => {
                // OpenBao shows these two only when set.
                if self.token_num_uses == 0 {
                    m.remove("token_num_uses");
                }
                if !self.token_bound_cidrs.is_empty() {
                    m.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
                }
                m
            }
            _ => Map::new(),
        }
    }

    /// Is `policy` in the role's disallowed lists (exactly or by glob)?
    pub fn disallows(&self, policy: &str) -> bool {
        self.disallowed_policies.iter().any(|p| p == policy)
            || self
                .disallowed_policies_glob
                .iter()
                .any(|g| glob_policy_match(g, policy))
    }

    /// The policies a token created through this role gets, or OpenBao's error.
    pub fn resolve_policies(&self, requested: &[String], add_default: bool) -> Result<Vec<String>, CoreError> {
        let with_default = |mut list: Vec<String>| {
            if add_default && !list.iter().any(|p| p == "default") {
                list.push("default".into());
            }
            list.sort();
            list.dedup();
            list
        };
        let mut policies = with_default(requested.to_vec());
        let restricted = !self.allowed_policies.is_empty() || !self.allowed_policies_glob.is_empty();
        if restricted {
            let allowed = with_default(self.allowed_policies.clone());
            if requested.is_empty() {
                policies = allowed;
            } else {
                let ok = policies
                    .iter()
                    .all(|p| allowed.contains(p) || self.allowed_policies_glob.iter().any(|g| glob_policy_match(g, p)));
                if !ok {
                    return Err(CoreError::InvalidRequest(format!(
                        "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                        go_quoted_list(&policies),
                        go_quoted_list(&allowed),
                        go_quoted_list(&self.allowed_policies_glob)
                    )));
                }
            }
        }
        for p in &policies {
            if self.disallows(p) {
                return Err(CoreError::InvalidRequest(format!(
                    "token policy {p:?} is disallowed by this role"
                )));
            }
        }
        Ok(policies)
    }
}

fn glob_policy_match(glob: &str, name: &str) -> bool {
    match glob.split_once('*') {
        None => glob == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
        }
    }
}

impl Core {
    pub fn read_token_role(&self, name: &str) -> Result<Option<TokenRole>, CoreError> {
        Ok(self.storage.get(Tree::TokenRoles, name.as_bytes())?)
    }

    pub fn list_token_roles(&self) -> Result<Vec<String>, CoreError> {
        Ok(self
            .storage
            .keys_with_prefix(Tree::TokenRoles, b"")?
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    /// Create or update a role from a write's fields, atomically.
    pub async fn write_token_role(&self, name: &str, data: Map<String, Value>) -> Result<(), CoreError> {
        let name = name.to_string();
        // Validate once outside the transaction so errors need no storage round trip.
        let mut probe = TokenRole {
            name: name.clone(),
            renewable: true,
            ..Default::default()
        };
        probe.update_from(&data)?;
        self.storage
            .write(move |tx| {
                let mut role = tx
                    .get::<TokenRole>(Tree::TokenRoles, name.as_bytes())?
                    .unwrap_or_else(|| TokenRole {
                        name: name.clone(),
                        renewable: true,
                        ..Default::default()
                    });
                role.update_from(&data).map_err(TxError::Abort)?;
                tx.put(Tree::TokenRoles, name.as_bytes(), &role)?;
                Ok(())
            })
            .await?
    }

    pub async fn delete_token_role(&self, name: &str) -> Result<(), CoreError> {
        let name = name.to_string();
        self.storage
            .write(move |tx| {
                tx.remove(Tree::TokenRoles, name.as_bytes())?;
                Ok::<_, TxError<CoreError>>(())
            })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_policy_rules() {
        let role = TokenRole {
            allowed_policies: vec!["tc".into(), "test1".into()],
            ..Default::default()
        };
        assert_eq!(
            role.resolve_policies(&[], true).unwrap(),
            vec!["default", "tc", "test1"]
        );
        let e = role.resolve_policies(&["other".into()], true).unwrap_err().to_string();
        assert_eq!(e, "token policies ([\"default\" \"other\"]) must be subset of the role's allowed policies ([\"default\" \"tc\" \"test1\"]) or glob policies ([])");
        let role = TokenRole {
            disallowed_policies: vec!["tc".into()],
            ..Default::default()
        };
        assert_eq!(
            role.resolve_policies(&["tc".into()], true).unwrap_err().to_string(),
            "token policy \"tc\" is disallowed by this role"
        );
        let role = TokenRole {
            allowed_policies_glob: vec!["app-*".into()],
            ..Default::default()
        };
        assert!(role.resolve_policies(&["app-x".into()], false).is_ok());
        assert!(role.resolve_policies(&["db".into()], false).is_err());
    }
}
