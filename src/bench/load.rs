//! Load generators for the server ceiling: Debian's `wrk` when installed,
//! else a built-in tokio loop with N concurrent connections.

use std::io::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::spec::contract::COLLECTION_PATH;

/// At most this many requests per built-in load run, whatever the duration.
const MAX_BUILTIN_REQUESTS: u64 = 2_000_000;

/// Which endpoint to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// GET with an auth body.
    List,
    /// POST with a fresh UserID each time.
    Create,
}

/// Credentials sent with every request.
#[derive(Debug, Clone)]
pub struct LoadAuth {
    /// API token.
    pub api_token: String,
    /// Username.
    pub username: String,
}

/// Which generator ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Debian's wrk, out of process.
    Wrk,
    /// The built-in tokio loop, in process (it shares the CPU with the server).
    Builtin,
}

/// Whether `wrk` is on the PATH and runs.
pub fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|output| !output.stdout.is_empty() || !output.stderr.is_empty())
        .unwrap_or(false)
}

fn lua_quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

/// The wrk Lua script for `endpoint`; `tag` keeps UserIDs apart between runs.
fn wrk_script(endpoint: Endpoint, auth: &LoadAuth, tag: &str) -> String {
    let token = lua_quote(&auth.api_token);
    let user = lua_quote(&auth.username);
    match endpoint {
        Endpoint::List => format!(
            "wrk.method = 'GET'\n\
             wrk.headers['Content-Type'] = 'application/json'\n\
             wrk.body = '{{\"api_token\":\"{token}\",\"username\":\"{user}\",\"contextname\":\"default\"}}'\n"
        ),
        Endpoint::Create => format!(
            "local threads = 0\n\
             function setup(thread) threads = threads + 1; thread:set('tid', threads) end\n\
             local counter = 0\n\
             local headers = {{['Content-Type'] = 'application/json'}}\n\
             function request()\n\
               counter = counter + 1\n\
               local body = string.format('{{\"api_token\":\"{token}\",\"username\":\"{user}\",\"contextname\":\"default\",\"UserID\":\"{tag}-w%d-%d\",\"Name\":\"n\"}}', tid, counter)\n\
               return wrk.format('POST', nil, headers, body)\n\
             end\n"
        ),
    }
}

/// Requests per second `wrk` reached on `base_url`'s `endpoint`.
pub fn run_wrk(
    base_url: &str,
    endpoint: Endpoint,
    auth: &LoadAuth,
    tag: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let mut script = tempfile_path(tag);
    let mut file = std::fs::File::create(&script)?;
    file.write_all(wrk_script(endpoint, auth, tag).as_bytes())?;
    drop(file);
    let seconds = duration.as_secs().max(1);
    let output = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(&script)
        .arg(format!("{base_url}{COLLECTION_PATH}"))
        .output();
    let _ = std::fs::remove_file(&script);
    script.clear();
    let output = output?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "wrk printed no Requests/sec: {}{}",
                text,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        eprintln!("note: wrk reported errors on {endpoint:?}: {}", text.trim());
    }
    Ok(rate)
}

fn tempfile_path(tag: &str) -> String {
    std::env::temp_dir()
        .join(format!("ipdr-bench-{}-{tag}.lua", std::process::id()))
        .display()
        .to_string()
}

/// Requests per second the built-in loop reached: `connections` tasks, each
/// with its own one-connection client, sending until `duration` has passed.
pub async fn run_builtin(
    base_url: &str,
    endpoint: Endpoint,
    auth: &LoadAuth,
    tag: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let url = format!("{base_url}{COLLECTION_PATH}");
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(5))
            .build()?;
        let (url, done, auth, tag) = (
            url.clone(),
            Arc::clone(&done),
            auth.clone(),
            tag.to_string(),
        );
        tasks.spawn(async move {
            let mut counter = 0u64;
            while Instant::now() < deadline && done.load(Ordering::Relaxed) < MAX_BUILTIN_REQUESTS {
                counter += 1;
                let request = match endpoint {
                    Endpoint::List => client.get(&url).body(
                        serde_json::json!({"api_token": auth.api_token, "username": auth.username, "contextname": "default"}).to_string(),
                    ),
                    Endpoint::Create => client.post(&url).body(
                        serde_json::json!({"api_token": auth.api_token, "username": auth.username, "contextname": "default",
                            "UserID": format!("{tag}-b{connection}-{counter}"), "Name": "n"}).to_string(),
                    ),
                };
                let sent = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .send()
                    .await;
                if let Ok(response) = sent {
                    if response.bytes().await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.max(1e-9))
}
