//! Test helpers for the migrations: a temporary store at a given format version, and sealed token records written
//! and read through a keyring as the barrier stores them.

use crate::storage::migrate::FORMAT_VERSION_KEY;
use crate::storage::{barrier, Keyring, Tree};

/// A temporary store recorded at format `version`: the database, its trees (`meta` first, then `Tree::ALL` in
/// order) and a fresh keyring.
pub fn open_at(version: u32) -> (sled::Db, Vec<sled::Tree>, Keyring) {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let mut trees = vec![db.open_tree("meta").unwrap()];
    for tree in Tree::ALL {
        trees.push(db.open_tree(tree.name()).unwrap());
    }
    trees[0].insert(FORMAT_VERSION_KEY, &version.to_be_bytes()).unwrap();
    (db, trees, Keyring::generate())
}

/// The `tokens` tree of [`open_at`]'s trees.
pub fn tokens(trees: &[sled::Tree]) -> &sled::Tree {
    &trees[Tree::ALL.iter().position(|t| *t == Tree::Tokens).unwrap() + 1]
}

/// Store a token record sealed as the barrier seals it.
pub fn put_token(trees: &[sled::Tree], keyring: &Keyring, key: &[u8], plain: &[u8]) {
    let sealed = keyring.encrypt(&barrier::aad("tokens", key), plain).unwrap();
    tokens(trees).insert(key, sealed).unwrap();
}

/// Read a token record back through the keyring.
pub fn get_token(trees: &[sled::Tree], keyring: &Keyring, key: &[u8]) -> Vec<u8> {
    let sealed = tokens(trees).get(key).unwrap().unwrap();
    keyring.decrypt(&barrier::aad("tokens", key), &sealed).unwrap().to_vec()
}
