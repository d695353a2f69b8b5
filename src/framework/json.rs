//! Records stored as JSON objects (K/V secrets, cubbyhole entries).

use serde_json::{Map, Value};

use crate::logical::Error;
use crate::storage::StorageError;

/// Parse a stored JSON object (anything else reads as empty).
pub fn decode_json(bytes: &[u8]) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(Error::Storage(StorageError::Codec(format!("stored secret: {e}")))),
    }
}

pub fn encode_json(data: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(data).unwrap_or_else(|_| b"{}".to_vec())
}
