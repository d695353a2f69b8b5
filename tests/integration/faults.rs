//! Storage faults: a read-only data directory, a full disk (a small tmpfs, or a file size limit), corrupted sled
//! files and tampered records. The server never panics, hangs or answers 2xx for a write it did not save; it
//! refuses to start or answers the affected requests with a clear error; it never returns wrong data; and every
//! acknowledged write is there once the fault is gone.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{temp_dir, write_config, Client, StartFailure, TestServer};
use crate::crash::Rng;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Run the child as user and group nobody (root ignores file permissions).
fn as_nobody(command: &mut Command) {
    unsafe {
        command.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn chmod_recursive(path: &Path, writable: bool) {
    let mode = if writable { "u+w" } else { "a-w" };
    let out = Command::new("chmod").args(["-R", mode]).arg(path).output().unwrap();
    assert!(out.status.success(), "chmod: {}", String::from_utf8_lossy(&out.stderr));
}

fn start(dir: &Path, data: &Path, adjust: impl FnOnce(&mut Command)) -> Result<TestServer, StartFailure> {
    let config = write_config(dir, data, "", "  tls_disable = true");
    TestServer::try_start_with(dir, &config, "http", None, adjust)
}

/// A refusal to start: a non-zero exit (not a signal, not a hang), no panic or backtrace, and a message naming
/// the data directory and the cause.
fn assert_clear_refusal(failure: &StartFailure, data: &Path, causes: &[&str]) {
    let status = failure.status.expect("exit status");
    assert!(
        status.code().is_some_and(|c| c != 0),
        "expected a non-zero exit, got {status:?} (a hang is killed after 30 s): {}",
        failure.stderr
    );
    assert_no_panic(&failure.stderr);
    let error_line = failure
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error_line.contains(&data.display().to_string()),
        "the error names the data directory: {}",
        failure.stderr
    );
    assert!(
        causes.iter().any(|c| error_line.contains(c)),
        "the error names the cause (one of {causes:?}): {}",
        failure.stderr
    );
}

fn assert_no_panic(stderr: &str) {
    for needle in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!stderr.contains(needle), "{needle} in the server's stderr: {stderr}");
    }
}

/// A Vault-shaped error body: `{"errors": ["<one clear message>"]}`.
fn error_text(body: &Value) -> Option<&str> {
    match body["errors"].as_array().map(Vec::as_slice) {
        Some([Value::String(text)]) if !text.is_empty() => Some(text.as_str()),
        _ => None,
    }
}

fn enable_kv(c: &Client, root: &str) {
    assert_eq!(c.put("sys/mounts/kv2", Some(root), json!({"type": "kv-v2"})).0, 204);
    assert_eq!(c.put("sys/mounts/kv1", Some(root), json!({"type": "kv"})).0, 204);
}

// ---------------------------------------------------------------------------------------------------------------
// Read-only data directory

#[test]
fn read_only_data_directory_is_refused_clearly_and_data_survives() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    enable_kv(&server.client, &root);
    assert_eq!(server.client.put("kv1/kept", Some(&root), json!({"v": "safe"})).0, 204);
    assert!(server.terminate().success());

    chmod_recursive(&data, false);
    let root_user = is_root();
    if root_user {
        // nobody must reach the config and the data directory (tempdir makes its directory 0700).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // nobody may not lock memory (RLIMIT_MEMLOCK): that refusal is tested in `hardening`, not here.
    let config = write_config(dir.path(), &data, "disable_mlock = true", "  tls_disable = true");
    let result = TestServer::try_start_with(dir.path(), &config, "http", None, |cmd| {
        if root_user {
            as_nobody(cmd);
        }
    });
    let failure = match result {
        Ok(_) => panic!("the server started on a read-only data directory"),
        Err(f) => f,
    };
    assert_clear_refusal(&failure, &data, &["Permission denied", "Read-only file system"]);

    chmod_recursive(&data, true);
    let server = start(dir.path(), &data, |_| {}).unwrap_or_else(|f| panic!("{f}"));
    server.client.unseal_with(&keys);
    assert_eq!(
        server.client.get("kv1/kept", Some(&root)).1["data"],
        json!({"v": "safe"})
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Disk full

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            return None;
        }
        std::fs::create_dir_all(at).ok()?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        out.status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Tmpfs {
    /// Give the file system more room while it is in use.
    fn grow(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A file size limit for the child: writes past it fail with EFBIG instead of killing it with SIGXFSZ.
fn limit_file_size(command: &mut Command, bytes: u64) {
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // An ignored disposition survives exec.
            if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

enum Full {
    Tmpfs(Tmpfs),
    FileSizeLimit(u64),
}

struct Acked {
    kv1: Vec<(String, Value)>,
    kv2: Vec<(String, Value)>,
}

/// Fill the server's storage with unique K/V writes until they fail, check every failure and that reads and health
/// go on; returns the acknowledged writes.
fn fill_until_full(c: &Client, root: &str) -> Acked {
    let t = Some(root);
    let mut rng = Rng::new(0xf111);
    let mut acked = Acked {
        kv1: Vec::new(),
        kv2: Vec::new(),
    };
    let mut failures = 0;
    let mut first_refusal = String::new();
    for i in 0..4000 {
        // 8 KiB of incompressible text per write, unique per key.
        let filler: String = (0..512).map(|_| format!("{:016x}", rng.next())).collect();
        let value = json!({ "n": i, "filler": filler });
        let (path, body) = if i % 2 == 0 {
            (format!("kv1/fill-{i}"), value.clone())
        } else {
            (format!("kv2/data/fill-{i}"), json!({ "data": value.clone() }))
        };
        let (status, answer) = c
            .try_call("PUT", &path, t, &[], Some(body.to_string().into_bytes()))
            .unwrap_or_else(|e| panic!("write {i} got no answer (a hang or a crash): {e}"));
        if (200..300).contains(&status) {
            assert_eq!(
                failures, 0,
                "write {i} acknowledged after writes failed: nothing guarantees it is saved"
            );
            if i % 2 == 0 {
                acked.kv1.push((format!("fill-{i}"), value));
            } else {
                acked.kv2.push((format!("fill-{i}"), value));
            }
            continue;
        }
        failures += 1;
        assert!((500..600).contains(&status), "write {i}: {status} {answer}");
        let text = error_text(&answer).unwrap_or_else(|| panic!("write {i}: not a Vault error body: {answer}"));
        if first_refusal.is_empty() {
            first_refusal = text.to_string();
        }
        assert!(
            [
                "No space left on device",
                "File too large",
                "no storage space",
                "file too large"
            ]
            .iter()
            .any(|cause| text.contains(cause)),
            "write {i}: the error does not say the disk is full: {text}"
        );
        assert!(!text.contains(&filler[..32]), "the error echoes the request body");
        if failures == 10 {
            break;
        }
    }
    assert!(failures > 0, "the storage never filled up");
    assert!(
        acked.kv1.len() + acked.kv2.len() > 10,
        "too few writes fit before the disk was full"
    );

    // Health and reads go on.
    let (status, body) = c.get("sys/health", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sealed"], false);
    let mut read_errors = Vec::new();
    let reads = acked.kv1.iter().map(|(k, v)| (format!("kv1/{k}"), v, false));
    let reads = reads.chain(acked.kv2.iter().map(|(k, v)| (format!("kv2/data/{k}"), v, true)));
    for (path, value, v2) in reads {
        let (status, body) = c.get(&path, t);
        if status == 200 {
            let data = if v2 { &body["data"]["data"] } else { &body["data"] };
            assert_eq!(data, value, "wrong data for {path}");
        } else {
            read_errors.push(format!("{path}: {status} {body}"));
        }
    }
    eprintln!(
        "disk full after {} acknowledged writes; first refusal: {first_refusal}; reads while full: {} of {} failed {:?}",
        acked.kv1.len() + acked.kv2.len(),
        read_errors.len(),
        acked.kv1.len() + acked.kv2.len(),
        read_errors.first()
    );
    // Writes stop a reserve before the disk is full, so sled never meets the error and every read still works.
    assert!(read_errors.is_empty(), "reads failed on a full disk: {read_errors:?}");
    acked
}

fn check_acked(c: &Client, root: &str, acked: &Acked) {
    let t = Some(root);
    for (key, value) in &acked.kv1 {
        let (status, body) = c.get(&format!("kv1/{key}"), t);
        assert_eq!(status, 200, "acknowledged kv1/{key} lost: {body}");
        assert_eq!(&body["data"], value);
    }
    for (key, value) in &acked.kv2 {
        let (status, body) = c.get(&format!("kv2/data/{key}"), t);
        assert_eq!(status, 200, "acknowledged kv2/{key} lost: {body}");
        assert_eq!(&body["data"]["data"], value);
        assert_eq!(body["data"]["metadata"]["version"], 1);
    }
}

fn disk_full(prefer_tmpfs: bool) {
    let dir = temp_dir();
    let full = match prefer_tmpfs
        .then(|| Tmpfs::mount(&dir.path().join("small"), "6m"))
        .flatten()
    {
        Some(fs) => Full::Tmpfs(fs),
        None => Full::FileSizeLimit(4 << 20),
    };
    let data = match &full {
        Full::Tmpfs(fs) => fs.0.join("data"),
        Full::FileSizeLimit(_) => dir.path().join("data"),
    };
    let limit = match &full {
        Full::FileSizeLimit(bytes) => Some(*bytes),
        Full::Tmpfs(_) => None,
    };
    let mut server = start(dir.path(), &data, |cmd| {
        if let Some(bytes) = limit {
            limit_file_size(cmd, bytes);
        }
    })
    .unwrap_or_else(|f| panic!("{f}"));
    let c = &server.client;
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    enable_kv(c, &root);
    let acked = fill_until_full(c, &root);
    assert!(server.is_running(), "the server died");
    if let Full::Tmpfs(fs) = &full {
        // Room made while running: writes are taken again without a restart.
        fs.grow("32m");
        std::thread::sleep(std::time::Duration::from_millis(250));
        let (status, body) = server.client.put("kv1/after-room", Some(&root), json!({"v": 1}));
        assert_eq!(status, 204, "{body}");
    }
    assert_no_panic(&server.stderr());
    let status = server.terminate();
    assert!(status.code().is_some(), "killed by a signal: {status:?}");

    // Room again: move the data (tmpfs) or lift the limit, restart, and find every acknowledged write.
    let roomy = match &full {
        Full::Tmpfs(_) => {
            let roomy = dir.path().join("roomy");
            let out = Command::new("cp").arg("-a").arg(&data).arg(&roomy).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            roomy
        }
        Full::FileSizeLimit(_) => data.clone(),
    };
    drop(full);
    let server = start(dir.path(), &roomy, |_| {}).unwrap_or_else(|f| panic!("{f}"));
    server.client.unseal_with(&keys);
    check_acked(&server.client, &root, &acked);
    // And it takes writes again.
    assert_eq!(server.client.put("kv1/after", Some(&root), json!({"v": 1})).0, 204);
}

/// A real full file system (a 6 MiB tmpfs) where mounting is permitted (root), else the file size limit.
#[test]
fn disk_full_fails_writes_clearly_and_keeps_acknowledged_ones() {
    disk_full(true);
}

/// RLIMIT_FSIZE: writes past the limit fail with EFBIG ("File too large").
#[test]
fn file_size_limit_fails_writes_clearly_and_keeps_acknowledged_ones() {
    disk_full(false);
}

/// Free bytes (for an unprivileged user) on the file system of `path`.
fn free_bytes(path: &Path) -> u64 {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c_path.as_ptr(), &mut fs) }, 0);
    fs.f_bavail as u64 * fs.f_frsize as u64
}

/// A restore stages the upload, its expanded records and the new store beside the data directory, on its file
/// system and under its space guard: where they do not fit, it stops at the reserve with `no storage space`, leaves
/// nothing behind, and the live store keeps every read and takes writes again.
#[test]
fn a_restore_too_large_for_the_disk_stops_at_the_reserve() {
    let dir = temp_dir();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "16m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let data = fs.0.join("data");
    let server = start(dir.path(), &data, |_| {}).unwrap_or_else(|f| panic!("{f}"));
    let c = &server.client;
    let (keys, root) = c.init(1, 1);
    c.unseal_with(&keys);
    enable_kv(c, &root);
    // Incompressible values (stored encrypted) until their snapshot staged twice (the upload and its records, or the
    // records and the new store) cannot fit above the 2 MiB reserve.
    let mut rng = Rng::new(7);
    let mut written = 0u64;
    while free_bytes(&fs.0) > written + (2 << 20) {
        let blob: String = (0..1 << 15).map(|_| format!("{:016x}", rng.next())).collect();
        let (status, body) = c.put(&format!("kv1/blob{written}"), Some(&root), json!({ "v": blob }));
        assert_eq!(status, 204, "{body}");
        written += blob.len() as u64;
    }
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(format!("{}/v1/sys/storage/raft/snapshot", c.base))
        .header("X-Vault-Token", &root)
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let snapshot = resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
    assert_eq!(c.put("kv1/after", Some(&root), json!({"v": "kept"})).0, 204);

    let (status, body) = c
        .try_call(
            "POST",
            "sys/storage/raft/snapshot",
            Some(&root),
            &[],
            Some(snapshot.clone()),
        )
        .unwrap();
    assert_eq!(status, 500, "{body}");
    let message = error_text(&body).unwrap_or_default();
    assert!(message.starts_with("no storage space: "), "{body}");
    let beside: Vec<_> = std::fs::read_dir(&fs.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["data"], "nothing staged is left");
    assert_eq!(c.get("kv1/after", Some(&root)).1["data"], json!({"v": "kept"}));
    std::thread::sleep(std::time::Duration::from_millis(250));
    assert_eq!(
        c.put("kv1/later", Some(&root), json!({"v": 1})).0,
        204,
        "writes are taken again"
    );
    assert_no_panic(&server.stderr());
}

// ---------------------------------------------------------------------------------------------------------------
// Corrupted sled files

/// A stopped server's data directory with unique K/V v1 and v2 records; returns (dir, root token, keys, records).
fn corpus() -> (tempfile::TempDir, String, Vec<String>, Vec<(String, Value)>) {
    let dir = temp_dir();
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    let c = &server.client;
    enable_kv(c, &root);
    let mut records = Vec::new();
    let mut rng = Rng::new(0xc0ff);
    for i in 0..300 {
        let value = json!({ "n": i, "v": format!("{:016x}{:016x}", rng.next(), rng.next()).repeat(8) });
        if i % 2 == 0 {
            assert_eq!(c.put(&format!("kv1/r{i}"), Some(&root), value.clone()).0, 204);
            records.push((format!("kv1/r{i}"), value));
        } else {
            assert_eq!(
                c.put(&format!("kv2/data/r{i}"), Some(&root), json!({ "data": value }))
                    .0,
                200
            );
            records.push((format!("kv2/data/r{i}"), value));
        }
    }
    assert!(server.terminate().success());
    (dir, root, keys, records)
}

fn copy_data(from: &Path, to: &Path) {
    let out = Command::new("cp").arg("-a").arg(from).arg(to).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

struct Outcome {
    /// The first error the server gave (its refusal to start, or a request's error).
    first_error: String,
    refused: bool,
    intact: usize,
    missing: usize,
    errors: usize,
}

/// Start on a damaged copy: either a clear refusal, or every read is the right data, absent, or a clear error.
fn check_damaged(dir: &Path, data: &Path, root: &str, keys: &[String], records: &[(String, Value)]) -> Outcome {
    let mut outcome = Outcome {
        first_error: String::new(),
        refused: false,
        intact: 0,
        missing: 0,
        errors: 0,
    };
    let mut server = match start(dir, data, |_| {}) {
        Ok(server) => server,
        Err(failure) => {
            assert_clear_refusal(&failure, data, &["corrupt", "damaged"]);
            outcome.refused = true;
            outcome.first_error = failure
                .stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or("")
                .into();
            return outcome;
        }
    };
    let c = &server.client;
    // A damaged store must never pass for a new, uninitialized one (a `sys/init` would start over on top of it).
    assert_eq!(
        c.get("sys/init", None).1,
        json!({"initialized": true}),
        "a damaged store came up empty"
    );
    let (status, body) = c.put("sys/unseal", None, json!({ "key": keys[0] }));
    if status != 200 {
        assert!(
            error_text(&body).is_some_and(|t| t != "internal error"),
            "unseal: {status} {body}"
        );
        outcome.errors += 1;
        outcome.first_error = format!("unseal: {status} {body}");
    } else {
        for (path, value) in records {
            let (status, body) = c.get(path, Some(root));
            let data = if path.starts_with("kv2/") {
                &body["data"]["data"]
            } else {
                &body["data"]
            };
            match status {
                200 => {
                    assert_eq!(data, value, "wrong data for {path}");
                    outcome.intact += 1;
                }
                404 => outcome.missing += 1,
                // 403: the root token's record itself is damaged.
                403 | 500..=599 => {
                    let text = error_text(&body).unwrap_or_else(|| panic!("{path}: {status} {body}"));
                    assert!(
                        status == 403 || text != "internal error",
                        "{path}: unclear error {text}"
                    );
                    outcome.errors += 1;
                }
                _ => panic!("{path}: {status} {body}"),
            }
        }
    }
    assert!(server.is_running(), "the server died: {}", server.stderr());
    assert_no_panic(&server.stderr());
    outcome
}

type Damage = Box<dyn Fn(&Path)>;

#[test]
fn corrupted_sled_files_never_panic_or_return_wrong_data() {
    let (dir, root, keys, records) = corpus();
    let data = dir.path().join("data");
    let db_len = std::fs::metadata(data.join("db")).unwrap().len();
    let mut rng = Rng::new(0xbad);
    let mut cases: Vec<(String, Damage)> = Vec::new();
    for (i, at) in [0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99].into_iter().enumerate() {
        let offsets: Vec<u64> = (0..16).map(|_| (db_len as f64 * at) as u64 + rng.below(4096)).collect();
        cases.push((
            format!("flip 16 bytes at {at} of db (case {i})"),
            Box::new(move |d: &Path| {
                let path = d.join("db");
                let mut bytes = std::fs::read(&path).unwrap();
                for &o in &offsets {
                    if let Some(b) = bytes.get_mut(o as usize) {
                        *b ^= 0x5a;
                    }
                }
                std::fs::write(&path, bytes).unwrap();
            }),
        ));
    }
    for frac in [0.0, 0.1, 0.5, 0.9, 0.999] {
        cases.push((
            format!("truncate db to {frac}"),
            Box::new(move |d: &Path| {
                let file = std::fs::OpenOptions::new().write(true).open(d.join("db")).unwrap();
                file.set_len((db_len as f64 * frac) as u64).unwrap();
            }),
        ));
    }
    cases.push((
        "garbage conf".into(),
        Box::new(|d: &Path| std::fs::write(d.join("conf"), b"garbage\0\xff").unwrap()),
    ));
    cases.push((
        "garbage snapshot".into(),
        Box::new(|d: &Path| {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with("snap.") {
                    let mut bytes = std::fs::read(&path).unwrap();
                    let mid = bytes.len() / 2;
                    bytes[mid] ^= 0xff;
                    std::fs::write(&path, bytes).unwrap();
                }
            }
        }),
    ));
    let mut summary = Vec::new();
    for (i, (name, damage)) in cases.iter().enumerate() {
        let case_dir = dir.path().join(format!("case-{i}"));
        std::fs::create_dir(&case_dir).unwrap();
        let copy = case_dir.join("data");
        copy_data(&data, &copy);
        damage(&copy);
        let o = check_damaged(&case_dir, &copy, &root, &keys, &records);
        // Acknowledged writes never go missing without a word: the marker's durable count catches a log that
        // sled reads as ending early.
        assert!(
            o.refused || o.missing == 0,
            "{name}: {} acknowledged records silently missing",
            o.missing
        );
        summary.push(format!(
            "{name}: {}",
            if o.refused {
                format!("refused to start: {}", o.first_error)
            } else {
                format!(
                    "{} intact, {} missing, {} clear errors {}",
                    o.intact, o.missing, o.errors, o.first_error
                )
            }
        ));
    }
    eprintln!("corruption outcomes:\n  {}", summary.join("\n  "));
}

/// Records changed behind the server's back (with sled itself, so sled's checksums are right): a flipped
/// ciphertext byte, and one record's ciphertext copied over another's. The AES-GCM barrier (with the tree and key
/// as associated data) refuses both with a clear error; nothing answers with the wrong secret.
#[test]
fn tampered_records_are_refused_by_the_barrier() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let (server, root, keys) = TestServer::start_unsealed(dir.path());
    enable_kv(&server.client, &root);
    for name in ["tamper-a", "tamper-b", "tamper-c"] {
        assert_eq!(
            server
                .client
                .put(&format!("kv1/{name}"), Some(&root), json!({ "v": name }))
                .0,
            204
        );
    }
    assert!(server.terminate().success());

    {
        let db = sled::open(&data).unwrap();
        let logical = db.open_tree("logical").unwrap();
        let find = |suffix: &[u8]| {
            logical
                .iter()
                .map(Result::unwrap)
                .find(|(k, _)| k.ends_with(suffix))
                .unwrap_or_else(|| panic!("no record for {}", String::from_utf8_lossy(suffix)))
        };
        let (a_key, a_value) = find(b"tamper-a");
        let (c_key, _) = find(b"tamper-c");
        let (_, b_value) = find(b"tamper-b");
        let mut flipped = a_value.to_vec();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x01;
        logical.insert(a_key, flipped).unwrap();
        // c's record now holds b's (genuine) ciphertext.
        logical.insert(c_key, b_value).unwrap();
        db.flush().unwrap();
    }

    let mut server = start(dir.path(), &data, |_| {}).unwrap_or_else(|f| panic!("{f}"));
    server.client.unseal_with(&keys);
    let t = Some(root.as_str());
    for name in ["tamper-a", "tamper-c"] {
        let (status, body) = server.client.get(&format!("kv1/{name}"), t);
        assert_eq!(status, 500, "kv1/{name}: {body}");
        let text = error_text(&body).unwrap_or_default();
        assert!(text.contains("integrity check"), "kv1/{name}: {body}");
        assert!(
            !body.to_string().contains("tamper-b"),
            "kv1/{name} answered b's secret: {body}"
        );
    }
    assert_eq!(server.client.get("kv1/tamper-b", t).1["data"], json!({"v": "tamper-b"}));
    assert!(server.is_running());
    assert_no_panic(&server.stderr());
}
