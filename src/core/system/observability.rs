//! `sys/host-info`, `sys/in-flight-req`, `sys/config/state/sanitized` and the `sys/internal/counters/...` paths
//! OpenBao 2.7.2 serves (`tokens`, `entities`, and `requests`, which it answers as removed; `activity` and `config`
//! are not served there either).

use serde_json::json;

use super::object as data;
use super::{Handler, SystemBackend};
use crate::core::{CoreError, Operation, Response};
use crate::framework::{Display, PathSpec, PathTable};
use crate::storage::Tree;

/// The observability endpoints: reads only.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "host-info",
            fields: &[],
            operations: &[(Operation::Read, host_info)],
            existence: None,
            help: "Information about the host instance that this OpenBao server is running on.",
            display: Display::new("", "collect", "host-information"),
        },
        PathSpec {
            pattern: "in-flight-req",
            fields: &[],
            operations: &[(Operation::Read, in_flight)],
            existence: None,
            help: "reports in-flight requests",
            display: Display::new("", "collect", "in-flight-request-information"),
        },
        PathSpec {
            pattern: "config/state/sanitized",
            fields: &[],
            operations: &[(Operation::Read, sanitized_config)],
            existence: None,
            help: "Return a sanitized version of the OpenBao server configuration.",
            display: Display::new("", "read", "sanitized-configuration-state"),
        },
        PathSpec {
            pattern: "internal/counters/tokens",
            fields: &[],
            operations: &[(Operation::Read, count_tokens)],
            existence: None,
            help: "Count of active tokens. Internal API; its location, inputs, and outputs may change.",
            display: Display::new("internal", "count", "tokens"),
        },
        PathSpec {
            pattern: "internal/counters/entities",
            fields: &[],
            operations: &[(Operation::Read, count_entities)],
            existence: None,
            help: "Count of active entities. Internal API; its location, inputs, and outputs may change.",
            display: Display::new("internal", "count", "entities"),
        },
        PathSpec {
            pattern: "internal/counters/requests",
            fields: &[],
            operations: &[(Operation::Read, count_requests)],
            existence: None,
            help: "Count of requests seen by this OpenBao cluster over time. Removed: the functionality is gone from this path.",
            display: Display::new("internal", "count", "requests"),
        },
    ],
};

handler!(host_info, |_, _, _, _| {
    let (data, warnings) = super::host_info::collect();
    Ok(Response {
        warnings,
        ..Response::with_data(data)
    })
});

// A raw JSON body (no envelope), as OpenBao answers it.
handler!(in_flight, |core, _, _, _| Ok(Response {
    raw: Some((
        "application/json".into(),
        serde_json::Value::Object(core.in_flight.snapshot())
            .to_string()
            .into_bytes(),
    )),
    ..Default::default()
}));

handler!(sanitized_config, |core, _, _, _| Ok(Response::with_data(
    core.settings.sanitized_config.clone()
)));

handler!(count_tokens, |core, _, _, _| {
    let total = core.storage.keys_with_prefix(Tree::Tokens, b"")?.len();
    Ok(Response::with_data(data(
        json!({ "counters": { "service_tokens": { "total": total } } }),
    )))
});

// No identity store: there are no entities to count.
handler!(count_entities, |_, _, _, _| Ok(Response::with_data(data(
    json!({ "counters": { "entities": { "total": 0 } } })
))));

handler!(count_requests, |_, _, _, _| Err(CoreError::NotFoundMessage(
    "The functionality has been removed on this path".into(),
)));
