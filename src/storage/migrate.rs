//! Storage format versions. The ordered migrations live in the top-level `migrations/` directory. Each migration
//! newer than the recorded format version runs in its own transaction together with the record that it ran, so a
//! crash or failure leaves the store at the previous version, never half-migrated.
//!
//! Migrations run in two phases. [`Phase::Open`] migrations run when the data directory is opened, before unseal:
//! they restructure plain records and cannot read secrets. [`Phase::Unseal`] migrations re-encode encrypted records,
//! so they wait for the keyring: they run at the next unseal, before anything reads the store. Versions stay in one
//! order across both phases: at open, migrations run up to the first pending unseal-phase one; the rest run at
//! unseal (a failure there refuses the unseal and leaves the store sealed at the version it reached).

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use zeroize::Zeroizing;

use super::{barrier, Keyring, StorageError, Tree};

pub const FORMAT_VERSION_KEY: &[u8] = b"format_version";
/// The trees a format uses, comma-separated (see [`MigrationTx::replace_layout`]).
pub const LAYOUT_KEY: &[u8] = b"layout";
const APPLIED_PREFIX: &str = "migration/";

/// When a migration runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// At open, before unseal: plain records only.
    Open,
    /// At unseal, with the keyring: may read and rewrite encrypted records.
    Unseal,
}

/// One storage migration. `apply` sees the raw trees (`meta` first, then `Tree::ALL`) inside one transaction.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub phase: Phase,
    /// The trees whose keys `apply` lists with [`MigrationTx::keys`]. They are read before its transaction starts:
    /// a sled transaction cannot scan, and reading a tree inside one waits for the transaction itself.
    pub lists: &'static [Tree],
    pub apply: fn(&MigrationTx) -> Result<(), String>,
}

pub struct MigrationTx<'a> {
    pub trees: &'a [TransactionalTree],
    /// The keys of the trees the migration [lists](Migration::lists), as committed before its transaction.
    listed: &'a [(Tree, Vec<Vec<u8>>)],
    /// Present for [`Phase::Unseal`] migrations only.
    keyring: Option<&'a Keyring>,
}

impl MigrationTx<'_> {
    fn tx_tree(&self, tree: Tree) -> Result<&TransactionalTree, String> {
        self.trees
            .get(tree.slot())
            .ok_or_else(|| format!("tree {} is not open", tree.name()))
    }

    fn keyring(&self) -> Result<&Keyring, String> {
        self.keyring
            .ok_or_else(|| "encrypted records need the keyring: only an unseal-phase migration reads them".into())
    }

    /// The keys of a tree in [`Migration::lists`] as committed before this migration (keys are not secret; values
    /// are). Nothing else writes while migrations run: at open the server does not serve yet, at unseal it is still
    /// sealed.
    pub fn keys(&self, tree: Tree) -> Result<&[Vec<u8>], String> {
        self.listed
            .iter()
            .find(|(t, _)| *t == tree)
            .map(|(_, keys)| keys.as_slice())
            .ok_or_else(|| format!("tree {} is not in the migration's list of trees to list", tree.name()))
    }

    /// Read and decrypt one record (unseal phase).
    pub fn get_raw(&self, tree: Tree, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        let keyring = self.keyring()?;
        match self.tx_tree(tree)?.get(key).map_err(|e| e.to_string())? {
            None => Ok(None),
            Some(sealed) => keyring
                .decrypt(&barrier::aad(tree.name(), key), &sealed)
                .map(Some)
                .map_err(|e| format!("{} record: {e}", tree.name())),
        }
    }

    /// Encrypt and write one record (unseal phase), bound to its tree and key like every barrier write.
    pub fn put_raw(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), String> {
        let sealed = self
            .keyring()?
            .encrypt(&barrier::aad(tree.name(), key), value)
            .map_err(|e| e.to_string())?;
        self.tx_tree(tree)?
            .insert(key, sealed)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.trees[0]
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| e.to_string())
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.trees[0].insert(key, value).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Replace the recorded layout (the `layout` record in `meta`: the trees a format uses) with `next`, refusing
    /// unless the record it replaces is one of `previous`: the layouts the previous format was recorded with (some
    /// formats were recorded in more than one way while they were being built). `None` in `previous` accepts a
    /// directory without a layout record (only the first migration, on a new directory).
    ///
    /// The new record is written before the old one is checked, so a refusal also discards a write: whatever a
    /// failing migration wrote goes with its transaction, and the directory stays at the previous version.
    pub fn replace_layout(&self, previous: &[Option<&str>], next: &str) -> Result<(), String> {
        let recorded = self.meta_get(LAYOUT_KEY)?;
        self.meta_put(LAYOUT_KEY, next.as_bytes())?;
        let recorded = match recorded {
            None => None,
            Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| "the recorded layout is not text".to_string())?),
        };
        if previous.contains(&recorded.as_deref()) {
            return Ok(());
        }
        let expected = previous
            .last()
            .copied()
            .flatten()
            .map(|p| format!("{p:?}"))
            .unwrap_or_else(|| "none".into());
        Err(match recorded {
            None => format!("the data directory has no layout record (expected {expected})"),
            Some(found) => format!("the recorded layout is {found:?}, expected {expected}"),
        })
    }
}

/// The highest format version this build understands.
pub fn supported_version() -> u32 {
    crate::migrations::ALL.iter().map(|m| m.version).max().unwrap_or(0)
}

pub fn recorded_version(meta: &sled::Tree) -> Result<u32, StorageError> {
    match meta.get(FORMAT_VERSION_KEY)? {
        None => Ok(0),
        Some(v) if v.len() == 4 => Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
        Some(_) => Err(StorageError::Codec("format version record is malformed".into())),
    }
}

/// At open: the pending migrations up to the first unseal-phase one.
pub fn run_pending(db: &sled::Db, trees: &[sled::Tree]) -> Result<(), StorageError> {
    run_migrations(db, trees, crate::migrations::ALL, None)
}

/// At unseal, before the keyring is installed: every migration still pending.
pub fn run_pending_unsealed(db: &sled::Db, trees: &[sled::Tree], keyring: &Keyring) -> Result<(), StorageError> {
    run_migrations(db, trees, crate::migrations::ALL, Some(keyring))
}

/// Run the pending `migrations` in version order. Without a keyring, stop before the first unseal-phase one.
pub fn run_migrations(
    db: &sled::Db,
    trees: &[sled::Tree],
    migrations: &[Migration],
    keyring: Option<&Keyring>,
) -> Result<(), StorageError> {
    let supported = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let found = recorded_version(&trees[0])?;
    if found > supported {
        return Err(StorageError::FormatTooNew { found, supported });
    }
    let mut pending: Vec<&Migration> = migrations.iter().filter(|m| m.version > found).collect();
    pending.sort_by_key(|m| m.version);
    for migration in pending {
        if migration.phase == Phase::Unseal && keyring.is_none() {
            log::info!(
                "storage migration {:04} ({}) runs at unseal",
                migration.version,
                migration.name
            );
            break;
        }
        let mut listed = Vec::new();
        for tree in migration.lists {
            let t = trees
                .get(tree.slot())
                .ok_or_else(|| StorageError::Io(format!("tree {} is not open", tree.name())))?;
            let keys = t
                .iter()
                .keys()
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            listed.push((*tree, keys));
        }
        let applied_at = chrono::Utc::now().to_rfc3339();
        let result = trees.transaction(|txs| {
            let tx = MigrationTx {
                trees: &txs[..],
                listed: &listed,
                keyring,
            };
            (migration.apply)(&tx).map_err(ConflictableTransactionError::Abort)?;
            txs[0].insert(FORMAT_VERSION_KEY, &migration.version.to_be_bytes())?;
            let record = format!("{APPLIED_PREFIX}{:04}", migration.version);
            txs[0].insert(record.as_bytes(), format!("{} {applied_at}", migration.name).as_bytes())?;
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(reason)) => {
                return Err(StorageError::Migration {
                    version: migration.version,
                    name: migration.name,
                    reason,
                })
            }
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        db.flush()?;
        log::info!(
            "applied storage migration {:04} ({})",
            migration.version,
            migration.name
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (sled::Db, Vec<sled::Tree>) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = vec![db.open_tree("meta").unwrap(), db.open_tree("other").unwrap()];
        (db, trees)
    }

    fn set_a(tx: &MigrationTx) -> Result<(), String> {
        tx.meta_put(b"a", b"1")
    }

    fn fail_midway(tx: &MigrationTx) -> Result<(), String> {
        tx.meta_put(b"b", b"2")?;
        Err("boom".into())
    }

    #[test]
    fn runs_in_order_and_records() {
        let (db, trees) = open();
        let ms = [Migration {
            version: 1,
            name: "one",
            phase: Phase::Open,
            lists: &[],
            apply: set_a,
        }];
        run_migrations(&db, &trees, &ms, None).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 1);
        assert!(trees[0].get(b"migration/0001").unwrap().is_some());
        // Idempotent: nothing pending the second time.
        run_migrations(&db, &trees, &ms, None).unwrap();
    }

    #[test]
    fn failed_migration_leaves_previous_version() {
        let (db, trees) = open();
        let ms = [
            Migration {
                version: 1,
                name: "one",
                phase: Phase::Open,
                lists: &[],
                apply: set_a,
            },
            Migration {
                version: 2,
                name: "two",
                phase: Phase::Open,
                lists: &[],
                apply: fail_midway,
            },
        ];
        let err = run_migrations(&db, &trees, &ms, None).unwrap_err();
        assert!(err.to_string().contains("migration 2 (two) failed: boom"), "{err}");
        assert_eq!(recorded_version(&trees[0]).unwrap(), 1);
        assert!(trees[0].get(b"b").unwrap().is_none());
    }

    fn layout_a_to_b(tx: &MigrationTx) -> Result<(), String> {
        tx.replace_layout(&[None, Some("a")], "b")
    }

    #[test]
    fn replace_layout_accepts_the_previous_layouts() {
        for start in [None, Some("a")] {
            let (db, trees) = open();
            if let Some(layout) = start {
                trees[0].insert(LAYOUT_KEY, layout).unwrap();
            }
            let ms = [Migration {
                version: 1,
                name: "a to b",
                phase: Phase::Open,
                lists: &[],
                apply: layout_a_to_b,
            }];
            run_migrations(&db, &trees, &ms, None).unwrap();
            assert_eq!(trees[0].get(LAYOUT_KEY).unwrap().unwrap().as_ref(), b"b");
        }
    }

    #[test]
    fn replace_layout_refuses_another_layout_and_keeps_it() {
        let (db, trees) = open();
        trees[0].insert(LAYOUT_KEY, "x").unwrap();
        let ms = [Migration {
            version: 1,
            name: "a to b",
            phase: Phase::Open,
            lists: &[],
            apply: layout_a_to_b,
        }];
        let err = run_migrations(&db, &trees, &ms, None).unwrap_err().to_string();
        assert!(
            err.contains(r#"migration 1 (a to b) failed: the recorded layout is "x", expected "a""#),
            "{err}"
        );
        // The write before the check went with the transaction.
        assert_eq!(trees[0].get(LAYOUT_KEY).unwrap().unwrap().as_ref(), b"x");
        assert_eq!(recorded_version(&trees[0]).unwrap(), 0);
        assert!(trees[0].get(b"migration/0001").unwrap().is_none());
    }

    #[test]
    fn the_real_migrations_chain_on_a_new_directory() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let mut trees = vec![db.open_tree(super::super::META_TREE).unwrap()];
        for tree in Tree::ALL {
            trees.push(db.open_tree(tree.name()).unwrap());
        }
        let all = crate::migrations::ALL;
        assert!(
            all.iter().enumerate().all(|(i, m)| m.version == i as u32 + 1),
            "versions are 1..=N in order"
        );
        // At open: up to the first unseal-phase migration.
        run_pending(&db, &trees).unwrap();
        let first_unseal = all.iter().find(|m| m.phase == Phase::Unseal).map(|m| m.version);
        let at_open = first_unseal.map(|v| v - 1).unwrap_or(supported_version());
        assert_eq!(recorded_version(&trees[0]).unwrap(), at_open);
        let layout = trees[0].get(LAYOUT_KEY).unwrap().unwrap();
        assert!(layout.ends_with(b",mounts,logical,cubbyhole"), "{layout:?}");
        // Opening again runs nothing and changes nothing.
        let before: Vec<_> = trees[0].iter().map(|kv| kv.unwrap()).collect();
        run_pending(&db, &trees).unwrap();
        let after: Vec<_> = trees[0].iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(before, after);
        // At unseal: the rest.
        run_pending_unsealed(&db, &trees, &Keyring::generate()).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), supported_version());
        for m in all {
            let record = trees[0].get(format!("migration/{:04}", m.version)).unwrap().unwrap();
            assert!(record.starts_with(m.name.as_bytes()));
        }
    }

    #[test]
    fn newer_format_refused() {
        let (db, trees) = open();
        trees[0].insert(FORMAT_VERSION_KEY, &9u32.to_be_bytes()).unwrap();
        let ms = [Migration {
            version: 1,
            name: "one",
            phase: Phase::Open,
            lists: &[],
            apply: set_a,
        }];
        let err = run_migrations(&db, &trees, &ms, None).unwrap_err();
        assert!(matches!(err, StorageError::FormatTooNew { found: 9, supported: 1 }));
    }
}
