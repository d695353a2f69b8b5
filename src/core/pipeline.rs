//! `Core::handle_request`: the one entry point for every request below `/v1/` that is not a seal-state endpoint.
//! In order: refuse when sealed; check the client token and consume one of its uses atomically; check the ACL
//! (and `sudo` on root-protected paths); route to the mounted backend; revoke a token whose last use this was.

use super::{Caller, Core, CoreError, Request, Response};
use crate::core::token_store::token::TokenEntry;

/// `sys/internal/ui/mounts[/:path]`: never refused by the ACL, it filters by it (the list is even readable without
/// a token).
fn is_unauthenticated_ui_path(path: &str, op: super::Operation) -> bool {
    op == super::Operation::Read && (path == "sys/internal/ui/mounts" || path.starts_with("sys/internal/ui/mounts/"))
}

/// The ACL's verdict on a request: root-protected paths (as the backend serving them declares) need `sudo` on top;
/// a path that filters by the caller's ACL itself (the UI mount listing) is never refused for lack of a capability.
fn permit(decision: &crate::policy::AclResult, root_path: bool, filters_by_acl: bool) -> Result<(), CoreError> {
    if root_path && !decision.root_privs {
        return Err(CoreError::AclDenied);
    }
    if !decision.allowed && !filters_by_acl {
        return Err(CoreError::AclDenied);
    }
    Ok(())
}

/// Where a request was routed: the mount, and the byte offset in `req.path` where the path relative to it starts.
struct Routed {
    mount: std::sync::Arc<super::router::Mount>,
    start: usize,
}

impl Routed {
    fn relative<'r>(&self, req: &'r Request) -> &'r str {
        req.path.get(self.start..).unwrap_or("")
    }
}

impl Core {
    pub async fn handle_request(&self, mut req: Request) -> Result<Response, CoreError> {
        if self.is_sealed() {
            // Sealing a sealed server is a no-op success, as in OpenBao.
            let seal_request = req.path.trim_start_matches('/') == "sys/seal"
                && matches!(req.operation, super::Operation::Update | super::Operation::Create);
            return if seal_request {
                Ok(Response::no_content())
            } else {
                Err(CoreError::Sealed)
            };
        }
        let path = req.path.trim_start_matches('/').to_string();
        if path.split('/').any(|segment| segment == "..") {
            return Err(CoreError::InvalidRequest("invalid path".into()));
        }
        req.path = path;

        // Wrapping-token endpoints that authenticate with the wrapping token itself (design step 2): lookup is
        // unauthenticated; unwrap with no other token in the body uses the header token as the wrapping token. Both
        // honour a requested wrap TTL, as every other endpoint does.
        if let Some(resp) = self.handle_wrapping_token_request(&req).await? {
            return Ok(resp);
        }

        // Routed once: the mount serving the path and where the path relative to it starts.
        let routed = self.router.route(&req.path).map(|(mount, relative)| Routed {
            start: req.path.len() - relative.len(),
            mount,
        });

        // A backend's unauthenticated paths (logins) run without a token.
        if let Some(r) = &routed {
            if r.mount.is_unauthenticated(r.relative(&req)) {
                return self.login(&r.mount, r.relative(&req), &req).await;
            }
        }

        // The UI mount listing is unauthenticated in OpenBao (the `bao kv` commands ask it first); without a token it
        // shows only what every caller may see.
        if req.client_token.is_none() && req.operation == super::Operation::Read && req.path == "sys/internal/ui/mounts"
        {
            let acl = self.acl_for(&[])?;
            let caller = Caller {
                token_hash: vec![],
                entry: TokenEntry::anonymous(),
                acl,
                root_privs: false,
            };
            return self.route_and_wrap(&caller, &req, routed.as_ref()).await;
        }

        let (token, id) = (req.client_token.clone(), req.id.clone());
        self.with_token_use(token.as_ref(), &id, |hash, entry| {
            self.authorize_and_route(hash, entry, &mut req, routed.as_ref())
        })
        .await
    }

    /// Authorize a request that the HTTP layer serves itself because its body is not JSON (snapshots): the same
    /// sealed check, token use, ACL and `sudo` checks as [`Core::handle_request`], without routing.
    pub async fn authorize_direct(
        &self,
        token: Option<&super::ClientToken>,
        request_id: &str,
        path: &str,
        operation: super::Operation,
    ) -> Result<(), CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        self.with_token_use(token, request_id, |_, entry| async move {
            let acl = self.acl_for(&entry.policies)?;
            let decision = acl.allow_request(operation, path, &serde_json::Map::new(), None);
            permit(&decision, self.router.is_root_path(path), false)
        })
        .await
    }

    /// Consume one use of the client token, run `work` with its hash and entry, and revoke the token if that was its
    /// last use. The use is consumed before the ACL check, so a denied request still counts (as in OpenBao).
    async fn with_token_use<T, Fut>(
        &self,
        token: Option<&super::ClientToken>,
        request_id: &str,
        work: impl FnOnce(Vec<u8>, TokenEntry) -> Fut,
    ) -> Result<T, CoreError>
    where
        Fut: std::future::Future<Output = Result<T, CoreError>>,
    {
        let token = token.ok_or(CoreError::PermissionDenied)?;
        let (hash, entry) = self.live_token(token.as_str())?.ok_or(CoreError::PermissionDenied)?;
        let entry = self.use_token(&hash, entry).await?;
        let last_use = entry.num_uses == crate::core::token_store::token::LAST_USE_IN_PROGRESS;
        let result = work(hash.clone(), entry).await;
        if last_use {
            if let Err(e) = self.revoke_tree(&hash).await {
                log::error!("request {request_id}: revoking a used-up token failed: {e}");
            }
        }
        result
    }

    async fn authorize_and_route(
        &self,
        token_hash: Vec<u8>,
        entry: crate::core::token_store::token::TokenEntry,
        req: &mut Request,
        routed: Option<&Routed>,
    ) -> Result<Response, CoreError> {
        let acl = self.acl_for(&entry.policies)?;
        // OpenBao's existence check: a write to something that does not exist yet is a `create`, for the ACL too.
        // A wrapping token's wrapped response is, in OpenBao, its cubbyhole's `response`: a write there is an update
        // (which the response-wrapping policy does not grant), never a create.
        req.operation = match routed {
            _ if self.is_wrapped_response_write(&token_hash, req)? => super::Operation::Update,
            Some(r) => {
                r.mount
                    .checked_operation(self, &token_hash, r.relative(req), req)
                    .await?
            }
            None => req.operation,
        };
        let decision = acl.allow_request(req.operation, &req.path, &req.data, req.wrap_ttl);
        permit(
            &decision,
            routed.is_some_and(|r| r.mount.is_root_path(r.relative(req))),
            is_unauthenticated_ui_path(&req.path, req.operation),
        )?;
        let caller = Caller {
            token_hash,
            entry,
            acl,
            root_privs: decision.root_privs,
        };
        self.route_and_wrap(&caller, req, routed).await
    }

    /// Call the mounted backend and wrap a non-empty answer when asked.
    async fn route_and_wrap(
        &self,
        caller: &Caller,
        req: &Request,
        routed: Option<&Routed>,
    ) -> Result<Response, CoreError> {
        let routed = routed.ok_or_else(|| CoreError::NoHandler(req.path.clone()))?;
        let resp = routed.mount.handle(self, caller, routed.relative(req), req).await?;
        let resp = self.register_secret(&routed.mount, caller, req, resp).await?;
        self.wrap_if_asked(resp, req).await
    }

    /// Errors and empty answers are never wrapped.
    async fn wrap_if_asked(&self, resp: Response, req: &Request) -> Result<Response, CoreError> {
        match req.wrap_ttl {
            Some(ttl) if !resp.is_empty() && resp.wrap_info.is_none() => self.wrap_response(resp, ttl, &req.path).await,
            _ => Ok(resp),
        }
    }

    /// A login: the backend runs without a token (no token is checked or used, no ACL applies); the `Auth` it
    /// answers with becomes a token, created with the auth mount's TTLs, and the answer is wrapped when asked.
    async fn login(&self, mount: &super::router::Mount, relative: &str, req: &Request) -> Result<Response, CoreError> {
        let caller = Caller {
            token_hash: vec![],
            entry: TokenEntry::anonymous(),
            acl: self.acl_for(&[])?,
            root_privs: false,
        };
        let mut resp = match mount.handle(self, &caller, relative, req).await {
            Err(CoreError::UnsupportedOperation) => return Err(CoreError::LoginUnsupportedOperation),
            other => other?,
        };
        if let Some(asked) = resp.auth.take() {
            let system = mount
                .system_view()
                .ok_or_else(|| CoreError::InvalidRequest("this backend cannot log in".into()))?;
            let (issued, warnings) = self.issue_login_token(asked, &mount.path, system, &req.path).await?;
            resp.auth = Some(issued);
            resp.warnings.extend(warnings);
        }
        self.wrap_if_asked(resp, req).await
    }

    /// The token given in the body (or the query string of a GET), if any.
    fn body_token(req: &Request) -> Option<String> {
        req.data
            .get("token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    }

    async fn handle_wrapping_token_request(&self, req: &Request) -> Result<Option<Response>, CoreError> {
        use super::Operation::{Read, Update};
        let header = req.client_token.as_ref().map(|t| t.as_str().to_string());
        match (req.path.as_str(), req.operation) {
            ("sys/wrapping/lookup", Read | Update) => {
                let token = Self::body_token(req).or(header).unwrap_or_default();
                let resp = self.lookup_wrapping(&token)?;
                // Asked for a wrapped answer: the lookup's answer is wrapped like any other (OpenBao does).
                match req.wrap_ttl {
                    Some(ttl) => self.wrap_response(resp, ttl, &req.path).await.map(Some),
                    None => Ok(Some(resp)),
                }
            }
            ("sys/wrapping/unwrap", Update) => {
                let body = Self::body_token(req);
                if body.is_some() && body != header {
                    return Ok(None);
                }
                let token = header.unwrap_or_default();
                self.unwrap_token(&token, req.wrap_ttl).await.map(Some)
            }
            _ => Ok(None),
        }
    }
}
