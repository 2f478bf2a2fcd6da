//! The mutating proxy: it forwards faithfully with no operator, breaks off
//! when the upstream does, and the operator table runs in front of a
//! `--target` without leaving records behind.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::send_guarded;

use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::scenario_run::RunIdentity;
use ipdr_conformance::execution::suite::Suite;
use ipdr_conformance::execution::target::Target;
use ipdr_conformance::reference::{self, Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::selfcheck::mutation::operator::{
    CredentialFix, ListEdit, MemberEdit, Operator,
};
use ipdr_conformance::selfcheck::mutation::request::KnownCredentials;
use ipdr_conformance::selfcheck::mutation::{
    run_campaign, CampaignOptions, Mutant, MutantVerdict, MutatingProxy, OperatorTable, Upstream,
};
use ipdr_conformance::spec::contract::{customer_path, Operation, COLLECTION_PATH};
use ipdr_conformance::spec::load::load_embedded;
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn target_at(server: &reference::RunningServer) -> Target {
    Target::from_harness(
        UsersFixture::builtin().harness(),
        server.base_url(),
        Duration::from_secs(10),
    )
}

/// With no operator the harness cannot tell the proxy from the server: the
/// same status, Content-Type and body bytes for every operation, GET and
/// DELETE bodies included, and the whole suite passes through it.
#[test]
fn the_proxy_forwards_faithfully_with_no_operator() {
    let runtime = runtime();
    runtime.block_on(async {
        let server = reference::start(ServerConfig::builtin(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let target = target_at(&server);
        let identity = RunIdentity::fresh();
        let proxy = MutatingProxy::start(
            &target.base_url,
            None,
            KnownCredentials::new(&target, &identity),
            target.timeout,
        )
        .await
        .unwrap();
        let direct = Client::new(target.clone()).unwrap();
        let proxied = Client::new(Target {
            base_url: proxy.base_url(),
            ..target.clone()
        })
        .unwrap();
        let uid = format!("{}faithful", identity.uid_prefix());
        let mut create =
            serde_json::from_str::<serde_json::Value>(&target.auth_body("default")).unwrap();
        create["UserID"] = json!(uid);
        create["Name"] = json!("Trisul");
        let prefix = identity.uid_prefix();
        let created = send_guarded(
            &proxied,
            "POST",
            COLLECTION_PATH,
            Some(create.to_string()),
            &prefix,
        )
        .await;
        let created = created.response.unwrap();
        assert_eq!(created.status, 200);
        assert_eq!(created.json.as_ref().unwrap()["UserID"], json!(uid));
        let auth = target.auth_body("default");
        let bad = auth.replace(target.api_token.expose(), "not-the-token");
        for (method, path, body) in [
            ("GET", COLLECTION_PATH.to_string(), Some(auth.clone())),
            ("GET", COLLECTION_PATH.to_string(), Some(bad.clone())),
            (
                "GET",
                format!("{COLLECTION_PATH}?contextname=x"),
                Some(auth.clone()),
            ),
            ("GET", customer_path(&uid), Some(auth.clone())),
            ("PATCH", customer_path(&uid), Some(bad.clone())),
            (
                "POST",
                COLLECTION_PATH.to_string(),
                Some("{not json".to_string()),
            ),
            ("GET", "/elsewhere".to_string(), None),
        ] {
            let one = send_guarded(&direct, method, &path, body.clone(), &prefix)
                .await
                .response
                .unwrap();
            let other = send_guarded(&proxied, method, &path, body, &prefix)
                .await
                .response
                .unwrap();
            assert_eq!(
                (one.status, &one.content_type, &one.body),
                (other.status, &other.content_type, &other.body),
                "{method} {path}"
            );
        }
        // DELETE carries its auth in the body; through the proxy it deletes.
        let deleted = send_guarded(
            &proxied,
            "DELETE",
            &customer_path(&uid),
            Some(auth.clone()),
            &prefix,
        )
        .await
        .response
        .unwrap();
        assert_eq!(deleted.json.as_ref().unwrap()["UserID"], json!(uid));
        assert!(server.snapshot()["default"].is_empty());
        assert_eq!(proxy.applications(), 0);

        let suite = Suite::new(proxied, load_embedded().unwrap());
        let results = suite.run_all(8).await;
        let failed: Vec<&str> = results
            .iter()
            .filter(|result| result.failed())
            .map(|result| result.scenario.scenario.name.as_str())
            .collect();
        assert!(!results.is_empty());
        assert!(failed.is_empty(), "failed through the proxy: {failed:?}");
        proxy.shutdown().await;
        server.shutdown().await;
    });
}

/// When the upstream does not answer, the harness sees a network error
/// through the proxy too, not an HTTP answer the proxy made up.
#[test]
fn an_upstream_that_does_not_answer_is_a_network_error_through_the_proxy() {
    let runtime = runtime();
    runtime.block_on(async {
        // A port nothing listens on: bind one, then free it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let target = Target::from_harness(
            UsersFixture::builtin().harness(),
            url.clone(),
            Duration::from_secs(5),
        );
        let proxy = MutatingProxy::start(
            &url,
            None,
            KnownCredentials::new(&target, &RunIdentity::fresh()),
            target.timeout,
        )
        .await
        .unwrap();
        let client = Client::new(Target {
            base_url: proxy.base_url(),
            ..target.clone()
        })
        .unwrap();
        let exchange = client
            .send("GET", COLLECTION_PATH, Some(target.auth_body("default")))
            .await;
        assert!(
            exchange.response.is_err(),
            "expected a network error, got {:?}",
            exchange.response
        );
        proxy.shutdown().await;
    });
}

fn mutant(operator: Operator, scope: Option<Operation>) -> Mutant {
    Mutant { operator, scope }
}

/// `selfcheck --target`: a few mutants in front of a running server reached
/// as a target. Departures are killed, the equivalent reorder survives,
/// and nothing of any run is left on the target or in the ledger directory.
#[test]
fn the_operator_table_runs_in_front_of_a_target_and_leaves_nothing_behind() {
    let runtime = runtime();
    let server = runtime
        .block_on(reference::start(
            ServerConfig::builtin().with_flavour(Flavour::Alt),
            ([127, 0, 0, 1], 0).into(),
        ))
        .unwrap();
    let ledger_dir = std::env::temp_dir().join(format!(
        "ipdr-mutation-ledger-{}-{}",
        std::process::id(),
        RunIdentity::fresh().run_id
    ));
    let upstream = Upstream::Target {
        target: Box::new(target_at(&server)),
        retries: 0,
        ledger_dir: ledger_dir.clone(),
    };
    let mutants = vec![
        mutant(
            Operator::Member {
                field: "Email",
                edit: MemberEdit::Drop,
            },
            Some(Operation::Create),
        ),
        mutant(Operator::NeighbourUserId, Some(Operation::Delete)),
        mutant(
            Operator::ValidCredential(CredentialFix::Token),
            Some(Operation::PartialUpdate),
        ),
        mutant(Operator::SecondContextAsConfigured, Some(Operation::Create)),
        mutant(Operator::List(ListEdit::Reverse), Some(Operation::List)),
    ];
    let options = CampaignOptions {
        mutants: mutants.clone(),
        ..CampaignOptions::default()
    };
    let scenarios = load_embedded().unwrap();
    let campaign = runtime
        .block_on(run_campaign(&scenarios, &upstream, &options))
        .unwrap();
    let table = OperatorTable::new(campaign);
    let printed = ipdr_conformance::selfcheck::mutation::render(&table, true);
    println!("{printed}");
    assert!(printed.contains(&format!("in front of --target {}", server.base_url())));
    assert!(table.campaign.baseline.killers.is_empty(), "{printed}");
    let verdicts: Vec<&MutantVerdict> = table.verdicts.iter().map(|(_, v)| v).collect();
    assert_eq!(verdicts.len(), mutants.len());
    for verdict in &verdicts[..4] {
        assert_eq!(**verdict, MutantVerdict::Killed, "{printed}");
    }
    assert!(
        matches!(verdicts[4], MutantVerdict::SurvivedEquivalent(_)),
        "{printed}"
    );
    assert!(table.is_clean(), "{printed}");
    // Nothing of the runs is left: not on the target, not in the ledgers.
    let left: BTreeSet<String> = server
        .snapshot()
        .values()
        .flatten()
        .map(|customer| customer.user_id.clone())
        .filter(|uid| uid.starts_with("zzconf-"))
        .collect();
    assert!(left.is_empty(), "left on the target: {left:?}");
    let ledgers: Vec<_> = std::fs::read_dir(&ledger_dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    assert!(ledgers.is_empty(), "ledger files left: {ledgers:?}");
    let _ = std::fs::remove_dir_all(&ledger_dir);
    runtime.block_on(server.shutdown());
}

/// `selfcheck --target` takes the usual target options and checks them
/// before any mutant runs: an unreachable target or rejected credentials
/// stop it with exit code 2 and one line saying why.
#[test]
fn selfcheck_against_a_target_checks_it_first() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let credentials = UsersFixture::builtin().harness();
    let unreachable = common::harness()
        .args(["selfcheck", "--operators-only", "--target", &url])
        .args(["--username", &credentials.username])
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(
        common::stderr(&unreachable).contains("unreachable"),
        "{}",
        common::stderr(&unreachable)
    );
    let server = common::Server::start(ServerConfig::builtin());
    let rejected = common::harness()
        .args(["selfcheck", "--operators-only", "--target", &server.url()])
        .args(["--username", &credentials.username])
        .env("IPDR_API_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert_eq!(rejected.status.code(), Some(2));
    assert!(
        common::stderr(&rejected).contains("--username user / --api-token: refused"),
        "{}",
        common::stderr(&rejected)
    );
}
