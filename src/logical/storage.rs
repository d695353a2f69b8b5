//! A backend's storage: a view confined to its own records. Keys are relative to the view; the core decides where
//! they live (a mount's uuid prefix in the `logical` tree, or a token's prefix in the `cubbyhole` tree), so a
//! backend can neither name nor reach another's data.
//!
//! Two implementations: [`BarrierView`] over the encrypted store (what the server uses) and [`MemoryView`] for unit
//! tests of a backend without a server. Both run transactions atomically and serializably; the closure may run
//! more than once (sled retries), so it must have no side effects.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use super::Error;
use crate::storage::{self, Storage, Tree, TxError, Txn};

/// A transaction's failure: `Abort(e)` is a domain outcome (nothing written, the caller gets `e`).
pub type TxFail = TxError<Error>;

/// The records of one view inside a transaction. Reads see the transaction's own writes.
pub trait ViewTxn {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, TxFail>;
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), TxFail>;
    /// Whether the key existed.
    fn delete(&self, key: &[u8]) -> Result<bool, TxFail>;
}

impl dyn ViewTxn + '_ {
    /// Read a record written with [`put_as`](Self::put_as).
    pub fn get_as<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, TxFail> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(storage::decode(&bytes)?)),
        }
    }

    pub fn put_as<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), TxFail> {
        self.put(key, &storage::encode(value)?)
    }
}

/// A transaction's body, as the object-safe [`StorageView::transact`] takes it.
pub type TxBody = Box<dyn Fn(&dyn ViewTxn) -> Result<(), TxFail> + Send>;
pub type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// What a backend may do with its records.
pub trait StorageView: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error>;
    /// The immediate children of the folder `prefix` (ending in `/`, or empty for the root), as OpenBao lists a
    /// folder: leaf names and sub-folder names ending in `/`, in byte order, each once.
    fn list(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error>;
    /// Every key starting with `prefix`, in order (relative to the view, like every key here).
    fn keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error>;
    /// Run `body` atomically and answer once the writes are durable. Use [`write`](Self::write).
    fn transact(&self, body: TxBody) -> WriteFuture<'_>;
}

impl dyn StorageView + '_ {
    pub fn get_as<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, Error> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(storage::decode(&bytes)?)),
        }
    }

    /// Run `f` as one durable transaction and return its value (of its last run, if it ran more than once).
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl Fn(&dyn ViewTxn) -> Result<R, TxFail> + Send + 'static,
    ) -> Result<R, Error> {
        let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let run_slot = slot.clone();
        self.transact(Box::new(move |tx| {
            let value = f(tx)?;
            *run_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            Ok(())
        }))
        .await?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| Error::Storage(storage::StorageError::Io("a transaction did not run".into())))
    }
}

/// `prefix ++ key`.
fn join(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

/// A view of the encrypted store: `tree`, keys under `prefix`. With a guard, every transaction first checks that
/// the guard record still exists and is refused with "permission denied" otherwise (a token's cubbyhole: a write
/// racing the token's revocation must not outlive it).
pub struct BarrierView {
    storage: Arc<Storage>,
    tree: Tree,
    prefix: Vec<u8>,
    guard: Option<(Tree, Vec<u8>)>,
}

impl BarrierView {
    pub fn new(storage: Arc<Storage>, tree: Tree, prefix: Vec<u8>) -> Self {
        BarrierView {
            storage,
            tree,
            prefix,
            guard: None,
        }
    }

    pub fn guarded_by(mut self, tree: Tree, key: Vec<u8>) -> Self {
        self.guard = Some((tree, key));
        self
    }

    /// This view inside a transaction the core runs over several trees (a mount's data rewritten with the mount
    /// table).
    pub fn within<'a>(&'a self, txn: &'a Txn<'a, Error>) -> impl ViewTxn + 'a {
        BarrierTxn {
            txn,
            tree: self.tree,
            prefix: &self.prefix,
        }
    }
}

struct BarrierTxn<'a> {
    txn: &'a Txn<'a, Error>,
    tree: Tree,
    prefix: &'a [u8],
}

impl ViewTxn for BarrierTxn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, TxFail> {
        self.txn.get_raw(self.tree, &join(self.prefix, key))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), TxFail> {
        self.txn.put_raw(self.tree, &join(self.prefix, key), value)
    }

    fn delete(&self, key: &[u8]) -> Result<bool, TxFail> {
        let key = join(self.prefix, key);
        let existed = self.txn.contains(self.tree, &key)?;
        self.txn.remove(self.tree, &key)?;
        Ok(existed)
    }
}

fn strip_all(prefix: &[u8], keys: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    keys.into_iter()
        .map(|k| k.get(prefix.len()..).map(<[u8]>::to_vec).unwrap_or_default())
        .collect()
}

impl StorageView for BarrierView {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self.storage.get_raw(self.tree, &join(&self.prefix, key))?)
    }

    fn list(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        Ok(self.storage.list_children(self.tree, &join(&self.prefix, prefix))?)
    }

    fn keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        let keys = self.storage.keys_with_prefix(self.tree, &join(&self.prefix, prefix))?;
        Ok(strip_all(&self.prefix, keys))
    }

    fn transact(&self, body: TxBody) -> WriteFuture<'_> {
        let (tree, prefix, guard) = (self.tree, self.prefix.clone(), self.guard.clone());
        Box::pin(async move {
            self.storage
                .write(move |txn: &Txn<Error>| {
                    if let Some((guard_tree, guard_key)) = &guard {
                        if txn.get_raw(*guard_tree, guard_key)?.is_none() {
                            return Err(TxError::Abort(Error::PermissionDenied));
                        }
                    }
                    body(&BarrierTxn {
                        txn,
                        tree,
                        prefix: &prefix,
                    })
                })
                .await??;
            Ok(())
        })
    }
}

/// An in-memory view for unit tests: the same semantics as [`BarrierView`] (atomic, serializable transactions whose
/// aborts write nothing), without a server.
#[derive(Default)]
pub struct MemoryView {
    records: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

struct MemoryTxn<'a> {
    base: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    /// `None`: deleted in this transaction.
    writes: RefCell<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl ViewTxn for MemoryTxn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, TxFail> {
        let value = match self.writes.borrow().get(key) {
            Some(mine) => mine.clone(),
            None => self.base.get(key).cloned(),
        };
        Ok(value.map(Zeroizing::new))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), TxFail> {
        self.writes.borrow_mut().insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<bool, TxFail> {
        let existed = self.get(key)?.is_some();
        self.writes.borrow_mut().insert(key.to_vec(), None);
        Ok(existed)
    }
}

impl MemoryView {
    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StorageView for MemoryView {
    fn get(&self, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self.records().get(key).cloned().map(Zeroizing::new))
    }

    fn list(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for key in self.records().keys().filter(|k| k.starts_with(prefix)) {
            let rest = &key[prefix.len()..];
            let child = match rest.iter().position(|b| *b == b'/') {
                Some(slash) => rest[..=slash].to_vec(),
                None => rest.to_vec(),
            };
            if out.last() != Some(&child) {
                out.push(child);
            }
        }
        Ok(out)
    }

    fn keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        Ok(self
            .records()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn transact(&self, body: TxBody) -> WriteFuture<'_> {
        Box::pin(async move {
            let mut records = self.records();
            let writes = {
                let txn = MemoryTxn {
                    base: &records,
                    writes: RefCell::new(BTreeMap::new()),
                };
                match body(&txn) {
                    Ok(()) => txn.writes.into_inner(),
                    Err(TxError::Abort(e)) => return Err(e),
                    Err(TxError::Storage(e)) => return Err(Error::Storage(e)),
                    Err(TxError::Backend(e)) => {
                        return Err(Error::Storage(storage::StorageError::Io(format!("{e:?}"))))
                    }
                }
            };
            for (key, value) in writes {
                match value {
                    Some(v) => records.insert(key, v),
                    None => records.remove(&key),
                };
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn memory_view_transactions_are_atomic_and_list_folders() {
        let view: &dyn StorageView = &MemoryView::default();
        block_on(view.write(|tx| {
            tx.put(b"a/1", b"x")?;
            tx.put(b"a/b/2", b"y")?;
            tx.put(b"c", b"z")
        }))
        .unwrap();
        assert_eq!(view.list(b"").unwrap(), vec![b"a/".to_vec(), b"c".to_vec()]);
        assert_eq!(view.list(b"a/").unwrap(), vec![b"1".to_vec(), b"b/".to_vec()]);
        let refused = block_on(view.write(|tx| {
            tx.delete(b"c")?;
            Err::<(), _>(TxError::Abort(Error::InvalidRequest("no".into())))
        }));
        assert!(matches!(refused, Err(Error::InvalidRequest(_))));
        assert_eq!(view.get(b"c").unwrap().as_deref().map(Vec::as_slice), Some(&b"z"[..]));
        let seen = block_on(view.write(|tx| {
            tx.put(b"c", b"new")?;
            Ok(tx.get(b"c")?.map(|v| v.to_vec()))
        }))
        .unwrap();
        assert_eq!(seen.as_deref(), Some(&b"new"[..]));
        assert_eq!(view.keys(b"a/").unwrap().len(), 2);
    }
}
