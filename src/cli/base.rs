//! What every command shares: the global flag sets (HTTP options, output options), the client built from them
//! (address, token from the environment or the token helper file, TLS), and the help texts.

use serde_json::Value;

use super::api::{Client, Settings};
use super::env;
use super::flags::{flag, Def, Flags, Kind};
use super::format::{wrap_at_length_with_padding, Ui};

#[derive(Clone, Default)]
pub struct Globals {
    pub format: String,
    pub detailed: bool,
    pub output_curl: bool,
    pub output_policy: bool,
}

/// Flag sets a command takes besides its own.
pub const HTTP: u8 = 1;
pub const FIELD: u8 = 2;
pub const FORMAT: u8 = 4;
pub const DETAILED: u8 = 8;
/// `-format=raw` is accepted (only `read`).
pub const RAW_OK: u8 = 16;

pub type RunFn = fn(&mut Base, Flags) -> i32;

pub struct Command {
    /// Words, space-separated: `kv metadata get`.
    pub name: &'static str,
    pub synopsis: &'static str,
    /// The usage line's arguments and the description (our own words, the reference's structure).
    pub usage: &'static str,
    pub help: &'static str,
    pub sets: u8,
    pub flags: fn() -> Vec<Def>,
    /// None for a group of subcommands.
    pub run: Option<RunFn>,
}

pub fn no_flags() -> Vec<Def> {
    Vec::new()
}

fn http_flags() -> Vec<Def> {
    vec![
        flag("address", Kind::Str, "https://127.0.0.1:8200", "Address of the server.").env("BAO_ADDR"),
        flag("agent-address", Kind::Str, "", "Address of the Agent.").env("BAO_AGENT_ADDR"),
        flag(
            "ca-cert",
            Kind::Str,
            "",
            "Path on the local disk to a single PEM-encoded CA certificate to verify the server's SSL certificate. This takes precedence over -ca-path.",
        )
        .env("BAO_CACERT"),
        flag(
            "ca-path",
            Kind::Str,
            "",
            "Path on the local disk to a directory of PEM-encoded CA certificates to verify the server's SSL certificate.",
        )
        .env("BAO_CAPATH"),
        flag(
            "client-cert",
            Kind::Str,
            "",
            "Path on the local disk to a single PEM-encoded certificate for TLS authentication to the server. If this flag is specified, -client-key is also required.",
        )
        .env("BAO_CLIENT_CERT"),
        flag(
            "client-key",
            Kind::Str,
            "",
            "Path on the local disk to a single PEM-encoded private key matching the client certificate from -client-cert.",
        )
        .env("BAO_CLIENT_KEY"),
        flag(
            "disable-redirects",
            Kind::Bool,
            "false",
            "Disable the default client behavior, which honors a single redirect response from a request.",
        )
        .env("BAO_DISABLE_REDIRECTS"),
        flag(
            "header",
            Kind::Map,
            "",
            "Key-value pair provided as key=value to provide an http header added to any request done by the CLI. Headers starting with 'X-Vault-' are refused. This can be specified multiple times.",
        ),
        flag("mfa", Kind::Slice, "", "Supply MFA credentials as part of X-Vault-MFA header.").env("BAO_MFA"),
        flag(
            "namespace",
            Kind::Str,
            "(not set)",
            "The namespace to use for the command. Accepted for compatibility; this server has the root namespace only. -ns can be used as shortcut.",
        )
        .env("BAO_NAMESPACE"),
        flag("ns", Kind::Str, "(not set)", ""),
        flag(
            "non-interactive",
            Kind::Bool,
            "false",
            "When set true, prevents asking the user for input via the terminal.",
        ),
        flag(
            "output-curl-string",
            Kind::Bool,
            "false",
            "Instead of executing the request, print an equivalent cURL command string and exit.",
        ),
        flag(
            "output-policy",
            Kind::Bool,
            "false",
            "Instead of executing the request, print an example HCL policy that would be required to run this command and exit.",
        ),
        flag("policy-override", Kind::Bool, "false", "Accepted for compatibility (Sentinel policies)."),
        flag(
            "tls-server-name",
            Kind::Str,
            "",
            "Name to use as the SNI host when connecting to the server via TLS.",
        )
        .env("BAO_TLS_SERVER_NAME"),
        flag(
            "tls-skip-verify",
            Kind::Bool,
            "false",
            "Disable verification of TLS certificates. Using this option is highly discouraged as it decreases the security of data transmissions to and from the server.",
        )
        .env("BAO_SKIP_VERIFY"),
        flag("unlock-key", Kind::Str, "", "Key to unlock a namespace API lock."),
        flag(
            "wrap-ttl",
            Kind::Duration,
            "",
            "Wraps the response in a cubbyhole token with the requested TTL. The response is available via the \"vault unwrap\" command. The TTL is specified as a numeric string with suffix like \"30s\" or \"5m\".",
        )
        .env("BAO_WRAP_TTL"),
    ]
}

fn output_flags(sets: u8) -> Vec<Def> {
    let mut out = Vec::new();
    if sets & FIELD != 0 {
        out.push(flag(
            "field",
            Kind::Str,
            "",
            "Print only the field with the given name. Specifying this option will take precedence over other formatting directives. The result will not have a trailing newline making it ideal for piping to other processes.",
        ));
    }
    if sets & FORMAT != 0 {
        out.push(
            flag(
                "format",
                Kind::Str,
                "table",
                "Print the output in the given format. Valid formats are \"table\", \"json\", \"yaml\", or \"pretty\". \"raw\" is allowed for 'vault read' operations only.",
            )
            .env("BAO_FORMAT"),
        );
    }
    if sets & DETAILED != 0 {
        out.push(
            flag(
                "detailed",
                Kind::Bool,
                "false",
                "Enables additional metadata during some operations.",
            )
            .env("BAO_DETAILED"),
        );
    }
    out
}

/// Global flags that may follow positional arguments without a warning (the reference reads them anywhere).
const GLOBAL_FLAGS: &[&str] = &["output-curl-string", "output-policy", "format", "detailed"];

fn flag_warnings(args: &[String]) -> Option<String> {
    let trailing: Vec<&String> = args
        .iter()
        .filter(|a| a.starts_with('-') && a.as_str() != "-")
        .filter(|a| {
            let trimmed = a.trim_start_matches('-');
            let name = trimmed.split_once('=').map(|(n, _)| n).unwrap_or(trimmed);
            !GLOBAL_FLAGS.contains(&name)
        })
        .collect();
    if trailing.is_empty() {
        return None;
    }
    Some(format!(
        "Command flags must be provided before positional arguments. The following arguments will not be parsed as flags: [{}]",
        trailing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    ))
}

pub struct Base {
    pub ui: Ui,
    pub globals: Globals,
    flags_snapshot: Option<FlagValues>,
    client: Option<Client>,
}

/// The shared flags' values, kept for building the client.
#[derive(Clone, Default)]
struct FlagValues {
    address: String,
    ca_cert: String,
    ca_path: String,
    client_cert: String,
    client_key: String,
    tls_skip_verify: bool,
    namespace: String,
    ns: String,
    wrap_ttl_ns: i64,
    headers: Vec<(String, String)>,
    output_curl: bool,
    output_policy: bool,
    pub non_interactive: bool,
}

impl Base {
    pub fn new(globals: Globals) -> Base {
        Base {
            ui: Ui::new(&globals.format),
            globals,
            flags_snapshot: None,
            client: None,
        }
    }

    pub fn format(&self) -> &str {
        &self.globals.format
    }

    /// Parse a command's flags (its own after the shared sets); on error print it and give the exit code.
    pub fn parse(&mut self, command: &Command, args: &[String]) -> Result<Flags, i32> {
        let mut defs = if command.sets & HTTP != 0 {
            http_flags()
        } else {
            Vec::new()
        };
        defs.extend(output_flags(command.sets));
        defs.extend((command.flags)());
        let parsed = Flags::parse(defs, args);
        let rest: &[String] = match &parsed {
            Ok(f) => &f.args,
            Err(_) => &[],
        };
        if let Some(w) = flag_warnings(rest) {
            if self.ui.is_table() {
                self.ui.warn(&w);
            }
        }
        let flags = match parsed {
            Ok(f) => f,
            Err(e) => {
                self.ui.error(&e);
                return Err(1);
            }
        };
        if self.format() == "raw" && command.sets & RAW_OK == 0 {
            self.ui.error("This command does not support the -format=raw option.");
            return Err(1);
        }
        if command.sets & HTTP != 0 {
            let agent = flags.str("agent-address");
            self.flags_snapshot = Some(FlagValues {
                address: if agent.is_empty() { flags.str("address") } else { agent },
                ca_cert: flags.str("ca-cert"),
                ca_path: flags.str("ca-path"),
                client_cert: flags.str("client-cert"),
                client_key: flags.str("client-key"),
                tls_skip_verify: flags.bool("tls-skip-verify"),
                namespace: flags.str("namespace"),
                ns: flags.str("ns"),
                wrap_ttl_ns: flags.duration("wrap-ttl"),
                headers: flags.map("header").into_iter().collect(),
                output_curl: flags.bool("output-curl-string") || self.globals.output_curl,
                output_policy: flags.bool("output-policy") || self.globals.output_policy,
                non_interactive: flags.bool("non-interactive"),
            });
        }
        Ok(flags)
    }

    pub fn non_interactive(&self) -> bool {
        self.flags_snapshot.as_ref().is_some_and(|f| f.non_interactive)
    }

    /// The client without a token (what `login` uses).
    pub fn client_without_token(&mut self) -> Result<&mut Client, String> {
        if self.client.is_none() {
            let f = self.flags_snapshot.clone().unwrap_or_else(|| FlagValues {
                address: env::lookup("BAO_ADDR").unwrap_or_else(|| "https://127.0.0.1:8200".into()),
                ca_cert: env::read("BAO_CACERT"),
                ca_path: env::read("BAO_CAPATH"),
                client_cert: env::read("BAO_CLIENT_CERT"),
                client_key: env::read("BAO_CLIENT_KEY"),
                tls_skip_verify: super::flags::parse_bool(&env::read("BAO_SKIP_VERIFY")).unwrap_or(false),
                namespace: env::lookup("BAO_NAMESPACE").unwrap_or_else(|| "(not set)".into()),
                ns: "(not set)".into(),
                ..Default::default()
            });
            let forbidden: Vec<&str> = f
                .headers
                .iter()
                .filter(|(k, _)| k.starts_with("X-Vault-"))
                .map(|(k, _)| k.as_str())
                .collect();
            if !forbidden.is_empty() {
                return Err(format!(
                    "failed to setup Headers[{}]: Header starting by 'X-Vault-' are for internal usage only",
                    forbidden.join(", ")
                ));
            }
            let namespace = if f.ns != "(not set)" {
                f.ns.clone()
            } else {
                f.namespace.clone()
            };
            let settings = Settings {
                address: f.address.clone(),
                token: None,
                namespace: (namespace != "(not set)").then(|| canonical_namespace(&namespace)),
                wrap_ttl_ns: f.wrap_ttl_ns,
                ca_cert: f.ca_cert.clone(),
                ca_path: f.ca_path.clone(),
                client_cert: f.client_cert.clone(),
                client_key: f.client_key.clone(),
                tls_skip_verify: f.tls_skip_verify,
                output_curl: f.output_curl,
                output_policy: f.output_policy,
                headers: f.headers.clone(),
            };
            let mut client = Client::new(settings)?;
            client.set_token(env::lookup("BAO_TOKEN").filter(|t| !t.is_empty()));
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("set just above"))
    }

    /// The client with the token from the environment, else from the token helper file.
    pub fn client(&mut self) -> Result<&mut Client, String> {
        let client = self.client_without_token()?;
        if client.token().is_none() {
            let token = token_helper_get().map_err(|e| format!("failed to get token from token helper: {e}"))?;
            if !token.is_empty() {
                client.set_token(Some(token));
            }
        }
        Ok(client)
    }

    pub fn curl_string(&self) -> Option<String> {
        self.client.as_ref().and_then(|c| c.curl.clone())
    }

    /// Standard input unless `-non-interactive`.
    pub fn stdin(&self) -> Option<Box<dyn std::io::Read>> {
        if self.non_interactive() {
            Some(Box::new(std::io::empty()))
        } else {
            Some(Box::new(std::io::stdin()))
        }
    }

    /// `key=value` arguments into a JSON object.
    pub fn parse_args_data(&self, args: &[String]) -> Result<serde_json::Map<String, Value>, String> {
        let mut stdin = self.stdin();
        let mut builder = super::args::Builder::new(stdin.as_mut().map(|b| b.as_mut() as &mut dyn std::io::Read));
        builder.add(args)?;
        Ok(builder.result)
    }
}

fn canonical_namespace(ns: &str) -> String {
    let trimmed = ns.trim_start_matches('/');
    if trimmed.is_empty() || trimmed.ends_with('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/")
    }
}

/// Where the token helper keeps the token: `BAO_TOKEN_PATH`/`VAULT_TOKEN_PATH`, else `~/.vault-token`.
pub fn token_helper_path() -> Result<std::path::PathBuf, String> {
    if let Some(p) = env::lookup("BAO_TOKEN_PATH").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(std::path::Path::new(&home).join(".vault-token")),
        None => Err("could not expand home directory: $HOME is not set".into()),
    }
}

pub fn token_helper_get() -> Result<String, String> {
    let path = token_helper_path()?;
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("open {}: {e}", path.display())),
    }
}

/// Store the token (owner-only file, replaced atomically).
pub fn token_helper_store(token: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = token_helper_path()?;
    let tmp = path.with_file_name(format!(
        "{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("open {}: {e}", tmp.display()))?;
    f.write_all(token.as_bytes()).map_err(|e| e.to_string())?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

// Help texts.

fn flag_section(title: &str, defs: &[Def]) -> String {
    let mut out = format!("{title}:\n\n");
    // Sorted by name, as the reference lists them.
    let mut sorted: Vec<&Def> = defs.iter().collect();
    sorted.sort_by_key(|d| d.name);
    for d in sorted {
        if d.usage.is_empty() {
            continue;
        }
        let example = match d.kind {
            Kind::Bool => String::new(),
            Kind::Str => "=<string>".into(),
            Kind::Int => "=<int>".into(),
            Kind::Duration => "=<duration>".into(),
            Kind::Slice => "=<string>".into(),
            Kind::Map => "=<key=value>".into(),
            Kind::PgpKeys => "=<keybase:user1, keybase:user2, ...>".into(),
            Kind::PgpKey => "=<keybase:user>".into(),
        };
        out.push_str(&format!("  -{}{example}\n", d.name));
        let mut usage = d.usage.to_string();
        if !d.default.is_empty() && !matches!(d.kind, Kind::Map | Kind::Slice | Kind::PgpKeys | Kind::PgpKey) {
            usage.push_str(&format!(" The default is {}.", d.default));
        }
        if let Some(var) = d.env {
            let name = var.replacen("BAO_", "VAULT_", 1);
            usage.push_str(&format!(
                " This can also be specified via the {name} environment variable."
            ));
        }
        out.push_str(&wrap_at_length_with_padding(&usage, 6));
        out.push_str("\n\n");
    }
    out
}

pub fn command_help(command: &Command, table: &[Command]) -> String {
    let mut out = format!("Usage: vault {} {}\n\n", command.name, command.usage);
    out.push_str(command.help.trim_end());
    out.push('\n');
    let mut subs: Vec<&Command> = table
        .iter()
        .filter(|c| {
            c.name.starts_with(&format!("{} ", command.name)) && !c.name[command.name.len() + 1..].contains(' ')
        })
        .collect();
    subs.sort_by_key(|c| c.name);
    if !subs.is_empty() {
        out.push_str("\nSubcommands:\n");
        let width = subs
            .iter()
            .map(|c| c.name.len() - command.name.len() - 1)
            .max()
            .unwrap_or(0)
            .max(15);
        for c in subs {
            let short = &c.name[command.name.len() + 1..];
            out.push_str(&format!("    {short:<width$}    {}\n", c.synopsis));
        }
    }
    if command.run.is_some() {
        out.push('\n');
        if command.sets & HTTP != 0 {
            out.push_str(&flag_section("HTTP Options", &http_flags()));
        }
        let output = output_flags(command.sets);
        if !output.is_empty() {
            out.push_str(&flag_section("Output Options", &output));
        }
        let own = (command.flags)();
        if !own.is_empty() {
            out.push_str(&flag_section("Command Options", &own));
        }
    }
    out.trim_end().to_string()
}

const COMMON: &[&str] = &["read", "write", "delete", "list", "login", "server", "status", "unwrap"];

pub fn top_help(table: &[Command]) -> String {
    let mut out = String::from("Usage: vault <command> [args]\n\nCommon commands:\n");
    let synopsis = |name: &str| {
        if name == "server" {
            "Start a server".to_string()
        } else {
            table
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.synopsis.to_string())
                .unwrap_or_default()
        }
    };
    for name in COMMON {
        out.push_str(&format!("    {name:<8}    {}\n", synopsis(name)));
    }
    out.push_str("\nOther commands:\n");
    let mut others: Vec<&str> = table
        .iter()
        .filter(|c| !c.name.contains(' ') && !COMMON.contains(&c.name) && c.name != "version")
        .map(|c| c.name)
        .collect();
    others.sort();
    let width = others.iter().map(|n| n.len()).max().unwrap_or(0);
    for name in others {
        out.push_str(&format!("    {name:<width$}    {}\n", synopsis(name)));
    }
    out.trim_end().to_string()
}
