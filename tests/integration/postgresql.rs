//! PostgreSQL storage beyond the parametrized suites (`on_postgresql` in wrapping, tokens, kv, snapshots, crash):
//! snapshots moved between sled and PostgreSQL both ways, two servers sharing one table (exactly-once unwrap
//! across them), the stanza's errors, and a private PostgreSQL stopped and started again under load.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, OnPostgres, TestServer};
use crate::snapshots::{restore, save};

fn kv_put(server: &TestServer, root: &str, path: &str, value: &str) {
    let (status, body) = server.client.put(path, Some(root), json!({ "data": { "v": value } }));
    assert_eq!(status, 200, "{body}");
}

fn kv_get(server: &TestServer, root: &str, path: &str) -> (u16, Value) {
    server.client.get(path, Some(root))
}

fn enable_kv2(server: &TestServer, root: &str) {
    let (status, body) = server.client.put(
        "sys/mounts/secret",
        Some(root),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(status, 204, "{body}");
}

/// Save a snapshot on a server of one storage and force-restore it into a server of the other: the second seals
/// (another initialization), unseals with the first one's keys, and serves the first one's secrets.
fn move_snapshot(source_on_pg: bool) {
    let dir = temp_dir();
    let source_dir = dir.path().join("source");
    let target_dir = dir.path().join("target");
    std::fs::create_dir_all(&source_dir).unwrap();
    std::fs::create_dir_all(&target_dir).unwrap();

    let pg = source_on_pg.then(OnPostgres::enter);
    let (source, root, keys) = TestServer::start_unsealed(&source_dir);
    enable_kv2(&source, &root);
    kv_put(&source, &root, "secret/data/moved", "across-storages");
    let (status, snapshot) = save(&source.client, Some(&root));
    assert_eq!(status, 200);
    drop(source);
    drop(pg);

    let pg = (!source_on_pg).then(OnPostgres::enter);
    let (target, target_root, _) = TestServer::start_unsealed(&target_dir);
    let (status, body) = restore(&target.client, &target_root, &snapshot, true);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("different initialization"),
        "{body}"
    );
    assert_eq!(target.client.get("sys/seal-status", None).1["sealed"], true);
    target.client.unseal_with(&keys);
    let (status, body) = kv_get(&target, &root, "secret/data/moved");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"]["v"], "across-storages");
    let storage_type = target.client.get("sys/seal-status", None).1["storage_type"].clone();
    assert_eq!(storage_type, if source_on_pg { "sled" } else { "postgresql" });
    drop(target);
    drop(pg);
}

#[test]
fn a_snapshot_moves_from_sled_to_postgresql() {
    move_snapshot(false);
}

#[test]
fn a_snapshot_moves_from_postgresql_to_sled() {
    move_snapshot(true);
}

/// Start a second server on the same PostgreSQL table as a first one (`data` names the table).
fn start_sharing(dir: &Path, data: &Path) -> TestServer {
    let config = write_config(dir, data, "", "  tls_disable = true");
    TestServer::start_with_config(dir, &config, "http", None)
}

#[test]
fn two_servers_on_one_table_unwrap_a_token_exactly_once() {
    let _pg = OnPostgres::enter();
    let dir = temp_dir();
    let data = dir.path().join("data");
    let (a, root, keys) = TestServer::start_unsealed(dir.path());
    // Mounted before the second server unseals: servers do not yet tell each other about mount-table changes.
    enable_kv2(&a, &root);
    let second_dir = dir.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let b = start_sharing(&second_dir, &data);
    assert_eq!(b.client.get("sys/seal-status", None).1["initialized"], true);
    b.client.unseal_with(&keys);

    // A write on one server is read on the other.
    kv_put(&a, &root, "secret/data/shared", "one");
    let (status, body) = kv_get(&b, &root, "secret/data/shared");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"]["v"], "one");

    for round in 0..3 {
        let token = wrap_on(&a.client.base, &root, json!({"round": round}));
        let successes = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(100));
        let threads: Vec<_> = (0..100)
            .map(|i| {
                let base = if i % 2 == 0 {
                    a.client.base.clone()
                } else {
                    b.client.base.clone()
                };
                let (token, successes, barrier) = (token.clone(), successes.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let client = crate::common::Client::new(&base);
                    barrier.wait();
                    let (status, body) = client.put("sys/wrapping/unwrap", Some(&token), json!({}));
                    match status {
                        200 => {
                            assert_eq!(body["data"]["round"], round);
                            successes.fetch_add(1, Ordering::SeqCst);
                        }
                        400 => assert_eq!(body["errors"][0], "wrapping token is not valid or does not exist"),
                        other => panic!("unexpected {other}: {body}"),
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(successes.load(Ordering::SeqCst), 1, "round {round}");
    }
}

fn wrap_on(base: &str, token: &str, payload: Value) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .post(format!("{base}/v1/sys/wrapping/wrap"))
        .header("X-Vault-Token", token)
        .header("X-Vault-Wrap-TTL", "1h")
        .send(payload.to_string())
        .unwrap();
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    body["wrap_info"]["token"].as_str().unwrap().to_string()
}

#[test]
fn the_stanza_is_checked_before_anything_starts() {
    let dir = temp_dir();
    let cases = [
        (
            "connection_url = \"postgres://postgres@127.0.0.1:5432/test\"\n  ha_enabled = \"true\"\n  \
             ha_lock_ttl = \"1s\"",
            "ha_lock_ttl must be more than twice ha_retry_interval",
        ),
        (
            "connection_url = \"postgres://postgres@127.0.0.1:5432/test\"\n  table = \"x; drop table y\"",
            "invalid table name",
        ),
        ("table = \"t\"", "missing required key \"connection_url\""),
        (
            "connection_url = \"postgres://postgres@127.0.0.1:5432/test\"\n  skip_create_table = \"true\"\n  \
             table = \"vault_no_such_table_here\"",
            "is missing or is not a table of this server",
        ),
        (
            // Nothing listens on port 1.
            "connection_url = \"postgres://postgres@127.0.0.1:1/test?connect_timeout=2\"",
            "storage is unavailable: PostgreSQL",
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.hcl"));
        std::fs::write(
            &path,
            format!(
                "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\nstorage \"postgresql\" \
                 {{\n  {body}\n}}\n"
            ),
        )
        .unwrap();
        let failure = match TestServer::try_start(dir.path(), &path, "http", None) {
            Ok(_) => panic!("case {i} started"),
            Err(e) => e,
        };
        assert!(failure.contains(expected), "case {i}: {failure}");
        assert!(!failure.contains("panicked"), "case {i}: {failure}");
    }
}

#[test]
fn the_connection_url_can_come_from_the_environment() {
    let pg = OnPostgres::enter();
    let dir = temp_dir();
    let path = dir.path().join("env.hcl");
    let table = crate::common::pg_table(pg.prefix(), &dir.path().join("data"));
    std::fs::write(
        &path,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\nstorage \"postgresql\" {{\n  \
             connection_url = \"postgres://nobody@127.0.0.1:1/none\"\n  table = \"{table}\"\n}}\n"
        ),
    )
    .unwrap();
    let server = TestServer::try_start_with(dir.path(), &path, "http", None, |cmd| {
        cmd.env("BAO_PG_CONNECTION_URL", crate::common::PG_URL);
    })
    .map_err(|f| f.to_string())
    .unwrap();
    assert_eq!(
        server.client.get("sys/seal-status", None).1["storage_type"],
        "postgresql"
    );
    let stored: i64 = crate::common::pg_client()
        .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
        .unwrap()
        .get(0);
    assert!(stored > 0, "the format records are in the table named by the stanza");
}

/// A PostgreSQL server of the test's own, in a temporary directory, to stop and start.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
    _dir: tempfile::TempDir,
}

/// PEM texts for a PostgreSQL that requires TLS: the CA, the server's certificate and key, and a client's.
struct TlsFiles {
    ca_cert: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

impl TlsFiles {
    fn generate() -> TlsFiles {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "vault test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "certuser");
        let client = client_params.signed_by(&client_key, &ca).unwrap();
        TlsFiles {
            ca_cert: ca.pem(),
            server_cert: server.pem(),
            server_key: server_key.serialize_pem(),
            client_cert: client.pem(),
            client_key: client_key.serialize_pem(),
        }
    }
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        Self::start_with(None)
    }

    fn start_with(tls: Option<&TlsFiles>) -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .flatten()
                    .map(|v| v.path().join("bin"))
                    .find(|b| b.join("initdb").exists())
            })
            .expect("PostgreSQL's server binaries (initdb, pg_ctl) under /usr/lib/postgresql/<version>/bin");
        let dir = tempfile::Builder::new().prefix("vault-pg-").tempdir().unwrap();
        let data = dir.path().join("pgdata");
        let as_postgres_user = unsafe { libc::geteuid() } == 0;
        if as_postgres_user {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let status = Command::new("chown")
                .args(["postgres", &dir.path().display().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let pg = PrivatePostgres {
            bin,
            data,
            port,
            as_postgres_user,
            _dir: dir,
        };
        pg.run(
            "initdb",
            &["-D", &pg.data.display().to_string(), "-A", "trust", "-U", "postgres"],
        );
        if let Some(tls) = tls {
            pg.require_tls(tls);
        }
        pg.ctl_start();
        pg
    }

    /// TLS only, as a production server is set up: a certificate for `127.0.0.1` signed by the test CA, plain TCP
    /// connections rejected by `pg_hba.conf`, and a client certificate (`cert` authentication) required of the
    /// user `certuser`.
    fn require_tls(&self, tls: &TlsFiles) {
        let put = |name: &str, text: &str| {
            let path = self.data.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            if self.as_postgres_user {
                assert!(Command::new("chown")
                    .args(["postgres", &path.display().to_string()])
                    .status()
                    .unwrap()
                    .success());
            }
        };
        put("server.crt", &tls.server_cert);
        put("server.key", &tls.server_key);
        put("root.crt", &tls.ca_cert);
        put(
            "pg_hba.conf",
            "local all all trust\nhostssl all certuser 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        );
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
        );
        std::fs::write(&conf, text).unwrap();
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let tool = self.bin.join(tool).display().to_string();
        let output = if self.as_postgres_user {
            Command::new("runuser")
                .args(["-u", "postgres", "--", &tool])
                .args(args)
                .output()
        } else {
            Command::new(&tool).args(args).output()
        }
        .unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn ctl_stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data.display().to_string(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        self.url_with("postgres", "sslmode=disable")
    }

    fn url_with(&self, user: &str, query: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres?{query}", self.port)
    }

    /// Sessions of the server, encrypted or not, by application name (PostgreSQL's own view of them).
    fn sessions(&self) -> Vec<(String, bool)> {
        let mut client = postgres::Config::new()
            .host(&self.data.display().to_string())
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap();
        client
            .query(
                "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid \
                 WHERE a.backend_type = 'client backend' AND a.application_name = 'vault'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(if self.as_postgres_user { "runuser" } else { "sh" })
            .args(if self.as_postgres_user {
                vec!["-u".to_string(), "postgres".into(), "--".into()]
            } else {
                vec!["-c".to_string(), "true".into()]
            })
            .args([
                self.bin.join("pg_ctl").display().to_string(),
                "-D".into(),
                self.data.display().to_string(),
                "-m".into(),
                "immediate".into(),
                "stop".into(),
            ])
            .output();
    }
}

#[test]
fn postgresql_stopped_and_started_again_under_load() {
    let pg = PrivatePostgres::start();
    let dir = temp_dir();
    let path = dir.path().join("vault.hcl");
    std::fs::write(
        &path,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\nstorage \"postgresql\" {{\n  \
             connection_url = \"{}\"\n}}\n",
            pg.url()
        ),
    )
    .unwrap();
    let server = TestServer::start_with_config(dir.path(), &path, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    enable_kv2(&server, &root);
    kv_put(&server, &root, "secret/data/before", "kept");

    // Load: a writer and a reader, counting what they saw.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(u16, String)>::new()));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (base, root, stop, seen) = (server.client.base.clone(), root.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let client = crate::common::Client::new(&base);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = if w == 0 {
                        client.put(&format!("secret/data/load{i}"), Some(&root), json!({"data": {"i": i}}))
                    } else {
                        client.get("secret/data/before", Some(&root))
                    };
                    let error = body["errors"][0].as_str().unwrap_or_default().to_string();
                    seen.lock().unwrap().push((status, error));
                    i += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    pg.ctl_stop();
    let down_at = seen.lock().unwrap().len();
    // While it is down: 503 with a clear error, promptly (no request hangs for long).
    let started = Instant::now();
    let (status, body) = kv_get(&server, &root, "secret/data/before");
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let error = body["errors"][0].as_str().unwrap();
    assert!(error.starts_with("storage is unavailable: PostgreSQL"), "{error}");
    assert!(!error.contains("postgres://"), "{error}");
    std::thread::sleep(Duration::from_millis(1500));

    pg.ctl_start();
    // Service resumes without a restart.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = kv_get(&server, &root, "secret/data/before");
        if status == 200 {
            assert_eq!(body["data"]["data"]["v"], "kept");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} {body} after PostgreSQL came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen[down_at..].iter().any(|(s, _)| *s == 503),
        "the load saw the outage"
    );
    for (status, error) in seen.iter() {
        assert!(
            matches!(status, 200 | 503),
            "only successes and 503s under the outage, got {status}: {error}"
        );
        if *status == 503 {
            assert!(error.starts_with("storage is unavailable"), "{error}");
        }
    }
    assert_eq!(seen.last().unwrap().0, 200, "the load succeeds again at the end");
    // What was acknowledged before the outage is still there; the server was never restarted.
    let (status, _) = kv_get(&server, &root, "secret/data/load0");
    assert_eq!(status, 200);
}

/// Two unsealed servers on one table (the second started with the first's data path, so the same table).
pub(crate) fn two_servers(dir: &Path) -> (TestServer, TestServer, String) {
    let (a, root, keys) = TestServer::start_unsealed(dir);
    let second_dir = dir.join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let b = start_sharing(&second_dir, &dir.join("data"));
    b.client.unseal_with(&keys);
    (a, b, root)
}

/// Poll `check` for up to 5 s (a change notice takes milliseconds).
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn what_one_server_changes_is_in_force_on_the_other() {
    let _pg = OnPostgres::enter();
    let dir = temp_dir();
    let (a, b, root) = two_servers(dir.path());

    // A mount made on A serves on B.
    enable_kv2(&a, &root);
    kv_put(&a, &root, "secret/data/x", "1");
    eventually("B serves the mount A made", || {
        kv_get(&b, &root, "secret/data/x").0 == 200
    });

    // A policy narrowed on A denies on B (B had the wide one cached).
    let (status, body) = a.client.put(
        "sys/policies/acl/reader",
        Some(&root),
        json!({"policy": "path \"secret/data/*\" { capabilities = [\"read\"] }"}),
    );
    assert_eq!(status, 204, "{body}");
    let (_, created) = a
        .client
        .put("auth/token/create", Some(&root), json!({"policies": ["reader"]}));
    let token = created["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(kv_get(&b, &token, "secret/data/x").0, 200);
    let (status, _) = a.client.put(
        "sys/policies/acl/reader",
        Some(&root),
        json!({"policy": "path \"other/*\" { capabilities = [\"read\"] }"}),
    );
    assert_eq!(status, 204);
    eventually("B denies once A narrowed the policy", || {
        kv_get(&b, &token, "secret/data/x").0 == 403
    });

    // A keyring rotated on A: B reads what A writes under the new term, and writes under it itself.
    let (status, body) = a.client.put("sys/rotate", Some(&root), json!({}));
    assert_eq!(status, 204, "{body}");
    kv_put(&a, &root, "secret/data/after-rotation", "2");
    eventually("B reads a record sealed under the new term", || {
        kv_get(&b, &root, "secret/data/after-rotation").0 == 200
    });
    let term = |s: &TestServer| s.client.get("sys/key-status", Some(&root)).1["data"]["term"].clone();
    assert_eq!(term(&a), term(&b));
    kv_put(&b, &root, "secret/data/from-b", "3");
    assert_eq!(kv_get(&a, &root, "secret/data/from-b").0, 200);

    // A transit key rotated on A: B encrypts with the new version (it had the old one cached).
    let (status, _) = a
        .client
        .put("sys/mounts/transit", Some(&root), json!({"type": "transit"}));
    assert_eq!(status, 204);
    let (status, _) = a.client.put("transit/keys/k", Some(&root), json!({}));
    assert!(status == 200 || status == 204);
    let encrypt = |s: &TestServer| {
        let (status, body) = s
            .client
            .put("transit/encrypt/k", Some(&root), json!({"plaintext": "aGk="}));
        assert_eq!(status, 200, "{body}");
        body["data"]["ciphertext"].as_str().unwrap().to_string()
    };
    eventually("B serves the transit mount", || {
        b.client.get("transit/keys/k", Some(&root)).0 == 200
    });
    assert!(encrypt(&b).starts_with("vault:v1:"));
    let (status, _) = a.client.put("transit/keys/k/rotate", Some(&root), json!({}));
    assert!(status == 200 || status == 204);
    eventually("B encrypts with the version A rotated to", || {
        encrypt(&b).starts_with("vault:v2:")
    });
}

/// A server with HA on, in `dir`, sharing the table named after `data`.
fn start_ha(dir: &Path, data: &Path) -> TestServer {
    std::fs::create_dir_all(dir).unwrap();
    // The lock table is the test's own too (named after the data table), so tests running at once do not share it.
    let stanza = crate::common::storage_stanza(data);
    let table = stanza
        .split("table = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_default();
    let storage = stanza.replace(
        "storage \"postgresql\" {\n",
        &format!(
            "storage \"postgresql\" {{\n  ha_enabled = \"true\"\n  ha_table = \"{table}_ha\"\n  ha_lock_ttl = \"3s\"\n  \
             ha_retry_interval = \"250ms\"\n"
        ),
    );
    assert!(storage.contains("ha_enabled"), "run under OnPostgres");
    let path = dir.join("vault.hcl");
    std::fs::write(
        &path,
        format!("listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\n{storage}"),
    )
    .unwrap();
    TestServer::start_with_config(dir, &path, "http", None)
}

/// Two HA servers on one table: `a` initialized, unsealed and active first, then `b` unsealed (a standby).
fn ha_pair(dir: &Path) -> (TestServer, TestServer, String) {
    let data = dir.join("data");
    let a = start_ha(&dir.join("a"), &data);
    let (keys, root) = a.client.init(1, 1);
    a.client.unseal_with(&keys);
    eventually("the first unsealed server becomes active", || is_active(&a));
    let b = start_ha(&dir.join("b"), &data);
    b.client.unseal_with(&keys);
    (a, b, root)
}

fn leader(server: &TestServer) -> Value {
    let (status, body) = server.client.get("sys/leader", None);
    assert_eq!(status, 200, "{body}");
    body
}

fn is_active(server: &TestServer) -> bool {
    leader(server)["is_self"] == true
}

/// A `PUT` that does not follow redirects: (status, Location).
fn put_no_follow(base: &str, path: &str, token: &str, body: Value) -> (u16, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let resp = agent
        .put(format!("{base}/v1/{path}"))
        .header("X-Vault-Token", token)
        .send(body.to_string())
        .unwrap();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (resp.status().as_u16(), location)
}

#[test]
fn ha_one_active_server_standbys_redirect_writes_and_serve_reads() {
    let _pg = OnPostgres::enter();
    let dir = temp_dir();
    let (a, b, root) = ha_pair(dir.path());
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!is_active(&b), "one active server");

    // sys/leader names the active server on both; sys/health tells the standby apart.
    let leader_b = leader(&b);
    assert_eq!(leader_b["ha_enabled"], true);
    assert_eq!(leader_b["leader_address"], a.client.base.as_str());
    assert!(leader_b.get("active_time").is_none());
    assert!(leader(&a)["active_time"].is_string());
    let (status, health) = b.client.get("sys/health", None);
    assert_eq!((status, health["standby"].clone()), (429, json!(true)));
    assert_eq!(b.client.get("sys/health?standbyok=true", None).0, 200);
    let (status, health) = a.client.get("sys/health", None);
    assert_eq!((status, health["standby"].clone()), (200, json!(false)));

    // sys/ha-status lists both, the active one marked.
    let (status, ha) = b.client.get("sys/ha-status", Some(&root));
    assert_eq!(status, 200, "{ha}");
    let nodes = ha["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{ha}");
    let active: Vec<&Value> = nodes.iter().filter(|n| n["active_node"] == true).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["api_address"], a.client.base.as_str());
    assert_eq!(
        ha["nodes"], ha["data"]["nodes"],
        "OpenBao repeats the nodes at the top level"
    );

    // A write on the standby is redirected to the active server; a read is answered there.
    enable_kv2(&a, &root);
    let (status, location) = put_no_follow(
        &b.client.base,
        "secret/data/redirected?x=1",
        &root,
        json!({"data": {"v": "w"}}),
    );
    assert_eq!(status, 307);
    assert_eq!(
        location.as_deref(),
        Some(format!("{}/v1/secret/data/redirected?x=1", a.client.base).as_str())
    );
    // bao follows the redirect: a write through the standby lands, and the standby reads it back at once.
    let (code, out, err) = crate::tools::run_bao(
        &b.client.base,
        Some(&root),
        &["kv", "put", "-mount=secret", "via-bao", "v=1"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(kv_get(&a, &root, "secret/data/via-bao").0, 200);
    let (status, body) = kv_get(&b, &root, "secret/data/via-bao");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"]["v"], "1");

    // Step-down hands the lock over: the standby takes it.
    let (status, body) = a.client.put("sys/step-down", Some(&root), json!({}));
    assert_eq!(status, 204, "{body}");
    eventually("the standby becomes active after the step-down", || is_active(&b));
    assert!(!is_active(&a));
    assert_eq!(leader(&a)["leader_address"], b.client.base.as_str());
}

#[test]
fn ha_failover_after_kill_9_of_the_active_server() {
    let _pg = OnPostgres::enter();
    let dir = temp_dir();
    let (a, b, root) = ha_pair(dir.path());
    enable_kv2(&a, &root);
    for i in 0..20 {
        kv_put(&a, &root, &format!("secret/data/k{i}"), &format!("v{i}"));
    }
    a.kill9();
    let killed_at = Instant::now();
    eventually_within("the standby takes over", Duration::from_secs(8), || is_active(&b));
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(5), "failover took {took:?} (lock TTL 3 s)");
    for i in 0..20 {
        let (status, body) = kv_get(&b, &root, &format!("secret/data/k{i}"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["data"]["v"], format!("v{i}"));
    }
    kv_put(&b, &root, "secret/data/after-failover", "x");
}

fn eventually_within(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn migrate(dir: &Path, source: &str, destination: &str, start: Option<&str>) -> (i32, String, String) {
    let config = dir.join(format!("migrate-{}.hcl", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "{}\n{}\n",
            source.replacen("storage ", "storage_source ", 1),
            destination.replacen("storage ", "storage_destination ", 1)
        ),
    )
    .unwrap();
    let config = format!("-config={}", config.display());
    let mut args = vec!["operator", "migrate", config.as_str()];
    let start = start.map(|s| format!("-start={s}"));
    if let Some(s) = &start {
        args.push(s);
    }
    crate::common::run_vault(&args)
}

fn sled_stanza(data: &Path) -> String {
    format!("storage \"sled\" {{\n  path = \"{}\"\n}}\n", data.display())
}

/// A server on sled in `data`, whatever storage the test's other servers use.
fn start_on_sled(dir: &Path, data: &Path) -> TestServer {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("vault.hcl");
    std::fs::write(
        &config,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\n{}",
            sled_stanza(data)
        ),
    )
    .unwrap();
    TestServer::start_with_config(dir, &config, "http", None)
}

fn copied(out: &str) -> u64 {
    out.lines()
        .last()
        .and_then(|l| l.split('(').nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {out}"))
}

#[test]
fn operator_migrate_copies_a_stopped_store_to_postgresql_and_back() {
    let pg = OnPostgres::enter();
    let dir = temp_dir();
    let sled_data = dir.path().join("sled-data");
    let pg_data = dir.path().join("pg-data");
    let back_data = dir.path().join("back-data");

    // A sled server with a secret and a wrapped token, then stopped.
    let server = start_on_sled(&dir.path().join("sled"), &sled_data);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    enable_kv2(&server, &root);
    kv_put(&server, &root, "secret/data/moved", "by-migrate");
    let wrapped = wrap_on(&server.client.base, &root, json!({"carried": "along"}));

    // Refused while the server holds the directory.
    let pg_stanza = crate::common::storage_stanza(&pg_data);
    let (code, _, err) = migrate(dir.path(), &sled_stanza(&sled_data), &pg_stanza, None);
    assert_ne!(code, 0);
    assert!(err.contains("in use"), "{err}");
    assert!(server.terminate().success());

    let (code, out, err) = migrate(dir.path(), &sled_stanza(&sled_data), &pg_stanza, None);
    assert_eq!(code, 0, "{out}{err}");
    let total = copied(&out);
    assert!(total > 5, "{out}");
    // Again: a resumed copy is the same upserts.
    let (code, out, err) = migrate(dir.path(), &sled_stanza(&sled_data), &pg_stanza, None);
    assert_eq!((code, copied(&out)), (0, total), "{err}");
    // From a position on: fewer records.
    let (code, out, err) = migrate(dir.path(), &sled_stanza(&sled_data), &pg_stanza, Some("tokens/"));
    assert_eq!(code, 0, "{err}");
    assert!(copied(&out) < total, "{out}");

    // A server on the PostgreSQL copy unseals with the same keys and serves the same data.
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir_all(&pg_dir).unwrap();
    let server = start_sharing(&pg_dir, &pg_data);
    assert_eq!(
        server.client.get("sys/seal-status", None).1["storage_type"],
        "postgresql"
    );
    server.client.unseal_with(&keys);
    let (status, body) = kv_get(&server, &root, "secret/data/moved");
    assert_eq!(
        (status, body["data"]["data"]["v"].clone()),
        (200, json!("by-migrate")),
        "{body}"
    );
    kv_put(&server, &root, "secret/data/written-on-pg", "too");
    drop(server);

    // A destination holding another store is refused.
    let other_data = dir.path().join("other-data");
    let other = start_on_sled(&dir.path().join("other"), &other_data);
    other.client.init(1, 1);
    drop(other);
    let (code, _, err) = migrate(dir.path(), &pg_stanza, &sled_stanza(&other_data), None);
    assert_ne!(code, 0);
    assert!(err.contains("another initialized store"), "{err}");

    // And back to sled.
    let (code, out, err) = migrate(dir.path(), &pg_stanza, &sled_stanza(&back_data), None);
    assert_eq!(code, 0, "{out}{err}");
    let server = start_on_sled(&dir.path().join("back"), &back_data);
    server.client.unseal_with(&keys);
    assert_eq!(kv_get(&server, &root, "secret/data/written-on-pg").0, 200);
    let (status, body) = server.client.put("sys/wrapping/unwrap", Some(&wrapped), json!({}));
    assert_eq!(
        (status, body["data"]["carried"].clone()),
        (200, json!("along")),
        "{body}"
    );
    drop(pg);
}

#[test]
fn ha_a_standby_leaves_expiry_to_the_active_server() {
    let _pg = OnPostgres::enter();
    let dir = temp_dir();
    let (a, b, root) = ha_pair(dir.path());
    std::thread::sleep(Duration::from_millis(500));
    assert!(is_active(&a) && !is_active(&b));
    for _ in 0..5 {
        let (status, body) = a.client.put("auth/token/create", Some(&root), json!({"ttl": "1s"}));
        assert_eq!(status, 200, "{body}");
    }
    // Freeze the active server: its lock stays valid for up to the 3 s TTL, so for 2 s the other server is still
    // a standby while the tokens are due. A standby that ran the expiry worker would revoke them now.
    let frozen_at = Instant::now();
    unsafe { libc::kill(a.pid() as i32, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(2000));
    let standby_log = b.stderr();
    let still_standby = !is_active(&b);
    assert!(
        frozen_at.elapsed() < Duration::from_millis(2700),
        "the check came too late to mean anything"
    );
    unsafe { libc::kill(a.pid() as i32, libc::SIGCONT) };
    assert!(still_standby, "the standby took over before the lock could expire");
    assert!(
        !standby_log.contains("expiry: revoked"),
        "a standby expired tokens: {standby_log}"
    );
    // The active server, running again, expires them.
    eventually("the active server expires the tokens", || {
        a.stderr().contains("expiry: revoked")
    });
}

/// Start a server on `url` with `extra` stanza lines; `Err` with its output when it does not start.
fn try_start_on(dir: &Path, name: &str, url: &str, extra: &str) -> Result<TestServer, String> {
    let path = dir.join(format!("{name}.hcl"));
    std::fs::write(
        &path,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\nstorage \"postgresql\" {{\n  \
             connection_url = \"{url}\"\n{extra}}}\n"
        ),
    )
    .unwrap();
    TestServer::try_start(dir, &path, "http", None)
}

#[test]
fn tls_to_postgresql_with_libpq_sslmodes_and_a_client_certificate() {
    let tls = TlsFiles::generate();
    let pg = PrivatePostgres::start_with(Some(&tls));
    let dir = temp_dir();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ca = file("ca.pem", &tls.ca_cert);
    let other_ca = file("other-ca.pem", &TlsFiles::generate().ca_cert);
    let client_cert = file("client.pem", &tls.client_cert);
    let client_key = file("client.key", &tls.client_key);

    // Refused before anything starts: plain TCP (pg_hba rejects it), a certificate of another CA, a verify mode
    // without a root certificate.
    let refusals = [
        ("sslmode=disable", "storage is unavailable: PostgreSQL"),
        (
            &*format!("sslmode=verify-full&sslrootcert={other_ca}"),
            "storage is unavailable: PostgreSQL",
        ),
        ("sslmode=verify-ca", "need sslrootcert"),
        ("sslmode=maybe", "invalid sslmode value"),
    ];
    for (i, (query, expected)) in refusals.iter().enumerate() {
        let failure = match try_start_on(dir.path(), &format!("r{i}"), &pg.url_with("postgres", query), "") {
            Ok(_) => panic!("{query}: started"),
            Err(e) => e,
        };
        assert!(failure.contains(expected), "{query}: {failure}");
        assert!(!failure.contains("panicked"), "{query}: {failure}");
    }

    // Each mode that should connect does, encrypted; the store written through one is read through the next.
    let accepted = [
        ("postgres", "sslmode=prefer".to_string()),
        ("postgres", "sslmode=require".to_string()),
        ("postgres", format!("sslmode=verify-ca&sslrootcert={ca}")),
        ("postgres", format!("sslmode=verify-full&sslrootcert={ca}")),
        (
            "certuser",
            format!("sslmode=verify-full&sslrootcert={ca}&sslcert={client_cert}&sslkey={client_key}"),
        ),
    ];
    let mut unseal = None;
    for (i, (user, query)) in accepted.iter().enumerate() {
        if *user == "certuser" {
            let mut admin = postgres::Config::new()
                .host(&pg.data.display().to_string())
                .port(pg.port)
                .user("postgres")
                .dbname("postgres")
                .connect(postgres::NoTls)
                .unwrap();
            admin
                .batch_execute("CREATE ROLE certuser LOGIN; GRANT ALL ON SCHEMA public TO certuser; GRANT ALL ON TABLE vault_store TO certuser")
                .unwrap();
        }
        let server = try_start_on(dir.path(), &format!("a{i}"), &pg.url_with(user, query), "")
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let root = match &unseal {
            None => {
                let (keys, root) = server.client.init(1, 1);
                server.client.unseal_with(&keys);
                enable_kv2(&server, &root);
                unseal = Some((keys, root.clone()));
                root
            }
            Some((keys, root)) => {
                server.client.unseal_with(keys);
                root.clone()
            }
        };
        kv_put(&server, &root, &format!("secret/data/mode{i}"), query);
        let (status, body) = kv_get(&server, &root, "secret/data/mode0");
        assert_eq!(status, 200, "{query}: {body}");
        let sessions = pg.sessions();
        assert!(!sessions.is_empty(), "{query}");
        assert!(sessions.iter().all(|(_, ssl)| *ssl), "{query}: {sessions:?}");
    }
}

#[test]
fn max_idle_connections_closes_idle_reader_connections() {
    let pg = PrivatePostgres::start();
    let dir = temp_dir();
    let server = try_start_on(
        dir.path(),
        "idle",
        &pg.url(),
        "  max_parallel = 4\n  max_idle_connections = 1\n  max_connect_retries = 3\n  transaction_max_parallel = 8\n",
    )
    .unwrap();
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    enable_kv2(&server, &root);
    kv_put(&server, &root, "secret/data/x", "y");
    // Parallel reads use several reader connections at once.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (base, root) = (server.client.base.clone(), root.clone());
            std::thread::spawn(move || {
                let client = crate::common::Client::new(&base);
                for _ in 0..50 {
                    assert_eq!(client.get("secret/data/x", Some(&root)).0, 200);
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    // Idle again: one reader keeps its connection; the writer and the listener keep theirs.
    std::thread::sleep(Duration::from_millis(300));
    let open = pg.sessions().len();
    assert!(open <= 3, "{open} connections open while idle");
    assert_eq!(kv_get(&server, &root, "secret/data/x").0, 200);
}
