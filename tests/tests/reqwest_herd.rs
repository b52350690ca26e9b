//! A herd at expiry: 1,000 concurrent requests cause exactly one refresh, whether the client
//! knows the token expired, the server says so with 401s, every token was revoked, or refresh
//! tokens rotate with reuse detection.

mod reqwest_support;

use std::time::Duration;

use reqwest_support::{default_server, echo, expire_locally, keeper, server, warm_up};
use tokenkeeper_reqwest::Client;
use tokenkeeper_testserver::{RouteKind, ServerConfig};

const HERD: usize = 1000;

/// Sends `n` GETs at once and returns their statuses (every one must get an answer).
async fn herd(client: &Client, url: &str, n: usize) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut statuses = Vec::with_capacity(n);
    for t in futures::future::join_all(tasks).await {
        statuses.push(t.expect("task").expect("request"));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_at_expiry_cause_one_refresh() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    expire_locally(&keeper);

    let statuses = herd(&keeper.client(), &echo(&server), HERD).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let c = server.counters();
    assert_eq!(c.refreshes_accepted, 1, "{c:?}");
    assert_eq!(c.logins_ok, 1);
    // Nobody sent the token the client knew to be expired: they all waited for the refresh.
    assert_eq!(c.protected_unauthorized, 0);
    assert_eq!(c.protected_ok, 1 + HERD as u64);
    let m = keeper.metrics();
    assert_eq!(
        (m.refresh_count, m.failures, m.unauthorized_resends),
        (1, 0, 0)
    );
    assert_eq!(
        (m.requests, m.delivered),
        (1 + HERD as u64, 1 + HERD as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_401s_for_one_token_cause_one_refresh_and_one_resend_each() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    // The server's clock jumps past the token's expiry; the client still thinks it fresh.
    // Latency keeps every request in flight with the old token before the first 401 returns.
    let control = server.control();
    control.advance_clock(Duration::from_secs(31 * 60));
    control.set_latency(RouteKind::Protected, Duration::from_millis(200));

    let statuses = herd(&keeper.client(), &echo(&server), HERD).await;

    assert!(statuses.iter().all(|s| *s == 200));
    let c = server.counters();
    assert_eq!(c.refreshes_accepted, 1, "{c:?}");
    assert_eq!(c.refreshes_rejected, 0);
    assert_eq!(c.protected_ok, 1 + HERD as u64);
    // Every request that went out with the old token came back 401 and was resent exactly
    // once (on a loaded machine some tasks start after the refresh and never see a 401).
    let m = keeper.metrics();
    assert_eq!(m.unauthorized_resends, c.protected_unauthorized);
    assert!(c.protected_unauthorized > 0, "{c:?}");
    assert_eq!(m.failures, 0);
    // Requests sent without the lock (the token looked fresh) are counted like the others,
    // those adopted by the engine after their 401 once.
    assert_eq!(
        (m.requests, m.delivered),
        (1 + HERD as u64, 1 + HERD as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_causes_one_refresh_attempt_one_relogin_and_one_resend_each() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let control = server.control();
    control.revoke_all();
    control.set_latency(RouteKind::Protected, Duration::from_millis(200));

    let statuses = herd(&keeper.client(), &echo(&server), HERD).await;

    assert!(statuses.iter().all(|s| *s == 200));
    let c = server.counters();
    // The one refresh is refused (its refresh token was revoked too), so the keeper logs in.
    assert_eq!(c.refreshes_accepted + c.refreshes_rejected, 1, "{c:?}");
    assert_eq!(c.refreshes_rejected, 1);
    assert_eq!(c.logins_ok, 2);
    assert_eq!(c.protected_ok, 1 + HERD as u64);
    let m = keeper.metrics();
    assert_eq!(
        m.unauthorized_resends, c.protected_unauthorized,
        "each 401 resent exactly once"
    );
    assert!(c.protected_unauthorized > 0, "{c:?}");
    assert_eq!((m.reauthentications, m.failures), (1, 0));
    assert_eq!(
        (m.requests, m.delivered),
        (1 + HERD as u64, 1 + HERD as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_reuse_detection_never_trips_under_a_herd() {
    let server = server(
        ServerConfig::default()
            .with_rotation(true)
            .with_reuse_detection(true),
    )
    .await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let control = server.control();
    let client = keeper.client();
    for round in 1..=3u64 {
        control.advance_clock(Duration::from_secs(31 * 60));
        let statuses = herd(&client, &echo(&server), HERD / 4).await;
        assert!(statuses.iter().all(|s| *s == 200), "round {round}");
        let c = server.counters();
        assert_eq!(c.refreshes_accepted, round, "{c:?}");
        assert_eq!(c.reuse_detections, 0);
        assert_eq!(c.refreshes_rejected, 0);
        assert_eq!(c.logins_ok, 1);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_herd_on_a_current_thread_runtime_causes_one_refresh() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    expire_locally(&keeper);

    let statuses = herd(&keeper.client(), &echo(&server), 200).await;

    assert!(statuses.iter().all(|s| *s == 200));
    let c = server.counters();
    assert_eq!(
        (c.refreshes_accepted, c.logins_ok, c.protected_unauthorized),
        (1, 1, 0)
    );
}
