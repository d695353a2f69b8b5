//! `sys/leases/*`: the expiration manager's endpoints, with OpenBao 2.7.2's fields, statuses and texts.
//! (`sys/renew/:id` and `sys/revoke/:id` are gone from OpenBao 2.7 and are 404 here too.)

use std::time::Duration;

use serde_json::{json, Map};

use super::{is_write, require};
use crate::core::token_store::token::now_ns;
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::refuse_write_to_folder;

/// The lease id of a request: the `lease_id` field, else the rest of the URL.
fn lease_id(req: &Request, from_url: Option<&str>) -> Result<String, CoreError> {
    let field = fields::string(&req.data, "lease_id")?.unwrap_or_default();
    Ok(if field.is_empty() {
        from_url.unwrap_or_default().to_string()
    } else {
        field
    })
}

/// Serve `path` (relative to `sys/`) if it is a lease endpoint; `None` for every other path.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let op = req.operation;
    let rest = path.strip_prefix("leases")?;
    if rest.is_empty() {
        return Some(require(op == Operation::Read).and_then(|()| irrevocable(core, req)));
    }
    let rest = rest.strip_prefix('/')?;
    let (endpoint, tail) = match rest.split_once('/') {
        Some((endpoint, tail)) => (endpoint, Some(tail)),
        None => (rest, None),
    };
    if is_write(op) {
        if let Err(e) = refuse_write_to_folder(op, &req.path) {
            return Some(Err(e));
        }
    }
    Some(match (endpoint, tail) {
        ("lookup", None) => match require(is_write(op)) {
            Ok(()) => lookup(core, req),
            Err(e) => Err(e),
        },
        ("lookup", Some(prefix)) => require(op == Operation::List).and_then(|()| list(core, prefix)),
        ("renew", tail) => match require(is_write(op)) {
            Ok(()) => renew(core, req, tail).await,
            Err(e) => Err(e),
        },
        ("revoke", tail) => match require(is_write(op)) {
            Ok(()) => revoke(core, req, tail).await,
            Err(e) => Err(e),
        },
        ("revoke-prefix" | "revoke-force", Some(prefix)) if !prefix.is_empty() => match require(is_write(op)) {
            Ok(()) => core
                .revoke_lease_prefix(prefix, endpoint == "revoke-force")
                .await
                .map(|_| Response::no_content()),
            Err(e) => Err(e),
        },
        ("tidy", None) => match require(is_write(op)) {
            Ok(()) => tidy(core).await,
            Err(e) => Err(e),
        },
        ("count", None) => require(op == Operation::Read).and_then(|()| count(core, req)),
        _ => Err(CoreError::UnsupportedPath),
    })
}

fn lookup(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let id = lease_id(req, None)?;
    let view = core.lookup_lease(&id)?;
    Ok(Response::with_data(view.lookup_data(now_ns())))
}

fn list(core: &Core, prefix: &str) -> Result<Response, CoreError> {
    let keys = core.list_leases(prefix)?;
    if keys.is_empty() {
        return Err(CoreError::NotFound);
    }
    let mut data = Map::new();
    data.insert("keys".into(), json!(keys));
    Ok(Response::with_data(data))
}

async fn renew(core: &Core, req: &Request, from_url: Option<&str>) -> Result<Response, CoreError> {
    let id = lease_id(req, from_url)?;
    // Decoded first, as OpenBao's framework does, so a bad increment is refused before the lease is looked at.
    let increment = fields::duration_secs(&req.data, "increment").map_err(|e| match e {
        CoreError::InvalidRequest(why) => CoreError::InvalidRequest(format!("Field validation failed: {why}")),
        other => other,
    })?;
    core.renew_lease(&id, Duration::from_secs(increment)).await
}

async fn revoke(core: &Core, req: &Request, from_url: Option<&str>) -> Result<Response, CoreError> {
    let id = lease_id(req, from_url)?;
    fields::boolean(&req.data, "sync")?;
    core.revoke_lease(&id).await?;
    Ok(Response::no_content())
}

async fn tidy(core: &Core) -> Result<Response, CoreError> {
    let summary = core.tidy_leases().await?;
    log::info!("lease tidy: {summary}");
    Ok(Response {
        warnings: vec![
            "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's \
             server logs."
                .into(),
        ],
        status: Some(202),
        ..Default::default()
    })
}

/// The `type` parameter of the irrevocable-lease endpoints: only `irrevocable` is answered (anything else is
/// OpenBao's empty 404).
fn irrevocable_type(req: &Request) -> Result<(), CoreError> {
    match fields::string(&req.data, "type")?.as_deref() {
        Some("irrevocable") => Ok(()),
        _ => Err(CoreError::NotFound),
    }
}

/// `sys/leases/count?type=irrevocable`: irrevocable secret leases, in all and per mount path (token leases never
/// become irrevocable: revoking one calls no backend).
fn count(core: &Core, req: &Request) -> Result<Response, CoreError> {
    irrevocable_type(req)?;
    let leases = core.irrevocable_leases()?;
    let mut counts = Map::new();
    for (_, mount, _) in &leases {
        let n = counts.get(mount).and_then(|v| v.as_u64()).unwrap_or(0);
        counts.insert(mount.clone(), json!(n + 1));
    }
    let mut data = Map::new();
    data.insert("counts".into(), json!(counts));
    data.insert("lease_count".into(), json!(leases.len()));
    Ok(Response::with_data(data))
}

/// `sys/leases?type=irrevocable`: each irrevocable lease with its mount and the error its last revoke attempt got.
fn irrevocable(core: &Core, req: &Request) -> Result<Response, CoreError> {
    irrevocable_type(req)?;
    let leases = core.irrevocable_leases()?;
    let listed: Vec<_> = leases
        .iter()
        .map(|(id, mount, error)| json!({"lease_id": id, "mount": mount, "error": error}))
        .collect();
    let mut data = Map::new();
    data.insert("lease_count".into(), json!(listed.len()));
    data.insert("leases".into(), json!(listed));
    Ok(Response::with_data(data))
}
