//! Shared test plumbing: a reference server on loopback and the binary.

#![allow(dead_code)]

pub mod proxy;
pub mod wire;

use std::process::{Command, Output};

use ipdr_conformance::reference::{self, RunningServer, ServerConfig};

/// A reference server on an ephemeral loopback port, with the runtime that serves it.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<RunningServer>,
}

impl Server {
    pub fn start(config: ServerConfig) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(reference::start(config, ([127, 0, 0, 1], 0).into()))
            .expect("the reference server starts");
        Server {
            runtime,
            server: Some(server),
        }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().base_url()
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// A directory under the target dir, named for the test and the process, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The harness binary with no IPDR_* variables and no CI inherited from the
/// environment: tests that care about CI (nothing written) set it themselves.
pub fn harness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ipdr-conformance"));
    for (key, _) in std::env::vars() {
        if key.starts_with("IPDR_") || key == "CI" {
            command.env_remove(key);
        }
    }
    command
}

/// The harness pointed at `url` with the built-in fixture's credentials.
pub fn harness_against(url: &str) -> Command {
    let credentials = ipdr_conformance::reference::UsersFixture::builtin().harness();
    let mut command = harness();
    command
        .arg("run")
        .arg("--target")
        .arg(url)
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .env("IPDR_CONTEXT", &credentials.context);
    if let Some(second) = &credentials.second_context {
        command.env("IPDR_SECOND_CONTEXT", second);
    }
    if let Some(forbidden) = &credentials.forbidden_context {
        command.env("IPDR_FORBIDDEN_CONTEXT", forbidden);
    }
    command
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses the summary's `test result:` line: (pass, fail + error, skipped + unsupported),
/// the three libtest counted (passed, failed, ignored).
pub fn counts(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_else(|| panic!("no test result line in:\n{stdout}"));
    let number = |label: &str| -> usize {
        let before = line
            .split(&format!(" {label};"))
            .next()
            .filter(|before| before.len() < line.len())
            .unwrap_or_else(|| panic!("no {label} count in {line:?}"));
        before
            .rsplit(' ')
            .find(|word| !word.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        number("pass"),
        number("fail") + number("error"),
        number("skipped") + number("unsupported"),
    )
}

/// Replaces what changes between runs (ports, run ids, timings) for pinned output.
pub fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        if let Some(start) = line.find("finished in ") {
            line.replace_range(start.., "finished in [time]");
        }
        if let Some(end) = line.find(" filtered out") {
            let start = line[..end].rfind(' ').map_or(0, |space| space + 1);
            line.replace_range(start..end, "[n]");
        }
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(run_id) = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("run id "))
        .and_then(|rest| rest.split(' ').next())
    {
        out = out.replace(run_id, "[run]");
    }
    regex_free_replace(&out, "127.0.0.1:", |c| c.is_ascii_digit(), "[port]")
}

fn regex_free_replace(
    text: &str,
    marker: &str,
    keep: impl Fn(char) -> bool,
    placeholder: &str,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(index) = rest.find(marker) {
        out.push_str(&rest[..index + marker.len()]);
        rest = &rest[index + marker.len()..];
        let end = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push_str(placeholder);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Sends `method` through `client` the way the harness does: a request that can
/// change data only once the guard has cleared it for UserIDs starting with `prefix`.
pub async fn send_guarded(
    client: &ipdr_conformance::execution::client::Client,
    method: &str,
    path: &str,
    body: Option<String>,
    prefix: &str,
) -> ipdr_conformance::execution::client::Exchange {
    use ipdr_conformance::execution::guard::{can_change_data, clear_mutation};
    if !can_change_data(method) {
        return client.send(method, path, body).await;
    }
    let cleared = clear_mutation(client.target(), method, path, body.as_deref(), prefix)
        .unwrap_or_else(|refused| panic!("the guard refused the test's own request: {refused}"));
    client.send_cleared(&cleared).await
}
