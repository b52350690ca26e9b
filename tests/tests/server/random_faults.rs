//! Rate-based faults for soaks: random 401s, 503s with `Retry-After`, dropped connections,
//! refresh 503s; seeded, and each counted so a soak can classify every failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokenkeeper_testserver::{Counters, RetryAfter, ServerConfig, TestServer};

use crate::common::{echo, header, login, refresh, start, start_with, str_field, token_endpoint};

#[tokio::test]
async fn each_random_fault_at_rate_one() {
    let (s, c) = start().await;
    let (at, rt) = login(&c, &s).await;
    let ctl = s.control();

    ctl.set_random_503_rate(1.0, 1, Some(RetryAfter::Seconds(7)));
    let r = echo(&c, &s, &at).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("7"));
    let r = echo(&c, &s, "not even a token").await;
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "before the token check"
    );
    ctl.set_random_503_rate(0.0, 1, None);

    ctl.set_random_drop_rate(1.0, 1);
    let err = c
        .get(format!("{}/api/spaces", s.url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(
        refresh(&c, &s, &rt).await.status(),
        StatusCode::OK,
        "protected only"
    );
    ctl.set_random_drop_rate(0.0, 1);

    ctl.set_random_refresh_503_rate(1.0, 1, Some(RetryAfter::Seconds(3)));
    let r = refresh(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("3"));
    let grant = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let r = token_endpoint(&c, &s, None, &grant).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    let login_grant = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", "admin"),
    ];
    let r = token_endpoint(&c, &s, None, &login_grant).await;
    assert_eq!(r.status(), StatusCode::OK, "logins are not refreshes");
    ctl.set_random_refresh_503_rate(0.0, 1, None);

    ctl.set_random_401_rate(1.0, 1);
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::UNAUTHORIZED);
    ctl.reset_faults();
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);

    let n = s.counters();
    assert_eq!(
        (
            n.protected_injected_503,
            n.dropped_connections,
            n.refreshes_faulted,
            n.protected_injected_401,
            n.protected_unauthorized,
        ),
        (2, 1, 2, 1, 1)
    );
    assert_eq!(
        (n.protected_ok, n.refreshes_accepted, n.logins_ok),
        (1, 1, 2)
    );
}

/// The statuses (0: connection error) of `n` sequential protected requests with faults
/// set over HTTP.
async fn sequence(n: usize, seed: u64) -> Vec<u16> {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let r = c
        .post(format!("{}/_control/faults", s.url()))
        .json(&json!({
            "random_401": {"rate": 0.2, "seed": seed},
            "random_503": {"rate": 0.2, "seed": seed, "retry_after": {"http_date_in_secs": 5}},
            "random_drop": {"rate": 0.1, "seed": seed},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            match c
                .get(format!("{}/api/echo", s.url()))
                .bearer_auth(&at)
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            },
        );
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence() {
    let a = sequence(150, 9).await;
    assert_eq!(a, sequence(150, 9).await);
    assert_ne!(a, sequence(150, 10).await);
    for status in [0, 200, 401, 503] {
        assert!(a.contains(&status), "{status} in {a:?}");
    }
}

#[tokio::test]
async fn bad_random_specs_are_refused() {
    let (s, c) = start().await;
    for body in [
        json!({"random_503": {"rate": 1.5}}),
        json!({"random_drop": {"rate": 0.1, "retry_after": 1}}),
        json!({"random_401": {"rate": 0.1, "retry_after": 1}}),
        json!({"random_refresh_503": {"rate": 0.1, "retry_after": "later"}}),
        json!({"random_refresh_503": {"seed": 1}}),
        json!({"random_503": {"rate": 0.1, "sed": 1}}),
    ] {
        let r = c
            .post(format!("{}/_control/faults", s.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

/// What the soak's clients saw, to compare with the server's counters.
#[derive(Debug, Default)]
struct Seen {
    protected_ok: AtomicU64,
    protected_401: AtomicU64,
    protected_503: AtomicU64,
    protected_errors: AtomicU64,
    refresh_ok: AtomicU64,
    refresh_503: AtomicU64,
    refresh_refused: AtomicU64,
    logins: AtomicU64,
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// `(access, refresh)` from a login.
async fn soak_login(c: &Client, url: &str, seen: &Seen) -> (String, String) {
    let v: Value = c
        .post(format!("{url}/api/login"))
        .form(&[("username", "admin"), ("password", "admin")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    bump(&seen.logins);
    (
        str_field(&v, "access_token"),
        str_field(&v, "refresh_token"),
    )
}

/// One client: `n` protected requests, refreshing after each 401 (retrying its 503s) and
/// logging in again when a refresh is refused.
async fn soak_client(c: Client, url: Arc<str>, n: u64, seen: Arc<Seen>) {
    let (mut at, mut rt) = soak_login(&c, &url, &seen).await;
    for _ in 0..n {
        let r = c
            .get(format!("{url}/api/echo"))
            .bearer_auth(&at)
            .send()
            .await;
        let status = match r {
            Err(_) => {
                bump(&seen.protected_errors);
                continue;
            }
            Ok(r) => r.status(),
        };
        match status {
            StatusCode::OK => bump(&seen.protected_ok),
            StatusCode::SERVICE_UNAVAILABLE => bump(&seen.protected_503),
            StatusCode::UNAUTHORIZED => {
                bump(&seen.protected_401);
                loop {
                    let r = c
                        .post(format!("{url}/api/refresh"))
                        .bearer_auth(&rt)
                        .json(&json!({ "refresh_token": rt }))
                        .send()
                        .await
                        .unwrap();
                    match r.status() {
                        StatusCode::OK => {
                            bump(&seen.refresh_ok);
                            let v: Value = r.json().await.unwrap();
                            at = str_field(&v, "access_token");
                            rt = str_field(&v, "refresh_token");
                            break;
                        }
                        StatusCode::SERVICE_UNAVAILABLE => bump(&seen.refresh_503),
                        _ => {
                            bump(&seen.refresh_refused);
                            (at, rt) = soak_login(&c, &url, &seen).await;
                            break;
                        }
                    }
                }
            }
            other => panic!("unexpected {other}"),
        }
    }
}

/// The soak's parameters: 5 % 401, 5 % 503 with `Retry-After: 1`, 2 % dropped
/// connections, 10 % of refreshes 503, rotation with reuse detection, 2-second access
/// tokens, 64 concurrent clients; `total` protected requests.
async fn soak(total: u64) -> (Seen, Counters, Duration) {
    const CLIENTS: u64 = 64;
    let config = ServerConfig::default()
        .with_rotation(true)
        .with_reuse_detection(true)
        .with_access_ttl(Duration::from_secs(2));
    let (s, c): (TestServer, Client) = start_with(config).await;
    let ctl = s.control();
    ctl.set_random_401_rate(0.05, 1);
    ctl.set_random_503_rate(0.05, 2, Some(RetryAfter::Seconds(1)));
    ctl.set_random_drop_rate(0.02, 3);
    ctl.set_random_refresh_503_rate(0.10, 4, Some(RetryAfter::Seconds(1)));
    let seen = Arc::new(Seen::default());
    let url: Arc<str> = s.url().into();
    let t = Instant::now();
    let clients = (0..CLIENTS).map(|i| {
        let n = total / CLIENTS + u64::from(i < total % CLIENTS);
        tokio::spawn(soak_client(c.clone(), url.clone(), n, seen.clone()))
    });
    for r in join_all(clients).await {
        r.unwrap();
    }
    let took = t.elapsed();
    let seen = Arc::into_inner(seen).unwrap();
    (seen, s.counters(), took)
}

/// Every failure a client saw is classified by exactly one counter.
fn assert_classified(seen: &Seen, n: &Counters, total: u64) {
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(g(&seen.protected_ok), n.protected_ok);
    assert_eq!(g(&seen.protected_401), n.protected_unauthorized);
    assert_eq!(g(&seen.protected_503), n.protected_injected_503);
    assert_eq!(g(&seen.protected_errors), n.dropped_connections);
    assert_eq!(g(&seen.refresh_ok), n.refreshes_accepted);
    assert_eq!(g(&seen.refresh_503), n.refreshes_faulted);
    assert_eq!(g(&seen.refresh_refused), n.refreshes_rejected);
    assert_eq!(g(&seen.logins), n.logins_ok);
    assert_eq!(
        n.protected_ok
            + n.protected_unauthorized
            + n.protected_injected_503
            + n.dropped_connections,
        total
    );
    assert!(n.protected_injected_401 <= n.protected_unauthorized);
    assert_eq!(n.reuse_detections, 0, "no refresh answer was lost");
    // The rates, loosely (a binomial's spread at these sizes is well inside).
    let rate = |k: u64, of: u64| k as f64 / of as f64;
    let near = |k, of, want: f64| (rate(k, of) - want).abs() < want * 0.5 + 0.01;
    assert!(near(n.dropped_connections, total, 0.02), "{n:?}");
    assert!(near(n.protected_injected_503, total, 0.05), "{n:?}");
}

#[tokio::test]
async fn a_small_soak_classifies_every_failure() {
    let total = 3_200;
    let (seen, n, _) = soak(total).await;
    assert_classified(&seen, &n, total);
    assert!(
        n.protected_injected_401 > 0 && n.refreshes_faulted > 0,
        "{n:?}"
    );
}

/// The full soak load: `cargo test -p tokenkeeper-testserver --release --test server
/// full_soak -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "100,000 requests; run by hand to measure"]
async fn full_soak_100k() {
    let total = 100_000;
    let (seen, n, took) = soak(total).await;
    assert_classified(&seen, &n, total);
    println!(
        "{total} requests by 64 clients in {took:?} ({:.0}/s): {n:?}",
        total as f64 / took.as_secs_f64()
    );
}
