//! `sys/tools/hash[/:algorithm]` and `sys/tools/random[/:source][/:bytes]`: OpenBao's key-less tools, answered by
//! the same code as transit's `hash` and `random` (`crate::framework::tools`). Writes only; any token whose policy
//! grants `update` on the path may call them (the default policy grants `sys/tools/hash`).

use super::{Handler, SystemBackend};
use crate::core::{CoreError, Operation, Request};
use crate::framework::{tools, Display, Fields, PathSpec, PathTable};

const HASH_HELP: &str = "Generate a hash sum for input data";
const RANDOM_HELP: &str = "Generate random bytes";

/// The tools: writes only. (A write to a folder below them is refused before routing.) Below `tools/random/` the
/// handler reads what the pattern captured as one text, so the paths that only differ in their captures' names
/// (`{source}`, `{urlbytes}`) and the unpublished catch-alls answer alike.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "tools/hash",
            fields: tools::HASH_FIELDS,
            operations: &[(Operation::Update, hash)],
            existence: None,
            help: HASH_HELP,
            display: Display::new("", "generate", "hash"),
        },
        PathSpec {
            pattern: "tools/hash/{urlalgorithm}",
            fields: tools::HASH_FIELDS,
            operations: &[(Operation::Update, hash)],
            existence: None,
            help: HASH_HELP,
            display: Display::new("", "generate", "hash-with-algorithm"),
        },
        PathSpec {
            pattern: "tools/hash/{*urlalgorithm}",
            fields: tools::HASH_FIELDS,
            operations: &[(Operation::Update, hash)],
            existence: None,
            help: HASH_HELP,
            display: Display {
                unpublished: true,
                ..Display::NONE
            },
        },
        PathSpec {
            pattern: "tools/random",
            fields: tools::RANDOM_FIELDS,
            operations: &[(Operation::Update, random)],
            existence: None,
            help: RANDOM_HELP,
            display: Display::new("", "generate", "random"),
        },
        PathSpec {
            pattern: "tools/random/{source}/{urlbytes}",
            fields: tools::RANDOM_FIELDS,
            operations: &[(Operation::Update, random_below)],
            existence: None,
            help: RANDOM_HELP,
            display: Display::new("", "generate", "random-with-source-and-bytes"),
        },
        PathSpec {
            pattern: "tools/random/{urlbytes}",
            fields: tools::RANDOM_FIELDS,
            operations: &[(Operation::Update, random_below)],
            existence: None,
            help: RANDOM_HELP,
            display: Display::new("", "generate", "random-with-bytes"),
        },
        PathSpec {
            pattern: "tools/random/{source}",
            fields: tools::RANDOM_FIELDS,
            operations: &[(Operation::Update, random_below)],
            existence: None,
            help: RANDOM_HELP,
            display: Display::new("", "generate", "random-with-source"),
        },
        PathSpec {
            pattern: "tools/random/{*rest}",
            fields: tools::RANDOM_FIELDS,
            operations: &[(Operation::Update, random_below)],
            existence: None,
            help: RANDOM_HELP,
            display: Display {
                unpublished: true,
                ..Display::NONE
            },
        },
    ],
};

handler!(hash, |_, _, req, m| {
    Fields::new(&req.data, tools::HASH_FIELDS).validate(true)?;
    tools::hash(&req.data, m.get("urlalgorithm"), tools::Input::Optional)
});

handler!(random, |_, _, req, _| random_from(req, ""));

// Below `tools/random/`: what follows it, whichever pattern took it.
handler!(random_below, |_, _, req, m| {
    let parts: Vec<&str> = ["source", "urlbytes", "rest"]
        .iter()
        .map(|name| m.get(name))
        .filter(|part| !part.is_empty())
        .collect();
    random_from(req, &format!("/{}", parts.join("/")))
});

/// `tail` is what follows `tools/random` (`""` or `/...`).
fn random_from(req: &Request, tail: &str) -> Result<crate::core::Response, CoreError> {
    Fields::new(&req.data, tools::RANDOM_FIELDS).validate(true)?;
    let (source, bytes) = tools::random_captures(tail).ok_or(CoreError::UnsupportedPath)?;
    tools::random(&req.data, source, bytes)
}
