//! Write batching. sled makes every transaction write and sync its log buffer twice (`PageCache::pin_log` rolls the
//! I/O buffer before and after its batch reservation), whatever else is in flight, so one sled transaction per
//! request caps durable writes at half the disk's sync rate. Here concurrent requests' transactions queue up and
//! a committer thread runs each queue as ONE sled transaction: every request's closure runs in turn on its own
//! overlay of writes, which joins the sled transaction only if the closure succeeds. Each request stays atomic and
//! isolated (a later closure sees the earlier ones' writes, in order), and a domain abort discards only that
//! request's writes; the batch as a whole is committed by sled atomically and made durable by one group-commit
//! flush.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use sled::transaction::{TransactionError, TransactionalTree, UnabortableTransactionError};
use sled::Transactional;

use super::{Database, Shared, StorageError, TxBackendError, TxRead};

/// Slots of a transaction: the `meta` tree and every encrypted tree.
const SLOTS: usize = super::Tree::ALL.len() + 1;

/// The writes of one request's closure, sealed values ready to insert (`None`: removed), per tree slot by key.
#[derive(Default)]
pub struct Overlay {
    writes: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; SLOTS],
}

impl Overlay {
    /// `Some(Some(v))`: written here; `Some(None)`: removed here; `None`: not touched here.
    pub(super) fn lookup(&self, slot: usize, key: &[u8]) -> Option<Option<&[u8]>> {
        self.writes[slot].get(key).map(|v| v.as_deref())
    }

    pub(super) fn put(&mut self, slot: usize, key: &[u8], value: Vec<u8>) {
        self.writes[slot].insert(key.to_vec(), Some(value));
    }

    pub(super) fn remove(&mut self, slot: usize, key: &[u8]) {
        self.writes[slot].insert(key.to_vec(), None);
    }

    /// Every write, by slot then key: `(slot, key, Some(value))` to store, `(slot, key, None)` to remove.
    pub(super) fn into_writes(self) -> impl Iterator<Item = (usize, Vec<u8>, Option<Vec<u8>>)> {
        self.writes
            .into_iter()
            .enumerate()
            .flat_map(|(slot, writes)| writes.into_iter().map(move |(k, v)| (slot, k, v)))
    }

    pub(super) fn apply(self, trees: &[TransactionalTree]) -> Result<(), UnabortableTransactionError> {
        for (tree, writes) in trees.iter().zip(self.writes) {
            for (key, value) in writes {
                match value {
                    Some(v) => {
                        tree.insert(key, v)?;
                    }
                    None => {
                        tree.remove(key)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Runs one request's closure on its overlay: `Ok(true)` when it succeeded (apply the overlay), `Ok(false)` when it
/// aborted (its outcome is kept by the job itself), `Err` for a database error that fails (or retries) the whole
/// batch. Runs again if the database retries the transaction.
pub(super) type JobRun = Box<dyn Fn(&dyn TxRead, &RefCell<Overlay>) -> Result<bool, TxBackendError> + Send>;
/// Told the batch's outcome: how it becomes durable, or why the batch failed.
pub(super) type JobFinish = Box<dyn FnOnce(Result<Durable, StorageError>) + Send>;

/// How a committed batch becomes durable.
pub(super) enum Durable {
    /// After the next group-commit flush of this sled database.
    AfterFlush(Arc<Database>),
    /// Already: the database synced it before the commit returned (PostgreSQL).
    Committed,
}

/// Runs a batch of jobs as one database transaction.
pub(super) type BatchRunner = Box<dyn FnMut(&[Job]) -> Result<Durable, StorageError> + Send>;

/// The sled runner: each batch is one sled transaction on the current database, under the shared write gate.
pub(super) fn sled_runner(shared: Arc<Shared>) -> BatchRunner {
    Box::new(move |jobs| {
        let _gate = shared.shared_gate();
        let database = shared.current.load_full();
        run_batch(&database, jobs)?;
        Ok(Durable::AfterFlush(database))
    })
}

pub(super) struct Job {
    pub(super) run: JobRun,
    pub(super) finish: JobFinish,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    shutdown: bool,
}

struct Inbox {
    queue: Mutex<Queue>,
    cv: Condvar,
    /// Sled transactions run so far, each a batch of one or more requests' transactions.
    batches: std::sync::atomic::AtomicU64,
    /// Requests' transactions run in those batches.
    transactions: std::sync::atomic::AtomicU64,
}

pub(super) struct Committer {
    inbox: Arc<Inbox>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    pub(super) fn start(runner: BatchRunner) -> Self {
        let inbox = Arc::new(Inbox {
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            batches: std::sync::atomic::AtomicU64::new(0),
            transactions: std::sync::atomic::AtomicU64::new(0),
        });
        let thread_inbox = inbox.clone();
        let thread = std::thread::Builder::new()
            .name("vault-committer".into())
            .spawn(move || committer_loop(runner, &thread_inbox))
            .ok();
        Committer {
            inbox,
            thread: Mutex::new(thread),
        }
    }

    pub(super) fn submit(&self, job: Job) {
        let mut queue = self.inbox.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.shutdown {
            drop(queue);
            (job.finish)(Err(StorageError::Io("storage is shutting down".into())));
            return;
        }
        queue.jobs.push(job);
        drop(queue);
        self.inbox.cv.notify_one();
    }

    pub(super) fn batch_count(&self) -> u64 {
        self.inbox.batches.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn transaction_count(&self) -> u64 {
        self.inbox.transactions.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn stop(&self) {
        if let Ok(mut queue) = self.inbox.queue.lock() {
            queue.shutdown = true;
        }
        self.inbox.cv.notify_one();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn committer_loop(mut runner: BatchRunner, inbox: &Inbox) {
    loop {
        let jobs = {
            let mut queue = inbox.queue.lock().unwrap_or_else(|e| e.into_inner());
            while queue.jobs.is_empty() && !queue.shutdown {
                queue = inbox.cv.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            if queue.jobs.is_empty() {
                return;
            }
            std::mem::take(&mut queue.jobs)
        };
        let started = std::time::Instant::now();
        let outcome = runner(&jobs);
        crate::telemetry::measure_since("vault.storage.commit", started);
        inbox.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        inbox
            .transactions
            .fetch_add(jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        crate::telemetry::record("vault.storage.batch_size", jobs.len() as f64);
        match outcome {
            Ok(durable) => {
                for job in jobs {
                    let durable = match &durable {
                        Durable::AfterFlush(database) => Durable::AfterFlush(database.clone()),
                        Durable::Committed => Durable::Committed,
                    };
                    (job.finish)(Ok(durable));
                }
            }
            Err(e) => {
                log::error!("a batch of {} storage transactions failed: {e}", jobs.len());
                for job in jobs {
                    let error = match &e {
                        StorageError::Unavailable(why) => StorageError::Unavailable(why.clone()),
                        other => StorageError::Io(other.to_string()),
                    };
                    (job.finish)(Err(error));
                }
            }
        }
    }
}

/// Every job's closure in order inside one sled transaction; the successful ones' writes and the batch's
/// `write_seq` count are committed together.
fn run_batch(database: &Database, jobs: &[Job]) -> Result<(), StorageError> {
    let result = database.trees[..].transaction(|trees| {
        let mut applied = false;
        let reader = super::SledTxRead(trees);
        for job in jobs {
            let overlay = RefCell::new(Overlay::default());
            let succeeded = match (job.run)(&reader, &overlay) {
                Ok(succeeded) => succeeded,
                Err(TxBackendError::Sled(e)) => return Err(e.into()),
                Err(TxBackendError::Postgres(e)) => {
                    return Err(sled::transaction::ConflictableTransactionError::Storage(
                        sled::Error::Unsupported(format!("a PostgreSQL error in a sled transaction: {e}")),
                    ))
                }
            };
            if succeeded {
                overlay.into_inner().apply(trees)?;
                applied = true;
            }
        }
        if !applied {
            return Ok(None);
        }
        Ok(Some(super::count_transaction(trees)?))
    });
    match result {
        Ok(Some(seq)) => {
            database
                .committed_seq
                .fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(TransactionError::Abort(())) => Ok(()),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::storage::{Keyring, Storage, Tree, TxError};

    fn storage() -> (tempfile::TempDir, Arc<Storage>) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(&dir.path().join("data")).unwrap());
        storage.set_keyring(Some(Arc::new(Keyring::generate())));
        (dir, storage)
    }

    /// Run `n` writes concurrently (they queue up together, so they share batches) and collect their outcomes.
    fn concurrently<R: Send + 'static>(
        storage: &Arc<Storage>,
        n: usize,
        write: impl Fn(Arc<Storage>, usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = R> + Send>>,
    ) -> Vec<R> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let handles: Vec<_> = (0..n).map(|i| tokio::spawn(write(storage.clone(), i))).collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        })
    }

    #[test]
    fn batched_read_modify_writes_are_serializable() {
        let (_dir, storage) = storage();
        let results = concurrently(&storage, 64, |s, _| {
            Box::pin(async move {
                s.write(|tx: &crate::storage::Txn<()>| {
                    let n: u64 = tx.get(Tree::Core, b"counter")?.unwrap_or(0);
                    tx.put(Tree::Core, b"counter", &(n + 1))?;
                    Ok(n)
                })
                .await
                .unwrap()
                .unwrap()
            })
        });
        assert!(
            storage.batch_count() < 64,
            "the writes shared sled transactions ({} for 64)",
            storage.batch_count()
        );
        let mut seen = results.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..64).collect::<Vec<u64>>(), "each write saw the one before it");
        assert_eq!(storage.get::<u64>(Tree::Core, b"counter").unwrap(), Some(64));
    }

    #[test]
    fn an_aborted_write_in_a_batch_leaves_nothing_and_the_others_commit() {
        let (_dir, storage) = storage();
        let results = concurrently(&storage, 40, |s, i| {
            Box::pin(async move {
                s.write(move |tx: &crate::storage::Txn<&'static str>| {
                    tx.put(Tree::Core, format!("k{i}").as_bytes(), &i)?;
                    tx.remove(Tree::Core, b"shared")?;
                    if i % 2 == 1 {
                        // Writes, then refuses: none of it may land.
                        return Err(TxError::Abort("odd"));
                    }
                    Ok(())
                })
                .await
                .unwrap()
            })
        });
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i % 2 == 0, "write {i}: {r:?}");
            let stored: Option<usize> = storage.get(Tree::Core, format!("k{i}").as_bytes()).unwrap();
            assert_eq!(stored, (i % 2 == 0).then_some(i), "k{i}");
        }
    }

    #[test]
    fn exactly_one_claim_of_a_key_wins_within_and_across_batches() {
        let (_dir, storage) = storage();
        let results = concurrently(&storage, 100, |s, i| {
            Box::pin(async move {
                s.write(move |tx: &crate::storage::Txn<()>| {
                    if tx.get_raw(Tree::Core, b"claim")?.is_some() {
                        return Err(TxError::Abort(()));
                    }
                    tx.put(Tree::Core, b"claim", &i)?;
                    Ok(i)
                })
                .await
                .unwrap()
            })
        });
        let winners: Vec<usize> = results.iter().filter_map(|r| r.ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert_eq!(storage.get::<usize>(Tree::Core, b"claim").unwrap(), Some(winners[0]));
    }

    #[test]
    fn a_closure_reads_its_own_writes_and_removals() {
        let (_dir, storage) = storage();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            storage
                .write(|tx: &crate::storage::Txn<()>| tx.put(Tree::Core, b"a", &1u8))
                .await
                .unwrap()
                .unwrap();
            let seen = storage
                .write(|tx: &crate::storage::Txn<()>| {
                    let before: Option<u8> = tx.get(Tree::Core, b"a")?;
                    tx.remove(Tree::Core, b"a")?;
                    let after: Option<u8> = tx.get(Tree::Core, b"a")?;
                    tx.remove(Tree::Core, b"a")?;
                    tx.put(Tree::Core, b"b", &2u8)?;
                    let b: Option<u8> = tx.get(Tree::Core, b"b")?;
                    tx.meta_put(b"m", b"plain")?;
                    let m = tx.meta_get(b"m")?;
                    Ok((before, after, b, m))
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(seen, (Some(1), None, Some(2), Some(b"plain".to_vec())));
        });
        assert_eq!(storage.get::<u8>(Tree::Core, b"a").unwrap(), None);
        assert_eq!(storage.get::<u8>(Tree::Core, b"b").unwrap(), Some(2));
        assert_eq!(storage.meta_get(b"m").unwrap(), Some(b"plain".to_vec()));
    }
}
