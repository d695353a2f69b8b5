//! Environment variables: each `BAO_X` the reference reads is also read as `VAULT_X` (this binary is `vault`).
//! A non-empty `VAULT_X` wins, then `BAO_X` (set-but-empty counts as set, as in the reference), then an empty
//! `VAULT_X`.

/// The value of `name` (given in its `BAO_` form) or of its `VAULT_` twin.
pub fn lookup(name: &str) -> Option<String> {
    let Some(rest) = name.strip_prefix("BAO_") else {
        return std::env::var(name).ok();
    };
    let vault = std::env::var(format!("VAULT_{rest}")).ok();
    match vault {
        Some(v) if !v.is_empty() => Some(v),
        _ => std::env::var(name).ok().or(vault),
    }
}

/// `lookup`, empty when unset.
pub fn read(name: &str) -> String {
    lookup(name).unwrap_or_default()
}
