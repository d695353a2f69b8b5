//! The HTTP side of the CLI: requests as the reference's Go API client sends them (`X-Vault-Request`,
//! `X-Vault-Token`, `X-Vault-Wrap-TTL`, `X-Vault-Namespace`), its error texts ("Error making API request. ..."),
//! its reading of responses into a secret (`api.ParseSecret`), and `-output-curl-string`.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use super::env;
use super::format::go_json_compact;

#[derive(Clone, Default)]
pub struct Settings {
    pub address: String,
    pub token: Option<String>,
    pub namespace: Option<String>,
    /// Nanoseconds; 0 = not asked.
    pub wrap_ttl_ns: i64,
    pub ca_cert: String,
    /// A directory of PEM CA certificates (used when no `ca_cert`).
    pub ca_path: String,
    pub client_cert: String,
    pub client_key: String,
    pub tls_skip_verify: bool,
    pub output_curl: bool,
    /// `-output-policy`: print the policy a request needs instead of sending it.
    pub output_policy: bool,
    pub headers: Vec<(String, String)>,
}

pub struct Client {
    agent: ureq::Agent,
    pub settings: Settings,
    /// Set by `-output-curl-string` when a request would have been sent.
    pub curl: Option<String>,
    /// The preflight requests of `kv` run for real even with `-output-curl-string`.
    pub curl_suspended: bool,
    /// `login` clears the wrapping of its own follow-up requests.
    pub no_wrap: bool,
}

/// How a request failed.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The server answered with an error status.
    Response {
        method: String,
        url: String,
        status: u16,
        errors: Vec<String>,
        raw: bool,
    },
    /// No answer (connection refused, TLS, timeout).
    Transport(String),
    /// `-output-curl-string`: the request was not sent.
    Curl,
    /// Anything else, already worded.
    Other(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Response { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Response {
                method,
                url,
                status,
                errors,
                raw,
            } => {
                let kind = if *raw { "Raw Message" } else { "Errors" };
                write!(
                    f,
                    "Error making API request.\n\nURL: {method} {url}\nCode: {status}. {kind}:\n\n"
                )?;
                if *raw && errors.len() == 1 {
                    write!(f, "{}", errors[0])
                } else {
                    for e in errors {
                        write!(f, "* {e}")?;
                    }
                    Ok(())
                }
            }
            ApiError::Transport(s) | ApiError::Other(s) => f.write_str(s),
            ApiError::Curl => f.write_str("output a cURL command"),
        }
    }
}

/// An answer: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request.
pub struct Request {
    pub method: String,
    /// Path below `/v1/`.
    pub path: String,
    pub params: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
    /// The operation the wrapping lookup sees (`LIST` for a list sent as GET).
    pub operation: String,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            params: Vec::new(),
            body: None,
            headers: Vec::new(),
            operation: method.to_string(),
        }
    }

    pub fn json(mut self, v: &Value) -> Request {
        self.body = Some(go_json_compact(v).into_bytes());
        self
    }

    /// A JSON body whose objects list their fields in a Go struct's order (what the reference's API marshals):
    /// `orders` gives, per object path (`""` for the top, `"config"` for a nested one), the field order; fields
    /// not listed follow, sorted.
    pub fn json_ordered(mut self, v: &Value, orders: &[(&str, &[&str])]) -> Request {
        let mut out = String::new();
        write_ordered(&mut out, v, "", orders);
        self.body = Some(out.into_bytes());
        self
    }

    pub fn param(mut self, k: &str, v: &str) -> Request {
        self.params.push((k.to_string(), v.to_string()));
        self
    }
}

fn write_ordered(out: &mut String, v: &Value, path: &str, orders: &[(&str, &[&str])]) {
    let Value::Object(map) = v else {
        out.push_str(&go_json_compact(v));
        return;
    };
    let order: &[&str] = orders.iter().find(|(p, _)| *p == path).map(|(_, o)| *o).unwrap_or(&[]);
    let mut keys: Vec<&String> = order
        .iter()
        .filter_map(|k| map.get_key_value(*k).map(|(k, _)| k))
        .collect();
    for k in map.keys() {
        if !order.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&go_json_compact(&Value::String((*k).clone())));
        out.push(':');
        let child = if path.is_empty() {
            (*k).clone()
        } else {
            format!("{path}.{k}")
        };
        write_ordered(out, &map[k.as_str()], &child, orders);
    }
    out.push('}');
}

/// `url.PathEscape`-like escaping of a request path (what Go's `URL.String()` shows).
fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `path.Clean`.
pub fn go_path_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let s = out.join("/");
    if rooted {
        format!("/{s}")
    } else if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

/// `url.Values.Encode()`: sorted by key, form-encoded.
pub fn encode_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let enc = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else if b == b' ' {
                out.push('+');
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Go's `net/http` method word in a transport error (`Get`, `Put`, ...).
fn go_op(method: &str) -> String {
    let lower = method.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

impl Client {
    pub fn new(settings: Settings) -> Result<Client, String> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)));
        let mut tls = ureq::tls::TlsConfig::builder();
        let mut custom_tls = false;
        let pem_certs = |pem: &[u8]| -> Vec<ureq::tls::Certificate<'static>> {
            ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect()
        };
        if !settings.ca_cert.is_empty() {
            let pem = std::fs::read(&settings.ca_cert).map_err(|e| {
                format!(
                    "failed to setup TLS config: Error loading CA File: open {}: {}",
                    settings.ca_cert,
                    io_text(&e)
                )
            })?;
            let certs = pem_certs(&pem);
            if certs.is_empty() {
                return Err(format!(
                    "failed to setup TLS config: Error loading CA File: Couldn't parse PEM in: {}",
                    settings.ca_cert
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
            custom_tls = true;
        } else if !settings.ca_path.is_empty() {
            let entries = std::fs::read_dir(&settings.ca_path).map_err(|e| {
                format!(
                    "failed to setup TLS config: Error loading CA Path: open {}: {}",
                    settings.ca_path,
                    io_text(&e)
                )
            })?;
            let mut certs = Vec::new();
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    if let Ok(pem) = std::fs::read(entry.path()) {
                        certs.extend(pem_certs(&pem));
                    }
                }
            }
            if certs.is_empty() {
                return Err(format!(
                    "failed to setup TLS config: Error loading CA Path: no certificates found in {}",
                    settings.ca_path
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
            custom_tls = true;
        }
        if !settings.client_cert.is_empty() || !settings.client_key.is_empty() {
            let read = |p: &str| {
                std::fs::read(p).map_err(|e| format!("failed to setup TLS config: open {p}: {}", io_text(&e)))
            };
            let chain = pem_certs(&read(&settings.client_cert)?);
            let key = ureq::tls::PrivateKey::from_pem(&read(&settings.client_key)?)
                .map_err(|e| format!("failed to setup TLS config: {e}"))?;
            if chain.is_empty() {
                return Err("failed to setup TLS config: tls: failed to find any PEM data in certificate input".into());
            }
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
            custom_tls = true;
        }
        if settings.tls_skip_verify {
            tls = tls.disable_verification(true);
            custom_tls = true;
        }
        if custom_tls {
            config = config.tls_config(tls.build());
        }
        Ok(Client {
            agent: config.build().new_agent(),
            settings,
            curl: None,
            curl_suspended: false,
            no_wrap: false,
        })
    }

    pub fn token(&self) -> Option<&str> {
        self.settings.token.as_deref().filter(|t| !t.is_empty())
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.settings.token = token;
    }

    pub fn url(&self, req: &Request) -> String {
        // The reference joins (and so cleans) the request path: no trailing or doubled slashes, `..` resolved.
        let mut url = format!(
            "{}{}",
            self.settings.address.trim_end_matches('/'),
            escape_path(&go_path_clean(&format!("/v1/{}", req.path)))
        );
        if !req.params.is_empty() {
            url.push('?');
            url.push_str(&encode_query(&req.params));
        }
        url
    }

    /// The wrap TTL the reference's `DefaultWrappingLookupFunc` picks for this operation and path.
    fn wrap_ttl(&self, req: &Request) -> Option<String> {
        if self.no_wrap {
            return None;
        }
        if self.settings.wrap_ttl_ns != 0 {
            return Some(super::flags::go_duration_string(self.settings.wrap_ttl_ns));
        }
        if let Some(v) = env::lookup("BAO_WRAP_TTL").filter(|v| !v.is_empty()) {
            return Some(v);
        }
        if (req.operation == "PUT" || req.operation == "POST") && req.path == "sys/wrapping/wrap" {
            return Some("5m".into());
        }
        None
    }

    fn headers(&self, req: &Request) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.settings.headers {
            headers.push((k.clone(), v.clone()));
        }
        for (k, v) in &req.headers {
            headers.push((k.clone(), v.clone()));
        }
        headers.push(("X-Vault-Request".into(), "true".into()));
        if let Some(t) = self.token() {
            headers.push(("X-Vault-Token".into(), t.to_string()));
        }
        if let Some(ttl) = self.wrap_ttl(req) {
            headers.push(("X-Vault-Wrap-Ttl".into(), ttl));
        }
        if let Some(ns) = self.settings.namespace.as_deref().filter(|n| !n.is_empty()) {
            headers.push(("X-Vault-Namespace".into(), ns.to_string()));
        }
        headers
    }

    /// Send `req`; an error status is an `ApiError::Response` carrying the server's `errors`.
    pub fn raw(&mut self, req: Request) -> Result<Response, ApiError> {
        let resp = self.send(&req)?;
        if (200..400).contains(&resp.status) || (resp.status == 429 && req.path == "sys/health") {
            return Ok(resp);
        }
        Err(response_error(&req.method, &self.url(&req), &resp))
    }

    /// Send `req` and return the answer whatever its status (for callers that look at 404 bodies).
    pub fn send(&mut self, req: &Request) -> Result<Response, ApiError> {
        if let Some(t) = self.token() {
            if !crate::printable::is_printable(t) {
                return Err(ApiError::Other(
                    "configured Vault token contains non-printable characters and cannot be used".into(),
                ));
            }
        }
        let url = self.url(req);
        let headers = self.headers(req);
        if self.settings.output_curl && !self.curl_suspended {
            self.curl = Some(self.curl_string(req, &url, &headers));
            return Err(ApiError::Curl);
        }
        if self.settings.output_policy && !self.curl_suspended {
            self.curl = Some(sample_policy(req));
            return Err(ApiError::Curl);
        }
        let mut builder = ureq::http::Request::builder().method(req.method.as_str()).uri(&url);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if req.body.is_some() && !req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder
            .body(req.body.clone().unwrap_or_default())
            .map_err(|e| ApiError::Other(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| ApiError::Transport(transport_text(&req.method, &url, &e)))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| ApiError::Transport(transport_text(&req.method, &url, &e)))?;
        Ok(Response { status, body })
    }

    fn curl_string(&self, req: &Request, url: &str, headers: &[(String, String)]) -> String {
        let mut s = String::from("curl ");
        if self.settings.tls_skip_verify {
            s.push_str("--insecure ");
        }
        if req.method != "GET" {
            s.push_str(&format!("-X {} ", req.method));
        }
        if !self.settings.ca_cert.is_empty() {
            s.push_str(&format!(
                "--cacert '{}' ",
                self.settings.ca_cert.replace('\'', "'\"'\"'")
            ));
        }
        let mut sorted: Vec<(String, String)> = headers.iter().map(|(k, v)| (canonical_header(k), v.clone())).collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in sorted {
            let v = if k.eq_ignore_ascii_case("x-vault-token") {
                "$(vault print token)".to_string()
            } else {
                v
            };
            s.push_str(&format!("-H \"{k}: {v}\" "));
        }
        if let Some(body) = &req.body {
            if !body.is_empty() {
                s.push_str(&format!(
                    "-d '{}' ",
                    String::from_utf8_lossy(body).replace('\'', "'\"'\"'")
                ));
            }
        }
        s.push_str(&format!("\"{url}\""));
        s
    }

    // The reference API's logical calls: a 404 without data or warnings is "nothing there" (None).

    fn logical(&mut self, req: Request, nil_on_404: bool) -> Result<Option<Secret>, ApiError> {
        let method = req.method.clone();
        let url = self.url(&req);
        let resp = self.send(&req)?;
        if resp.status == 404 {
            let secret = Secret::parse(&resp.body).map_err(ApiError::Other)?;
            match secret {
                Some(s) if s.has_data_or_warnings() => {
                    if nil_on_404 {
                        return Ok(Some(s));
                    }
                    // write/delete: the secret comes back along with the error, which the callers print.
                    return Err(response_error(&method, &url, &resp));
                }
                _ => {
                    if nil_on_404 {
                        return Ok(None);
                    }
                }
            }
        }
        if !(200..400).contains(&resp.status) {
            return Err(response_error(&method, &url, &resp));
        }
        Secret::parse(&resp.body).map_err(ApiError::Other)
    }

    pub fn read(&mut self, path: &str, params: &[(String, String)]) -> Result<Option<Secret>, ApiError> {
        let mut req = Request::new("GET", path);
        req.params = params.to_vec();
        self.logical(req, true)
    }

    pub fn list(&mut self, path: &str) -> Result<Option<Secret>, ApiError> {
        let mut req = Request::new("GET", path).param("list", "true");
        req.operation = "LIST".into();
        self.logical(req, true)
    }

    pub fn write(&mut self, path: &str, data: &Value) -> Result<Option<Secret>, ApiError> {
        let req = Request::new("PUT", path).json(data);
        self.write_request(req)
    }

    /// A write whose 404 may carry a secret (as the reference's `write`, printed after the error).
    pub fn write_request(&mut self, req: Request) -> Result<Option<Secret>, ApiError> {
        self.logical(req, false)
    }

    pub fn merge_patch(&mut self, path: &str, data: &Value) -> Result<Option<Secret>, ApiError> {
        let mut req = Request::new("PATCH", path).json(data);
        req.headers
            .push(("Content-Type".into(), "application/merge-patch+json".into()));
        self.logical(req, false)
    }

    pub fn delete(&mut self, path: &str, params: &[(String, String)]) -> Result<Option<Secret>, ApiError> {
        let mut req = Request::new("DELETE", path);
        req.params = params.to_vec();
        self.logical(req, false)
    }

    /// A `sys/` call answered with a JSON document (not a secret envelope).
    pub fn json(&mut self, req: Request) -> Result<Value, ApiError> {
        let resp = self.raw(req)?;
        if resp.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Other(e.to_string()))
    }

    /// GET `path` into a new owner-only file, streaming; `progress` sees the bytes written so far.
    pub fn download(&mut self, path: &str, file: &str, progress: &mut dyn FnMut(u64)) -> Result<u64, ApiError> {
        use std::io::{Read, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let req = Request::new("GET", path);
        let url = self.url(&req);
        let headers = self.headers(&req);
        if self.settings.output_curl && !self.curl_suspended {
            self.curl = Some(self.curl_string(&req, &url, &headers));
            return Err(ApiError::Curl);
        }
        let mut builder = ureq::http::Request::builder().method("GET").uri(&url);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder.body(()).map_err(|e| ApiError::Other(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| ApiError::Transport(transport_text("GET", &url, &e)))?;
        let status = response.status().as_u16();
        if status >= 400 {
            let body = response.body_mut().read_to_vec().unwrap_or_default();
            return Err(response_error("GET", &url, &Response { status, body }));
        }
        // The file is created only once the server agreed to send a snapshot.
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(file)
            .map_err(|e| ApiError::Other(format!("open {file}: {}", io_text(&e))))?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| ApiError::Transport(format!("reading the snapshot: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| ApiError::Other(e.to_string()))?;
            total += n as u64;
            progress(total);
        }
        out.sync_all().map_err(|e| ApiError::Other(e.to_string()))?;
        Ok(total)
    }

    /// POST a file's contents to `path`, streaming; `progress` sees the bytes sent so far.
    pub fn upload(&mut self, path: &str, file: std::fs::File, progress: &mut dyn FnMut(u64)) -> Result<u64, ApiError> {
        let req = Request::new("POST", path);
        let url = self.url(&req);
        let headers = self.headers(&req);
        if self.settings.output_curl && !self.curl_suspended {
            self.curl = Some(self.curl_string(&req, &url, &headers));
            return Err(ApiError::Curl);
        }
        let mut builder = ureq::http::Request::builder().method("POST").uri(&url);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        struct Counting<'a> {
            inner: std::fs::File,
            total: u64,
            progress: &'a mut dyn FnMut(u64),
        }
        impl std::io::Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.inner.read(buf)?;
                self.total += n as u64;
                (self.progress)(self.total);
                Ok(n)
            }
        }
        let mut counting = Counting {
            inner: file,
            total: 0,
            progress,
        };
        let request = builder
            .body(ureq::SendBody::from_reader(&mut counting))
            .map_err(|e| ApiError::Other(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| ApiError::Transport(transport_text("POST", &url, &e)))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec().unwrap_or_default();
        if status >= 400 {
            return Err(response_error("POST", &url, &Response { status, body }));
        }
        Ok(counting.total)
    }

    pub fn address(&self) -> &str {
        &self.settings.address
    }
}

/// Paths whose policy needs `sudo` (the reference API's list; `*` is one or more characters).
const SUDO_PATHS: &[&str] = &[
    "auth/token/accessors",
    "auth/token/accessors/",
    "pki/root",
    "pki/root/sign-self-issued",
    "sys/audit",
    "sys/audit/*",
    "sys/auth/*",
    "sys/config/auditing/request-headers",
    "sys/config/auditing/request-headers/*",
    "sys/config/cors",
    "sys/config/ui/headers",
    "sys/config/ui/headers/",
    "sys/config/ui/headers/*",
    "sys/leases",
    "sys/leases/lookup",
    "sys/leases/lookup/",
    "sys/leases/lookup/*",
    "sys/leases/revoke-force/*",
    "sys/leases/revoke-prefix/*",
    "sys/plugins/catalog/*",
    "sys/raw",
    "sys/raw/*",
    "sys/remount",
    "sys/revoke-force/*",
    "sys/revoke-prefix/*",
    "sys/rotate",
    "sys/rotate/keyring",
    "sys/rotate/root",
    "sys/internal/inspect/request",
    "sys/internal/inspect/router/*",
];

fn is_sudo_path(path: &str) -> bool {
    SUDO_PATHS.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
        None => path == *p,
    })
}

/// `-output-policy`: the capabilities this request needs on its path, as HCL.
fn sample_policy(req: &Request) -> String {
    let is_list = req
        .params
        .iter()
        .any(|(k, v)| k == "list" && super::flags::parse_bool(v).unwrap_or(false));
    let path = go_path_clean(&format!("/v1/{}", req.path));
    let path = path.trim_start_matches("/v1").trim_start_matches('/').to_string();
    let mut caps: Vec<&str> = match (is_list, req.method.as_str()) {
        (true, _) => vec!["list"],
        (_, "GET") | (_, "") => vec!["read"],
        (_, "POST") | (_, "PUT") => vec!["create", "update"],
        (_, "PATCH") => vec!["patch"],
        (_, "DELETE") => vec!["delete"],
        _ => vec![],
    };
    if is_sudo_path(&path) {
        caps.push("sudo");
    }
    format!("path \"{path}\" {{\n  capabilities = [\"{}\"]\n}}", caps.join("\", \""))
}

fn canonical_header(k: &str) -> String {
    k.split('-')
        .map(|part| {
            let lower = part.to_lowercase();
            let mut c = lower.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub fn response_error(method: &str, url: &str, resp: &Response) -> ApiError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        errors: Option<Vec<String>>,
    }
    let (errors, raw) = match serde_json::from_slice::<ErrorBody>(&resp.body) {
        Ok(b) => (b.errors.unwrap_or_default(), false),
        Err(_) => (vec![String::from_utf8_lossy(&resp.body).into_owned()], true),
    };
    ApiError::Response {
        method: method.to_string(),
        url: url.to_string(),
        status: resp.status,
        errors,
        raw,
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A transport failure worded as Go's `net/http` does (`Get "URL": dial tcp ADDR: connect: connection refused`).
fn transport_text(method: &str, url: &str, e: &ureq::Error) -> String {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let why = match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {host}: connect: connection refused")
        }
        ureq::Error::ConnectionFailed => format!("dial tcp {host}: connect: connection refused"),
        ureq::Error::HostNotFound => format!("dial tcp: lookup {host}: no such host"),
        ureq::Error::Timeout(_) => "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into(),
        other => other.to_string(),
    };
    format!("{} \"{url}\": {why}", go_op(method))
}

/// A response read as the reference's `api.Secret`. Its `Debug` shows no values (tokens, secrets).
#[derive(Clone, Default)]
pub struct Secret {
    pub request_id: String,
    pub lease_id: String,
    pub lease_duration: i64,
    pub renewable: bool,
    /// `Null` when absent.
    pub data: Value,
    /// `Null` when absent.
    pub warnings: Value,
    pub auth: Option<Map<String, Value>>,
    pub wrap_info: Option<Map<String, Value>>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("request_id", &self.request_id)
            .field("lease_duration", &self.lease_duration)
            .field(
                "data_keys",
                &self.data_map().map(|m| m.keys().cloned().collect::<Vec<_>>()),
            )
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("wrap_info", &self.wrap_info.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Secret {
    /// `api.ParseSecret`: empty body → None; a body without any secret field becomes the data itself.
    pub fn parse(body: &[u8]) -> Result<Option<Secret>, String> {
        if body.is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let Value::Object(obj) = value else {
            return Err("json: cannot unmarshal into Go value of type api.Secret".into());
        };
        let mut s = Secret {
            request_id: str_of(obj.get("request_id")),
            lease_id: str_of(obj.get("lease_id")),
            lease_duration: obj.get("lease_duration").and_then(Value::as_i64).unwrap_or(0),
            renewable: obj.get("renewable").and_then(Value::as_bool).unwrap_or(false),
            data: obj.get("data").cloned().filter(Value::is_object).unwrap_or(Value::Null),
            warnings: obj
                .get("warnings")
                .cloned()
                .filter(Value::is_array)
                .unwrap_or(Value::Null),
            auth: obj.get("auth").and_then(Value::as_object).cloned(),
            wrap_info: obj.get("wrap_info").and_then(Value::as_object).cloned(),
        };
        let zero = s.request_id.is_empty()
            && s.lease_id.is_empty()
            && s.lease_duration == 0
            && !s.renewable
            && s.data.is_null()
            && s.warnings.is_null()
            && s.auth.is_none()
            && s.wrap_info.is_none();
        if zero {
            if let Some(errors) = obj.get("errors") {
                if obj.len() == 1 {
                    return Ok(None);
                }
                let list: Vec<String> = errors
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                return Err(list.join(" "));
            }
            if !obj.is_empty() {
                s.data = Value::Object(obj);
            }
        }
        Ok(Some(s))
    }

    pub fn data_map(&self) -> Option<&Map<String, Value>> {
        self.data.as_object()
    }

    pub fn warnings_list(&self) -> Vec<String> {
        self.warnings
            .as_array()
            .map(|a| a.iter().map(|w| w.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    }

    pub fn has_data_or_warnings(&self) -> bool {
        !self.warnings_list().is_empty() || self.data_map().is_some_and(|m| !m.is_empty())
    }

    pub fn auth_str(&self, k: &str) -> String {
        str_of(self.auth.as_ref().and_then(|a| a.get(k)))
    }

    pub fn auth_list(&self, k: &str) -> Vec<String> {
        self.auth
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    pub fn wrap_str(&self, k: &str) -> String {
        str_of(self.wrap_info.as_ref().and_then(|a| a.get(k)))
    }

    pub fn wrap_ttl(&self) -> i64 {
        self.wrap_info
            .as_ref()
            .and_then(|w| w.get("ttl"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// The token a response carries (auth's client token, else data's `id`).
    pub fn token_id(&self) -> String {
        let t = self.auth_str("client_token");
        if !t.is_empty() {
            return t;
        }
        self.data_map()
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// The normalized auth block, in the Go struct's field order.
    fn auth_fields(&self) -> Option<Vec<(&'static str, Value)>> {
        let a = self.auth.as_ref()?;
        let get = |k: &str, default: Value| a.get(k).cloned().unwrap_or(default);
        let metadata = a
            .get("metadata")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or(Value::Null);
        Some(vec![
            ("client_token", get("client_token", Value::from(""))),
            ("accessor", get("accessor", Value::from(""))),
            ("policies", get("policies", Value::Null)),
            ("token_policies", get("token_policies", Value::Null)),
            ("identity_policies", get("identity_policies", Value::Null)),
            ("metadata", metadata),
            ("orphan", get("orphan", Value::Bool(false))),
            ("entity_id", get("entity_id", Value::from(""))),
            ("lease_duration", get("lease_duration", Value::from(0))),
            ("renewable", get("renewable", Value::Bool(false))),
            ("mfa_requirement", get("mfa_requirement", Value::Null)),
        ])
    }

    fn wrap_fields(&self) -> Option<Vec<(&'static str, Value)>> {
        let w = self.wrap_info.as_ref()?;
        let get = |k: &str, default: Value| w.get(k).cloned().unwrap_or(default);
        Some(vec![
            ("token", get("token", Value::from(""))),
            ("accessor", get("accessor", Value::from(""))),
            ("ttl", get("ttl", Value::from(0))),
            (
                "creation_time",
                get("creation_time", Value::from("0001-01-01T00:00:00Z")),
            ),
            ("creation_path", get("creation_path", Value::from(""))),
            ("wrapped_accessor", get("wrapped_accessor", Value::from(""))),
        ])
    }

    /// The secret as the reference marshals it: its fields in the struct's order (`auth` and `wrap_info` only
    /// when present).
    pub fn to_json(&self) -> String {
        let mut fields: Vec<(&str, Value)> = vec![
            ("request_id", Value::from(self.request_id.clone())),
            ("lease_id", Value::from(self.lease_id.clone())),
            ("lease_duration", Value::from(self.lease_duration)),
            ("renewable", Value::Bool(self.renewable)),
            ("data", self.data.clone()),
            ("warnings", self.warnings.clone()),
        ];
        let mut out = String::from("{\n");
        let auth = self.auth_fields().map(|f| super::format::go_json_ordered(&f));
        let wrap = self.wrap_fields().map(|f| super::format::go_json_ordered(&f));
        if let Some(a) = auth {
            fields.push(("auth", Value::String(a)));
        }
        if let Some(w) = wrap {
            fields.push(("wrap_info", Value::String(w)));
        }
        let n = fields.len();
        for (i, (k, v)) in fields.into_iter().enumerate() {
            out.push_str("  \"");
            out.push_str(k);
            out.push_str("\": ");
            if k == "auth" || k == "wrap_info" {
                // Already rendered, one level in.
                let text = v.as_str().unwrap_or_default().replace('\n', "\n  ");
                out.push_str(&text);
            } else {
                out.push_str(&super::format::go_json(&v).replace('\n', "\n  "));
            }
            if i + 1 < n {
                out.push(',');
            }
            out.push('\n');
        }
        out.push('}');
        out
    }

    /// The secret as one JSON value (for YAML, which sorts keys anyway).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("request_id".into(), Value::from(self.request_id.clone()));
        m.insert("lease_id".into(), Value::from(self.lease_id.clone()));
        m.insert("lease_duration".into(), Value::from(self.lease_duration));
        m.insert("renewable".into(), Value::Bool(self.renewable));
        m.insert("data".into(), self.data.clone());
        m.insert("warnings".into(), self.warnings.clone());
        if let Some(a) = self.auth_fields() {
            m.insert(
                "auth".into(),
                Value::Object(a.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            );
        }
        if let Some(w) = self.wrap_fields() {
            m.insert(
                "wrap_info".into(),
                Value::Object(w.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            );
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_secret_like_the_go_api() {
        assert!(Secret::parse(b"").unwrap().is_none());
        assert!(Secret::parse(br#"{"errors":[]}"#).unwrap().is_none());
        let raw = Secret::parse(br#"{"sealed":false,"t":1}"#).unwrap().unwrap();
        assert_eq!(raw.data["sealed"], false);
        let s = Secret::parse(br#"{"request_id":"r","data":{"a":"b"},"warnings":null}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.to_json(),
            "{\n  \"request_id\": \"r\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \"renewable\": false,\n  \"data\": {\n    \"a\": \"b\"\n  },\n  \"warnings\": null\n}"
        );
    }

    #[test]
    fn errors_read_like_the_go_api() {
        let e = response_error(
            "PUT",
            "http://127.0.0.1:8200/v1/secret/data/foo",
            &Response {
                status: 400,
                body: br#"{"errors":["no data provided"]}"#.to_vec(),
            },
        );
        assert_eq!(
            e.to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/secret/data/foo\nCode: 400. Errors:\n\n* no data provided"
        );
    }
}
