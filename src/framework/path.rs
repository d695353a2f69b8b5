//! Declarative path tables, as OpenBao's `framework.Path`: a backend lists its paths (a pattern with named
//! captures, the fields it takes, a handler per operation, an optional existence check, help text) and
//! [`PathTable::handle`] does the routing, the operation check and the field validation once for all of them.
//!
//! Patterns are `/`-separated literals and captures: `{name}` captures one segment that is a name as OpenBao's
//! `GenericNameRegex` allows (word characters, `-` and `.`, starting and ending with a word character), `{*name}`
//! the rest of the path (possibly empty, slashes included), `{+name}` the same but not empty. A rest capture
//! followed by more of the pattern (`mounts/{+path}/tune`) takes the shortest run of whole segments after which the
//! rest matches, as OpenBao's `(?P<path>.+?)/tune`. The first path that matches wins.

use super::fields::{Fields, Schema};
use crate::logical::{BackendFuture, Context, Error, ExistenceFuture, Operation, Request};

/// What a pattern captured, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Captures<'p> {
    values: Vec<(&'static str, &'p str)>,
}

impl<'p> Captures<'p> {
    /// A captured value; empty when the pattern has no such capture.
    pub fn get(&self, name: &str) -> &'p str {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or("")
    }
}

pub type Handler<B> = for<'a> fn(&'a B, &'a Context<'a>, &'a Request, Captures<'a>) -> BackendFuture<'a>;
pub type ExistenceCheck<B> = for<'a> fn(&'a B, &'a Context<'a>, &'a Request, Captures<'a>) -> ExistenceFuture<'a>;

/// How the OpenAPI document names a path's operations (OpenBao's `DisplayAttributes` operation hints): an
/// operation's id is `prefix-verb-suffix`, each part falling back as OpenBao's `constructOperationID` does (the
/// prefix to the mount's type, the verb to the operation, the suffix to the path). `per_op` overrides the verb and
/// suffix of single operations (an empty text keeps the path's).
#[derive(Debug, Clone, Copy)]
pub struct Display {
    pub prefix: &'static str,
    pub verb: &'static str,
    pub suffix: &'static str,
    /// (operation, verb, suffix)
    pub per_op: &'static [(Operation, &'static str, &'static str)],
    /// Left out of the document (a catch-all that only answers with a hint, as OpenBao's `Unpublished`).
    pub unpublished: bool,
}

impl Display {
    /// No hints: every part falls back.
    pub const NONE: Display = Display {
        prefix: "",
        verb: "",
        suffix: "",
        per_op: &[],
        unpublished: false,
    };

    pub const fn new(prefix: &'static str, verb: &'static str, suffix: &'static str) -> Display {
        Display {
            prefix,
            verb,
            suffix,
            per_op: &[],
            unpublished: false,
        }
    }
}

/// One path of a backend. `H` is the handler type: a [`logical::Backend`](crate::logical::Backend)'s by default;
/// a backend of the core (the token store) calls its handlers with more than a [`Context`] and names its own.
pub struct PathSpec<B: 'static, H: 'static = Handler<B>> {
    pub pattern: &'static str,
    pub fields: Schema,
    pub operations: &'static [(Operation, H)],
    pub existence: Option<ExistenceCheck<B>>,
    pub help: &'static str,
    pub display: Display,
}

/// OpenBao's `GenericNameRegex`: `\w([\w-.]*\w)?` with ASCII word characters.
fn is_generic_name(segment: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (segment.chars().next(), segment.chars().last()) else {
        return false;
    };
    word(first) && word(last) && segment.chars().all(|c| word(c) || c == '-' || c == '.')
}

/// Match `path` against `pattern`.
pub fn match_pattern<'p>(pattern: &'static str, path: &'p str) -> Option<Captures<'p>> {
    // Most patterns of a table start with a literal another path does not: refuse those on the first byte.
    if let (Some(&p), Some(&first)) = (pattern.as_bytes().first(), path.as_bytes().first()) {
        if p != b'{' && p != first {
            return None;
        }
    }
    let mut captures = Captures::default();
    match_parts(pattern.split('/'), path, &mut captures).then_some(captures)
}

/// A rest capture (`{*name}`, or `{+name}` when it must not be empty) of a pattern part.
fn rest_capture(part: &'static str) -> Option<(&'static str, bool)> {
    let inner = part.strip_prefix('{')?.strip_suffix('}')?;
    match (inner.strip_prefix('*'), inner.strip_prefix('+')) {
        (Some(name), _) => Some((name, false)),
        (_, Some(name)) => Some((name, true)),
        _ => None,
    }
}

/// Match the pattern parts left (`parts`) against the path left (`rest`), without allocating.
fn match_parts<'p>(mut parts: std::str::Split<'static, char>, rest: &'p str, captures: &mut Captures<'p>) -> bool {
    let Some(part) = parts.next() else {
        return false;
    };
    let last = parts.clone().next().is_none();
    if let Some((name, non_empty)) = rest_capture(part) {
        if last {
            if non_empty && rest.is_empty() {
                return false;
            }
            captures.values.push((name, rest));
            return true;
        }
        // Followed by more of the pattern: the shortest capture (whole segments) after which the rest matches, as
        // OpenBao's `(?P<name>.+?)/tune`.
        let start = captures.values.len();
        for (i, _) in rest.match_indices('/') {
            if non_empty && i == 0 {
                continue;
            }
            captures.values.truncate(start);
            captures.values.push((name, &rest[..i]));
            if match_parts(parts.clone(), &rest[i + 1..], captures) {
                return true;
            }
        }
        captures.values.truncate(start);
        return false;
    }
    let (segment, after) = match rest.split_once('/') {
        Some((segment, after)) if !last => (segment, Some(after)),
        _ if last => (rest, None),
        _ => return false,
    };
    match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(name) if is_generic_name(segment) => captures.values.push((name, segment)),
        Some(_) => return false,
        None if segment == part => {}
        None => return false,
    }
    match after {
        Some(after) => match_parts(parts, after, captures),
        None => true,
    }
}

/// A backend's paths, in the order they are tried.
pub struct PathTable<B: 'static, H: 'static = Handler<B>> {
    pub paths: &'static [PathSpec<B, H>],
}

impl<B: 'static, H: Copy + 'static> PathTable<B, H> {
    /// The first path whose pattern matches `path`, and what it captured.
    pub fn find<'p>(&self, path: &'p str) -> Option<(&'static PathSpec<B, H>, Captures<'p>)> {
        self.paths
            .iter()
            .find_map(|spec| match_pattern(spec.pattern, path).map(|c| (spec, c)))
    }

    /// Route a request to its handler: the checks of [`handle`](PathTable::handle) (a write to a folder, an
    /// unknown path, an operation the path does not declare, fields that do not decode), without calling it.
    pub fn route<'p>(&self, operation: Operation, path: &'p str, req: &Request) -> Result<Routed<'p, H>, Error> {
        super::fields::refuse_write_to_folder(operation, &req.path)?;
        let (spec, captures) = self.find(path).ok_or(Error::UnsupportedPath)?;
        let handler = spec
            .operations
            .iter()
            .find(|(op, _)| *op == operation)
            .map(|(_, h)| *h)
            .ok_or(Error::UnsupportedOperation)?;
        Fields::new(&req.data, spec.fields).validate(true)?;
        Ok(Routed {
            handler,
            captures,
            fields: spec.fields,
        })
    }

    /// The help text of the path serving `path`.
    pub fn help(&self, path: &str) -> Option<&'static str> {
        self.find(path).map(|(spec, _)| spec.help)
    }
}

/// What [`PathTable::route`] found: the handler to call, what the pattern captured and the path's fields.
pub struct Routed<'p, H> {
    pub handler: H,
    pub captures: Captures<'p>,
    pub fields: Schema,
}

impl<B: Sync + 'static> PathTable<B> {
    /// Route a request: a write to a folder (a path ending in `/`) is refused first, as OpenBao does; a path no pattern matches is OpenBao's "unsupported path", an operation the path does not
    /// declare "unsupported operation"; fields are validated against the path's schema before the handler runs
    /// (with OpenBao's "Field validation failed" prefix).
    pub async fn handle(
        &self,
        backend: &B,
        ctx: &Context<'_>,
        req: &Request,
    ) -> Result<crate::logical::Response, Error> {
        let routed = self.route(req.operation, ctx.path, req)?;
        (routed.handler)(backend, ctx, req, routed.captures).await
    }

    /// The path's existence check, if it has one.
    pub async fn existence(&self, backend: &B, ctx: &Context<'_>, req: &Request) -> Result<Option<bool>, Error> {
        match self.find(ctx.path) {
            Some((spec, captures)) => match spec.existence {
                // OpenBao's existence check validates the fields first (its error without the usual prefix).
                Some(check) => {
                    Fields::new(&req.data, spec.fields).validate(false)?;
                    check(backend, ctx, req, captures).await
                }
                None => Ok(None),
            },
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::match_pattern;

    #[test]
    fn patterns_capture_segments_and_rests() {
        let m = match_pattern("data/{*path}", "data/a/b").unwrap();
        assert_eq!(m.get("path"), "a/b");
        assert_eq!(match_pattern("data/{*path}", "data/").unwrap().get("path"), "");
        assert!(match_pattern("data/{*path}", "metadata/a").is_none());
        assert!(match_pattern("data/{*path}", "data").is_none());
        let m = match_pattern("role/{name}/secret-id", "role/web/secret-id").unwrap();
        assert_eq!(m.get("name"), "web");
        assert!(match_pattern("role/{name}/secret-id", "role//secret-id").is_none());
        assert!(match_pattern("role/{name}/secret-id", "role/a/b/secret-id").is_none());
        assert!(match_pattern("role/{name}", "role/web/x").is_none());
        assert!(match_pattern("users/{name}", "users/b@d").is_none());
        assert!(match_pattern("users/{name}", "users/-x").is_none());
        assert_eq!(
            match_pattern("users/{name}", "users/a.b-c_d").unwrap().get("name"),
            "a.b-c_d"
        );
        assert_eq!(match_pattern("users/{name}", "users/A").unwrap().get("name"), "A");
        assert!(match_pattern("config", "config").is_some());
        assert!(match_pattern("config", "configx").is_none());
        assert_eq!(match_pattern("{*path}", "").unwrap().get("path"), "");
        assert!(match_pattern("auth/{+path}", "auth/").is_none());
        assert_eq!(match_pattern("auth/{+path}", "auth/a/b").unwrap().get("path"), "a/b");
        let m = match_pattern("mounts/{+path}/tune", "mounts/a/b/tune").unwrap();
        assert_eq!(m.get("path"), "a/b");
        assert_eq!(
            match_pattern("mounts/{+path}/tune", "mounts/tune/tune")
                .unwrap()
                .get("path"),
            "tune"
        );
        assert!(match_pattern("mounts/{+path}/tune", "mounts//tune").is_none());
        assert!(match_pattern("mounts/{+path}/tune", "mounts/tune").is_none());
        assert!(match_pattern("mounts/{+path}/tune", "mounts/a/tune/x").is_none());
        let m = match_pattern("locked-users/{+a}/unlock/{+b}", "locked-users/x/y/unlock/p/unlock/q").unwrap();
        assert_eq!((m.get("a"), m.get("b")), ("x/y", "p/unlock/q"));
        assert!(match_pattern("locked-users/{+a}/unlock/{+b}", "locked-users/x/unlock/").is_none());
    }
}
