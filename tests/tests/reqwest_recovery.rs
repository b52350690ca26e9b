//! Recovery paths over real HTTP: a refused or expired refresh token leads to a new login, a
//! 503 with `Retry-After` is waited out, refused credentials are tried once, a POST that may
//! have run is not resent, and a dropped caller (or a lost runtime) strands no one.

mod reqwest_support;

use std::time::{Duration, Instant};

use reqwest_support::{
    PASSWORD, USER, builder, default_server, describe, echo, expire_locally, keeper, now, server,
    warm_up,
};
use tokenkeeper_reqwest::{Credentials, Error, TokenSet};
use tokenkeeper_testserver::{RetryAfter, RouteKind, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_leads_to_a_new_login() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    server.control().fail_next_refreshes(1, 401, None);
    expire_locally(&keeper);

    let r = keeper.client().get(echo(&server)).send().await.unwrap();

    assert_eq!(r.status(), 200);
    let c = server.counters();
    assert_eq!(
        (c.refreshes_faulted, c.refreshes_accepted, c.logins_ok),
        (1, 0, 2),
        "{c:?}"
    );
    let m = keeper.metrics();
    assert_eq!(
        (m.refresh_failures, m.reauthentications, m.failures),
        (1, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_leads_to_a_new_login() {
    let server = server(ServerConfig::default().with_refresh_ttl(Duration::from_secs(3600))).await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    // Two hours later on the server: both tokens are dead; the client does not know yet.
    server
        .control()
        .advance_clock(Duration::from_secs(2 * 3600));

    let r = keeper.client().get(echo(&server)).send().await.unwrap();

    assert_eq!(r.status(), 200);
    let c = server.counters();
    assert_eq!(c.protected_unauthorized, 1, "{c:?}");
    assert_eq!(c.refreshes_rejected, 1);
    assert_eq!(c.logins_ok, 2);
    assert_eq!(keeper.metrics().reauthentications, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_known_to_be_expired_is_not_even_tried() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let tokens = keeper.tokens().unwrap();
    let past = now().saturating_sub(Duration::from_secs(1));
    keeper
        .set_tokens(TokenSet {
            expires_at: past,
            refresh_expires_at: Some(past),
            issued_at: past.saturating_sub(Duration::from_secs(3600)),
            ..tokens
        })
        .unwrap();

    let r = keeper.client().get(echo(&server)).send().await.unwrap();

    assert_eq!(r.status(), 200);
    let c = server.counters();
    assert_eq!(c.refreshes_accepted + c.refreshes_rejected, 0, "{c:?}");
    assert_eq!(c.logins_ok, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_on_refresh_is_waited_out() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    server
        .control()
        .fail_next_refreshes(1, 503, Some(RetryAfter::Seconds(1)));
    expire_locally(&keeper);

    let started = Instant::now();
    let r = keeper.client().get(echo(&server)).send().await.unwrap();
    let waited = started.elapsed();

    assert_eq!(r.status(), 200);
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(5), "took {waited:?}");
    let c = server.counters();
    assert_eq!((c.refreshes_faulted, c.refreshes_accepted), (1, 1), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_tried_once_and_fail_typed() {
    let server = default_server().await;
    let keeper = builder(&server)
        .credentials(Credentials::password(USER, "wrong-password-1b9d"))
        .build()
        .unwrap();
    let client = keeper.client();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (client, url) = (client.clone(), echo(&server));
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    let mut errors: Vec<Error> = Vec::new();
    for t in futures::future::join_all(tasks).await {
        errors.push(t.unwrap().expect_err("login refused"));
    }
    // Later requests fail at once: the refused credentials are not tried again.
    errors.push(client.get(echo(&server)).send().await.unwrap_err());

    for e in &errors {
        assert!(e.is_invalid_credentials(), "{e}");
        assert!(matches!(
            e.engine(),
            Some(tokenkeeper_core::Error::InvalidCredentials { status: 401, .. })
        ));
        let text = describe(e);
        assert!(
            !text.contains("wrong-password-1b9d") && !text.contains(PASSWORD),
            "{text}"
        );
    }
    let c = server.counters();
    assert_eq!((c.logins_rejected, c.logins_ok), (1, 0), "{c:?}");
    assert_eq!(c.protected_ok + c.protected_unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_may_have_run_is_not_resent_but_a_get_is() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let control = server.control();
    let client = keeper.client();

    control.drop_next_connections(1, RouteKind::Protected);
    let err = client
        .post(echo(&server))
        .json(&serde_json::json!({"transfer": 100}))
        .send()
        .await
        .expect_err("connection dropped");
    let Error::Transport { engine, source } = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert_eq!(
        *engine,
        tokenkeeper_core::Error::Transport {
            may_have_reached_server: true,
            attempts: 1,
            stopped: tokenkeeper_core::TransportStop::NotIdempotent,
        }
    );
    assert!(!source.is_connect());
    let c = server.counters();
    assert_eq!(c.dropped_connections, 1, "{c:?}");
    assert_eq!(c.protected_ok, 1, "only the warm-up succeeded");
    assert_eq!(c.protected_unauthorized, 0);

    control.drop_next_connections(1, RouteKind::Protected);
    let r = client.get(echo(&server)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let c = server.counters();
    assert_eq!((c.dropped_connections, c.protected_ok), (2, 2), "{c:?}");
    assert_eq!(keeper.metrics().transient_resends, 1);
}

/// Waits (polling briefly) until the keeper has a login or refresh in flight.
async fn until_auth_in_progress(keeper: &tokenkeeper_reqwest::Keeper) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !keeper.metrics().auth_in_progress {
        assert!(Instant::now() < deadline, "no auth operation started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_request_that_started_a_refresh_strands_no_one() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    server
        .control()
        .set_latency(RouteKind::Refresh, Duration::from_millis(400));
    expire_locally(&keeper);
    let client = keeper.client();

    let first = {
        let (client, url) = (client.clone(), echo(&server));
        tokio::spawn(async move { client.get(url).send().await })
    };
    until_auth_in_progress(&keeper).await;
    let others: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (client.clone(), echo(&server));
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    for t in futures::future::join_all(others).await {
        assert_eq!(t.unwrap().unwrap().status(), 200);
    }
    let c = server.counters();
    // The refresh runs on a task of its own: cancelling its caller did not abort it.
    assert_eq!(c.refreshes_accepted, 1, "{c:?}");
    assert_eq!(c.protected_ok, 21);
    assert_eq!(keeper.metrics().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_lost_with_its_runtime_is_restarted_for_the_waiters() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    server
        .control()
        .set_latency(RouteKind::Refresh, Duration::from_millis(300));
    expire_locally(&keeper);

    // Another runtime starts the refresh, then dies with it in flight.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (die_tx, die_rx) = std::sync::mpsc::channel::<()>();
    let doomed = {
        let (keeper, url) = (keeper.clone(), echo(&server));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = keeper.client();
                tokio::spawn(async move { client.get(url).send().await });
                until_auth_in_progress(&keeper).await;
            });
            started_tx.send(()).unwrap();
            die_rx.recv().unwrap();
            drop(rt);
        })
    };
    started_rx.await.unwrap();
    let before = keeper.metrics().requests;
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (client, url) = (keeper.client(), echo(&server));
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    // Let them all start waiting for the refresh in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while keeper.metrics().requests < before + 10 {
        assert!(Instant::now() < deadline, "the waiters did not start");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    die_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || doomed.join().unwrap())
        .await
        .unwrap();

    for t in futures::future::join_all(waiters).await {
        assert_eq!(t.unwrap().unwrap().status(), 200);
    }
    let c = server.counters();
    assert!(c.refreshes_accepted >= 1, "{c:?}");
    assert_eq!(c.logins_ok, 1);
    assert_eq!(keeper.metrics().failures, 0);
}
