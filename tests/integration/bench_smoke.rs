//! `bench/run --smoke`: the side-by-side benchmark against OpenBao 2.7.2 runs end to end (about 1 s per workload)
//! with the binary under test, and prints its Markdown table. Needs `wrk` (installed with apt-get when run as root)
//! and `taskset`; OpenBao's `bao` comes from the test tools.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_smoke_runs_and_prints_the_table() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench").join("run");
    let out = Command::new(&script)
        .args(["--smoke", "--ours-bin", env!("CARGO_BIN_EXE_vault")])
        .env("BAO_BIN", crate::tools::bao())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench/run --smoke failed with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("| workload | server | req/s | p50 ms | p99 ms |"),
        "no results table in the output\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    for workload in [
        "sys/health",
        "kv-v2 read",
        "kv-v2 write",
        "wrap",
        "wrap+unwrap",
        "rewrap chain",
        "token create",
        "token lookup-self",
        "approle login",
        "userpass login",
    ] {
        for server in ["ours (vault)", "OpenBao 2.7.2"] {
            let row = format!("| {workload} | {server} |");
            assert!(stdout.contains(&row), "no row {row:?} in the table\n{stdout}");
        }
    }
    assert!(stdout.contains("idle RSS"), "no startup table\n{stdout}");
}
