//! The token settings every auth method offers (OpenBao's `tokenutil.TokenParams`): the `token_*` fields of a
//! user or role, how they are parsed and shown, and the `Auth` they ask a login's token for.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::fields::{field, Field, FieldDefault, Fields, Kind, Schema};
use crate::logical::{Auth, Error};

/// The `token_*` fields, to add to a path's own with `concat_fields`.
pub const TOKEN_FIELDS: Schema = &TOKEN_FIELD_LIST;

pub const TOKEN_FIELD_LIST: [Field; 10] = [
    field("token_bound_cidrs", Kind::CommaStrings).desc("Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token."),
    field("token_explicit_max_ttl", Kind::Duration).desc("If set, tokens created via this role carry an explicit maximum TTL. During renewal, the current maximum TTL values of the role and the mount are not checked for changes, and any updates to these values will have no effect on the token being renewed."),
    field("token_max_ttl", Kind::Duration).desc("The maximum lifetime of the generated token"),
    field("token_no_default_policy", Kind::Bool).desc("If true, the 'default' policy will not automatically be added to generated tokens"),
    field("token_num_uses", Kind::Int).desc("The maximum number of times a token may be used, a value of zero means unlimited"),
    field("token_period", Kind::Duration).desc("If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value. This takes an integer number of seconds, or a string duration (e.g. \"24h\")."),
    field("token_policies", Kind::CommaStrings).desc("Comma-separated list of policies"),
    field("token_type", Kind::Str).desc("The type of token to generate, service or batch").default(FieldDefault::Str("default-service")),
    field("token_ttl", Kind::Duration).desc("The initial ttl of the token to generate"),
    field("token_strictly_bind_ip", Kind::Bool).desc("If true, CIDRs for the token will be strictly bound to the source IP address of the login request"),
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenParams {
    /// The client addresses the login's tokens may be used from (as `cidr::parse_addrs` keeps them); empty: any.
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
    /// Seconds.
    pub token_explicit_max_ttl: u64,
    pub token_max_ttl: u64,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    pub token_period: u64,
    pub token_policies: Vec<String>,
    /// "default" or "service" (batch tokens do not exist here).
    pub token_type: String,
    pub token_ttl: u64,
}

/// OpenBao's `policyutil.ParsePolicies`: trimmed, lower-cased, without empties or duplicates, sorted.
pub fn parse_policies(raw: &[String]) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = raw
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    set.into_iter().collect()
}

/// OpenBao's `tokenutil.UpgradeValue` for one legacy field: the new name wins; the old one is kept (for reads)
/// only while it is the one given.
pub fn upgrade_legacy<T: Clone + Default>(new_given: Option<T>, old_given: Option<T>, old: &mut T, new: &mut T) {
    match (new_given, old_given) {
        (None, Some(value)) => {
            *old = value.clone();
            *new = value;
        }
        (Some(_), Some(_)) => *old = new.clone(),
        (Some(_), None) => *old = T::default(),
        (None, None) => {}
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidRequest(message.into())
}

fn secs(fields: &Fields, name: &str) -> Option<u64> {
    fields.secs(name).map(|s| s.max(0) as u64)
}

impl TokenParams {
    /// Apply the `token_*` fields present in a write (OpenBao's `ParseTokenFields`, same texts).
    pub fn parse(&mut self, fields: &Fields) -> Result<(), Error> {
        if let Some(cidrs) = fields.strings("token_bound_cidrs") {
            self.token_bound_cidrs = super::cidr::parse_addrs(&cidrs).map_err(invalid)?;
        }
        if fields.bool("token_strictly_bind_ip") == Some(true) {
            return Err(invalid("token_strictly_bind_ip is not supported by this server"));
        }
        if let Some(v) = secs(fields, "token_explicit_max_ttl") {
            self.token_explicit_max_ttl = v;
        }
        if let Some(v) = secs(fields, "token_max_ttl") {
            self.token_max_ttl = v;
        }
        if let Some(v) = fields.bool("token_no_default_policy") {
            self.token_no_default_policy = v;
        }
        if let Some(v) = secs(fields, "token_period") {
            self.token_period = v;
        }
        if let Some(v) = fields.strings("token_policies") {
            self.token_policies = v.into_iter().filter(|p| !p.is_empty()).collect();
        }
        if let Some(t) = fields.str("token_type") {
            self.token_type = match t.as_str() {
                "" | "default" => "default".into(),
                "service" => "service".into(),
                "batch" => return Err(invalid("batch tokens are not supported by this server")),
                other => return Err(invalid(format!("invalid 'token_type' value {other:?}"))),
            };
        }
        if let Some(v) = fields.int("token_num_uses") {
            if v < 0 {
                return Err(invalid("'token_num_uses' cannot be negative"));
            }
            self.token_num_uses = v;
        }
        if let Some(v) = secs(fields, "token_ttl") {
            self.token_ttl = v;
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(invalid("'token_ttl' cannot be greater than 'token_max_ttl'"));
        }
        Ok(())
    }

    /// The fields as a read shows them (OpenBao's `PopulateTokenData`).
    pub fn populate_data(&self, data: &mut Map<String, Value>) {
        data.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        data.insert("token_explicit_max_ttl".into(), json!(self.token_explicit_max_ttl));
        data.insert("token_max_ttl".into(), json!(self.token_max_ttl));
        data.insert("token_no_default_policy".into(), json!(self.token_no_default_policy));
        data.insert("token_num_uses".into(), json!(self.token_num_uses));
        data.insert("token_period".into(), json!(self.token_period));
        data.insert("token_policies".into(), json!(self.token_policies));
        data.insert("token_strictly_bind_ip".into(), json!(false));
        data.insert("token_ttl".into(), json!(self.token_ttl));
        let token_type = if self.token_type.is_empty() {
            "default"
        } else {
            &self.token_type
        };
        data.insert("token_type".into(), json!(token_type));
    }

    /// The token a login with these settings asks for (OpenBao's `PopulateTokenAuth`).
    pub fn populate_auth(&self, auth: &mut Auth) {
        auth.bound_cidrs = self.token_bound_cidrs.clone();
        auth.explicit_max_ttl = self.token_explicit_max_ttl;
        auth.max_ttl = self.token_max_ttl;
        auth.no_default_policy = self.token_no_default_policy;
        auth.period = self.token_period;
        auth.token_policies = self.token_policies.clone();
        auth.policies = self.token_policies.clone();
        auth.renewable = true;
        auth.lease_duration = self.token_ttl;
        auth.num_uses = self.token_num_uses;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<TokenParams, Error> {
        let data = body.as_object().cloned().unwrap_or_default();
        let mut params = TokenParams::default();
        params.parse(&Fields::new(&data, TOKEN_FIELDS)).map(|()| params)
    }

    #[test]
    fn parses_like_tokenutil() {
        let p = parse(json!({"token_ttl": "1h", "token_max_ttl": "2h", "token_policies": "a,b"})).unwrap();
        assert_eq!((p.token_ttl, p.token_max_ttl), (3600, 7200));
        assert_eq!(p.token_policies, vec!["a", "b"]);
        let err = |body| match parse(body) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(json!({"token_ttl": "2h", "token_max_ttl": "1h"})),
            "'token_ttl' cannot be greater than 'token_max_ttl'"
        );
        assert_eq!(
            err(json!({"token_type": "bogus"})),
            "invalid 'token_type' value \"bogus\""
        );
        assert_eq!(
            err(json!({"token_num_uses": -1})),
            "'token_num_uses' cannot be negative"
        );
        assert!(err(json!({"token_bound_cidrs": "10.0.0.0/8,nope"})).starts_with("error parsing address \"nope\""));
        let bound = parse(json!({"token_bound_cidrs": "10.0.0.0/8, 127.0.0.1/32"})).unwrap();
        assert_eq!(bound.token_bound_cidrs, ["10.0.0.0/8", "127.0.0.1"]);
        let mut data = Map::new();
        p.populate_data(&mut data);
        assert_eq!(data["token_type"], "default");
        assert_eq!(data["token_bound_cidrs"], json!([]));
    }
}
