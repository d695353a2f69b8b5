//! Startup configuration errors: each names the file and the key, and exits non-zero.

use crate::common::{run_vault, temp_dir, write_config};

fn start_fails(config_text: &str, expected: &[&str]) {
    let dir = temp_dir();
    let path = dir.path().join("bad.hcl");
    std::fs::write(&path, config_text).unwrap();
    let (code, _, stderr) = run_vault(&["server", &format!("-config={}", path.display())]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "names the file: {stderr}");
    for needle in expected {
        assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    }
}

const GOOD: &str = "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\nstorage \"sled\" {\n  path = \"DATA\"\n}\n";

#[test]
fn unknown_keys_blocks_and_types_are_errors() {
    start_fails(&format!("colour = \"red\"\n{GOOD}"), &["unknown key \"colour\""]);
    start_fails(
        &GOOD.replace("tls_disable = true", "tls_disable = true\n  tls_cipher = 1"),
        &["unknown key \"tls_cipher\" in listener"],
    );
    start_fails(
        &format!("{GOOD}\nseal \"awskms\" {{\n}}\n"),
        &["unsupported seal type \"awskms\""],
    );
    start_fails(
        &format!("{GOOD}\nseal \"static\" {{\n  current_key_id = \"a\"\n  current_key = \"abcd\"\n}}\n"),
        &["current_key must be a 32-byte key"],
    );
    start_fails(
        &format!("{GOOD}\nseal \"static\" {{\n  current_key = \"env://VAULT_TEST_UNSET_KEY\"\n}}\n"),
        &["VAULT_TEST_UNSET_KEY is not set"],
    );
    start_fails(
        &format!("{GOOD}\nseal \"transit\" {{\n  address = \"http://127.0.0.1:1\"\n  token = \"t\"\n  mount_path = \"transit\"\n}}\n"),
        &["key_name is required"],
    );
    start_fails(&format!("ui = \"maybe\"\n{GOOD}"), &["\"ui\" must be a boolean"]);
    start_fails(&format!("max_lease_ttl = \"ten days\"\n{GOOD}"), &["max_lease_ttl"]);
    start_fails(&GOOD.replace("sled", "raft"), &["raft"]);
    start_fails(
        "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\n",
        &["no storage \"sled\" block"],
    );
    start_fails(
        &GOOD.replace("tls_disable = true", "tls_disable = false"),
        &["tls_cert_file"],
    );
    start_fails("this is { not hcl", &["invalid HCL"]);
}

#[test]
fn missing_file_and_no_arguments() {
    let (code, _, stderr) = run_vault(&["server", "-config=/nonexistent/vault.hcl"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("/nonexistent/vault.hcl") && stderr.contains("cannot read file"),
        "{stderr}"
    );
    let (code, _, stderr) = run_vault(&["server"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("-config"), "{stderr}");
}

#[test]
fn example_config_parses_and_durations_apply() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/vault.hcl.example")).unwrap();
    let config = vault::config::Config::parse(&example).unwrap();
    assert_eq!(config.storage_path.as_deref(), Some(std::path::Path::new("./data")));
    assert!(!config.listeners.is_empty());
    // The example really starts a server (on a copy pointing at a temp dir and a free port).
    let dir = temp_dir();
    let adapted = example
        .replace("./data", &dir.path().join("data").display().to_string())
        .replace("127.0.0.1:8200", "127.0.0.1:0");
    let path = write_config(dir.path(), &dir.path().join("unused"), "", "");
    std::fs::write(&path, adapted).unwrap();
    let server = crate::common::TestServer::start_with_config(dir.path(), &path, "http", None);
    assert_eq!(server.client.get("sys/init", None).0, 200);
}
