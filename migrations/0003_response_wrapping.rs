//! Format 3: adds the wrapped-response tree, the wrapping-token tombstones and their purge index (all start empty) and records the
//! new layout.

use crate::storage::migrate::{Migration, MigrationTx};

pub const MIGRATION: Migration = Migration {
    version: 3,
    name: "response wrapping",
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    tx.meta_put(
        b"layout",
        b"meta,core,tokens,token_accessors,token_parents,token_expiry,policies,token_roles,wrapped_responses,wrap_tombstones,wrap_tombstone_purge",
    )
}
