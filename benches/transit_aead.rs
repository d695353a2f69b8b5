//! The machine's own limit for transit's batch encrypt, measured with the crates transit uses (aes-gcm, base64,
//! rand): AES-256-GCM sealing of 1 KiB items on one core, alone and with what each batch item needs besides the
//! JSON (a random nonce, the key schedule, base64 of the plaintext in and of the ciphertext out). `bench/run`'s
//! "transit batch encrypt" CPU per item, divided by the last line, is the server's distance from that limit.
//! Run: `cargo bench --bench transit_aead` (BENCH_SECONDS per case, default 3).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::Engine;

const ITEM: usize = 1024;

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let duration = Duration::from_secs(seconds);
    let key = [7u8; 32];
    let plaintext = vec![0x5au8; ITEM];
    let encoded = base64::engine::general_purpose::STANDARD.encode(&plaintext);
    let cipher = Aes256Gcm::new_from_slice(&key).expect("a 32-byte key");
    println!("1 KiB items on one core, {seconds}s per case");
    println!("{:<72} {:>12} {:>10}", "case", "items/s", "ns/item");
    run("AES-256-GCM seal, fixed nonce, key schedule reused", duration, || {
        black_box(
            cipher
                .encrypt(&[0u8; 12].into(), black_box(&plaintext[..]))
                .expect("seal"),
        );
    });
    run("+ a random nonce per item", duration, || {
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce[..]);
        black_box(cipher.encrypt(&nonce.into(), black_box(&plaintext[..])).expect("seal"));
    });
    run(
        "+ the key schedule per item (transit derives no key here, but builds it)",
        duration,
        || {
            let mut nonce = [0u8; 12];
            rand::fill(&mut nonce[..]);
            let cipher = Aes256Gcm::new_from_slice(black_box(&key)).expect("a 32-byte key");
            black_box(cipher.encrypt(&nonce.into(), black_box(&plaintext[..])).expect("seal"));
        },
    );
    run(
        "+ base64 decode of the plaintext and encode of nonce+ciphertext",
        duration,
        || {
            let plain = base64::engine::general_purpose::STANDARD
                .decode(black_box(&encoded))
                .expect("base64");
            let mut nonce = [0u8; 12];
            rand::fill(&mut nonce[..]);
            let cipher = Aes256Gcm::new_from_slice(black_box(&key)).expect("a 32-byte key");
            let sealed = cipher.encrypt(&nonce.into(), &plain[..]).expect("seal");
            let mut out = String::from("vault:v1:");
            base64::engine::general_purpose::STANDARD.encode_string([&nonce[..], &sealed[..]].concat(), &mut out);
            black_box(out);
        },
    );
}

fn run(name: &str, duration: Duration, mut item: impl FnMut()) {
    // Warm up, then count items until the duration has passed (the clock read every 256 items).
    for _ in 0..10_000 {
        item();
    }
    let started = Instant::now();
    let mut items = 0u64;
    while started.elapsed() < duration {
        for _ in 0..256 {
            item();
        }
        items += 256;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{name:<72} {:>12.0} {:>10.0}",
        items as f64 / elapsed,
        elapsed * 1e9 / items as f64
    );
}
