//! `sys/leases/*`: the expiration manager's endpoints, with OpenBao 2.7.2's fields, statuses and texts.
//! (`sys/renew/:id` and `sys/revoke/:id` are gone from OpenBao 2.7 and are 404 here too.)

use std::time::Duration;

use serde_json::{json, Map};

use super::{Handler, SystemBackend};
use crate::core::token_store::token::now_ns;
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, Display, Field, FieldDefault, Kind, PathSpec, PathTable};

/// The lease id of a request: the `lease_id` field, else the rest of the URL.
fn lease_id(req: &Request, from_url: Option<&str>) -> Result<String, CoreError> {
    let field = fields::string(&req.data, "lease_id")?.unwrap_or_default();
    Ok(if field.is_empty() {
        from_url.unwrap_or_default().to_string()
    } else {
        field
    })
}

const LEASE_ID: Field =
    field("lease_id", Kind::Str).desc("The lease identifier to renew. This is included with a lease.");
const URL_LEASE_ID: Field =
    field("url_lease_id", Kind::Str).desc("The lease identifier to renew. This is included with a lease.");
const SYNC: Field = field("sync", Kind::Bool)
    .desc("Whether or not to perform the revocation synchronously")
    .default(FieldDefault::Bool(true));
const INCREMENT: Field = field("increment", Kind::Duration).desc("The desired increment in seconds to the lease");
const TYPE: Field = field("type", Kind::Str)
    .desc("Type of leases to get counts for (currently only supporting irrevocable).")
    .query();
const REVOKE_PREFIX: Field =
    field("prefix", Kind::Str).desc("The path to revoke keys under. Example: \"prod/aws/ops\"");

/// The lease endpoints. (A create or update of a folder below `sys/leases/` is refused before routing; any other
/// path below it is unknown.)
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "leases",
            fields: &[TYPE],
            operations: &[(Operation::Read, list_irrevocable)],
            existence: None,
            help: "List leases associated with this OpenBao cluster",
            display: Display::new("leases", "list", ""),
        },
        PathSpec {
            pattern: "leases/lookup",
            fields: &[LEASE_ID],
            operations: &[(Operation::Update, read_lease)],
            existence: None,
            help: "View or list lease metadata.",
            display: Display::new("leases", "read", "lease"),
        },
        PathSpec {
            pattern: "leases/lookup/{*prefix}",
            fields: &[field("prefix", Kind::Str).desc("The path to list leases under. Example: \"aws/creds/deploy\"")],
            operations: &[(Operation::List, list_leases)],
            existence: None,
            help: "View or list lease metadata.",
            display: Display::new("leases", "look-up", "with-prefix"),
        },
        PathSpec {
            pattern: "leases/renew",
            fields: &[INCREMENT, LEASE_ID, URL_LEASE_ID],
            operations: &[(Operation::Update, renew_lease)],
            existence: None,
            help: "Renew a lease on a secret",
            display: Display::new("leases", "renew", "lease2"),
        },
        PathSpec {
            pattern: "leases/renew/{*url_lease_id}",
            fields: &[URL_LEASE_ID, INCREMENT, LEASE_ID],
            operations: &[(Operation::Update, renew_lease_in_url)],
            existence: None,
            help: "Renew a lease on a secret",
            display: Display::new("leases", "renew", "lease"),
        },
        PathSpec {
            pattern: "leases/revoke",
            fields: &[LEASE_ID, SYNC, URL_LEASE_ID],
            operations: &[(Operation::Update, revoke_lease)],
            existence: None,
            help: "Revoke a leased secret immediately",
            display: Display::new("leases", "revoke", "lease2"),
        },
        PathSpec {
            pattern: "leases/revoke/{*url_lease_id}",
            fields: &[URL_LEASE_ID, LEASE_ID, SYNC],
            operations: &[(Operation::Update, revoke_lease_in_url)],
            existence: None,
            help: "Revoke a leased secret immediately",
            display: Display::new("leases", "revoke", "lease"),
        },
        PathSpec {
            pattern: "leases/revoke-prefix/{+prefix}",
            fields: &[REVOKE_PREFIX, SYNC],
            operations: &[(Operation::Update, revoke_prefix)],
            existence: None,
            help: "Revoke all secrets generated in a given prefix",
            display: Display::new("leases", "revoke", "lease-with-prefix2"),
        },
        PathSpec {
            pattern: "leases/revoke-force/{+prefix}",
            fields: &[REVOKE_PREFIX],
            operations: &[(Operation::Update, revoke_force)],
            existence: None,
            help: "Revoke all secrets generated in a given prefix, ignoring errors.",
            display: Display::new("leases", "force-revoke", "lease-with-prefix2"),
        },
        PathSpec {
            pattern: "leases/tidy",
            fields: &[],
            operations: &[(Operation::Update, tidy_leases)],
            existence: None,
            help: "This endpoint performs cleanup tasks that can be run if certain error conditions have occurred.",
            display: Display::new("leases", "tidy", ""),
        },
        PathSpec {
            pattern: "leases/count",
            fields: &[TYPE],
            operations: &[(Operation::Read, count_leases)],
            existence: None,
            help: "Count of leases associated with this OpenBao cluster",
            display: Display::new("leases", "count", ""),
        },
    ],
};

handler!(list_irrevocable, |core, _, req, _| irrevocable(core, req));
handler!(read_lease, |core, _, req, _| lookup(core, req));
handler!(list_leases, |core, _, _, m| list(core, m.get("prefix")));
handler!(renew_lease, |core, _, req, _| renew(core, req, None).await);
handler!(renew_lease_in_url, |core, _, req, m| renew(
    core,
    req,
    Some(m.get("url_lease_id"))
)
.await);
handler!(revoke_lease, |core, _, req, _| revoke(core, req, None).await);
handler!(revoke_lease_in_url, |core, _, req, m| revoke(
    core,
    req,
    Some(m.get("url_lease_id"))
)
.await);
handler!(revoke_prefix, |core, _, _, m| core
    .revoke_lease_prefix(m.get("prefix"), false)
    .await
    .map(|_| Response::no_content()));
handler!(revoke_force, |core, _, _, m| core
    .revoke_lease_prefix(m.get("prefix"), true)
    .await
    .map(|_| Response::no_content()));
handler!(tidy_leases, |core, _, _, _| tidy(core).await);
handler!(count_leases, |core, _, req, _| count(core, req));

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
