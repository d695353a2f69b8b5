//! `sys/metrics` (see `core::telemetry`) and the rate limit quota endpoints `sys/quotas/config` and
//! `sys/quotas/rate-limit[/:name]` (see `core::quotas`), with OpenBao's fields, answers and error texts.

use serde_json::{json, Map, Value};

use super::{object, Handler, SystemBackend};
use crate::core::quotas::{QuotaConfig, RateLimitQuota};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, Display, Kind, PathSpec, PathTable};

/// `sys/metrics` and the rate limit quota endpoints. (A quota name that is no name is refused as an unknown path
/// before routing.)
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "metrics",
            fields: &[field("format", Kind::Str)
                .desc("Format to export metrics into. Currently accepts only \"prometheus\".")
                .query()],
            operations: &[(Operation::Read, read_metrics)],
            existence: None,
            help: "Export the metrics aggregated for telemetry purpose.",
            display: Display::new("", "metrics", ""),
        },
        PathSpec {
            pattern: "quotas/config",
            fields: &[
                field("rate_limit_exempt_paths", Kind::Strings).desc("Specifies the list of exempt paths from all rate limit quotas. If empty no paths will be exempt."),
                field("enable_rate_limit_audit_logging", Kind::Bool).desc("If set, starts audit logging of requests that get rejected due to rate limit quota rule violations."),
                field("enable_rate_limit_response_headers", Kind::Bool).desc("If set, additional rate limit quota HTTP headers will be added to responses."),
            ],
            operations: &[(Operation::Read, read_config), (Operation::Update, write_config)],
            existence: None,
            help: "Create, update and read the quota configuration.",
            display: Display {
                per_op: &[(Operation::Read, "read", "configuration"), (Operation::Update, "configure", "")],
                ..Display::new("rate-limit-quotas", "", "")
            },
        },
        PathSpec {
            pattern: "quotas/rate-limit",
            fields: &[],
            operations: &[(Operation::List, list_quotas)],
            existence: None,
            help: "Lists the names of all the rate limit quotas.",
            display: Display::new("rate-limit-quotas", "list", ""),
        },
        PathSpec {
            pattern: "quotas/rate-limit/",
            fields: &[],
            operations: &[(Operation::List, list_quotas)],
            existence: None,
            help: "Lists the names of all the rate limit quotas.",
            display: Display::new("rate-limit-quotas", "list", ""),
        },
        PathSpec {
            pattern: "quotas/rate-limit/{name}",
            fields: &[
                field("name", Kind::Str).desc("Name of the quota rule."),
                field("type", Kind::Str).desc("Type of the quota rule."),
                field("path", Kind::Str).desc("Path of the mount or namespace to apply the quota. A blank path configures a global quota. For example namespace1/ adds a quota to a full namespace, namespace1/auth/userpass adds a quota to userpass in namespace1."),
                field("role", Kind::Str).desc("Login role to apply this quota to. Note that when set, path must be configured to a valid auth method with a concept of roles."),
                field("rate", Kind::Str).desc("The maximum number of requests in a given interval to be allowed by the quota rule. The 'rate' must be positive."),
                field("interval", Kind::Duration).desc("The duration to enforce rate limiting for (default '1s')."),
                field("block_interval", Kind::Duration).desc("If set, when a client reaches a rate limit threshold, the client will be prohibited from any further requests until after the 'block_interval' has elapsed."),
            ],
            operations: &[
                (Operation::Read, read_quota),
                (Operation::Update, write_quota),
                (Operation::Delete, delete_quota),
            ],
            existence: None,
            help: "Get, create or update rate limit resource quota for an optional namespace or mount.",
            display: Display {
                per_op: &[
                    (Operation::Read, "read", ""),
                    (Operation::Update, "write", ""),
                    (Operation::Delete, "delete", ""),
                ],
                ..Display::new("rate-limit-quotas", "", "")
            },
        },
    ],
};

handler!(read_metrics, |core, _, req, _| metrics(core, req));
handler!(read_config, |core, _, _, _| Ok(quota_config(core)));
handler!(write_config, |core, _, req, _| set_quota_config(core, req).await);
handler!(list_quotas, |core, _, _, _| list(core));
handler!(read_quota, |core, _, _, m| read(core, m.get("name")));
handler!(write_quota, |core, _, req, m| write(core, m.get("name"), req).await);
handler!(delete_quota, |core, _, _, m| core
    .delete_rate_limit_quota(m.get("name"))
    .await
    .map(|()| Response::no_content()));

/// A quota name as OpenBao's pattern takes it.
pub(super) fn valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    !name.is_empty()
        && name.chars().all(|c| ok(c) || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(ok)
        && name.chars().last().is_some_and(ok)
}

fn metrics(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let format = fields::string(&req.data, "format")?.unwrap_or_default();
    Ok(core.metrics_response(&format))
}

fn quota_config(core: &Core) -> Response {
    let config = core.quota_config();
    Response::with_data(object(json!({
        "enable_rate_limit_audit_logging": config.enable_rate_limit_audit_logging,
        "enable_rate_limit_response_headers": config.enable_rate_limit_response_headers,
        "rate_limit_exempt_paths": config.rate_limit_exempt_paths,
    })))
}

/// As OpenBao, every field is set from the request: one left out goes back to false or an empty list.
async fn set_quota_config(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let config = QuotaConfig {
        enable_rate_limit_audit_logging: fields::boolean(&req.data, "enable_rate_limit_audit_logging")?
            .unwrap_or(false),
        enable_rate_limit_response_headers: fields::boolean(&req.data, "enable_rate_limit_response_headers")?
            .unwrap_or(false),
        rate_limit_exempt_paths: fields::string_slice(&req.data, "rate_limit_exempt_paths")?.unwrap_or_default(),
    };
    core.set_quota_config(config).await?;
    Ok(Response::no_content())
}

fn list(core: &Core) -> Result<Response, CoreError> {
    let names = core.rate_limit_quota_names();
    if names.is_empty() {
        return Err(CoreError::NotFound);
    }
    let mut data = Map::new();
    data.insert("keys".into(), json!(names));
    Ok(Response::with_data(data))
}

fn read(core: &Core, name: &str) -> Result<Response, CoreError> {
    let quota = core.rate_limit_quota(name).ok_or(CoreError::NotFound)?;
    Ok(Response::with_data(object(json!({
        "type": "rate-limit",
        "name": quota.name,
        "path": quota.path(),
        "role": quota.role,
        "rate": crate::telemetry::number(quota.rate),
        "interval": quota.interval_secs,
        "block_interval": quota.block_interval_secs,
        "inheritable": quota.inheritable,
    }))))
}

/// A `TypeFloat` field as OpenBao's decoder reads it (numbers, numeric text, booleans).
fn float(data: &Map<String, Value>, key: &str) -> Result<Option<f64>, CoreError> {
    let invalid = |why: &str| {
        CoreError::InvalidRequest(format!(
            "Field validation failed: error converting input for field {key:?}: {why}"
        ))
    };
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::Bool(b)) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(0.0)),
        Some(Value::String(s)) => s
            .parse::<f64>()
            .map(Some)
            .map_err(|_| invalid("'' cannot parse value as 'float64': strconv.ParseFloat: invalid syntax")),
        Some(other) => Err(invalid(&format!(
            "'' expected type 'float64', got unconvertible type '{}'",
            go_type(other)
        ))),
    }
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

/// A duration field with OpenBao's framework prefix on its errors.
fn duration(data: &Map<String, Value>, key: &str) -> Result<u64, CoreError> {
    fields::duration_secs(data, key).map_err(|e| match e {
        CoreError::InvalidRequest(why) => CoreError::InvalidRequest(format!("Field validation failed: {why}")),
        other => other,
    })
}

async fn write(core: &Core, name: &str, req: &Request) -> Result<Response, CoreError> {
    // The framework decodes every field before the handler runs.
    let rate = float(&req.data, "rate")?.unwrap_or(0.0);
    let interval = duration(&req.data, "interval")?;
    let block_interval = duration(&req.data, "block_interval")?;
    let path = fields::string(&req.data, "path")?.unwrap_or_default();
    let role = fields::string(&req.data, "role")?.unwrap_or_default();
    let inheritable = fields::boolean(&req.data, "inheritable")?;
    if rate <= 0.0 || !rate.is_finite() {
        return Err(CoreError::InvalidRequest("'rate' is invalid".into()));
    }
    let (mount_path, path_suffix) = core.quota_scope(&path)?;
    if !role.is_empty() {
        if !path_suffix.is_empty() {
            return Err(CoreError::InvalidRequest(
                "Quotas cannot contain both a path suffix and a role. If a role is provided, path must be a valid \
                 auth mount with a concept of roles"
                    .into(),
            ));
        }
        if !mount_path.starts_with("auth/") {
            return Err(CoreError::InvalidRequest(format!(
                "Mount path {mount_path:?} is not a valid auth method and therefore unsuitable for use with \
                 role-based quotas"
            )));
        }
        if !core.mount_resolves_roles(&mount_path) {
            return Err(CoreError::InvalidRequest(format!(
                "Mount path {mount_path:?} does not support use with role-based quotas"
            )));
        }
    }
    let quota = RateLimitQuota {
        name: name.to_string(),
        inheritable: inheritable.unwrap_or(mount_path.is_empty()),
        mount_path,
        path_suffix,
        role,
        rate,
        interval_secs: if interval == 0 { 1 } else { interval },
        block_interval_secs: block_interval,
    };
    core.write_rate_limit_quota(quota).await?;
    Ok(Response::no_content())
}
