//! Cost of an acknowledged (flushed) write through the storage layer, with 1 and 16 concurrent writers.
//! Run: `cargo bench --bench group_commit` (set BENCH_SECONDS to change the duration per case; default 5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault::storage::{Keyring, Storage, Tree, TxError};

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!(
        "durable 256-byte transactional writes, {seconds}s per case, data dir on {}",
        std::env::temp_dir().display()
    );
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>14}",
        "writers", "writes/s", "mean (µs)", "flushes/s", "writes/flush"
    );
    for writers in [1usize, 4, 16, 64] {
        run_case(writers, Duration::from_secs(seconds));
    }
}

fn run_case(writers: usize, duration: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    storage.set_keyring(Some(Arc::new(Keyring::generate())));
    let writes = Arc::new(AtomicU64::new(0));
    let latency_ns = Arc::new(AtomicU64::new(0));
    let flushes_before = storage.flush_count();
    let started = Instant::now();
    actix_web::rt::System::new().block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let storage = storage.clone();
            let writes = writes.clone();
            let latency_ns = latency_ns.clone();
            tasks.push(actix_web::rt::spawn(async move {
                let value = vec![7u8; 256];
                let mut i = 0u64;
                while started.elapsed() < duration {
                    let key = format!("w{w}/k{i}").into_bytes();
                    let value = value.clone();
                    let t = Instant::now();
                    let r: Result<(), ()> = storage
                        .write(move |tx| tx.put_raw(Tree::Core, &key, &value).map_err(|e: TxError<()>| e))
                        .await
                        .unwrap();
                    r.unwrap();
                    latency_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    writes.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let n = writes.load(Ordering::Relaxed);
    let flushes = storage.flush_count() - flushes_before;
    println!(
        "{:>8} {:>10.0} {:>12.0} {:>12.0} {:>14.1}",
        writers,
        n as f64 / elapsed,
        latency_ns.load(Ordering::Relaxed) as f64 / n.max(1) as f64 / 1000.0,
        flushes as f64 / elapsed,
        n as f64 / flushes.max(1) as f64
    );
}
