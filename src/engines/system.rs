//! The system backend mounted at `sys/` (the parts that need an unsealed core and a token).
//! `sys/init`, `sys/seal-status`, `sys/unseal`, `sys/health` and `sys/leader` work while sealed and are served by
//! the HTTP layer straight from the core.

use crate::core::router::{Backend, BackendFuture};
use crate::core::{Core, CoreError, Operation, Request, Response};

pub struct SystemBackend;

impl Backend for SystemBackend {
    fn handle<'a>(&'a self, core: &'a Core, relative_path: &'a str, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(async move {
            match relative_path {
                "seal" => match req.operation {
                    Operation::Update | Operation::Create => {
                        core.seal();
                        Ok(Response::no_content())
                    }
                    _ => Err(CoreError::UnsupportedOperation),
                },
                _ => Err(CoreError::NoHandler(req.path.trim_start_matches('/').to_string())),
            }
        })
    }
}
