//! The layering rule of the backend SDK, checked on the source: `http` -> `core` -> `logical` <- `builtin`, with
//! `framework` serving `builtin` and `storage` below everything. A backend that reaches into the core, or a core
//! module that names a backend anywhere but the registry, fails here.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::<module>` references in a file's code (its unit tests excluded: they may reach anywhere).
fn references(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("read source");
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let module: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !module.is_empty() {
                out.push((n + 1, module));
            }
        }
        // `use crate::{a, b}` groups.
        if let Some(group) = line.strip_prefix("use crate::{") {
            for item in group.split(',') {
                let module: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() {
                    out.push((n + 1, module));
                }
            }
        }
    }
    out
}

/// Every reference from files under `src/<layer>` to a module in `forbidden`, as `file:line -> module`.
fn violations(layer: &str, forbidden: &[&str], allowed_files: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join(layer), &mut files);
    assert!(!files.is_empty(), "no sources under src/{layer}");
    let mut out = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        if allowed_files.contains(&relative.as_str()) {
            continue;
        }
        for (line, module) in references(&file) {
            if forbidden.contains(&module.as_str()) {
                out.push(format!("src/{relative}:{line} -> crate::{module}"));
            }
        }
    }
    out
}

const ABOVE_LOGICAL: &[&str] = &["core", "auth", "builtin", "http", "server", "cli", "config"];

#[test]
fn backends_see_only_the_sdk() {
    // Within `builtin`, a backend's files use each other; the core and what sits above it are out of reach.
    let outside: Vec<&str> = ABOVE_LOGICAL.iter().copied().filter(|m| *m != "builtin").collect();
    let found = violations("builtin", &outside, &[]);
    assert!(
        found.is_empty(),
        "backends must not import the core:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sdk_does_not_depend_on_the_core_or_backends() {
    for layer in ["logical", "framework"] {
        let found = violations(layer, ABOVE_LOGICAL, &[]);
        assert!(
            found.is_empty(),
            "src/{layer} must stay below the core:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn storage_is_below_everything() {
    let found = violations(
        "storage",
        &[
            "core",
            "auth",
            "builtin",
            "http",
            "server",
            "logical",
            "framework",
            "policy",
        ],
        &[],
    );
    assert!(
        found.is_empty(),
        "storage must not import upper layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_names_backends_only_in_the_registry() {
    let found = violations("core", &["builtin"], &["core/registry.rs"]);
    assert!(
        found.is_empty(),
        "use backends through core::registry:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cli_talks_http_only() {
    // The client reaches a server over HTTP; it may use the policy parser (`policy fmt`) and nothing of the server.
    let found = violations(
        "cli",
        &[
            "core",
            "http",
            "builtin",
            "storage",
            "seal",
            "server",
            "logical",
            "framework",
            "config",
        ],
        &[],
    );
    assert!(found.is_empty(), "the CLI reaches into the server: {found:#?}");
}

#[test]
fn the_checker_sees_a_violation() {
    // The scanner itself: a reference it must report.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("x.rs");
    std::fs::write(
        &file,
        "use crate::core::Core;\nuse crate::{logical, core};\n// crate::core in a comment\n",
    )
    .expect("write");
    let modules: Vec<String> = references(&file).into_iter().map(|(_, m)| m).collect();
    assert_eq!(modules, vec!["core", "logical", "core"]);
}
