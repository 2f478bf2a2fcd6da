//! The profile store: a profile is a directory `snapshots/<profile>/` with
//! one insta-format `.snap` file per scenario step. Profiles committed to
//! the source tree are also built into the binary (see `build.rs`), so the
//! `reference` profile works wherever the binary runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::normalize::NormalizedStep;
use crate::outcome::snapshot::diff;
pub use crate::outcome::snapshot::PendingSnapshot;
use crate::spec::load::LoadedScenario;

include!(concat!(env!("OUT_DIR"), "/embedded_snapshots.rs"));

/// The profile checked against when `--snapshots` is not given.
pub const DEFAULT_PROFILE: &str = "reference";
/// Where profiles live when `--snapshots-dir` is not given (relative to the working directory).
pub const DEFAULT_DIR: &str = crate::outcome::snapshot::DEFAULT_SNAPSHOTS_DIR;
/// Extension of a snapshot file.
pub const SNAP_EXTENSION: &str = ".snap";
/// Extension of a pending change, beside its snapshot (as insta writes them).
pub const PENDING_EXTENSION: &str = ".snap.new";

/// Why a profile could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The profile name is not a plain directory name.
    #[error(
        "profile name {0:?} must be letters, digits, '.', '-' or '_' (and not start with '.')"
    )]
    BadName(String),
    /// No such profile where it was looked for.
    #[error("no snapshot profile {profile:?} in {looked_in}{available}")]
    NotFound {
        /// The profile.
        profile: String,
        /// Where it was looked for.
        looked_in: String,
        /// `; available: ...` or empty.
        available: String,
    },
    /// `--record` would overwrite a profile.
    #[error("profile {profile:?} already exists in {}; pass --force to replace it", dir.display())]
    Exists {
        /// The profile.
        profile: String,
        /// Its directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A snapshot file is not in the expected format.
    #[error("{file}: not a snapshot file: {reason}")]
    Malformed {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether the CI environment variable is set (then nothing is ever written).
pub fn ci_is_set() -> bool {
    match std::env::var("CI") {
        Ok(value) => !matches!(value.trim(), "" | "0" | "false"),
        Err(_) => false,
    }
}

/// Checks that `name` is usable as a directory name.
pub fn check_name(name: &str) -> Result<(), SnapshotError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        Ok(())
    } else {
        Err(SnapshotError::BadName(name.to_string()))
    }
}

/// Where a profile was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// A directory on disk.
    Directory(PathBuf),
    /// The copy built into the binary.
    Embedded,
}

/// A profile's snapshots, by file name.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Where it was read from.
    pub source: ProfileSource,
    snapshots: BTreeMap<String, Value>,
}

impl Profile {
    /// Opens profile `name`: from `dir/<name>` when a directory is given;
    /// otherwise from `./snapshots/<name>` if it exists, else from the copy
    /// built into the binary.
    pub fn open(name: &str, dir: Option<&Path>) -> Result<Profile, SnapshotError> {
        check_name(name)?;
        if let Some(dir) = dir {
            let path = dir.join(name);
            if !path.is_dir() {
                return Err(not_found(name, &dir.display().to_string(), Some(dir)));
            }
            return Profile::read_dir(name, &path);
        }
        let local = Path::new(DEFAULT_DIR).join(name);
        if local.is_dir() {
            return Profile::read_dir(name, &local);
        }
        Profile::built_in(name)
    }

    /// Opens the copy of profile `name` built into the binary, whatever the
    /// working directory holds.
    pub fn built_in(name: &str) -> Result<Profile, SnapshotError> {
        check_name(name)?;
        let embedded: BTreeMap<String, Value> = EMBEDDED_SNAPSHOTS
            .iter()
            .filter(|(profile, _, _)| *profile == name)
            .map(|(_, file, text)| Ok((file.to_string(), parse_snapshot(file, text)?)))
            .collect::<Result<_, SnapshotError>>()?;
        if embedded.is_empty() {
            return Err(not_found(
                name,
                &format!("{DEFAULT_DIR}/ or among the profiles built into the binary"),
                Some(Path::new(DEFAULT_DIR)),
            ));
        }
        Ok(Profile {
            name: name.to_string(),
            source: ProfileSource::Embedded,
            snapshots: embedded,
        })
    }

    fn read_dir(name: &str, path: &Path) -> Result<Profile, SnapshotError> {
        let mut snapshots = BTreeMap::new();
        for file in snapshot_files(path, SNAP_EXTENSION)? {
            let text = std::fs::read_to_string(path.join(&file)).map_err(io(path))?;
            let document = parse_snapshot(&file, &text)?;
            snapshots.insert(file, document);
        }
        Ok(Profile {
            name: name.to_string(),
            source: ProfileSource::Directory(path.to_path_buf()),
            snapshots,
        })
    }

    /// The normalized document of snapshot `file_name`, if the profile has it.
    pub fn document(&self, file_name: &str) -> Option<&Value> {
        self.snapshots.get(file_name)
    }

    /// How many snapshots the profile holds.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// Whether the profile holds no snapshot.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The snapshot file names, sorted.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.snapshots.keys().map(String::as_str)
    }

    /// The directory it was read from, when it was read from one.
    pub fn directory(&self) -> Option<&Path> {
        match &self.source {
            ProfileSource::Directory(path) => Some(path),
            ProfileSource::Embedded => None,
        }
    }

    /// Where a snapshot of this profile lives, for people: a path or `(built in) NAME`.
    pub fn path_of(&self, file_name: &str) -> String {
        match &self.source {
            ProfileSource::Directory(path) => path.join(file_name).display().to_string(),
            ProfileSource::Embedded => format!("snapshots/{}/{file_name} (built in)", self.name),
        }
    }

    /// Where the profile was read from, for people.
    pub fn location(&self) -> String {
        match &self.source {
            ProfileSource::Directory(path) => path.display().to_string(),
            ProfileSource::Embedded => "built into the binary".to_string(),
        }
    }
}

fn not_found(name: &str, looked_in: &str, dir: Option<&Path>) -> SnapshotError {
    let mut names: Vec<String> = EMBEDDED_SNAPSHOTS
        .iter()
        .map(|(profile, _, _)| format!("{profile} (built in)"))
        .collect();
    if let Some(Ok(entries)) = dir.map(std::fs::read_dir) {
        names.extend(
            entries
                .flatten()
                .filter(|entry| entry.path().is_dir())
                .map(|entry| entry.file_name().to_string_lossy().into_owned()),
        );
    }
    names.sort();
    names.dedup();
    SnapshotError::NotFound {
        profile: name.to_string(),
        looked_in: looked_in.to_string(),
        available: if names.is_empty() {
            String::new()
        } else {
            format!("; available: {}", names.join(", "))
        },
    }
}

/// File names in `dir` ending with `extension` (`.snap` excludes `.snap.new`), sorted.
fn snapshot_files(dir: &Path, extension: &str) -> Result<Vec<String>, SnapshotError> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(extension))
        .collect();
    files.sort();
    Ok(files)
}

/// A JSON string, which is also a YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The insta-format text of one step's snapshot: a YAML header naming the
/// scenario and step, then the normalized document as pretty JSON.
pub fn render_snapshot(loaded: &LoadedScenario, step: &NormalizedStep) -> String {
    let description = format!(
        "{} · step {} {:?} ({}) · {}",
        loaded.scenario.name,
        step.index + 1,
        step.name,
        step.level,
        step.request
    );
    let body = serde_json::to_string_pretty(&step.document).expect("a JSON value serializes");
    format!(
        "---\nsource: {}\ndescription: {}\ninfo:\n  scenario: {}\n  step: {}\n  name: {}\n  level: {}\n  request: {}\n---\n{body}\n",
        quoted(&format!("specs/{}", loaded.source)),
        quoted(&description),
        quoted(&loaded.scenario.name),
        step.index + 1,
        quoted(&step.name),
        step.level,
        quoted(&step.request),
    )
}

/// The normalized document of a snapshot file's text (the part after the header).
pub fn parse_snapshot(file: &str, text: &str) -> Result<Value, SnapshotError> {
    let malformed = |reason: &str| SnapshotError::Malformed {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| malformed("it does not start with a --- header"))?;
    let end = rest
        .find("\n---\n")
        .or_else(|| rest.find("\n---\r\n"))
        .ok_or_else(|| malformed("the header is not closed by ---"))?;
    let body = &rest[end..].trim_start_matches('\n')[3..];
    serde_json::from_str(body.trim())
        .map_err(|error| malformed(&format!("the body is not JSON: {error}")))
}

/// Writes a profile recorded from the current target (`--record`).
#[derive(Debug, Clone)]
pub struct ProfileWriter {
    name: String,
    dir: PathBuf,
}

impl ProfileWriter {
    /// Refuses `root/<name>` when it holds a profile, unless `force`.
    pub fn check(name: &str, root: &Path, force: bool) -> Result<(), SnapshotError> {
        check_name(name)?;
        let dir = root.join(name);
        if !force && dir.is_dir() && !snapshot_files(&dir, SNAP_EXTENSION)?.is_empty() {
            return Err(SnapshotError::Exists {
                profile: name.to_string(),
                dir,
            });
        }
        Ok(())
    }

    /// Prepares `root/<name>`: refuses an existing profile unless `force`,
    /// in which case its snapshots (and pending changes) are removed first.
    pub fn create(name: &str, root: &Path, force: bool) -> Result<ProfileWriter, SnapshotError> {
        ProfileWriter::check(name, root, force)?;
        let dir = root.join(name);
        if dir.is_dir() {
            let existing = snapshot_files(&dir, SNAP_EXTENSION)?;
            let pending = snapshot_files(&dir, PENDING_EXTENSION)?;
            for file in existing.iter().chain(&pending) {
                let path = dir.join(file);
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(ProfileWriter {
            name: name.to_string(),
            dir,
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one snapshot per step.
    pub fn write(
        &self,
        loaded: &LoadedScenario,
        steps: &[NormalizedStep],
    ) -> Result<(), SnapshotError> {
        for step in steps {
            let path = self.dir.join(&step.file_name);
            std::fs::write(&path, render_snapshot(loaded, step)).map_err(io(&path))?;
        }
        Ok(())
    }
}

/// Writes `<file>.snap.new` beside `<file>.snap` in `dir` when `differs`,
/// and removes a stale one otherwise (as insta does).
pub fn write_pending(
    dir: &Path,
    loaded: &LoadedScenario,
    step: &NormalizedStep,
    differs: bool,
) -> Result<bool, SnapshotError> {
    let path = dir.join(format!(
        "{}{}",
        step.file_name.trim_end_matches(SNAP_EXTENSION),
        PENDING_EXTENSION
    ));
    if differs {
        std::fs::write(&path, render_snapshot(loaded, step)).map_err(io(&path))?;
        Ok(true)
    } else {
        if path.exists() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(false)
    }
}

/// The pending changes (`.snap.new` files) of the profile in `dir`.
pub fn pending(dir: &Path) -> Result<Vec<PendingSnapshot>, SnapshotError> {
    let mut found = Vec::new();
    for file in snapshot_files(dir, PENDING_EXTENSION)? {
        let snap = file.trim_end_matches(".new").to_string();
        let new_path = dir.join(&file);
        let new = parse_snapshot(
            &file,
            &std::fs::read_to_string(&new_path).map_err(io(&new_path))?,
        )?;
        let old_path = dir.join(&snap);
        let differences = match std::fs::read_to_string(&old_path) {
            Ok(text) => Some(diff(&parse_snapshot(&snap, &text)?, &new)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(io(&old_path)(error)),
        };
        found.push(PendingSnapshot {
            file_name: snap,
            differences,
        });
    }
    Ok(found)
}

/// Accepts (`.snap.new` replaces `.snap`) or rejects (`.snap.new` is deleted)
/// every pending change in `dir`; returns how many.
pub fn settle_pending(dir: &Path, accept: bool) -> Result<usize, SnapshotError> {
    let files = snapshot_files(dir, PENDING_EXTENSION)?;
    for file in &files {
        let new_path = dir.join(file);
        if accept {
            let snap = dir.join(file.trim_end_matches(".new"));
            std::fs::rename(&new_path, &snap).map_err(io(&new_path))?;
        } else {
            std::fs::remove_file(&new_path).map_err(io(&new_path))?;
        }
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_plain_directory_names() {
        assert!(check_name("trisul-7.0").is_ok());
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "x y"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_snapshot_parses_back() {
        let text =
            "---\nsource: \"specs/x.json\"\ninfo:\n  step: 1\n---\n{\n  \"status\": 200\n}\n";
        assert_eq!(
            parse_snapshot("x.snap", text).unwrap(),
            json!({"status": 200})
        );
        assert!(parse_snapshot("x.snap", "{}").is_err());
    }
}
