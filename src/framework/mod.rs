//! What backends are written with: OpenBao's request-field conventions (one Go-compatible decoder, `fields`) and
//! JSON records.

pub mod fields;
pub mod json;

pub use fields::*;
pub use json::{decode_json, encode_json};
