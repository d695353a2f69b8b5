//! What backends are written with: declarative path tables (`path`), OpenBao's request-field conventions (one
//! Go-compatible decoder, `fields`) and JSON records.

pub mod cidr;
pub mod fields;
pub mod json;
pub mod openapi;
pub mod path;
pub mod token_params;

pub use fields::*;
pub use json::{decode_json, encode_json};
pub use path::{Captures, Display, PathSpec, PathTable, Routed};
pub use token_params::{parse_policies, upgrade_legacy, TokenParams, TOKEN_FIELDS, TOKEN_FIELD_LIST};
