//! The dependency rules between the library's modules, read from the
//! sources: `outcome` imports neither `execution` nor `report` (only
//! `spec`); `report` never imports `execution`; `reference` imports nothing
//! but `spec::contract` and `spec::tamper`. And nothing prints outside the
//! reporters, the command line and `bench`.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
    {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The module path of a source file under `src/`: `src/outcome/event.rs` → [outcome, event].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts
}

/// Code without comments (line comments and doc comments): links in docs are not imports.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(number, line)| {
            let code = match line.find("//") {
                // A `//` inside a string (a URL) is not a comment; such lines keep everything.
                Some(at) if !line[..at].contains('"') => &line[..at],
                _ => line,
            };
            (number + 1, code.to_string())
        })
        .collect()
}

/// Every crate path a line of `module` names, as full paths from the crate
/// root (`crate::a::b`, `super::...` resolved, `crate::{a, b::c}` expanded):
/// the first two segments of each.
fn crate_paths(module: &[String], line: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut at = 0;
    while at < line.len() {
        let rest = &line[at..];
        let starts_word = at == 0 || !is_ident(bytes[at - 1]);
        let (base, skip): (Vec<String>, usize) = if starts_word && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if starts_word && rest.starts_with("super::") {
            let mut supers = 0;
            let mut cursor = rest;
            while let Some(next) = cursor.strip_prefix("super::") {
                supers += 1;
                cursor = next;
            }
            let keep = module.len().saturating_sub(supers);
            (module[..keep].to_vec(), rest.len() - cursor.len())
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let tail = &rest[skip..];
        let segments: Vec<String> = if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect()
        } else {
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            vec![tail[..end].to_string()]
        };
        for segment in segments {
            let mut path = base.clone();
            path.extend(
                segment
                    .split("::")
                    .filter(|part| !part.is_empty())
                    .map(str::to_string),
            );
            path.truncate(2);
            if !path.is_empty() {
                found.push(path);
            }
        }
        at += skip;
    }
    found
}

/// Imports of the files of `top` that `allowed` refuses: `file:line: path`.
fn forbidden_imports(top: &str, allowed: impl Fn(&[String]) -> bool) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for file in sources(&src.join(top)) {
        let module = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in code_lines(&text) {
            for path in crate_paths(&module, &line) {
                if path.first().is_some_and(|first| first == top) {
                    continue;
                }
                if !allowed(&path) {
                    bad.push(format!(
                        "{}:{number}: {}",
                        file.strip_prefix(&src).unwrap().display(),
                        path.join("::")
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn outcome_imports_only_spec() {
    let bad = forbidden_imports("outcome", |path| path[0] == "spec");
    assert!(
        bad.is_empty(),
        "outcome must import neither execution nor report:\n{}",
        bad.join("\n")
    );
}

#[test]
fn report_never_imports_execution() {
    let bad = forbidden_imports("report", |path| {
        matches!(path[0].as_str(), "outcome" | "spec")
    });
    assert!(
        bad.is_empty(),
        "report imports outcome and spec only:\n{}",
        bad.join("\n")
    );
}

#[test]
fn reference_imports_only_the_contract_and_the_tampers() {
    let bad = forbidden_imports("reference", |path| {
        path == ["spec", "contract"] || path == ["spec", "tamper"]
    });
    assert!(
        bad.is_empty(),
        "reference depends on spec::contract and spec::tamper only:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_checker_sees_every_way_of_naming_a_module() {
    let module = |path: &str| path.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        crate_paths(
            &module("outcome::event"),
            "use crate::execution::client::Client;"
        ),
        [["execution", "client"]]
    );
    assert_eq!(
        crate_paths(
            &module("outcome::event"),
            "use super::super::report::console;"
        ),
        [["report", "console"]]
    );
    assert_eq!(
        crate_paths(&module("outcome"), "use super::execution;"),
        [["execution"]]
    );
    assert_eq!(
        crate_paths(&module("outcome::event"), "use super::trial::TrialRecord;"),
        [["outcome", "trial"]]
    );
    assert_eq!(
        crate_paths(
            &module("report"),
            "use crate::{execution::engine, spec::load};"
        ),
        [["execution", "engine"], ["spec", "load"]]
    );
    assert_eq!(
        crate_paths(
            &module("report"),
            "let x = crate::execution::gate::DEFAULT_JOBS;"
        ),
        [["execution", "gate"]]
    );
    assert!(crate_paths(&module("report"), "let supercrate::x = 1;").is_empty());
    assert_eq!(
        code_lines("use crate::spec; // see crate::execution\n/// [`crate::execution`]")
            .into_iter()
            .map(|(_, line)| line)
            .collect::<Vec<_>>(),
        ["use crate::spec; ", ""]
    );
}

/// Prints the rule still tolerates, by file and count: the property engine
/// (helper C's, issue 11) prints a large-target note and a repro cleanup
/// warning itself; they are to go through `PropertyReport`. No other file,
/// and no more prints in these, may appear.
const KNOWN_PRINTS: &[(&str, usize)] = &[
    ("execution/property/mod.rs", 1),
    ("execution/property/repro.rs", 1),
];

#[test]
fn nothing_prints_outside_the_reporters_the_command_line_and_bench() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for file in sources(&src) {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let allowed = relative == "main.rs"
            || ["cli/", "report/", "bench/"]
                .iter()
                .any(|dir| relative.starts_with(dir));
        // The self-check is its own command; its progress and warnings go to stderr as it runs.
        if allowed || relative.starts_with("selfcheck/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let prints: Vec<String> = code_lines(&text)
            .into_iter()
            .filter(|(_, line)| {
                ["println!", "eprintln!", "print!(", "eprint!("]
                    .iter()
                    .any(|call| line.contains(call))
            })
            .map(|(number, line)| format!("{relative}:{number}: {}", line.trim()))
            .collect();
        let tolerated = KNOWN_PRINTS
            .iter()
            .find(|(known, _)| *known == relative)
            .map_or(0, |(_, count)| *count);
        if prints.len() > tolerated {
            bad.extend(prints);
        }
    }
    assert!(
        bad.is_empty(),
        "the library prints only through reporters:\n{}",
        bad.join("\n")
    );
}
