//! The declarative scenario format (`specs/**/*.json`).
//!
//! A scenario is a named list of steps at one [`Level`], citing the vendor
//! doc section it checks. Steps are requests with expectations. Strings in a
//! request or an expectation may hold variables (see [`Request`]); expected
//! bodies are patterns (see [`Expect::body`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How firmly the vendor page backs a check.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The page says it.
    Documented,
    /// It follows unavoidably from what the page says.
    Inferred,
    /// The page is silent: report what the target does, never fail by default.
    Observed,
}

impl Level {
    /// Whether a mismatch at this level fails the trial.
    pub fn is_binding(self) -> bool {
        !matches!(self, Level::Observed)
    }

    /// The lower-case name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Documented => "documented",
            Level::Inferred => "inferred",
            Level::Observed => "observed",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tag of scenarios that run only in deep mode (`run --deep`): they cost
/// too much against a remote target to be in every run.
pub const DEEP_TAG: &str = "deep";

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Scenario")]
pub struct Scenario {
    /// Unique trial name, `::`-separated (e.g. `errors::invalid_token::list`).
    pub name: String,
    /// The level of every step, unless a step relaxes it.
    pub level: Level,
    /// The vendor doc section (and sentence, where one matters) the scenario checks.
    pub citation: String,
    /// Free-form tags, e.g. the operations touched.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Why the scenario exists, when the name does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The steps, run in order.
    pub steps: Vec<Step>,
}

/// One request and what must come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step does, in a few words.
    pub name: String,
    /// Relaxes the scenario's level for this step only (never stricter than the scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The request to send.
    pub request: Request,
    /// What the response must look like.
    #[serde(default)]
    pub expect: Expect,
    /// Variables to take from the response body: variable name → JSON pointer (e.g. `"/id"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<String, String>,
    /// Names this step's outcome (accepted or refused, see [`Answer`]) for later steps' `only_if`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Runs this step only when an earlier step ended as given; otherwise it is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_if: Option<OnlyIf>,
}

/// A condition on an earlier step's outcome (its `outcome` name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OnlyIf {
    /// The named step's answer claimed success (HTTP 2xx and the customer object).
    Accepted(String),
    /// The named step's answer was a refusal (anything else).
    Refused(String),
}

/// Which answers a step allows, by outcome.
///
/// A success is HTTP 2xx with the customer object of the request's UserID
/// ([`crate::spec::contract::claims_success`]), or for a list HTTP 2xx with
/// an array; anything else is a refusal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The answer must match `status`, `json` and `body`.
    #[default]
    AsGiven,
    /// The answer must be a refusal, of any shape and any HTTP status (the page names none).
    Refusal,
    /// A refusal, of any shape and status, or a success that matches `status`, `json` and `body`
    /// (the page is silent on whether such a request is accepted, but explicit about what a success looks like).
    SuccessOrRefusal,
}

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// List.
    Get,
    /// Create.
    Post,
    /// Full update.
    Put,
    /// Partial update.
    Patch,
    /// Delete.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether the request may change data on the target.
    pub fn is_mutating(self) -> bool {
        !matches!(self, Method::Get)
    }
}

/// A request. Strings in `path`, `body` and `raw_body` may hold variables:
/// `${uid:LABEL}` (a UserID unique to this run and scenario), `${context}`,
/// `${second_context}`, `${forbidden_context}`, `${invalid_context}`,
/// `${username}`, `${other_username}`, `${other_context}`, `${repeat:TEXT:N}` (TEXT repeated N times), `${copy}`
/// (the copy's index in a concurrent step), and any captured variable `${NAME}`. A string that is exactly one variable takes
/// the variable's JSON type. `${api_token}` is allowed in `raw_body` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Path below the target's base URL, e.g. `/api/ipdrcustomers/${uid:a}`.
    pub path: String,
    /// Which auth parameters to inject into the body ("Authentication": always in the body).
    #[serde(default)]
    pub auth: AuthVariant,
    /// JSON object of the non-auth fields; the auth parameters are merged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A body sent verbatim (after variables), with no auth injected: for malformed JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
    /// Send this many copies of the request at once; the step expects every response to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u32>,
}

/// Which auth parameters a request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthVariant {
    /// The target's configured token, username and context.
    #[default]
    Default,
    /// The configured username and context with a token the target cannot know.
    InvalidToken,
    /// The configured token and username with a context that does not exist.
    InvalidContext,
    /// The configured token and username with an existing context the user may not access.
    ForbiddenContext,
    /// The configured token and username with a second context the user may access.
    SecondContext,
    /// No auth parameters at all.
    Omitted,
    /// Explicit values; any field left out takes the configured value.
    Explicit(ExplicitAuth),
    /// The configured parameters with one spoiled (see [`crate::spec::tamper`]).
    Tampered(TamperedAuth),
    /// The other user's token and username in the other user's context (`--other-*`).
    OtherUser,
}

/// One auth parameter spoiled, the other two as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TamperedAuth {
    /// Which parameter.
    pub field: crate::spec::tamper::AuthField,
    /// How it is spoiled.
    pub tamper: crate::spec::tamper::Tamper,
}

/// Whose token a request carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// The configured user's (`--api-token`).
    #[default]
    Configured,
    /// The other user's (`--other-api-token`).
    Other,
}

/// Explicit auth values for [`AuthVariant::Explicit`]; each may hold variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplicitAuth {
    /// Token to send instead of the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token: Option<String>,
    /// Send this principal's real token (never written into a file); `api_token` must then be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_of: Option<Principal>,
    /// Username to send instead of the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Context to send instead of the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contextname: Option<String>,
}

impl ExplicitAuth {
    /// The values given, in the order token, username, context.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        [&self.api_token, &self.username, &self.contextname]
            .into_iter()
            .flatten()
    }
}

/// What a response must look like. Every field has a default, so `{}`
/// expects HTTP 200 with a JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Expected HTTP status (every documented response is 200).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Whether the response must be JSON (`application/json` content type and a parseable body).
    #[serde(default = "default_true")]
    pub json: bool,
    /// Which outcomes are allowed; `status`, `json` and `body` apply to the answer unless it is an allowed refusal.
    #[serde(default, skip_serializing_if = "is_as_given")]
    pub answer: Answer,
    /// Expected body, as a pattern. Scalars match by equality (after
    /// variables), arrays element-wise with equal length, objects key by key
    /// (extra keys allowed). Matchers are objects with one `$` key:
    /// `{"$any": "string"|"integer"|"number"|"boolean"|"null"|"array"|"object"|"any"}`,
    /// `{"$absent": true}` (as an object value: the key must be missing),
    /// `{"$exact": {..}}` (object with exactly these keys),
    /// `{"$customer": {..}}` (a customer object: given fields match, `id` any integer, other fields strings, null or absent),
    /// `{"$error": "invalid_token"|"invalid_context"|"forbidden_context"}` (exactly the documented envelope for this request's username and context: `status` and `message`, no other member),
    /// `{"$contains": P}`, `{"$lacks": P}`, `{"$each": P}` (arrays),
    /// `{"$count": {"of": P, "is": N}}`, `{"$one_of": [P, ..]}`, `{"$not": P}`,
    /// `{"$starts_with": TEXT}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

fn is_as_given(answer: &Answer) -> bool {
    *answer == Answer::AsGiven
}

fn default_status() -> u16 {
    200
}

fn default_true() -> bool {
    true
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            status: default_status(),
            json: true,
            answer: Answer::AsGiven,
            body: None,
        }
    }
}

impl Scenario {
    /// The level a step is checked at.
    pub fn step_level(&self, step: &Step) -> Level {
        step.level.unwrap_or(self.level)
    }
}
