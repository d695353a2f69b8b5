//! Process and data-directory hardening: an owner-only data directory, no core dumps, memory locked unless
//! `disable_mlock = true`, and a clear refusal to start when it cannot be locked.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::{assert_owner_only, mode_of, proc_line, temp_dir, write_config, TestServer};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Limit the child's locked memory to nothing; as root, also become nobody (root's CAP_IPC_LOCK ignores the limit).
fn without_mlock_right(command: &mut Command) {
    let root = is_root();
    unsafe {
        command.pre_exec(move || {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if root
                && (libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Locked memory of a running process, in kB.
fn locked_kb(pid: u32) -> u64 {
    proc_line(pid, "status", "VmLck:")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_new_data_directory_and_everything_in_it_is_owner_only() {
    let dir = temp_dir();
    let data = dir.path().join("store").join("data");
    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    let (keys, root) = server.client.init(1, 1);
    server.client.unseal_with(&keys);
    let policy = json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"});
    assert_eq!(server.client.put("sys/policies/acl/named", Some(&root), policy).0, 204);
    assert_eq!(mode_of(&dir.path().join("store")), 0o700, "a parent it creates too");
    assert_owner_only(&data);
    assert!(server.terminate().success());
    // The marker's last durable count is written at shutdown.
    assert_owner_only(&data);
}

#[test]
fn an_existing_data_directory_open_to_others_is_warned_about() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = TestServer::start(dir.path());
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!("data directory {} has mode 755", data.display()))
            && stderr.contains(&format!("chmod 700 {}", data.display())),
        "{stderr}"
    );
    assert_eq!(mode_of(&data), 0o755, "the operator's directory is left as it is");
    // Files the server creates in it are still owner-only.
    for file in ["db", "conf", "vault-store"] {
        assert_eq!(mode_of(&data.join(file)), 0o600, "{file}");
    }
}

#[test]
fn the_server_cannot_dump_core() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &dir.path().join("data"), "", "  tls_disable = true");
    // Start it allowed to dump core (up to the hard limit), to see the server itself turn it off.
    let server = TestServer::try_start_with(dir.path(), &config, "http", None, |command| unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_CORE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    })
    .unwrap_or_else(|f| panic!("{f}"));
    let core = proc_line(server.pid(), "limits", "Max core file size");
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "bytes"],
        "soft and hard limit 0"
    );
}

#[test]
fn memory_is_locked_unless_disable_mlock() {
    // The default (disable_mlock omitted) locks, as Vault does.
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    assert!(
        locked_kb(server.pid()) > 0,
        "VmLck of a server with disable_mlock unset"
    );
    drop(server);

    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        "disable_mlock = true",
        "  tls_disable = true",
    );
    let server = TestServer::start_with_config(dir.path(), &config, "http", None);
    assert_eq!(locked_kb(server.pid()), 0, "VmLck with disable_mlock = true");
}

#[test]
fn memory_that_cannot_be_locked_is_a_clear_startup_error() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    if is_root() {
        // nobody must reach the config and own the data directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&data, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let failure = match TestServer::try_start_with(dir.path(), &config, "http", None, without_mlock_right) {
        Ok(_) => panic!("the server started without locking its memory"),
        Err(f) => f,
    };
    assert_eq!(failure.status.and_then(|s| s.code()), Some(1), "{}", failure.stderr);
    assert!(
        failure.stderr.starts_with("error: Failed to lock memory: ")
            && failure.stderr.contains("disable_mlock = true")
            && !failure.stderr.contains("panicked"),
        "{}",
        failure.stderr
    );
    assert!(
        !Path::new(&data.join("db")).exists(),
        "nothing was opened before the refusal"
    );

    // The same process limits with disable_mlock = true: it starts.
    let config = write_config(dir.path(), &data, "disable_mlock = true", "  tls_disable = true");
    let server = TestServer::try_start_with(dir.path(), &config, "http", None, without_mlock_right)
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(locked_kb(server.pid()), 0);
}
