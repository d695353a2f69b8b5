//! The `auth` block of a response, as OpenBao's `logical.Auth`: an auth method's login answers with the token it
//! asks for (policies, metadata, display name, TTLs), and the core creates that token and fills in the rest
//! (client token, accessor, the effective policies and TTL) before the client sees it, rendered in OpenBao's JSON
//! form. Stored wrapped responses keep that form.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::ClientToken;

impl Serialize for ClientToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ClientToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(deserializer)?);
        Ok(ClientToken::new(&text))
    }
}

/// `null` when empty, as OpenBao renders a token's metadata.
fn null_when_empty<S: Serializer>(map: &BTreeMap<String, String>, serializer: S) -> Result<S::Ok, S::Error> {
    if map.is_empty() {
        serializer.serialize_none()
    } else {
        map.serialize(serializer)
    }
}

fn empty_when_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Its `Debug` never shows the token (see [`ClientToken`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    pub client_token: ClientToken,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    #[serde(serialize_with = "null_when_empty", deserialize_with = "empty_when_null", default)]
    pub metadata: BTreeMap<String, String>,
    /// Seconds.
    pub lease_duration: u64,
    pub renewable: bool,
    #[serde(default)]
    pub entity_id: String,
    #[serde(default)]
    pub token_type: String,
    #[serde(default)]
    pub orphan: bool,
    /// Always `null`: no MFA.
    #[serde(default)]
    pub mfa_requirement: Option<Value>,
    #[serde(default)]
    pub num_uses: i64,

    // What a login asks for besides the above (`lease_duration` is the TTL asked for, 0 for the mount's default);
    // never rendered.
    /// Shown as `<mount>-<display_name>`.
    #[serde(skip)]
    pub display_name: String,
    /// Seconds; 0 = the mount's maximum.
    #[serde(skip)]
    pub max_ttl: u64,
    /// Seconds; 0 = none.
    #[serde(skip)]
    pub explicit_max_ttl: u64,
    /// Seconds; a periodic token when set.
    #[serde(skip)]
    pub period: u64,
    /// Leave out the `default` policy.
    #[serde(skip)]
    pub no_default_policy: bool,
    /// The client addresses the token may be used from (address or CIDR block); empty: any.
    #[serde(skip)]
    pub bound_cidrs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_and_reads_openbaos_shape() {
        let auth = Auth {
            client_token: ClientToken::new("s.secret"),
            accessor: "acc".into(),
            policies: vec!["default".into()],
            token_policies: vec!["default".into()],
            metadata: BTreeMap::new(),
            lease_duration: 60,
            renewable: true,
            entity_id: String::new(),
            token_type: "service".into(),
            orphan: false,
            mfa_requirement: None,
            num_uses: 0,
            ..Auth::default()
        };
        let rendered = serde_json::to_value(&auth).unwrap();
        assert_eq!(rendered["client_token"], "s.secret");
        assert_eq!(rendered["metadata"], json!(null));
        assert_eq!(rendered["mfa_requirement"], json!(null));
        let back: Auth = serde_json::from_value(rendered).unwrap();
        assert_eq!(back, auth);
        assert!(!format!("{auth:?}").contains("s.secret"));
    }
}
