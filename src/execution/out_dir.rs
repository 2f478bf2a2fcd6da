//! Where a run keeps what outlives it: one directory (`--out-dir`) holding
//! the cleanup ledger (`ledger/`) and the repro scenarios (`repros/`).
//! Created only when something is written, and removed again when the run
//! leaves nothing in it, so a passing run leaves no stray files behind.

use std::path::{Path, PathBuf};

/// The default `--out-dir`, relative to the working directory.
pub const DEFAULT_OUT_DIR: &str = "ipdr-out";

/// The ledger's directory under an out dir.
pub const LEDGER_SUBDIR: &str = "ledger";

/// The repro scenarios' directory under an out dir.
pub const REPROS_SUBDIR: &str = "repros";

/// The directories of one run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutDir {
    /// The out dir itself.
    pub root: PathBuf,
    /// Where ledger files go (`<root>/ledger` unless overridden).
    pub ledger: PathBuf,
    /// Where repro scenarios go (`<root>/repros` unless overridden).
    pub repros: PathBuf,
}

impl OutDir {
    /// The directories under `root`, each replaced by its override when given.
    pub fn new(root: &Path, ledger: Option<&Path>, repros: Option<&Path>) -> OutDir {
        OutDir {
            root: root.to_path_buf(),
            ledger: ledger.map_or_else(|| root.join(LEDGER_SUBDIR), Path::to_path_buf),
            repros: repros.map_or_else(|| root.join(REPROS_SUBDIR), Path::to_path_buf),
        }
    }

    /// Removes each directory the run left empty, innermost first; one
    /// holding anything (a kept ledger, a repro, a user's file) stays.
    pub fn remove_empty(&self) {
        for dir in [&self.ledger, &self.repros, &self.root] {
            // Only an empty directory goes: remove_dir refuses anything else.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_directories_go_and_kept_files_stay() {
        let root = std::env::temp_dir().join(format!("ipdr-out-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = OutDir::new(&root, None, None);
        std::fs::create_dir_all(&out.ledger).unwrap();
        std::fs::create_dir_all(&out.repros).unwrap();
        std::fs::write(out.repros.join("kept.json"), "{}").unwrap();
        out.remove_empty();
        assert!(!out.ledger.exists(), "the empty ledger directory goes");
        assert!(out.repros.join("kept.json").exists(), "a repro stays");
        std::fs::remove_file(out.repros.join("kept.json")).unwrap();
        out.remove_empty();
        assert!(!root.exists(), "an out dir left empty goes");
    }
}
