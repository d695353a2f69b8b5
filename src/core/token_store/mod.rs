//! The token store, mounted at `auth/token/`: tokens (`token`), their roles (`token_roles`) and the `auth/token/`
//! endpoints (`token_backend`). Part of the core, as in OpenBao: it creates and revokes the tokens every request is
//! checked against.

pub mod login;
pub mod token;
pub mod token_backend;
pub mod token_roles;
