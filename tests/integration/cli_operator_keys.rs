//! `vault operator key-status / rotate / rotate-keys / rekey / generate-root` against `bao` 2.7.2's, step by step.
//!
//! Each flow runs three times on fresh servers initialized 3/2: `bao` on an OpenBao server, `vault` on a twin
//! OpenBao server (the client alone must match byte for byte), and `vault` on our server (client and server
//! together must match, except the steps listed as known server differences, which fail once they match). Unseal
//! keys, nonces, one-time pads and encoded tokens are random: each run feeds its own values back to itself, and the
//! comparison replaces every such value by a placeholder numbered in order of appearance.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::cli::{normalize, same, Outcome};
use crate::common::{temp_dir, vault_bin, write_config, Client, TestServer};
use crate::tools::{bao, ReferenceServer};

/// What of a step is compared.
#[derive(Clone, Copy)]
enum Check {
    /// Exit code, stdout and stderr.
    Full,
    /// Exit code, and the lines of stdout starting with one of these (outputs carrying server build details).
    Lines(&'static [&'static str]),
}

struct Recorded {
    name: String,
    code: i32,
    stdout: String,
    stderr: String,
    check: Check,
}

/// One CLI run of a flow against one server.
struct Runner {
    bin: PathBuf,
    addr: String,
    home: tempfile::TempDir,
    files: PathBuf,
    root: String,
    /// The unseal keys of the initialization (hex).
    keys: Vec<String>,
    /// Random values seen so far and their placeholders.
    secrets: Vec<(String, String)>,
    counters: std::collections::HashMap<&'static str, usize>,
    steps: Vec<Recorded>,
    /// The command the `sub*` steps run (`operator rotate-keys`, ...).
    base: &'static [&'static str],
}

static KEY_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^Key \d+: (\S+)$").unwrap());
static TABLE_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^(?:OTP|Encoded Token|Encoded Root Token) +(\S+)$").unwrap());
static ENCRYPTIONS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(Encryption Count +|"encryptions": |encryptions: )\d+"#).unwrap());

impl Runner {
    fn new(bin: &Path, addr: &str, files: &Path) -> Runner {
        let client = Client::new(addr);
        let (keys, root) = client.init(3, 2);
        client.unseal_with(&keys[..2]);
        let mut r = Runner {
            bin: bin.to_path_buf(),
            addr: addr.to_string(),
            home: temp_dir(),
            files: files.to_path_buf(),
            root: root.clone(),
            keys: keys.clone(),
            secrets: Vec::new(),
            counters: Default::default(),
            steps: Vec::new(),
            base: &[],
        };
        r.remember(&root, "ROOT");
        for k in &keys {
            r.remember(k, "KEY");
        }
        r
    }

    /// Give `value` the next placeholder of `kind` (once).
    fn remember(&mut self, value: &str, kind: &'static str) {
        if value.len() < 8 || self.secrets.iter().any(|(v, _)| v == value) {
            return;
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        self.secrets.push((value.to_string(), format!("{kind}{n}")));
    }

    /// Learn the random values an output shows: new key shares, pads, encoded tokens.
    fn learn(&mut self, stdout: &str) {
        for c in KEY_LINE.captures_iter(stdout) {
            self.remember(&c[1], "NEWKEY");
        }
        for c in TABLE_VALUE.captures_iter(stdout) {
            self.remember(&c[1], "PAD");
        }
        if let Ok(v) = serde_json::from_str::<Value>(stdout) {
            for k in ["keys", "keys_base64"] {
                for key in v[k].as_array().into_iter().flatten() {
                    self.remember(key.as_str().unwrap_or_default(), "NEWKEY");
                }
            }
            for k in ["otp", "encoded_token", "encoded_root_token"] {
                if let Some(s) = v[k].as_str() {
                    self.remember(s, "PAD");
                }
            }
        }
        // `generate-root -generate-otp` prints the pad alone, without a newline.
        let trimmed = stdout.trim();
        if trimmed.len() == 26 && trimmed.chars().all(|c| c.is_ascii_alphanumeric()) {
            self.remember(trimmed, "PAD");
        }
    }

    fn hide(&self, text: &str) -> String {
        let mut out = text.to_string();
        let mut secrets = self.secrets.clone();
        secrets.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        for (value, placeholder) in &secrets {
            out = out.replace(value, placeholder);
        }
        // Shares of two key sets share their random x-coordinate about once in 255 runs: OpenBao then reports a
        // duplicate part where it otherwise (and we always) says the shares are wrong.
        let out = out.replace(
            "failed to compute key for verification: %!w(*errors.errorString=&{duplicate part detected})",
            "rotation verification failed; incorrect key shares supplied",
        );
        ENCRYPTIONS.replace_all(&out, "${1}N").into_owned()
    }

    /// Run the CLI with `args` (root token unless `token` says otherwise), record the step, return the raw outcome.
    fn step_with(
        &mut self,
        name: &str,
        args: &[&str],
        stdin: Option<&str>,
        token: Option<&str>,
        check: Check,
    ) -> Outcome {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", token.unwrap_or(&self.root))
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env_remove("VAULT_FORMAT")
            .env_remove("BAO_FORMAT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            let mut pipe = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                pipe.write_all(text.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let outcome = Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !outcome.stderr.contains("panicked"),
            "{} {args:?} panicked: {}",
            self.bin.display(),
            outcome.stderr
        );
        self.learn(&outcome.stdout);
        self.steps.push(Recorded {
            name: name.to_string(),
            code: outcome.code,
            stdout: self.hide(&outcome.stdout),
            stderr: self.hide(&outcome.stderr),
            check,
        });
        outcome
    }

    fn step(&mut self, name: &str, args: &[&str]) -> Outcome {
        self.step_with(name, args, None, None, Check::Full)
    }

    /// A JSON field of a `-format=json` step's output.
    fn json(&mut self, name: &str, args: &[&str], field: &str) -> String {
        let out = self.step(name, args);
        serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v[field].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{name}: no {field} in {}{}", out.stdout, out.stderr))
    }

    /// A step of the flow's command (`base`) with `extra` arguments.
    fn sub(&mut self, name: &str, extra: &[&str]) -> Outcome {
        self.sub_with(name, extra, None)
    }

    fn sub_with(&mut self, name: &str, extra: &[&str], stdin: Option<&str>) -> Outcome {
        let args = [self.base, extra].concat();
        self.step_with(name, &args, stdin, None, Check::Full)
    }

    fn sub_json(&mut self, name: &str, extra: &[&str], field: &str) -> String {
        let args = [self.base, extra].concat();
        self.json(name, &args, field)
    }

    fn pgp_file(&self) -> String {
        self.files.join("key.asc").display().to_string()
    }
}

fn alike(r: &Recorded, o: &Recorded) -> bool {
    if r.code != o.code {
        return false;
    }
    match r.check {
        Check::Full => same(&r.stdout, &o.stdout) && same(&r.stderr, &o.stderr),
        Check::Lines(prefixes) => {
            let pick = |t: &str| -> Vec<String> {
                normalize(t)
                    .lines()
                    .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect()
            };
            pick(&r.stdout) == pick(&o.stdout)
        }
    }
}

/// Reports of the steps that differ (the `known` ones excepted; a known one that matches is reported too).
fn compare(kind: &str, reference: &[Recorded], ours: &[Recorded], known: &[&str]) -> Vec<String> {
    assert_eq!(
        reference.iter().map(|s| &s.name).collect::<Vec<_>>(),
        ours.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "{kind}: the runs took different steps"
    );
    let mut reports = Vec::new();
    for (r, o) in reference.iter().zip(ours) {
        let matched = alike(r, o);
        let is_known = known.contains(&r.name.as_str());
        if matched && is_known {
            reports.push(format!(
                "[{kind}] {} now matches: remove it from the known differences",
                r.name
            ));
        } else if !matched && !is_known {
            reports.push(format!(
                "[{kind}] {}\n  exit: bao {} / vault {}\n  bao stdout:\n{}\n  vault stdout:\n{}\n  bao stderr:\n{}\n  vault stderr:\n{}",
                r.name,
                r.code,
                o.code,
                normalize(&r.stdout),
                normalize(&o.stdout),
                normalize(&r.stderr),
                normalize(&o.stderr)
            ));
        }
    }
    reports
}

const LEGACY_ON: &str =
    "  disable_unauthed_rekey_endpoints = false\n  disable_unauthed_generate_root_endpoints = false";

/// Run `flow` with `bao` on an OpenBao server, with `vault` on another, and with `vault` on ours (all with
/// `listener_extra` in their listener); return the reference's steps.
fn run_three_ways(flow: fn(&mut Runner), listener_extra: &str, known: &[&str]) -> Vec<Recorded> {
    let files = temp_dir();
    std::fs::write(files.path().join("key.asc"), "not really a PGP key\n").unwrap();
    let bao_bin = bao();
    let vault = PathBuf::from(vault_bin());

    let reference = ReferenceServer::start_with_listener("", listener_extra);
    let mut bao_run = Runner::new(&bao_bin, &reference.addr, files.path());
    flow(&mut bao_run);
    drop(reference);

    let twin = ReferenceServer::start_with_listener("", listener_extra);
    let mut twin_run = Runner::new(&vault, &twin.addr, files.path());
    flow(&mut twin_run);
    drop(twin);

    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &dir.path().join("data"),
        "",
        &format!("  tls_disable = true\n{listener_extra}"),
    );
    let ours = TestServer::start_with_config(dir.path(), &config, "http", None);
    let mut ours_run = Runner::new(&vault, &format!("http://{}", ours.addr), files.path());
    flow(&mut ours_run);

    let mut reports = compare("vault on OpenBao", &bao_run.steps, &twin_run.steps, &[]);
    reports.extend(compare("vault on our server", &bao_run.steps, &ours_run.steps, known));
    for r in &reports {
        eprintln!("{r}\n");
    }
    eprintln!(
        "{} steps, {} known server differences",
        bao_run.steps.len(),
        known.len()
    );
    assert!(
        reports.is_empty(),
        "{} steps differ from bao (see above)",
        reports.len()
    );
    bao_run.steps
}

fn step_of<'a>(steps: &'a [Recorded], name: &str) -> &'a Recorded {
    steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

fn code_of(steps: &[Recorded], name: &str) -> i32 {
    step_of(steps, name).code
}

/// The step's stdout has a line made of these words.
fn assert_shows(steps: &[Recorded], name: &str, words: &[&str]) {
    let out = &step_of(steps, name).stdout;
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == words),
        "{name}: no line {words:?} in {out}"
    );
}

/// `key-status` and `rotate`.
fn rotate_flow(r: &mut Runner) {
    r.step("key-status", &["operator", "key-status"]);
    r.step("key-status json", &["operator", "key-status", "-format=json"]);
    r.step("key-status yaml", &["operator", "key-status", "-format=yaml"]);
    r.step("key-status extra", &["operator", "key-status", "extra"]);
    r.step("rotate", &["operator", "rotate"]);
    r.step("rotate json", &["operator", "rotate", "-format=json"]);
    r.step("rotate curl", &["operator", "rotate", "-output-curl-string"]);
    r.step("rotate extra", &["operator", "rotate", "x"]);
    r.step("key-status after", &["operator", "key-status"]);
    r.step_with(
        "key-status denied",
        &["operator", "key-status"],
        None,
        Some("nope"),
        Check::Full,
    );
    r.step_with(
        "rotate denied",
        &["operator", "rotate"],
        None,
        Some("nope"),
        Check::Full,
    );
}

#[test]
fn vault_operator_rotate_matches_bao() {
    let steps = run_three_ways(rotate_flow, "", &[]);
    assert_eq!(code_of(&steps, "rotate"), 0);
    let after = step_of(&steps, "key-status after");
    assert!(after.stdout.starts_with("Key Term            3\n"), "{}", after.stdout);
}

/// `rotate-keys` (the authenticated `sys/rotate/root/*`): a rotation to 4/3, then one to 3/2 with verification,
/// then seal and unseal with the final shares.
fn rotate_keys_flow(r: &mut Runner) {
    let k = r.keys.clone();
    r.base = &["operator", "rotate-keys"];
    r.sub("status", &["-status"]);
    r.sub("status json", &["-status", "-format=json"]);
    r.sub("verify status without a rotation", &["-verify", "-status"]);
    r.sub("a key without a rotation", &[&k[0]]);
    r.sub("bad target", &["-target=nope", "-status"]);
    r.sub("too many arguments", &["a", "b"]);
    r.sub("pgp file missing", &["-init", "-pgp-keys=/nonexistent/key"]);
    r.step("legacy rekey is off", &["operator", "rekey", "-status"]);
    // The backups are authenticated paths, served whatever the listener says of the legacy endpoints.
    r.step("legacy backup retrieve", &["operator", "rekey", "-backup-retrieve"]);
    r.step("legacy backup delete", &["operator", "rekey", "-backup-delete"]);
    r.sub(
        "init curl",
        &["-init", "-key-shares=4", "-key-threshold=3", "-output-curl-string"],
    );
    r.sub("init 4/3", &["-init", "-key-shares=4", "-key-threshold=3"]);
    r.sub("init again", &["-init"]);
    r.sub("status started", &["-status"]);
    r.sub("status yaml", &["-status", "-format=yaml"]);
    let nonce = r.sub_json("status for the nonce", &["-status", "-format=json"], "nonce");
    r.sub("a key without a nonce", &[&k[0]]);
    r.sub("prompt without a terminal", &[]);
    r.sub("prompt refused non-interactive", &["-non-interactive"]);
    r.sub("wrong nonce", &["-nonce=wrong", &k[0]]);
    let n = format!("-nonce={nonce}");
    r.sub("first key", &[&n, &k[0]]);
    r.sub("first key again", &[&n, &k[0]]);
    let stdin_args: &[&str] = &[&n, "-"];
    let done = r.sub_with(
        "second key on stdin completes",
        stdin_args,
        Some(&format!("{}\n", k[1])),
    );
    let new: Vec<String> = KEY_LINE.captures_iter(&done.stdout).map(|c| c[1].to_string()).collect();
    assert_eq!(new.len(), 4, "{}{}", done.stdout, done.stderr);
    r.sub("status after", &["-status"]);

    r.sub(
        "init 3/2 with verification",
        &["-init", "-key-shares=3", "-key-threshold=2", "-verify", "-format=json"],
    );
    let nonce = r.sub_json("status for the second nonce", &["-status", "-format=json"], "nonce");
    let n = format!("-nonce={nonce}");
    r.sub("verify status before the keys", &["-verify", "-status"]);
    r.sub("new key 1", &[&n, &new[0]]);
    r.sub("new key 2 json", &[&n, "-format=json", &new[1]]);
    let done = r.sub("new key 3 completes, to verify", &[&n, &new[2]]);
    let newer: Vec<String> = KEY_LINE.captures_iter(&done.stdout).map(|c| c[1].to_string()).collect();
    assert_eq!(newer.len(), 3, "{}{}", done.stdout, done.stderr);
    r.sub("status: verification pending", &["-status"]);
    let vnonce = r.sub_json("verify status json", &["-verify", "-status", "-format=json"], "nonce");
    let v = format!("-nonce={vnonce}");
    r.sub("verify with an old key", &["-verify", &v, &new[0]]);
    r.sub("verify key 1", &["-verify", &v, &newer[0]]);
    r.sub("verify cancel restarts it", &["-verify", "-cancel"]);
    let vnonce = r.sub_json("verify status again", &["-verify", "-status", "-format=json"], "nonce");
    let v = format!("-nonce={vnonce}");
    r.sub("verify key 1 again", &["-verify", &v, &newer[0]]);
    r.sub("verify key 2 completes", &["-verify", &v, "-format=json", &newer[1]]);
    r.sub("status when done", &["-status"]);
    r.sub("verify status when done", &["-verify", "-status"]);
    r.sub("cancel", &["-cancel"]);
    r.sub("backup retrieve", &["-backup-retrieve"]);
    r.sub("backup delete", &["-backup-delete"]);
    r.sub(
        "pgp keys",
        &[
            "-init",
            "-key-shares=1",
            "-key-threshold=1",
            &format!("-pgp-keys={}", r.pgp_file()),
        ],
    );

    // The final shares unseal; the first ones do not.
    r.step("seal", &["operator", "seal"]);
    let sealed: &[&str] = &["Sealed", "Total Shares", "Threshold", "Unseal Progress"];
    r.step_with(
        "unseal with an original key",
        &["operator", "unseal", &k[0]],
        None,
        None,
        Check::Lines(sealed),
    );
    r.step_with(
        "unseal reset",
        &["operator", "unseal", "-reset"],
        None,
        None,
        Check::Lines(sealed),
    );
    r.step_with(
        "unseal new 1",
        &["operator", "unseal", &newer[0]],
        None,
        None,
        Check::Lines(sealed),
    );
    r.step_with(
        "unseal new 3",
        &["operator", "unseal", &newer[2]],
        None,
        None,
        Check::Lines(sealed),
    );
    r.step("key-status after unseal", &["operator", "key-status"]);
}

/// Steps where our server answers differently from OpenBao's (see the report of each).
const ROTATE_KEYS_SERVER_DIFFERENCES: &[&str] = &[
    // OpenBao passes the keys to its PGP library ("count mismatch" or a parse error); we refuse PGP outright.
    "pgp keys",
];

#[test]
fn vault_operator_rotate_keys_matches_bao() {
    let steps = run_three_ways(rotate_keys_flow, "", ROTATE_KEYS_SERVER_DIFFERENCES);
    // The flow tests what it says: the rotations complete, and the last shares unseal.
    assert_eq!(code_of(&steps, "second key on stdin completes"), 0);
    assert_eq!(code_of(&steps, "verify key 2 completes"), 0);
    assert_eq!(code_of(&steps, "legacy rekey is off"), 2);
    assert_shows(&steps, "unseal new 3", &["Sealed", "false"]);
}

/// `rekey` (the legacy `sys/rekey/*`, enabled on the listener): a rekey to 5/3, then seal and unseal with them.
fn rekey_flow(r: &mut Runner) {
    let k = r.keys.clone();
    r.step("status", &["operator", "rekey", "-status"]);
    r.step("status json", &["operator", "rekey", "-status", "-format=json"]);
    r.step("a key without a rekey", &["operator", "rekey", &k[0]]);
    r.step("init curl", &["operator", "rekey", "-init", "-output-curl-string"]);
    r.step(
        "init 5/3",
        &["operator", "rekey", "-init", "-key-shares=5", "-key-threshold=3"],
    );
    r.step("init again", &["operator", "rekey", "-init"]);
    let nonce = r.json(
        "status json started",
        &["operator", "rekey", "-status", "-format=json"],
        "nonce",
    );
    r.step("prompt without a terminal", &["operator", "rekey"]);
    r.step("a key without a nonce", &["operator", "rekey", &k[0]]);
    r.step("wrong nonce", &["operator", "rekey", "-nonce=wrong", &k[0]]);
    let n = format!("-nonce={nonce}");
    r.step("first key", &["operator", "rekey", &n, &k[0]]);
    r.step("first key again", &["operator", "rekey", &n, &k[0]]);
    let done = r.step(
        "second key completes",
        &["operator", "rekey", &n, "-format=json", &k[1]],
    );
    let new: Vec<String> = serde_json::from_str::<Value>(&done.stdout)
        .map(|v| {
            v["keys_base64"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(new.len(), 5, "{}{}", done.stdout, done.stderr);
    r.step("status after", &["operator", "rekey", "-status"]);
    r.step("verify status", &["operator", "rekey", "-verify", "-status"]);
    r.step(
        "init with verification",
        &[
            "operator",
            "rekey",
            "-init",
            "-key-shares=2",
            "-key-threshold=2",
            "-verify",
        ],
    );
    r.step("verify cancel", &["operator", "rekey", "-verify", "-cancel"]);
    r.step("cancel", &["operator", "rekey", "-cancel"]);
    r.step("status cancelled", &["operator", "rekey", "-status"]);
    r.step("seal", &["operator", "seal"]);
    let sealed: &[&str] = &["Sealed", "Total Shares", "Threshold", "Unseal Progress"];
    for (i, key) in [&new[4], &new[0], &new[2]].into_iter().enumerate() {
        r.step_with(
            &format!("unseal new {i}"),
            &["operator", "unseal", key],
            None,
            None,
            Check::Lines(sealed),
        );
    }
}

/// Legacy rekey steps where our server answers differently: OpenBao keeps the legacy operation apart from
/// `sys/rotate/root` with its own wording ("rekey already in progress", "nonce for this rekey operation is").
const REKEY_SERVER_DIFFERENCES: &[&str] = &[];

#[test]
fn vault_operator_rekey_matches_bao() {
    let steps = run_three_ways(rekey_flow, LEGACY_ON, REKEY_SERVER_DIFFERENCES);
    assert_eq!(code_of(&steps, "second key completes"), 0);
    assert_shows(&steps, "unseal new 2", &["Sealed", "false"]);
}

/// `generate-root`: pads, a generation with a quorum of shares, decoding, and the new token in use.
fn generate_root_flow(r: &mut Runner) {
    let k = r.keys.clone();
    r.base = &["operator", "generate-root"];
    r.sub("status", &["-status"]);
    r.sub("status json", &["-status", "-format=json"]);
    r.sub("status yaml", &["-status", "-format=yaml"]);
    r.sub("a key without a generation", &[&k[0]]);
    let otp = r.sub("generate otp", &["-generate-otp"]).stdout;
    assert_eq!(otp.len(), 26, "{otp}");
    r.sub("generate otp json", &["-generate-otp", "-format=json"]);
    r.sub("init with a generated pad", &["-init"]);
    r.sub("status started", &["-status"]);
    r.sub("init again", &["-init"]);
    r.sub("cancel", &["-cancel"]);
    r.sub("init json", &["-init", "-format=json"]);
    r.sub("cancel again", &["-cancel"]);
    r.sub("init with a short pad", &["-init", "-otp=short"]);
    r.sub(
        "init with a pad and a pgp key",
        &["-init", "-otp=x", &format!("-pgp-key={}", r.pgp_file())],
    );
    r.sub("init with a pgp key", &["-init", &format!("-pgp-key={}", r.pgp_file())]);
    r.sub("init with a missing pgp file", &["-init", "-pgp-key=/nonexistent/key"]);
    r.sub("init curl", &["-init", "-output-curl-string", &format!("-otp={otp}")]);
    r.sub("init with our pad", &["-init", &format!("-otp={otp}")]);
    let nonce = r.sub_json("nonce", &["-status", "-format=json"], "nonce");
    r.sub("prompt without a terminal", &[]);
    r.sub("prompt refused non-interactive", &["-non-interactive"]);
    r.sub("a key without a nonce", &[&k[2]]);
    r.sub("wrong nonce", &["-nonce=wrong", &k[2]]);
    let n = format!("-nonce={nonce}");
    r.sub("first key", &[&n, &k[2]]);
    r.sub("first key again", &[&n, &k[2]]);
    let stdin_args: &[&str] = &[&n, "-"];
    let done = r.sub_with("second key on stdin completes", stdin_args, Some(&k[0]));
    let encoded = TABLE_VALUE
        .captures(&done.stdout)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no encoded token: {}{}", done.stdout, done.stderr));
    r.sub("status when done", &["-status"]);
    r.sub("decode without a pad", &[&format!("-decode={encoded}")]);
    r.sub("decode with a wrong pad", &[&format!("-decode={encoded}"), "-otp=abc"]);
    r.sub("decode with bad base64", &["-decode=ab$cd", &format!("-otp={otp}")]);
    let token = r
        .sub("decode", &[&format!("-decode={encoded}"), &format!("-otp={otp}")])
        .stdout;
    r.sub(
        "decode json",
        &[&format!("-decode={encoded}"), &format!("-otp={otp}"), "-format=json"],
    );
    let stdin_args: &[&str] = &["-decode=-", &format!("-otp={otp}")];
    r.sub_with("decode from stdin", stdin_args, Some(&format!("{encoded}\n")));
    r.sub_with("decode from empty stdin", stdin_args, Some(""));
    let policies: &[&str] = &["policies", "path", "orphan", "ttl", "num_uses"];
    r.step_with(
        "the new root token works",
        &["token", "lookup"],
        None,
        Some(&token),
        Check::Lines(policies),
    );
    r.step_with(
        "it can rotate",
        &["operator", "rotate", "-format=json"],
        None,
        Some(&token),
        Check::Lines(&["  \"term\""]),
    );
}

/// Generation steps where our server answers differently from OpenBao's.
const GENERATE_ROOT_SERVER_DIFFERENCES: &[&str] = &[
    // OpenBao answers these client errors 500 with a Go multierror text; ours is 400 with the same message.
    "wrong nonce",
    "first key again",
    // OpenBao hands the file to its PGP library (a parse error); we refuse PGP outright.
    "init with a pgp key",
];

#[test]
fn vault_operator_generate_root_matches_bao() {
    let steps = run_three_ways(generate_root_flow, "", GENERATE_ROOT_SERVER_DIFFERENCES);
    assert_eq!(code_of(&steps, "second key on stdin completes"), 0);
    assert_eq!(code_of(&steps, "decode"), 0);
    assert_eq!(code_of(&steps, "the new root token works"), 0);
    assert_shows(&steps, "the new root token works", &["policies", "[root]"]);
}

/// Run `vault ARGS` on a pseudo-terminal against `addr`, typing `answer` at the hidden prompt (`"\u{3}"` is
/// Ctrl-C); returns (exit code, what the terminal showed).
fn on_terminal(addr: &str, token: &str, answer: &str, args: &[&str]) -> (i32, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/py/pty_prompt.py");
    let home = temp_dir();
    let out = Command::new(crate::tools::python())
        .arg(script)
        .arg(answer)
        .arg(vault_bin())
        .args(args)
        .env("HOME", home.path())
        .env("BAO_ADDR", addr)
        .env("BAO_TOKEN", token)
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    )
}

#[test]
fn key_prompts_read_the_terminal_without_echo() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    let c = &server.client;
    let (keys, root) = c.init(3, 2);
    c.unseal_with(&keys[..2]);
    let addr = format!("http://{}", server.addr);
    let r = Some(root.as_str());

    let (status, gr) = c.put("sys/generate-root-token/attempt", r, serde_json::json!({}));
    assert_eq!(status, 200, "{gr}");
    let nonce = gr["data"]["nonce"].as_str().unwrap().to_string();
    let (code, shown) = on_terminal(&addr, &root, &keys[0], &["operator", "generate-root"]);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.starts_with(&format!("Operation nonce: {nonce}\nUnseal Key (will be hidden): \n")),
        "{shown}"
    );
    assert!(!shown.contains(&keys[0]), "the key was echoed: {shown}");
    assert!(shown.contains("Progress    1/2"), "{shown}");
    // Ctrl-C cancels: nothing is sent, the attempt is where it was.
    let (code, shown) = on_terminal(&addr, &root, "\u{3}", &["operator", "generate-root"]);
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.ends_with("Unseal Key (will be hidden): \nuser canceled\n"),
        "{shown}"
    );
    let (_, attempt) = c.get("sys/generate-root-token/attempt", r);
    assert_eq!(attempt["data"]["progress"], 1, "{attempt}");

    let (status, rk) = c.put(
        "sys/rotate/root/init",
        r,
        serde_json::json!({"secret_shares": 3, "secret_threshold": 2}),
    );
    assert_eq!(status, 200, "{rk}");
    let nonce = rk["data"]["nonce"].as_str().unwrap().to_string();
    let (code, shown) = on_terminal(&addr, &root, &keys[1], &["operator", "rotate-keys"]);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.starts_with(&format!("rotation nonce: {nonce}\nUnseal Key (will be hidden): \n")),
        "{shown}"
    );
    assert!(!shown.contains(&keys[1]), "the key was echoed: {shown}");
    assert!(shown.contains("Progress                 1/2"), "{shown}");
}
