//! `token create/lookup/renew/revoke/capabilities`.

use serde_json::{Map, Value};

use super::{client, cmd, fail, group, tri};
use crate::cli::api::{ApiError, Request, Secret};
use crate::cli::base::{Base, Command, FIELD, FORMAT, HTTP};
use crate::cli::flags::{flag, go_duration_string, Def, Flags, Kind};
use crate::cli::output::{output_data, output_secret, print_raw_field, Data};

pub fn commands() -> Vec<Command> {
    vec![
        group("token", "Interact with tokens", "  This command groups subcommands for interacting with tokens.\n\n      $ vault token create -policy=default\n      $ vault token lookup\n"),
        cmd("token create", "Create a new token", "[options]", "  Creates a new token that can be used for authentication. The token is a child of the token\n  the client authenticates with unless -orphan is given.\n\n      $ vault token create -policy=my-policy -ttl=1h\n", HTTP | FIELD | FORMAT, create_flags, create),
        cmd("token lookup", "Display information about a token", "[options] [TOKEN | ACCESSOR]", "  Displays information about a token or accessor; with no argument, the token the client uses.\n\n      $ vault token lookup\n      $ vault token lookup -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da\n", HTTP | FORMAT, accessor_flag, lookup),
        cmd("token renew", "Renew a token lease", "[options] [TOKEN]", "  Renews a token's lease, extending the amount of time it can be used.\n\n      $ vault token renew -increment=30m 96ddf4bc-d217-f3ba-f9bd-017055595017\n", HTTP | FORMAT, renew_flags, renew),
        cmd("token revoke", "Revoke a token and its children", "[options] [TOKEN | ACCESSOR]", "  Revokes a token and all its children (-mode=orphan keeps the children).\n\n      $ vault token revoke 96ddf4bc-d217-f3ba-f9bd-017055595017\n      $ vault token revoke -self\n", HTTP, revoke_flags, revoke),
        cmd("token capabilities", "Print capabilities of a token on a path", "[options] [TOKEN] PATH", "  Fetches the capabilities of a token for a given path; with one argument, of the token the\n  client uses.\n\n      $ vault token capabilities secret/foo\n", HTTP | FORMAT, super::super::base::no_flags, capabilities),
    ]
}

fn create_flags() -> Vec<Def> {
    vec![
        flag(
            "id",
            Kind::Str,
            "",
            "Value for the token. By default, this is an auto-generated string.",
        ),
        flag("display-name", Kind::Str, "", "Name to associate with this token."),
        flag("ttl", Kind::Duration, "", "Initial TTL to associate with the token."),
        flag(
            "explicit-max-ttl",
            Kind::Duration,
            "",
            "Explicit maximum lifetime for the token.",
        ),
        flag(
            "period",
            Kind::Duration,
            "",
            "If specified, every renewal will use the given period.",
        ),
        flag(
            "renewable",
            Kind::Bool,
            "true",
            "Allow the token to be renewed up to it's maximum TTL.",
        ),
        flag("orphan", Kind::Bool, "false", "Create the token with no parent."),
        flag(
            "no-default-policy",
            Kind::Bool,
            "false",
            "Detach the \"default\" policy from the policy set for this token.",
        ),
        flag("use-limit", Kind::Int, "0", "Number of times this token can be used."),
        flag("role", Kind::Str, "", "Name of the role to create the token against."),
        flag(
            "type",
            Kind::Str,
            "service",
            "The type of token to create. Can be \"service\" or \"batch\".",
        ),
        flag(
            "metadata",
            Kind::Map,
            "",
            "Arbitrary key=value metadata to associate with the token. This can be specified multiple times.",
        ),
        flag(
            "policy",
            Kind::Slice,
            "",
            "Name of a policy to associate with this token. This can be specified multiple times.",
        ),
        flag(
            "entity-alias",
            Kind::Str,
            "",
            "Name of the entity alias to associate with during token creation.",
        ),
    ]
}

fn accessor_flag() -> Vec<Def> {
    vec![flag(
        "accessor",
        Kind::Bool,
        "false",
        "Treat the argument as an accessor instead of a token.",
    )]
}

fn renew_flags() -> Vec<Def> {
    vec![
        flag(
            "accessor",
            Kind::Bool,
            "false",
            "Treat the argument as an accessor instead of a token.",
        ),
        flag(
            "increment",
            Kind::Duration,
            "",
            "Request a specific increment for renewal.",
        )
        .aliases(&["i"]),
    ]
}

fn revoke_flags() -> Vec<Def> {
    vec![
        flag("accessor", Kind::Bool, "false", "Treat the argument as an accessor instead of a token."),
        flag("self", Kind::Bool, "false", "Perform the revocation on the currently authenticated token."),
        flag("mode", Kind::Str, "", "Type of revocation to perform. \"orphan\" revokes the token but keeps its children; \"path\" revokes tokens created at the given path prefix."),
    ]
}

/// A token endpoint that answers a secret (errors as the API reports them).
fn token_call(b: &mut Base, req: Request) -> Result<Option<Secret>, ApiError> {
    let c = b.client().map_err(ApiError::Other)?;
    let resp = c.raw(req)?;
    Secret::parse(&resp.body).map_err(ApiError::Other)
}

fn create(b: &mut Base, f: Flags) -> i32 {
    if !f.args.is_empty() {
        b.ui.error(&format!("Too many arguments (expected 0, got {})", f.args.len()));
        return 1;
    }
    let renewable = f.bool("renewable") && f.str("type") != "batch";
    tri!(client(b, 2));
    // The fields the reference's TokenCreateRequest marshals (durations as Go prints them, "0s" included).
    let mut body = Map::new();
    if !f.str("id").is_empty() {
        body.insert("id".into(), Value::from(f.str("id")));
    }
    let policies = f.slice("policy");
    if !policies.is_empty() {
        body.insert("policies".into(), Value::from(policies));
    }
    let meta = f.map("metadata");
    if !meta.is_empty() {
        body.insert(
            "meta".into(),
            Value::Object(meta.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        );
    }
    body.insert("ttl".into(), Value::from(go_duration_string(f.duration("ttl"))));
    body.insert(
        "explicit_max_ttl".into(),
        Value::from(go_duration_string(f.duration("explicit-max-ttl"))),
    );
    body.insert("period".into(), Value::from(go_duration_string(f.duration("period"))));
    if f.bool("orphan") {
        body.insert("no_parent".into(), Value::Bool(true));
    }
    if f.bool("no-default-policy") {
        body.insert("no_default_policy".into(), Value::Bool(true));
    }
    body.insert("display_name".into(), Value::from(f.str("display-name")));
    body.insert("num_uses".into(), Value::from(f.int("use-limit")));
    body.insert("renewable".into(), Value::Bool(renewable));
    body.insert("type".into(), Value::from(f.str("type")));
    body.insert("entity_alias".into(), Value::from(f.str("entity-alias")));
    let role = f.str("role");
    let path = if role.is_empty() {
        "auth/token/create".to_string()
    } else {
        format!("auth/token/create/{role}")
    };
    const ORDER: &[&str] = &[
        "id",
        "policies",
        "meta",
        "ttl",
        "explicit_max_ttl",
        "period",
        "no_parent",
        "no_default_policy",
        "display_name",
        "num_uses",
        "renewable",
        "type",
        "entity_alias",
    ];
    let req = Request::new("POST", &path).json_ordered(&Value::Object(body), &[("", ORDER)]);
    let secret = match token_call(b, req) {
        Ok(s) => s,
        Err(e) => return fail(b, "Error creating token", &e),
    };
    let secret = secret.unwrap_or_default();
    let field = f.str("field");
    if !field.is_empty() {
        return print_raw_field(&mut b.ui, &secret, &field);
    }
    output_secret(&mut b.ui, &secret)
}

fn lookup(b: &mut Base, f: Flags) -> i32 {
    let accessor = f.bool("accessor");
    let n = f.args.len();
    if accessor && n < 1 {
        b.ui.error(&format!("Not enough arguments with -accessor (expected 1, got {n})"));
        return 1;
    }
    if accessor && n > 1 {
        b.ui.error(&format!("Too many arguments with -accessor (expected 1, got {n})"));
        return 1;
    }
    if n > 1 {
        b.ui.error(&format!("Too many arguments (expected 0-1, got {n})"));
        return 1;
    }
    let token = f.args.first().map(|t| t.trim().to_string()).unwrap_or_default();
    tri!(client(b, 2));
    let req = if token.is_empty() {
        Request::new("GET", "auth/token/lookup-self")
    } else if accessor {
        Request::new("POST", "auth/token/lookup-accessor").json(&serde_json::json!({ "accessor": token }))
    } else {
        Request::new("POST", "auth/token/lookup").json(&serde_json::json!({ "token": token }))
    };
    match token_call(b, req) {
        Ok(s) => output_secret(&mut b.ui, &s.unwrap_or_default()),
        Err(e) => fail(b, "Error looking up token", &e),
    }
}

fn renew(b: &mut Base, f: Flags) -> i32 {
    let token = match f.args.len() {
        0 => String::new(),
        1 => f.args[0].trim().to_string(),
        n => {
            b.ui.error(&format!("Too many arguments (expected 1, got {n})"));
            return 1;
        }
    };
    tri!(client(b, 2));
    let inc = f.duration("increment") / 1_000_000_000;
    let inc = if inc < 1 { 0 } else { inc };
    let req = if token.is_empty() {
        Request::new("PUT", "auth/token/renew-self").json(&serde_json::json!({ "increment": inc }))
    } else if f.bool("accessor") {
        Request::new("POST", "auth/token/renew-accessor")
            .json(&serde_json::json!({ "accessor": token, "increment": inc }))
    } else {
        Request::new("PUT", "auth/token/renew").json(&serde_json::json!({ "token": token, "increment": inc }))
    };
    match token_call(b, req) {
        Ok(s) => output_secret(&mut b.ui, &s.unwrap_or_default()),
        Err(e) => fail(b, "Error renewing token", &e),
    }
}

fn revoke(b: &mut Base, f: Flags) -> i32 {
    let token = f.args.first().map(|t| t.trim().to_string()).unwrap_or_default();
    let mode = f.str("mode");
    let (is_self, accessor) = (f.bool("self"), f.bool("accessor"));
    let n = f.args.len();
    if !matches!(mode.as_str(), "" | "orphan" | "path") {
        b.ui.error(&format!("Invalid mode: {mode}"));
        return 1;
    }
    let usage = if is_self && n > 0 {
        Some(format!("Too many arguments with -self (expected 0, got {n})"))
    } else if !is_self && n > 1 {
        Some(format!("Too many arguments (expected 1 or -self, got {n})"))
    } else if !is_self && n < 1 {
        Some(format!("Not enough arguments (expected 1 or -self, got {n})"))
    } else if is_self && accessor {
        Some("Cannot use -self with -accessor!".into())
    } else if is_self && !mode.is_empty() {
        Some("Cannot use -self with -mode!".into())
    } else if accessor && mode == "orphan" {
        Some("Cannot use -accessor with -mode=orphan!".into())
    } else if accessor && mode == "path" {
        Some("Cannot use -accessor with -mode=path!".into())
    } else {
        None
    };
    if let Some(u) = usage {
        b.ui.error(&u);
        return 1;
    }
    tri!(client(b, 2));
    let req = match (accessor, is_self, mode.as_str()) {
        (false, true, "") => Request::new("PUT", "auth/token/revoke-self"),
        (false, false, "") => Request::new("PUT", "auth/token/revoke").json(&serde_json::json!({ "token": token })),
        (false, false, "orphan") => {
            Request::new("PUT", "auth/token/revoke-orphan").json(&serde_json::json!({ "token": token }))
        }
        (false, false, _) => Request::new("PUT", &format!("sys/leases/revoke-prefix/{token}")),
        _ => Request::new("POST", "auth/token/revoke-accessor").json(&serde_json::json!({ "accessor": token })),
    };
    let c = b.client().expect("built above");
    if let Err(e) = c.raw(req) {
        return fail(b, "Error revoking token", &e);
    }
    b.ui.output("Success! Revoked token (if it existed)");
    0
}

fn capabilities(b: &mut Base, f: Flags) -> i32 {
    let (token, path) = match f.args.len() {
        0 => {
            b.ui.error("Not enough arguments (expected 1-2, got 0)");
            return 1;
        }
        1 => (String::new(), f.args[0].clone()),
        2 => (f.args[0].clone(), f.args[1].clone()),
        n => {
            b.ui.error(&format!("Too many arguments (expected 1-2, got {n})"));
            return 1;
        }
    };
    let c = tri!(client(b, 2));
    // The reference sends the token in the body, its own through the `-self` endpoint.
    let own = c.token().unwrap_or_default().to_string();
    let token = if token.is_empty() { own.clone() } else { token };
    let endpoint = if token == own {
        "sys/capabilities-self"
    } else {
        "sys/capabilities"
    };
    let req = Request::new("POST", endpoint).json(&serde_json::json!({ "path": path, "token": token }));
    let resp = match c.raw(req) {
        Ok(r) => r,
        Err(e) => return fail(b, "Error listing capabilities", &e),
    };
    let data = match Secret::parse(&resp.body) {
        Ok(Some(s)) if s.data_map().is_some() => s.data_map().cloned().unwrap_or_default(),
        Ok(_) => {
            b.ui.error("Error listing capabilities: data from server response is empty");
            return 2;
        }
        Err(e) => {
            b.ui.error(&format!("Error listing capabilities: {e}"));
            return 2;
        }
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut list = strings(data.get(&path));
    if list.is_empty() {
        list = strings(data.get("capabilities"));
    }
    if list.is_empty() && !data.contains_key(&path) && !data.contains_key("capabilities") {
        b.ui.error("No capabilities found");
        return 1;
    }
    let mut caps = list;
    if b.ui.is_table() {
        caps.sort();
        b.ui.output(&caps.join(", "));
        return 0;
    }
    output_data(&mut b.ui, Data::Strings(&caps))
}
