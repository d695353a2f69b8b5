//! `sys/locked-users` (read: the aliases locked out now, by mount accessor, in OpenBao's shape) and
//! `sys/locked-users/:mount_accessor/unlock/:alias_identifier` (write: unlock). See `core::lockout`.

use serde_json::{json, Map, Value};

use super::{is_write, require};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::refuse_write_to_folder;

/// Serve `path` (relative to `sys/`) if it is a locked-users endpoint; `None` for every other path.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let op = req.operation;
    if path == "locked-users" {
        // A LIST asks for `locked-users/`, a path OpenBao does not have.
        if op == Operation::List {
            return Some(Err(CoreError::UnsupportedPath));
        }
        return Some(require(op == Operation::Read).and_then(|()| list(core, req)));
    }
    let rest = path.strip_prefix("locked-users/")?;
    if is_write(op) && rest.ends_with('/') {
        return Some(refuse_write_to_folder(op, &req.path).map(|()| Response::no_content()));
    }
    // OpenBao's pattern `locked-users/(?P<mount_accessor>.+?)/unlock/(?P<alias_identifier>.+)`.
    let (accessor, alias) = rest.split_once("/unlock/")?;
    if accessor.is_empty() || alias.is_empty() {
        return None;
    }
    Some(unlock(core, op, accessor, alias).await)
}

async fn unlock(core: &Core, op: Operation, accessor: &str, alias: &str) -> Result<Response, CoreError> {
    require(is_write(op))?;
    core.unlock_user(accessor, alias).await?;
    Ok(Response::no_content())
}

fn list(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let accessor = fields::string(&req.data, "mount_accessor")?.filter(|a| !a.is_empty());
    let locked = core.locked_users(accessor.as_deref())?;
    let mut by_accessor: Vec<(String, Value)> = locked
        .into_iter()
        .map(|(accessor, aliases)| (accessor, json!(aliases)))
        .collect();
    // Asked for one accessor: it is listed even with nobody locked (its aliases `null`, as OpenBao's nil list).
    if let Some(asked) = &accessor {
        if by_accessor.is_empty() {
            by_accessor.push((asked.clone(), Value::Null));
        }
    }
    let count = |aliases: &Value| aliases.as_array().map_or(0, Vec::len);
    // By decreasing count (a stable sort keeps accessors of equal counts in order).
    by_accessor.sort_by_key(|(_, aliases)| std::cmp::Reverse(count(aliases)));
    let total: usize = by_accessor.iter().map(|(_, a)| count(a)).sum();
    let mount_accessors: Vec<Value> = by_accessor
        .iter()
        .map(|(accessor, aliases)| {
            json!({"mount_accessor": accessor, "counts": count(aliases), "alias_identifiers": aliases})
        })
        .collect();
    let mut data = Map::new();
    data.insert(
        "by_namespace".into(),
        json!([{"namespace_id": "root", "namespace_path": "", "counts": total, "mount_accessors": mount_accessors}]),
    );
    data.insert("total".into(), json!(total));
    Ok(Response::with_data(data))
}
