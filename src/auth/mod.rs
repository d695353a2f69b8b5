pub mod token;
pub mod token_backend;
pub mod token_roles;
