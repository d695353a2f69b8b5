//! `Core::handle_request`: the one entry point for every request below `/v1/` that is not a seal-state endpoint.
//! In order: refuse when sealed; check the client token and consume one of its uses atomically; check the ACL
//! (and `sudo` on root-protected paths); route to the mounted backend; revoke a token whose last use this was.

use super::audit::format::{AuditInput, AuthView, MountView};
use super::{Caller, Core, CoreError, Request, Response};
use crate::core::token_store::token::TokenEntry;

/// `sys/internal/ui/mounts[/:path]` and the OpenAPI document: never refused by the ACL, they filter by it (the
/// list and the document are even readable without a token).
fn is_unauthenticated_ui_path(path: &str, op: super::Operation) -> bool {
    (op == super::Operation::Read && (path == "sys/internal/ui/mounts" || path.starts_with("sys/internal/ui/mounts/")))
        || is_openapi_request(path, op)
}

fn is_openapi_request(path: &str, op: super::Operation) -> bool {
    use super::Operation::{Create, Read, Update};
    path == "sys/internal/specs/openapi" && matches!(op, Read | Update | Create)
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

/// A request the HTTP layer serves itself, authorized and audited by [`Core::authorize_direct`].
pub struct DirectRequest {
    req: Request,
    auth: AuthView,
    /// Entries name the mount the path is under (not for the unauthenticated endpoints, as OpenBao's).
    names_mount: bool,
}

impl DirectRequest {
    pub fn id(&self) -> &str {
        &self.req.id
    }
}

/// What a request was authorized to do (the first half of the pipeline); the second half does it.
enum Plan {
    /// A wrapping-token endpoint that authenticates with the wrapping token itself.
    WrappingToken,
    /// A backend's unauthenticated path (a login).
    Login(Routed),
    /// A request run as `caller`.
    Run(Box<Caller>, Option<Routed>),
}

/// The error an audit entry records: a read of something absent answers 404 but is no error to OpenBao's audit.
fn audit_error(result: Result<(), &CoreError>) -> Option<String> {
    match result {
        Ok(()) | Err(CoreError::NotFound | CoreError::NotFoundNoBody) => None,
        Err(e) => Some(e.to_string()),
    }
}

impl Core {
    /// In order: refuse when sealed; authorize (the wrapping token, a login, or the client token: one use consumed,
    /// ACL, `sudo`); **audit the request** (refused, with nothing done, when no audit device recorded it); run it;
    /// revoke a token whose last use this was; **audit the response**.
    pub async fn handle_request(&self, req: Request) -> Result<Response, CoreError> {
        self.handle_request_with_headers(req).await.0
    }

    /// [`Core::handle_request`], with the HTTP headers the rate limit quota adds to the answer, whatever it is
    /// (`X-Ratelimit-*` when `enable_rate_limit_response_headers` is on; a refusal carries its own).
    pub async fn handle_request_with_headers(
        &self,
        mut req: Request,
    ) -> (Result<Response, CoreError>, Vec<(String, String)>) {
        let started = std::time::Instant::now();
        if self.is_sealed() {
            // Sealing a sealed server is a no-op success, as in OpenBao.
            let seal_request = req.path.trim_start_matches('/') == "sys/seal"
                && matches!(req.operation, super::Operation::Update | super::Operation::Create);
            let answer = if seal_request {
                Ok(Response::no_content())
            } else {
                Err(CoreError::Sealed)
            };
            return (answer, vec![]);
        }
        let path = req.path.trim_start_matches('/').to_string();
        if path.split('/').any(|segment| segment == "..") {
            return (Err(CoreError::InvalidRequest("invalid path".into())), vec![]);
        }
        req.path = path;

        // Rate limit quotas: a refused request is not authorized, routed or run (audited only when asked).
        let admitted = match self.apply_request_quotas(&req).await {
            Ok(admitted) => admitted,
            Err(refused) => {
                let refused = CoreError::RateLimited(Box::new(refused));
                self.audit_rate_limited(&req, &refused);
                return (Err(refused), vec![]);
            }
        };
        (self.handle_admitted(req, started).await, admitted.headers)
    }

    /// A refused request's audit entry, when `enable_rate_limit_audit_logging` is on (a failure to record it is
    /// logged, as in OpenBao: the request is refused either way).
    fn audit_rate_limited(&self, req: &Request, refused: &CoreError) {
        if !self.has_audit_devices() || !self.rate_limit_audit_logging() {
            return;
        }
        let auth = AuthView {
            token_type: "default".into(),
            ..AuthView::default()
        };
        let mount = self.audit_mount_of(&req.path);
        let input = AuditInput {
            req,
            auth: &auth,
            mount: mount.as_ref(),
            error: Some(refused.to_string()),
            response: None,
            login: false,
            shared: None,
        };
        if let Err(e) = self.audit_request(&input) {
            log::warn!("failed to audit log request rejection caused by rate limit quota violation: {e}");
        }
    }

    /// Everything after the quotas; `started` is when the request arrived (`vault.core.handle_request`).
    async fn handle_admitted(&self, mut req: Request, started: std::time::Instant) -> Result<Response, CoreError> {
        // OpenBao refuses a write to a folder before anything else (no token check, no audit): for the
        // filesystem-like backends it cannot say whether a key named `foo/` or a forgotten key was meant.
        if req.path.ends_with('/')
            && matches!(
                req.operation,
                super::Operation::Create | super::Operation::Update | super::Operation::Patch
            )
        {
            return Err(CoreError::InvalidRequest("cannot write to a path ending in '/'".into()));
        }
        // OpenBao reads the token these name before anything else (to pick its namespace): one that is not a
        // string is refused there, whoever asks.
        if matches!(
            req.path.as_str(),
            "auth/token/lookup" | "auth/token/renew" | "auth/token/revoke" | "auth/token/revoke-orphan"
        ) && req.data.get("token").is_some_and(|t| !t.is_string())
        {
            return Err(CoreError::Forbidden("invalid token".into()));
        }
        let mut auth = AuthView {
            token_type: "default".into(),
            ..AuthView::default()
        };
        let mut last_use = None;
        let checked = std::time::Instant::now();
        let plan = self.authorize(&mut req, &mut auth, &mut last_use).await;
        if let Ok(Plan::Run(caller, _)) = &plan {
            let client_id = super::in_flight::client_id(&caller.entry.policies);
            self.in_flight.set_client_id(&req.id, client_id);
        }
        let login = matches!(plan, Ok(Plan::Login(_)));
        if !login {
            crate::telemetry::measure_since("vault.core.check_token", checked);
        }
        let started = TimedRequest { started, login };

        // The audit point before: only with devices enabled is the mount looked up and an entry formatted.
        let audit_mount = self.has_audit_devices().then(|| self.audit_mount_of(&req.path));
        let shared_parts = super::audit::SharedParts::default();
        if let Some(mount) = &audit_mount {
            let input = AuditInput {
                req: &req,
                auth: &auth,
                mount: mount.as_ref(),
                error: audit_error(plan.as_ref().map(|_| ())),
                response: None,
                login,
                shared: Some(&shared_parts),
            };
            // A refused request is answered with its refusal even when it could not be recorded (as in OpenBao).
            if let (Err(refused), Ok(_)) = (self.audit_request_grouped(&input).await, &plan) {
                self.finish_token_use(last_use, &req.id).await;
                return Err(refused);
            }
        }

        let ran = plan.is_ok();
        let result = match plan {
            Ok(plan) => self.run(plan, &req).await,
            Err(e) => Err(e),
        };
        self.finish_token_use(last_use, &req.id).await;

        // The audit point after, with what the client is answered. A request refused before it was routed names no
        // mount accessor (as in OpenBao, which learns it from routing).
        if let Some(mut mount) = audit_mount {
            if let (Some(m), false) = (mount.as_mut(), ran) {
                m.accessor.clear();
            }
            let input = AuditInput {
                req: &req,
                auth: &auth,
                mount: mount.as_ref(),
                error: audit_error(result.as_ref().map(|_| ())),
                response: result.as_ref().ok(),
                login,
                // The parts are the request entry's unless the mount accessor was cleared above.
                shared: ran.then_some(&shared_parts),
            };
            self.audit_response_grouped(&input).await?;
        }
        drop(started);
        result
    }

    /// The first half of the pipeline: what the request may do, and who makes it (into `auth`). A token's use is
    /// consumed here; `last_use` names a token to revoke once the request is done.
    async fn authorize(
        &self,
        req: &mut Request,
        auth: &mut AuthView,
        last_use: &mut Option<Vec<u8>>,
    ) -> Result<Plan, CoreError> {
        // Wrapping-token endpoints that authenticate with the wrapping token itself (design step 2): lookup is
        // unauthenticated; unwrap with no other token in the body uses the header token as the wrapping token.
        if Self::is_wrapping_token_request(req) {
            // Audited as made with the wrapping token (looked up only: the unwrap itself uses it).
            if let Some(token) = req.client_token.as_ref().filter(|_| self.has_audit_devices()) {
                if let Ok(Some((_, entry))) = self.live_token(token.as_str()) {
                    *auth = audit_auth(token.as_str(), &entry);
                    auth.policy_allowed = Some(true);
                }
            }
            return Ok(Plan::WrappingToken);
        }

        // Routed once: the mount serving the path and where the path relative to it starts.
        let routed = self.router.route(&req.path).map(|(mount, relative)| Routed {
            start: req.path.len() - relative.len(),
            mount,
        });

        // A backend's unauthenticated paths (logins) run without a token.
        if let Some(r) = routed.as_ref().filter(|r| r.mount.is_unauthenticated(r.relative(req))) {
            auth.policy_allowed = Some(true);
            return Ok(Plan::Login(Routed {
                mount: r.mount.clone(),
                start: r.start,
            }));
        }

        // The UI mount listing is unauthenticated in OpenBao (the `bao kv` commands ask it first); without a token it
        // shows only what every caller may see.
        if req.client_token.is_none()
            && ((req.operation == super::Operation::Read && req.path == "sys/internal/ui/mounts")
                || is_openapi_request(&req.path, req.operation))
        {
            let caller = Caller {
                token_hash: vec![],
                entry: TokenEntry::anonymous(),
                acl: self.acl_for(&[])?,
                root_privs: false,
            };
            return Ok(Plan::Run(Box::new(caller), routed));
        }

        // The use is consumed before the ACL check, so a denied request still counts (as in OpenBao).
        let token = req.client_token.clone().ok_or(CoreError::PermissionDenied)?;
        // OpenBao's `vault.core.fetch_acl_and_token`: the token's lookup through its ACL (its use included here).
        let fetched = std::time::Instant::now();
        let (hash, entry) = self.live_token(token.as_str())?.ok_or(CoreError::PermissionDenied)?;
        // A token bound to client addresses is refused elsewhere before it is used (no use consumed).
        if !entry.usable_from(req.remote_addr) {
            return Err(CoreError::PermissionDenied);
        }
        let entry = self.use_token(&hash, entry).await?;
        if entry.num_uses == crate::core::token_store::token::LAST_USE_IN_PROGRESS {
            *last_use = Some(hash.clone());
        }
        // Only audit entries show who made the request.
        if self.has_audit_devices() {
            *auth = audit_auth(token.as_str(), &entry);
        }
        let caller = self.authorize_token(hash, entry, req, routed.as_ref()).await;
        crate::telemetry::measure_since("vault.core.fetch_acl_and_token", fetched);
        auth.policy_allowed = match &caller {
            Ok(_) => Some(true),
            Err(CoreError::AclDenied) => Some(false),
            Err(_) => None,
        };
        Ok(Plan::Run(Box::new(caller?), routed))
    }

    /// The second half of the pipeline: do what was authorized.
    async fn run(&self, plan: Plan, req: &Request) -> Result<Response, CoreError> {
        match plan {
            Plan::WrappingToken => self.handle_wrapping_token_request(req).await,
            Plan::Login(routed) => self.login(&routed.mount, routed.relative(req), req).await,
            Plan::Run(caller, routed) => self.route_and_wrap(&caller, req, routed.as_ref()).await,
        }
    }

    /// Revoke a token whose last use the request was.
    async fn finish_token_use(&self, last_use: Option<Vec<u8>>, request_id: &str) {
        if let Some(hash) = last_use {
            if let Err(e) = self.revoke_tree(&hash).await {
                log::error!("request {request_id}: revoking a used-up token failed: {e}");
            }
        }
    }

    /// The mount a request is routed to, as audit entries name it.
    fn audit_mount_of(&self, path: &str) -> Option<MountView> {
        // Only what the entry shows is copied out of the mount table.
        let tables = self.mount_tables();
        let (entry, table) = tables.matching(&super::mounts::sanitize_path(path))?;
        let (point, class) = match table {
            super::mounts::Table::Secret => (entry.path.clone(), "secret"),
            super::mounts::Table::Auth => (format!("auth/{}", entry.path), "auth"),
        };
        Some(MountView {
            point,
            kind: entry.kind.clone(),
            accessor: entry.accessor.clone(),
            class,
            running_version: super::mounts::builtin_version_str(),
            non_hmac_request_keys: entry.config.audit_non_hmac_request_keys.clone(),
            non_hmac_response_keys: entry.config.audit_non_hmac_response_keys.clone(),
        })
    }

    /// Authorize a request that the HTTP layer serves itself because its body is not JSON (snapshots): the same
    /// sealed check, token use, ACL and `sudo` checks as [`Core::handle_request`], without routing, and the same
    /// audit of the request (refused when no device records it). The HTTP layer reports the outcome with
    /// [`Core::finish_direct`], which audits the response.
    pub async fn authorize_direct(
        &self,
        token: Option<&super::ClientToken>,
        request_id: &str,
        path: &str,
        operation: super::Operation,
        (remote_addr, remote_port): (Option<std::net::IpAddr>, Option<u16>),
        headers: std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<DirectRequest, CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        let mut direct = DirectRequest {
            req: Request {
                id: request_id.to_string(),
                operation,
                path: path.to_string(),
                data: serde_json::Map::new(),
                client_token: token.cloned(),
                wrap_ttl: None,
                remote_addr,
                remote_port,
                secret: None,
                headers,
            },
            auth: AuthView {
                token_type: "default".into(),
                ..AuthView::default()
            },
            names_mount: true,
        };
        let auth = &mut direct.auth;
        let verdict = self
            .with_token_use(token, request_id, remote_addr, |_, entry| async move {
                if let Some(token) = token {
                    *auth = audit_auth(token.as_str(), &entry);
                }
                self.in_flight
                    .set_client_id(request_id, super::in_flight::client_id(&entry.policies));
                let acl = self.acl_for(&entry.policies)?;
                let decision = acl.allow_request(operation, path, &serde_json::Map::new(), None);
                let verdict = permit(&decision, self.router.is_root_path(path), false);
                auth.policy_allowed = Some(verdict.is_ok());
                verdict
            })
            .await;
        if self.has_audit_devices() {
            let mount = self.audit_mount_of(path);
            let input = AuditInput {
                req: &direct.req,
                auth: &direct.auth,
                mount: mount.as_ref(),
                error: audit_error(verdict.as_ref().map(|_| ())),
                response: None,
                login: false,
                shared: None,
            };
            let recorded = self.audit_request(&input);
            if let Err(refused) = verdict {
                self.finish_direct(&direct, Err(&refused))?;
                return Err(refused);
            }
            recorded?;
        }
        verdict.map(|()| direct)
    }

    /// Audit a request to an unauthenticated endpoint the HTTP layer serves itself (the legacy `sys/rekey/*` and
    /// `sys/generate-root/*`), before it runs, with its body's data HMAC'd as any request's (OpenBao's
    /// `handleAuditNonLogical`): refused when no audit device records it. The response entry is
    /// [`Core::finish_direct`]'s.
    pub fn audit_unauthenticated(
        &self,
        request_id: &str,
        path: &str,
        operation: super::Operation,
        data: serde_json::Map<String, serde_json::Value>,
        (remote_addr, remote_port): (Option<std::net::IpAddr>, Option<u16>),
        headers: std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<DirectRequest, CoreError> {
        let direct = DirectRequest {
            req: Request {
                id: request_id.to_string(),
                operation,
                path: path.to_string(),
                data,
                client_token: None,
                wrap_ttl: None,
                remote_addr,
                remote_port,
                secret: None,
                headers,
            },
            auth: AuthView::default(),
            names_mount: false,
        };
        if self.has_audit_devices() {
            let input = AuditInput {
                req: &direct.req,
                auth: &direct.auth,
                mount: None,
                error: None,
                response: None,
                login: false,
                shared: None,
            };
            self.audit_request(&input)?;
        }
        Ok(direct)
    }

    /// Audit the outcome of a request authorized by [`Core::authorize_direct`] (`Ok` carries what the client
    /// gets in the envelope, if anything). `Err` when no audit device recorded it.
    pub fn finish_direct(
        &self,
        direct: &DirectRequest,
        outcome: Result<Option<&Response>, &CoreError>,
    ) -> Result<(), CoreError> {
        if !self.has_audit_devices() {
            return Ok(());
        }
        let mount = direct
            .names_mount
            .then(|| self.audit_mount_of(&direct.req.path))
            .flatten();
        let input = AuditInput {
            req: &direct.req,
            auth: &direct.auth,
            mount: mount.as_ref(),
            error: audit_error(outcome.map(|_| ())),
            response: outcome.ok().flatten(),
            login: false,
            shared: None,
        };
        self.audit_response(&input)
    }

    /// Consume one use of the client token, run `work` with its hash and entry, and revoke the token if that was its
    /// last use. The use is consumed before the ACL check, so a denied request still counts (as in OpenBao).
    async fn with_token_use<T, Fut>(
        &self,
        token: Option<&super::ClientToken>,
        request_id: &str,
        remote_addr: Option<std::net::IpAddr>,
        work: impl FnOnce(Vec<u8>, TokenEntry) -> Fut,
    ) -> Result<T, CoreError>
    where
        Fut: std::future::Future<Output = Result<T, CoreError>>,
    {
        let token = token.ok_or(CoreError::PermissionDenied)?;
        let (hash, entry) = self.live_token(token.as_str())?.ok_or(CoreError::PermissionDenied)?;
        if !entry.usable_from(remote_addr) {
            return Err(CoreError::PermissionDenied);
        }
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

    /// The ACL's (and `sudo`'s) verdict on a token's request, after OpenBao's existence check.
    async fn authorize_token(
        &self,
        token_hash: Vec<u8>,
        entry: crate::core::token_store::token::TokenEntry,
        req: &mut Request,
        routed: Option<&Routed>,
    ) -> Result<Caller, CoreError> {
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
        Ok(Caller {
            token_hash,
            entry,
            acl,
            root_privs: decision.root_privs,
        })
    }

    /// Call the mounted backend and wrap a non-empty answer when asked.
    async fn route_and_wrap(
        &self,
        caller: &Caller,
        req: &Request,
        routed: Option<&Routed>,
    ) -> Result<Response, CoreError> {
        let routed = routed.ok_or_else(|| CoreError::NoHandler(req.path.clone()))?;
        let route_started = std::time::Instant::now();
        let resp = routed.mount.handle(self, caller, routed.relative(req), req).await;
        measure_route(req, &routed.mount.path, route_started);
        let resp = self.register_secret(&routed.mount, caller, req, resp?).await?;
        if let Some(auth) = &resp.auth {
            self.count_token_creation(&routed.mount.path, auth.lease_duration, None);
        }
        self.wrap_if_asked(resp, req).await
    }

    /// OpenBao's `vault.token.creation` counter: by auth method, mount, TTL bucket and token type.
    fn count_token_creation(&self, mount_path: &str, ttl_secs: u64, auth_method: Option<&'static str>) {
        let method = match auth_method {
            Some(m) => m.to_string(),
            None => self
                .matching_mount(mount_path)
                .map(|(entry, _)| entry.kind)
                .unwrap_or_else(|| "token".into()),
        };
        let cluster = self.unsealed().map(|u| u.cluster.name.clone()).unwrap_or_default();
        metrics::counter!("vault.token.creation",
            "auth_method" => method,
            "cluster" => cluster,
            "creation_ttl" => crate::telemetry::ttl_bucket(std::time::Duration::from_secs(ttl_secs)),
            "mount_point" => mount_path.to_string(),
            "namespace" => "root",
            "token_type" => "service")
        .increment(1);
    }

    /// Errors and empty answers are never wrapped.
    async fn wrap_if_asked(&self, resp: Response, req: &Request) -> Result<Response, CoreError> {
        match req.wrap_ttl {
            Some(ttl) if !resp.is_empty() && resp.wrap_info.is_none() => {
                let wrapped = self.wrap_response(resp, ttl, &req.path).await?;
                let mount = self
                    .router
                    .route(&req.path)
                    .map(|(m, _)| m.path.clone())
                    .unwrap_or_default();
                self.count_token_creation(&mount, ttl.as_secs(), Some("response_wrapping"));
                Ok(wrapped)
            }
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
        // User lockout: a locked-out alias is refused before the backend checks anything.
        let lockout = self.check_lockout(mount, relative, req).await?;
        let route_started = std::time::Instant::now();
        let handled = mount.handle(self, &caller, relative, req).await;
        measure_route(req, &mount.path, route_started);
        let mut resp = match handled {
            Err(CoreError::UnsupportedOperation) => return Err(CoreError::LoginUnsupportedOperation),
            Err(CoreError::InvalidCredentials(message)) => {
                if let Some(guard) = &lockout {
                    self.record_failed_login(guard).await?;
                }
                return Err(CoreError::InvalidCredentials(message));
            }
            other => other?,
        };
        if let Some(asked) = resp.auth.take() {
            let system = mount
                .system_view()
                .ok_or_else(|| CoreError::InvalidRequest("this backend cannot log in".into()))?;
            let (issued, warnings) = self.issue_login_token(asked, &mount.path, system, &req.path).await?;
            self.count_token_creation(&mount.path, issued.lease_duration, None);
            resp.auth = Some(issued);
            resp.warnings.extend(warnings);
            if let Some(guard) = &lockout {
                self.clear_failed_logins(guard).await?;
            }
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

    /// `sys/wrapping/lookup`, and `sys/wrapping/unwrap` with no other token in the body than the header's.
    fn is_wrapping_token_request(req: &Request) -> bool {
        use super::Operation::{Read, Update};
        match (req.path.as_str(), req.operation) {
            ("sys/wrapping/lookup", Read | Update) => true,
            ("sys/wrapping/unwrap", Update) => {
                let body = Self::body_token(req);
                body.is_none() || body.as_deref() == req.client_token.as_ref().map(|t| t.as_str())
            }
            _ => false,
        }
    }

    /// Serve a request [`Core::is_wrapping_token_request`] accepted. Both honour a requested wrap TTL, as every
    /// other endpoint does.
    async fn handle_wrapping_token_request(&self, req: &Request) -> Result<Response, CoreError> {
        let header = req.client_token.as_ref().map(|t| t.as_str().to_string());
        if req.path == "sys/wrapping/lookup" {
            let token = Self::body_token(req).or(header).unwrap_or_default();
            let resp = self.lookup_wrapping(&token)?;
            // Asked for a wrapped answer: the lookup's answer is wrapped like any other (OpenBao does).
            return match req.wrap_ttl {
                Some(ttl) => self.wrap_response(resp, ttl, &req.path).await,
                None => Ok(resp),
            };
        }
        self.unwrap_token(&header.unwrap_or_default(), req.wrap_ttl).await
    }
}

/// OpenBao's `vault.route.<operation>.<mount with dashes>` timing of a backend's handling.
fn measure_route(req: &Request, mount_path: &str, started: std::time::Instant) {
    crate::telemetry::measure_since_named(
        format!(
            "vault.route.{}.{}",
            req.operation.as_str(),
            mount_path.replace('/', "-")
        ),
        started,
    );
}

/// Records `vault.core.handle_request` (or `handle_login_request`) when the request is done.
struct TimedRequest {
    started: std::time::Instant,
    login: bool,
}

impl Drop for TimedRequest {
    fn drop(&mut self) {
        let name = if self.login {
            "vault.core.handle_login_request"
        } else {
            "vault.core.handle_request"
        };
        crate::telemetry::measure_since(name, self.started);
    }
}

/// The `auth` block of an audit entry for a request made with `token`.
fn audit_auth(token: &str, entry: &TokenEntry) -> AuthView {
    let token_policies: Vec<String> = entry.policies.clone();
    AuthView {
        client_token: zeroize::Zeroizing::new(token.to_string()),
        accessor: entry.accessor.clone(),
        display_name: entry.display_name.clone(),
        policies: token_policies.clone(),
        token_policies,
        metadata: entry.meta.clone(),
        token_type: "service".into(),
        token_ttl: entry.ttl as i64,
        // Whole seconds (OpenBao's `IssueTime` has no fraction here).
        token_issue_time: crate::framework::fields::rfc3339_nano(
            entry.issue_time.div_euclid(1_000_000_000).saturating_mul(1_000_000_000),
        ),
        // OpenBao's uses left after this one (0 on the last, shown as nothing).
        remaining_uses: entry.num_uses.max(0),
        ..AuthView::default()
    }
}
