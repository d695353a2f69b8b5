//! Group commit of a device's entries. Writing an entry is one `write` system call, which costs more than
//! formatting it; concurrent requests' entries are therefore collected into one batch and written with one call.
//! The request that opens a batch leads it: it lets the other requests that are ready run first (one
//! `yield_now`, so they add their entries), then writes the batch. Every request still waits until its entry is
//! written (or not) before it goes on, so fail-closed auditing holds entry by entry: a failed write fails every
//! entry of its batch.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The entries of one batch, one after another, each a complete line.
#[derive(Default)]
pub(super) struct Batch {
    pub lines: Vec<u8>,
    /// Where each entry ends in `lines` (a chaining device seals each one when the batch is written).
    pub ends: Vec<usize>,
    pub outcome: Arc<Outcome>,
}

/// Whether a batch was recorded, once it was written.
#[derive(Default)]
pub(super) struct Outcome {
    recorded: OnceLock<bool>,
    settled: tokio::sync::Notify,
}

impl Outcome {
    pub fn settle(&self, recorded: bool) {
        let _ = self.recorded.set(recorded);
        self.settled.notify_waiters();
    }

    /// Wait until the batch was written: `true` when it was recorded.
    pub async fn recorded(&self) -> bool {
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            // Registered before the check, so a settlement between the check and the wait is not missed.
            settled.as_mut().enable();
            if let Some(recorded) = self.recorded.get() {
                return *recorded;
            }
            settled.await;
        }
    }
}

/// An entry's place in a batch: the batch's outcome, and whether the entry opened it (its request writes it).
pub(super) struct Ticket {
    pub outcome: Arc<Outcome>,
    pub leads: bool,
}

/// The largest buffer kept for reuse (a larger one, grown by an unusual batch or entry, is let go).
pub(super) const KEPT_BUFFER_MAX: usize = 1 << 20;

/// The batch being filled, and the buffer of the last batch written (kept for the next one: a batch is tens of
/// kilobytes, and allocating that for every batch made the allocator consolidate its free lists each time).
#[derive(Default)]
pub(super) struct Pending(Mutex<Batch>, Mutex<Vec<u8>>);

impl Pending {
    pub fn lock(&self) -> MutexGuard<'_, Batch> {
        // Nothing panics while the lock is held; a poisoned batch is still whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take the batch being filled (held under its lock); the next entry opens a new one in the spare buffer.
    pub fn take(&self, open: &mut Batch) -> Batch {
        let spare = std::mem::take(&mut *self.1.lock().unwrap_or_else(|p| p.into_inner()));
        std::mem::replace(
            open,
            Batch {
                lines: spare,
                ..Batch::default()
            },
        )
    }

    /// Keep a written batch's buffer for a later batch.
    pub fn recycle(&self, mut lines: Vec<u8>) {
        if lines.capacity() <= KEPT_BUFFER_MAX {
            lines.clear();
            *self.1.lock().unwrap_or_else(|p| p.into_inner()) = lines;
        }
    }

    pub fn add(&self, line: &[u8]) -> Ticket {
        let mut batch = self.lock();
        let leads = batch.ends.is_empty();
        batch.lines.extend_from_slice(line);
        let end = batch.lines.len();
        batch.ends.push(end);
        Ticket {
            outcome: batch.outcome.clone(),
            leads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_entry_leads_and_every_waiter_learns_the_outcome() {
        let pending = Pending::default();
        let first = pending.add(b"a\n");
        let second = pending.add(b"bb\n");
        assert!(first.leads && !second.leads);
        let waiter = tokio::spawn({
            let outcome = second.outcome.clone();
            async move { outcome.recorded().await }
        });
        let batch = pending.take(&mut pending.lock());
        assert_eq!(batch.lines, b"a\nbb\n");
        assert_eq!(batch.ends, vec![2, 5]);
        // The next entry opens a new batch.
        assert!(pending.add(b"c\n").leads);
        tokio::task::yield_now().await;
        batch.outcome.settle(false);
        assert!(!waiter.await.unwrap());
        assert!(!first.outcome.recorded().await);
    }
}
