//! Format 6 (at unseal, with the keyring): leases. Adds the lease index (lease id -> lease record), the secret
//! leases' expiry index and the token -> secret leases index, records the new layout, and writes the auth lease of
//! every stored token into the lease index, as every token written from this format on gets it in its own
//! transaction.
//!
//! The shapes are frozen as format 6 stores them (bincode is positional): the token entry as format 5 froze it, the
//! lease record here with its first variant.

use serde::Serialize;

use super::m0004_mounts_and_secrets_engines as format4;
// Format 6 stores token entries as format 5 does.
use super::m0005_token_entries_with_role::EntryWithRole as TokenEntryV5;
use crate::storage::migrate::{Migration, MigrationTx, Phase};
use crate::storage::{decode, encode, Tree};

pub const LAYOUT: &str = "meta,core,tokens,token_accessors,token_parents,token_expiry,policies,token_roles,wrapped_responses,wrap_tombstones,wrap_tombstone_purge,mounts,logical,cubbyhole,leases,lease_expiry,token_leases";

pub const MIGRATION: Migration = Migration {
    version: 6,
    name: "leases",
    phase: Phase::Unseal,
    lists: &[Tree::Tokens],
    apply,
};

/// The lease record of format 6 (`core::lease_index::LeaseRecord`), as far as this migration writes it.
#[derive(Serialize)]
enum LeaseRecordV6 {
    Token { hash: Vec<u8> },
}

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.replace_layout(&[Some(format4::LAYOUT)], LAYOUT)?;
    for (index, key) in tx.keys(Tree::Tokens)?.iter().enumerate() {
        let Some(plain) = tx.get_raw(Tree::Tokens, key)? else {
            continue;
        };
        let entry: TokenEntryV5 = decode(&plain).map_err(|e| format!("token entry {index} does not decode: {e}"))?;
        // Root tokens minted by `sys/init` have no lease (OpenBao's rule).
        if entry.path == "auth/token/root" {
            continue;
        }
        let lease_id = crate::core::lease_index::token_lease_id(&entry.path, key);
        let record = encode(&LeaseRecordV6::Token { hash: key.clone() }).map_err(|e| e.to_string())?;
        tx.put_raw(Tree::Leases, lease_id.as_bytes(), &record)?;
    }
    Ok(())
}
