//! The cleanup ledger on disk: every record a run may create is written
//! here before its request is sent, so `sweep` can delete the leftovers of
//! a run that was killed. One file per run (`<run id>.jsonl`), removed when
//! the run has cleaned up after itself.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::client::Client;
use super::guard::clear_mutation;
use super::list_stream::{Glance, KeepWhere};
use super::scenario_run::{principal_auth_body, HARNESS_PREFIX};
use crate::spec::contract::{customer_path, percent_decoded};
use crate::spec::scenario::Principal;

/// One record a run may have created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The run that created it.
    pub run_id: String,
    /// The target's base URL.
    pub target: String,
    /// The context it was created in.
    pub context: String,
    /// Its UserID (always `zzconf-<run id>-...`).
    pub user_id: String,
    /// Whose credentials delete it: the other user's for records made in its
    /// context. Absent (older ledgers, and the configured user's records): the configured user.
    #[serde(default, skip_serializing_if = "is_configured")]
    pub principal: Principal,
}

fn is_configured(principal: &Principal) -> bool {
    *principal == Principal::Configured
}

impl LedgerEntry {
    /// Whether the UserID carries its own run's prefix: the only records sweep may touch.
    pub fn is_harness_owned(&self) -> bool {
        self.user_id.starts_with(&self.run_prefix())
    }

    /// The prefix every UserID of its run carries (`zzconf-<run id>-`).
    pub fn run_prefix(&self) -> String {
        format!("{HARNESS_PREFIX}{}-", self.run_id)
    }

    /// The UserID a server reads from the entry's path segment (decoded once).
    pub fn listed_user_id(&self) -> String {
        percent_decoded(&self.user_id)
    }
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A file operation failed.
    #[error("cleanup ledger {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open ledger file for one run, appended to before each creating request.
/// While it is open, `<run id>.lock` beside it holds the process id, so that a
/// concurrent `sweep` leaves the live run's records alone; dropping it removes the lock.
#[derive(Debug)]
pub struct LedgerFile {
    path: PathBuf,
    lock: PathBuf,
    run_id: String,
    target: String,
    file: Mutex<File>,
}

/// The lock file of the ledger at `path`: `<run id>.lock` beside it.
pub fn lock_path(path: &Path) -> PathBuf {
    path.with_extension("lock")
}

impl LedgerFile {
    /// Creates `<dir>/<run id>.jsonl` (and `dir`) for a run against `target`, and its lock.
    pub fn create(dir: &Path, run_id: &str, target: &str) -> Result<LedgerFile, LedgerError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let lock = lock_path(&path);
        // create_new: two runs never share a ledger, and the lock is ours alone.
        let mut lock_file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
            .map_err(io_error(&lock))?;
        lock_file
            .write_all(std::process::id().to_string().as_bytes())
            .and_then(|()| lock_file.sync_data())
            .map_err(io_error(&lock))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| {
                let _ = std::fs::remove_file(&lock);
                io_error(&path)(error)
            })?;
        Ok(LedgerFile {
            path,
            lock,
            run_id: run_id.to_string(),
            target: target.to_string(),
            file: Mutex::new(file),
        })
    }

    /// Appends (principal, context, UserID) of this run and target.
    pub fn record(
        &self,
        principal: Principal,
        context: &str,
        user_id: &str,
    ) -> Result<(), LedgerError> {
        self.append(&LedgerEntry {
            run_id: self.run_id.clone(),
            target: self.target.clone(),
            context: context.to_string(),
            user_id: user_id.to_string(),
            principal,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it to disk before returning.
    pub fn append(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let mut line = serde_json::to_string(entry).expect("a ledger entry serializes");
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line.as_bytes())
            .map_err(io_error(&self.path))?;
        file.sync_data().map_err(io_error(&self.path))
    }

    /// Removes the file: the run has cleaned up after itself.
    pub fn retire(&self) -> Result<(), LedgerError> {
        std::fs::remove_file(&self.path).map_err(io_error(&self.path))
    }
}

impl Drop for LedgerFile {
    fn drop(&mut self) {
        // The run is over (or its ledger no longer written): sweep may take over.
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// The process id holding the ledger at `path`, when that process is alive;
/// a lock whose process is gone (a killed run) is stale, and removed.
fn live_lock_holder(path: &Path) -> Option<u32> {
    let lock = lock_path(path);
    let text = std::fs::read_to_string(&lock).ok()?;
    let alive = match text.trim().parse::<u32>() {
        Ok(pid) if pid == std::process::id() => return None,
        Ok(pid) => process_alive(pid).then_some(pid),
        // Unreadable: treat as held, never sweep under a run we cannot rule out.
        Err(_) => Some(0),
    };
    if alive.is_none() {
        let _ = std::fs::remove_file(&lock);
    }
    alive
}

/// Whether process `pid` exists (Linux: `/proc/<pid>`; elsewhere assumed alive).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Every ledger file in `dir` with its entries, and a warning for each line
/// that is not an entry (naming file and line) and each file that cannot be
/// read: one bad file never stops the others. A torn last line (a killed run) is skipped silently.
pub fn read_dir(dir: &Path) -> Result<(LedgerFiles, Vec<String>), LedgerError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), Vec::new()))
        }
        Err(error) => return Err(io_error(dir)(error)),
    };
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(error) => {
                warnings.push(format!(
                    "cleanup ledger directory {}: {error}",
                    dir.display()
                ));
                continue;
            }
        };
        if path.extension().is_none_or(|ext| ext != "jsonl") {
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                warnings.push(format!(
                    "{}: skipped, cannot be read: {error}",
                    path.display()
                ));
                continue;
            }
        };
        let lines: Vec<&str> = text.lines().collect();
        let torn = !text.ends_with('\n');
        let mut records = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LedgerEntry>(line) {
                Ok(record) => records.push(record),
                Err(_) if torn && index + 1 == lines.len() => {}
                Err(error) => warnings.push(format!(
                    "{}:{}: skipped a line that is not a ledger entry: {error}",
                    path.display(),
                    index + 1
                )),
            }
        }
        files.push((path, records));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((files, warnings))
}

/// Ledger files with their entries.
pub type LedgerFiles = Vec<(PathBuf, Vec<LedgerEntry>)>;

/// Most DELETEs of one UserID in one sweep: duplicates go too, but a server
/// that answers every DELETE with the record cannot keep sweep busy forever.
pub const MAX_DELETES_PER_USER_ID: usize = 16;

/// One ledger entry as sweep reports it: its context and UserID, and
/// `as the other user` when it is deleted with the other user's credentials.
pub type SweptRecord = (String, String);

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// (context, UserID) deleted, or that would be with `--dry-run`.
    pub deleted: Vec<SweptRecord>,
    /// (context, UserID) already gone.
    pub already_gone: Vec<SweptRecord>,
    /// (context, UserID, why) that could not be deleted.
    pub failed: Vec<(String, String, String)>,
    /// Ledger entries of other targets, left alone.
    pub other_targets: usize,
    /// Ledger files removed because everything in them is gone.
    pub retired_files: Vec<PathBuf>,
    /// Ledger files left alone because a live run holds them: (file, its process id).
    pub locked: Vec<(PathBuf, u32)>,
    /// Corrupt lines and unreadable files, skipped.
    pub warnings: Vec<String>,
}

/// How a report names a context of `principal`.
fn context_label(principal: Principal, context: &str) -> String {
    match principal {
        Principal::Configured => context.to_string(),
        Principal::Other => format!("{context} (as the other user)"),
    }
}

/// Deletes every ledger entry of `client`'s target, each with the
/// credentials of the user it was recorded under; with `dry_run`, only says
/// what it would delete.
pub async fn sweep(client: &Client, dir: &Path, dry_run: bool) -> Result<SweepReport, LedgerError> {
    let target = client.target();
    let mut report = SweepReport::default();
    let (files, warnings) = read_dir(dir)?;
    report.warnings = warnings;
    for (path, entries) in files {
        if let Some(pid) = live_lock_holder(&path) {
            report.locked.push((path, pid));
            continue;
        }
        let mut complete = true;
        // (principal, context, UserID), each once.
        let mut seen: Vec<(Principal, String, String)> = Vec::new();
        for entry in entries {
            if entry.target != target.base_url {
                report.other_targets += 1;
                complete = false;
                continue;
            }
            let key = (
                entry.principal,
                entry.context.clone(),
                entry.user_id.clone(),
            );
            // Never touch a record that does not carry its run's prefix.
            if !entry.is_harness_owned() || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let label = context_label(entry.principal, &entry.context);
            let Some(body) = principal_auth_body(target, entry.principal, &entry.context) else {
                complete = false;
                report.failed.push((
                    label,
                    entry.user_id.clone(),
                    "it was created as the other user: give --other-username, --other-api-token and --other-context to delete it".to_string(),
                ));
                continue;
            };
            // The one guard every request that can change data passes: a forged line
            // (`zzconf-<run>-x/../B68t19`) would otherwise delete a foreign record.
            let path = customer_path(&entry.user_id);
            let cleared =
                match clear_mutation(target, "DELETE", &path, Some(&body), &entry.run_prefix()) {
                    Ok(cleared) => cleared,
                    Err(refused) => {
                        complete = false;
                        report
                            .failed
                            .push((label, entry.user_id.clone(), refused.to_string()));
                        continue;
                    }
                };
            if dry_run {
                report.deleted.push((label, entry.user_id.clone()));
                complete = false;
                continue;
            }
            let user_id = entry.listed_user_id();
            // Until the DELETE no longer answers with the record: duplicates go too.
            let mut deletes = 0;
            let outcome = loop {
                let exchange = client.send_cleared(&cleared).await;
                match exchange.response {
                    Ok(response) => {
                        match response.json.as_ref().and_then(|json| json.get("UserID")) {
                            Some(uid) if uid.as_str() == Some(user_id.as_str()) => {
                                deletes += 1;
                                if deletes == MAX_DELETES_PER_USER_ID {
                                    break Err(format!(
                                        "still answered with the record after {deletes} DELETEs"
                                    ));
                                }
                            }
                            _ => break Ok(deletes),
                        }
                    }
                    Err(error) => break Err(error.to_string()),
                }
            };
            match outcome {
                Ok(0) => report.already_gone.push((label, entry.user_id.clone())),
                Ok(_) => report.deleted.push((label, entry.user_id.clone())),
                Err(why) => {
                    complete = false;
                    report.failed.push((label, entry.user_id.clone(), why));
                }
            }
        }
        // Trust the list, not the DELETE answers: a file is retired only when nothing of it is left.
        if complete && !dry_run && !seen.is_empty() {
            let mut places: Vec<(Principal, &String)> = seen
                .iter()
                .map(|(principal, context, _)| (*principal, context))
                .collect();
            places.sort_by(|a, b| (a.0 as u8, a.1).cmp(&(b.0 as u8, b.1)));
            places.dedup();
            for (principal, context) in places {
                let Some(body) = principal_auth_body(target, principal, context) else {
                    complete = false;
                    continue;
                };
                // Only the ledger's own UserIDs are kept, however long the list.
                let wanted: std::collections::BTreeSet<String> = seen
                    .iter()
                    .map(|(_, _, uid)| percent_decoded(uid))
                    .collect();
                let mut sink = KeepWhere(|customer: &Glance| {
                    customer
                        .user_id_text()
                        .is_some_and(|uid| wanted.contains(uid))
                });
                let exchange = client
                    .send_list(
                        "GET",
                        crate::spec::contract::COLLECTION_PATH,
                        Some(body),
                        &mut sink,
                    )
                    .await;
                let listed: Vec<String> = match exchange.response {
                    Ok(response) => match response.json {
                        Some(serde_json::Value::Array(customers)) => customers
                            .iter()
                            .filter_map(|customer| {
                                customer.get("UserID").and_then(|uid| uid.as_str())
                            })
                            .map(str::to_string)
                            .collect(),
                        // A context this user may not list (a refusal, such as a
                        // context a tampered request named): the DELETE answers
                        // are all there is to go by.
                        _ if response.status < 500 => continue,
                        _ => {
                            complete = false;
                            continue;
                        }
                    },
                    Err(_) => {
                        complete = false;
                        continue;
                    }
                };
                let label = context_label(principal, context);
                for (entry_principal, entry_context, uid) in &seen {
                    if *entry_principal == principal
                        && entry_context == context
                        && listed.contains(&percent_decoded(uid))
                    {
                        complete = false;
                        report
                            .already_gone
                            .retain(|(c, u)| !(*c == label && u == uid));
                        report.deleted.retain(|(c, u)| !(*c == label && u == uid));
                        report.failed.push((
                            label.clone(),
                            uid.clone(),
                            "still listed after DELETE".to_string(),
                        ));
                    }
                }
            }
        }
        if complete {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            report.retired_files.push(path);
        }
    }
    Ok(report)
}
