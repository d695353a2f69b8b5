//! The client address of a request, and OpenBao's `X-Forwarded-For` handling for the listeners that trust a proxy
//! (`x_forwarded_for_authorized_addrs`, `x_forwarded_for_hop_skips`, `x_forwarded_for_reject_not_authorized`,
//! `x_forwarded_for_reject_not_present`), as OpenBao's `wrapForwardedForHandler`: a request from an authorized
//! address takes its client address from the header (the last entry, less `hop_skips` from the rear), keeping the
//! connection's port. That address is the one the request log, the audit entries' `remote_address`, token and
//! secret-id bound CIDRs, and rate-limit quotas see.
//!
//! The check runs outermost, before anything else sees the request: a rejected request is answered 400 with
//! OpenBao's error text and nothing more (no request log line, as OpenBao's handler rejects it before logging).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};

use super::AppState;
use crate::config::ForwardedForConfig;

/// Where a request came from: the connection's peer, or the client an authorized proxy named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr {
    /// As the header gave it (OpenBao keeps even a value that is no address).
    pub host: String,
    pub port: u16,
}

impl ClientAddr {
    /// The address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl std::fmt::Display for ClientAddr {
    /// Go's `net.JoinHostPort`: a host with a colon (IPv6) in brackets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl From<SocketAddr> for ClientAddr {
    fn from(addr: SocketAddr) -> Self {
        ClientAddr {
            host: addr.ip().to_canonical().to_string(),
            port: addr.port(),
        }
    }
}

/// The request's client address: the one the `X-Forwarded-For` check settled on, else the connection's peer.
pub fn client_addr(req: &HttpRequest) -> Option<ClientAddr> {
    if let Some(addr) = req.extensions().get::<ClientAddr>() {
        return Some(addr.clone());
    }
    req.peer_addr().map(ClientAddr::from)
}

/// The client's IP address, when there is one (what bound CIDRs and quotas compare).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    client_addr(req).and_then(|a| a.ip())
}

/// The listeners' `X-Forwarded-For` settings, by bound address (only those that set authorized addresses).
pub type ForwardedForRules = Vec<(SocketAddr, Arc<ForwardedForConfig>)>;

/// OpenBao's answer to a request the settings refuse.
fn refuse(req: ServiceRequest, message: String) -> ServiceResponse<BoxBody> {
    let resp = super::error::errors_response(StatusCode::BAD_REQUEST, vec![message]);
    req.into_response(resp)
}

/// What the settings make of a request's `X-Forwarded-For` values, sent from `peer`.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it with the connection's address (the header, if any, removed when `strip`).
    AsIs {
        strip: bool,
    },
    /// Serve it as coming from this client.
    Forwarded(ClientAddr),
    Refused(String),
}

/// OpenBao's decision, step by step (`values` are the header's lines, in order).
pub fn decide(rules: &ForwardedForConfig, values: &[String], peer: Option<SocketAddr>) -> Verdict {
    if values.is_empty() {
        if rules.reject_not_present {
            return Verdict::Refused("missing x-forwarded-for header and configured to reject when not present".into());
        }
        return Verdict::AsIs { strip: false };
    }
    let Some(peer) = peer else {
        // A connection without an address (a Unix socket) cannot be checked: as OpenBao, ignore the header unless
        // configured to reject.
        if rules.reject_not_present {
            return Verdict::Refused("error parsing client hostport: missing port in address".into());
        }
        return Verdict::AsIs { strip: false };
    };
    let ip = peer.ip().to_canonical();
    if !rules.authorized_addrs.iter().any(|block| block.contains(ip)) {
        if rules.reject_not_authorized {
            return Verdict::Refused(
                "client address not authorized for x-forwarded-for and configured to reject connection".into(),
            );
        }
        return Verdict::AsIs { strip: true };
    }
    let chain: Vec<&str> = values.iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    let index = chain.len() as i128 - 1 - i128::from(rules.hop_skips);
    if index < 0 {
        // OpenBao names the number of header lines as the chain length.
        return Verdict::Refused(format!(
            "malformed x-forwarded-for configuration or request, hops to skip ({}) would skip before earliest chain \
             link (chain length {})",
            rules.hop_skips,
            values.len()
        ));
    }
    Verdict::Forwarded(ClientAddr {
        host: chain[index as usize].to_string(),
        port: peer.port(),
    })
}

/// The middleware: applies the settings of the listener the request came in on (none: nothing to do).
pub async fn forwarded_for(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let rules = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let local = req.app_config().local_addr();
        state
            .forwarded_for
            .iter()
            .find(|(addr, _)| *addr == local)
            .map(|(_, rules)| rules.clone())
    });
    let Some(rules) = rules else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let values: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    match decide(&rules, &values, req.peer_addr()) {
        Verdict::Refused(message) => Ok(refuse(req, message)),
        Verdict::AsIs { strip } => {
            if strip {
                // Untrusted: nothing downstream may take it for the client.
                req.headers_mut().remove("x-forwarded-for");
            }
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Verdict::Forwarded(client) => {
            req.extensions_mut().insert(client);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::cidr::Cidr;

    fn rules(
        addrs: &[&str],
        hop_skips: u64,
        reject_not_authorized: bool,
        reject_not_present: bool,
    ) -> ForwardedForConfig {
        ForwardedForConfig {
            authorized_addrs: addrs.iter().map(|a| Cidr::parse_addr(a).unwrap()).collect(),
            hop_skips,
            reject_not_authorized,
            reject_not_present,
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const PEER: &str = "127.0.0.1:5555";

    #[test]
    fn decisions_follow_openbao() {
        let peer = Some(PEER.parse().unwrap());
        let trusting = rules(&["127.0.0.1"], 0, false, false);
        assert_eq!(decide(&trusting, &[], peer), Verdict::AsIs { strip: false });
        assert_eq!(
            decide(&trusting, &values(&["1.1.1.1, 2.2.2.2"]), peer),
            Verdict::Forwarded(ClientAddr {
                host: "2.2.2.2".into(),
                port: 5555
            })
        );
        // Several lines are one chain; hops are skipped from the rear.
        let skipping = rules(&["127.0.0.0/8"], 1, false, true);
        assert_eq!(
            decide(&skipping, &values(&["1.1.1.1", "2.2.2.2, 3.3.3.3"]), peer),
            Verdict::Forwarded(ClientAddr {
                host: "2.2.2.2".into(),
                port: 5555
            })
        );
        assert!(matches!(
            decide(&skipping, &values(&["1.1.1.1"]), peer),
            Verdict::Refused(m) if m.ends_with("hops to skip (1) would skip before earliest chain link (chain length 1)")
        ));
        assert!(
            matches!(decide(&skipping, &[], peer), Verdict::Refused(m) if m.starts_with("missing x-forwarded-for"))
        );
        // A peer outside the authorized blocks: ignored (header dropped), or refused.
        let elsewhere = rules(&["10.0.0.0/8"], 0, false, false);
        assert_eq!(
            decide(&elsewhere, &values(&["5.5.5.5"]), peer),
            Verdict::AsIs { strip: true }
        );
        let strict = rules(&["10.0.0.0/8"], 0, true, false);
        assert!(matches!(
            decide(&strict, &values(&["5.5.5.5"]), peer),
            Verdict::Refused(m) if m == "client address not authorized for x-forwarded-for and configured to reject connection"
        ));
    }

    #[test]
    fn addresses_print_as_go_joins_them() {
        let v6 = ClientAddr {
            host: "2001:db8::1".into(),
            port: 80,
        };
        assert_eq!(v6.to_string(), "[2001:db8::1]:80");
        assert_eq!(v6.ip(), Some("2001:db8::1".parse().unwrap()));
        let junk = ClientAddr {
            host: "garbage".into(),
            port: 1,
        };
        assert_eq!((junk.to_string().as_str(), junk.ip()), ("garbage:1", None));
    }
}
