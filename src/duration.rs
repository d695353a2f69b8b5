//! Go-style duration text, as the server configuration and ACL policies write it. A leaf module: the configuration,
//! the policy parser and the core all read durations, and none of them should depend on another for it.

use std::time::Duration;

/// Parse a Go-style duration: bare seconds (`300`) or units (`768h`, `30m`, `1h30m`, `90s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}
