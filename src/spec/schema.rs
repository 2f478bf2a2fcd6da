//! JSON Schema and OpenAPI generation (placeholder until implemented).

use std::path::{Path, PathBuf};

/// Why writing the schemas failed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes every schema into `dir`, returning the paths written.
pub fn write_all(_dir: &Path) -> Result<Vec<PathBuf>, SchemaError> {
    Ok(Vec::new())
}
