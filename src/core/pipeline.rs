//! `Core::handle_request`: the one entry point for every request below `/v1/` that is not a seal-state endpoint.
//! Steps, in order: refuse when sealed, check the client token and its ACL, route to the mounted backend.

use chrono::Utc;

use super::{Core, CoreError, Request, Response};
use crate::auth::token::TokenEntry;

impl Core {
    pub async fn handle_request(&self, req: Request) -> Result<Response, CoreError> {
        let unsealed = self.unsealed()?;
        let path = req.path.trim_start_matches('/');
        if path.split('/').any(|segment| segment == "..") {
            return Err(CoreError::InvalidRequest("invalid path".into()));
        }

        let entry = self.check_token(&unsealed, &req)?;
        self.check_acl(&entry, &req)?;
        if req.wrap_ttl.is_some() {
            // Answering unwrapped would hand the secret to whoever holds this response.
            return Err(CoreError::InvalidRequest(
                "response wrapping is not supported by this server yet".into(),
            ));
        }

        let (backend, relative) = self
            .router
            .route(path)
            .ok_or_else(|| CoreError::NoHandler(path.to_string()))?;
        backend.handle(self, relative, &req).await
    }

    /// The token slot of the pipeline: a missing, unknown or expired token is `permission denied`.
    fn check_token(&self, unsealed: &super::Unsealed, req: &Request) -> Result<TokenEntry, CoreError> {
        let token = req.client_token.as_ref().ok_or(CoreError::PermissionDenied)?;
        let entry = self.lookup_token(unsealed, token)?.ok_or(CoreError::PermissionDenied)?;
        if entry.expired_at(Utc::now().timestamp()) {
            return Err(CoreError::PermissionDenied);
        }
        Ok(entry)
    }

    /// The ACL slot: root tokens may do everything. Until ACL policies exist, no other token is granted anything.
    fn check_acl(&self, entry: &TokenEntry, _req: &Request) -> Result<(), CoreError> {
        if entry.is_root() {
            Ok(())
        } else {
            Err(CoreError::PermissionDenied)
        }
    }
}
