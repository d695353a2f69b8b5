//! Format 2: adds the token tree index, the token expiry index, the policy tree and the token roles tree (all start empty; sled creates
//! trees on open), and records the new layout.

use crate::storage::migrate::{Migration, MigrationTx};

pub const MIGRATION: Migration = Migration {
    version: 2,
    name: "token store and policies",
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.meta_put(
        b"layout",
        b"meta,core,tokens,token_accessors,token_parents,token_expiry,policies",
    )
}
