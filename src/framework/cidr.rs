//! CIDR blocks as OpenBao's `cidrutil` reads them (Go's `net.ParseCIDR`): parsing with its error text, whether an
//! address belongs to one of a list of blocks, and whether every block of one list lies inside a block of another;
//! and token bound CIDRs as OpenBao's `parseutil.ParseAddrs` reads them (an address alone is a single-host block).

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// The bits of an address (IPv4 in the low 32).
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        let all = if width == 32 { u32::MAX as u128 } else { u128::MAX };
        all & (all << (width - prefix))
    }
}

impl Cidr {
    /// Go's `net.ParseCIDR`: `address/prefix`, the error is `invalid CIDR address: <text>`.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let invalid = || format!("invalid CIDR address: {text}");
        let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > width(addr) {
            return Err(invalid());
        }
        Ok(Cidr { network: addr, prefix })
    }

    /// An address (a single-host block) or a block, as OpenBao's `parseutil.ParseAddrs` reads each entry.
    pub fn parse_addr(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        match text.parse::<IpAddr>() {
            Ok(addr) => Ok(Cidr {
                network: addr,
                prefix: width(addr),
            }),
            Err(_) => Cidr::parse(text).map_err(|_| {
                format!(
                    "error parsing address {text:?}: Unable to convert {text:?} to an IPv4 or IPv6 address, or a UNIX Socket"
                )
            }),
        }
    }

    fn same_family(&self, addr: IpAddr) -> Option<IpAddr> {
        let addr = addr.to_canonical();
        (addr.is_ipv4() == self.network.is_ipv4()).then_some(addr)
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let Some(addr) = self.same_family(addr) else {
            return false;
        };
        let m = mask(width(addr), self.prefix);
        bits(addr) & m == bits(self.network) & m
    }

    /// `other` lies entirely inside this block.
    pub fn contains_block(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(other.network)
    }
}

impl std::fmt::Display for Cidr {
    /// As OpenBao shows a parsed address: a single-host block as the bare address.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix == width(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// OpenBao's `parseutil.ParseAddrs` for `token_bound_cidrs`: each entry an address (a single host) or a block, in
/// the form OpenBao keeps and shows (a single-host block as the bare address). The error names the first entry that
/// is neither, in OpenBao's words.
pub fn parse_addrs(entries: &[String]) -> Result<Vec<String>, String> {
    entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let block = match entry.parse::<IpAddr>() {
                Ok(addr) => Cidr {
                    network: addr,
                    prefix: width(addr),
                },
                Err(_) => Cidr::parse(entry).map_err(|_| {
                    format!(
                        "error parsing address {entry:?}: Unable to convert {entry:?} to an IPv4 or IPv6 address, or a UNIX Socket"
                    )
                })?,
            };
            Ok(if block.prefix == width(block.network) {
                block.network.to_string()
            } else {
                format!("{}/{}", block.network, block.prefix)
            })
        })
        .collect()
}

/// A token bound to `bound` (as [`parse_addrs`] keeps them) may be used from `remote` (OpenBao's
/// `cidrutil.RemoteAddrIsOk`); no address (an in-process request) never matches a binding.
pub fn addr_allowed(remote: Option<IpAddr>, bound: &[String]) -> bool {
    if bound.is_empty() {
        return true;
    }
    let Some(remote) = remote else {
        return false;
    };
    bound.iter().any(|b| {
        let block = match b.parse::<IpAddr>() {
            Ok(addr) => Ok(Cidr {
                network: addr,
                prefix: width(addr),
            }),
            Err(_) => Cidr::parse(b),
        };
        block.is_ok_and(|c| c.contains(remote))
    })
}

/// Every block of the list parses (OpenBao's `ValidateCIDRListSlice`); the error names the first that does not.
pub fn validate_list(blocks: &[String]) -> Result<Vec<Cidr>, String> {
    blocks.iter().map(|b| Cidr::parse(b.trim())).collect()
}

/// The address belongs to one of the blocks (OpenBao's `IPBelongsToCIDRBlocksSlice`).
pub fn belongs(addr: IpAddr, blocks: &[String]) -> Result<bool, String> {
    Ok(validate_list(blocks)?.iter().any(|c| c.contains(addr)))
}

/// OpenBao's `verifyCIDRRoleSecretIDSubset`: the secret ID's blocks must each lie inside one of the role's (no role
/// blocks: anything goes). The error text is OpenBao's, Go's `%q` of both lists included.
pub fn verify_subset(secret_id_blocks: &[String], role_blocks: &[String]) -> Result<(), String> {
    if secret_id_blocks.is_empty() || role_blocks.is_empty() {
        return Ok(());
    }
    let role_blocks: Vec<String> = role_blocks
        .iter()
        .map(|b| if b.contains('/') { b.clone() } else { format!("{b}/32") })
        .collect();
    let outer = validate_list(&role_blocks);
    let inner = validate_list(secret_id_blocks);
    let subset = match (&outer, &inner) {
        (Ok(outer), Ok(inner)) => inner.iter().all(|i| outer.iter().any(|o| o.contains_block(i))),
        _ => false,
    };
    if subset {
        return Ok(());
    }
    let cause = match (outer, inner) {
        (Err(e), _) | (_, Err(e)) => e,
        _ => "%!w(<nil>)".to_string(),
    };
    Err(format!(
        "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}: {cause}",
        go_quoted_list(&role_blocks),
        go_quoted_list(secret_id_blocks)
    ))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_like_go() {
        let block = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(block.contains("10.1.2.3".parse().unwrap()));
        assert!(!block.contains("11.0.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!block.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4".parse().unwrap()));
        assert!(Cidr::parse("::1/128").unwrap().contains("::1".parse().unwrap()));
        for bad in [
            "nope",
            "127.0.0.1",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "::1/129",
            "1.2.3/8",
        ] {
            assert_eq!(Cidr::parse(bad).unwrap_err(), format!("invalid CIDR address: {bad}"));
        }
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(verify_subset(&strings(&["10.1.0.0/16"]), &strings(&["10.0.0.0/8"])).is_ok());
        assert!(verify_subset(&strings(&["10.1.0.0/16"]), &[]).is_ok());
        assert_eq!(
            verify_subset(&strings(&["11.0.0.0/8"]), &strings(&["10.0.0.0/8"])).unwrap_err(),
            "failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.0/8\"] and CIDR blocks \
             on the secret ID [\"11.0.0.0/8\"]: %!w(<nil>)"
        );
        assert!(verify_subset(&strings(&["10.0.0.0/8"]), &strings(&["10.0.0.0/16"])).is_err());
    }

    #[test]
    fn token_bound_cidrs_parse_and_match_like_openbao() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let parsed = parse_addrs(&strings(&["10.0.0.0/8", " 127.0.0.1", "127.0.0.1/32", "::1", ""])).unwrap();
        assert_eq!(parsed, ["10.0.0.0/8", "127.0.0.1", "127.0.0.1", "::1"]);
        assert_eq!(
            parse_addrs(&strings(&["bogus"])).unwrap_err(),
            "error parsing address \"bogus\": Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket"
        );
        let local = Some("127.0.0.1".parse().unwrap());
        assert!(addr_allowed(local, &[]));
        assert!(addr_allowed(local, &strings(&["127.0.0.1"])));
        assert!(addr_allowed(local, &strings(&["10.0.0.0/8", "127.0.0.0/8"])));
        assert!(!addr_allowed(local, &strings(&["10.0.0.0/8"])));
        assert!(!addr_allowed(None, &strings(&["127.0.0.1"])));
    }
}
