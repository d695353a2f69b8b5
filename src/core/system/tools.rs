//! `sys/tools/hash[/:algorithm]` and `sys/tools/random[/:source][/:bytes]`: OpenBao's key-less tools, answered by
//! the same code as transit's `hash` and `random` (`crate::framework::tools`). Writes only; any token whose policy
//! grants `update` on the path may call them (the default policy grants `sys/tools/hash`).

use crate::core::{CoreError, Operation, Request, Response};
use crate::framework::{refuse_write_to_folder, tools, Fields};

/// The answer of a `tools/...` path, or `None` for another path.
pub fn route(path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let rest = path.strip_prefix("tools/")?;
    let (hash, tail) = if let Some(tail) = rest.strip_prefix("hash") {
        (true, tail)
    } else {
        (false, rest.strip_prefix("random")?)
    };
    if !(tail.is_empty() || tail.starts_with('/')) {
        return None;
    }
    Some(answer(hash, tail, req))
}

fn answer(hash: bool, tail: &str, req: &Request) -> Result<Response, CoreError> {
    refuse_write_to_folder(req.operation, &req.path)?;
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    if hash {
        Fields::new(&req.data, tools::HASH_FIELDS).validate(true)?;
        return tools::hash(&req.data, tail.strip_prefix('/').unwrap_or(""), tools::Input::Optional);
    }
    Fields::new(&req.data, tools::RANDOM_FIELDS).validate(true)?;
    let (source, bytes) = tools::random_captures(tail).ok_or(CoreError::UnsupportedPath)?;
    tools::random(&req.data, source, bytes)
}
