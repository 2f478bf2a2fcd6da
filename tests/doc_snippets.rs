//! Every shell snippet in README.md and docs/*.md pastes and runs.
//!
//! Each ```sh, ```bash or ```shell block is checked with `bash -n`, and for
//! what `bash -n` accepts but a paste breaks: a backslash followed by spaces
//! (it escapes the space, not the newline, so the next line becomes a command
//! of its own), usage synopses (`[--flag]`) and a bare `...` argument. The blocks marked with
//! `<!-- snippet: runs -->` (or `<!-- snippet: runs, exit N -->`) on the line
//! before them also run, in a scratch directory, with `ipdr-conformance` the
//! binary under test: they need only the embedded reference server. Every
//! relative link in those files must name an existing file and heading.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The marker that makes the next shell block run for real.
const RUNS_MARKER: &str = "<!-- snippet: runs";

/// What a runnable snippet may not mention: it would need a real server,
/// the network, a toolchain or a package manager.
const NOT_FOR_RUNNING: [&str; 5] = ["--target", "cargo ", "apt", "curl ", "http"];

/// A fenced shell block of a document.
struct Snippet {
    /// The document, relative to the repository root.
    file: String,
    /// The line of the opening fence, from 1.
    line: usize,
    /// The block's text, without the fences.
    text: String,
    /// `Some(code)` when marked to run, with the exit code the doc promises.
    runs: Option<i32>,
}

impl Snippet {
    fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// README.md and every docs/*.md, relative to the root, in a stable order.
fn documents() -> Vec<String> {
    let mut found = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    found.extend(docs);
    found
}

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap()
}

/// The exit code a marker promises, or why the marker is not understood.
fn parse_marker(marker: &str) -> Result<i32, String> {
    let inner = marker
        .trim()
        .strip_prefix(RUNS_MARKER)
        .and_then(|rest| rest.strip_suffix("-->"))
        .ok_or_else(|| format!("unreadable marker {marker:?}"))?
        .trim();
    if inner.is_empty() {
        return Ok(0);
    }
    inner
        .strip_prefix(", exit ")
        .and_then(|code| code.trim().parse().ok())
        .ok_or_else(|| {
            format!("unreadable marker {marker:?}: write `{RUNS_MARKER} -->` or `{RUNS_MARKER}, exit N -->`")
        })
}

/// Every shell block of `file`, and every problem with its markers.
fn snippets(file: &str, text: &str) -> (Vec<Snippet>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.trim_start().starts_with(RUNS_MARKER) {
            let next = lines.get(index + 1).map(|next| next.trim());
            if !matches!(next, Some("```sh" | "```bash" | "```shell")) {
                problems.push(format!(
                    "{file}:{}: a snippet marker must sit on the line right before a ```sh block",
                    index + 1
                ));
            }
        }
        let Some(language) = line.trim_start().strip_prefix("```") else {
            index += 1;
            continue;
        };
        let opening = index;
        let mut body = Vec::new();
        index += 1;
        while index < lines.len() && !lines[index].trim_start().starts_with("```") {
            body.push(lines[index]);
            index += 1;
        }
        index += 1;
        if !matches!(language.trim(), "sh" | "bash" | "shell") {
            continue;
        }
        let runs = match opening
            .checked_sub(1)
            .map(|before| lines[before])
            .filter(|before| before.trim_start().starts_with(RUNS_MARKER))
        {
            None => None,
            Some(marker) => match parse_marker(marker) {
                Ok(code) => Some(code),
                Err(problem) => {
                    problems.push(format!("{file}:{opening}: {problem}"));
                    None
                }
            },
        };
        found.push(Snippet {
            file: file.to_string(),
            line: opening + 1,
            text: body.join("\n") + "\n",
            runs,
        });
    }
    (found, problems)
}

fn all_snippets() -> (Vec<Snippet>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for file in documents() {
        let (snippets, marker_problems) = snippets(&file, &read(&file));
        found.extend(snippets);
        problems.extend(marker_problems);
    }
    (found, problems)
}

/// A line whose backslash is followed by spaces (and maybe a comment): the
/// backslash escapes a space, so the line continues nowhere.
fn broken_continuation(line: &str) -> bool {
    let Some(at) = line.rfind('\\') else {
        return false;
    };
    let rest = &line[at + 1..];
    let after_spaces = rest.trim_start_matches([' ', '\t']);
    after_spaces.len() < rest.len() && (after_spaces.is_empty() || after_spaces.starts_with('#'))
}

/// A scratch directory of this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("doc-snippets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What is wrong with one snippet as pasted into bash, if anything.
fn paste_problems(snippet: &Snippet, scratch: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (offset, line) in snippet.text.lines().enumerate() {
        let line_number = snippet.line + 1 + offset;
        if broken_continuation(line) {
            problems.push(format!(
                "{}:{line_number}: the backslash is followed by spaces, so it escapes a space, \
                 not the newline, and the next line runs as a command of its own \
                 (move the comment above the command):\n    {line}",
                snippet.file
            ));
        }
        if line.contains("[--") {
            problems.push(format!(
                "{}:{line_number}: `[--...]` is a usage synopsis, not a command \
                 (write the command out, or use a ```text block):\n    {line}",
                snippet.file
            ));
        }
        let code = line.split(" #").next().unwrap_or_default();
        if !code.trim_start().starts_with('#') && code.split_whitespace().any(|word| word == "...")
        {
            problems.push(format!(
                "{}:{line_number}: a bare `...` is passed as an argument when pasted \
                 (write the flags out):\n    {line}",
                snippet.file
            ));
        }
    }
    let script = scratch.join("snippet.sh");
    std::fs::write(&script, &snippet.text).unwrap();
    let output = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    if !output.status.success() {
        problems.push(format!(
            "{}: bash -n refuses the snippet:\n{}",
            snippet.place(),
            String::from_utf8_lossy(&output.stderr).replace(&*script.to_string_lossy(), "snippet")
        ));
    }
    if snippet.runs.is_some() {
        for word in NOT_FOR_RUNNING {
            if snippet.text.contains(word) {
                problems.push(format!(
                    "{}: a snippet marked to run may not mention {word:?}: \
                     it must need only the embedded reference server",
                    snippet.place()
                ));
            }
        }
    }
    problems
}

#[test]
fn every_shell_snippet_pastes_into_bash() {
    let (snippets, mut problems) = all_snippets();
    assert!(
        snippets.len() >= 5,
        "found only {} shell snippets",
        snippets.len()
    );
    let scratch = scratch("syntax");
    for snippet in &snippets {
        for problem in paste_problems(snippet, &scratch) {
            problems.push(format!("{problem}\n  in the snippet:\n{}", snippet.text));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        problems.is_empty(),
        "{} problem(s) with the docs' shell snippets:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// Runs `script` with bash, stopping at the first failing command, with the
/// binary under test first on PATH; kills its process group after `limit`.
fn run_snippet(script: &Path, bin: &Path, work: &Path, limit: Duration) -> (Option<i32>, String) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg("-eo")
        .arg("pipefail")
        .arg(script)
        .current_dir(work)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("IPDR_") || key == "CI" {
            command.env_remove(key);
        }
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    // Drain the pipes on threads so a chatty snippet never blocks.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).ok();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).ok();
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    let shown = format!(
        "stdout (last lines):\n{}\nstderr (last lines):\n{}",
        tail(&stdout),
        tail(&stderr)
    );
    (status.and_then(|status| status.code()), shown)
}

#[test]
fn the_snippets_marked_to_run_run_against_the_embedded_server() {
    let (snippets, _) = all_snippets();
    let runnable: Vec<&Snippet> = snippets
        .iter()
        .filter(|snippet| snippet.runs.is_some())
        .collect();
    assert!(
        runnable.len() >= 3,
        "only {} snippet(s) are marked `{RUNS_MARKER} -->`",
        runnable.len()
    );
    let scratch = scratch("run");
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ipdr-conformance"),
        bin.join("ipdr-conformance"),
    )
    .unwrap();
    let mut problems = Vec::new();
    for (number, snippet) in runnable.iter().enumerate() {
        let work = scratch.join(format!("work-{number}"));
        std::fs::create_dir_all(&work).unwrap();
        let script = scratch.join(format!("snippet-{number}.sh"));
        std::fs::write(&script, &snippet.text).unwrap();
        let expected = snippet.runs.unwrap();
        let (code, shown) = run_snippet(&script, &bin, &work, Duration::from_secs(300));
        if code != Some(expected) {
            let code = code.map_or(
                "no exit code (killed after 300 s, or by a signal)".to_string(),
                |code| format!("exit {code}"),
            );
            problems.push(format!(
                "{}: the doc promises exit {expected}; the snippet gave {code}\n  the snippet:\n{}{shown}",
                snippet.place(),
                snippet.text
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        problems.is_empty(),
        "{} runnable snippet(s) did not do what the docs say:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a document's headings (outside code blocks), duplicates numbered as GitHub does.
fn anchors(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let base = anchor(line.trim_start_matches('#'));
        let mut name = base.clone();
        let mut count = 0;
        while found.contains(&name) {
            count += 1;
            name = format!("{base}-{count}");
        }
        found.push(name);
    }
    found
}

/// Every link target `](...)` of a document outside code blocks, with its line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_code = false;
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push((number + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_relative_link_names_an_existing_file_and_heading() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = read(&file);
        let directory = Path::new(&file).parent().unwrap().to_path_buf();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                PathBuf::from(&file)
            } else {
                directory.join(path)
            };
            let on_disk = Path::new(ROOT).join(&linked);
            if !on_disk.exists() {
                problems.push(format!(
                    "{file}:{line}: ({target}) names {}, which does not exist",
                    linked.display()
                ));
                continue;
            }
            if let Some(fragment) = fragment {
                let headings = anchors(&std::fs::read_to_string(&on_disk).unwrap_or_default());
                if !headings.iter().any(|heading| heading == fragment) {
                    problems.push(format!(
                        "{file}:{line}: ({target}): {} has no heading #{fragment} (it has: {})",
                        linked.display(),
                        headings.join(", ")
                    ));
                }
            }
        }
    }
    assert!(checked >= 10, "found only {checked} relative links");
    assert!(
        problems.is_empty(),
        "{} broken link(s) in README.md and docs/:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_paste_checks_catch_what_bash_n_lets_through() {
    assert!(broken_continuation(
        "  --second-context ipdr2 \\           # optional: another context"
    ));
    assert!(broken_continuation("  --context default \\ "));
    assert!(!broken_continuation("  --context default \\"));
    assert!(!broken_continuation(
        "echo a\\ b  # an escaped space in a word"
    ));
    let placeholder = Snippet {
        file: "doc.md".into(),
        line: 1,
        text:
            "ipdr-conformance run --target URL ... --strict\nexport IPDR_API_TOKEN=...  # a value\n"
                .into(),
        runs: None,
    };
    let scratch = scratch("self-test");
    let problems = paste_problems(&placeholder, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("doc.md:2: a bare `...`"),
        "{problems:?}"
    );
    assert_eq!(anchor("How a run is scheduled"), "how-a-run-is-scheduled");
    assert_eq!(
        anchor("Levels and the contract: `run`, oddities!"),
        "levels-and-the-contract-run-oddities"
    );
    assert_eq!(parse_marker("<!-- snippet: runs -->"), Ok(0));
    assert_eq!(parse_marker("<!-- snippet: runs, exit 2 -->"), Ok(2));
    assert!(parse_marker("<!-- snippet: runs fast -->").is_err());
}
