//! The request gate: one per target, shared by every client of a run.
//!
//! Every [`Client::send`](super::client::Client::send) through a gate passes
//! three limits and one budget:
//! - **jobs**: at most [`GateConfig::jobs`] requests in flight, each counted
//!   from before its first byte is sent to after its body is read (retries
//!   included);
//! - **rate**: with [`GateConfig::max_rps`], at most that many attempts
//!   started per second, evenly spaced after a small burst;
//! - **circuit breaker**: after [`GateConfig::breaker_failures`] sends in a
//!   row end without any HTTP answer, every later send fails at once, and so
//!   do those still waiting for their turn. It stays open until the run ends:
//!   a run that lost its target is reported, not retried piecemeal, so there
//!   is no half-open probing;
//! - **body budget**: the bodies being read at once hold at most
//!   [`BODY_BUDGET_BYTES`] beyond a small allowance each, however many
//!   requests are in flight and however large the answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::client::{TransportError, MAX_BODY_BYTES};

/// Requests in flight by default, chosen by measurement against a target
/// answering in 20 ms (the whole default suite, 4,900 requests): 16 took
/// 7.0 s, 32 took 3.8 s, 64 took 2.4 s, 128 took 2.1 s. 32 meets the 6 s
/// goal with room, keeps the default run under 60 MB, and asks half as much
/// of a production server as 64 for a gain of 1.4 s; `--jobs` raises it.
pub const DEFAULT_JOBS: usize = 32;

/// Sends in a row without an HTTP answer that open the breaker, by default.
///
/// Five: one lost packet or one slow answer is not an outage, and even with
/// `--retries` each of the five has already been tried again; past five, the
/// remaining requests are far likelier to wait out their timeouts one after
/// another than to meet a target that came back.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;

/// Bytes of response body held at once by every read sharing a gate, beyond
/// each read's first [`BODY_ALLOWANCE_BYTES`]: eight bodies at the cap. A
/// body that declares its length reserves that much, one that does not the cap.
pub const BODY_BUDGET_BYTES: usize = 8 * MAX_BODY_BYTES;

/// The part of each body read without drawing on the budget: ordinary
/// answers are far smaller, so they never wait for it.
pub const BODY_ALLOWANCE_BYTES: usize = 64 * 1024;

/// How many seconds' worth of requests `--max-rps` lets start at once (at least one).
const RATE_BURST_SECONDS: f64 = 0.2;

/// How a gate limits the requests sent through it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Requests in flight at most (`--jobs`); 0 is taken as 1.
    pub jobs: usize,
    /// Attempts started per second at most (`--max-rps`); `None` is unlimited.
    pub max_rps: Option<f64>,
    /// Sends in a row without an HTTP answer that open the breaker; 0 never opens it.
    pub breaker_failures: u32,
}

impl Default for GateConfig {
    fn default() -> GateConfig {
        GateConfig {
            jobs: DEFAULT_JOBS,
            max_rps: None,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
        }
    }
}

/// Why a [`GateConfig`] cannot be used as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateConfigError {
    /// `jobs` is 0.
    #[error("--jobs must be at least 1")]
    NoJobs,
    /// `max_rps` is zero, negative, or not a number.
    #[error("--max-rps must be a positive number of requests per second, not {0}")]
    Rate(f64),
}

impl GateConfig {
    /// Checks the values a person gave; [`RequestGate::new`] accepts any, clamped.
    pub fn validate(&self) -> Result<(), GateConfigError> {
        if self.jobs == 0 {
            return Err(GateConfigError::NoJobs);
        }
        match self.max_rps {
            Some(rate) if !(rate.is_finite() && rate > 0.0) => Err(GateConfigError::Rate(rate)),
            _ => Ok(()),
        }
    }
}

/// Start times for `max_rps`: a token bucket kept as the time the next
/// request may start (GCRA). Each caller is given its own slot, so waiters
/// wake one at a time instead of all at once.
#[derive(Debug)]
struct Pacer {
    /// Time between two starts.
    interval: Duration,
    /// How far ahead of the schedule a start may be: the burst.
    tolerance: Duration,
    /// When the next start is due if no burst is used.
    due: Option<Instant>,
}

impl Pacer {
    fn new(rate: f64) -> Pacer {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let burst = (rate * RATE_BURST_SECONDS).floor().max(1.0);
        Pacer {
            interval,
            tolerance: interval.mul_f64(burst - 1.0),
            due: None,
        }
    }

    /// Claims the next start time at or after `now`.
    fn claim(&mut self, now: Instant) -> Instant {
        let due = self.due.map_or(now, |due| due.max(now));
        self.due = Some(due + self.interval);
        due.checked_sub(self.tolerance)
            .map_or(now, |start| start.max(now))
    }
}

/// The breaker's state.
#[derive(Debug, Default)]
struct Breaker {
    /// Sends in a row that ended without an HTTP answer.
    silent_in_a_row: u32,
    /// Once open: why, as every later send reports it.
    open: Option<TransportError>,
}

/// How one send through the gate ended, for the breaker.
#[derive(Debug)]
pub(crate) enum SendEnd<'a> {
    /// An HTTP answer of any status.
    Answered,
    /// No HTTP answer at all (refused, reset, timed out, TLS, ...).
    Silent(&'a TransportError),
}

/// Limits shared by every client of one target; see the [module](self) docs.
#[derive(Debug)]
pub struct RequestGate {
    config: GateConfig,
    in_flight: Semaphore,
    pacer: Option<Mutex<Pacer>>,
    breaker: Mutex<Breaker>,
    /// Turns true when the breaker opens, to wake whoever waits for a start time.
    opened: watch::Sender<bool>,
    body_budget: Semaphore,
    sent: AtomicU64,
}

/// A place among the requests in flight, held until the send ends.
#[derive(Debug)]
pub(crate) struct InFlight<'a> {
    _permit: SemaphorePermit<'a>,
}

/// Part of the body budget, held while a body is read and decoded.
#[derive(Debug)]
pub(crate) struct BodyReservation<'a> {
    _permit: SemaphorePermit<'a>,
    bytes: usize,
}

impl BodyReservation<'_> {
    /// How many bytes beyond the allowance it covers.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl RequestGate {
    /// A gate with `config`; `jobs` 0 is taken as 1 and an unusable `max_rps`
    /// as unlimited ([`GateConfig::validate`] says so to a person first).
    pub fn new(config: GateConfig) -> Arc<RequestGate> {
        let jobs = config.jobs.clamp(1, Semaphore::MAX_PERMITS);
        let pacer = config
            .max_rps
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|rate| Mutex::new(Pacer::new(rate)));
        Arc::new(RequestGate {
            config: GateConfig { jobs, ..config },
            in_flight: Semaphore::new(jobs),
            pacer,
            breaker: Mutex::new(Breaker::default()),
            opened: watch::Sender::new(false),
            body_budget: Semaphore::new(BODY_BUDGET_BYTES),
            sent: AtomicU64::new(0),
        })
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Sends that went out through this gate (a send with retries counts once;
    /// one refused by the open breaker not at all).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Why the breaker is open, if it is: the error every send now ends with.
    pub fn breaker_open(&self) -> Option<TransportError> {
        self.breaker().open.clone()
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // A panic elsewhere cannot leave the counter inconsistent: keep going.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a place among the requests in flight; fails at once when
    /// the breaker is open or opens while waiting.
    pub(crate) async fn enter(&self) -> Result<InFlight<'_>, TransportError> {
        // Closed when the breaker opens, which wakes every waiter with an error.
        let permit = self.in_flight.acquire().await.map_err(|_| self.refusal())?;
        if let Some(open) = self.breaker_open() {
            return Err(open);
        }
        Ok(InFlight { _permit: permit })
    }

    /// Waits for the start time of the next attempt under `max_rps`; fails
    /// at once when the breaker opens while waiting.
    pub(crate) async fn pace(&self) -> Result<(), TransportError> {
        if let Some(pacer) = &self.pacer {
            let start = pacer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .claim(Instant::now());
            let mut opened = self.opened.subscribe();
            tokio::select! {
                () = tokio::time::sleep_until(start) => {}
                _ = opened.wait_for(|open| *open) => {}
            }
        }
        match self.breaker_open() {
            Some(open) => Err(open),
            None => Ok(()),
        }
    }

    /// Counts a send that is going out.
    pub(crate) fn count_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how a send ended; opens the breaker after enough silent ones in a row.
    pub(crate) fn record(&self, end: SendEnd<'_>) {
        let mut breaker = self.breaker();
        if breaker.open.is_some() {
            return;
        }
        match end {
            SendEnd::Answered => breaker.silent_in_a_row = 0,
            SendEnd::Silent(error) => {
                breaker.silent_in_a_row += 1;
                let limit = self.config.breaker_failures;
                if limit > 0 && breaker.silent_in_a_row >= limit {
                    breaker.open = Some(TransportError(format!(
                        "not sent: the target stopped answering after {limit} consecutive network failures (the last: {error}); no further requests go out in this run"
                    )));
                    drop(breaker);
                    self.in_flight.close();
                    self.opened.send_replace(true);
                }
            }
        }
    }

    /// The error for a send refused because the breaker opened.
    fn refusal(&self) -> TransportError {
        self.breaker_open()
            .unwrap_or_else(|| TransportError("not sent: the request gate is closed".to_string()))
    }

    /// Reserves `bytes` of the body budget (at most all of it), waiting until
    /// they are free; `None` only if the budget were ever closed (it is not).
    pub(crate) async fn reserve_body(&self, bytes: usize) -> Option<BodyReservation<'_>> {
        let permits = u32::try_from(bytes.min(BODY_BUDGET_BYTES)).unwrap_or(u32::MAX);
        let permit = self.body_budget.acquire_many(permits).await.ok()?;
        Some(BodyReservation {
            _permit: permit,
            bytes: permits as usize,
        })
    }

    /// Bytes of the body budget free now (for tests and measurements).
    pub fn body_budget_free(&self) -> usize {
        self.body_budget.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_lets_a_small_burst_through_then_spaces_starts_evenly() {
        let now = Instant::now();
        let mut pacer = Pacer::new(10.0);
        let starts: Vec<u128> = (0..6)
            .map(|_| (pacer.claim(now) - now).as_millis())
            .collect();
        assert_eq!(starts, [0, 0, 100, 200, 300, 400]);
    }

    #[test]
    fn a_slow_rate_has_a_burst_of_one() {
        let now = Instant::now();
        let mut pacer = Pacer::new(0.5);
        let starts: Vec<u128> = (0..3)
            .map(|_| (pacer.claim(now) - now).as_millis())
            .collect();
        assert_eq!(starts, [0, 2000, 4000]);
    }

    #[test]
    fn an_idle_pacer_does_not_save_up_more_than_its_burst() {
        let now = Instant::now();
        let mut pacer = Pacer::new(10.0);
        pacer.claim(now);
        let later = now + Duration::from_secs(60);
        let starts: Vec<u128> = (0..4)
            .map(|_| (pacer.claim(later) - later).as_millis())
            .collect();
        assert_eq!(starts, [0, 0, 100, 200]);
    }

    #[test]
    fn unusable_settings_are_named() {
        assert_eq!(GateConfig::default().validate(), Ok(()));
        let no_jobs = GateConfig {
            jobs: 0,
            ..GateConfig::default()
        };
        assert_eq!(
            no_jobs.validate().unwrap_err().to_string(),
            "--jobs must be at least 1"
        );
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let config = GateConfig {
                max_rps: Some(rate),
                ..GateConfig::default()
            };
            assert!(config.validate().is_err(), "{rate}");
        }
        assert_eq!(RequestGate::new(no_jobs).config().jobs, 1);
    }

    #[test]
    fn the_breaker_opens_after_the_set_number_of_silent_sends_in_a_row() {
        let gate = RequestGate::new(GateConfig {
            breaker_failures: 3,
            ..GateConfig::default()
        });
        let refused = TransportError("connection refused".to_string());
        gate.record(SendEnd::Silent(&refused));
        gate.record(SendEnd::Silent(&refused));
        gate.record(SendEnd::Answered);
        gate.record(SendEnd::Silent(&refused));
        gate.record(SendEnd::Silent(&refused));
        assert!(gate.breaker_open().is_none(), "an answer resets the count");
        gate.record(SendEnd::Silent(&refused));
        let open = gate.breaker_open().expect("open after three in a row");
        assert_eq!(
            open.to_string(),
            "not sent: the target stopped answering after 3 consecutive network failures (the last: connection refused); no further requests go out in this run"
        );
        gate.record(SendEnd::Answered);
        assert!(gate.breaker_open().is_some(), "open until the run ends");
    }

    #[test]
    fn a_breaker_of_zero_never_opens() {
        let gate = RequestGate::new(GateConfig {
            breaker_failures: 0,
            ..GateConfig::default()
        });
        let refused = TransportError("connection refused".to_string());
        for _ in 0..100 {
            gate.record(SendEnd::Silent(&refused));
        }
        assert!(gate.breaker_open().is_none());
    }
}
