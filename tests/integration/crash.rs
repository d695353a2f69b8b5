//! Crash safety. First, rewrap chains: rewraps stream in from several clients, the server is killed with SIGKILL at a
//! random moment, restarted and unsealed. For every chain, every token older than the newest acknowledged one is
//! dead, and the newest acknowledged one is valid (unless a rewrap of it was in flight, which may have committed)
//! and still unwraps to the original secret.
//!
//! Second, a mixed write load (K/V v2 versions, K/V v1, token creation, wrapping, rewrap chains) from several
//! clients, killed at least 20 times at seeded pseudo-random moments: every acknowledged write survives intact, and
//! a write in flight at the kill is all or nothing. `bench/crash-soak` runs the same idea for longer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::common::{temp_dir, Client, TestServer};

struct Chain {
    payload: serde_json::Value,
    acknowledged: Vec<String>,
    in_flight: bool,
}

fn run_chain(base: String, root: String, first: String, payload: serde_json::Value, stop: Arc<AtomicBool>) -> Chain {
    let c = Client::new(&base);
    let mut chain = Chain {
        payload,
        acknowledged: vec![first],
        in_flight: false,
    };
    while !stop.load(Ordering::Relaxed) {
        let current = chain.acknowledged.last().unwrap().clone();
        chain.in_flight = true;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let sent = agent
            .post(format!("{}/v1/sys/wrapping/rewrap", c.base))
            .header("X-Vault-Token", &root)
            .send(json!({ "token": current }).to_string());
        let Ok(mut resp) = sent else { return chain }; // the server died mid-request
        let Ok(text) = resp.body_mut().read_to_string() else {
            return chain;
        };
        assert_eq!(resp.status().as_u16(), 200, "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        chain
            .acknowledged
            .push(body["wrap_info"]["token"].as_str().unwrap().to_string());
        chain.in_flight = false;
    }
    chain
}

#[test]
fn kill_9_during_rewrap_streams() {
    let dir = temp_dir();
    let mut server = TestServer::start(dir.path());
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    for round in 0..3u64 {
        let c = &server.client;
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for i in 0..4 {
            let payload = json!({ "round": round, "chain": i, "secret": format!("s-{round}-{i}") });
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent();
            let mut resp = agent
                .post(format!("{}/v1/sys/wrapping/wrap", c.base))
                .header("X-Vault-Token", &root)
                .header("X-Vault-Wrap-TTL", "1h")
                .send(payload.to_string())
                .unwrap();
            let body: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
            let first = body["wrap_info"]["token"].as_str().unwrap().to_string();
            let (base, root, stop) = (c.base.clone(), root.clone(), stop.clone());
            handles.push(std::thread::spawn(move || run_chain(base, root, first, payload, stop)));
        }
        // Kill at a moment that differs per round (pseudo-random, reproducible from the round number).
        std::thread::sleep(Duration::from_millis(150 + (round * 7919) % 400));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let chains: Vec<Chain> = handles.into_iter().map(|h| h.join().unwrap()).collect();

        server = TestServer::start(dir.path());
        let c = &server.client;
        c.unseal_with(&keys);
        let mut total = 0;
        for chain in &chains {
            total += chain.acknowledged.len();
            let (last, older) = chain.acknowledged.split_last().unwrap();
            for old in older {
                assert_eq!(
                    c.put("sys/wrapping/lookup", None, json!({ "token": old })).0,
                    400,
                    "an older token of the chain is still valid after the crash"
                );
            }
            let (status, _) = c.put("sys/wrapping/lookup", None, json!({ "token": last }));
            if status == 200 {
                let (_, unwrapped) = c.put("sys/wrapping/unwrap", Some(last), json!({}));
                assert_eq!(unwrapped["data"], chain.payload);
            } else {
                assert!(
                    chain.in_flight,
                    "the newest acknowledged token was lost although nothing was in flight"
                );
            }
        }
        assert!(total > 4, "rewraps happened before the kill (round {round}: {total})");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A mixed write load killed at seeded pseudo-random moments.

/// Reproducible pseudo-random numbers (splitmix64): the kill moments and the operation mix follow from one seed.
#[derive(Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A K/V version 2 key written version after version by one client.
#[derive(Debug)]
struct Kv2Key {
    path: String,
    /// The data of every acknowledged version, version 1 first.
    acked: Vec<serde_json::Value>,
    /// The data of a write that got no answer (it may or may not have committed).
    in_flight: Option<serde_json::Value>,
}

/// A rewrap chain that lives across rounds: every token but the newest acknowledged one must be dead.
#[derive(Debug)]
struct MixedChain {
    payload: serde_json::Value,
    acked: Vec<String>,
    in_flight: bool,
}

/// What one client thread did in one round.
#[derive(Default)]
struct Work {
    kv2: Vec<Kv2Key>,
    kv1: Vec<(String, serde_json::Value)>,
    kv1_in_flight: Option<(String, serde_json::Value)>,
    tokens: Vec<String>,
    wraps: Vec<(String, serde_json::Value)>,
    chains: Vec<MixedChain>,
    /// A write answered with something other than 2xx (the test fails on it).
    refused: Option<String>,
}

impl Work {
    fn acknowledged(&self) -> usize {
        self.kv2.iter().map(|k| k.acked.len()).sum::<usize>() + self.kv1.len() + self.tokens.len() + self.wraps.len()
    }
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

/// One client's load: unique keys per write, until the server dies (a transport error) or `stop` is set.
fn mixed_worker(
    base: String,
    root: String,
    tag: String,
    mut rng: Rng,
    chains: Vec<MixedChain>,
    stop: Arc<AtomicBool>,
    acks: Arc<std::sync::atomic::AtomicUsize>,
) -> Work {
    let c = Client::new(&base);
    let t = Some(root.as_str());
    let mut w = Work {
        chains,
        ..Work::default()
    };
    let mut n = 0u64;
    let mut reported = 0;
    while !stop.load(Ordering::Relaxed) {
        // Tell the test how many writes were acknowledged so far (it kills only after one was).
        let acknowledged = w.acknowledged();
        if acknowledged > reported {
            acks.fetch_add(acknowledged - reported, Ordering::Relaxed);
            reported = acknowledged;
        }
        n += 1;
        let op = rng.below(10);
        let result = match op {
            // K/V v2: a new key, or the next version of one written earlier in this round.
            0..=2 => {
                let reuse = !w.kv2.is_empty() && rng.below(2) == 0;
                if !reuse {
                    w.kv2.push(Kv2Key {
                        path: format!("{tag}-{n}"),
                        acked: Vec::new(),
                        in_flight: None,
                    });
                }
                let i = if reuse {
                    rng.below(w.kv2.len() as u64) as usize
                } else {
                    w.kv2.len() - 1
                };
                let key = &mut w.kv2[i];
                let data = json!({ "v": format!("{}-v{}-{}", key.path, key.acked.len() + 1, rng.next()) });
                key.in_flight = Some(data.clone());
                let body = json!({ "data": data }).to_string().into_bytes();
                match c.try_call("PUT", &format!("kv2/data/{}", key.path), t, &[], Some(body)) {
                    Ok((s, b)) if is_2xx(s) => {
                        let expected = key.acked.len() as u64 + 1;
                        if b["data"]["version"] != json!(expected) {
                            w.refused = Some(format!("kv2 write of {} answered version {}", key.path, b["data"]));
                        }
                        key.acked.push(data);
                        key.in_flight = None;
                        Ok(())
                    }
                    Ok((s, b)) => Err(Some(format!("kv2 write: {s} {b}"))),
                    Err(_) => Err(None),
                }
            }
            3..=4 => {
                let path = format!("{tag}-{n}");
                let data = json!({ "v": format!("{path}-{}", rng.next()) });
                w.kv1_in_flight = Some((path.clone(), data.clone()));
                let body = data.to_string().into_bytes();
                match c.try_call("PUT", &format!("kv1/{path}"), t, &[], Some(body)) {
                    Ok((s, _)) if is_2xx(s) => {
                        w.kv1.push((path, data));
                        w.kv1_in_flight = None;
                        Ok(())
                    }
                    Ok((s, b)) => Err(Some(format!("kv1 write: {s} {b}"))),
                    Err(_) => Err(None),
                }
            }
            5 => {
                let body = json!({ "ttl": "2h", "meta": { "tag": format!("{tag}-{n}") } });
                match c.try_call("PUT", "auth/token/create", t, &[], Some(body.to_string().into_bytes())) {
                    Ok((s, b)) if is_2xx(s) => {
                        w.tokens
                            .push(b["auth"]["client_token"].as_str().unwrap_or_default().to_string());
                        Ok(())
                    }
                    Ok((s, b)) => Err(Some(format!("token create: {s} {b}"))),
                    Err(_) => Err(None),
                }
            }
            6 => {
                let payload = json!({ "wrapped": format!("{tag}-{n}-{}", rng.next()) });
                let headers = [("X-Vault-Wrap-TTL", "2h")];
                match c.try_call(
                    "PUT",
                    "sys/wrapping/wrap",
                    t,
                    &headers,
                    Some(payload.to_string().into_bytes()),
                ) {
                    Ok((s, b)) if is_2xx(s) => {
                        w.wraps.push((
                            b["wrap_info"]["token"].as_str().unwrap_or_default().to_string(),
                            payload,
                        ));
                        Ok(())
                    }
                    Ok((s, b)) => Err(Some(format!("wrap: {s} {b}"))),
                    Err(_) => Err(None),
                }
            }
            _ => {
                if w.chains.is_empty() {
                    continue;
                }
                let i = rng.below(w.chains.len() as u64) as usize;
                let chain = &mut w.chains[i];
                let current = chain.acked.last().cloned().unwrap_or_default();
                chain.in_flight = true;
                let body = json!({ "token": current }).to_string().into_bytes();
                match c.try_call("PUT", "sys/wrapping/rewrap", t, &[], Some(body)) {
                    Ok((s, b)) if is_2xx(s) => {
                        chain
                            .acked
                            .push(b["wrap_info"]["token"].as_str().unwrap_or_default().to_string());
                        chain.in_flight = false;
                        Ok(())
                    }
                    Ok((s, b)) => Err(Some(format!("rewrap: {s} {b}"))),
                    Err(_) => Err(None),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(refused) => {
                w.refused = refused;
                break;
            }
        }
    }
    w
}

/// Everything acknowledged so far, checked after every restart and once more at the end.
#[derive(Default)]
struct Model {
    kv2: Vec<Kv2Key>,
    kv1: Vec<(String, serde_json::Value)>,
    tokens: Vec<String>,
    wraps: Vec<(String, serde_json::Value)>,
    /// Chains whose newest token is known and valid; they go on in the next round.
    chains: Vec<MixedChain>,
    /// Chains whose last rewrap was in flight and committed: every token we know of is dead.
    finished_chains: Vec<MixedChain>,
    checked: usize,
    /// Writes in flight at a kill that turned out committed / not committed (both must occur for the test to mean
    /// something about in-flight writes).
    in_flight_committed: usize,
    in_flight_absent: usize,
}

const MAX_VERSIONS: usize = 10;

/// Check a K/V v2 key against what was acknowledged; returns its current version.
fn kv2_check(c: &Client, root: &str, key: &Kv2Key) -> Result<usize, String> {
    let t = Some(root);
    let (status, meta) = c.get(&format!("kv2/metadata/{}", key.path), t);
    let n = key.acked.len();
    let current = if status == 404 {
        0
    } else if status == 200 {
        meta["data"]["current_version"].as_u64().unwrap_or(0) as usize
    } else {
        return Err(format!("metadata of {}: {status} {meta}", key.path));
    };
    let ok = current == n || (current == n + 1 && key.in_flight.is_some());
    if !ok {
        return Err(format!(
            "{}: current_version {current}, {n} acknowledged, in flight {:?}",
            key.path, key.in_flight
        ));
    }
    // The mount keeps the newest MAX_VERSIONS versions (kv-v2's default max_versions); older ones are pruned.
    let oldest = current.saturating_sub(MAX_VERSIONS - 1).max(1);
    if current > 0 {
        let versions = meta["data"]["versions"].as_object().cloned().unwrap_or_default();
        let mut listed: Vec<usize> = versions.keys().filter_map(|k| k.parse().ok()).collect();
        listed.sort();
        if listed != (oldest..=current).collect::<Vec<_>>() {
            return Err(format!(
                "{}: metadata lists versions {listed:?}, current {current}",
                key.path
            ));
        }
    }
    for v in 1..=current.max(n + usize::from(key.in_flight.is_some())) {
        let (status, body) = c.get(&format!("kv2/data/{}?version={v}", key.path), t);
        if v < oldest {
            if status != 404 {
                return Err(format!(
                    "{} version {v} should be pruned (current {current}): {status}",
                    key.path
                ));
            }
        } else if v <= current {
            let expected = if v <= n {
                &key.acked[v - 1]
            } else {
                key.in_flight.as_ref().unwrap_or(&json!(null))
            };
            if status != 200 || &body["data"]["data"] != expected || body["data"]["metadata"]["version"] != json!(v) {
                return Err(format!(
                    "{} version {v}: {status} {body}, expected {expected}",
                    key.path
                ));
            }
        } else if status != 404 {
            // A version the metadata does not know must not be readable (no half-applied write).
            return Err(format!(
                "{} version {v} beyond current {current}: {status} {body}",
                key.path
            ));
        }
    }
    if current > 0 {
        let (status, body) = c.get(&format!("kv2/data/{}", key.path), t);
        if status != 200 || body["data"]["metadata"]["version"] != json!(current) {
            return Err(format!(
                "{} latest: {status} {body}, expected version {current}",
                key.path
            ));
        }
    }
    Ok(current)
}

impl Model {
    /// Check one round's work on the restarted server and fold it into the model.
    fn absorb(&mut self, c: &Client, root: &str, work: Work) -> Result<(), String> {
        if let Some(refused) = work.refused {
            return Err(format!("a write was refused under load: {refused}"));
        }
        let t = Some(root);
        for key in &work.kv2 {
            let current = kv2_check(c, root, key)?;
            self.checked += key.acked.len();
            if key.in_flight.is_some() {
                if current > key.acked.len() {
                    self.in_flight_committed += 1;
                } else {
                    self.in_flight_absent += 1;
                }
            }
        }
        for (path, data) in &work.kv1 {
            let (status, body) = c.get(&format!("kv1/{path}"), t);
            if status != 200 || &body["data"] != data {
                return Err(format!("kv1/{path}: {status} {body}, expected {data}"));
            }
            self.checked += 1;
        }
        if let Some((path, data)) = &work.kv1_in_flight {
            let (status, body) = c.get(&format!("kv1/{path}"), t);
            match status {
                404 => self.in_flight_absent += 1,
                200 if &body["data"] == data => self.in_flight_committed += 1,
                _ => return Err(format!("in-flight kv1/{path}: {status} {body}, sent {data}")),
            }
        }
        for token in &work.tokens {
            let (status, body) = c.put("auth/token/lookup", t, json!({ "token": token }));
            if status != 200 || body["data"]["id"] != json!(token) {
                return Err(format!("created token lost: {status} {body}"));
            }
            self.checked += 1;
        }
        for (token, _) in &work.wraps {
            let (status, body) = c.put("sys/wrapping/lookup", None, json!({ "token": token }));
            if status != 200 {
                return Err(format!("wrapping token lost: {status} {body}"));
            }
            self.checked += 1;
        }
        for mut chain in work.chains {
            let (last, older) = chain.acked.split_last().ok_or("empty chain")?;
            for old in older {
                let (status, body) = c.put("sys/wrapping/lookup", None, json!({ "token": old }));
                if status != 400 {
                    return Err(format!("an older token of a rewrap chain answers {status} {body}"));
                }
            }
            let (status, body) = c.put("sys/wrapping/lookup", None, json!({ "token": last }));
            match status {
                200 => {
                    if chain.in_flight {
                        self.in_flight_absent += 1;
                    }
                    chain.in_flight = false;
                    // Only the newest needs checking next round; the older ones stay dead (checked at the end).
                    self.chains.push(chain);
                }
                400 if chain.in_flight => {
                    self.in_flight_committed += 1;
                    self.finished_chains.push(chain)
                }
                _ => {
                    return Err(format!(
                        "the newest acknowledged token of a chain answers {status} {body}"
                    ))
                }
            }
        }
        self.kv2.extend(work.kv2);
        self.kv1.extend(work.kv1);
        self.tokens.extend(work.tokens);
        self.wraps.extend(work.wraps);
        Ok(())
    }

    /// After the last restart: everything from every round, and the wrapped tokens unwrap to their payloads.
    fn final_check(&mut self, c: &Client, root: &str) -> Result<usize, String> {
        let t = Some(root);
        let mut checked = 0;
        for key in &self.kv2 {
            kv2_check(c, root, key)?;
            checked += key.acked.len();
        }
        for (path, data) in &self.kv1 {
            let (status, body) = c.get(&format!("kv1/{path}"), t);
            if status != 200 || &body["data"] != data {
                return Err(format!("kv1/{path} lost in a later crash: {status} {body}"));
            }
            checked += 1;
        }
        for token in &self.tokens {
            let (status, body) = c.put("auth/token/lookup", t, json!({ "token": token }));
            if status != 200 {
                return Err(format!("created token lost in a later crash: {status} {body}"));
            }
            checked += 1;
        }
        for (token, payload) in &self.wraps {
            let (status, body) = c.put("sys/wrapping/unwrap", Some(token), json!({}));
            if status != 200 || &body["data"] != payload {
                return Err(format!("wrapped token does not unwrap to its payload: {status} {body}"));
            }
            checked += 1;
        }
        for chain in self.chains.iter().chain(&self.finished_chains) {
            let live = self.chains.iter().any(|c| std::ptr::eq(c, chain));
            let (last, older) = chain.acked.split_last().ok_or("empty chain")?;
            for old in older.iter().chain(if live { None } else { Some(last) }) {
                if c.put("sys/wrapping/lookup", None, json!({ "token": old })).0 != 400 {
                    return Err("an older token of a rewrap chain came back".into());
                }
            }
            if live {
                let (status, body) = c.put("sys/wrapping/unwrap", Some(last), json!({}));
                if status != 200 || body["data"] != chain.payload {
                    return Err(format!("a chain's newest token does not unwrap: {status} {body}"));
                }
            }
        }
        Ok(checked)
    }
}

/// Start new rewrap chains until `want` are live (a chain ends when its last rewrap was in flight and committed).
fn top_up_chains(c: &Client, root: &str, model: &mut Model, rng: &mut Rng, want: usize) {
    while model.chains.len() < want {
        let payload =
            json!({ "chain": model.chains.len() + model.finished_chains.len(), "secret": rng.next().to_string() });
        let (status, body) = c
            .try_call(
                "PUT",
                "sys/wrapping/wrap",
                Some(root),
                &[("X-Vault-Wrap-TTL", "2h")],
                Some(payload.to_string().into_bytes()),
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let token = body["wrap_info"]["token"].as_str().unwrap().to_string();
        model.chains.push(MixedChain {
            payload,
            acked: vec![token],
            in_flight: false,
        });
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn enable_mounts(c: &Client, root: &str) {
    let (status, body) = c.put("sys/mounts/kv2", Some(root), json!({ "type": "kv-v2" }));
    assert_eq!(status, 204, "{body}");
    let (status, body) = c.put(
        "sys/mounts/kv1",
        Some(root),
        json!({ "type": "kv", "options": { "version": "1" } }),
    );
    assert_eq!(status, 204, "{body}");
}

/// Mixed writes from 4 clients (K/V v2 versions, K/V v1, token creation, wrapping, rewrap chains), killed with
/// SIGKILL `VAULT_CRASH_KILLS` times (default 24) at moments drawn from `VAULT_CRASH_SEED`. After each restart
/// every acknowledged write of the round is checked exactly, and in-flight ones are all-or-nothing; at the end
/// everything from every round is checked again and every wrapped token unwrapped.
#[test]
fn kill_9_during_mixed_writes() {
    let seed = env_u64("VAULT_CRASH_SEED", 0x5eed_0007);
    let kills = env_u64("VAULT_CRASH_KILLS", 24);
    let started = std::time::Instant::now();
    let dir = temp_dir();
    let mut server = TestServer::start(dir.path());
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    enable_mounts(&server.client, &root);
    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let workers = 4;
    top_up_chains(&server.client, &root, &mut model, &mut rng, 2 * workers);
    let mut acknowledged_before_kill = 0;
    for round in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut chains: Vec<Vec<MixedChain>> = (0..workers).map(|_| Vec::new()).collect();
        for (i, chain) in model.chains.drain(..).enumerate() {
            chains[i % workers].push(chain);
        }
        let handles: Vec<_> = chains
            .into_iter()
            .enumerate()
            .map(|(w, chains)| {
                let (base, root, stop, acks) = (server.client.base.clone(), root.clone(), stop.clone(), acks.clone());
                let worker_rng = Rng::new(rng.next());
                let tag = format!("r{round}w{w}");
                std::thread::spawn(move || mixed_worker(base, root, tag, worker_rng, chains, stop, acks))
            })
            .collect();
        let delay = 60 + rng.below(300);
        std::thread::sleep(Duration::from_millis(delay));
        // On a loaded machine the mix may not have reached the server yet: a round proves something only once a
        // write was acknowledged, so wait for one (bounded), then kill.
        let wait = std::time::Instant::now() + Duration::from_secs(30);
        while round > 0 && acks.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let works: Vec<Work> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let round_acked: usize = works.iter().map(Work::acknowledged).sum();
        acknowledged_before_kill += round_acked;

        server = TestServer::start(dir.path());
        server.client.unseal_with(&keys);
        for work in works {
            if let Err(e) = model.absorb(&server.client, &root, work) {
                panic!("seed {seed:#x}, round {round} (killed after {delay} ms): {e}");
            }
        }
        top_up_chains(&server.client, &root, &mut model, &mut rng, 2 * workers);
        // The mix must have reached the server in most rounds; a round with nothing acknowledged proves nothing.
        assert!(
            round_acked > 0 || round == 0,
            "seed {seed:#x}, round {round}: no write acknowledged before the kill"
        );
    }
    let checked = model
        .final_check(&server.client, &root)
        .unwrap_or_else(|e| panic!("seed {seed:#x}, final check: {e}"));
    assert_eq!(checked, acknowledged_before_kill);
    eprintln!(
        "crash suite: seed {seed:#x}, {kills} kills, {checked} acknowledged writes checked, 0 lost; in flight at a \
         kill: {} committed, {} not; {} rewrap chains, {:.1}s",
        model.in_flight_committed,
        model.in_flight_absent,
        model.chains.len() + model.finished_chains.len(),
        started.elapsed().as_secs_f64()
    );
}

on_postgresql!(kill_9_during_rewrap_streams, kill_9_during_mixed_writes);
