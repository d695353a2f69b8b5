//! Differential compatibility tests: every scenario in `tests/integration/scenarios/*.json` runs step by step against
//! our server and a reference OpenBao (`bao server`, inmem storage) side by side, and the two answers must agree.
//!
//! A scenario is data (see `Scenario` and `Step` below for every field). For each step the harness compares:
//! - the status code;
//! - the JSON body, recursively: the same set of keys, the same JSON types, the same array lengths and, by default,
//!   the same values — so `errors` arrays are compared string for string.
//!
//! Values (never keys or types) of ids, secrets, times and build facts are ignored by default: see
//! `DEFAULT_IGNORED_VALUES`. An ignored string value still has to agree on being empty or not (an unseal `nonce` is
//! `""` exactly when no unseal is in progress). A scenario or a step can ignore more values (`ignore_values`) or whole
//! keys (`ignore_keys`, e.g. fields only OpenBao has), each with the reason as the map's value.
//!
//! Both servers start fresh (or initialized and unsealed alike, `"setup": "unsealed"`). Anything a step needs from an
//! earlier answer — unseal keys, the root token — is taken from *that server's own* earlier answer: a step with
//! `"save_as": "NAME"` keeps each server's body under NAME, and `${NAME:/json/pointer}` in a later step's path, body,
//! headers or token is replaced per server (a string that is only the placeholder becomes the captured JSON value,
//! whatever its type). `"token": "root"` is the root token of the last successful `sys/init` on that server.
//!
//! A step where our server is known to differ from OpenBao carries `"known_difference": "<reason>"`: its mismatches
//! are printed as warnings instead of failing the test. Such a step that *matches* fails the test, so the marker is
//! removed as soon as the server is fixed. Every other mismatch fails the test with a report naming the scenario,
//! the step index, method and path, and expected (reference) vs actual (ours) for each difference. Warnings show with
//! `cargo test --test integration differential -- --nocapture`, and each scenario's last report is kept in
//! `<cargo target dir>/tmp/differential/<scenario>.json.txt` (a failing one also in `<scenario>.json.failed.txt`).
//!
//! What OpenBao finishes in the background (a mount move) is waited for with `"until": {"pointer": ..., "value":
//! ...}`: the step is re-sent to each server until its answer has that value there.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{temp_dir, TestServer};
use crate::tools::ReferenceServer;

/// Keys whose values differ between any two servers (ids, secrets, times, build facts). Keys ending in `_time` too.
const DEFAULT_IGNORED_VALUES: &[&str] = &[
    "request_id",
    "root_token",
    "keys",
    "keys_base64",
    "nonce",
    "token",
    "accessor",
    "client_token",
    "cluster_name",
    "cluster_id",
    "server_time_utc",
    "version",
    "commit_date",
    "storage_type",
    "modified",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    /// What the scenario covers.
    description: String,
    /// The state both servers are brought to before the first step.
    #[serde(default)]
    setup: Setup,
    /// Top-level configuration both servers get (a `seal` stanza, ...).
    #[serde(default)]
    config: String,
    /// Key name (at any depth) or JSON pointer -> why it is ignored entirely, for every step.
    #[serde(default)]
    ignore_keys: BTreeMap<String, String>,
    /// Key name (at any depth) or JSON pointer -> why its value is ignored, for every step.
    #[serde(default)]
    ignore_values: BTreeMap<String, String>,
    steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Setup {
    /// Uninitialized servers.
    #[default]
    Fresh,
    /// Initialized with one share (threshold one), still sealed; the init answer is saved as `setup`.
    Initialized,
    /// Initialized with one share and unsealed; the init answer is saved as `setup`.
    Unsealed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// A short human name for reports.
    #[serde(default)]
    name: Option<String>,
    /// Free text for the reader.
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
    /// GET, PUT, POST, DELETE, LIST, HEAD, or anything else (to test unsupported methods).
    method: String,
    /// Below `/v1/`, with an optional query string.
    path: String,
    /// A JSON body (placeholders expanded).
    #[serde(default)]
    body: Option<Value>,
    /// A body sent byte for byte (placeholders expanded), e.g. malformed JSON. Excludes `body`.
    #[serde(default)]
    raw_body: Option<String>,
    /// Absent or "none": no token; "root": the root token; anything else is sent as given after expansion.
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Keep each server's answer body under this name for later placeholders.
    #[serde(default)]
    save_as: Option<String>,
    /// The status the reference must answer: guards the scenario itself against testing something else.
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    ignore_keys: BTreeMap<String, String>,
    #[serde(default)]
    ignore_values: BTreeMap<String, String>,
    /// Our server is known to differ here: report as a warning, fail if it no longer differs.
    #[serde(default)]
    known_difference: Option<String>,
    /// Something that settles in the background (OpenBao's mount moves): re-send the step, on each server, until the
    /// answer has this value at this JSON pointer (10 s at most), then compare.
    #[serde(default)]
    until: Option<Until>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Until {
    pointer: String,
    value: Value,
}

/// One server under test, with what was captured from its earlier answers.
struct Target {
    label: &'static str,
    base: String,
    agent: ureq::Agent,
    captures: HashMap<String, Value>,
    root_token: Option<String>,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Target {
    fn new(label: &'static str, base: String) -> Target {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Target {
            label,
            base,
            agent,
            captures: HashMap::new(),
            root_token: None,
        }
    }

    /// Expand `${NAME:/pointer}` placeholders in `text` with this server's captures.
    fn expand_str(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in {text:?}"))?;
            let value = self.lookup(&rest[start + 2..start + end])?;
            match value {
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, placeholder: &str) -> Result<Value, String> {
        let (name, pointer) = placeholder.split_once(':').unwrap_or((placeholder, ""));
        let captured = self
            .captures
            .get(name)
            .ok_or_else(|| format!("{}: nothing was saved as {name:?}", self.label))?;
        captured
            .pointer(pointer)
            .cloned()
            .ok_or_else(|| format!("{}: {name:?} has nothing at {pointer:?}: {captured}", self.label))
    }

    fn expand_value(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) if s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1 => {
                self.lookup(&s[2..s.len() - 1])?
            }
            Value::String(s) => Value::String(self.expand_str(s)?),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.expand_value(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.expand_value(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    /// [`Target::send_once`], repeated while the step's `until` condition does not hold yet.
    fn send(&mut self, step: &Step) -> Result<Answer, String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let answer = self.send_once(step)?;
            match &step.until {
                Some(until)
                    if answer.body.pointer(&until.pointer) != Some(&until.value)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => return Ok(answer),
            }
        }
    }

    fn send_once(&mut self, step: &Step) -> Result<Answer, String> {
        let path = self.expand_str(&step.path)?;
        let url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
        let mut builder = ureq::http::Request::builder().method(step.method.as_str()).uri(url);
        match step.token.as_deref() {
            None | Some("none") => {}
            Some("root") => {
                let root = self
                    .root_token
                    .as_ref()
                    .ok_or_else(|| format!("{}: no root token yet (no successful sys/init)", self.label))?;
                builder = builder.header("X-Vault-Token", root.as_str());
            }
            Some(t) => builder = builder.header("X-Vault-Token", self.expand_str(t)?),
        }
        for (name, value) in &step.headers {
            builder = builder.header(name.as_str(), self.expand_str(value)?);
        }
        let body = match (&step.body, &step.raw_body) {
            (Some(_), Some(_)) => return Err("a step has either body or raw_body, not both".into()),
            (Some(v), None) => {
                builder = builder.header("Content-Type", "application/json");
                self.expand_value(v)?.to_string().into_bytes()
            }
            (None, Some(raw)) => self.expand_str(raw)?.into_bytes(),
            (None, None) => Vec::new(),
        };
        let request = builder.body(body).map_err(|e| e.to_string())?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("{}: request failed: {e}", self.label))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "<non-JSON body>": text }))
        };
        if status == 200 && path.trim_start_matches('/').starts_with("sys/init") {
            if let Some(root) = body.get("root_token").and_then(Value::as_str) {
                self.root_token = Some(root.to_string());
            }
        }
        if let Some(name) = &step.save_as {
            self.captures.insert(name.clone(), body.clone());
        }
        Ok(Answer { status, body })
    }
}

/// What to ignore while comparing one step, besides `DEFAULT_IGNORED_VALUES`.
pub(crate) struct Ignore<'a> {
    pub keys: Vec<&'a str>,
    pub values: Vec<&'a str>,
}

impl Ignore<'_> {
    fn matches(list: &[&str], pointer: &str, key: &str) -> bool {
        list.iter().any(|k| *k == pointer || *k == key)
    }

    fn key(&self, pointer: &str, key: &str) -> bool {
        Self::matches(&self.keys, pointer, key)
    }

    fn value(&self, pointer: &str, key: &str) -> bool {
        key.ends_with("_time") || DEFAULT_IGNORED_VALUES.contains(&key) || Self::matches(&self.values, pointer, key)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A body for a report, cut after 600 characters (the differences listed above it are complete).
fn clip(body: &Value) -> String {
    let text = body.to_string();
    match text.char_indices().nth(600) {
        Some((cut, _)) => format!("{}... ({} more bytes)", &text[..cut], text.len() - cut),
        None => text,
    }
}

/// A value with its JSON type, for reports: `string "2"`, `no body`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null (no body)".into(),
        other => format!("{} {other}", type_name(other)),
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Compare `actual` (ours) with `expected` (the reference) at `pointer`; push one line per difference.
/// `values_ignored` is true below a key whose values are ignored: only types, keys and lengths count there.
pub(crate) fn compare(
    pointer: &str,
    expected: &Value,
    actual: &Value,
    values_ignored: bool,
    ignore: &Ignore,
    out: &mut Vec<String>,
) {
    let at = if pointer.is_empty() { "body" } else { pointer };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let child = format!("{pointer}/{}", escape_pointer(key));
                if ignore.key(&child, key) {
                    continue;
                }
                match a.get(key) {
                    None => out.push(format!("{child}: missing in ours (reference has {ev})")),
                    Some(av) => {
                        let ignored = values_ignored || ignore.value(&child, key);
                        compare(&child, ev, av, ignored, ignore, out);
                    }
                }
            }
            for (key, av) in a {
                let child = format!("{pointer}/{}", escape_pointer(key));
                if !e.contains_key(key) && !ignore.key(&child, key) {
                    out.push(format!("{child}: only in ours ({av}), absent from the reference"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{at}: reference has {} elements, ours {}: reference {expected}, ours {actual}",
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(&format!("{pointer}/{i}"), ev, av, values_ignored, ignore, out);
            }
        }
        _ if type_name(expected) != type_name(actual) => out.push(format!(
            "{at}: reference {}, ours {}",
            describe(expected),
            describe(actual)
        )),
        (Value::String(e), Value::String(a)) if values_ignored && e.is_empty() != a.is_empty() => {
            out.push(format!("{at}: reference {expected}, ours {actual} (one is empty)"));
        }
        _ if values_ignored => {}
        _ if expected != actual => out.push(format!("{at}: reference {expected}, ours {actual}")),
        _ => {}
    }
}

/// The differences between the reference answer and ours for one step.
fn diff_answers(expected: &Answer, actual: &Answer, ignore: &Ignore) -> Vec<String> {
    let mut out = Vec::new();
    if expected.status != actual.status {
        out.push(format!("status: reference {}, ours {}", expected.status, actual.status));
    }
    compare("", &expected.body, &actual.body, false, ignore, &mut out);
    out
}

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/scenarios")
}

fn load(file: &str) -> Scenario {
    let path = scenario_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let scenario: Scenario = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!scenario.description.is_empty(), "{file}: empty description");
    assert!(!scenario.steps.is_empty(), "{file}: no steps");
    for (i, step) in scenario.steps.iter().enumerate() {
        let reasons = step.ignore_keys.values().chain(step.ignore_values.values());
        let reasons = reasons
            .chain(scenario.ignore_keys.values())
            .chain(scenario.ignore_values.values());
        for reason in reasons.chain(step.known_difference.iter()) {
            assert!(
                !reason.trim().is_empty(),
                "{file}: step {i}: every ignore and known difference says why"
            );
        }
    }
    scenario
}

/// Bring both servers to the scenario's starting state, the same way.
fn set_up(setup: Setup, targets: &mut [&mut Target]) {
    if setup == Setup::Fresh {
        return;
    }
    let init = Step {
        name: None,
        comment: None,
        method: "PUT".into(),
        path: "sys/init".into(),
        body: Some(json!({"secret_shares": 1, "secret_threshold": 1})),
        raw_body: None,
        token: None,
        headers: BTreeMap::new(),
        save_as: Some("setup".into()),
        status: None,
        ignore_keys: BTreeMap::new(),
        ignore_values: BTreeMap::new(),
        known_difference: None,
        until: None,
    };
    let unseal = Step {
        path: "sys/unseal".into(),
        body: Some(json!({"key": "${setup:/keys/0}"})),
        save_as: None,
        ..init.clone()
    };
    for target in targets.iter_mut() {
        let answer = target.send(&init).unwrap_or_else(|e| panic!("setup: {e}"));
        assert_eq!(answer.status, 200, "setup: {} sys/init: {}", target.label, answer.body);
        if setup == Setup::Unsealed {
            let answer = target.send(&unseal).unwrap_or_else(|e| panic!("setup: {e}"));
            assert_eq!(
                answer.body["sealed"], false,
                "setup: {} sys/unseal: {}",
                target.label, answer.body
            );
        }
    }
}

impl Step {
    fn title(&self, index: usize) -> String {
        let name = self.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        format!("step {index}{name}: {} {}", self.method, self.path)
    }
}

/// Start both servers, run `file`'s steps on each, and fail with a report of every unexpected difference.
fn run_scenario(file: &str) {
    let scenario = load(file);
    let started = std::time::Instant::now();
    let (reference, (_dir, ours)) = std::thread::scope(|s| {
        let reference = s.spawn(|| ReferenceServer::start_with(&scenario.config));
        let dir = temp_dir();
        let config = crate::common::write_config(
            dir.path(),
            &dir.path().join("data"),
            &scenario.config,
            "  tls_disable = true",
        );
        let ours = TestServer::start_with_config(dir.path(), &config, "http", None);
        (
            reference.join().expect("the reference server did not start"),
            (dir, ours),
        )
    });
    let mut expected_side = Target::new("reference", reference.addr.clone());
    let mut actual_side = Target::new("ours", format!("http://{}", ours.addr));
    set_up(scenario.setup, &mut [&mut expected_side, &mut actual_side]);

    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let title = step.title(index);
        let expected = expected_side
            .send(step)
            .unwrap_or_else(|e| panic!("{file}: {title}: {e}"));
        if let Some(status) = step.status {
            assert_eq!(
                expected.status, status,
                "{file}: {title}: the reference answered {} {} instead of the status the scenario expects; fix the scenario",
                expected.status, expected.body
            );
        }
        let actual = actual_side
            .send(step)
            .unwrap_or_else(|e| panic!("{file}: {title}: {e}"));
        let ignore = Ignore {
            keys: scenario
                .ignore_keys
                .keys()
                .chain(step.ignore_keys.keys())
                .map(String::as_str)
                .collect(),
            values: scenario
                .ignore_values
                .keys()
                .chain(step.ignore_values.keys())
                .map(String::as_str)
                .collect(),
        };
        let differences = diff_answers(&expected, &actual, &ignore);
        let report = || {
            let mut text = format!("{title}\n");
            for d in &differences {
                text.push_str(&format!("    {d}\n"));
            }
            text.push_str(&format!(
                "    reference answered {} {}\n",
                expected.status,
                clip(&expected.body)
            ));
            text.push_str(&format!(
                "    ours answered      {} {}\n",
                actual.status,
                clip(&actual.body)
            ));
            text
        };
        match (&step.known_difference, differences.is_empty()) {
            (None, true) => {}
            (None, false) => failures.push(report()),
            (Some(reason), false) => warnings.push(format!("known difference: {reason}\n  {}", report())),
            (Some(reason), true) => failures.push(format!(
                "{title}\n    is marked known_difference ({reason}) but now matches the reference: remove the marker\n"
            )),
        }
    }
    let summary = format!(
        "{file}: {} steps, {} failures, {} known differences, {:.1}s",
        scenario.steps.len(),
        failures.len(),
        warnings.len(),
        started.elapsed().as_secs_f64()
    );
    let mut report = String::new();
    for w in &warnings {
        report.push_str(&format!("warning: {file}: {w}\n"));
    }
    report.push_str(&summary);
    eprintln!("{report}");
    for f in &failures {
        report.push_str(&format!("\nFAILED: {file}: {f}"));
    }
    write_report(file, &report);
    if !failures.is_empty() {
        // Kept apart from the last report, so a failure seen once (under load, in CI) can still be read later.
        write_report(&format!("{file}.failed"), &report);
        panic!(
            "{file}: {} of {} steps differ from OpenBao (reference = bao server, ours = this server):\n\n{}",
            failures.len(),
            scenario.steps.len(),
            failures.join("\n")
        );
    }
}

/// Keep the last report of each scenario (cargo shows a passing test's output only with `--nocapture`).
fn write_report(file: &str, report: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential");
    let written = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join(format!("{file}.txt")), report));
    if let Err(e) = written {
        eprintln!("could not write the report of {file} to {}: {e}", dir.display());
    }
}

macro_rules! scenarios {
    ($($test:ident => $file:literal,)*) => {
        const SCENARIO_FILES: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $test() {
                run_scenario($file);
            }
        )*
    };
}

scenarios! {
    differential_sys_init_validation => "sys_init_validation.json",
    differential_seal_status_and_init => "seal_status_and_init.json",
    differential_unseal_progress => "unseal_progress.json",
    differential_wrong_keys => "wrong_keys.json",
    differential_wrong_keys_single_share => "wrong_keys_single_share.json",
    differential_health_and_leader => "health_and_leader.json",
    differential_seal => "seal.json",
    differential_routing_and_errors => "routing_and_errors.json",
    differential_token_basics => "token_basics.json",
    differential_token_ttl_and_tune => "token_ttl_and_tune.json",
    differential_token_authz => "token_authz.json",
    differential_kv_v2 => "kv_v2.json",
    differential_kv_v1 => "kv_v1.json",
    differential_kv_acl => "kv_acl.json",
    differential_cubbyhole => "cubbyhole.json",
    differential_mounts => "mounts.json",
    differential_sys_auth => "sys_auth.json",
    differential_wrapping => "wrapping.json",
    differential_userpass => "userpass.json",
    differential_approle => "approle.json",
    differential_token_field_types => "token_field_types.json",
    differential_leases => "leases.json",
    differential_transit => "transit.json",
    differential_audit_request_headers => "audit_request_headers.json",
    differential_lockout => "lockout.json",
    differential_bound_cidrs => "bound_cidrs.json",
    differential_operator_keys => "operator_keys.json",
    differential_auto_unseal_static => "auto_unseal_static.json",
    differential_cors => "cors.json",
    differential_openapi => "openapi.json",
    differential_token_path_table => "token_path_table.json",
    differential_tools => "tools.json",
    differential_observability => "observability.json",
    differential_quotas_and_metrics => "quotas_and_metrics.json",
    differential_sys_path_table => "sys_path_table.json",
}

/// A scenario file without a test would be silently skipped.
#[test]
fn differential_every_scenario_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SCENARIO_FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "add each scenario file to the scenarios! list in differential.rs"
    );
    for file in SCENARIO_FILES {
        load(file);
    }
}

/// The comparison itself must catch what it promises to catch.
#[test]
fn differential_comparison_reports_differences() {
    let none = Ignore {
        keys: vec![],
        values: vec![],
    };
    let answer = |status, body| Answer { status, body };
    let diff = |e: Answer, a: Answer, ignore: &Ignore| diff_answers(&e, &a, ignore);

    let same = json!({"sealed": true, "t": 2, "nonce": "", "keys": ["aa", "bb"], "errors": []});
    assert!(diff(answer(200, same.clone()), answer(200, same.clone()), &none).is_empty());

    let d = diff(
        answer(400, json!({"errors": ["a"]})),
        answer(404, json!({"errors": ["a"]})),
        &none,
    );
    assert_eq!(d, vec!["status: reference 400, ours 404"]);
    let d = diff(
        answer(400, json!({"errors": ["a b"]})),
        answer(400, json!({"errors": ["a c"]})),
        &none,
    );
    assert_eq!(d, vec![r#"/errors/0: reference "a b", ours "a c""#]);
    let d = diff(
        answer(400, json!({"errors": []})),
        answer(400, json!({"errors": ["x"]})),
        &none,
    );
    assert_eq!(d.len(), 1, "{d:?}");
    let d = diff(answer(200, json!({"t": 2})), answer(200, json!({"t": "2"})), &none);
    assert_eq!(d, vec![r#"/t: reference number 2, ours string "2""#]);
    let d = diff(
        answer(200, json!({"t": 2, "n": 3})),
        answer(200, json!({"t": 2, "x": 1})),
        &none,
    );
    assert_eq!(d.len(), 2, "{d:?}");
    let d = diff(
        answer(200, json!({"a": {"b": true}})),
        answer(200, json!({"a": {"b": false}})),
        &none,
    );
    assert_eq!(d, vec!["/a/b: reference true, ours false"]);
    let d = diff(answer(204, Value::Null), answer(200, json!({})), &none);
    assert_eq!(d.len(), 2, "{d:?}");

    // Default ignored values: the values differ, types and lengths still count, emptiness of strings too.
    let d = diff(
        answer(
            200,
            json!({"root_token": "s.a", "keys": ["aa", "bb"], "nonce": "", "issue_time": "x"}),
        ),
        answer(
            200,
            json!({"root_token": "hvs.b", "keys": ["cc", "dd"], "nonce": "", "issue_time": "y"}),
        ),
        &none,
    );
    assert!(d.is_empty(), "{d:?}");
    let d = diff(
        answer(200, json!({"keys": ["aa", "bb"]})),
        answer(200, json!({"keys": ["cc"]})),
        &none,
    );
    assert_eq!(d.len(), 1, "{d:?}");
    let d = diff(
        answer(200, json!({"nonce": "abc"})),
        answer(200, json!({"nonce": ""})),
        &none,
    );
    assert_eq!(d.len(), 1, "{d:?}");
    let d = diff(
        answer(200, json!({"version": "2.7.2"})),
        answer(200, json!({"version": 1})),
        &none,
    );
    assert_eq!(d.len(), 1, "{d:?}");

    // Extra ignores: whole keys by name or pointer, values by name.
    let extra = Ignore {
        keys: vec!["recovery_seal", "/a/b"],
        values: vec!["progress"],
    };
    let d = diff(
        answer(
            200,
            json!({"recovery_seal": false, "a": {"b": 1, "c": 2}, "progress": 1}),
        ),
        answer(200, json!({"a": {"c": 2}, "progress": 0})),
        &extra,
    );
    assert!(d.is_empty(), "{d:?}");
    let d = diff(
        answer(200, json!({"a": {"c": 2}})),
        answer(200, json!({"a": {"c": 3}})),
        &extra,
    );
    assert_eq!(d.len(), 1, "{d:?}");
}

#[test]
fn differential_placeholders_expand_per_server() {
    let mut target = Target::new("t", "http://127.0.0.1:1".into());
    target.captures.insert(
        "init".into(),
        json!({"keys": ["k0", "k1"], "root_token": "s.x", "n": 3}),
    );
    assert_eq!(target.expand_str("a ${init:/keys/1} b").unwrap(), "a k1 b");
    assert_eq!(
        target
            .expand_value(&json!({"key": "${init:/keys/0}", "n": "${init:/n}", "s": "n=${init:/n}"}))
            .unwrap(),
        json!({"key": "k0", "n": 3, "s": "n=3"})
    );
    assert!(target.expand_str("${init:/nope}").is_err());
    assert!(target.expand_str("${other:/keys/0}").is_err());
}
