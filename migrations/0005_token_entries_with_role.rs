//! Format 5 (at unseal, with the keyring): every token entry has the `role` field.
//!
//! Token roles (45e5b13) added `role` to the token entry without a new format version, so format 2 was written in
//! two encodings: the first builds (2f3a1b1 to 3fe54e8) stored entries without it, and no later build can decode
//! them: every token of such a directory, the root token included, answered 500. This migration re-encodes those
//! entries with no role; entries that already have the field are left as they are. An entry that decodes in neither
//! shape fails the migration (and so the unseal), naming its position in the tree, with nothing rewritten.
//!
//! The entry shapes are frozen here as format 5 stores them (bincode is positional: a field added to the live
//! `TokenEntry` later needs its own migration), so this file keeps meaning the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::storage::migrate::{Migration, MigrationTx, Phase};
use crate::storage::{decode, encode, Tree};

pub const MIGRATION: Migration = Migration {
    version: 5,
    name: "token entries with role",
    phase: Phase::Unseal,
    lists: &[Tree::Tokens],
    apply,
};

/// A token entry as format 5 stores it (the fields of `auth::token::TokenEntry` at this version, in order).
#[derive(Serialize, Deserialize)]
pub(super) struct EntryWithRole {
    pub(super) accessor: String,
    pub(super) parent: Option<Vec<u8>>,
    pub(super) policies: Vec<String>,
    pub(super) meta: BTreeMap<String, String>,
    pub(super) display_name: String,
    pub(super) path: String,
    pub(super) issue_time: i64,
    pub(super) last_renewal: i64,
    pub(super) ttl: u64,
    pub(super) creation_ttl: u64,
    pub(super) explicit_max_ttl: u64,
    pub(super) period: u64,
    pub(super) num_uses: i64,
    pub(super) renewable: bool,
    pub(super) renewed: bool,
    pub(super) role: Option<String>,
}

/// A token entry as the first format-2 builds stored it.
#[derive(Deserialize)]
struct EntryBeforeRoles {
    accessor: String,
    parent: Option<Vec<u8>>,
    policies: Vec<String>,
    meta: BTreeMap<String, String>,
    display_name: String,
    path: String,
    issue_time: i64,
    last_renewal: i64,
    ttl: u64,
    creation_ttl: u64,
    explicit_max_ttl: u64,
    period: u64,
    num_uses: i64,
    renewable: bool,
    renewed: bool,
}

impl From<EntryBeforeRoles> for EntryWithRole {
    fn from(e: EntryBeforeRoles) -> Self {
        EntryWithRole {
            accessor: e.accessor,
            parent: e.parent,
            policies: e.policies,
            meta: e.meta,
            display_name: e.display_name,
            path: e.path,
            issue_time: e.issue_time,
            last_renewal: e.last_renewal,
            ttl: e.ttl,
            creation_ttl: e.creation_ttl,
            explicit_max_ttl: e.explicit_max_ttl,
            period: e.period,
            num_uses: e.num_uses,
            renewable: e.renewable,
            renewed: e.renewed,
            role: None,
        }
    }
}

fn apply(tx: &MigrationTx) -> Result<(), String> {
    for (index, key) in tx.keys(Tree::Tokens)?.iter().enumerate() {
        let Some(plain) = tx.get_raw(Tree::Tokens, key)? else {
            continue;
        };
        // The old encoding ends where `role` would start, so it never decodes as the new one.
        if decode::<EntryWithRole>(&plain).is_ok() {
            continue;
        }
        let old: EntryBeforeRoles =
            decode(&plain).map_err(|e| format!("token entry {index} decodes in neither shape: {e}"))?;
        let new = encode(&EntryWithRole::from(old)).map_err(|e| e.to_string())?;
        tx.put_raw(Tree::Tokens, key, &new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::testing::{get_token, open_at, put_token, tokens};
    use crate::storage::migrate::{recorded_version, run_migrations};
    use crate::storage::StorageError;

    #[derive(Serialize)]
    struct OldShape<'a> {
        accessor: &'a str,
        parent: Option<Vec<u8>>,
        policies: Vec<String>,
        meta: BTreeMap<String, String>,
        display_name: &'a str,
        path: &'a str,
        issue_time: i64,
        last_renewal: i64,
        ttl: u64,
        creation_ttl: u64,
        explicit_max_ttl: u64,
        period: u64,
        num_uses: i64,
        renewable: bool,
        renewed: bool,
    }

    fn old(accessor: &str) -> Vec<u8> {
        bincode::serialize(&OldShape {
            accessor,
            parent: Some(vec![7; 32]),
            policies: vec!["default".into(), "ops".into()],
            meta: [("owner".to_string(), "me".to_string())].into(),
            display_name: "token-ops",
            path: "auth/token/create",
            issue_time: 1,
            last_renewal: 2,
            ttl: 3600,
            creation_ttl: 3600,
            explicit_max_ttl: 0,
            period: 0,
            num_uses: 5,
            renewable: true,
            renewed: false,
        })
        .unwrap()
    }

    #[test]
    fn waits_for_the_keyring_then_re_encodes_old_entries_only() {
        let (db, trees, keyring) = open_at(4);
        let current = bincode::serialize(&EntryWithRole {
            role: Some("app".into()),
            ..bincode::deserialize::<EntryBeforeRoles>(&old("acc-new"))
                .unwrap()
                .into()
        })
        .unwrap();
        put_token(&trees, &keyring, b"a-old", &old("acc-old"));
        put_token(&trees, &keyring, b"b-new", &current);
        let sealed_new = tokens(&trees).get(b"b-new").unwrap().unwrap();

        // At open (no keyring) it is left pending.
        run_migrations(&db, &trees, &[MIGRATION], None).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 4);

        run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 5);
        assert!(trees[0].get(b"migration/0005").unwrap().is_some());
        // The old entry now decodes as format 5's shape, every field carried over.
        let entry: EntryWithRole = bincode::deserialize(&get_token(&trees, &keyring, b"a-old")).unwrap();
        assert_eq!(entry.accessor, "acc-old");
        assert_eq!(entry.parent, Some(vec![7; 32]));
        assert_eq!(entry.policies, ["default", "ops"]);
        assert_eq!(entry.meta.get("owner").map(String::as_str), Some("me"));
        assert_eq!((entry.issue_time, entry.last_renewal, entry.ttl), (1, 2, 3600));
        assert_eq!((entry.num_uses, entry.renewable, entry.role), (5, true, None));
        // The entry already in the new shape is untouched (same ciphertext).
        assert_eq!(tokens(&trees).get(b"b-new").unwrap().unwrap(), sealed_new);
    }

    #[test]
    fn an_undecodable_entry_fails_it_with_nothing_rewritten() {
        let (db, trees, keyring) = open_at(4);
        put_token(&trees, &keyring, b"a-old", &old("acc-old"));
        put_token(&trees, &keyring, b"z-bad", b"\x01not a token entry");
        let sealed_old = tokens(&trees).get(b"a-old").unwrap().unwrap();

        let err = run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap_err();
        assert!(
            matches!(&err, StorageError::Migration { version: 5, reason, .. } if reason.contains("token entry 1 decodes in neither shape")),
            "{err}"
        );
        // The first entry had been re-encoded in the transaction; that write is gone with it.
        assert_eq!(tokens(&trees).get(b"a-old").unwrap().unwrap(), sealed_old);
        assert_eq!(recorded_version(&trees[0]).unwrap(), 4);
        assert!(trees[0].get(b"migration/0005").unwrap().is_none());
    }
}
