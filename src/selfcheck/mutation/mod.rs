//! Self-verification that does not depend on our catalogue of deviations:
//! a mutating proxy applies one generic operator at a time to the traffic
//! between the harness and any target, and the suite must notice.
//!
//! - [`operator`]: the operators and their scopes, enumerated from the
//!   contract, with the equivalent ones explained;
//! - [`response`] and [`request`]: what each operator does to an answer or a request;
//! - [`proxy`]: the HTTP proxy that forwards, and applies one mutant;
//! - [`campaign`]: the suite run once per mutant, stopping at the first kill;
//! - [`table`]: verdicts, the kill rate per operator, and the output.

pub mod campaign;
pub mod operator;
pub mod proxy;
pub mod request;
pub mod response;
pub mod table;

pub use campaign::{run_campaign, Campaign, CampaignError, CampaignOptions, Upstream};
pub use operator::{all_mutants, Mutant, Operator};
pub use proxy::MutatingProxy;
pub use table::{render, MutantVerdict, OperatorTable};
