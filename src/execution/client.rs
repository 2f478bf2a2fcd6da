//! HTTP exchanges with the target, recorded as a [`Transcript`].
//!
//! The target may be hostile: every request is bounded in time (the target's
//! timeout covers connecting, redirects and the whole body) and in memory
//! (bodies are read up to [`MAX_BODY_BYTES`], and an [`Exchange`] keeps at
//! most [`BODY_EXCERPT_BYTES`] of one), and every way it can fail without a
//! response becomes a one-line [`TransportError`]. A JSON list read through a
//! sink ([`Client::send_list`]) is the exception: a production list is
//! hundreds of MB, so it is read element by element, holds only what its sink
//! keeps, and is bounded by throughput and time instead of size. With a
//! [`RequestGate`](super::gate::RequestGate), every send also waits its turn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gate::{RequestGate, SendEnd, BODY_ALLOWANCE_BYTES};
use super::guard::{can_change_data, ClearedMutation};
use super::list_share::ListShare;
use super::list_stream::{starts_a_list, ListReader, ListSink};
use super::resolve::{HarnessResolver, ResolveError};
use super::target::Target;
pub use crate::outcome::exchange::{
    AnswerHead, BodySecrets, Exchange, ReceivedResponse, SecretSearch, SentRequest, Transcript,
    TransportError, BODY_EXCERPT_BYTES, MAX_BODY_BYTES,
};

/// The slowest a list read element by element may arrive, past the
/// target's timeout: "Retrieving Customer List" has no paging, so a
/// conformant server holding millions of customers sends hundreds of MB in
/// one answer. A list is bounded by throughput, not by size.
pub const MIN_LIST_BYTES_PER_SECOND: u64 = 256 * 1024;

/// The longest one list may take, however fast it arrives.
pub const MAX_LIST_TIME: Duration = Duration::from_secs(15 * 60);

/// The most a body buffer is given before any of the body arrives.
const INITIAL_BUFFER: usize = 64 * 1024;

/// How many redirects one request follows before it fails.
pub const MAX_REDIRECTS: usize = 5;

/// The longest the connect phase (resolve, TCP, TLS) may take.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A shared HTTP client bound to one target.
///
/// Every request is bounded by the target's timeout, from connecting to the
/// last byte of the body; bodies are read up to [`MAX_BODY_BYTES`]; at most
/// [`MAX_REDIRECTS`] redirects on the same host are followed. With
/// [`Client::with_retries`], network errors (never HTTP responses) are retried.
/// With [`Client::with_gate`], every send passes the gate; clones share it.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    target: Arc<Target>,
    retries: u32,
    gate: Option<Arc<RequestGate>>,
    lists: ListShare,
}

/// Whether a failed attempt may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// The request never reached the server (resolving, connecting, TLS): any method.
    NotSent,
    /// The server may have received the request: only methods without side effects.
    MaybeDelivered,
    /// Trying again cannot help (a redirect refused, a reserved name, a bad method).
    Never,
}

/// One failed attempt.
#[derive(Debug)]
struct Failure {
    message: String,
    retry: Retry,
    /// Whether the target gave an HTTP answer (a redirect refused): it is alive.
    answered: bool,
}

impl Failure {
    fn new(retry: Retry, message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            retry,
            answered: false,
        }
    }
}

/// A send that ended without a response.
#[derive(Debug)]
struct SendFailure {
    error: TransportError,
    /// Whether the target gave any HTTP answer on the way.
    answered: bool,
}

impl SendFailure {
    fn unsent(error: TransportError) -> SendFailure {
        SendFailure {
            error,
            answered: false,
        }
    }
}

/// How far an attempt got when it failed.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for the status line and headers.
    Headers,
    /// Reading the body: bytes received so far, and the Content-Length if any.
    Body {
        received: usize,
        expected: Option<u64>,
    },
    /// Reading a list element by element: bytes received so far.
    List { received: usize },
}

/// The pause before retry `attempt` (1-based): 100 ms, 200 ms, 400 ms... at most 2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(5)))
        .min(Duration::from_secs(2))
}

/// Seconds for a message: `0.5 s`, `10 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

impl Client {
    /// Builds the one client of a run (one connection pool, keep-alive), without retries.
    pub fn new(target: Target) -> Result<Client, TransportError> {
        let http = reqwest::Client::builder()
            .timeout(target.timeout)
            .connect_timeout(target.timeout.min(MAX_CONNECT_TIMEOUT))
            .pool_max_idle_per_host(64)
            .redirect(redirect_policy())
            .dns_resolver(HarnessResolver)
            .build()
            .map_err(|error| TransportError(format!("building the HTTP client: {error}")))?;
        Ok(Client {
            http,
            target: Arc::new(target),
            retries: 0,
            gate: None,
            lists: ListShare::default(),
        })
    }

    /// The same client, sending every request through `gate`: at most its
    /// jobs in flight, at its rate, and not at all once its breaker is open.
    pub fn with_gate(mut self, gate: Arc<RequestGate>) -> Client {
        self.gate = Some(gate);
        self
    }

    /// The gate this client sends through, if any.
    pub fn gate(&self) -> Option<&Arc<RequestGate>> {
        self.gate.as_ref()
    }

    /// The same client, trying a request up to `retries` more times after a
    /// network error. An HTTP response of any status is never retried. A
    /// request the server may already have received (a timeout or a reset
    /// after connecting) is retried only for GET, HEAD and OPTIONS, so a
    /// retried create or delete cannot turn into a false contract failure.
    pub fn with_retries(mut self, retries: u32) -> Client {
        self.retries = retries;
        self
    }

    /// How many times a network error is retried.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The target this client talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends one read (a GET) with a JSON content type and records the
    /// exchange. A request that can change data is not sent from here: it
    /// goes through the guard and [`Client::send_cleared`]. A URL that would
    /// leave the target (`@host:port` in the path, say) is not sent either;
    /// the exchange carries the refusal.
    pub async fn send(&self, method: &str, path: &str, body: Option<String>) -> Exchange {
        self.send_reading(method, path, body, None).await
    }

    /// Sends one read like [`Client::send`]; an answer that is a JSON list is
    /// read element by element, each shown to `sink`, and keeps only the
    /// elements `sink` keeps. Such a list has no size cap: it must arrive at
    /// [`MIN_LIST_BYTES_PER_SECOND`] past the target's timeout, within [`MAX_LIST_TIME`].
    pub async fn send_list(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        sink: &mut dyn ListSink,
    ) -> Exchange {
        self.send_reading(method, path, body, Some(sink)).await
    }

    /// Reads a list like [`Client::send_list`], from a list sent after this
    /// call that other steps asking for the same request at the same time may
    /// share ([`ListShare`]): each sees every element through its own sink.
    /// Clones of this client share their lists.
    pub async fn send_shared_list<S: ListSink + 'static>(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        sink: S,
    ) -> (Exchange, Option<S>) {
        if can_change_data(method) {
            // Refused as `send` refuses it; never shared.
            return (self.send(method, path, body).await, Some(sink));
        }
        self.lists.read(self, method, path, body, sink).await
    }

    async fn send_reading(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        sink: Option<&mut dyn ListSink>,
    ) -> Exchange {
        let request = SentRequest {
            method: method.to_string(),
            url: self.target.url(path),
            body,
        };
        if can_change_data(method) {
            return Exchange {
                request,
                response: Err(TransportError(format!(
                    "refused to send {method} {path}: a request that can change data is sent only once the guard has cleared it"
                ))),
            };
        }
        self.send_checked(request, path, sink).await
    }

    /// Sends a request that can change data exactly as [`clear_mutation`](super::guard::clear_mutation) cleared it.
    pub async fn send_cleared(&self, cleared: &ClearedMutation) -> Exchange {
        let request = SentRequest {
            method: cleared.method().to_string(),
            url: self.target.url(cleared.path()),
            body: cleared.body().map(str::to_string),
        };
        self.send_checked(request, cleared.path(), None).await
    }

    /// The send of both: the body carries the token, so it goes nowhere but the target.
    async fn send_checked(
        &self,
        request: SentRequest,
        path: &str,
        sink: Option<&mut dyn ListSink>,
    ) -> Exchange {
        if let Err(refused) = super::guard::canonical_url(&self.target, &request.method, path) {
            return Exchange {
                request,
                response: Err(TransportError(refused.to_string())),
            };
        }
        let response = self.perform(&request, sink).await;
        Exchange { request, response }
    }

    /// The send: through the gate when there is one.
    async fn perform(
        &self,
        request: &SentRequest,
        sink: Option<&mut dyn ListSink>,
    ) -> Result<ReceivedResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| TransportError(format!("invalid method {}", request.method)))?;
        let Some(gate) = self.gate.as_deref() else {
            return self
                .perform_attempts(&method, request, None, sink)
                .await
                .map_err(|failure| failure.error);
        };
        // Held until the body is read, retries included.
        let _in_flight = gate.enter().await?;
        let result = self
            .perform_attempts(&method, request, Some(gate), sink)
            .await;
        match &result {
            Ok(_) => gate.record(SendEnd::Answered),
            Err(failure) if failure.answered => gate.record(SendEnd::Answered),
            Err(failure) => gate.record(SendEnd::Silent(&failure.error)),
        }
        result.map_err(|failure| failure.error)
    }

    /// Every attempt of one send, each paced by the gate if there is one.
    async fn perform_attempts(
        &self,
        method: &reqwest::Method,
        request: &SentRequest,
        gate: Option<&RequestGate>,
        mut sink: Option<&mut dyn ListSink>,
    ) -> Result<ReceivedResponse, SendFailure> {
        let safe = matches!(
            *method,
            reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
        );
        let mut attempts = 1;
        let mut answered = false;
        loop {
            if let Some(gate) = gate {
                match gate.pace().await {
                    Ok(()) if attempts == 1 => gate.count_sent(),
                    Ok(()) => {}
                    // Refused before anything went out.
                    Err(open) if attempts == 1 => return Err(SendFailure::unsent(open)),
                    // The breaker opened during the backoff: stop retrying.
                    Err(_) => {}
                }
            }
            let failure = match self
                .attempt(method, request, gate, reborrow(&mut sink))
                .await
            {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            answered |= failure.answered;
            let may_retry = match failure.retry {
                Retry::NotSent => true,
                Retry::MaybeDelivered => safe,
                Retry::Never => false,
            };
            let breaker_open = gate.is_some_and(|gate| gate.breaker_open().is_some());
            if !may_retry || attempts > self.retries || breaker_open {
                let message = if attempts > 1 {
                    format!("{} ({attempts} attempts)", failure.message)
                } else {
                    failure.message
                };
                // One line, whatever the causes said.
                return Err(SendFailure {
                    error: TransportError(message.replace(['\r', '\n'], " ")),
                    answered,
                });
            }
            tokio::time::sleep(backoff(attempts)).await;
            attempts += 1;
        }
    }

    /// One attempt, bounded by the timeout even if the HTTP stack's own deadline failed.
    async fn attempt(
        &self,
        method: &reqwest::Method,
        request: &SentRequest,
        gate: Option<&RequestGate>,
        sink: Option<&mut dyn ListSink>,
    ) -> Result<ReceivedResponse, Failure> {
        let timeout = self.target.timeout;
        // reqwest's deadline covers connecting, redirects and the body (a
        // list's budget is kept by the read loop); this one, a little later,
        // only guards against that ever not holding.
        let longest = if sink.is_some() {
            MAX_LIST_TIME.max(timeout)
        } else {
            timeout
        };
        let guard = longest + Duration::from_millis(250);
        let mut phase = Phase::Headers;
        let result = tokio::time::timeout(
            guard,
            self.attempt_unguarded(method, request, gate, sink, &mut phase),
        )
        .await;
        result.unwrap_or_else(|_| Err(timed_out(phase, timeout)))
    }

    /// One attempt; `phase` follows how far it got. With a gate, a body
    /// past [`BODY_ALLOWANCE_BYTES`] waits for its share of the body budget,
    /// held until the body has been decoded and cut to its excerpt. With a
    /// sink, an answer that is a JSON list is read element by element instead
    /// ([`Client::read_list`]): it holds no more than the elements kept.
    async fn attempt_unguarded(
        &self,
        method: &reqwest::Method,
        request: &SentRequest,
        gate: Option<&RequestGate>,
        sink: Option<&mut dyn ListSink>,
        phase: &mut Phase,
    ) -> Result<ReceivedResponse, Failure> {
        let timeout = self.target.timeout;
        let mut builder = self
            .http
            .request(method.clone(), &request.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if sink.is_some() {
            // A list is bounded by the read loop's budget; the rest by `deadline`.
            builder = builder.timeout(MAX_LIST_TIME.max(timeout));
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started) + timeout;
        let mut response = match tokio::time::timeout_at(deadline, builder.send()).await {
            Ok(sent) => sent.map_err(|error| self.describe(&error, Phase::Headers))?,
            Err(_) => return Err(timed_out(Phase::Headers, timeout)),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let head = AnswerHead {
            status,
            content_type,
            headers,
        };
        let expected = response.content_length();
        // A declared length is only a hint: the buffer grows as bytes arrive.
        let mut bytes = Vec::with_capacity(
            expected.map_or(0, |length| length.min(INITIAL_BUFFER as u64)) as usize,
        );
        if let Some(sink) = sink {
            // Read up to the first byte that is not white space: a list, or not.
            let first = loop {
                if let Some(&first) = bytes
                    .iter()
                    .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
                {
                    break Some(first);
                }
                if bytes.len() >= BODY_EXCERPT_BYTES {
                    break None;
                }
                *phase = Phase::Body {
                    received: bytes.len(),
                    expected,
                };
                match self.next_chunk(&mut response, deadline, *phase).await? {
                    Some(chunk) => append_bounded(&mut bytes, &chunk),
                    // White space, or nothing, to the end: not a list.
                    None => {
                        let secrets = self.target.secrets();
                        let elapsed = started.elapsed();
                        return Ok(ReceivedResponse::from_body(
                            head, bytes, false, elapsed, &secrets,
                        ));
                    }
                }
            };
            if first.is_some_and(starts_a_list) {
                return self
                    .read_list(response, head, bytes, sink, started, phase)
                    .await;
            }
        }
        let mut truncated = false;
        let mut reserved = Vec::new();
        loop {
            *phase = Phase::Body {
                received: bytes.len(),
                expected,
            };
            let Some(chunk) = self.next_chunk(&mut response, deadline, *phase).await? else {
                break;
            };
            let room = MAX_BODY_BYTES - bytes.len();
            let take = chunk.len().min(room);
            if let Some(gate) = gate {
                let covered = BODY_ALLOWANCE_BYTES
                    + reserved
                        .iter()
                        .map(|reservation: &super::gate::BodyReservation<'_>| reservation.bytes())
                        .sum::<usize>();
                if bytes.len() + take > covered {
                    // Once per body: the declared length, else the cap. A
                    // second reservation only if the body outgrows its
                    // declared length, which HTTP framing does not allow.
                    let whole = match expected {
                        Some(length) if reserved.is_empty() => {
                            usize::try_from(length).unwrap_or(MAX_BODY_BYTES)
                        }
                        _ => MAX_BODY_BYTES,
                    }
                    .clamp(bytes.len() + take, MAX_BODY_BYTES);
                    if let Some(reservation) = gate.reserve_body(whole - covered).await {
                        reserved.push(reservation);
                    }
                    bytes.reserve_exact(whole - bytes.len());
                }
            }
            if take < chunk.len() {
                // Stop here: the rest is never read, and the connection is dropped.
                append_bounded(&mut bytes, &chunk[..take]);
                truncated = true;
                break;
            }
            append_bounded(&mut bytes, &chunk);
        }
        drop(response);
        let elapsed = started.elapsed();
        let received =
            ReceivedResponse::from_body(head, bytes, truncated, elapsed, &self.target.secrets());
        // The whole body is gone: its share of the budget is free again.
        drop(reserved);
        Ok(received)
    }

    /// The next chunk of a body, by `deadline`.
    async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
        deadline: tokio::time::Instant,
        phase: Phase,
    ) -> Result<Option<impl std::ops::Deref<Target = [u8]>>, Failure> {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(chunk) => chunk.map_err(|error| self.describe(&error, phase)),
            Err(_) => Err(timed_out(phase, self.target.timeout)),
        }
    }

    /// The rest of an answer that is a JSON list (`first`: its bytes so
    /// far), read element by element through `sink`. Only the excerpt, the
    /// elements kept and one element at a time are held; the secrets are
    /// searched as the bytes pass. The list must arrive within the target's
    /// timeout plus a second per [`MIN_LIST_BYTES_PER_SECOND`], and within [`MAX_LIST_TIME`].
    async fn read_list(
        &self,
        mut response: reqwest::Response,
        head: AnswerHead,
        first: Vec<u8>,
        sink: &mut dyn ListSink,
        started: Instant,
        phase: &mut Phase,
    ) -> Result<ReceivedResponse, Failure> {
        let timeout = self.target.timeout;
        let ceiling = MAX_LIST_TIME.max(timeout);
        let mut reader = ListReader::new(sink);
        let mut passed = PassingBytes {
            excerpt: Vec::new(),
            secrets: SecretSearch::new(&self.target.secrets()),
            received: 0,
        };
        passed.take(&first, &mut reader);
        drop(first);
        while !reader.stopped() {
            let received = passed.received;
            *phase = Phase::List { received };
            let allowed = list_budget(timeout, received).min(ceiling);
            let deadline = tokio::time::Instant::from_std(started) + allowed;
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Ok(Err(error)) => return Err(self.describe(&error, *phase)),
                Err(_) => return Err(list_too_slow(received, allowed, timeout)),
            };
            passed.take(&chunk, &mut reader);
        }
        // A list cut short by a problem is not read further: the connection is dropped.
        drop(response);
        let read = reader.finish();
        Ok(ReceivedResponse::from_list(
            head,
            passed.excerpt,
            passed.received,
            read.kept,
            read.elements,
            read.problem.map(|problem| problem.to_string()),
            passed.secrets.finish(),
            started.elapsed(),
        ))
    }

    /// One line naming what went wrong, and whether trying again may help.
    fn describe(&self, error: &reqwest::Error, phase: Phase) -> Failure {
        describe_error(error, phase, self.target.timeout)
    }
}

/// What a list's bytes leave behind as they pass: the excerpt, the secrets found, the count.
struct PassingBytes {
    excerpt: Vec<u8>,
    secrets: SecretSearch,
    received: usize,
}

impl PassingBytes {
    /// The next bytes: kept in the excerpt while it has room, searched, and handed to the reader.
    fn take(&mut self, chunk: &[u8], reader: &mut ListReader<'_>) {
        let room = BODY_EXCERPT_BYTES.saturating_sub(self.excerpt.len());
        self.excerpt
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.secrets.feed(chunk);
        reader.feed(chunk);
        self.received += chunk.len();
    }
}

/// The same sink for one more attempt.
fn reborrow<'a>(sink: &'a mut Option<&mut dyn ListSink>) -> Option<&'a mut dyn ListSink> {
    match sink {
        Some(sink) => Some(&mut **sink),
        None => None,
    }
}

/// The longest a scheme probe ([`speaks`]) waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server speaks, as one bare request tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    /// It answered HTTP on a plain connection.
    PlainHttp,
    /// It spoke TLS: it answered over TLS, or sent a TLS alert or a certificate.
    Tls,
    /// Neither could be seen.
    Unknown,
}

/// What the server at `url` speaks (its scheme says which to try): one GET
/// without a body, so without the token, and no redirect followed. Only
/// after a request failed, to tell an http/https mix-up from a dead target.
pub async fn speaks(url: &str, timeout: Duration) -> Speaks {
    let Ok(http) = reqwest::Client::builder()
        .timeout(timeout.min(PROBE_TIMEOUT))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(HarnessResolver)
        .build()
    else {
        return Speaks::Unknown;
    };
    let tls = url.starts_with("https:");
    match http.get(url).send().await {
        Ok(_) if tls => Speaks::Tls,
        Ok(_) => Speaks::PlainHttp,
        Err(error) if tls => {
            // rustls names what the peer sent: an alert or a certificate is TLS;
            // a "corrupt message" is something else.
            let spoke_tls = causes(&error).iter().any(|cause| {
                let text = cause.to_string();
                text.contains("received fatal alert") || text.contains("invalid peer certificate")
            });
            if spoke_tls {
                Speaks::Tls
            } else {
                Speaks::Unknown
            }
        }
        Err(_) => Speaks::Unknown,
    }
}

/// Appends `chunk`, growing the buffer no further than [`MAX_BODY_BYTES`].
fn append_bounded(bytes: &mut Vec<u8>, chunk: &[u8]) {
    let needed = bytes.len() + chunk.len();
    if needed > bytes.capacity() {
        let grown = (bytes.capacity() * 2).max(needed).min(MAX_BODY_BYTES);
        bytes.reserve_exact(grown - bytes.len());
    }
    bytes.extend_from_slice(chunk);
}

/// Why the redirect policy stopped following.
#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error("redirect loop: HTTP {status} back to {url}, which was already requested")]
    Loop { status: u16, url: String },
    #[error("too many redirects: HTTP {status} to {url} would be redirect {count}; the harness follows at most {MAX_REDIRECTS}")]
    TooMany {
        status: u16,
        url: String,
        count: usize,
    },
    #[error("refused to follow HTTP {status} to {url}: only redirects on the same host are followed, since request bodies carry the API token")]
    OtherHost { status: u16, url: String },
    #[error("refused to follow HTTP {status} to {url}: it would resend the request body, which carries the API token, to another scheme or port than the target's")]
    OtherOriginWithBody { status: u16, url: String },
    #[error("refused to follow HTTP {status} to {url}: only redirects on the target's own scheme, host and port are followed")]
    OtherOrigin { status: u16, url: String },
}

/// Scheme, host and port: a redirect that changes any of them is not followed.
fn same_origin(first: &reqwest::Url, next: &reqwest::Url) -> bool {
    first.scheme() == next.scheme()
        && first.host_str() == next.host_str()
        && first.port_or_known_default() == next.port_or_known_default()
}

/// At most [`MAX_REDIRECTS`] redirects, never a loop, never to another host, scheme or port.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let status = attempt.status().as_u16();
        let url = attempt.url().clone();
        let previous = attempt.previous();
        let refused = match previous.first() {
            _ if previous.contains(&url) => Some(RedirectRefused::Loop {
                status,
                url: url.to_string(),
            }),
            Some(first) if first.host_str() != url.host_str() => Some(RedirectRefused::OtherHost {
                status,
                url: url.to_string(),
            }),
            // 307 and 308 resend the method and body (RFC 9110 15.4.8, 15.4.9);
            // every request of the harness carries the token in its body.
            Some(first) if !same_origin(first, &url) && matches!(status, 307 | 308) => {
                Some(RedirectRefused::OtherOriginWithBody {
                    status,
                    url: url.to_string(),
                })
            }
            Some(first) if !same_origin(first, &url) => Some(RedirectRefused::OtherOrigin {
                status,
                url: url.to_string(),
            }),
            // The first of `previous` is the request itself, not a redirect.
            _ if previous.len() > MAX_REDIRECTS => Some(RedirectRefused::TooMany {
                status,
                url: url.to_string(),
                count: previous.len(),
            }),
            _ => None,
        };
        match refused {
            Some(refused) => attempt.error(refused),
            None => attempt.follow(),
        }
    })
}

/// The error's causes, outermost first.
fn causes(error: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        found.push(cause);
        source = cause.source();
    }
    found
}

/// The innermost cause's text, or the error's own.
fn innermost(error: &reqwest::Error) -> String {
    causes(error)
        .last()
        .map(|cause| cause.to_string())
        .unwrap_or_else(|| error.to_string())
}

/// `(N of M bytes received)` for a body that broke off.
fn received(received: usize, expected: Option<u64>) -> String {
    match expected {
        Some(expected) => format!("{received} of {expected} bytes received"),
        None => format!("{received} bytes received"),
    }
}

/// How long a list that has sent `received` bytes may have taken: the
/// target's timeout, plus a second per [`MIN_LIST_BYTES_PER_SECOND`] received.
fn list_budget(timeout: Duration, received: usize) -> Duration {
    timeout + Duration::from_secs_f64(received as f64 / MIN_LIST_BYTES_PER_SECOND as f64)
}

/// A list that arrived slower than its budget.
fn list_too_slow(received: usize, allowed: Duration, timeout: Duration) -> Failure {
    Failure::new(
        Retry::MaybeDelivered,
        format!(
            "timed out after {} while reading a list ({received} bytes received): a list may take the timeout ({}) plus 1 s per {} KiB received, at most {}",
            seconds(allowed),
            seconds(timeout),
            MIN_LIST_BYTES_PER_SECOND / 1024,
            seconds(MAX_LIST_TIME.max(timeout))
        ),
    )
}

/// The request's deadline passed after connecting.
fn timed_out(phase: Phase, timeout: Duration) -> Failure {
    let message = match phase {
        Phase::Headers => format!(
            "timed out after {} waiting for the response",
            seconds(timeout)
        ),
        Phase::Body {
            received: got,
            expected,
        } => format!(
            "timed out after {} while reading the response body ({})",
            seconds(timeout),
            received(got, expected)
        ),
        Phase::List { received: got } => format!(
            "timed out after {} while reading a list ({})",
            seconds(timeout),
            received(got, None)
        ),
    };
    Failure::new(Retry::MaybeDelivered, message)
}

/// One line naming what went wrong, with the causes reqwest keeps.
fn describe_error(error: &reqwest::Error, phase: Phase, timeout: Duration) -> Failure {
    let chain = causes(error);
    let io_kind = chain.iter().find_map(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
    });
    let texts: Vec<String> = chain.iter().map(|cause| cause.to_string()).collect();
    let says = |needle: &str| texts.iter().any(|text| text.contains(needle));
    if error.is_redirect() {
        let reason = chain
            .iter()
            .find_map(|cause| cause.downcast_ref::<RedirectRefused>())
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("too many redirects: {}", innermost(error)));
        // A redirect is an HTTP answer: the target is alive.
        return Failure {
            answered: true,
            ..Failure::new(Retry::Never, reason)
        };
    }
    if let Some(resolve) = chain
        .iter()
        .find_map(|cause| cause.downcast_ref::<ResolveError>())
    {
        let retry = match resolve {
            ResolveError::Invalid { .. } => Retry::Never,
            _ => Retry::NotSent,
        };
        return Failure::new(retry, format!("could not connect: {resolve}"));
    }
    if error.is_dns() {
        return Failure::new(
            Retry::NotSent,
            format!(
                "could not connect: cannot resolve the host: {}",
                innermost(error)
            ),
        );
    }
    // The TCP connector says "tcp connect error"; past it, an https connection fails in TLS.
    let tcp = says("tcp connect error") || says("tcp open error");
    let tls = !tcp && error.url().is_some_and(|url| url.scheme() == "https");
    if error.is_timeout() {
        return match phase {
            Phase::Headers if error.is_connect() => Failure::new(
                Retry::NotSent,
                format!(
                    "could not connect: timed out after {}",
                    seconds(timeout.min(MAX_CONNECT_TIMEOUT))
                ),
            ),
            _ => timed_out(phase, timeout),
        };
    }
    if error.is_connect() {
        let reason = match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
            Some(std::io::ErrorKind::ConnectionReset) if tcp => "connection reset".to_string(),
            // rustls: what came back is not a TLS record (plain HTTP, say).
            _ if tls && says("corrupt message") => format!(
                "TLS handshake failed: the server's answer is not TLS ({})",
                innermost(error)
            ),
            _ if tls => format!("TLS handshake failed: {}", innermost(error)),
            _ => innermost(error),
        };
        return Failure::new(Retry::NotSent, format!("could not connect: {reason}"));
    }
    let reset = io_kind == Some(std::io::ErrorKind::ConnectionReset);
    let message = match phase {
        Phase::Headers if reset => "the connection was reset before a response arrived".to_string(),
        Phase::Headers if says("connection closed before message completed") => {
            "the connection closed before a response arrived".to_string()
        }
        Phase::Headers => format!("no valid response: {}", innermost(error)),
        Phase::Body {
            received: got,
            expected,
        } if reset => format!(
            "the connection was reset while reading the response body ({})",
            received(got, expected)
        ),
        Phase::Body {
            received: got,
            expected,
        } => format!(
            "the response body broke off ({}): {}",
            received(got, expected),
            innermost(error)
        ),
        Phase::List { received: got } if reset => format!(
            "the connection was reset while reading a list ({})",
            received(got, None)
        ),
        Phase::List { received: got } => format!(
            "the list broke off ({}): {}",
            received(got, None),
            innermost(error)
        ),
    };
    Failure::new(Retry::MaybeDelivered, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn head() -> AnswerHead {
        AnswerHead {
            status: 200,
            content_type: Some("application/json".to_string()),
            headers: Vec::new(),
        }
    }

    fn response(body: &[u8], truncated: bool) -> ReceivedResponse {
        ReceivedResponse::from_body(head(), body.to_vec(), truncated, Duration::ZERO, &[])
    }

    #[test]
    fn body_problems_are_one_line_each() {
        assert_eq!(response(b"[]", false).body_problem(), None);
        assert_eq!(response(b"", false).body_problem().unwrap(), "empty");
        assert_eq!(
            response(b"\xff\xfe", false).body_problem().unwrap(),
            "not valid UTF-8"
        );
        assert_eq!(
            response(b"<html>", false).body_problem().unwrap(),
            "not JSON (expected value at line 1 column 1)"
        );
        assert_eq!(
            response(b"[1, 2", true).body_problem().unwrap(),
            "more than 16 MiB; the harness stopped reading at 16777216 bytes"
        );
    }

    #[test]
    fn a_long_body_keeps_an_excerpt_and_its_size() {
        // 2-byte characters, so the excerpt's cut falls inside one.
        let text = format!("\"{}\"", "é".repeat(BODY_EXCERPT_BYTES));
        let answer = response(text.as_bytes(), false);
        assert_eq!(answer.body_bytes, text.len());
        assert!(answer.is_excerpt());
        assert!(answer.body.len() <= BODY_EXCERPT_BYTES);
        assert!(answer.body.len() >= BODY_EXCERPT_BYTES - 3);
        assert!(text.starts_with(&answer.body));
        assert!(answer.body.capacity() <= BODY_EXCERPT_BYTES);
        // Parsed whole before it was cut.
        assert_eq!(
            answer.json,
            Some(Value::String("é".repeat(BODY_EXCERPT_BYTES)))
        );
        assert_eq!(answer.body_problem(), None);
    }

    #[test]
    fn a_short_body_is_kept_whole() {
        let answer = response(br#"{"status":"OK"}"#, false);
        assert_eq!(answer.body, r#"{"status":"OK"}"#);
        assert_eq!(answer.body_bytes, 15);
        assert!(!answer.is_excerpt());
    }

    #[test]
    fn why_a_long_body_is_not_json_is_taken_from_the_whole_body() {
        let mut text = "[".to_string() + &"1,".repeat(BODY_EXCERPT_BYTES) + "1";
        text.push('x');
        let answer = response(text.as_bytes(), false);
        assert!(answer.is_excerpt());
        assert_eq!(
            answer.body_problem().unwrap(),
            format!(
                "not JSON (expected `,` or `]` at line 1 column {})",
                text.len()
            )
        );
    }

    #[test]
    fn a_secret_past_the_excerpt_is_still_found() {
        let secret = "Qm7RzT2vXk9LpW4sNa8c";
        let mut text = " ".repeat(2 * BODY_EXCERPT_BYTES).into_bytes();
        text.extend_from_slice(format!("{{\"echo\":\"{secret}\"}}").as_bytes());
        let answer =
            ReceivedResponse::from_body(head(), text.clone(), false, Duration::ZERO, &[secret, ""]);
        assert!(!answer.body.contains(secret));
        assert!(answer.body_contains_secret(secret));
        assert!(!answer.body_contains_secret("another-secret-value"));
        assert_eq!(format!("{:?}", answer.body_secrets), "BodySecrets(1 found)");
        // The same past an invalid byte, which the excerpt's lossy text replaces.
        text[10] = 0xff;
        let answer = ReceivedResponse::from_body(head(), text, false, Duration::ZERO, &[secret]);
        assert!(!answer.utf8);
        assert!(answer.body_contains_secret(secret));
        assert!(answer.body.len() <= BODY_EXCERPT_BYTES + 2);
    }

    #[test]
    fn a_body_cut_at_the_cap_inside_a_character_is_still_utf8() {
        let mut bytes = " ".repeat(BODY_EXCERPT_BYTES + 10).into_bytes();
        bytes.extend_from_slice(&"é".as_bytes()[..1]);
        let answer = response(&bytes, true);
        assert!(answer.utf8);
        assert_eq!(answer.body_bytes, BODY_EXCERPT_BYTES + 11);
        assert_eq!(answer.body.len(), BODY_EXCERPT_BYTES);
        assert_eq!(
            answer.body_problem().unwrap(),
            "more than 16 MiB; the harness stopped reading at 16777216 bytes"
        );
    }

    #[test]
    fn the_body_buffer_never_outgrows_the_cap() {
        let mut bytes = Vec::new();
        let chunk = vec![b' '; 3 * 1024 * 1024 + 7];
        while bytes.len() + chunk.len() <= MAX_BODY_BYTES {
            append_bounded(&mut bytes, &chunk);
            assert!(bytes.capacity() <= MAX_BODY_BYTES, "{}", bytes.capacity());
        }
        let room = MAX_BODY_BYTES - bytes.len();
        append_bounded(&mut bytes, &chunk[..room]);
        assert_eq!(bytes.len(), MAX_BODY_BYTES);
        assert_eq!(bytes.capacity(), MAX_BODY_BYTES);
    }

    #[test]
    fn backoff_doubles_from_100_ms_up_to_2_s() {
        let pauses: Vec<u128> = (1..=7)
            .map(|attempt| backoff(attempt).as_millis())
            .collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn timeouts_read_in_seconds() {
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
    }
}
