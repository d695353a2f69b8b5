//! Format 2: adds the token tree index, the token expiry index, the policy tree and the token roles tree (all start
//! empty; sled creates trees on open), and records the new layout.
//!
//! The token roles tree was added to format 2 after its first release (45e5b13) without a new version, and the
//! recorded layout never listed it; it is kept as recorded so directories from either build stay format 2.

use crate::storage::migrate::{Migration, MigrationTx, Phase};

pub const LAYOUT: &str = "meta,core,tokens,token_accessors,token_parents,token_expiry,policies";

pub const MIGRATION: Migration = Migration {
    version: 2,
    name: "token store and policies",
    phase: Phase::Open,
    lists: &[],
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.replace_layout(&[Some(super::m0001_initial_layout::LAYOUT)], LAYOUT)
}
