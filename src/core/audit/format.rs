//! Audit entries in OpenBao's JSON form (`audit/format.go`): the same fields, nesting and omissions (Go's
//! `omitempty`), with sensitive values HMAC'd as `hmac-sha256:<hex>` under the device's salt (`hashstructure.go`):
//! client tokens, accessors (unless `hmac_accessor=false`), wrapping tokens, and every string in request and
//! response data except RFC 3339 timestamps and the mount's non-HMAC keys. `log_raw` writes everything in clear.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hmac::Mac;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::AuditedHeaders;
use crate::core::{Operation, Request, Response};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

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
    pub running_version: &'static str,
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
    /// Where a request's entries share their `auth` and `request` parts: the request entry leaves them there and a
    /// response entry with the same parts copies them (not for a login, whose response shows the token issued).
    pub shared: Option<&'a super::SharedParts>,
}

fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn is_empty_slice<T>(s: &&[T]) -> bool {
    s.is_empty()
}
fn is_empty_map<K, V>(m: &&BTreeMap<K, V>) -> bool {
    m.is_empty()
}

/// How many tokens' HMACs a device remembers (then it starts over).
const REMEMBERED_TOKENS: usize = 4096;

/// A device's salt, keyed once: each HMAC then starts from the keyed state instead of hashing the key again. It also
/// remembers the HMACs of recent client tokens and their accessors: every entry of a request repeats them, and
/// applications make many requests with one token.
pub struct SaltHmac {
    mac: HmacSha256,
    /// By accessor (not secret; the token is never kept): the token's HMAC and the accessor's.
    tokens: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
    /// The HMAC of the empty string (many responses hold empty strings).
    empty: String,
}

impl SaltHmac {
    pub fn new(salt: &[u8]) -> Self {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(salt)
            .unwrap_or_else(|_| <HmacSha256 as hmac::KeyInit>::new(&Default::default()));
        let mut key = SaltHmac {
            mac,
            tokens: Default::default(),
            empty: String::new(),
        };
        key.empty = key.compute("");
        key
    }

    /// The HMACs of `token` and of `accessor`. `own_accessor` says the accessor was read from that token's entry
    /// (accessors are unique and never reused), so the pair may be remembered by accessor.
    fn token_pair(&self, token: &str, accessor: &str, own_accessor: bool) -> (String, String) {
        if !own_accessor || accessor.is_empty() {
            return (self.identified(token), self.identified(accessor));
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pair) = tokens.get(accessor) {
            return pair.clone();
        }
        let pair = (self.identified(token), self.identified(accessor));
        if tokens.len() >= REMEMBERED_TOKENS {
            tokens.clear();
        }
        tokens.insert(accessor.to_string(), pair.clone());
        pair
    }

    /// `hmac-sha256:<hex>` of `data` (OpenBao's `GetIdentifiedHMAC`).
    pub fn identified(&self, data: &str) -> String {
        if data.is_empty() {
            return self.empty.clone();
        }
        self.compute(data)
    }

    fn compute(&self, data: &str) -> String {
        const PREFIX: &str = "hmac-sha256:";
        let mut mac = self.mac.clone();
        mac.update(data.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut hex_tag = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(tag, &mut hex_tag);
        let mut out = String::with_capacity(PREFIX.len() + hex_tag.len());
        out.push_str(PREFIX);
        out.extend(hex_tag.iter().map(|b| *b as char));
        out
    }
}

/// `hmac-sha256:<hex>` of `data` under `salt` (OpenBao's `GetIdentifiedHMAC`).
pub fn identified_hmac(salt: &[u8], data: &str) -> String {
    SaltHmac::new(salt).identified(data)
}

/// How strings are written: HMAC'd under the device's salt, or in clear (`log_raw`, or an accessor with
/// `hmac_accessor=false`).
#[derive(Clone, Copy)]
struct Hash<'a>(Option<&'a SaltHmac>);

impl<'a> Hash<'a> {
    fn apply<'s>(self, s: &'s str) -> Cow<'s, str> {
        match self.0 {
            Some(key) => Cow::Owned(key.identified(s)),
            None => Cow::Borrowed(s),
        }
    }

    /// Empty stays empty (and is then omitted).
    fn nonempty<'s>(self, s: &'s str) -> Cow<'s, str> {
        if s.is_empty() {
            Cow::Borrowed("")
        } else {
            self.apply(s)
        }
    }
}

#[derive(Serialize)]
struct PolicyResults {
    allowed: bool,
}

#[derive(Serialize)]
struct AuthOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    client_token: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    accessor: Cow<'a, str>,
    #[serde(skip_serializing_if = "is_empty_str")]
    display_name: &'a str,
    #[serde(skip_serializing_if = "is_empty_slice")]
    policies: &'a [String],
    #[serde(skip_serializing_if = "is_empty_slice")]
    token_policies: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_results: Option<PolicyResults>,
    #[serde(skip_serializing_if = "is_empty_map")]
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_zero")]
    num_uses: i64,
    #[serde(skip_serializing_if = "is_zero")]
    remaining_uses: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    entity_id: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    token_type: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    token_ttl: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    token_issue_time: &'a str,
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
    mount_point: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_type: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_accessor: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_running_version: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_class: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    client_token: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    client_token_accessor: Cow<'a, str>,
    namespace: Namespace,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<HashedData<'a>>,
    #[serde(skip_serializing_if = "is_empty_str")]
    remote_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_port: Option<u16>,
    #[serde(skip_serializing_if = "is_zero")]
    wrap_ttl: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<&'a str, Vec<Cow<'a, str>>>,
}

#[derive(Serialize)]
struct SecretOut<'a> {
    lease_id: &'a str,
}

#[derive(Serialize)]
struct WrapInfoOut<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    ttl: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    token: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    accessor: Cow<'a, str>,
    #[serde(skip_serializing_if = "is_empty_str")]
    creation_time: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    creation_path: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    wrapped_accessor: Cow<'a, str>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthOut<'a>>,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_point: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_type: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_accessor: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_running_plugin_version: &'a str,
    #[serde(skip_serializing_if = "is_empty_str")]
    mount_class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<ResponseData<'a>>,
    #[serde(skip_serializing_if = "is_empty_slice")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_info: Option<WrapInfoOut<'a>>,
}

/// Go's `time.Time.UnmarshalText` accepts it: OpenBao leaves such strings in clear (they were times before the
/// response was turned into JSON).
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20 && b[10] == b'T' && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Request or response data as written: every string below it (not object keys) HMAC'd, except timestamps and
/// values under an ignored key; with `elide`, a listing's `keys` and `key_info` replaced by their lengths. Serialized
/// straight from the data: no copy of the tree is made.
#[derive(Clone, Copy)]
struct HashedData<'a> {
    data: &'a Map<String, Value>,
    ignored: &'a [String],
    elide: bool,
    hash: Option<&'a SaltHmac>,
}

/// One value below [`HashedData`], with the key it sits under.
struct HashedValue<'a> {
    value: &'a Value,
    key: &'a str,
    ignored: &'a [String],
    hash: Option<&'a SaltHmac>,
}

impl Serialize for HashedValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let ignored = self.ignored;
        let hash = self.hash;
        fn child<'v>(
            value: &'v Value,
            key: &'v str,
            ignored: &'v [String],
            hash: Option<&'v SaltHmac>,
        ) -> HashedValue<'v> {
            HashedValue {
                value,
                key,
                ignored,
                hash,
            }
        }
        match (self.value, self.hash) {
            (Value::String(s), Some(key)) if !is_rfc3339(s) && !self.ignored.iter().any(|k| k == self.key) => {
                serializer.serialize_str(&key.identified(s))
            }
            (Value::Array(items), Some(_)) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&child(item, self.key, ignored, hash))?;
                }
                seq.end()
            }
            (Value::Object(map), Some(_)) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    out.serialize_entry(k, &child(v, k, ignored, hash))?;
                }
                out.end()
            }
            (other, _) => other.serialize(serializer),
        }
    }
}

impl Serialize for HashedData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = serializer.serialize_map(Some(self.data.len()))?;
        for (k, v) in self.data {
            match (self.elide, k.as_str(), v) {
                (true, "keys", Value::Array(a)) => out.serialize_entry(k, &a.len())?,
                (true, "key_info", Value::Object(m)) => out.serialize_entry(k, &m.len())?,
                _ => out.serialize_entry(
                    k,
                    &HashedValue {
                        value: v,
                        key: k,
                        ignored: self.ignored,
                        hash: self.hash,
                    },
                )?,
            }
        }
        out.end()
    }
}

/// A response's data, or, for an error with no data, `{"error": <hashed error>}`.
#[derive(Serialize)]
#[serde(untagged)]
enum ResponseData<'a> {
    Data(HashedData<'a>),
    Error { error: Cow<'a, str> },
}

/// The request's client token and accessor as already written in the entry: the `auth` block repeats them, and an
/// HMAC is the costly part of an entry.
struct Known<'a> {
    token: (&'a str, Cow<'a, str>),
    accessor: (&'a str, Cow<'a, str>),
}

impl<'a> Known<'a> {
    fn reuse(known: &(&str, Cow<'a, str>), s: &'a str, hash: Hash) -> Cow<'a, str> {
        if !s.is_empty() && s == known.0 {
            known.1.clone()
        } else {
            hash.nonempty(s)
        }
    }
}

fn auth_out<'a>(auth: &'a AuthView, hash: Hash, hash_accessor: Hash, known: &Known<'a>) -> AuthOut<'a> {
    AuthOut {
        client_token: Known::reuse(&known.token, &auth.client_token, hash),
        accessor: Known::reuse(&known.accessor, &auth.accessor, hash_accessor),
        display_name: &auth.display_name,
        policies: &auth.policies,
        token_policies: &auth.token_policies,
        policy_results: auth.policy_allowed.map(|allowed| PolicyResults { allowed }),
        metadata: &auth.metadata,
        num_uses: auth.num_uses,
        remaining_uses: auth.remaining_uses,
        entity_id: &auth.entity_id,
        token_type: &auth.token_type,
        token_ttl: auth.token_ttl,
        token_issue_time: &auth.token_issue_time,
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

fn wrap_info_out<'a>(info: &'a Value, hash: Hash, hash_accessor: Hash) -> WrapInfoOut<'a> {
    let text = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("");
    WrapInfoOut {
        ttl: info.get("ttl").and_then(Value::as_i64).unwrap_or(0),
        token: hash.nonempty(text("token")),
        accessor: hash_accessor.nonempty(text("accessor")),
        creation_time: text("creation_time"),
        creation_path: text("creation_path"),
        wrapped_accessor: hash_accessor.nonempty(text("wrapped_accessor")),
    }
}

/// The configured request headers, HMAC'd where their setting says so (under the device's salt even with `log_raw`,
/// as OpenBao's `ApplyConfig`).
fn headers_out<'a>(
    req: &'a Request,
    audited: &AuditedHeaders,
    key: &'a SaltHmac,
) -> BTreeMap<&'a str, Vec<Cow<'a, str>>> {
    req.headers
        .iter()
        .filter_map(|(name, values)| {
            let setting = audited.get(name)?;
            let values = values
                .iter()
                .map(|v| {
                    if setting.hmac {
                        Cow::Owned(key.identified(v))
                    } else {
                        Cow::Borrowed(v.as_str())
                    }
                })
                .collect();
            Some((name.as_str(), values))
        })
        .collect()
}

/// One entry, as the line a device writes (prefix, JSON, newline).
pub fn entry_line(
    input: &AuditInput,
    response_entry: bool,
    options: &FormatOptions,
    key: &SaltHmac,
    audited: &AuditedHeaders,
) -> Vec<u8> {
    let mut line = Vec::with_capacity(2048);
    entry_line_sharing(input, response_entry, options, key, audited, None, &mut line);
    line
}

/// [`entry_line`], with the entry's `auth` and `request` parts copied from `shared` when given (as this device
/// wrote them in the request's other entry) instead of formatted again. The line replaces what `line` held (a
/// buffer reused from entry to entry: a new one for each entry made the allocator consolidate its free lists);
/// returns where those parts are in it.
pub fn entry_line_sharing(
    input: &AuditInput,
    response_entry: bool,
    options: &FormatOptions,
    key: &SaltHmac,
    audited: &AuditedHeaders,
    shared: Option<&[u8]>,
    line: &mut Vec<u8>,
) -> std::ops::Range<usize> {
    let hash = Hash((!options.raw).then_some(key));
    let hash_accessor = if options.hmac_accessor { hash } else { Hash(None) };
    let data_hash = hash.0;
    let req = input.req;
    let no_mount = MountView::default();
    let mount = input.mount.unwrap_or(&no_mount);
    let token_clear = req.client_token.as_ref().map_or("", |t| t.as_str());
    let accessor_clear = input.auth.accessor.as_str();
    let known = match hash.0 {
        Some(key) if !token_clear.is_empty() => {
            // Both are this request's token (a login's auth is another's): compared in constant time all the same.
            let own_accessor: bool =
                subtle::ConstantTimeEq::ct_eq(input.auth.client_token.as_bytes(), token_clear.as_bytes()).into();
            let (token, accessor) = key.token_pair(token_clear, accessor_clear, own_accessor);
            let accessor = match hash_accessor.0 {
                Some(_) if !accessor_clear.is_empty() => Cow::Owned(accessor),
                _ => Cow::Borrowed(accessor_clear),
            };
            Known {
                token: (token_clear, Cow::Owned(token)),
                accessor: (accessor_clear, accessor),
            }
        }
        _ => Known {
            token: (token_clear, hash.nonempty(token_clear)),
            accessor: (accessor_clear, hash_accessor.nonempty(accessor_clear)),
        },
    };
    let client_token = known.token.1.clone();
    let client_token_accessor = if client_token.is_empty() {
        Cow::Borrowed("")
    } else {
        known.accessor.1.clone()
    };
    let response_auth = input.response.and_then(|r| r.auth.as_ref()).map(auth_view_of);
    let top_auth = match (&response_auth, input.login && response_entry) {
        (Some(issued), true) => issued,
        _ => input.auth,
    };
    let request = || RequestOut {
        id: &req.id,
        operation: req.operation.as_str(),
        mount_point: &mount.point,
        mount_type: &mount.kind,
        mount_accessor: &mount.accessor,
        mount_running_version: mount.running_version,
        mount_class: mount.class,
        client_token,
        client_token_accessor,
        namespace: Namespace { id: "root" },
        path: &req.path,
        data: (!req.data.is_empty()).then_some(HashedData {
            data: &req.data,
            ignored: &mount.non_hmac_request_keys,
            elide: false,
            hash: data_hash,
        }),
        remote_address: req.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
        remote_port: req.remote_port,
        wrap_ttl: req.wrap_ttl.map_or(0, |t| t.as_secs() as i64),
        headers: if req.headers.is_empty() {
            BTreeMap::new()
        } else {
            headers_out(req, audited, key)
        },
    };
    let response = response_entry.then(|| {
        let resp = input.response;
        let elide = options.elide_list_responses && req.operation == Operation::List;
        let data = match (
            resp.and_then(|r| r.data.as_ref()).filter(|d| !d.is_empty()),
            &input.error,
        ) {
            (Some(data), _) => Some(ResponseData::Data(HashedData {
                data,
                ignored: &mount.non_hmac_response_keys,
                elide,
                hash: data_hash,
            })),
            (None, Some(error)) => Some(ResponseData::Error {
                error: hash.apply(error),
            }),
            (None, None) => None,
        };
        ResponseOut {
            auth: response_auth.as_ref().map(|a| auth_out(a, hash, hash_accessor, &known)),
            mount_point: &mount.point,
            mount_type: &mount.kind,
            mount_accessor: &mount.accessor,
            mount_running_plugin_version: mount.running_version,
            mount_class: mount.class,
            secret: resp
                .filter(|r| !r.lease_id.is_empty())
                .map(|r| SecretOut { lease_id: &r.lease_id }),
            data,
            warnings: resp.map_or(&[][..], |r| &r.warnings[..]),
            wrap_info: resp
                .and_then(|r| r.wrap_info.as_ref())
                .map(|w| wrap_info_out(w, hash, hash_accessor)),
        }
    });
    // The fields in OpenBao's order: time, type, auth, request, response, error.
    line.clear();
    line.extend_from_slice(options.prefix.as_bytes());
    // Go's RFC 3339 with nanoseconds, trailing zeros dropped, as OpenBao writes it (no character to escape).
    line.extend_from_slice(b"{\"time\":\"");
    crate::framework::fields::write_rfc3339_nano(line, crate::framework::fields::now_ns());
    line.extend_from_slice(if response_entry {
        b"\",\"type\":\"response\","
    } else {
        b"\",\"type\":\"request\","
    });
    let parts_start = line.len();
    // Serializing maps of strings and JSON values cannot fail.
    let mut written = Ok(());
    match shared {
        Some(parts) => line.extend_from_slice(parts),
        None => {
            line.extend_from_slice(b"\"auth\":");
            written = written.and(serde_json::to_writer(
                &mut *line,
                &auth_out(top_auth, hash, hash_accessor, &known),
            ));
            line.extend_from_slice(b",\"request\":");
            written = written.and(serde_json::to_writer(&mut *line, &request()));
        }
    }
    let parts = parts_start..line.len();
    if let Some(response) = response {
        line.extend_from_slice(b",\"response\":");
        written = written.and(serde_json::to_writer(&mut *line, &response));
    }
    if let Some(error) = input.error.as_deref().filter(|e| !e.is_empty()) {
        line.extend_from_slice(b",\"error\":");
        written = written.and(serde_json::to_writer(&mut *line, error));
    }
    if written.is_err() {
        line.truncate(options.prefix.len());
    } else {
        line.push(b'}');
    }
    line.push(b'\n');
    parts
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
            remote_port: Some(50000),
            secret: None,
            headers: Default::default(),
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
            shared: None,
        };
        let salt = [7u8; 32];
        let key = SaltHmac::new(&salt);
        let none = AuditedHeaders::new();
        let line = entry_line(&input, true, &options(false, true), &key, &none);
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

        let line = entry_line(&input, false, &options(false, false), &key, &none);
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["auth"]["accessor"], "acc123");
        assert!(v.get("response").is_none());
        let v: Value = serde_json::from_slice(&entry_line(&input, false, &options(true, true), &key, &none)).unwrap();
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
        let elided = HashedData {
            data: &data,
            ignored: &[],
            elide: true,
            hash: None,
        };
        assert_eq!(serde_json::to_value(elided).unwrap(), json!({"keys": 2, "key_info": 1}));
    }
}
