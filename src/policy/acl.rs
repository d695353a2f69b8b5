//! A compiled ACL: the union of a token's policies, matched the way OpenBao matches paths (exact, then the best of
//! the longest `*` prefix and the `+` segment-wildcard rules by OpenBao's priority rules).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value as Json;

use super::parse::{PathRule, Policy};
use crate::logical::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Capability {
    Deny = 1,
    Create = 2,
    Read = 4,
    Update = 8,
    Delete = 16,
    List = 32,
    Sudo = 64,
    Patch = 128,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Delete,
        Capability::List,
        Capability::Sudo,
        Capability::Patch,
        Capability::Deny,
    ];
    pub const WRITE: u16 = Capability::Create as u16
        | Capability::Read as u16
        | Capability::Update as u16
        | Capability::Delete as u16
        | Capability::List as u16
        | Capability::Patch as u16;

    pub fn parse(name: &str) -> Option<Capability> {
        Some(match name {
            "deny" => Capability::Deny,
            "create" => Capability::Create,
            "read" => Capability::Read,
            "update" => Capability::Update,
            "delete" => Capability::Delete,
            "list" => Capability::List,
            "sudo" => Capability::Sudo,
            "patch" => Capability::Patch,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::Deny => "deny",
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Patch => "patch",
        }
    }

    pub fn for_operation(op: Operation) -> Capability {
        match op {
            Operation::Create => Capability::Create,
            Operation::Read => Capability::Read,
            Operation::Update => Capability::Update,
            Operation::Patch => Capability::Patch,
            Operation::Delete => Capability::Delete,
            Operation::List => Capability::List,
            // As OpenBao: lease operations need `update`.
            Operation::Renew | Operation::Revoke => Capability::Update,
        }
    }
}

/// Capability names of a bitmap, sorted as OpenBao returns them.
pub fn capability_names(bits: u16) -> Vec<&'static str> {
    if bits & Capability::Deny as u16 != 0 {
        return vec!["deny"];
    }
    let mut names: Vec<&'static str> = Capability::ALL
        .iter()
        .filter(|c| bits & **c as u16 != 0)
        .map(|c| c.name())
        .collect();
    names.sort_unstable();
    names
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub capabilities: u16,
    pub allowed_parameters: Option<BTreeMap<String, Vec<Json>>>,
    pub denied_parameters: Option<BTreeMap<String, Vec<Json>>>,
    pub required_parameters: Vec<String>,
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
}

impl Permissions {
    fn from_rule(rule: &PathRule) -> Self {
        Permissions {
            capabilities: rule.capabilities,
            allowed_parameters: rule.allowed_parameters.clone(),
            denied_parameters: rule.denied_parameters.clone(),
            required_parameters: rule.required_parameters.clone(),
            min_wrapping_ttl: rule.min_wrapping_ttl,
            max_wrapping_ttl: rule.max_wrapping_ttl,
        }
    }

    /// Merge a rule for the same path from another policy, as OpenBao does: deny wins; capabilities add up;
    /// the shorter minimum and the longer maximum wrapping TTL apply; parameter lists combine.
    fn merge(&mut self, other: &Permissions) {
        if self.capabilities & Capability::Deny as u16 != 0 {
            return;
        }
        if other.capabilities & Capability::Deny as u16 != 0 {
            *self = Permissions {
                capabilities: Capability::Deny as u16,
                ..Default::default()
            };
            return;
        }
        self.capabilities |= other.capabilities;
        self.min_wrapping_ttl = match (self.min_wrapping_ttl, other.min_wrapping_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_wrapping_ttl = match (self.max_wrapping_ttl, other.max_wrapping_ttl) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        merge_params(&mut self.allowed_parameters, &other.allowed_parameters);
        merge_params(&mut self.denied_parameters, &other.denied_parameters);
        for p in &other.required_parameters {
            if !self.required_parameters.contains(p) {
                self.required_parameters.push(p.clone());
            }
        }
    }
}

fn merge_params(into: &mut Option<BTreeMap<String, Vec<Json>>>, from: &Option<BTreeMap<String, Vec<Json>>>) {
    let Some(from) = from else { return };
    let Some(existing) = into.as_mut().filter(|m| !m.is_empty()) else {
        *into = Some(from.clone());
        return;
    };
    for (key, values) in from {
        match existing.get_mut(key) {
            Some(current) if current.is_empty() || values.is_empty() => current.clear(),
            Some(current) => current.extend(values.iter().cloned()),
            None => {
                existing.insert(key.clone(), values.clone());
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AclResult {
    pub allowed: bool,
    /// The matching rule grants `sudo` (or the token is root).
    pub root_privs: bool,
    pub is_root: bool,
    pub capabilities: u16,
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Acl {
    root: bool,
    exact: HashMap<String, Permissions>,
    /// `*` rules by prefix, longest first.
    prefix: Vec<(String, Permissions)>,
    /// Rules containing `+` segments (they may also end in `*`).
    segment: Vec<(String, Permissions)>,
}

impl Acl {
    pub fn new(policies: &[&Policy]) -> Acl {
        let mut acl = Acl::default();
        let mut prefix: HashMap<String, Permissions> = HashMap::new();
        let mut segment: HashMap<String, Permissions> = HashMap::new();
        for policy in policies {
            if policy.name == super::ROOT_POLICY_NAME {
                acl.root = true;
                continue;
            }
            for rule in &policy.paths {
                let perms = Permissions::from_rule(rule);
                let (table, key) = if rule.path.split('/').any(|s| s == "+") {
                    (&mut segment, rule.path.clone())
                } else if let Some(stem) = rule.path.strip_suffix('*') {
                    (&mut prefix, stem.to_string())
                } else {
                    (&mut acl.exact, rule.path.clone())
                };
                match table.get_mut(&key) {
                    Some(existing) => existing.merge(&perms),
                    None => {
                        table.insert(key, perms);
                    }
                }
            }
        }
        acl.prefix = prefix.into_iter().collect();
        acl.prefix.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        acl.segment = segment.into_iter().collect();
        acl
    }

    pub fn is_root(&self) -> bool {
        self.root
    }

    /// The permissions that apply to `path` for `op`, if any rule matches.
    fn permissions_for(&self, path: &str, list: bool) -> Option<&Permissions> {
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        if list {
            if let Some(p) = self.exact.get(path.trim_end_matches('/')) {
                return Some(p);
            }
        }
        let prefix_match = self.prefix.iter().find(|(p, _)| path.starts_with(p.as_str()));
        let mut best: Option<(String, &Permissions)> = prefix_match.map(|(p, perms)| (format!("{p}*"), perms));
        for (pattern, perms) in &self.segment {
            if segment_match(pattern, path) {
                best = match best {
                    Some((current, current_perms)) if priority(&current, pattern) != Ordering::Less => {
                        Some((current, current_perms))
                    }
                    _ => Some((pattern.clone(), perms)),
                };
            }
        }
        best.map(|(_, p)| p)
    }

    /// Capabilities on a path (for `sys/capabilities`): the names, `root` for root tokens, `deny` when none.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        match self.permissions_for(path, false) {
            Some(p) if p.capabilities != 0 => capability_names(p.capabilities),
            _ => vec!["deny"],
        }
    }

    /// The ACL as `sys/internal/ui/resultant-acl` shows it.
    pub fn describe(&self) -> Json {
        let rules = |entries: Vec<(&String, &Permissions)>| -> serde_json::Map<String, Json> {
            entries
                .into_iter()
                .map(|(path, p)| {
                    (
                        path.clone(),
                        serde_json::json!({ "capabilities": capability_names(p.capabilities) }),
                    )
                })
                .collect()
        };
        let mut exact: Vec<(&String, &Permissions)> = self.exact.iter().collect();
        exact.extend(
            self.segment
                .iter()
                .filter(|(p, _)| !p.ends_with('*'))
                .map(|(p, perms)| (p, perms)),
        );
        let mut glob: Vec<(&String, &Permissions)> = self.prefix.iter().map(|(p, perms)| (p, perms)).collect();
        let segment_globs: Vec<(String, &Permissions)> = self
            .segment
            .iter()
            .filter_map(|(p, perms)| p.strip_suffix('*').map(|stem| (stem.to_string(), perms)))
            .collect();
        glob.extend(segment_globs.iter().map(|(p, perms)| (p, *perms)));
        serde_json::json!({ "exact_paths": rules(exact), "glob_paths": rules(glob), "root": self.root })
    }

    /// May an unwrapped `op` on `path` with `data` proceed?
    pub fn allow(&self, op: Operation, path: &str, data: &serde_json::Map<String, Json>) -> AclResult {
        self.allow_request(op, path, data, None)
    }

    /// May `op` on `path` with `data`, answered wrapped with `wrap_ttl` (if any), proceed? A rule with a minimum or
    /// maximum wrapping TTL refuses requests outside it, unwrapped ones included (OpenBao refuses, never caps).
    pub fn allow_request(
        &self,
        op: Operation,
        path: &str,
        data: &serde_json::Map<String, Json>,
        wrap_ttl: Option<Duration>,
    ) -> AclResult {
        if self.root {
            return AclResult {
                allowed: true,
                root_privs: true,
                is_root: true,
                capabilities: u16::MAX,
                ..Default::default()
            };
        }
        let mut result = AclResult::default();
        let Some(perms) = self.permissions_for(path, op == Operation::List) else {
            return result;
        };
        let caps = perms.capabilities;
        result.capabilities = caps;
        result.root_privs = caps & Capability::Sudo as u16 != 0;
        if caps & Capability::Deny as u16 != 0 {
            result.root_privs = false;
            return result;
        }
        if caps & Capability::for_operation(op) as u16 == 0 {
            return result;
        }
        result.min_wrapping_ttl = perms.min_wrapping_ttl;
        result.max_wrapping_ttl = perms.max_wrapping_ttl;
        if let Some(max) = perms.max_wrapping_ttl.filter(|m| !m.is_zero()) {
            if wrap_ttl.is_none_or(|t| t > max) {
                return result;
            }
        }
        if let Some(min) = perms.min_wrapping_ttl.filter(|m| !m.is_zero()) {
            if wrap_ttl.is_none_or(|t| t < min) {
                return result;
            }
        }
        if matches!(
            op,
            Operation::Read | Operation::Update | Operation::Create | Operation::Patch
        ) && !parameters_allowed(perms, data)
        {
            return result;
        }
        result.allowed = true;
        result
    }
}

fn parameters_allowed(perms: &Permissions, data: &serde_json::Map<String, Json>) -> bool {
    for required in &perms.required_parameters {
        if !data.contains_key(&required.to_lowercase()) {
            return false;
        }
    }
    if data.is_empty() {
        return true;
    }
    if let Some(denied) = perms.denied_parameters.as_ref().filter(|d| !d.is_empty()) {
        if denied.contains_key("*") {
            return false;
        }
        for (name, value) in data {
            if let Some(values) = denied.get(&name.to_lowercase()) {
                if value_in_list(value, values) {
                    return false;
                }
            }
        }
    }
    let Some(allowed) = perms.allowed_parameters.as_ref().filter(|a| !a.is_empty()) else {
        return true;
    };
    let allow_all = allowed.contains_key("*");
    if allowed.len() == 1 && allow_all {
        return true;
    }
    for (name, value) in data {
        match allowed.get(&name.to_lowercase()) {
            None if !allow_all => return false,
            Some(values) if !value_in_list(value, values) => return false,
            _ => {}
        }
    }
    true
}

/// An empty list allows any value; strings match globs with a leading and/or trailing `*`.
fn value_in_list(value: &Json, list: &[Json]) -> bool {
    if list.is_empty() {
        return true;
    }
    list.iter().any(|item| match (item, value) {
        (Json::String(pattern), Json::String(v)) => glob_match(pattern, v),
        (a, b) => a == b,
    })
}

/// OpenBao's `strutil.GlobbedStringsMatch`: a pattern shorter than two bytes is a literal (so `"*"` matches only
/// `"*"`); otherwise a leading `*` matches any prefix, a trailing one any suffix, both any infix (`"**"` anything).
fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => value.contains(&rest[..rest.len() - 1]),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

/// Does a `+`-segment pattern (optionally ending in `*`) match `path`?
fn segment_match(pattern: &str, path: &str) -> bool {
    let glob = pattern.ends_with('*');
    let pattern = pattern.trim_end_matches('*');
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    if glob {
        if segs.len() < pat.len() {
            return false;
        }
        for (i, p) in pat.iter().enumerate() {
            let last = i == pat.len() - 1;
            let s = segs[i];
            let ok = if *p == "+" {
                true
            } else if last {
                s.starts_with(p)
            } else {
                *p == s
            };
            if !ok {
                return false;
            }
        }
        // A trailing `+` before `*` must still see a segment.
        true
    } else {
        pat.len() == segs.len() && pat.iter().zip(segs.iter()).all(|(p, s)| *p == "+" || p == s)
    }
}

/// OpenBao's priority between two matching non-exact paths: `Greater` when `a` wins.
fn priority(a: &str, b: &str) -> Ordering {
    let first_wild = |p: &str| p.find(['+', '*']).unwrap_or(p.len());
    // 1. The later the first wildcard, the higher the priority.
    match first_wild(a).cmp(&first_wild(b)) {
        Ordering::Equal => {}
        other => return other,
    }
    // 2. Not ending in `*` beats ending in `*`.
    match (a.ends_with('*'), b.ends_with('*')) {
        (false, true) => return Ordering::Greater,
        (true, false) => return Ordering::Less,
        _ => {}
    }
    // 3. Fewer `+` segments win.
    let plus = |p: &str| p.split('/').filter(|s| *s == "+").count();
    match plus(b).cmp(&plus(a)) {
        Ordering::Equal => {}
        other => return other,
    }
    // 4. Longer wins; 5. lexicographically larger wins.
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    fn acl(text: &str) -> Acl {
        let p = parse_policy("t", text).unwrap();
        Acl::new(&[&p])
    }

    fn empty() -> serde_json::Map<String, Json> {
        serde_json::Map::new()
    }

    #[test]
    fn exact_prefix_and_segment_matching() {
        let a = acl(r#"
path "secret/foo" {
  capabilities = ["read"]
}
path "secret/*" {
  capabilities = ["list"]
}
path "secret/+/bar" {
  capabilities = ["update"]
}
path "secret/data/*" {
  capabilities = ["deny"]
}
"#);
        assert!(a.allow(Operation::Read, "secret/foo", &empty()).allowed);
        assert!(
            !a.allow(Operation::List, "secret/foo", &empty()).allowed,
            "exact rule wins over the glob"
        );
        assert!(a.allow(Operation::List, "secret/other", &empty()).allowed);
        assert!(a.allow(Operation::Update, "secret/x/bar", &empty()).allowed);
        assert!(
            !a.allow(Operation::Update, "secret/data/bar", &empty()).allowed,
            "secret/data/* starts its wildcard later"
        );
        assert!(!a.allow(Operation::Read, "other", &empty()).allowed);
        assert_eq!(a.capabilities("secret/x/bar"), vec!["update"]);
        assert_eq!(a.capabilities("nothing"), vec!["deny"]);
    }

    #[test]
    fn deny_wins_across_policies_and_sudo() {
        let p1 = parse_policy("a", "path \"sys/seal\" {\n  capabilities = [\"update\", \"sudo\"]\n}").unwrap();
        let p2 = parse_policy("b", "path \"sys/seal\" {\n  capabilities = [\"deny\"]\n}").unwrap();
        let one = Acl::new(&[&p1]);
        let r = one.allow(Operation::Update, "sys/seal", &empty());
        assert!(r.allowed && r.root_privs);
        let both = Acl::new(&[&p1, &p2]);
        assert!(!both.allow(Operation::Update, "sys/seal", &empty()).allowed);
        assert_eq!(both.capabilities("sys/seal"), vec!["deny"]);
    }

    #[test]
    fn parameters() {
        let a = acl(r#"
path "kv/*" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "color" = ["red", "gr*"]
    "size" = []
  }
  denied_parameters = {
    "size" = ["huge"]
  }
  required_parameters = ["color"]
}
"#);
        let data = |v: Json| v.as_object().unwrap().clone();
        assert!(
            a.allow(
                Operation::Update,
                "kv/a",
                &data(serde_json::json!({"color": "green", "size": 1}))
            )
            .allowed
        );
        assert!(
            !a.allow(Operation::Update, "kv/a", &data(serde_json::json!({"color": "blue"})))
                .allowed
        );
        assert!(
            !a.allow(
                Operation::Update,
                "kv/a",
                &data(serde_json::json!({"color": "red", "shape": 1}))
            )
            .allowed
        );
        assert!(
            !a.allow(
                Operation::Update,
                "kv/a",
                &data(serde_json::json!({"color": "red", "size": "huge"}))
            )
            .allowed
        );
        assert!(
            !a.allow(Operation::Update, "kv/a", &data(serde_json::json!({"size": 1})))
                .allowed,
            "required"
        );
    }

    #[test]
    fn parameter_globs_as_openbao() {
        for (pattern, value, matches) in [
            ("*", "*", true),
            ("*", "anything", false),
            ("*", "", false),
            ("", "", true),
            ("**", "anything", true),
            ("**", "", true),
            ("*mid*", "a-mid-b", true),
            ("*mid*", "mi", false),
            ("*-ro", "db-ro", true),
            ("gr*", "green", true),
            ("gr*", "agr", false),
            ("a*b", "a*b", true),
            ("a*b", "axb", false),
        ] {
            assert_eq!(super::glob_match(pattern, value), matches, "{pattern:?} vs {value:?}");
        }
    }

    #[test]
    fn wrapping_ttl_bounds_refuse() {
        let a = acl("path \"sys/wrapping/wrap\" {\n  capabilities = [\"update\"]\n  min_wrapping_ttl = \"60s\"\n  max_wrapping_ttl = \"300s\"\n}");
        let w = |s| Some(Duration::from_secs(s));
        assert!(
            !a.allow_request(Operation::Update, "sys/wrapping/wrap", &empty(), w(10))
                .allowed
        );
        assert!(
            !a.allow_request(Operation::Update, "sys/wrapping/wrap", &empty(), w(3600))
                .allowed
        );
        assert!(
            a.allow_request(Operation::Update, "sys/wrapping/wrap", &empty(), w(120))
                .allowed
        );
        assert!(
            !a.allow(Operation::Update, "sys/wrapping/wrap", &empty()).allowed,
            "unwrapped is refused too"
        );
    }

    #[test]
    fn priority_rules() {
        assert_eq!(priority("a/b/*", "a/*"), Ordering::Greater);
        assert_eq!(priority("a/+/c", "a/+/*"), Ordering::Greater);
        assert_eq!(priority("a/+/+", "a/+/c"), Ordering::Less);
        assert_eq!(priority("a/+/cd", "a/+/c"), Ordering::Greater);
    }
}
