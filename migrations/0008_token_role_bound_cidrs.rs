//! Format 8 (at unseal, with the keyring): every token role has `token_bound_cidrs`, the client addresses the tokens
//! it creates may be used from. Roles of format 7 (the shape frozen below) are re-encoded with none; a role that
//! decodes in neither shape fails the migration (and so the unseal), naming its position in the tree, with nothing
//! rewritten.
//!
//! The role shape is frozen here as format 7 stored it (bincode is positional: a field added to the live `TokenRole`
//! later needs its own migration).

use serde::{Deserialize, Serialize};

use crate::storage::migrate::{Migration, MigrationTx, Phase};
use crate::storage::{decode, encode, Tree};

pub const MIGRATION: Migration = Migration {
    version: 8,
    name: "token role bound CIDRs",
    phase: Phase::Unseal,
    lists: &[Tree::TokenRoles],
    apply,
};

/// A token role as format 7 stores it (the fields of `token_store::token_roles::TokenRole` then, in order).
#[derive(Serialize, Deserialize)]
struct RoleV7 {
    name: String,
    allowed_policies: Vec<String>,
    disallowed_policies: Vec<String>,
    allowed_policies_glob: Vec<String>,
    disallowed_policies_glob: Vec<String>,
    orphan: bool,
    renewable: bool,
    path_suffix: String,
    token_explicit_max_ttl: u64,
    token_period: u64,
    legacy_explicit_max_ttl: u64,
    legacy_period: u64,
    token_no_default_policy: bool,
    token_num_uses: i64,
}

/// A token role as format 8 stores it.
#[derive(Serialize, Deserialize)]
struct RoleV8 {
    old: RoleV7,
    token_bound_cidrs: Vec<String>,
}

fn apply(tx: &MigrationTx) -> Result<(), String> {
    for (index, key) in tx.keys(Tree::TokenRoles)?.iter().enumerate() {
        let Some(plain) = tx.get_raw(Tree::TokenRoles, key)? else {
            continue;
        };
        // The old encoding ends where `token_bound_cidrs` would start, so it never decodes as the new one.
        if decode::<RoleV8>(&plain).is_ok() {
            continue;
        }
        let old: RoleV7 = decode(&plain).map_err(|e| format!("token role {index} decodes in neither shape: {e}"))?;
        let new = encode(&RoleV8 {
            old,
            token_bound_cidrs: Vec::new(),
        })
        .map_err(|e| e.to_string())?;
        tx.put_raw(Tree::TokenRoles, key, &new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::token_store::token_roles::TokenRole;
    use crate::migrations::testing::open_at;
    use crate::storage::barrier;
    use crate::storage::migrate::{recorded_version, run_migrations};

    fn roles(trees: &[sled::Tree]) -> &sled::Tree {
        &trees[Tree::ALL.iter().position(|t| *t == Tree::TokenRoles).unwrap() + 1]
    }

    #[test]
    fn re_encodes_format_7_roles_with_no_binding() {
        let (db, trees, keyring) = open_at(7);
        let old = RoleV7 {
            name: "app".into(),
            allowed_policies: vec!["ops".into()],
            disallowed_policies: vec![],
            allowed_policies_glob: vec![],
            disallowed_policies_glob: vec!["adm*".into()],
            orphan: true,
            renewable: true,
            path_suffix: "v1".into(),
            token_explicit_max_ttl: 7200,
            token_period: 0,
            legacy_explicit_max_ttl: 0,
            legacy_period: 30,
            token_no_default_policy: true,
            token_num_uses: 3,
        };
        let sealed = keyring
            .encrypt(&barrier::aad("token_roles", b"app"), &bincode::serialize(&old).unwrap())
            .unwrap();
        roles(&trees).insert(b"app", sealed).unwrap();
        run_migrations(&db, &trees, &[MIGRATION], None).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 7, "waits for the keyring");
        run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 8);
        let sealed = roles(&trees).get(b"app").unwrap().unwrap();
        let plain = keyring.decrypt(&barrier::aad("token_roles", b"app"), &sealed).unwrap();
        let role: TokenRole = bincode::deserialize(&plain).unwrap();
        assert_eq!(role.name, "app");
        assert_eq!(role.allowed_policies, ["ops"]);
        assert_eq!(role.disallowed_policies_glob, ["adm*"]);
        assert_eq!((role.orphan, role.path_suffix.as_str()), (true, "v1"));
        assert_eq!((role.token_explicit_max_ttl, role.legacy_period), (7200, 30));
        assert_eq!((role.token_no_default_policy, role.token_num_uses), (true, 3));
        assert!(role.token_bound_cidrs.is_empty());
    }

    #[test]
    fn a_role_in_neither_shape_stops_the_migration() {
        let (db, trees, keyring) = open_at(7);
        let sealed = keyring.encrypt(&barrier::aad("token_roles", b"bad"), b"\x01").unwrap();
        roles(&trees).insert(b"bad", sealed).unwrap();
        let err = run_migrations(&db, &trees, &[MIGRATION], Some(&keyring)).unwrap_err();
        assert!(
            err.to_string().contains("token role 0 decodes in neither shape"),
            "{err}"
        );
        assert_eq!(recorded_version(&trees[0]).unwrap(), 7);
    }
}
