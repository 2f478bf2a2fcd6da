//! STUB (helper A, issue 11): the request gate's API as the brief's contract
//! gives it, so that `run` can be wired to it before helper B's gate lands.
//! This stub only counts requests: it bounds nothing, paces nothing and has
//! no circuit breaker. Helper B's `src/execution/gate.rs` replaces this file
//! at merge; nothing may be built on what this stub does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Requests in flight across a run by default (STUB value; helper B measures the real one).
pub const DEFAULT_JOBS: usize = 8;

/// Consecutive transport errors after which the breaker opens (STUB value).
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;

/// How the gate bounds a run's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Most requests in flight at once, across the whole run (`--jobs`).
    pub jobs: usize,
    /// Most requests started per second (`--max-rps`), if any.
    pub max_rps: Option<f64>,
    /// Consecutive transport errors that open the circuit breaker.
    pub breaker_failures: u32,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            jobs: DEFAULT_JOBS,
            max_rps: None,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
        }
    }
}

/// Every request of a run to one target passes through here (STUB: counted only).
#[derive(Debug)]
pub struct RequestGate {
    config: GateConfig,
    sent: AtomicU64,
}

impl RequestGate {
    /// A gate for one target.
    pub fn new(config: GateConfig) -> Arc<RequestGate> {
        Arc::new(RequestGate {
            config,
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent through this gate so far.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// STUB: counts one request (helper B's gate admits, paces and breaks here).
    pub(crate) fn count(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
}
