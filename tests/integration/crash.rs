//! Crash safety of rewrap chains: rewraps stream in from several clients, the server is killed with SIGKILL at a
//! random moment, restarted and unsealed. For every chain, every token older than the newest acknowledged one is
//! dead, and the newest acknowledged one is valid (unless a rewrap of it was in flight, which may have committed)
//! and still unwraps to the original secret.

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
