//! Where the target is and how to authenticate, from the command line into a [`Target`].

use std::path::PathBuf;
use std::time::Duration;

use ipdr_conformance::execution::engine::{base_url, SetupError};
use ipdr_conformance::execution::target::{ApiToken, EmptyToken, OtherUser, Target};

/// Where the target is and how to authenticate ("Authentication").
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Base URL of the server under test; without it the embedded reference server is started on loopback.
    #[arg(
        long = "target",
        env = "IPDR_TARGET",
        value_name = "URL",
        help_heading = "Target"
    )]
    pub target: Option<String>,
    /// API token of --username (prefer the environment variable: flags show up in process lists).
    #[arg(
        long,
        env = "IPDR_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Credentials"
    )]
    pub api_token: Option<ApiToken>,
    /// Username the token belongs to.
    #[arg(long, env = "IPDR_USERNAME", help_heading = "Credentials")]
    pub username: Option<String>,
    /// Context the user may access.
    #[arg(
        long,
        env = "IPDR_CONTEXT",
        default_value = "default",
        help_heading = "Credentials"
    )]
    pub context: String,
    /// A second context the user may access (isolation checks are ignored without it).
    #[arg(long, env = "IPDR_SECOND_CONTEXT", help_heading = "Credentials")]
    pub second_context: Option<String>,
    /// An existing context the user may not access (those checks are ignored without it).
    #[arg(long, env = "IPDR_FORBIDDEN_CONTEXT", help_heading = "Credentials")]
    pub forbidden_context: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(
        long,
        env = "IPDR_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECONDS",
        help_heading = "Target"
    )]
    pub timeout: f64,
    /// Extra attempts after a network error (connect failure, timeout, reset); never after an HTTP response.
    #[arg(
        long,
        env = "IPDR_RETRIES",
        default_value_t = 0,
        value_name = "N",
        help_heading = "Target"
    )]
    pub retries: u32,
    /// Read the API token from this file (first line) instead of IPDR_API_TOKEN / --api-token.
    #[arg(
        long,
        env = "IPDR_API_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Credentials"
    )]
    pub api_token_file: Option<PathBuf>,
    /// A second user, for cross-user checks (skipped without it): its username.
    #[arg(long, env = "IPDR_OTHER_USERNAME", help_heading = "Credentials")]
    pub other_username: Option<String>,
    /// The second user's API token (prefer the environment variable or the file).
    #[arg(
        long,
        env = "IPDR_OTHER_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Credentials"
    )]
    pub other_api_token: Option<ApiToken>,
    /// Read the second user's API token from this file (first line).
    #[arg(
        long,
        env = "IPDR_OTHER_API_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Credentials"
    )]
    pub other_api_token_file: Option<PathBuf>,
    /// A context only the second user may access.
    #[arg(long, env = "IPDR_OTHER_CONTEXT", help_heading = "Credentials")]
    pub other_context: Option<String>,
}

impl TargetArgs {
    /// The per-request timeout, checked.
    pub fn timeout(&self) -> Result<Duration, SetupError> {
        let seconds = self.timeout;
        if seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 {
            Ok(Duration::from_secs_f64(seconds))
        } else {
            Err(SetupError::Configuration(format!(
                "--timeout {seconds} must be between 0 and 3600 seconds"
            )))
        }
    }

    /// Whether credentials were given (they are ignored without `--target`).
    pub fn has_credentials(&self) -> bool {
        self.api_token.is_some() || self.username.is_some()
    }

    /// The target at `url` with these credentials, checked as `run` checks them.
    pub fn target(&self, url: &str) -> Result<Target, SetupError> {
        let base_url = base_url(url, "--target")?;
        let api_token = token_from(
            self.api_token.as_ref(),
            self.api_token_file.as_ref(),
            ("IPDR_API_TOKEN", "--api-token"),
            "--api-token-file",
        )?
        .ok_or_else(|| {
            SetupError::Configuration(
                "--target needs an api token (IPDR_API_TOKEN, --api-token-file or --api-token)"
                    .to_string(),
            )
        })?;
        let username = self
            .username
            .clone()
            .filter(|username| !username.is_empty())
            .ok_or_else(|| {
                SetupError::Configuration(
                    "--target needs a username (IPDR_USERNAME or --username)".to_string(),
                )
            })?;
        Ok(Target {
            base_url,
            api_token,
            username,
            context: self.context.clone(),
            second_context: self.second_context.clone(),
            forbidden_context: self.forbidden_context.clone(),
            other: self.other_user()?,
            timeout: self.timeout()?,
        })
    }

    /// The `--other-*` user: all three of username, token and context, or none.
    fn other_user(&self) -> Result<Option<OtherUser>, SetupError> {
        let api_token = token_from(
            self.other_api_token.as_ref(),
            self.other_api_token_file.as_ref(),
            ("IPDR_OTHER_API_TOKEN", "--other-api-token"),
            "--other-api-token-file",
        )?;
        match (&self.other_username, api_token, &self.other_context) {
            (None, None, None) => Ok(None),
            (Some(username), Some(api_token), Some(context))
                if !username.is_empty() && !context.is_empty() =>
            {
                Ok(Some(OtherUser {
                    username: username.clone(),
                    api_token,
                    context: context.clone(),
                }))
            }
            _ => Err(SetupError::Configuration(
                "the cross-user checks need all of --other-username, --other-api-token (or its file or IPDR_OTHER_API_TOKEN) and --other-context".to_string(),
            )),
        }
    }
}

/// A token given once, by flag or environment variable (`variable_and_flag`)
/// or by file; a BOM and trailing line endings are removed, and an empty
/// result names where it came from: the variable, the flag or the file.
fn token_from(
    flag: Option<&ApiToken>,
    file: Option<&PathBuf>,
    (variable, flag_name): (&str, &str),
    file_flag: &str,
) -> Result<Option<ApiToken>, SetupError> {
    let empty = |error: EmptyToken| SetupError::Configuration(error.to_string());
    match (file, flag) {
        (Some(_), Some(_)) => Err(SetupError::Configuration(format!(
            "give the token once: {file_flag}, or {variable} / {flag_name}"
        ))),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                SetupError::Configuration(format!("{file_flag} {}: {error}", path.display()))
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            // The first line only, as documented.
            let first = text.lines().next().unwrap_or("").trim();
            ApiToken::from_source(first, &format!("{file_flag} {}", path.display()))
                .map(Some)
                .map_err(empty)
        }
        (None, Some(token)) => {
            ApiToken::from_source(token.expose(), &token_source(token, variable, flag_name))
                .map(Some)
                .map_err(empty)
        }
        (None, None) => Ok(None),
    }
}

/// Which of `variable` or `flag` gave `token` (clap does not say): the
/// variable when it holds exactly this value, else the flag.
pub fn token_source(token: &ApiToken, variable: &str, flag: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if value == token.expose() => variable.to_string(),
        _ => flag.to_string(),
    }
}

/// Most `--retries`: each retry waits for a timeout, so more only hides a dead target.
pub const MAX_RETRIES: u32 = 10;

impl TargetArgs {
    /// `--retries`, checked against [`MAX_RETRIES`].
    pub fn retries(&self) -> Result<u32, SetupError> {
        if self.retries > MAX_RETRIES {
            return Err(SetupError::Configuration(format!(
                "--retries {} is more than the most allowed, {MAX_RETRIES}",
                self.retries
            )));
        }
        Ok(self.retries)
    }
}
