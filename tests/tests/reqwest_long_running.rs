//! Long-running work with short-lived tokens (VitalGraph `token_expiry_seconds`): the token is
//! renewed ahead of expiry again and again and no request fails or even sees a 401, with or
//! without refresh-token rotation. Out-of-range lifetimes are refused before anything is sent.
//!
//! Time is the server's frozen clock and the keeper's manual clock, moved together in rounds:
//! every task sends one request, then time moves on (never while a request or a refresh is on
//! its way), so seconds of token lifetimes pass without anyone waiting for them.

mod reqwest_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest_support::{PASSWORD, Time, USER, default_server, echo, server};
use tokenkeeper_core::ConfigError;
use tokenkeeper_reqwest::{Credentials, Dialect, Error, Event, Keeper};
use tokenkeeper_testserver::{ServerConfig, TestServer};

/// A keeper asking VitalGraph for `seconds`-long access tokens, on `time`'s clock.
fn short_lived(server: &TestServer, seconds: u64, time: &Time) -> Keeper {
    let dialect = Dialect::vitalgraph_with_expiry(&server.url(), seconds).expect("in range");
    Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .clock(time.clock.clone())
        .seed(11)
        .build()
        .unwrap()
}

/// Waits for the keeper's login or refresh in flight to end (real network, no timeout).
async fn settle(keeper: &Keeper) {
    for _ in 0..500 {
        if !keeper.metrics().auth_in_progress {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("an auth operation never ended");
}

/// `rounds` rounds of `workers` concurrent GETs, time moving `step` after each; returns how
/// many requests were sent. Panics on any error or non-200 status.
async fn rounds(
    keeper: &Keeper,
    time: &Time,
    url: &str,
    workers: usize,
    rounds: u32,
    step: Duration,
) -> u64 {
    let sent = Arc::new(AtomicU64::new(0));
    for _ in 0..rounds {
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (client, url, sent) = (keeper.client(), url.to_owned(), Arc::clone(&sent));
                tokio::spawn(async move {
                    let r = client.get(&url).send().await.expect("request");
                    assert_eq!(r.status(), 200);
                    sent.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for t in futures::future::join_all(tasks).await {
            t.expect("worker");
        }
        settle(keeper).await;
        time.advance(step);
    }
    sent.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_seconds_of_work_across_several_expiries_has_no_failure() {
    let server = default_server().await;
    let time = Time::freeze(&server);
    let keeper = short_lived(&server, 2, &time);

    let sent = rounds(
        &keeper,
        &time,
        &echo(&server),
        16,
        80,
        Duration::from_millis(100),
    )
    .await;

    let c = server.counters();
    let m = keeper.metrics();
    assert!(c.refreshes_accepted >= 3, "{c:?}");
    assert_eq!(c.logins_ok, 1);
    assert_eq!(c.protected_ok, sent);
    // Renewed ahead of expiry every time: no request was ever refused.
    assert_eq!(c.protected_unauthorized, 0, "{c:?}");
    assert_eq!((m.failures, m.delivered), (0, sent));
    assert_eq!(m.refresh_count, c.refreshes_accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_token_is_refreshed_before_it_expires() {
    let server = default_server().await;
    let time = Time::freeze(&server);
    let refreshed = Arc::new(AtomicU64::new(0));
    let dialect = Dialect::vitalgraph_with_expiry(&server.url(), 2).unwrap();
    let counter = Arc::clone(&refreshed);
    let keeper = Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .clock(time.clock.clone())
        .on_event(move |e| {
            if matches!(e, Event::Refreshed { .. }) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();

    // One request every 50 ms for 3.5 s.
    let sent = rounds(
        &keeper,
        &time,
        &echo(&server),
        1,
        70,
        Duration::from_millis(50),
    )
    .await;

    let c = server.counters();
    assert!(c.refreshes_accepted >= 2, "{c:?}");
    assert_eq!(refreshed.load(Ordering::Relaxed), c.refreshes_accepted);
    assert_eq!((c.protected_unauthorized, c.protected_ok), (0, sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_reuse_detection_never_trips_in_long_work() {
    // Every refresh rotates the refresh token and revokes the previous access token, so
    // requests still in flight with it come back 401 and are resent with the new one.
    let config = ServerConfig::default()
        .with_rotation(true)
        .with_reuse_detection(true)
        .with_revoke_access_on_rotation(true);
    let server = server(config).await;
    let time = Time::freeze(&server);
    let keeper = short_lived(&server, 2, &time);

    let sent = rounds(
        &keeper,
        &time,
        &echo(&server),
        32,
        50,
        Duration::from_millis(100),
    )
    .await;

    let c = server.counters();
    assert!(c.refreshes_accepted >= 2, "{c:?}");
    assert_eq!(c.reuse_detections, 0, "{c:?}");
    assert_eq!(c.refreshes_rejected, 0);
    assert_eq!(c.logins_ok, 1);
    assert_eq!(c.protected_ok, sent);
    let m = keeper.metrics();
    assert_eq!(m.failures, 0);
    assert_eq!(m.unauthorized_resends, c.protected_unauthorized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_token_lifetimes_are_refused_before_sending() {
    let server = default_server().await;
    for seconds in [0, 1801] {
        let err: Error = Dialect::vitalgraph_with_expiry(&server.url(), seconds)
            .expect_err("out of range")
            .into();
        assert!(
            matches!(err, Error::Config(ConfigError::TokenExpiryOutOfRange { seconds: s }) if s == seconds)
        );
        assert_eq!(
            err.to_string(),
            format!("token_expiry_seconds must be within 1..=1800, got {seconds}")
        );
    }
    let c = server.counters();
    assert_eq!(c.logins_ok + c.logins_rejected + c.logins_faulted, 0);

    // The server refuses them too when they are sent anyway.
    let raw = reqwest::Client::new();
    for seconds in ["0", "1801"] {
        let r = raw
            .post(format!("{}/api/login", server.url()))
            .form(&[
                ("username", USER),
                ("password", PASSWORD),
                ("token_expiry_seconds", seconds),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    // And the edges of the range work end to end.
    for seconds in [1, 1800] {
        let keeper = short_lived(&server, seconds, &Time::freeze(&server));
        let r = keeper.client().get(echo(&server)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let lifetime = keeper.tokens().unwrap().lifetime();
        assert!(lifetime.as_secs().abs_diff(seconds) <= 1, "{lifetime:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
#[allow(clippy::field_reassign_with_default)] // `Config` is non-exhaustive
async fn with_refresh_ahead_an_idle_session_is_refreshed_in_the_background() {
    let server = default_server().await;
    let time = Time::freeze(&server);
    let mut config = tokenkeeper_reqwest::Config::default();
    config.refresh_ahead = true;
    let keeper = Keeper::builder(Dialect::vitalgraph_with_expiry(&server.url(), 2).unwrap())
        .credentials(Credentials::password(USER, PASSWORD))
        .config(config)
        .clock(time.clock.clone())
        .build()
        .unwrap();
    keeper.login().await.unwrap();

    // No request at all: the background timer renews the 2-s token each time it goes stale.
    for round in 1..=3 {
        time.advance(Duration::from_millis(1100)); // past the refresh margin (1 s)
        for _ in 0..500 {
            if server.counters().refreshes_accepted >= round {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(server.counters().refreshes_accepted, round);
        settle(&keeper).await;
    }
    let c = server.counters();
    assert_eq!(
        (c.logins_ok, c.protected_ok + c.protected_unauthorized),
        (1, 0)
    );
    assert!(!keeper.metrics().is_expired);
    let r = keeper.client().get(echo(&server)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
