//! Storage format versions. The ordered migrations live in the top-level `migrations/` directory. At open, each
//! migration newer than the recorded format version runs in its own transaction together with the record that it
//! ran, so a crash or failure leaves the store at the previous version, never half-migrated.

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use super::StorageError;

pub const FORMAT_VERSION_KEY: &[u8] = b"format_version";
const APPLIED_PREFIX: &str = "migration/";

/// One storage migration. `apply` sees the raw trees (`meta` first, then `Tree::ALL`): it runs before unseal, so it
/// restructures records without reading secrets.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub apply: fn(&MigrationTx) -> Result<(), String>,
}

pub struct MigrationTx<'a> {
    pub trees: &'a [TransactionalTree],
}

impl MigrationTx<'_> {
    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.trees[0]
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| e.to_string())
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.trees[0].insert(key, value).map(|_| ()).map_err(|e| e.to_string())
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

pub fn run_pending(db: &sled::Db, trees: &[sled::Tree]) -> Result<(), StorageError> {
    run_migrations(db, trees, crate::migrations::ALL)
}

pub fn run_migrations(db: &sled::Db, trees: &[sled::Tree], migrations: &[Migration]) -> Result<(), StorageError> {
    let supported = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let found = recorded_version(&trees[0])?;
    if found > supported {
        return Err(StorageError::FormatTooNew { found, supported });
    }
    let mut pending: Vec<&Migration> = migrations.iter().filter(|m| m.version > found).collect();
    pending.sort_by_key(|m| m.version);
    for migration in pending {
        let applied_at = chrono::Utc::now().to_rfc3339();
        let result = trees.transaction(|txs| {
            let tx = MigrationTx { trees: &txs[..] };
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
            apply: set_a,
        }];
        run_migrations(&db, &trees, &ms).unwrap();
        assert_eq!(recorded_version(&trees[0]).unwrap(), 1);
        assert!(trees[0].get(b"migration/0001").unwrap().is_some());
        // Idempotent: nothing pending the second time.
        run_migrations(&db, &trees, &ms).unwrap();
    }

    #[test]
    fn failed_migration_leaves_previous_version() {
        let (db, trees) = open();
        let ms = [
            Migration {
                version: 1,
                name: "one",
                apply: set_a,
            },
            Migration {
                version: 2,
                name: "two",
                apply: fail_midway,
            },
        ];
        let err = run_migrations(&db, &trees, &ms).unwrap_err();
        assert!(err.to_string().contains("migration 2 (two) failed: boom"), "{err}");
        assert_eq!(recorded_version(&trees[0]).unwrap(), 1);
        assert!(trees[0].get(b"b").unwrap().is_none());
    }

    #[test]
    fn newer_format_refused() {
        let (db, trees) = open();
        trees[0].insert(FORMAT_VERSION_KEY, &9u32.to_be_bytes()).unwrap();
        let ms = [Migration {
            version: 1,
            name: "one",
            apply: set_a,
        }];
        let err = run_migrations(&db, &trees, &ms).unwrap_err();
        assert!(matches!(err, StorageError::FormatTooNew { found: 9, supported: 1 }));
    }
}
