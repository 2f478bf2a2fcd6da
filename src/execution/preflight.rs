//! The preflight: before any trial, the target must answer as this API does,
//! and every configured context and user must behave as declared. A
//! mismatch is the operator's to fix, not a finding about the server: the run
//! stops with exit 2 and one line per mismatch, naming the flag.
//!
//! One list (GET /api/ipdrcustomers, "Retrieving Customer List") per
//! configured context, all sent at once:
//! - `--context` as `--username`: HTTP 2xx and JSON, or a documented error
//!   envelope ("Error Handling"), which names the credential or context to
//!   fix. Anything else (HTML, an empty or non-JSON body, a 404 under a wrong
//!   path prefix, a 5xx) is said in one line: status, content type, path;
//! - `--second-context`: listed;
//! - `--forbidden-context`: refused. Listed, it is not forbidden; refused
//!   with the invalid-context envelope, the target says it does not exist,
//!   unless the other user has just listed it (the target then does not tell
//!   a missing context from a forbidden one, and the trials judge that);
//! - `--other-*`: the other user lists `--other-context`.
//!
//! Only when credentials are refused is one more list sent: a made-up
//! username with the same token, so that a wrong username is told from a
//! wrong token where the target answers the two differently (the page's
//! one token envelope does not say which). Only when the target does not
//! answer is its scheme probed, without a body (so without the token).
//!
//! Where the target answers as an API that departs from the page (a JSON
//! object instead of the list, an envelope in other words, a refusal of the
//! forbidden context in a shape of its own), the preflight passes: it judges
//! the configuration, the trials judge the server.

use std::fmt;

use serde_json::Value;

use super::list_stream::{Glance, KeepWhere};

use super::client::{self, Client, Exchange, Speaks, TransportError};
use super::target::{ApiToken, Target};
use crate::spec::contract::{DocumentedError, COLLECTION_PATH, MESSAGE_INVALID_TOKEN};

/// The username sent to learn how the target answers one it does not know.
pub const MADE_UP_USERNAME: &str = "zzconf-no-such-user";

/// Longest excerpt of a body quoted in a preflight message, in characters.
const QUOTED_CHARS: usize = 80;

/// How a target's flags are named in messages (`run --target`, or `--compare-with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagNames {
    /// The base URL.
    pub target: &'static str,
    /// The username.
    pub username: &'static str,
    /// The token (and its variable and file).
    pub api_token: &'static str,
    /// The context.
    pub context: &'static str,
    /// The second context.
    pub second_context: &'static str,
    /// The forbidden context.
    pub forbidden_context: &'static str,
}

impl FlagNames {
    /// The flags of `run`, `sweep` and `selfcheck`.
    pub const TARGET: FlagNames = FlagNames {
        target: "--target",
        username: "--username",
        api_token: "--api-token",
        context: "--context",
        second_context: "--second-context",
        forbidden_context: "--forbidden-context",
    };

    /// The flags of the `--compare-with` target.
    pub const COMPARE: FlagNames = FlagNames {
        target: "--compare-with",
        username: "--compare-username",
        api_token: "--compare-api-token",
        context: "--compare-context",
        second_context: "--compare-second-context",
        forbidden_context: "--compare-forbidden-context",
    };
}

/// The other user's flags (there is no `--compare-other-*`).
const OTHER_USERNAME: &str = "--other-username";
const OTHER_API_TOKEN: &str = "--other-api-token";
const OTHER_CONTEXT: &str = "--other-context";

/// One mismatch between the configuration and the target: the flag, and one line why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {reason}")]
pub struct Mismatch {
    /// The flag to fix, e.g. `--second-context`.
    pub flag: &'static str,
    /// How the message starts: the flag, with its value when it has one.
    pub subject: String,
    /// What the target answered, and what to do.
    pub reason: String,
}

impl Mismatch {
    fn new(flag: &'static str, value: &str, reason: impl Into<String>) -> Mismatch {
        Mismatch {
            flag,
            subject: if value.is_empty() {
                flag.to_string()
            } else {
                format!("{flag} {value}")
            },
            reason: reason.into(),
        }
    }
}

/// Every mismatch the preflight found, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatches(pub Vec<Mismatch>);

impl fmt::Display for Mismatches {
    /// One line each; the lines after the first start with `error: `, as the
    /// command line prints the first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, mismatch) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\nerror: ")?;
            }
            write!(f, "{mismatch}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatches {}

/// Why the preflight stopped the run.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The target did not answer.
    #[error("the target {url} is unreachable: {reason}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Why, in one line.
        reason: String,
    },
    /// The target answered, but not as the configuration declares.
    #[error("{0}")]
    Mismatches(Mismatches),
}

impl From<Mismatch> for PreflightError {
    fn from(mismatch: Mismatch) -> PreflightError {
        PreflightError::Mismatches(Mismatches(vec![mismatch]))
    }
}

/// What one list answered, as the preflight reads it.
#[derive(Debug, Clone)]
enum ListAnswer {
    /// HTTP 2xx and a JSON array.
    Listed,
    /// HTTP 2xx and JSON that is neither a list nor a refusal: this API,
    /// departing from the page; the trials judge it.
    OtherJson,
    /// An error envelope (`status` "error" in any case, or a documented message).
    Refused(Refusal),
    /// Not this API: what answered, in words.
    Foreign(Foreign),
    /// No answer.
    Unanswered(TransportError),
}

/// A refusal: which documented error it is, if any, and how it is shown.
#[derive(Debug, Clone)]
struct Refusal {
    /// The documented error its message is (case and wording aside).
    error: Option<DocumentedError>,
    /// The HTTP status.
    status: u16,
    /// The `message` member.
    message: String,
    /// The body, redacted, on one line.
    shown: String,
}

/// An answer that is not this API's.
#[derive(Debug, Clone)]
struct Foreign {
    /// The HTTP status.
    status: u16,
    /// `HTTP 404 text/html at /trisul/api/ipdrcustomers (not JSON: "<html>…")`.
    described: String,
    /// Whether the body asks for TLS ("Client sent an HTTP request to an HTTPS server").
    wants_tls: bool,
}

/// The documented error `message` is, ignoring case and the rewording of the name part.
fn documented_error(message: &str) -> Option<DocumentedError> {
    let lower = message.to_ascii_lowercase();
    if message.eq_ignore_ascii_case(MESSAGE_INVALID_TOKEN) {
        Some(DocumentedError::InvalidToken)
    } else if lower.starts_with("invalid context name") {
        Some(DocumentedError::InvalidContext)
    } else if lower.contains("is not allowed to access the context") {
        Some(DocumentedError::ForbiddenContext)
    } else {
        None
    }
}

/// `text` on one line, at most [`QUOTED_CHARS`] characters, in quotes.
fn quoted(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    match line.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &line[..cut])),
        None => format!("{line:?}"),
    }
}

/// Reads one list's exchange.
fn classify(exchange: &Exchange, target: &Target) -> ListAnswer {
    let response = match &exchange.response {
        Ok(response) => response,
        Err(error) => return ListAnswer::Unanswered(error.clone()),
    };
    let redactor = target.redactor();
    let success = (200..300).contains(&response.status);
    if let Some(json) = &response.json {
        if let Some(object) = json.as_object() {
            let message = object.get("message").and_then(Value::as_str);
            let status = object.get("status").and_then(Value::as_str);
            if let Some(message) = message {
                let error = documented_error(message);
                if error.is_some() || status.is_some_and(|s| s.eq_ignore_ascii_case("error")) {
                    return ListAnswer::Refused(Refusal {
                        error,
                        status: response.status,
                        message: message.to_string(),
                        shown: cut(&redactor.text(&json.to_string())),
                    });
                }
            }
        }
        if success {
            return if json.is_array() {
                ListAnswer::Listed
            } else {
                ListAnswer::OtherJson
            };
        }
    }
    let path = reqwest::Url::parse(&exchange.request.url)
        .map(|url| url.path().to_string())
        .unwrap_or_else(|_| COLLECTION_PATH.to_string());
    let media = response
        .content_type
        .as_deref()
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .filter(|media| !media.is_empty())
        .unwrap_or("(no content type)");
    let body = redactor.text(&response.body);
    let what = if response.truncated {
        format!("a body over {} MiB", client::MAX_BODY_BYTES >> 20)
    } else if !response.utf8 {
        "a body that is not UTF-8".to_string()
    } else if response.body_bytes == 0 {
        "an empty body".to_string()
    } else if response.json.is_some() {
        cut(&body)
    } else {
        format!("not JSON: {}", quoted(&body))
    };
    ListAnswer::Foreign(Foreign {
        status: response.status,
        described: format!("HTTP {} {media} at {path} ({what})", response.status),
        wants_tls: response.status == 400 && body.contains("HTTPS"),
    })
}

/// JSON text (one line, already redacted), cut at twice [`QUOTED_CHARS`]: an envelope is shown whole.
fn cut(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS * 2) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A list in `context` as `username` with `token`.
async fn list_as(client: &Client, username: &str, token: &ApiToken, context: &str) -> Exchange {
    let body = serde_json::json!({
        "api_token": token.expose(),
        "username": username,
        "contextname": context,
    })
    .to_string();
    // Only whether it is a list matters here: no element is kept.
    let mut sink = KeepWhere(|_: &Glance| false);
    client
        .send_list("GET", COLLECTION_PATH, Some(body), &mut sink)
        .await
}

/// A list, or nothing when there is nothing to check.
async fn list_if(
    client: &Client,
    credentials: Option<(&str, &ApiToken, &str)>,
) -> Option<Exchange> {
    match credentials {
        Some((username, token, context)) => Some(list_as(client, username, token, context).await),
        None => None,
    }
}

/// One user's credentials and the flags that name them.
struct User<'a> {
    username: &'a str,
    token: &'a ApiToken,
    context: &'a str,
    username_flag: &'static str,
    token_flag: &'static str,
    context_flag: &'static str,
}

/// What the preflight checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything configured (`run`, `selfcheck`).
    Everything,
    /// The endpoint, the credentials and `--context` only (`sweep`, which
    /// takes its contexts from the ledger and must clean up whatever else is declared).
    Credentials,
}

/// Runs the whole preflight of the target `client` talks to, its flags named as `flags`.
pub async fn check(client: &Client, flags: &FlagNames) -> Result<(), PreflightError> {
    check_scoped(client, flags, Scope::Everything).await
}

/// Runs the preflight's checks in `scope`.
pub async fn check_scoped<'a>(
    client: &'a Client,
    flags: &FlagNames,
    scope: Scope,
) -> Result<(), PreflightError> {
    let everything = scope == Scope::Everything;
    let target = client.target();
    if everything {
        same_context_twice(target, flags)?;
    }
    let main = User {
        username: &target.username,
        token: &target.api_token,
        context: &target.context,
        username_flag: flags.username,
        token_flag: flags.api_token,
        context_flag: flags.context,
    };
    let other = target
        .other
        .as_ref()
        .filter(|_| everything)
        .map(|other| User {
            username: &other.username,
            token: &other.api_token,
            context: &other.context,
            username_flag: OTHER_USERNAME,
            token_flag: OTHER_API_TOKEN,
            context_flag: OTHER_CONTEXT,
        });
    let as_main = |context: Option<&'a str>| {
        context
            .filter(|_| everything)
            .map(|context| (main.username, main.token, context))
    };
    // Independent of each other: one round.
    let (main_list, second_list, forbidden_list, other_list) = tokio::join!(
        list_as(client, main.username, main.token, main.context),
        list_if(client, as_main(target.second_context.as_deref())),
        list_if(client, as_main(target.forbidden_context.as_deref())),
        list_if(
            client,
            other
                .as_ref()
                .map(|other| (other.username, other.token, other.context)),
        ),
    );
    match classify(&main_list, target) {
        ListAnswer::Listed | ListAnswer::OtherJson => {}
        ListAnswer::Unanswered(error) => return Err(unanswered(target, &error, flags).await),
        ListAnswer::Foreign(foreign) => return Err(not_this_api(target, &foreign, flags).into()),
        ListAnswer::Refused(refusal) => {
            return Err(refused_user(client, &main, &refusal).await.into());
        }
    }
    let mut mismatches = Vec::new();
    let mut other_listed = false;
    if let (Some(other), Some(exchange)) = (&other, &other_list) {
        match classify(exchange, target) {
            ListAnswer::Listed | ListAnswer::OtherJson => other_listed = true,
            ListAnswer::Refused(refusal) => {
                mismatches.push(refused_user(client, other, &refusal).await);
            }
            answer => mismatches.push(unlisted(
                other.username_flag,
                other.username,
                &answer,
                &format!("{} {}", other.context_flag, other.context),
            )),
        }
    }
    if let (Some(context), Some(exchange)) = (&target.second_context, &second_list) {
        if let Some(mismatch) = second_context(target, context, exchange, flags) {
            mismatches.push(mismatch);
        }
    }
    if let (Some(context), Some(exchange)) = (&target.forbidden_context, &forbidden_list) {
        let listed_by_other = other_listed && other.as_ref().is_some_and(|o| o.context == context);
        if let Some(mismatch) = forbidden_context(target, context, exchange, listed_by_other, flags)
        {
            mismatches.push(mismatch);
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(PreflightError::Mismatches(Mismatches(mismatches)))
    }
}

/// A context named by two flags that must name different ones.
fn same_context_twice(target: &Target, flags: &FlagNames) -> Result<(), PreflightError> {
    let named = [
        (flags.context, Some(&target.context)),
        (flags.second_context, target.second_context.as_ref()),
        (flags.forbidden_context, target.forbidden_context.as_ref()),
    ];
    for (index, (flag, context)) in named.iter().enumerate() {
        let Some(context) = context else { continue };
        if let Some((earlier, _)) = named[..index]
            .iter()
            .find(|(_, other)| *other == Some(*context))
        {
            return Err(Mismatch::new(
                flag,
                context,
                format!(
                    "it is {earlier} too; {flag} must name another context ({})",
                    purpose(flag, flags, &target.username)
                ),
            )
            .into());
        }
    }
    if let Some(other) = &target.other {
        if other.username == target.username {
            return Err(Mismatch::new(
                OTHER_USERNAME,
                &other.username,
                format!(
                    "it is {} too; the cross-user checks need a second user",
                    flags.username
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// What a context flag must name, for the hint at the end of a message.
fn purpose(flag: &str, flags: &FlagNames, username: &str) -> String {
    if flag == flags.forbidden_context {
        format!("an existing context {username} may not access")
    } else {
        format!("a context {username} may access")
    }
}

/// The main list got no answer: a scheme that does not match the server's, or unreachable.
async fn unanswered(target: &Target, error: &TransportError, flags: &FlagNames) -> PreflightError {
    let unreachable = || PreflightError::Unreachable {
        url: target.base_url.clone(),
        reason: error.to_string(),
    };
    let Ok(mut url) = reqwest::Url::parse(&target.base_url) else {
        return unreachable();
    };
    let text = error.to_string();
    let (other_scheme, speaks, says) = match url.scheme() {
        "https" if text.contains("TLS handshake failed") => {
            ("http", Speaks::PlainHttp, "plain HTTP, not TLS")
        }
        // A TLS server's alert is not an HTTP status line.
        "http" if text.starts_with("no valid response") => {
            ("https", Speaks::Tls, "TLS, not plain HTTP")
        }
        _ => return unreachable(),
    };
    let port = url.port_or_known_default();
    if url.set_scheme(other_scheme).is_err() || url.set_port(port).is_err() {
        return unreachable();
    }
    let suggested = url.as_str().trim_end_matches('/').to_string();
    if client::speaks(&suggested, target.timeout).await != speaks {
        return unreachable();
    }
    Mismatch::new(
        flags.target,
        &target.base_url,
        format!(
            "the server there answered {says}: try {} {suggested}",
            flags.target
        ),
    )
    .into()
}

/// The main list answered something that is not this API.
fn not_this_api(target: &Target, foreign: &Foreign, flags: &FlagNames) -> Mismatch {
    let hint = if foreign.wants_tls && target.base_url.starts_with("http:") {
        format!(
            "the server wants TLS: try {} https{}",
            flags.target,
            &target.base_url["http".len()..]
        )
    } else if foreign.status >= 500 {
        "is the target healthy, and the base URL right?".to_string()
    } else {
        "is the base URL right?".to_string()
    };
    Mismatch::new(
        flags.target,
        &target.base_url,
        format!(
            "{}, not a JSON list or a documented error envelope: {hint}",
            foreign.described
        ),
    )
}

/// A list of a user's own context refused: which credential or context to fix.
async fn refused_user(client: &Client, user: &User<'_>, refusal: &Refusal) -> Mismatch {
    let shown = &refusal.shown;
    match refusal.error {
        Some(DocumentedError::InvalidContext) => Mismatch::new(
            user.context_flag,
            user.context,
            format!("the target says there is no such context: {shown}"),
        ),
        Some(DocumentedError::ForbiddenContext) => Mismatch::new(
            user.context_flag,
            user.context,
            format!(
                "the target says {} may not access it: {shown}",
                user.username
            ),
        ),
        Some(DocumentedError::InvalidToken) => refused_credentials(client, user, refusal).await,
        None if about_credentials(&refusal.message) => {
            refused_credentials(client, user, refusal).await
        }
        None => Mismatch::new(
            user.context_flag,
            user.context,
            format!(
                "the target refused a list there as {} with {shown}, an error the page does not document",
                user.username
            ),
        ),
    }
}

/// Whether an undocumented refusal's `message` is about who is asking.
fn about_credentials(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "token",
        "user",
        "auth",
        "credential",
        "login",
        "key",
        "password",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// Refused credentials: a made-up username with the same token tells a
/// wrong username from a wrong token, where the target answers them differently.
async fn refused_credentials(client: &Client, user: &User<'_>, refusal: &Refusal) -> Mismatch {
    let probe = list_as(client, MADE_UP_USERNAME, user.token, user.context).await;
    let made_up = match classify(&probe, client.target()) {
        ListAnswer::Refused(made_up) => Some(made_up),
        _ => None,
    };
    let shown = &refusal.shown;
    let context = format!("{} {}", user.context_flag, user.context);
    let undecided = |why: &str| {
        Mismatch {
        flag: user.token_flag,
        subject: format!("{} {} / {}", user.username_flag, user.username, user.token_flag),
        reason: format!(
            "refused in {context} with {shown}: the token is wrong, or not {}'s, or the username is wrong ({why})",
            user.username
        ),
    }
    };
    let Some(made_up) = made_up else {
        return undecided(
            "a made-up username got no refusal to compare with, so it cannot be told which",
        );
    };
    let same = made_up.status == refusal.status
        && made_up.message.replace(MADE_UP_USERNAME, user.username) == refusal.message;
    if !same {
        return Mismatch::new(
            user.token_flag,
            "",
            format!(
                "the target refuses this token for {} {} ({context}): {shown}; a made-up username gets another answer ({}), so the username is known and the token is wrong, or not {}'s",
                user.username_flag, user.username, made_up.shown, user.username
            ),
        );
    }
    let message = refusal.message.to_ascii_lowercase();
    if message.contains("user") && !message.contains("token") {
        return Mismatch::new(
            user.username_flag,
            user.username,
            format!(
                "the target answers it as it answers a made-up username ({context}): {shown}: is the username right?"
            ),
        );
    }
    undecided("the target answers a made-up username the same way, so it cannot be told which")
}

/// A user's list that got neither a list nor a refusal, after the main one did.
fn unlisted(flag: &'static str, value: &str, answer: &ListAnswer, context: &str) -> Mismatch {
    let what = match answer {
        ListAnswer::Foreign(foreign) => format!(
            "{}, not a JSON list or a documented error envelope",
            foreign.described
        ),
        ListAnswer::Unanswered(error) => format!("no answer: {error}"),
        ListAnswer::Refused(refusal) => format!("refused: {}", refusal.shown),
        ListAnswer::Listed | ListAnswer::OtherJson => "listed".to_string(),
    };
    Mismatch::new(flag, value, format!("a list ({context}) got {what}"))
}

/// `--second-context`: must be listed.
fn second_context(
    target: &Target,
    context: &str,
    exchange: &Exchange,
    flags: &FlagNames,
) -> Option<Mismatch> {
    let user = &target.username;
    let flag = flags.second_context;
    let reason = match classify(exchange, target) {
        ListAnswer::Listed | ListAnswer::OtherJson => return None,
        ListAnswer::Refused(refusal) => match refusal.error {
            Some(DocumentedError::InvalidContext) => {
                format!(
                    "the target says there is no such context: {}",
                    refusal.shown
                )
            }
            Some(DocumentedError::ForbiddenContext) => {
                format!(
                    "the target says {user} may not access it: {}",
                    refusal.shown
                )
            }
            _ => format!("the target refused a list there: {}", refusal.shown),
        },
        answer => unlisted(flag, context, &answer, &format!("as {user}")).reason,
    };
    Some(Mismatch::new(
        flag,
        context,
        format!("{reason}: name a second context {user} may access"),
    ))
}

/// `--forbidden-context`: must exist and be refused.
fn forbidden_context(
    target: &Target,
    context: &str,
    exchange: &Exchange,
    listed_by_other: bool,
    flags: &FlagNames,
) -> Option<Mismatch> {
    let user = &target.username;
    let flag = flags.forbidden_context;
    let reason = match classify(exchange, target) {
        ListAnswer::Listed => format!(
            "{user} may list it (HTTP 200, a JSON list): name an existing context {user} may not access (or, if {user} truly may not access {context}, the target does not enforce context access, \"Authentication\")"
        ),
        ListAnswer::Refused(Refusal {
            error: Some(DocumentedError::InvalidContext),
            shown,
            ..
        }) if !listed_by_other => format!(
            "the target says there is no such context: {shown}: name an existing context {user} may not access"
        ),
        // Refused (in whatever words), or answered in a way the trials judge.
        _ => return None,
    };
    Some(Mismatch::new(flag, context, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_messages_are_recognised_in_other_case_and_wording() {
        assert_eq!(
            documented_error("Invalid API token"),
            Some(DocumentedError::InvalidToken)
        );
        assert_eq!(
            documented_error("invalid api TOKEN"),
            Some(DocumentedError::InvalidToken)
        );
        assert_eq!(
            documented_error("Invalid context name: nosuch"),
            Some(DocumentedError::InvalidContext)
        );
        assert_eq!(
            documented_error("The user () is not allowed to access the context x"),
            Some(DocumentedError::ForbiddenContext)
        );
        assert_eq!(documented_error("Unknown user"), None);
    }

    #[test]
    fn quotes_are_one_line_and_short() {
        assert_eq!(quoted("<html>\n<body>"), "\"<html> <body>\"");
        let long = "x".repeat(200);
        assert_eq!(quoted(&long), format!("\"{}…\"", "x".repeat(QUOTED_CHARS)));
    }

    #[test]
    fn several_mismatches_are_one_line_each() {
        let mismatches = Mismatches(vec![
            Mismatch::new("--second-context", "nosuch", "a"),
            Mismatch::new("--api-token", "", "b"),
        ]);
        assert_eq!(
            mismatches.to_string(),
            "--second-context nosuch: a\nerror: --api-token: b"
        );
    }
}
