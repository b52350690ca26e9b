//! Credentials on demand with the native driver (`KeeperBuilder::credentials_provider`): the
//! provider is asked once for any number of waiting requests, only when a login is due and
//! no usable credentials are held, and its answer (or its lack of one) reaches every waiter.

mod reqwest_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest_support::{PASSWORD, USER, default_server, echo};
use tokenkeeper_reqwest::{Credentials, Dialect, Error, Keeper};
use tokenkeeper_testserver::{ServerConfig, TestServer};

/// A keeper with no credentials and a provider that answers from `answers` in turn (then
/// `None`), after a short pause so that concurrent requests pile up behind the question.
fn asking(server: &TestServer, answers: Vec<Option<Credentials>>) -> (Keeper, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(std::sync::Mutex::new(answers.into_iter()));
    let counter = Arc::clone(&calls);
    let keeper = Keeper::builder(Dialect::vitalgraph(&server.url()).unwrap())
        .seed(7)
        .credentials_provider(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = answers.lock().unwrap().next().flatten();
            async move {
                // A pause (a person typing), so that concurrent requests pile up behind it.
                tokio::time::sleep(Duration::from_millis(20)).await;
                answer
            }
        })
        .build()
        .expect("keeper");
    (keeper, calls)
}

fn alice() -> Credentials {
    Credentials::password(USER, PASSWORD)
}

/// `n` concurrent GETs of the echo route: their statuses or errors. Fails (rather than hangs)
/// if they have not all ended within 30 s.
async fn burst(keeper: &Keeper, server: &TestServer, n: usize) -> Vec<Result<u16, Error>> {
    let client = keeper.client();
    let all = join_all((0..n).map(|_| {
        let client = client.clone();
        let url = echo(server);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    }));
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("every request ends")
}

/// Whether every request got a 200.
fn all_ok(results: &[Result<u16, Error>]) -> bool {
    results.iter().all(|r| matches!(r, Ok(200)))
}

/// Whether every request failed as `expected` says.
fn all_failed(results: &[Result<u16, Error>], expected: fn(&Error) -> bool) -> bool {
    results.iter().all(|r| r.as_ref().is_err_and(expected))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_question_for_a_burst_then_one_login() {
    let server = default_server().await;
    let (keeper, calls) = asking(&server, vec![Some(alice())]);
    let results = burst(&keeper, &server, 50).await;
    assert!(all_ok(&results), "{results:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.counters().logins_ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_fail_their_requests_and_the_next_request_asks_again() {
    let server = default_server().await;
    let (keeper, calls) = asking(
        &server,
        vec![
            Some(Credentials::password(USER, "wrong-91c2")),
            Some(alice()),
        ],
    );
    let first = burst(&keeper, &server, 10).await;
    assert!(
        all_failed(&first, Error::is_invalid_credentials),
        "{first:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let second = burst(&keeper, &server, 10).await;
    assert!(all_ok(&second), "{second:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.counters().logins_ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_fails_the_waiting_requests_with_session_expired() {
    let server = default_server().await;
    let (keeper, calls) = asking(&server, vec![None]);
    let results = burst(&keeper, &server, 5).await;
    assert!(
        all_failed(&results, Error::is_session_expired),
        "{results:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.counters().token_endpoint_calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_refresh_token_without_credentials_asks_instead_of_failing() {
    let server = default_server().await;
    // Tokens from elsewhere (another process logged in), no credentials held.
    let donor = reqwest_support::keeper(&server);
    donor.login().await.unwrap();
    let (keeper, calls) = asking(&server, vec![Some(alice())]);
    keeper.set_tokens(donor.tokens().unwrap()).unwrap();
    assert!(all_ok(&burst(&keeper, &server, 5).await));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a working token needs no credentials"
    );
    server.control().revoke_all(); // access and refresh tokens die: 401, refresh rejected
    assert!(all_ok(&burst(&keeper, &server, 20).await));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        server.counters().logins_ok,
        2,
        "the donor's login and one re-login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_forgets_the_credentials_and_the_next_request_asks_again() {
    let server = default_server().await;
    let (keeper, calls) = asking(&server, vec![Some(alice()), Some(alice())]);
    assert!(all_ok(&burst(&keeper, &server, 3).await));
    keeper.logout();
    assert!(all_ok(&burst(&keeper, &server, 3).await));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn the_blocking_client_asks_too() {
    let server = TestServer::start_blocking(
        std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
        ServerConfig::default().with_user(USER, PASSWORD),
    )
    .unwrap();
    let (keeper, calls) = asking(&server, vec![Some(alice())]);
    let client = keeper.blocking().unwrap();
    let status = client.get(echo(&server)).send().unwrap().status();
    assert_eq!(status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
