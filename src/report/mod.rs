//! Presentation: how results are shown to people. Nothing here decides a
//! verdict; it only renders what execution found, with the token redacted.

pub mod console;
pub mod curl;
pub mod markdown;
pub mod redact;
