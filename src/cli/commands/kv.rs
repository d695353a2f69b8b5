//! `kv ...`: the K/V commands. The engine's version comes from `sys/internal/ui/mounts/<path>` (a preflight
//! request, as the reference makes it); version 2 paths get their `data/`, `metadata/`, `delete/`, ... prefix.

use serde_json::{Map, Value};

use super::basic::write_output;
use super::{client, cmd, exact_args, fail, group, sanitize_path, tri};
use crate::cli::api::{ApiError, Client, Request, Secret};
use crate::cli::base::{Base, Command, FIELD, FORMAT, HTTP};
use crate::cli::flags::{flag, Def, Flags, Kind};
use crate::cli::output::{output_data, output_secret, print_field_value, print_map_field, print_raw_field, Data};

const MOUNT_USAGE: &str = "Specifies the path where the KV backend is mounted. If specified, the next argument will be interpreted as the secret path. If this flag is not specified, the next argument will be interpreted as the combined mount path and secret path, with /data/ automatically appended between KV v2 secrets.";

fn mount_flag() -> Def {
    flag("mount", Kind::Str, "", MOUNT_USAGE)
}

fn get_flags() -> Vec<Def> {
    vec![
        mount_flag(),
        flag(
            "version",
            Kind::Int,
            "0",
            "If passed, the value at the version number will be returned.",
        ),
    ]
}

fn put_flags() -> Vec<Def> {
    vec![
        flag(
            "cas",
            Kind::Int,
            "-1",
            "Specifies to use a Check-And-Set operation. If not set the write will be allowed. If set to 0 a write will only be allowed if the key doesn't exist. If the index is non-zero the write will only be allowed if the key's current version matches the version specified in the cas parameter.",
        ),
        mount_flag(),
    ]
}

fn patch_flags() -> Vec<Def> {
    vec![
        flag("cas", Kind::Int, "0", "Specifies to use a Check-And-Set operation (the version the key must have)."),
        flag(
            "method",
            Kind::Str,
            "",
            "Specifies which method of patching to use. If set to \"patch\", then an HTTP PATCH request will be issued. If set to \"rw\", then a read will be performed, then a local update, followed by a remote update.",
        ),
        mount_flag(),
        flag("remove-data", Kind::Slice, "", "Key to remove from data. To specify multiple values, specify this flag multiple times."),
    ]
}

fn versions_flags() -> Vec<Def> {
    vec![
        flag(
            "versions",
            Kind::Slice,
            "",
            "Specifies the version numbers (comma-separated or repeated).",
        ),
        mount_flag(),
    ]
}

fn mount_only() -> Vec<Def> {
    vec![mount_flag()]
}

fn rollback_flags() -> Vec<Def> {
    vec![
        flag(
            "version",
            Kind::Int,
            "0",
            "Specifies the version number that should be made current again.",
        ),
        mount_flag(),
    ]
}

fn metadata_put_flags() -> Vec<Def> {
    vec![
        flag("max-versions", Kind::Int, "-1", "The number of versions to keep. If not set, the backend's configured max version is used."),
        flag("cas-required", Kind::Bool, "false", "If true the key will require the cas parameter to be set on all write requests."),
        flag("delete-version-after", Kind::Duration, "-1ns", "Specifies the length of time before a version is deleted."),
        flag("custom-metadata", Kind::Map, "", "Specifies arbitrary version-agnostic key=value metadata meant to describe a secret. This can be specified multiple times to add multiple pieces of metadata."),
        mount_flag(),
    ]
}

fn metadata_patch_flags() -> Vec<Def> {
    let mut f = metadata_put_flags();
    f.insert(
        4,
        flag(
            "remove-custom-metadata",
            Kind::Slice,
            "",
            "Key to remove from custom metadata. To specify multiple values, specify this flag multiple times.",
        ),
    );
    f
}

pub fn commands() -> Vec<Command> {
    vec![
        group(
            "kv",
            "Interact with the Key-Value storage",
            "  This command has subcommands for interacting with the key-value store.\n\n      $ vault kv put -mount=secret foo bar=baz\n      $ vault kv get -mount=secret foo\n      $ vault kv metadata get -mount=secret foo\n      $ vault kv get -mount=secret -version=1 foo\n\n  The path-like syntax (vault kv get secret/foo) works too.\n",
        ),
        cmd("kv get", "Retrieves data from the KV store", "[options] KEY", "  Retrieves the value at the given key.\n\n      $ vault kv get -mount=secret foo\n", HTTP | FIELD | FORMAT, get_flags, kv_get),
        cmd("kv put", "Sets or updates data in the KV store", "[options] KEY [DATA]", "  Writes the data to the given key, replacing what was there (a new version on K/V version 2).\n\n      $ vault kv put -mount=secret foo bar=baz\n", HTTP | FIELD | FORMAT, put_flags, kv_put),
        cmd("kv patch", "Sets or updates data in the KV store without overwriting", "[options] KEY [DATA]", "  Updates some keys of the data at the given key, keeping the others (K/V version 2).\n\n      $ vault kv patch -mount=secret foo bar=baz\n", HTTP | FIELD | FORMAT, patch_flags, kv_patch),
        cmd("kv list", "List data or secrets", "[options] PATH", "  Lists the keys at the given path.\n\n      $ vault kv list -mount=secret my-app/\n", HTTP | FORMAT, mount_only, kv_list),
        cmd("kv delete", "Deletes versions in the KV store", "[options] PATH", "  Deletes the data at the given key (its latest version, or -versions on K/V version 2).\n\n      $ vault kv delete -mount=secret foo\n", HTTP | FIELD | FORMAT, versions_flags, kv_delete),
        cmd("kv undelete", "Undeletes versions in the KV store", "[options] KEY", "  Undeletes the given versions of the key (K/V version 2).\n\n      $ vault kv undelete -mount=secret -versions=3 foo\n", HTTP | FORMAT, versions_flags, kv_undelete),
        cmd("kv destroy", "Permanently removes one or more versions in the KV store", "[options] KEY", "  Permanently removes the given versions of the key (K/V version 2).\n\n      $ vault kv destroy -mount=secret -versions=3 foo\n", HTTP | FORMAT, versions_flags, kv_destroy),
        cmd("kv rollback", "Rolls back to a previous version of data", "[options] KEY", "  Writes the data of an earlier version as the newest version (K/V version 2).\n\n      $ vault kv rollback -mount=secret -version=2 foo\n", HTTP | FORMAT, rollback_flags, kv_rollback),
        group("kv metadata", "Interact with the Key-Value storage metadata", "  This command has subcommands for the metadata of K/V version 2 keys.\n\n      $ vault kv metadata get -mount=secret foo\n"),
        cmd("kv metadata get", "Retrieves key metadata from the KV store", "[options] KEY", "  Retrieves the metadata of the key and its versions.\n\n      $ vault kv metadata get -mount=secret foo\n", HTTP | FORMAT, mount_only, kv_metadata_get),
        cmd("kv metadata put", "Sets or updates key settings in the KV store", "[options] KEY", "  Creates or replaces the metadata settings of the key.\n\n      $ vault kv metadata put -mount=secret -max-versions=5 foo\n", HTTP | FORMAT, metadata_put_flags, kv_metadata_put),
        cmd("kv metadata patch", "Patches key settings in the KV store", "[options] KEY", "  Updates some metadata settings of the key, keeping the others.\n\n      $ vault kv metadata patch -mount=secret -max-versions=5 foo\n", HTTP | FORMAT, metadata_patch_flags, kv_metadata_patch),
        cmd("kv metadata delete", "Deletes all versions and metadata for a key in the KV store", "[options] PATH", "  Deletes every version of the key and its metadata.\n\n      $ vault kv metadata delete -mount=secret foo\n", HTTP, mount_only, kv_metadata_delete),
    ]
}

/// `kvPreflightVersionRequest`: the mount path and version (1 when the endpoint answers 404).
fn preflight(c: &mut Client, path: &str) -> Result<(String, u8), ApiError> {
    let suspended = c.curl_suspended;
    let no_wrap = c.no_wrap;
    c.curl_suspended = true;
    c.no_wrap = true;
    let result = c.raw(Request::new("GET", &format!("sys/internal/ui/mounts/{path}")));
    c.curl_suspended = suspended;
    c.no_wrap = no_wrap;
    let resp = match result {
        Ok(r) => r,
        Err(ApiError::Response { status: 404, .. }) => return Ok((String::new(), 1)),
        Err(e) => return Err(e),
    };
    let secret = Secret::parse(&resp.body)
        .map_err(ApiError::Other)?
        .ok_or_else(|| ApiError::Other("nil response from pre-flight request".into()))?;
    let data = secret.data_map().cloned().unwrap_or_default();
    let mount = data.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
    let version = data
        .get("options")
        .and_then(|o| o.get("version"))
        .and_then(Value::as_str)
        .map(|v| if v == "2" { 2 } else { 1 })
        .unwrap_or(1);
    Ok((mount, version))
}

/// Go's `path.Join` (cleaned, no empty elements).
fn path_join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    crate::cli::api::go_path_clean(&joined)
}

/// `addPrefixToKVPath`.
fn add_prefix(path: &str, mount: &str, prefix: &str, skip_if_exists: bool) -> String {
    if path == mount || path == mount.trim_end_matches('/') {
        return path_join(&[mount, prefix]);
    }
    let mut mount_path = mount.to_string();
    let mut suffix = path.strip_prefix(mount_path.as_str()).unwrap_or(path).to_string();
    while suffix == path {
        let parts: Vec<&str> = mount_path.splitn(2, '/').collect();
        if parts.len() <= 1 || parts[1].is_empty() {
            break;
        }
        mount_path = parts[1].trim_end_matches('/').to_string();
        suffix = suffix.strip_prefix(mount_path.as_str()).unwrap_or(&suffix).to_string();
    }
    if skip_if_exists && (suffix.starts_with(prefix) || suffix.starts_with(&format!("/{prefix}"))) {
        return path_join(&[&mount_path, &suffix]);
    }
    path_join(&[&mount_path, prefix, &suffix])
}

/// What a kv command works on: the mount, whether it is version 2, and the (mount-prefixed) partial path.
struct Target {
    mount: String,
    v2: bool,
    partial: String,
    mount_syntax: bool,
}

fn resolve(b: &mut Base, f: &Flags, arg: &str, trim_only_leading: bool) -> Result<Target, i32> {
    let mount_flag = f.str("mount");
    let mount_syntax = !mount_flag.is_empty();
    let mut partial = if trim_only_leading {
        arg.trim_start_matches('/').to_string()
    } else {
        sanitize_path(arg)
    };
    let c = client(b, 2)?;
    let probe = if mount_syntax {
        sanitize_path(&mount_flag)
    } else {
        partial.clone()
    };
    let (mount, version) = match preflight(c, &probe) {
        Ok(v) => v,
        Err(e) => {
            b.ui.error(&e.to_string());
            return Err(2);
        }
    };
    let v2 = version == 2;
    if mount_syntax && v2 {
        partial = path_join(&[&mount, &partial]);
    }
    Ok(Target {
        mount,
        v2,
        partial,
        mount_syntax,
    })
}

impl Target {
    /// The path a version 1 request goes to.
    fn v1_path(&self) -> String {
        if self.mount_syntax {
            path_join(&[&self.mount, &self.partial])
        } else {
            self.partial.clone()
        }
    }
}

/// `kvReadRequest`: a read where a 404 with data (a deleted version's metadata) still counts.
fn kv_read(c: &mut Client, path: &str, params: &[(String, String)]) -> Result<Option<Secret>, ApiError> {
    let mut req = Request::new("GET", path);
    req.params = params.to_vec();
    let resp = c.send(&req)?;
    if resp.status == 404 {
        let secret = Secret::parse(&resp.body).map_err(ApiError::Other)?;
        return Ok(secret.filter(Secret::has_data_or_warnings));
    }
    if resp.status >= 400 {
        let url = c.url(&req);
        return Err(crate::cli::api::response_error("GET", &url, &resp));
    }
    Secret::parse(&resp.body).map_err(ApiError::Other)
}

fn pad_equal_signs(header: &str, total: usize) -> String {
    let mut n = total as i64 - (header.len() as i64 + 2);
    if n <= 0 {
        n = 4;
    }
    if n % 2 != 0 {
        n += 1;
    }
    let half = "=".repeat((n / 2) as usize);
    format!("{half} {header} {half}")
}

fn header_for_map(header: &str, data: &Map<String, Value>) -> String {
    let max = data.keys().map(|k| k.len()).max().unwrap_or(0);
    pad_equal_signs(header, max + 4 + 5)
}

fn output_path(b: &mut Base, path: &str, title: &str) {
    b.ui.output(&pad_equal_signs(title, path.len()));
    b.ui.output(path);
    b.ui.output("");
}

fn kv_get(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let t = tri!(resolve(b, &f, &f.args[0].clone(), true));
    let mut params = Vec::new();
    let full = if t.v2 {
        if f.int("version") > 0 {
            params.push(("version".to_string(), f.int("version").to_string()));
        }
        add_prefix(&t.partial, &t.mount, "data", false)
    } else {
        t.v1_path()
    };
    let c = b.client().expect("built by resolve");
    let secret = match kv_read(c, &full, &params) {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error reading {full}"), &e),
    };
    let Some(secret) = secret else {
        b.ui.error(&format!("No value found at {full}"));
        return 2;
    };
    let field = f.str("field");
    if !field.is_empty() {
        if t.v2 {
            let data = secret
                .data_map()
                .and_then(|d| d.get("data"))
                .cloned()
                .unwrap_or(Value::Null);
            let Some(dm) = data.as_object() else {
                b.ui.error(&format!("No data found at {full}"));
                return 2;
            };
            if field == "data" {
                if dm.contains_key("data") {
                    return print_map_field(&mut b.ui, dm, &field);
                }
                return print_raw_field(&mut b.ui, &secret, &field);
            }
            return print_map_field(&mut b.ui, dm, &field);
        }
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    if secret.wrap_info.is_some() || !b.ui.is_table() {
        return output_secret(&mut b.ui, &secret);
    }
    crate::cli::output::print_warnings(&mut b.ui, &secret);
    if t.v2 {
        output_path(b, &full, "Secret Path");
    }
    let data = secret.data_map().cloned().unwrap_or_default();
    if let Some(meta) = data.get("metadata").and_then(Value::as_object) {
        b.ui.output(&header_for_map("Metadata", meta));
        output_data(&mut b.ui, Data::Map(meta));
        b.ui.output("");
    }
    let shown = if t.v2 {
        data.get("data").and_then(Value::as_object).cloned()
    } else {
        secret.data_map().cloned()
    };
    if let Some(d) = shown {
        b.ui.output(&header_for_map("Data", &d));
        output_data(&mut b.ui, Data::Map(&d));
    }
    0
}

/// After a version 2 write: the metadata table under the secret's path.
fn output_written(b: &mut Base, full: &str, secret: Option<Secret>, field: &str) -> i32 {
    let Some(secret) = secret else {
        if b.ui.is_table() {
            b.ui.output(&format!("Success! Data written to: {full}"));
        }
        return 0;
    };
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, field);
    }
    if secret.wrap_info.is_some() && secret.wrap_ttl() != 0 {
        return output_secret(&mut b.ui, &secret);
    }
    if b.ui.is_table() {
        output_path(b, full, "Secret Path");
        let meta = secret.data_map().cloned().unwrap_or_default();
        b.ui.output(&header_for_map("Metadata", &meta));
        return output_data(&mut b.ui, Data::Map(&meta));
    }
    output_secret(&mut b.ui, &secret)
}

fn kv_put(b: &mut Base, f: Flags) -> i32 {
    if f.args.is_empty() {
        b.ui.error("Not enough arguments (expected >1, got 0)");
        return 1;
    }
    if f.args.len() == 1 {
        b.ui.error("Must supply data");
        return 1;
    }
    tri!(client(b, 2));
    let data = match b.parse_args_data(&f.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            b.ui.error(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let t = tri!(resolve(b, &f, &f.args[0].clone(), false));
    let (full, body) = if t.v2 {
        let mut options = Map::new();
        if f.int("cas") > -1 {
            options.insert("cas".into(), Value::from(f.int("cas")));
        }
        (
            add_prefix(&t.partial, &t.mount, "data", false),
            super::obj(vec![("data", Value::Object(data)), ("options", Value::Object(options))]),
        )
    } else {
        (t.v1_path(), Value::Object(data))
    };
    let c = b.client().expect("built above");
    let result = c.write(&full, &body);
    match result {
        Err(e) => fail(b, &format!("Error writing data to {full}"), &e),
        Ok(secret) => output_written(b, &full, secret, &f.str("field")),
    }
}

fn kv_patch(b: &mut Base, f: Flags) -> i32 {
    if f.args.is_empty() {
        b.ui.error("Not enough arguments (expected >1, got 0)");
        return 1;
    }
    let remove = f.slice("remove-data");
    if remove.is_empty() && f.args.len() == 1 {
        b.ui.error("Must supply data");
        return 1;
    }
    tri!(client(b, 2));
    let mut data = match b.parse_args_data(&f.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            b.ui.error(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let t = tri!(resolve(b, &f, &f.args[0].clone(), false));
    if !t.v2 {
        b.ui.error("K/V engine mount must be version 2 for patch support");
        return 2;
    }
    let full = add_prefix(&t.partial, &t.mount, "data", false);
    for k in remove {
        data.insert(k, Value::Null);
    }
    let field = f.str("field");
    let method = f.str("method");
    let result = match method.as_str() {
        "rw" => read_then_write(b, &full, data),
        "patch" | "" => {
            let mut options = Map::new();
            if f.int("cas") > 0 {
                options.insert("cas".into(), Value::from(f.int("cas")));
            }
            let body = super::obj(vec![
                ("data", Value::Object(data.clone())),
                ("options", Value::Object(options)),
            ]);
            let c = b.client().expect("built above");
            match c.merge_patch(&full, &body) {
                Ok(s) => Ok(s),
                Err(e) if method.is_empty() && e.status() == Some(405) => read_then_write(b, &full, data),
                Err(e) if method.is_empty() && e.status() == Some(403) => {
                    b.ui.warn(&format!("Data was written to {full} but we recommend that you add the \"patch\" capability to your ACL policy in order to use HTTP PATCH in the future."));
                    read_then_write(b, &full, data)
                }
                Err(e) => Err(fail(b, &format!("Error writing data to {full}"), &e)),
            }
        }
        other => {
            b.ui.error(&format!("Unsupported method provided to -method flag: {other}"));
            return 2;
        }
    };
    match result {
        Err(code) => code,
        Ok(None) => {
            if b.ui.is_table() {
                b.ui.output(&format!("Success! Data written to: {full}"));
            }
            0
        }
        Ok(Some(secret)) => output_written(b, &full, Some(secret), &field),
    }
}

fn read_then_write(b: &mut Base, full: &str, new_data: Map<String, Value>) -> Result<Option<Secret>, i32> {
    let c = b.client().map_err(|_| 2)?;
    let suspended = c.curl_suspended;
    c.curl_suspended = true;
    let read = kv_read(c, full, &[]);
    c.curl_suspended = suspended;
    let secret = match read {
        Ok(s) => s,
        Err(e) => return Err(fail(b, &format!("Error doing pre-read at {full}"), &e)),
    };
    let Some(secret) = secret.filter(|s| !s.data.is_null()) else {
        b.ui.error(&format!("No value found at {full}"));
        return Err(2);
    };
    let d = secret.data_map().cloned().unwrap_or_default();
    let Some(meta) = d.get("metadata").and_then(Value::as_object) else {
        b.ui.error(&format!(
            "No metadata found at {full}; patch only works on existing data"
        ));
        return Err(2);
    };
    let Some(current) = d.get("data").and_then(Value::as_object) else {
        b.ui.error(&format!("No data found at {full}; patch only works on existing data"));
        return Err(2);
    };
    let mut merged = current.clone();
    for (k, v) in new_data {
        merged.insert(k, v);
    }
    let body = super::obj(vec![
        ("data", Value::Object(merged)),
        (
            "options",
            super::obj(vec![("cas", meta.get("version").cloned().unwrap_or(Value::Null))]),
        ),
    ]);
    let c = b.client().map_err(|_| 2)?;
    match c.write(full, &body) {
        Ok(s) => Ok(s),
        Err(e) => Err(fail(b, &format!("Error writing data to {full}"), &e)),
    }
}

fn kv_list(b: &mut Base, f: Flags) -> i32 {
    let mut args = f.args.clone();
    if args.is_empty() {
        if f.str("mount").is_empty() {
            b.ui.error("Not enough arguments (expected 1, got 0)");
            return 1;
        }
        args = vec![String::new()];
    } else if args.len() > 1 {
        b.ui.error(&format!("Too many arguments (expected 1, got {})", args.len()));
        return 1;
    }
    let t = tri!(resolve(b, &f, &args[0], false));
    let full = if t.v2 {
        add_prefix(&t.partial, &t.mount, "metadata", false)
    } else {
        t.v1_path()
    };
    let c = b.client().expect("built by resolve");
    let secret = match c.list(&full) {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error listing {full}"), &e),
    };
    if let Some(s) = &secret {
        if s.wrap_info.is_some() && s.wrap_ttl() != 0 {
            return output_secret(&mut b.ui, s);
        }
    }
    let has_keys = secret
        .as_ref()
        .and_then(|s| s.data_map())
        .and_then(|d| d.get("keys"))
        .is_some_and(Value::is_array);
    if !b.ui.is_table() && !has_keys {
        output_data(&mut b.ui, Data::Map(&Map::new()));
        return 2;
    }
    let Some(secret) = secret.filter(|s| !s.data.is_null()) else {
        b.ui.error(&format!("No value found at {full}"));
        return 2;
    };
    if !has_keys {
        b.ui.error(&format!("No entries found at {full}"));
        return 2;
    }
    crate::cli::output::output_list(&mut b.ui, &secret, false)
}

fn versions(f: &Flags) -> Vec<Value> {
    f.slice("versions")
        .iter()
        .flat_map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .map(Value::String)
        .collect()
}

fn kv_delete(b: &mut Base, f: Flags) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    let t = tri!(resolve(b, &f, &f.args[0].clone(), false));
    let c = b.client().expect("built by resolve");
    let (full, result) = if t.v2 {
        let full = add_prefix(&t.partial, &t.mount, "data", false);
        let versions = versions(&f);
        let result = if versions.is_empty() {
            c.delete(&full, &[])
        } else {
            let path = add_prefix(&t.partial, &t.mount, "delete", false);
            c.write(&path, &super::obj(vec![("versions", Value::Array(versions))]))
        };
        (full, result)
    } else {
        let full = t.v1_path();
        let result = c.delete(&full, &[]);
        (full, result)
    };
    let secret = match result {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error deleting {full}"), &e),
    };
    let Some(secret) = secret else {
        if b.ui.is_table() {
            b.ui.output(&format!("Success! Data deleted (if it existed) at: {full}"));
        }
        return 0;
    };
    let field = f.str("field");
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    output_secret(&mut b.ui, &secret)
}

fn versions_write(b: &mut Base, f: Flags, what: &str, prefix: &str) -> i32 {
    tri!(exact_args(b, &f.args, 1));
    if versions(&f).is_empty() {
        b.ui.error(&format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {what}."
        ));
        return 1;
    }
    // The reference's undelete takes the mount flag as the mount path without joining it to the key.
    let t = if prefix == "undelete" && !f.str("mount").is_empty() {
        let partial = sanitize_path(&f.args[0]);
        let mount = sanitize_path(&f.str("mount"));
        let c = tri!(client(b, 2));
        let v2 = match preflight(c, &mount) {
            Ok((_, v)) => v == 2,
            Err(e) => {
                b.ui.error(&e.to_string());
                return 2;
            }
        };
        Target {
            mount,
            v2,
            partial,
            mount_syntax: true,
        }
    } else {
        tri!(resolve(b, &f, &f.args[0].clone(), false))
    };
    if !t.v2 {
        let cap = format!("{}{}", what[..1].to_uppercase(), &what[1..]);
        b.ui.error(&format!("{cap} not supported on KV Version 1"));
        return 1;
    }
    let path = add_prefix(&t.partial, &t.mount, prefix, false);
    let c = b.client().expect("built above");
    let result = c.write(&path, &super::obj(vec![("versions", Value::Array(versions(&f)))]));
    write_output(b, &path, result, "")
}

fn kv_undelete(b: &mut Base, f: Flags) -> i32 {
    versions_write(b, f, "undelete", "undelete")
}

fn kv_destroy(b: &mut Base, f: Flags) -> i32 {
    versions_write(b, f, "destroy", "destroy")
}

fn kv_rollback(b: &mut Base, f: Flags) -> i32 {
    if f.args.len() != 1 {
        b.ui.error(&format!(
            "Invalid number of arguments (expected 1, got {})",
            f.args.len()
        ));
        return 1;
    }
    if !f.is_set("version") {
        b.ui.error("Version flag must be specified");
        return 1;
    }
    let version = f.int("version");
    if version <= 0 {
        b.ui.error(&format!("Invalid value {version} for the version flag"));
        return 1;
    }
    let t = tri!(resolve(b, &f, &f.args[0].clone(), false));
    if !t.v2 {
        b.ui.error("K/V engine mount must be version 2 for rollback support");
        return 2;
    }
    let full = add_prefix(&t.partial, &t.mount, "data", false);
    let pre_read = |b: &mut Base, params: &[(String, String)]| -> Result<Map<String, Value>, i32> {
        let c = b.client().map_err(|_| 2)?;
        let secret = match kv_read(c, &full, params) {
            Ok(s) => s,
            Err(e) => return Err(fail(b, &format!("Error doing pre-read at {full}"), &e)),
        };
        let Some(d) = secret.and_then(|s| s.data_map().cloned()) else {
            b.ui.error(&format!("No value found at {full}"));
            return Err(2);
        };
        if !d.get("metadata").is_some_and(Value::is_object) {
            b.ui.error(&format!(
                "No metadata found at {full}; rollback only works on existing data"
            ));
            return Err(2);
        }
        Ok(d)
    };
    let current = tri!(pre_read(b, &[]));
    let cas = current["metadata"].get("version").cloned().unwrap_or(Value::Null);
    let old = tri!(pre_read(b, &[("version".to_string(), version.to_string())]));
    let meta = &old["metadata"];
    if meta
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        b.ui.error("Cannot roll back to a version that has been deleted");
        return 2;
    }
    if meta.get("destroyed").and_then(Value::as_bool).unwrap_or(false) {
        b.ui.error("Cannot roll back to a version that has been destroyed");
        return 2;
    }
    let Some(data) = old.get("data").and_then(Value::as_object) else {
        b.ui.error(&format!(
            "No data found at {full}; rollback only works on existing data"
        ));
        return 2;
    };
    let body = super::obj(vec![
        ("data", Value::Object(data.clone())),
        ("options", super::obj(vec![("cas", cas)])),
    ]);
    let c = b.client().expect("built above");
    let result = c.write(&full, &body);
    match result {
        Err(e) => fail(b, &format!("Error writing data to {full}"), &e),
        Ok(None) => {
            if b.ui.is_table() {
                b.ui.output(&format!("Success! Data written to: {full}"));
            }
            0
        }
        Ok(Some(s)) => output_secret(&mut b.ui, &s),
    }
}

fn metadata_target(b: &mut Base, f: &Flags) -> Result<String, i32> {
    exact_args(b, &f.args, 1)?;
    let t = resolve(b, f, &f.args[0].clone(), false)?;
    if !t.v2 {
        b.ui.error("Metadata not supported on KV Version 1");
        return Err(1);
    }
    Ok(add_prefix(&t.partial, &t.mount, "metadata", false))
}

fn kv_metadata_get(b: &mut Base, f: Flags) -> i32 {
    let full = tri!(metadata_target(b, &f));
    let c = b.client().expect("built above");
    let secret = match c.read(&full, &[]) {
        Ok(s) => s,
        Err(e) => return fail(b, &format!("Error reading {full}"), &e),
    };
    let Some(mut secret) = secret else {
        b.ui.error(&format!("No value found at {full}"));
        return 2;
    };
    let field = f.str("field");
    if !field.is_empty() {
        let v = crate::cli::output::raw_field(&secret, &field);
        return print_field_value(&mut b.ui, &v, &field);
    }
    if secret.wrap_info.is_some() || !b.ui.is_table() {
        return output_secret(&mut b.ui, &secret);
    }
    let Some(versions) = secret
        .data_map()
        .and_then(|d| d.get("versions"))
        .and_then(Value::as_object)
        .cloned()
    else {
        b.ui.error(&format!("No value found at {full}"));
        output_secret(&mut b.ui, &secret);
        return 2;
    };
    if let Some(d) = secret.data.as_object_mut() {
        d.remove("versions");
    }
    output_path(b, &full, "Metadata Path");
    let meta = secret.data_map().cloned().unwrap_or_default();
    b.ui.output(&header_for_map("Metadata", &meta));
    output_secret(&mut b.ui, &secret);
    let mut keys: Vec<i64> = Vec::new();
    for k in versions.keys() {
        match k.parse() {
            Ok(n) => keys.push(n),
            Err(_) => {
                b.ui.error(&format!("Error parsing version {k}"));
                return 2;
            }
        }
    }
    keys.sort();
    for v in keys {
        let data = versions[&v.to_string()].as_object().cloned().unwrap_or_default();
        b.ui.output(&format!("\n{}", header_for_map(&format!("Version {v}"), &data)));
        output_data(&mut b.ui, Data::Map(&data));
    }
    0
}

fn metadata_body(f: &Flags, patch: bool) -> Map<String, Value> {
    let mut data = Map::new();
    if f.int("max-versions") >= 0 {
        data.insert("max_versions".into(), Value::from(f.int("max-versions")));
    }
    let cas_required = || Value::Bool(f.bool("cas-required"));
    let delete_after = f.duration("delete-version-after");
    if patch {
        if f.is_set("cas-required") {
            data.insert("cas_required".into(), cas_required());
        }
        if delete_after >= 0 {
            data.insert(
                "delete_version_after".into(),
                Value::from(crate::cli::flags::go_duration_string(delete_after)),
            );
        }
    } else {
        if delete_after >= 0 {
            data.insert(
                "delete_version_after".into(),
                Value::from(crate::cli::flags::go_duration_string(delete_after)),
            );
        }
        if f.is_set("cas-required") {
            data.insert("cas_required".into(), cas_required());
        }
    }
    let custom = f.map("custom-metadata");
    if patch {
        let mut m: Map<String, Value> = custom.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        for k in f.slice("remove-custom-metadata") {
            m.insert(k, Value::Null);
        }
        data.insert("custom_metadata".into(), Value::Object(m));
    } else if !custom.is_empty() {
        data.insert(
            "custom_metadata".into(),
            Value::Object(custom.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        );
    }
    data
}

fn kv_metadata_put(b: &mut Base, f: Flags) -> i32 {
    let full = tri!(metadata_target(b, &f));
    let body = Value::Object(metadata_body(&f, false));
    let c = b.client().expect("built above");
    let result = c.write(&full, &body);
    write_output(b, &full, result, "")
}

fn kv_metadata_patch(b: &mut Base, f: Flags) -> i32 {
    let full = tri!(metadata_target(b, &f));
    let body = Value::Object(metadata_body(&f, true));
    let c = b.client().expect("built above");
    let result = c.merge_patch(&full, &body);
    write_output(b, &full, result, "")
}

fn kv_metadata_delete(b: &mut Base, f: Flags) -> i32 {
    let full = tri!(metadata_target(b, &f));
    let c = b.client().expect("built above");
    if let Err(e) = c.delete(&full, &[]) {
        return fail(b, &format!("Error deleting {full}"), &e);
    }
    b.ui.output(&format!("Success! Data deleted (if it existed) at: {full}"));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_paths_like_the_reference() {
        assert_eq!(add_prefix("secret/foo", "secret/", "data", false), "secret/data/foo");
        assert_eq!(add_prefix("secret", "secret/", "metadata", false), "secret/metadata");
        assert_eq!(add_prefix("secret/a/b", "secret/", "data", false), "secret/data/a/b");
        assert_eq!(add_prefix("kv/x", "kv/", "delete", false), "kv/delete/x");
        assert_eq!(path_join(&["secret/", "foo"]), "secret/foo");
        assert_eq!(pad_equal_signs("Secret Path", 15), "= Secret Path =");
    }
}
