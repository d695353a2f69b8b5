//! Format 4: adds the mount table tree, the secrets engines' data tree (each mount under its own uuid prefix) and
//! the cubbyhole tree (all start empty; the default mount table is written at the first unseal), and records the
//! new layout.

use crate::storage::migrate::{Migration, MigrationTx, Phase};

use super::m0003_response_wrapping as format3;

pub const LAYOUT: &str = "meta,core,tokens,token_accessors,token_parents,token_expiry,policies,token_roles,wrapped_responses,wrap_tombstones,wrap_tombstone_purge,mounts,logical,cubbyhole";

pub const MIGRATION: Migration = Migration {
    version: 4,
    name: "mounts and secrets engines",
    phase: Phase::Open,
    lists: &[],
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.replace_layout(
        &[Some(format3::LAYOUT_BEFORE_PURGE_INDEX), Some(format3::LAYOUT)],
        LAYOUT,
    )
}
