//! The embedded reference server: a conformant implementation of the IPDR
//! Customer Management API, built on [`crate::spec::contract`] only.
//!
//! Start it with [`start`]; [`RunningServer::snapshot`] shows what it stores.
//!
//! # The reference's own choices (the page is silent)
//!
//! Every unspecified error is HTTP 200 `{"status":"Error","message":...}`
//! with these texts (constants in [`unspecified`]):
//!
//! | Case | Message |
//! |---|---|
//! | body is not JSON, or not a JSON object | `Malformed JSON body` |
//! | customer field present but not a JSON string | `Invalid value for field <Field>: expected a string` |
//! | create without UserID and/or Name | `Missing mandatory field(s): UserID, Name` (only the missing ones, that order) |
//! | PUT without some fields | `Missing mandatory field(s): <fields>` (missing ones, in `FULL_UPDATE_FIELDS` order) |
//! | PUT/PATCH body UserID differs from the path's | `UserID in body does not match UserID in URL` |
//! | create with a UserID that exists in the context | `IPDR Customer with UserID <id> already exists` |
//! | PUT/PATCH/DELETE of an unknown UserID | `IPDR Customer not found` |
//!
//! Other choices:
//! - Check order: JSON parse → token → context exists → access → field
//!   validation (types, then missing fields, then UserID match) → operation.
//!   No error changes any data.
//! - A token is valid only as the token of the named `username`; a missing
//!   or non-string `api_token` or `username` is an invalid token.
//! - A missing `contextname` is an invalid context named ""; a non-string
//!   one is an invalid context named by its JSON text. Names compare exactly.
//! - Type errors report the first offender in `FULL_UPDATE_FIELDS` order.
//! - An empty string is a present value (also for UserID and Name).
//! - Optional fields omitted on create are stored as "".
//! - Unknown body keys (including `id`) are ignored.
//! - Ids come from one server-wide counter starting at 1 (after the largest
//!   preloaded id); updates keep the id; deleted ids are not reused.
//! - The list is in id (creation) order.
//! - A PATCH may carry UserID only if equal to the path's; an empty PATCH
//!   returns the record unchanged.
//! - UserID is unique within a context; other contexts may reuse it.
//! - Unknown paths and methods get axum's default 404/405.
//!
//! # Flavours and deviations
//!
//! [`Flavour::Alt`] is a second conformant server that makes other choices
//! where the page is silent (among them: a PUT of an unknown UserID creates
//! the record with exactly the values sent). [`Flavour::Strict`] takes the
//! opposite choice from the reference wherever the page is silent: it
//! refuses whatever it may (values unlike the page's examples, a UserID
//! taken in any context, empty PATCHes, unknown keys), validates before the
//! documented checks and checks the context before the token, reuses ids,
//! reorders the list on every call, answers 4xx with bodies of its own,
//! adds `created_at` and `Context` to customer objects and leaves fields
//! never given out, and closes every connection; the flavour module's docs
//! give each choice with the reason it is allowed. [`Deviation`]s are
//! deliberate bugs in documented or inferred behaviour, each acting at one
//! of a few named hooks of [`Deviations`]; with none switched on, the code
//! path is the conformant one described above.

mod deviation;
mod error;
mod fixture;
mod flavour;
mod generated;
mod handlers;
mod reply;
mod store;
pub mod unspecified;
mod validation;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::spec::contract::Customer;

pub use deviation::{Deviation, Deviations};
pub use error::ReferenceError;
pub use fixture::{
    FixtureUser, HarnessCredentials, OtherCredentials, Preload, PreloadCustomer, UsersFixture,
};
pub use flavour::Flavour;
pub use generated::{DEFAULT_GENERATED_SEED, GENERATED_RECORD_BYTES};

use handlers::App;
use store::Store;

/// How long [`RunningServer::shutdown`] waits for open connections before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything that decides how a reference server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Users, tokens and contexts.
    pub users: UsersFixture,
    /// Deliberate departures from the contract to switch on (empty: conformant).
    pub deviations: Vec<Deviation>,
    /// Customers the server starts with.
    pub preload: Preload,
    /// Which conformant variant to play where the page is silent.
    pub flavour: Flavour,
}

impl ServerConfig {
    /// A conformant server with these users, no preload and no deviation.
    pub fn new(users: UsersFixture) -> Self {
        ServerConfig {
            users,
            deviations: Vec::new(),
            preload: Preload::default(),
            flavour: Flavour::default(),
        }
    }

    /// A conformant server with the built-in users fixture.
    pub fn builtin() -> Self {
        ServerConfig::new(UsersFixture::builtin())
    }

    /// This configuration with `preload` as the starting customers.
    pub fn with_preload(mut self, preload: Preload) -> Self {
        self.preload = preload;
        self
    }

    /// This configuration with one more deviation switched on.
    pub fn with_deviation(mut self, deviation: Deviation) -> Self {
        self.deviations.push(deviation);
        self
    }

    /// This configuration with these deviations added.
    pub fn with_deviations(mut self, deviations: impl IntoIterator<Item = Deviation>) -> Self {
        self.deviations.extend(deviations);
        self
    }

    /// This configuration playing `flavour`.
    pub fn with_flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }
}

/// A reference server serving on a spawned tokio task.
pub struct RunningServer {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The address actually bound (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the base URL for the API paths.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The users fixture this server runs with.
    pub fn users(&self) -> &UsersFixture {
        &self.app.fixture
    }

    /// Every context's customers, in id order (empty contexts included).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<Customer>> {
        self.app.store.snapshot()
    }

    /// Stops accepting, lets open requests finish (up to a grace period), and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The receiver is gone only if the server task already ended.
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Dropped without shutdown(): still ask the task to stop.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds `addr` (port 0 picks a free one) and serves on the current tokio runtime.
pub async fn start(
    config: ServerConfig,
    addr: SocketAddr,
) -> Result<RunningServer, ReferenceError> {
    let deviations: Deviations = config.deviations.into_iter().collect();
    let store = Store::new(
        config.users.contexts(),
        config.preload,
        config.flavour.store_choices(),
        deviations.store_faults(),
    )?;
    let app = Arc::new(App {
        deviations,
        flavour: config.flavour,
        fixture: config.users,
        store,
        requests: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ReferenceError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(ReferenceError::LocalAddr)?;

    let (stop, stopped) = oneshot::channel::<()>();
    let router = handlers::router(Arc::clone(&app));
    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
        // Either a send or the sender being dropped means stop.
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move { serve.await });

    Ok(RunningServer {
        addr: bound,
        app,
        stop: Some(stop),
        task: Some(task),
    })
}
