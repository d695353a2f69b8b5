//! `sys/metrics` (see `core::telemetry`) and the rate limit quota endpoints `sys/quotas/config` and
//! `sys/quotas/rate-limit[/:name]` (see `core::quotas`), with OpenBao's fields, answers and error texts.

use serde_json::{json, Map, Value};

use super::object;
use crate::core::quotas::{QuotaConfig, RateLimitQuota};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};

/// The answer for one of these paths, or `None` for another path.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let op = req.operation;
    Some(match path {
        "metrics" => metrics(core, req),
        "quotas/config" => match op {
            Operation::Read => Ok(quota_config(core)),
            Operation::Update | Operation::Create => set_quota_config(core, req).await,
            _ => Err(CoreError::UnsupportedOperation),
        },
        "quotas/rate-limit" | "quotas/rate-limit/" => match op {
            Operation::List => list(core),
            _ => Err(CoreError::UnsupportedOperation),
        },
        other => {
            let name = other.strip_prefix("quotas/rate-limit/")?;
            if !valid_name(name) {
                return Some(Err(CoreError::UnsupportedPath));
            }
            match op {
                Operation::Read => read(core, name),
                Operation::Update | Operation::Create => write(core, name, req).await,
                Operation::Delete => core
                    .delete_rate_limit_quota(name)
                    .await
                    .map(|()| Response::no_content()),
                _ => Err(CoreError::UnsupportedOperation),
            }
        }
    })
}

/// OpenBao's `framework.GenericNameRegex`: letters, digits, `-`, `_` and `.`, starting and ending with a letter or
/// digit.
fn valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    !name.is_empty()
        && name.chars().all(|c| ok(c) || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(ok)
        && name.chars().last().is_some_and(ok)
}

fn metrics(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
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
