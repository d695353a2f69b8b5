//! Format 1: the initial layout. Records the names of the trees this format uses, so later migrations (and
//! operators inspecting a data directory) can tell which layout a directory has.

use crate::storage::migrate::{Migration, MigrationTx, Phase};

pub const LAYOUT: &str = "meta,core,tokens,token_accessors";

pub const MIGRATION: Migration = Migration {
    version: 1,
    name: "initial layout",
    phase: Phase::Open,
    lists: &[],
    apply,
};

fn apply(tx: &MigrationTx) -> Result<(), String> {
    // Only a new directory is at format 0, and it has no layout record yet.
    tx.replace_layout(&[None], LAYOUT)
}
