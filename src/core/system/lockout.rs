//! `sys/locked-users` (read: the aliases locked out now, by mount accessor, in OpenBao's shape) and
//! `sys/locked-users/:mount_accessor/unlock/:alias_identifier` (write: unlock). See `core::lockout`.

use serde_json::{json, Map, Value};

use super::{Handler, SystemBackend};
use crate::core::{fields, Core, CoreError, Operation, Request, Response};
use crate::framework::{field, Display, Kind, PathSpec, PathTable};

/// The locked-users endpoints. (A LIST of `sys/locked-users` asks for `locked-users/`, a path OpenBao does not have;
/// a create or update of a folder below it is refused before routing.)
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "locked-users",
            fields: &[field("mount_accessor", Kind::Str)
                .desc("MountAccessor is the identifier of the mount entry to which the user belongs")
                .query()],
            operations: &[(Operation::Read, list_locked)],
            existence: None,
            help: "Report the locked user count metrics",
            display: Display::new("locked-users", "list", ""),
        },
        PathSpec {
            // OpenBao's pattern `locked-users/(?P<mount_accessor>.+?)/unlock/(?P<alias_identifier>.+)`.
            pattern: "locked-users/{+mount_accessor}/unlock/{+alias_identifier}",
            fields: &[
                field("mount_accessor", Kind::Str)
                    .desc("MountAccessor is the identifier of the mount entry to which the user belongs"),
                field("alias_identifier", Kind::Str).desc("It is the name of the alias (user). For example, if the alias belongs to userpass backend, the name should be a valid username within userpass auth method. If the alias belongs to an approle auth method, the name should be a valid RoleID"),
            ],
            operations: &[(Operation::Update, unlock)],
            existence: None,
            help: "Unlock the locked user with given mount_accessor and alias_identifier.",
            display: Display::new("locked-users", "unlock", ""),
        },
    ],
};

handler!(list_locked, |core, _, req, _| list(core, req));

handler!(unlock, |core, _, _, m| {
    core.unlock_user(m.get("mount_accessor"), m.get("alias_identifier"))
        .await?;
    Ok(Response::no_content())
});

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
