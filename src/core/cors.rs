//! CORS settings (`sys/config/cors`), as OpenBao: off by default; when on, browsers from the allowed origins (or
//! any, with the single wildcard `*`) may call the API, with OpenBao's default request headers plus any configured
//! ones. Stored behind the barrier and cached in memory, since every request with an `Origin` header consults it.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::{Core, CoreError};
use crate::storage::Tree;

pub(crate) const CORS_KEY: &[u8] = b"cors";

/// The headers browsers may always send, in OpenBao's order.
pub const DEFAULT_ALLOWED_HEADERS: &[&str] = &[
    "Content-Type",
    "Authorization",
    "X-Vault-Token",
    "X-Vault-MFA",
    "X-Vault-No-Request-Forwarding",
    "X-Vault-Wrap-Format",
    "X-Vault-Wrap-TTL",
    "X-Requested-With",
    "X-Vault-AWS-IAM-Server-ID",
    "X-Vault-Policy-Override",
];

/// The methods a preflight answer allows.
pub const ALLOWED_METHODS: &str = "DELETE,GET,OPTIONS,POST,PUT,LIST,SCAN";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsConfig {
    pub enabled: bool,
    pub allowed_origins: Vec<String>,
    /// The defaults followed by the configured extra headers.
    pub allowed_headers: Vec<String>,
    pub allow_credentials: bool,
}

impl CorsConfig {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.enabled && (self.allowed_origins.iter().any(|o| o == "*" || o == origin))
    }
}

/// The in-memory copy (empty: disabled).
#[derive(Default)]
pub struct CorsState(RwLock<Arc<CorsConfig>>);

impl Core {
    /// The settings every request with an `Origin` header is checked against.
    pub fn cors(&self) -> Arc<CorsConfig> {
        self.cors.0.read().map(|c| c.clone()).unwrap_or_default()
    }

    fn set_cached_cors(&self, config: CorsConfig) {
        if let Ok(mut slot) = self.cors.0.write() {
            *slot = Arc::new(config);
        }
    }

    /// At unseal: load the stored settings.
    pub(super) fn load_cors(&self) -> Result<(), CoreError> {
        let config = self
            .storage
            .get::<CorsConfig>(Tree::Core, CORS_KEY)?
            .unwrap_or_default();
        self.set_cached_cors(config);
        Ok(())
    }

    pub(super) fn unload_cors(&self) {
        self.set_cached_cors(CorsConfig::default());
    }

    /// Enable CORS for `origins` (the single `*` for any), with `extra_headers` on top of the defaults.
    pub async fn enable_cors(
        &self,
        origins: Vec<String>,
        extra_headers: Vec<String>,
        allow_credentials: bool,
    ) -> Result<(), CoreError> {
        if origins.is_empty() {
            return Err(CoreError::InvalidRequest(
                "at least one origin or the wildcard must be provided".into(),
            ));
        }
        if origins.len() > 1 && origins.iter().any(|o| o == "*") {
            return Err(CoreError::InvalidRequest(
                "to allow all origins the '*' must be the only value for allowed_origins".into(),
            ));
        }
        let mut headers: Vec<String> = DEFAULT_ALLOWED_HEADERS.iter().map(|h| h.to_string()).collect();
        for header in extra_headers {
            if !headers.iter().any(|h| h.eq_ignore_ascii_case(&header)) {
                headers.push(header);
            }
        }
        let config = CorsConfig {
            enabled: true,
            allowed_origins: origins,
            allowed_headers: headers,
            allow_credentials,
        };
        let stored = config.clone();
        self.storage
            .write::<_, CoreError>(move |tx| tx.put(Tree::Core, CORS_KEY, &stored))
            .await??;
        self.set_cached_cors(config);
        Ok(())
    }

    pub async fn disable_cors(&self) -> Result<(), CoreError> {
        self.storage
            .write::<_, CoreError>(move |tx| tx.remove(Tree::Core, CORS_KEY).map(|_| ()))
            .await??;
        self.set_cached_cors(CorsConfig::default());
        Ok(())
    }
}
