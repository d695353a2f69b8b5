//! Audit entries in OpenBao's JSON form (`audit/format.go`): the same fields, nesting and omissions (Go's
//! `omitempty`), with sensitive values HMAC'd as `hmac-sha256:<hex>` under the device's salt (`hashstructure.go`):
//! client tokens, accessors (unless `hmac_accessor=false`), wrapping tokens, and every string in request and
//! response data except RFC 3339 timestamps and the mount's non-HMAC keys. `log_raw` writes everything in clear.

use std::collections::BTreeMap;

use hmac::Mac;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::core::{Operation, Request, Response};

/// Common options of every device type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    pub raw: bool,
    pub hmac_accessor: bool,
    pub elide_list_responses: bool,
    pub prefix: String,
}

impl FormatOptions {
    /// The options as OpenBao reads them, with its error texts.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, String> {
        use crate::logical::audit::parse_go_bool;
        match options.get("format").map(String::as_str) {
            None | Some("json") => {}
            Some("jsonx") => {
                return Err(
                    "jsonx formatting has been removed, consider switching to json by omitting \"format\" or setting it to \"json\""
                        .into(),
                )
            }
            Some(other) => return Err(format!("unknown format type {other:?}")),
        }
        let flag = |key: &str, default: bool| options.get(key).map_or(Ok(default), |v| parse_go_bool(v));
        Ok(FormatOptions {
            raw: flag("log_raw", false)?,
            hmac_accessor: flag("hmac_accessor", true)?,
            elide_list_responses: flag("elide_list_responses", false)?,
            prefix: options.get("prefix").cloned().unwrap_or_default(),
        })
    }
}

/// `hmac-sha256:<hex>` of `data` under `salt` (OpenBao's `GetIdentifiedHMAC`).
pub fn identified_hmac(salt: &[u8], data: &str) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    match <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(salt) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => "hmac-sha256:".to_string(),
    }
}

/// Who made the request, as the `auth` block shows it. Holds the client token in clear until formatted.
#[derive(Default, Clone)]
pub struct AuthView {
    pub client_token: Zeroizing<String>,
    pub accessor: String,
    pub display_name: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub entity_id: String,
    pub token_type: String,
    pub token_ttl: i64,
    /// RFC 3339, seconds.
    pub token_issue_time: String,
    pub num_uses: i64,
    pub remaining_uses: i64,
    /// The ACL's verdict, when one was reached (or a login, always allowed).
    pub policy_allowed: Option<bool>,
}

/// The mount a request was routed to.
#[derive(Default, Clone)]
pub struct MountView {
    pub point: String,
    pub kind: String,
    pub accessor: String,
    pub class: &'static str,
    pub running_version: String,
    pub non_hmac_request_keys: Vec<String>,
    pub non_hmac_response_keys: Vec<String>,
}

/// Everything one entry is built from.
pub struct AuditInput<'a> {
    pub req: &'a Request,
    pub auth: &'a AuthView,
    pub mount: Option<&'a MountView>,
    /// The error the client is answered with.
    pub error: Option<String>,
    /// For a response entry: what the client gets (for a wrapped answer, the wrapping info only).
    pub response: Option<&'a Response>,
    /// For a response entry of a login: the `auth` block is the token issued.
    pub login: bool,
}

fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(skip_serializing_if = "is_empty_str")]
    time: String,
    #[serde(rename = "type")]
    kind: &'a str,
    auth: AuthOut,
    request: RequestOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseOut>,
    #[serde(skip_serializing_if = "is_empty_str")]
    error: String,
}

#[derive(Serialize)]
struct PolicyResults {
    allowed: bool,
}

#[derive(Serialize, Default)]
struct AuthOut {
    #[serde(skip_serializing_if = "is_empty_str")]
    client_token: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    accessor: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    display_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    token_policies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_results: Option<PolicyResults>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_zero")]
    num_uses: i64,
    #[serde(skip_serializing_if = "is_zero")]
    remaining_uses: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    entity_id: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    token_type: String,
    #[serde(skip_serializing_if = "is_zero")]
    token_ttl: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    token_issue_time: String,
}

#[derive(Serialize)]
struct Namespace {
    id: &'static str,
}

#[derive(Serialize)]
struct RequestOut<'a> {
    id: &'a str,
    operation: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_point: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_type: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_accessor: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_running_version: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_class: &'static str,
    #[serde(skip_serializing_if = "is_empty_str")]
    client_token: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    client_token_accessor: String,
    namespace: Namespace,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "is_empty_str")]
    remote_address: String,
    #[serde(skip_serializing_if = "is_zero")]
    wrap_ttl: i64,
}

#[derive(Serialize)]
struct SecretOut {
    lease_id: String,
}

#[derive(Serialize, Default)]
struct WrapInfoOut {
    #[serde(skip_serializing_if = "is_zero")]
    ttl: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    token: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    accessor: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    creation_time: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    creation_path: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    wrapped_accessor: String,
}

#[derive(Serialize)]
struct ResponseOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthOut>,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_point: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_type: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_accessor: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_running_plugin_version: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_info: Option<WrapInfoOut>,
}

/// Go's `time.Time.UnmarshalText` accepts it: OpenBao leaves such strings in clear (they were times before the
/// response was turned into JSON).
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20 && b[10] == b'T' && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// HMAC every string below `value` (not object keys), except timestamps and values under an ignored key.
fn hash_strings(value: &mut Value, key: &str, ignored: &[String], hash: &dyn Fn(&str) -> String) {
    match value {
        Value::String(s) if !is_rfc3339(s) && !ignored.iter().any(|k| k == key) => *s = hash(s),
        Value::Array(items) => items.iter_mut().for_each(|v| hash_strings(v, key, ignored, hash)),
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| hash_strings(v, k, ignored, hash)),
        _ => {}
    }
}

fn hashed_data(
    data: &Map<String, Value>,
    ignored: &[String],
    elide: bool,
    hash: Option<&dyn Fn(&str) -> String>,
) -> Map<String, Value> {
    let mut copy = data.clone();
    if elide {
        for (k, v) in copy.iter_mut() {
            match (k.as_str(), &*v) {
                ("keys", Value::Array(a)) => *v = Value::from(a.len()),
                ("key_info", Value::Object(m)) => *v = Value::from(m.len()),
                _ => {}
            }
        }
    }
    if let Some(hash) = hash {
        for (k, v) in copy.iter_mut() {
            hash_strings(v, k, ignored, hash);
        }
    }
    copy
}

fn auth_out(auth: &AuthView, hash: &dyn Fn(&str) -> String, hash_accessor: &dyn Fn(&str) -> String) -> AuthOut {
    let nonempty = |s: &str, f: &dyn Fn(&str) -> String| if s.is_empty() { String::new() } else { f(s) };
    AuthOut {
        client_token: nonempty(&auth.client_token, hash),
        accessor: nonempty(&auth.accessor, hash_accessor),
        display_name: auth.display_name.clone(),
        policies: auth.policies.clone(),
        token_policies: auth.token_policies.clone(),
        policy_results: auth.policy_allowed.map(|allowed| PolicyResults { allowed }),
        metadata: auth.metadata.clone(),
        num_uses: auth.num_uses,
        remaining_uses: auth.remaining_uses,
        entity_id: auth.entity_id.clone(),
        token_type: auth.token_type.clone(),
        token_ttl: auth.token_ttl,
        token_issue_time: auth.token_issue_time.clone(),
    }
}

/// The `auth` block of a response (the token a login or a token creation issued).
pub fn auth_view_of(auth: &crate::logical::Auth) -> AuthView {
    AuthView {
        client_token: Zeroizing::new(auth.client_token.as_str().to_string()),
        accessor: auth.accessor.clone(),
        display_name: auth.display_name.clone(),
        policies: auth.policies.clone(),
        token_policies: auth.token_policies.clone(),
        metadata: auth.metadata.clone(),
        entity_id: auth.entity_id.clone(),
        token_type: if auth.token_type.is_empty() {
            "service".into()
        } else {
            auth.token_type.clone()
        },
        token_ttl: auth.lease_duration as i64,
        num_uses: auth.num_uses,
        ..AuthView::default()
    }
}

fn wrap_info_out(info: &Value, hash: &dyn Fn(&str) -> String, hash_accessor: &dyn Fn(&str) -> String) -> WrapInfoOut {
    let text = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let nonempty = |s: String, f: &dyn Fn(&str) -> String| if s.is_empty() { s } else { f(&s) };
    WrapInfoOut {
        ttl: info.get("ttl").and_then(Value::as_i64).unwrap_or(0),
        token: nonempty(text("token"), hash),
        accessor: nonempty(text("accessor"), hash_accessor),
        creation_time: text("creation_time"),
        creation_path: text("creation_path"),
        wrapped_accessor: nonempty(text("wrapped_accessor"), hash_accessor),
    }
}

/// One entry, as the line a device writes (prefix, JSON, newline).
pub fn entry_line(input: &AuditInput, response_entry: bool, options: &FormatOptions, salt: &[u8]) -> Vec<u8> {
    let hmac = |s: &str| identified_hmac(salt, s);
    let clear = |s: &str| s.to_string();
    let hash: &dyn Fn(&str) -> String = if options.raw { &clear } else { &hmac };
    let hash_accessor: &dyn Fn(&str) -> String = if options.hmac_accessor { hash } else { &clear };
    let data_hash: Option<&dyn Fn(&str) -> String> = if options.raw { None } else { Some(hash) };
    let req = input.req;
    let mount = input.mount.cloned().unwrap_or_default();
    let client_token = req.client_token.as_ref().map(|t| hash(t.as_str())).unwrap_or_default();
    let client_token_accessor = if client_token.is_empty() || input.auth.accessor.is_empty() {
        String::new()
    } else {
        hash_accessor(&input.auth.accessor)
    };
    let response_auth = input.response.and_then(|r| r.auth.as_ref()).map(auth_view_of);
    let top_auth = match (&response_auth, input.login && response_entry) {
        (Some(issued), true) => issued,
        _ => input.auth,
    };
    let request = RequestOut {
        id: &req.id,
        operation: req.operation.as_str(),
        mount_point: mount.point.clone(),
        mount_type: mount.kind.clone(),
        mount_accessor: mount.accessor.clone(),
        mount_running_version: mount.running_version.clone(),
        mount_class: mount.class,
        client_token,
        client_token_accessor,
        namespace: Namespace { id: "root" },
        path: &req.path,
        data: (!req.data.is_empty()).then(|| hashed_data(&req.data, &mount.non_hmac_request_keys, false, data_hash)),
        remote_address: req.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
        wrap_ttl: req.wrap_ttl.map_or(0, |t| t.as_secs() as i64),
    };
    let response = response_entry.then(|| {
        let resp = input.response;
        let elide = options.elide_list_responses && req.operation == Operation::List;
        let mut data = resp
            .and_then(|r| r.data.as_ref())
            .filter(|d| !d.is_empty())
            .map(|d| hashed_data(d, &mount.non_hmac_response_keys, elide, data_hash));
        if let (None, Some(error)) = (&data, &input.error) {
            let mut m = Map::new();
            m.insert("error".into(), Value::String(hash(error)));
            data = Some(m);
        }
        ResponseOut {
            auth: response_auth.as_ref().map(|a| auth_out(a, hash, hash_accessor)),
            mount_point: mount.point.clone(),
            mount_type: mount.kind.clone(),
            mount_accessor: mount.accessor.clone(),
            mount_running_plugin_version: mount.running_version.clone(),
            mount_class: mount.class,
            secret: resp.filter(|r| !r.lease_id.is_empty()).map(|r| SecretOut {
                lease_id: r.lease_id.clone(),
            }),
            data,
            warnings: resp.map(|r| r.warnings.clone()).unwrap_or_default(),
            wrap_info: resp
                .and_then(|r| r.wrap_info.as_ref())
                .map(|w| wrap_info_out(w, hash, hash_accessor)),
        }
    });
    let entry = Entry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        kind: if response_entry { "response" } else { "request" },
        auth: auth_out(top_auth, hash, hash_accessor),
        request,
        response,
        error: input.error.clone().unwrap_or_default(),
    };
    let mut line = options.prefix.as_bytes().to_vec();
    // Serializing maps of strings and JSON values cannot fail.
    if serde_json::to_writer(&mut line, &entry).is_err() {
        line.truncate(options.prefix.len());
    }
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::ClientToken;

    fn request(data: Value) -> Request {
        Request {
            id: "req-1".into(),
            operation: Operation::Update,
            path: "secret/data/foo".into(),
            data: data.as_object().cloned().unwrap_or_default(),
            client_token: Some(ClientToken::new("s.topsecret")),
            wrap_ttl: None,
            remote_addr: Some("127.0.0.1".parse().unwrap()),
            secret: None,
        }
    }

    fn options(raw: bool, hmac_accessor: bool) -> FormatOptions {
        FormatOptions {
            raw,
            hmac_accessor,
            elide_list_responses: false,
            prefix: String::new(),
        }
    }

    #[test]
    fn hashes_tokens_accessors_and_data_strings() {
        let req = request(json!({"data": {"password": "hunter2", "n": 1, "when": "2026-12-03T17:11:49.717381502Z"}}));
        let auth = AuthView {
            client_token: Zeroizing::new("s.topsecret".into()),
            accessor: "acc123".into(),
            token_type: "service".into(),
            policy_allowed: Some(true),
            ..AuthView::default()
        };
        let mut data = Map::new();
        data.insert("version".into(), json!(1));
        data.insert("deletion_time".into(), json!(""));
        let resp = Response::with_data(data);
        let input = AuditInput {
            req: &req,
            auth: &auth,
            mount: None,
            error: None,
            response: Some(&resp),
            login: false,
        };
        let salt = [7u8; 32];
        let line = entry_line(&input, true, &options(false, true), &salt);
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(
            !text.contains("topsecret") && !text.contains("hunter2") && !text.contains("acc123"),
            "{text}"
        );
        let v: Value = serde_json::from_slice(&line).unwrap();
        let h = |s: &str| identified_hmac(&salt, s);
        assert_eq!(v["auth"]["client_token"], h("s.topsecret"));
        assert_eq!(v["request"]["client_token_accessor"], h("acc123"));
        assert_eq!(v["request"]["data"]["data"]["password"], h("hunter2"));
        assert_eq!(v["request"]["data"]["data"]["n"], 1);
        assert_eq!(v["request"]["data"]["data"]["when"], "2026-12-03T17:11:49.717381502Z");
        assert_eq!(v["response"]["data"]["deletion_time"], h(""));
        assert_eq!(v["auth"]["policy_results"], json!({"allowed": true}));
        assert_eq!(v["request"]["namespace"], json!({"id": "root"}));

        let line = entry_line(&input, false, &options(false, false), &salt);
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["auth"]["accessor"], "acc123");
        assert!(v.get("response").is_none());
        let v: Value = serde_json::from_slice(&entry_line(&input, false, &options(true, true), &salt)).unwrap();
        assert_eq!(v["request"]["data"]["data"]["password"], "hunter2");
    }

    #[test]
    fn options_and_elision() {
        let opts = |pairs: &[(&str, &str)]| {
            FormatOptions::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        assert!(opts(&[("format", "jsonx")])
            .unwrap_err()
            .contains("jsonx formatting has been removed"));
        assert_eq!(opts(&[("format", "xml")]).unwrap_err(), "unknown format type \"xml\"");
        assert_eq!(
            opts(&[("log_raw", "yes")]).unwrap_err(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert!(!opts(&[("hmac_accessor", "F")]).unwrap().hmac_accessor);
        let data = json!({"keys": ["a", "b"], "key_info": {"a": {}}})
            .as_object()
            .cloned()
            .unwrap();
        let elided = hashed_data(&data, &[], true, None);
        assert_eq!(Value::Object(elided), json!({"keys": 2, "key_info": 1}));
    }
}
