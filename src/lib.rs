//! ipdr-conformance: a conformance harness and contract specification for
//! the Trisul IPDR Customer Management API.
//!
//! Where things are decided:
//! - [`spec`]: what the API promises ([`spec::contract`]), the scenario
//!   format ([`spec::scenario`]) and the schemas generated from both.
//! - [`execution`]: talking to a target and running scenarios as trials.
//! - [`report`]: how results are shown to people.
//! - [`selfcheck`]: the harness proving itself against broken and
//!   differently-conformant variants of the reference server.
//! - [`mod@reference`]: the embedded reference server, which depends on the
//!   contract only.

pub mod bench;
pub mod execution;
pub mod reference;
pub mod report;
pub mod selfcheck;
pub mod spec;
