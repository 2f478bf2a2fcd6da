//! Targets whose list answers are larger than any one body the harness
//! holds (issue 14): a conformant one passes, and what is wrong deep in a
//! long list is still found. "Retrieving Customer List" has no paging, so a
//! production Trisul lists every customer in one answer.

mod common;

use common::{harness_against, stdout, Server};
use ipdr_conformance::reference::{Preload, PreloadCustomer, ServerConfig, UsersFixture};

/// Customers enough for a list answer of about 18 MB: more than the
/// 16 MiB the harness once read of one body before it gave up.
const CUSTOMERS: u64 = 95_000;

/// The harness's context preloaded with [`CUSTOMERS`] realistic customers, then `last`.
fn large_server(last: Option<PreloadCustomer>) -> Server {
    let context = UsersFixture::builtin().harness().context;
    let mut preload = Preload::generated(context.clone(), CUSTOMERS, 7);
    if let Some(last) = last {
        preload.add(context, last);
    }
    Server::start(ServerConfig::builtin().with_preload(preload))
}

#[test]
fn a_conformant_server_whose_lists_pass_16_mib_passes_the_list_scenarios() {
    let server = large_server(None);
    let output = harness_against(&server.url())
        .args(["--exact", "crud::list_returns_customer_objects"])
        .output()
        .unwrap();
    let printed = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{printed}\n{}",
        common::stderr(&output)
    );
    assert!(printed.contains("1 pass; 0 fail"), "{printed}");
    // Nothing of this run is left, though the list it was read from is long.
    let credentials = UsersFixture::builtin().harness();
    let left = server.running().snapshot();
    assert_eq!(left[&credentials.context].len(), CUSTOMERS as usize);
}

#[test]
fn a_token_at_the_end_of_a_list_past_16_mib_fails_the_security_check() {
    let credentials = UsersFixture::builtin().harness();
    let mut echo = PreloadCustomer::new("zz-last", "Last");
    echo.address = format!("token {}", credentials.api_token);
    let server = large_server(Some(echo));
    let output = harness_against(&server.url())
        .args(["--exact", "crud::list_returns_customer_objects"])
        .output()
        .unwrap();
    let printed = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("security: ") && printed.contains("a response must never carry a token"),
        "{printed}"
    );
    assert!(!printed.contains(&credentials.api_token), "{printed}");
}
