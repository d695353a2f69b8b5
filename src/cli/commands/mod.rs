//! The client commands, grouped as the reference groups them.

mod basic;
mod kv;
mod mounts;
mod operator;
mod operator_keys;
mod policy;
mod token;

use serde_json::Value;

use super::api::{ApiError, Client};
use super::base::{Base, Command, RunFn};
use super::flags::Def;

pub fn all() -> Vec<Command> {
    let mut out = Vec::new();
    out.extend(basic::commands());
    out.extend(token::commands());
    out.extend(policy::commands());
    out.extend(kv::commands());
    out.extend(mounts::commands());
    out.extend(operator::commands());
    out.extend(operator_keys::commands());
    out
}

/// A command with its own flags.
pub(crate) fn cmd(
    name: &'static str,
    synopsis: &'static str,
    usage: &'static str,
    help: &'static str,
    sets: u8,
    flags: fn() -> Vec<Def>,
    run: RunFn,
) -> Command {
    Command {
        name,
        synopsis,
        usage,
        help,
        sets,
        flags,
        run: Some(run),
    }
}

/// A group of subcommands.
pub(crate) fn group(name: &'static str, synopsis: &'static str, help: &'static str) -> Command {
    Command {
        name,
        synopsis,
        usage: "<subcommand> [options] [args]",
        help,
        sets: 0,
        flags: super::base::no_flags,
        run: None,
    }
}

/// The client (with its token), or the error printed and `code`.
pub(crate) fn client(b: &mut Base, code: i32) -> Result<&mut Client, i32> {
    match b.client() {
        Ok(_) => {}
        Err(e) => {
            b.ui.error(&e);
            return Err(code);
        }
    }
    Ok(b.client().expect("built just above"))
}

/// `sanitizePath`: no leading or trailing slashes, no surrounding space.
pub(crate) fn sanitize_path(s: &str) -> String {
    s.trim().trim_start_matches('/').trim_end_matches('/').to_string()
}

pub(crate) fn ensure_trailing_slash(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() || s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// `Not enough arguments (expected N, got M)` / `Too many arguments ...` for an exact count.
pub(crate) fn exact_args(b: &mut Base, args: &[String], n: usize) -> Result<(), i32> {
    if args.len() < n {
        b.ui.error(&format!("Not enough arguments (expected {n}, got {})", args.len()));
        return Err(1);
    }
    if args.len() > n {
        b.ui.error(&format!("Too many arguments (expected {n}, got {})", args.len()));
        return Err(1);
    }
    Ok(())
}

pub(crate) fn no_args(b: &mut Base, args: &[String]) -> Result<(), i32> {
    if !args.is_empty() {
        b.ui.error(&format!("Too many arguments (expected 0, got {})", args.len()));
        return Err(1);
    }
    Ok(())
}

/// An error as `context: error` on stderr; the exit code 2.
pub(crate) fn fail(b: &mut Base, context: &str, e: &ApiError) -> i32 {
    b.ui.error(&format!("{context}: {e}"));
    2
}

pub(crate) fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use tri;
