//! What a run produces, shared by the engine that produces it
//! ([`crate::execution`]) and the reporters that show it ([`crate::report`]):
//! exchanges, step and scenario outcomes, trial records and their one
//! verdict, redaction, the event stream, snapshot comparisons and the exit
//! status. It imports neither of them (only [`crate::spec`]), so no cycle is
//! left between the modules.

pub mod event;
pub mod exchange;
pub mod exit;
pub mod redact;
pub mod scenario;
pub mod snapshot;
pub mod trial;
