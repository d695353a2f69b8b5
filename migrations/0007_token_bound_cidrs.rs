//! Format 7 (at unseal, with the keyring): every token entry has `bound_cidrs`, the client addresses it may be used
//! from (OpenBao's `BoundCIDRs`, checked on every use). Entries of format 6 (the shape 0005 froze) are re-encoded
//! with none; an entry that decodes in neither shape fails the migration (and so the unseal), naming its position in
//! the tree, with nothing rewritten.
//!
//! The entry shape is frozen here as format 7 stores it (bincode is positional: a field added to the live
//! `TokenEntry` later needs its own migration).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::m0005_token_entries_with_role::EntryWithRole as EntryV5;
use crate::storage::migrate::{Migration, MigrationTx, Phase};
use crate::storage::{decode, encode, Tree};

pub const MIGRATION: Migration = Migration {
    version: 7,
    name: "token bound CIDRs",
    phase: Phase::Unseal,
    lists: &[Tree::Tokens],
    apply,
};

/// A token entry as format 7 stores it (the fields of `token_store::token::TokenEntry` at this version, in order).
#[derive(Serialize, Deserialize)]
pub(super) struct EntryWithBoundCidrs {
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
    role: Option<String>,
    bound_cidrs: Vec<String>,
}

impl From<EntryV5> for EntryWithBoundCidrs {
    fn from(e: EntryV5) -> Self {
        EntryWithBoundCidrs {
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
            role: e.role,
            bound_cidrs: Vec::new(),
        }
    }
}

fn apply(tx: &MigrationTx) -> Result<(), String> {
    for (index, key) in tx.keys(Tree::Tokens)?.iter().enumerate() {
        let Some(plain) = tx.get_raw(Tree::Tokens, key)? else {
            continue;
        };
        // The old encoding ends where `bound_cidrs` would start, so it never decodes as the new one.
        if decode::<EntryWithBoundCidrs>(&plain).is_ok() {
            continue;
        }
        let old: EntryV5 = decode(&plain).map_err(|e| format!("token entry {index} decodes in neither shape: {e}"))?;
        let new = encode(&EntryWithBoundCidrs::from(old)).map_err(|e| e.to_string())?;
        tx.put_raw(Tree::Tokens, key, &new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::token_store::token::TokenEntry;
    use crate::migrations::testing::{get_token, open_at, put_token, tokens};
    use crate::storage::migrate::{recorded_version, run_migrations};
    use crate::storage::StorageError;

    fn v5(accessor: &str) -> Vec<u8> {
        bincode::serialize(&EntryV5 {
            accessor: accessor.into(),
            parent: Some(vec![7; 32]),
            policies: vec!["default".into(), "ops".into()],
            meta: [("owner".to_string(), "me".to_string())].into(),
            display_name: "token-ops".into(),
            path: "auth/token/create/app".into(),
            issue_time: 1,
            last_renewal: 2,
            ttl: 3600,
            creation_ttl: 3600,
            explicit_max_ttl: 0,
            period: 0,
            num_uses: 5,
            renewable: true,
            renewed: false,
            role: Some("app".into()),
        })
        .unwrap()
    }

    #[test]
    fn re_encodes_format_6_entries_with_no_binding() {
        let (db, trees, keyring) = open_at(6);
        let mut current = TokenEntry::root("acc-new".into(), "auth/token/create");
        current.ttl = 60;
        current.bound_cidrs = vec!["10.0.0.0/8".into()];
        put_token(&trees, &keyring, b"a-old", &v5("acc-old"));
        put_token(&trees, &keyring, b"b-new", &bincode::serialize(&current).unwrap());
        let sealed_new = tokens(&trees).get(b"b-new").unwrap().unwrap();

        run_migrations(&db, &trees, &[MIGRATION], None).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 6, "waits for the keyring");
        run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 7);

        let entry: TokenEntry = bincode::deserialize(&get_token(&trees, &keyring, b"a-old")).unwrap();
        assert_eq!(entry.accessor, "acc-old");
        assert_eq!(entry.parent, Some(vec![7; 32]));
        assert_eq!(entry.policies, ["default", "ops"]);
        assert_eq!(entry.meta.get("owner").map(String::as_str), Some("me"));
        assert_eq!((entry.issue_time, entry.last_renewal, entry.ttl), (1, 2, 3600));
        assert_eq!((entry.num_uses, entry.renewable), (5, true));
        assert_eq!((entry.role.as_deref(), entry.bound_cidrs.len()), (Some("app"), 0));
        // An entry already in the new shape keeps its ciphertext (and its binding).
        assert_eq!(tokens(&trees).get(b"b-new").unwrap().unwrap(), sealed_new);
    }

    #[test]
    fn an_undecodable_entry_fails_it_with_nothing_rewritten() {
        let (db, trees, keyring) = open_at(6);
        put_token(&trees, &keyring, b"a-old", &v5("acc-old"));
        put_token(&trees, &keyring, b"z-bad", b"\x01not a token entry");
        let sealed_old = tokens(&trees).get(b"a-old").unwrap().unwrap();
        let err = run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap_err();
        assert!(
            matches!(&err, StorageError::Migration { version: 7, reason, .. } if reason.contains("token entry 1 decodes in neither shape")),
            "{err}"
        );
        assert_eq!(tokens(&trees).get(b"a-old").unwrap().unwrap(), sealed_old);
        assert_eq!(recorded_version(&trees[0]).unwrap(), 6);
    }
}
