//! `vault server -dev`: initialized, unsealed, root token as given, temporary data removed at exit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::{assert_owner_only, proc_line, temp_dir, vault_bin, Client};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_dev(args: &[String]) {
    let port = free_port();
    let mut all: Vec<String> = vec!["server".into()];
    all.extend(args.iter().cloned());
    all.push(format!("-dev-listen-address=127.0.0.1:{port}"));
    let logs = temp_dir();
    let stderr_path = logs.path().join("stderr.log");
    let mut child = Command::new(vault_bin())
        .args(&all)
        .env("VAULT_LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("should NOT be used in production") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(banner.contains("WARNING! dev mode is enabled!"), "{banner}");
    assert!(banner.contains("Unseal Key: "), "{banner}");
    let root = banner
        .lines()
        .find_map(|l| l.strip_prefix("Root Token: "))
        .unwrap()
        .to_string();
    if args.iter().any(|a| a.contains("dev-root-token-id")) {
        assert_eq!(root, "dev-root");
    } else {
        assert!(root.starts_with("s."));
    }
    let data_dir = banner
        .lines()
        .find_map(|l| l.split("path: \"").nth(1))
        .unwrap()
        .trim_end_matches(")")
        .trim_end_matches('"')
        .to_string();
    assert!(std::path::Path::new(&data_dir).exists(), "{data_dir}");
    assert_owner_only(std::path::Path::new(&data_dir));
    assert_eq!(
        proc_line(child.id(), "status", "VmLck:"),
        "0 kB",
        "dev mode implies disable_mlock, as in Vault"
    );

    let c = Client::new(&format!("http://127.0.0.1:{port}"));
    let status = c.get("sys/seal-status", None).1;
    assert_eq!(
        (status["sealed"].clone(), status["t"].clone(), status["n"].clone()),
        (json!(false), json!(1), json!(1))
    );
    assert_eq!(
        c.put("sys/seal", Some(&root), json!({})).0,
        204,
        "the printed root token works"
    );

    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut exited = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(exited.expect("dev server exits on SIGINT").success());
    assert!(
        !std::path::Path::new(&data_dir).exists(),
        "temporary data removed at exit"
    );
    // The store is closed (its last flush, the marker's durable count) before its directory is removed.
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[test]
fn dev_mode_single_dash_flags() {
    run_dev(&["-dev".into(), "-dev-root-token-id=dev-root".into()]);
}

#[test]
fn dev_mode_double_dash_random_token() {
    run_dev(&["--dev".into()]);
}
