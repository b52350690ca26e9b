//! Injected failures, latency, dropped connections, and exact counters under concurrency.

use std::time::{Duration, Instant, SystemTime};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use tokenkeeper_testserver::{RetryAfter, RouteKind};

use crate::common::{echo, header, login, login_form, refresh, start, token_endpoint};

#[tokio::test]
async fn injected_503_with_retry_after_then_success() {
    let (s, c) = start().await;
    let (_, rt) = login(&c, &s).await;
    s.control()
        .fail_next_refreshes(1, 503, Some(RetryAfter::Seconds(1)));
    let r = refresh(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("1"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"], "Authentication backend unavailable");
    assert_eq!(refresh(&c, &s, &rt).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_faulted,
            n.refreshes_accepted,
            n.refreshes_rejected
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn injected_429_login_with_an_http_date() {
    let (s, c) = start().await;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    s.control()
        .fail_next_logins(2, 429, Some(RetryAfter::HttpDate(when)));
    let form = [("username", "admin"), ("password", "admin")];
    for _ in 0..2 {
        let r = login_form(&c, &s, &form).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let ra = header(&r, "retry-after").unwrap();
        assert_eq!(ra, "Sun, 17 Mar 2030 17:46:40 GMT");
        assert_eq!(httpdate::parse_http_date(&ra).unwrap(), when);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["detail"], "Too many requests");
    }
    assert_eq!(login_form(&c, &s, &form).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!((n.logins_faulted, n.logins_ok), (2, 1));
}

#[tokio::test]
async fn token_endpoint_faults_use_oauth_errors() {
    let (s, c) = start().await;
    s.control().fail_next_logins(1, 503, None);
    let form = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", "admin"),
    ];
    let r = token_endpoint(&c, &s, None, &form).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header(&r, "retry-after").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
    assert_eq!(
        token_endpoint(&c, &s, None, &form).await.status(),
        StatusCode::OK
    );
    assert_eq!(s.counters().logins_faulted, 1);
}

#[tokio::test]
async fn dropped_connection_is_a_client_error() {
    let (s, c) = start().await;
    let (at, rt) = login(&c, &s).await;
    s.control().drop_next_connections(1, RouteKind::Protected);
    // Other route kinds are not affected.
    assert_eq!(refresh(&c, &s, &rt).await.status(), StatusCode::OK);
    let err = c
        .get(format!("{}/api/echo", s.url()))
        .bearer_auth(&at)
        .send()
        .await
        .expect_err("the server closes the connection without answering");
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!((n.dropped_connections, n.protected_ok), (1, 1));
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    s.control()
        .set_latency(RouteKind::Protected, Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(150));
    s.control().reset_faults();
    let t = Instant::now();
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    assert!(t.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn counters_are_exact_with_200_concurrent_logins() {
    let (s, c) = start().await;
    s.control().fail_next_logins(50, 503, None);
    let form = [("username", "admin"), ("password", "admin")];
    let statuses = join_all((0..200).map(|_| login_form(&c, &s, &form))).await;
    let ok = statuses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 150);
    let n = s.counters();
    assert_eq!(
        (n.logins_ok, n.logins_faulted, n.logins_rejected),
        (150, 50, 0)
    );
}

#[tokio::test]
async fn a_thousand_concurrent_requests_are_counted_exactly() {
    let (s, c) = start().await;
    let (at, rt) = login(&c, &s).await;
    let calls = (0..1000).map(|i| {
        let (c, s, at, rt) = (&c, &s, &at, &rt);
        async move {
            if i % 100 == 0 {
                refresh(c, s, rt).await.status()
            } else {
                echo(c, s, at).await.status()
            }
        }
    });
    let statuses = join_all(calls).await;
    assert!(statuses.iter().all(|st| *st == StatusCode::OK));
    let n = s.counters();
    assert_eq!(
        (n.protected_ok, n.refreshes_accepted, n.logins_ok),
        (990, 10, 1)
    );
}
