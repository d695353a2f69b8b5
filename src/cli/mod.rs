//! The `vault` command-line client: the reference CLI's commands (`status`, `read`, `write`, `kv`, `token`, ...)
//! in this binary beside `server`. It talks to a server over HTTP only (never to `crate::core`), parses flags
//! the Go way (see [`flags`]) and prints what OpenBao 2.7.2's `bao` prints, byte for byte where practical:
//! tables, JSON and YAML, "Success! ..." lines, the API's error texts, and its exit codes (0 success, 1 local or
//! usage error, 2 server error, 127 unknown command).

pub mod api;
pub mod args;
pub mod base;
pub mod commands;
pub mod env;
pub mod flags;
pub mod format;
pub mod output;

use std::io::Write;

use base::{Base, Command, Globals};

/// The command table: every client command with its synopsis (one line) and help.
pub fn command_table() -> Vec<Command> {
    commands::all()
}

fn is_global_flag(arg: &str, flag: &str) -> bool {
    arg == format!("-{flag}") || arg == format!("--{flag}")
}

fn global_flag_value<'a>(arg: &'a str, flag: &str) -> Option<&'a str> {
    arg.strip_prefix(&format!("--{flag}="))
        .or_else(|| arg.strip_prefix(&format!("-{flag}=")))
}

/// The reference's `setupEnv`: `-format`, `-detailed` and `-output-curl-string` are seen wherever they are.
fn setup_env(args: &[String]) -> Globals {
    let mut g = Globals::default();
    let mut next_is_format = false;
    let mut have_detailed = false;
    for arg in args {
        if next_is_format {
            next_is_format = false;
            g.format = arg.clone();
            continue;
        }
        if arg == "--" {
            break;
        }
        if is_global_flag(arg, "output-curl-string") {
            g.output_curl = true;
            continue;
        }
        if is_global_flag(arg, "output-policy") {
            g.output_policy = true;
            continue;
        }
        if let Some(v) = global_flag_value(arg, "format") {
            g.format = v.to_string();
        }
        if is_global_flag(arg, "format") {
            next_is_format = true;
        }
        if global_flag_value(arg, "detailed").is_some() {
            // The reference parses the flag's *name* here, so `-detailed=true` leaves it false.
            g.detailed = false;
            have_detailed = true;
        }
        if is_global_flag(arg, "detailed") {
            g.detailed = true;
            have_detailed = true;
        }
    }
    if g.format.is_empty() {
        g.format = env::read("BAO_FORMAT");
    }
    g.format = g.format.to_lowercase();
    if g.format.is_empty() {
        g.format = "table".into();
    }
    if !have_detailed {
        if let Some(v) = env::lookup("BAO_DETAILED").filter(|v| !v.is_empty()) {
            g.detailed = flags::parse_bool(&v).unwrap_or(false);
        }
    }
    g
}

fn write_err(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
}

fn write_out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
}

/// Run the client with the arguments after the program name; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let globals = setup_env(args);
    if !matches!(
        globals.format.as_str(),
        "json" | "table" | "yaml" | "yml" | "pretty" | "raw"
    ) {
        write_err(&format!("Invalid output format: {}\n", globals.format));
        return 1;
    }
    let table = command_table();

    // hashicorp/cli's argument processing: help flags anywhere, flags before the command are an error, the
    // command is the longest known prefix of the leading words.
    let mut is_help = false;
    let mut top_flags = Vec::new();
    let mut subcommand: Option<String> = None;
    let mut sub_args: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            break;
        }
        if arg == "-h" || arg == "-help" || arg == "--help" {
            is_help = true;
            i += 1;
            continue;
        }
        if subcommand.is_none() {
            if (arg == "-v" || arg == "-version" || arg == "--version") && args.len() == 1 {
                subcommand = Some("version".into());
                break;
            }
            if arg.starts_with('-') {
                top_flags.push(arg.clone());
            } else if !arg.is_empty() {
                let mut end = i;
                for v in &args[i..] {
                    if v.contains(' ') || v.is_empty() || v.starts_with('-') {
                        break;
                    }
                    end += 1;
                }
                let words = &args[i..end];
                let mut found = arg.clone();
                let mut consumed = 1;
                for n in (1..=words.len()).rev() {
                    let key = words[..n].join(" ");
                    if table.iter().any(|c| c.name == key) {
                        found = key;
                        consumed = n;
                        break;
                    }
                }
                subcommand = Some(found);
                sub_args = args[i + consumed..].to_vec();
                i += consumed;
                continue;
            }
        }
        i += 1;
    }

    let Some(name) = subcommand else {
        if is_help {
            write_out(&format!("{}\n", base::top_help(&table)));
            return 0;
        }
        write_err(&format!("{}\n", base::top_help(&table)));
        return 127;
    };
    let Some(command) = table.iter().find(|c| c.name == name) else {
        // The help of the nearest parent (the top level when there is none).
        let parent = name.rsplit_once(' ').map(|(p, _)| p.to_string()).unwrap_or_default();
        match table.iter().find(|c| c.name == parent) {
            Some(p) => write_err(&format!("{}\n", base::command_help(p, &table))),
            None => write_err(&format!("{}\n", base::top_help(&table))),
        }
        return 127;
    };
    if is_help {
        write_out(&format!("{}\n", base::command_help(command, &table)));
        return 0;
    }
    if !top_flags.is_empty() {
        write_err(&format!(
            "Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n\n{}\n",
            base::command_help(command, &table)
        ));
        return 1;
    }
    let Some(run) = command.run else {
        // A command group run by itself shows its help.
        write_err(&format!("{}\n", base::command_help(command, &table)));
        return 1;
    };
    let mut base = Base::new(globals.clone());
    if globals.output_curl || globals.output_policy {
        base.ui.hold_errors = true;
    }
    let code = match base.parse(command, &sub_args) {
        Ok(flags) => run(&mut base, flags),
        Err(code) => code,
    };
    if globals.output_curl || globals.output_policy {
        return finish_curl(&mut base, code, globals.output_curl);
    }
    code
}

/// `-output-curl-string` / `-output-policy`: print the request that would have been sent (or the policy it
/// needs) instead of its outcome.
fn finish_curl(base: &mut Base, code: i32, curl: bool) -> i32 {
    let (nothing, unable) = if curl {
        (
            "Could not generate cURL command",
            "Unable to generate cURL string from command\n",
        )
    } else {
        ("Could not generate policy", "Unable to generate policy from command\n")
    };
    if code == 0 {
        write_err(nothing);
        return 1;
    }
    match base.curl_string() {
        Some(curl) => {
            write_out(&format!("{curl}\n"));
            0
        }
        None => {
            if code == 127 {
                return code;
            }
            let held = base.ui.take_held();
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(&held);
            let _ = e.write_all(unable.as_bytes());
            code
        }
    }
}

/// Whether `args` (after the program name) name a client command (as opposed to `server` and the offline tools).
pub fn is_client_invocation(args: &[String]) -> bool {
    let words: Vec<&str> = args.iter().take(3).map(String::as_str).collect();
    !matches!(
        words.as_slice(),
        ["server", ..] | ["operator", "snapshot", "inspect"] | ["operator", "migrate", ..] | ["audit", "verify", ..]
    )
}
