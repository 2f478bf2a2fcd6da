//! Presentation: how results are shown to people. Nothing here decides a
//! verdict; it only renders what execution found, with the token redacted.

pub mod console;
pub mod curl;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod redact;
pub mod run_report;
pub mod snapshot_diff;
