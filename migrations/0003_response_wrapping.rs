//! Format 3: adds the wrapped-response tree, the wrapping-token tombstones and their purge index (all start empty)
//! and records the new layout.

use crate::storage::migrate::{Migration, MigrationTx, Phase};

pub const LAYOUT: &str = "meta,core,tokens,token_accessors,token_parents,token_expiry,policies,token_roles,wrapped_responses,wrap_tombstones,wrap_tombstone_purge";

/// Format 3 as its first builds recorded it (854f871 to 1dc4c16), before the purge index tree was added to this
/// migration (ec3d096). Both are format 3: the purge index starts empty either way.
pub const LAYOUT_BEFORE_PURGE_INDEX: &str = "meta,core,tokens,token_accessors,token_parents,token_expiry,policies,token_roles,wrapped_responses,wrap_tombstones";

pub const MIGRATION: Migration = Migration {
    version: 3,
    name: "response wrapping",
    phase: Phase::Open,
    lists: &[],
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.replace_layout(&[Some(super::m0002_token_store_and_policies::LAYOUT)], LAYOUT)
}
