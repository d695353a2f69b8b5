pub mod token;
pub mod token_backend;
