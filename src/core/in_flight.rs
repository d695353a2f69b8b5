//! The requests being served right now (`sys/in-flight-req`), as OpenBao keeps them: registered by the HTTP layer
//! when a request arrives and removed when it is answered, with the client's id filled in once its token is known.
//! Keyed by the request id the client is answered with (so the request log line, the audit entries and this list
//! name a request alike).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// One request being served.
#[derive(Debug, Clone)]
pub struct InFlightRequest {
    pub start_time: chrono::DateTime<chrono::Utc>,
    pub started: Instant,
    pub remote_address: String,
    /// The URL path (`/v1/...`), without the query string.
    pub path: String,
    pub method: String,
    pub client_id: String,
}

#[derive(Debug, Default)]
pub struct InFlightRequests {
    requests: Mutex<HashMap<String, InFlightRequest>>,
}

impl InFlightRequests {
    pub fn start(&self, id: &str, request: InFlightRequest) {
        if let Ok(mut map) = self.requests.lock() {
            map.insert(id.to_string(), request);
        }
    }

    /// Record the client id of the token a request runs with.
    pub fn set_client_id(&self, id: &str, client_id: String) {
        if let Ok(mut map) = self.requests.lock() {
            if let Some(request) = map.get_mut(id) {
                request.client_id = client_id;
            }
        }
    }

    /// The request is answered: forget it, and return what was known of it.
    pub fn finish(&self, id: &str) -> Option<InFlightRequest> {
        self.requests.lock().ok().and_then(|mut map| map.remove(id))
    }

    pub fn count(&self) -> usize {
        self.requests.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// OpenBao's answer: request id -> start time, client address, path, method and client id.
    pub fn snapshot(&self) -> Map<String, Value> {
        let Ok(map) = self.requests.lock() else {
            return Map::new();
        };
        map.iter()
            .map(|(id, r)| {
                (
                    id.clone(),
                    json!({
                        "start_time": r.start_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        "client_remote_address": r.remote_address,
                        "request_path": r.path,
                        "request_method": r.method,
                        "client_id": r.client_id,
                    }),
                )
            })
            .collect()
    }
}

/// OpenBao's client id of a token without an entity (`TokenEntry.CreateClientID`): base64 of SHA-256 over the sorted
/// policies joined by 0x7F, a 0x00, and the namespace id (`root`). It names a set of policies, not a token.
pub fn client_id(policies: &[String]) -> String {
    let mut sorted: Vec<&str> = policies.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    // OpenBao writes a delimiter before each part and drops the first character: no policies leave "root".
    let mut input = sorted.join("\u{7f}");
    if !sorted.is_empty() {
        input.push('\u{0}');
    }
    input.push_str("root");
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_policy_has_openbaos_client_id() {
        // As OpenBao 2.7.2 shows the root token's requests in sys/in-flight-req.
        assert_eq!(
            super::client_id(&["root".to_string()]),
            "0DHqvq2D77kL2/JTPSZkTMJbkFVmUu0TzMi0jiXcFy8="
        );
        assert_eq!(
            super::client_id(&["b".to_string(), "a".to_string()]),
            super::client_id(&["a".to_string(), "b".to_string()])
        );
    }
}
