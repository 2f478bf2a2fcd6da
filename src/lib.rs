//! ipdr-conformance: a conformance harness and contract specification for
//! the Trisul IPDR Customer Management API.
//!
//! Where things are decided:
//! - [`spec`]: what the API promises ([`spec::contract`]), the scenario
//!   format ([`spec::scenario`]) and the schemas generated from both.
//! - [`outcome`]: what a run produces (exchanges, outcomes, trial records,
//!   redaction, the event stream, the exit status); imports only [`spec`].
//! - [`execution`]: talking to a target, planning a run and running it,
//!   emitting events; imports [`outcome`], never [`report`].
//! - [`report`]: reporters fed from the event stream (console, progress,
//!   JUnit, JSON, HTML, Markdown, snapshot summary, exit status); imports
//!   [`outcome`], never [`execution`].
//!
//! The command line (`src/cli/`, a module of the binary) parses arguments
//! into typed configuration ([`execution::engine::RunConfig`]...); the
//! library parses none and prints only through reporters.
//! - [`selfcheck`]: the harness proving itself against broken and
//!   differently-conformant variants of the reference server.
//! - [`mod@reference`]: the embedded reference server, which depends on the
//!   contract only.

pub mod bench;
pub mod execution;
pub mod outcome;
pub mod reference;
pub mod report;
pub mod selfcheck;
pub mod spec;
