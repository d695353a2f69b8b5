//! The core's response; `http::response` turns it into Vault's envelope.

use serde_json::{Map, Value};

use super::{Auth, Secret};

#[derive(Debug, Default, Clone)]
pub struct Response {
    pub data: Option<Map<String, Value>>,
    pub warnings: Vec<String>,
    pub auth: Option<Auth>,
    /// A secret to put under a lease: the core registers it and fills `lease_id`, `lease_duration` and `renewable`.
    pub secret: Option<Secret>,
    pub lease_id: String,
    /// Seconds; negative when a K/V version 1 secret's `ttl` hint is (OpenBao passes it through).
    pub lease_duration: i64,
    pub renewable: bool,
    pub wrap_info: Option<Value>,
    /// Also copy `data`'s keys to the top level of the body, as OpenBao does for some legacy `sys/` endpoints.
    pub legacy_top_level: bool,
    /// A status other than 200 for a response with a body (e.g. 202 for `auth/token/tidy`).
    pub status: Option<u16>,
    /// A body sent as is instead of the envelope: (content type, bytes), e.g. Prometheus metrics.
    pub raw: Option<(String, Vec<u8>)>,
    /// What a wrapping of this response shows as `wrapped_accessor` when it carries no token (OpenBao shows an
    /// AppRole secret ID's accessor there, so an orchestrator can track the secret ID it handed out).
    pub wrapped_accessor: Option<String>,
}

impl Response {
    /// An empty success: answered with 204.
    pub fn no_content() -> Self {
        Response::default()
    }

    pub fn with_data(data: Map<String, Value>) -> Self {
        Response {
            data: Some(data),
            ..Default::default()
        }
    }

    pub fn legacy(data: Map<String, Value>) -> Self {
        Response {
            data: Some(data),
            legacy_top_level: true,
            ..Default::default()
        }
    }

    pub fn with_auth(auth: Auth, warnings: Vec<String>) -> Self {
        Response {
            auth: Some(auth),
            warnings,
            ..Default::default()
        }
    }

    pub fn warning(message: String) -> Self {
        Response {
            warnings: vec![message],
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_none()
            && self.auth.is_none()
            && self.wrap_info.is_none()
            && self.warnings.is_empty()
            && self.raw.is_none()
    }
}
