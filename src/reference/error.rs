//! Why the reference server could not load its fixtures or start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the reference server could not start or load its fixtures.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// A fixture or preload file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A fixture or preload file is not JSON of the expected shape.
    #[error("{file}: {source}")]
    Parse {
        /// The file (or a description of an in-memory source).
        file: String,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The users fixture is well-formed JSON but inconsistent.
    #[error("{file}: invalid users fixture: {problem}")]
    InvalidUsers {
        /// The file (or a description of an in-memory source).
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The preload is well-formed JSON but inconsistent (or names an unknown context).
    #[error("{file}: invalid preload: {problem}")]
    InvalidPreload {
        /// The file (or a description of an in-memory source).
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bound socket's local address could not be read.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
}
