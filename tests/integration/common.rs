//! Test support: run the built `vault` binary on a temporary data directory and talk to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub fn vault_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vault")
}

pub struct Client {
    agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Client::with_tls(base, None)
    }

    pub fn with_tls(base: &str, ca_pem: Option<&[u8]>) -> Self {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(30)));
        if let Some(pem) = ca_pem {
            let cert = ureq::tls::Certificate::from_pem(pem).unwrap().to_owned();
            let roots = ureq::tls::RootCerts::new_with_certs(&[cert]);
            config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        Client {
            agent: config.build().new_agent(),
            base: base.to_string(),
        }
    }

    /// Send a request; returns the status and the JSON body (`Null` when empty). A PATCH goes as a JSON merge patch,
    /// as the real clients send it.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> (u16, Value) {
        let headers: &[(&str, &str)] = if method == "PATCH" {
            &[("Content-Type", "application/merge-patch+json")]
        } else {
            &[]
        };
        self.try_call(method, path, token, headers, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Client::call`] with extra headers, but a transport failure (the server died, a reset connection, a
    /// body cut short) is an `Err` instead of a panic. A body that is not JSON is also an `Err`.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        if let Some(t) = token {
            builder = builder.header("X-Vault-Token", t);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body.unwrap_or_default()).map_err(|e| e.to_string())?;
        let mut response = self.agent.run(request).map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {path}: reading the body: {e}"))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {status} not JSON ({e}): {text}"))?
        };
        Ok((status, value))
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call("GET", path, token, None)
    }

    pub fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call("PUT", path, token, Some(body.to_string().into_bytes()))
    }

    /// Initialize with `shares`/`threshold`; returns (hex keys, root token).
    pub fn init(&self, shares: u32, threshold: u32) -> (Vec<String>, String) {
        let (status, body) = self.put(
            "sys/init",
            None,
            json!({"secret_shares": shares, "secret_threshold": threshold}),
        );
        assert_eq!(status, 200, "{body}");
        let keys = body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        (keys, body["root_token"].as_str().unwrap().to_string())
    }

    pub fn unseal_with(&self, keys: &[String]) -> Value {
        let mut last = Value::Null;
        for key in keys {
            let (status, body) = self.put("sys/unseal", None, json!({ "key": key }));
            assert_eq!(status, 200, "{body}");
            last = body;
        }
        last
    }
}

/// A server that did not come up: how it exited (`None` if unknown) and what it wrote to stderr.
#[derive(Debug)]
pub struct StartFailure {
    pub status: Option<std::process::ExitStatus>,
    pub stderr: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server did not start ({:?}): {}", self.status, self.stderr)
    }
}

/// A running server process on a temporary data directory. Killed (SIGKILL) on drop unless stopped first.
pub struct TestServer {
    child: Option<Child>,
    pub addr: String,
    pub client: Client,
    pub stderr_path: PathBuf,
}

pub fn write_config(dir: &Path, data: &Path, extra: &str, listener_extra: &str) -> PathBuf {
    let storage = storage_stanza(data);
    let config = format!("{extra}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n{listener_extra}\n}}\n{storage}");
    let path = dir.join("vault.hcl");
    std::fs::write(&path, config).unwrap();
    path
}

impl TestServer {
    /// Start with a plain-HTTP listener on a free port and data in `dir/data`.
    pub fn start(dir: &Path) -> TestServer {
        let config = write_config(dir, &dir.join("data"), "", "  tls_disable = true");
        Self::start_with_config(dir, &config, "http", None)
    }

    /// Start, initialize with one share and unseal; returns the server, the root token and the unseal keys.
    pub fn start_unsealed(dir: &Path) -> (TestServer, String, Vec<String>) {
        let server = TestServer::start(dir);
        let (keys, root) = server.client.init(1, 1);
        server.client.unseal_with(&keys);
        (server, root, keys)
    }

    pub fn start_with_config(dir: &Path, config: &Path, scheme: &str, ca_pem: Option<&[u8]>) -> TestServer {
        Self::try_start(dir, config, scheme, ca_pem).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(dir: &Path, config: &Path, scheme: &str, ca_pem: Option<&[u8]>) -> Result<TestServer, String> {
        Self::try_start_with(dir, config, scheme, ca_pem, |_| {}).map_err(|f| f.to_string())
    }

    /// [`TestServer::try_start`] with a hook to adjust the child's command first (user, resource limits).
    pub fn try_start_with(
        dir: &Path,
        config: &Path,
        scheme: &str,
        ca_pem: Option<&[u8]>,
        adjust: impl FnOnce(&mut Command),
    ) -> Result<TestServer, StartFailure> {
        let stderr_path = dir.join(format!("stderr-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = Command::new(vault_bin());
        command
            .args(["server", &format!("-config={}", config.display())])
            .env("VAULT_LOG_LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(stderr);
        adjust(&mut command);
        let mut child = command.spawn().unwrap();
        let addr = match read_listener_addr(&mut child) {
            Some(a) => a,
            None => {
                // Exited on its own (its status), or hung for 30 s (killed: a signal status).
                let _ = child.kill();
                let status = child.wait().ok();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(StartFailure { status, stderr });
            }
        };
        let client = Client::with_tls(&format!("{scheme}://{addr}"), ca_pem);
        let server = TestServer {
            child: Some(child),
            addr,
            client,
            stderr_path,
        };
        server.wait_healthy();
        Ok(server)
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let (status, _) = self.client.get("sys/seal-status", None);
            if status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server never answered sys/seal-status");
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// What the server has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Read stdout until the server announces it started; return its first listener address.
fn read_listener_addr(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut addr = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if addr.is_none() {
                if let Some(rest) = line.split("addr: \"").nth(1) {
                    addr = rest.split('"').next().map(str::to_string);
                }
            }
            if line.contains("Vault server started") {
                let _ = tx.send(addr.clone());
            }
        }
        let _ = tx.send(None);
    });
    rx.recv_timeout(Duration::from_secs(30)).ok().flatten()
}

/// Run the binary to completion with `args`; returns (exit code, stdout, stderr).
pub fn run_vault(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(vault_bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("vault-test-").tempdir().unwrap()
}

/// Every file below `dir` (to grep a data directory for plaintext).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// What a server whose data would live in `data` has stored, as `(where, bytes)` pairs to grep for plaintext: every
/// file of the sled directory, or every record (key and value) of its PostgreSQL table. Never empty for a server
/// that was initialized.
pub fn stored_bytes(data: &Path) -> Vec<(String, Vec<u8>)> {
    let out: Vec<(String, Vec<u8>)> = match PG_PREFIX.with(|p| p.borrow().clone()) {
        None => files_below(data)
            .into_iter()
            .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
            .collect(),
        Some(prefix) => {
            let table = pg_table(&prefix, data);
            pg_client()
                .query(&format!("SELECT tree, key, value FROM \"{table}\""), &[])
                .unwrap()
                .iter()
                .map(|row| {
                    let tree: String = row.get(0);
                    let mut bytes: Vec<u8> = row.get(1);
                    bytes.extend_from_slice(row.get::<_, &[u8]>(2));
                    (format!("table {table}, tree {tree}"), bytes)
                })
                .collect()
        }
    };
    assert!(!out.is_empty(), "nothing stored for {}", data.display());
    out
}

/// A gzip'd tar of `files` in order (the snapshot container), for tests that build or alter snapshots.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_path(name).unwrap();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    out
}

/// Permission bits of a file or directory.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `dir` and every directory below it are 0700, every file 0600: nothing another user can read.
pub fn assert_owner_only(dir: &Path) {
    assert_eq!(mode_of(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_owner_only(&path);
        } else {
            assert_eq!(mode_of(&path), 0o600, "{}", path.display());
        }
    }
}

/// A line of `/proc/<pid>/<file>` starting with `label`, without the label (`VmLck:`, `Max core file size`, `wchar:`).
pub fn proc_line(pid: u32, file: &str, label: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in /proc/{pid}/{file}: {text}"))
        .trim()
        .to_string()
}

/// The shared PostgreSQL server of this machine (and of CI), trust auth.
pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

thread_local! {
    /// Set while a test runs on PostgreSQL: the prefix of the tables its servers store in.
    static PG_PREFIX: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The storage stanza for a server whose data would live in `data`: sled there, or, while the test runs
/// [`OnPostgres`], a PostgreSQL table of its own derived from that path (so a restart on the same directory finds
/// the same data, and two servers on two directories do not share).
pub fn storage_stanza(data: &Path) -> String {
    match PG_PREFIX.with(|p| p.borrow().clone()) {
        Some(prefix) => format!(
            "storage \"postgresql\" {{\n  connection_url = \"{PG_URL}\"\n  table = \"{}\"\n}}\n",
            pg_table(&prefix, data)
        ),
        None => format!("storage \"sled\" {{\n  path = \"{}\"\n}}\n", data.display()),
    }
}

/// The table of the server whose data directory would be `data`, within a test's prefix.
pub fn pg_table(prefix: &str, data: &Path) -> String {
    // FNV-1a of the path: stable, short, and distinct for the few directories one test uses.
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in data.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    format!("{prefix}_{hash:016x}")
}

/// A client of the shared PostgreSQL server, or a panic saying it is not there.
pub fn pg_client() -> postgres::Client {
    postgres::Client::connect(PG_URL, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "these tests need PostgreSQL at 127.0.0.1:5432 (user postgres, database test, trust auth): {e}; start it \
             with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    })
}

/// While alive, the servers this thread starts store in PostgreSQL, in tables dropped when it goes.
pub struct OnPostgres {
    prefix: String,
}

impl OnPostgres {
    pub fn enter() -> OnPostgres {
        drop(pg_client());
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).unwrap();
        let prefix = format!("vt_{}", hex::encode(id));
        PG_PREFIX.with(|p| *p.borrow_mut() = Some(prefix.clone()));
        OnPostgres { prefix }
    }

    /// The prefix of this test's tables (see [`pg_table`]).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for OnPostgres {
    fn drop(&mut self) {
        PG_PREFIX.with(|p| *p.borrow_mut() = None);
        let Ok(mut client) = postgres::Client::connect(PG_URL, postgres::NoTls) else {
            return;
        };
        let Ok(rows) = client.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE $1",
            &[&format!("{}\\_%", self.prefix)],
        ) else {
            return;
        };
        for row in rows {
            let table: String = row.get(0);
            let _ = client.batch_execute(&format!("DROP TABLE IF EXISTS \"{table}\""));
        }
    }
}

/// Run the named tests of the calling module again with their servers on PostgreSQL, as
/// `<module>::on_postgresql::<name>`: the storage is a parameter, the test is not copied.
macro_rules! on_postgresql {
    ($($name:ident),* $(,)?) => {
        mod on_postgresql {
            $(
                #[test]
                fn $name() {
                    let _pg = crate::common::OnPostgres::enter();
                    super::$name()
                }
            )*
        }
    };
}

/// A raw GET with the given request headers (a name repeated is sent as separate lines): the status, the value of
/// the response header `wanted` and the body text.
pub fn raw_get(
    base: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    wanted: &str,
) -> (u16, Option<String>, String) {
    let (status, mut answered, body) = raw_get_headers(base, path, token, headers);
    (status, answered.remove(&wanted.to_lowercase()), body)
}

/// [`raw_get`] with every response header (lower-case names; the first value of a repeated one).
pub fn raw_get_headers(
    base: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, std::collections::BTreeMap<String, String>, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.get(format!("{base}/v1/{path}"));
    if let Some(t) = token {
        req = req.header("X-Vault-Token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap();
    let mut answered = std::collections::BTreeMap::new();
    for (k, v) in resp.headers() {
        answered
            .entry(k.as_str().to_lowercase())
            .or_insert_with(|| v.to_str().unwrap_or_default().to_string());
    }
    (
        resp.status().as_u16(),
        answered,
        resp.body_mut().read_to_string().unwrap(),
    )
}
