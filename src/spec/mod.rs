//! The specification: the API contract, the scenario format, and the
//! schemas generated from them.

pub mod adversarial;
pub mod contract;
pub mod glance;
pub mod load;
pub mod model;
pub mod pattern;
pub mod scenario;
pub mod schema;
pub mod tamper;
pub mod template;
