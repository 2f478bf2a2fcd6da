//! The embedded reference server (placeholder API; being implemented).

use std::net::SocketAddr;
use std::path::Path;

/// Why the reference server could not start or load its fixtures.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// Not implemented yet.
    #[error("not implemented")]
    NotImplemented,
}

/// A deliberate departure from the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Deviation {
    /// The invalid-token envelope says "Error" instead of "ERROR".
    TokenErrorStatusMixedCase,
}

impl Deviation {
    /// Every deviation.
    pub const ALL: [Deviation; 1] = [Deviation::TokenErrorStatusMixedCase];
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        "token-error-status-mixed-case"
    }
    /// One line.
    pub fn description(self) -> &'static str {
        "the invalid-token envelope says \"Error\" instead of \"ERROR\""
    }
}

/// Users, tokens and contexts.
#[derive(Debug, Clone)]
pub struct UsersFixture;

impl UsersFixture {
    /// The built-in fixture.
    pub fn builtin() -> Self {
        UsersFixture
    }
    /// Loads a fixture file.
    pub fn from_path(_path: &Path) -> Result<Self, ReferenceError> {
        Err(ReferenceError::NotImplemented)
    }
}

/// Customers to preload.
#[derive(Debug, Clone, Default)]
pub struct Preload;

impl Preload {
    /// Loads a preload file.
    pub fn from_path(_path: &Path) -> Result<Self, ReferenceError> {
        Err(ReferenceError::NotImplemented)
    }
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Users.
    pub users: UsersFixture,
    /// Deviations.
    pub deviations: Vec<Deviation>,
    /// Preload.
    pub preload: Preload,
}

impl ServerConfig {
    /// A conformant server with these users.
    pub fn new(users: UsersFixture) -> Self {
        ServerConfig { users, deviations: Vec::new(), preload: Preload }
    }
}

/// A running server.
pub struct RunningServer {
    addr: SocketAddr,
}

impl RunningServer {
    /// Base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops it.
    pub async fn shutdown(self) {}
}

/// Starts the server.
pub async fn start(_config: ServerConfig, _addr: SocketAddr) -> Result<RunningServer, ReferenceError> {
    Err(ReferenceError::NotImplemented)
}
