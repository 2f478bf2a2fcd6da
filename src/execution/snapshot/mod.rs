//! Snapshot profiles: every step's response, normalized, recorded once from
//! a server and compared on any other (or live, against a second target).
//!
//! - [`normalize`]: what a step's responses become (placeholders for ids,
//!   UserIDs and run-specific names; lists filtered and sorted).
//! - [`compare`] (in [`crate::outcome::snapshot`]): the diff by JSON pointer, the canonical form, and the
//!   verdict rule (a difference is reported, and fails only under `--strict`).
//! - [`profile`]: profiles on disk and built into the binary, recording,
//!   pending `.snap.new` changes.
//! - [`examples`]: the OpenAPI document's examples, read from the
//!   `reference` profile.
//!
//! [`SnapshotPlan`] is what `run` does with them, chosen by
//! [`SnapshotOptions`].

pub mod examples;
pub mod normalize;
pub mod profile;

use std::path::PathBuf;

/// Comparing normalized steps lives in the outcome layer, where reports read it.
pub use crate::outcome::snapshot as compare;
pub use crate::outcome::snapshot::{
    canonical, diff, Comparand, Difference, ScenarioCheck, StepCheck, StepStatus,
};
pub use normalize::{snapshot_file_name, NormalizedStep, Normalizer};
pub use profile::{
    ci_is_set, Profile, ProfileSource, ProfileWriter, SnapshotError, DEFAULT_DIR, DEFAULT_PROFILE,
};

use super::target::ApiToken;
use crate::outcome::event::{SnapshotContext, SnapshotHome, SnapshotSetup};
use crate::spec::load::LoadedScenario;

/// Snapshot options of `run` (the command line's `--snapshots`, `--record`, ... in `cli`).
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Check every step against this snapshot profile (`--snapshots`).
    pub profile: String,
    /// Where profiles live (default: ./snapshots if it holds the profile, else the built-in ones).
    pub snapshots_dir: Option<PathBuf>,
    /// Record a profile from the current target instead of checking one.
    pub record: Option<String>,
    /// With `record`: replace an existing profile.
    pub force: bool,
    /// Fail on every difference from the profile (or the `--compare-with` target).
    pub strict: bool,
    /// Write a .snap.new beside each snapshot the target differs from.
    pub write_pending: bool,
    /// Differential mode.
    pub compare: CompareOptions,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            profile: DEFAULT_PROFILE.to_string(),
            snapshots_dir: None,
            record: None,
            force: false,
            strict: false,
            write_pending: false,
            compare: CompareOptions::default(),
        }
    }
}

/// `--compare-with`: a second target, run side by side with the first.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// The second target's base URL.
    pub compare_with: Option<String>,
    /// API token there (default: the target's).
    pub compare_api_token: Option<ApiToken>,
    /// Username there (default: the target's).
    pub compare_username: Option<String>,
    /// Context there (default: the target's).
    pub compare_context: Option<String>,
    /// Second context there (default: the target's).
    pub compare_second_context: Option<String>,
    /// Forbidden context there (default: the target's).
    pub compare_forbidden_context: Option<String>,
}

/// What `run` does with snapshots.
#[derive(Debug)]
pub enum SnapshotPlan {
    /// Check every step against a profile.
    Check {
        /// The profile.
        profile: Profile,
        /// Fail on every difference.
        strict: bool,
        /// Where to write `.snap.new` files (None: not asked for, CI, or a built-in profile).
        pending_dir: Option<PathBuf>,
    },
    /// Record a profile from the target.
    Record {
        /// The profile's name.
        name: String,
        /// Where profiles live; None when CI is set (nothing is written).
        root: Option<PathBuf>,
        /// Replace an existing profile.
        force: bool,
        /// The writer, once [`SnapshotPlan::prepare`] made the directory.
        writer: Option<ProfileWriter>,
    },
    /// Compare with a second target (run by the caller).
    Compare {
        /// The second target's base URL.
        url: String,
        /// Fail on every difference.
        strict: bool,
    },
}

impl SnapshotPlan {
    /// The plan `options` ask for, and notes to print before the run. Refuses
    /// to record over an existing profile without `--force`.
    pub fn from_options(
        options: &SnapshotOptions,
    ) -> Result<(SnapshotPlan, Vec<String>), SnapshotError> {
        let ci = ci_is_set();
        let root = options
            .snapshots_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        let mut notes = Vec::new();
        if let Some(url) = &options.compare.compare_with {
            notes.push(format!(
                "differential mode: every scenario also runs against --compare-with {url}; \
                 each step whose normalized responses differ is reported"
            ));
            return Ok((
                SnapshotPlan::Compare {
                    url: url.clone(),
                    strict: options.strict,
                },
                notes,
            ));
        }
        if let Some(name) = &options.record {
            profile::check_name(name)?;
            let dir = root.join(name);
            if ci {
                notes.push(format!(
                    "CI is set: nothing is written, so profile {name} is not recorded"
                ));
            } else {
                // Refuse before any request; the directory is written by `prepare`.
                ProfileWriter::check(name, &root, options.force)?;
                notes.push(format!(
                    "recording snapshot profile {name} into {}",
                    dir.display()
                ));
            }
            return Ok((
                SnapshotPlan::Record {
                    name: name.clone(),
                    root: (!ci).then_some(root),
                    force: options.force,
                    writer: None,
                },
                notes,
            ));
        }
        let profile = Profile::open(&options.profile, options.snapshots_dir.as_deref())?;
        notes.push(format!(
            "checking every step against snapshot profile {} ({}){}",
            profile.name,
            profile.location(),
            if options.strict {
                "; --strict: any difference fails"
            } else {
                ""
            }
        ));
        let pending_dir = match (options.write_pending, ci, profile.directory()) {
            (false, _, _) => None,
            (true, true, _) => {
                notes
                    .push("CI is set: nothing is written, so no .snap.new file either".to_string());
                None
            }
            (true, false, None) => {
                notes.push(format!(
                    "profile {} is built into the binary: no .snap.new file is written (give --snapshots-dir)",
                    profile.name
                ));
                None
            }
            (true, false, Some(dir)) => Some(dir.to_path_buf()),
        };
        Ok((
            SnapshotPlan::Check {
                profile,
                strict: options.strict,
                pending_dir,
            },
            notes,
        ))
    }

    /// Makes the directory a recording writes into (replacing an existing
    /// profile only with `--force`); call it once the target answered.
    pub fn prepare(&mut self) -> Result<(), SnapshotError> {
        if let SnapshotPlan::Record {
            name,
            root: Some(root),
            force,
            writer,
        } = self
        {
            *writer = Some(ProfileWriter::create(name, root, *force)?);
        }
        Ok(())
    }

    /// Whether every difference fails.
    pub fn strict(&self) -> bool {
        match self {
            SnapshotPlan::Check { strict, .. } | SnapshotPlan::Compare { strict, .. } => *strict,
            SnapshotPlan::Record { .. } => false,
        }
    }

    /// How output names the two sides.
    pub fn comparand(&self) -> Comparand {
        match self {
            SnapshotPlan::Check { profile, .. } => Comparand::profile(&profile.name),
            SnapshotPlan::Record { name, .. } => Comparand::profile(name),
            SnapshotPlan::Compare { url, .. } => Comparand::target(url),
        }
    }

    /// What reporters need to know of this plan.
    pub fn context(&self) -> SnapshotContext {
        let setup = match self {
            SnapshotPlan::Check {
                profile,
                pending_dir,
                ..
            } => SnapshotSetup::Check {
                profile: profile.name.clone(),
                home: match profile.directory() {
                    Some(dir) => SnapshotHome::Directory(dir.to_path_buf()),
                    None => SnapshotHome::BuiltIn(profile.name.clone()),
                },
                pending_dir: pending_dir.clone(),
            },
            SnapshotPlan::Record { name, writer, .. } => SnapshotSetup::Record {
                name: name.clone(),
                dir: writer.as_ref().map(|writer| writer.dir().to_path_buf()),
            },
            SnapshotPlan::Compare { .. } => SnapshotSetup::Compare,
        };
        SnapshotContext {
            setup,
            comparand: self.comparand(),
            strict: self.strict(),
        }
    }

    /// Where a step's snapshot lives, for people (None in differential mode).
    pub fn snapshot_path(&self, file_name: &str) -> Option<String> {
        match self {
            SnapshotPlan::Check { profile, .. } => Some(profile.path_of(file_name)),
            SnapshotPlan::Record {
                writer: Some(writer),
                ..
            } => Some(writer.dir().join(file_name).display().to_string()),
            _ => None,
        }
    }

    /// One scenario's steps: recorded, or compared with the profile or with
    /// `other` (the `--compare-with` target's steps). Returns the comparison,
    /// and how many `.snap.new` files were written.
    pub fn apply(
        &self,
        loaded: &LoadedScenario,
        steps: Vec<NormalizedStep>,
        other: Option<Vec<NormalizedStep>>,
    ) -> Result<(Option<ScenarioCheck>, usize), SnapshotError> {
        match self {
            SnapshotPlan::Record { writer, .. } => {
                if let Some(writer) = writer {
                    writer.write(loaded, &steps)?;
                }
                Ok((None, 0))
            }
            SnapshotPlan::Compare { .. } => {
                let other = other.unwrap_or_default();
                let check = ScenarioCheck::compare(steps, |step| {
                    other
                        .iter()
                        .find(|theirs| theirs.index == step.index)
                        .map(|theirs| theirs.document.clone())
                });
                Ok((Some(check), 0))
            }
            SnapshotPlan::Check {
                profile,
                pending_dir,
                ..
            } => {
                let check = ScenarioCheck::compare(steps, |step| {
                    profile.document(&step.file_name).cloned()
                });
                let mut written = 0;
                if let Some(dir) = pending_dir {
                    for step_check in &check.steps {
                        let differs = step_check.status != StepStatus::Same;
                        if profile::write_pending(dir, loaded, &step_check.step, differs)? {
                            written += 1;
                        }
                    }
                }
                Ok((Some(check), written))
            }
        }
    }
}
