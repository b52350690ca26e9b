//! The auth endpoint's `Retry-After` outlives the auth operation that received it: once a
//! login or refresh has failed with 429/5xx and a `Retry-After`, no login or refresh is sent
//! before that time (clamped to `limits::MAX_AUTH_RETRY_AFTER`). A request that needs one fails
//! at once with `AuthUnavailable { retry_at: Some(t), .. }` without a network call; a stale
//! token that still works is still sent; proactive and background refreshes wait.

mod common;

use std::time::Duration;

use common::{Harness, T0, headers, token_body};
use tokenkeeper_core::limits::MAX_AUTH_RETRY_AFTER;
use tokenkeeper_core::{CircuitBreaker, Config, Error, TimerKind, Timestamp};

fn attempts(n: u32) -> Config {
    Config {
        max_refresh_attempts: n,
        ..Config::default()
    }
}

fn retry_at(e: &Error) -> Option<Timestamp> {
    match e {
        Error::AuthUnavailable { retry_at, .. } => *retry_at,
        other => panic!("not AuthUnavailable: {other:?}"),
    }
}

#[test]
fn retry_after_on_the_last_attempt_holds_off_every_auth_request_until_it_passes() {
    let mut h = Harness::logged_in(attempts(2), 1800);
    h.advance_secs(1800);
    let a = h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.fire_timer();
    h.auth_reply(429, &headers(&[("retry-after", "120")]), "");
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Authenticate(refresh)",
            "Fail(e1,AuthUnavailable)"
        ]
    );
    let until = h.now.saturating_add(Duration::from_secs(120));
    assert!(matches!(
        h.errors[&a],
        Error::AuthUnavailable {
            status: Some(429),
            attempts: 2,
            circuit_open: false,
            ..
        }
    ));
    assert_eq!(retry_at(&h.errors[&a]), Some(until));
    // New requests during the pause fail at once, without a network call.
    h.advance_secs(60);
    let b = h.get();
    let c = h.post();
    assert_eq!(
        h.take(),
        ["Fail(e2,AuthUnavailable)", "Fail(e3,AuthUnavailable)"]
    );
    assert!(h.auth.is_none(), "no Authenticate before the Retry-After");
    assert_eq!(
        h.errors[&b],
        Error::AuthUnavailable {
            status: Some(429),
            attempts: 0,
            circuit_open: false,
            retry_at: Some(until),
        }
    );
    assert_eq!(h.errors[&b], h.errors[&c]);
    assert!(h.session.poll_timeout().is_none(), "nobody waits: no timer");
    // Once it has passed, the next request refreshes.
    h.now = until;
    let d = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(d, 200);
    assert_eq!(h.take(), ["Send(e4,A2)", "Deliver(e4)"]);
    assert_eq!(h.session.metrics(h.now).refresh_failures, 2);
}

#[test]
fn without_retry_after_the_next_request_tries_again_at_once() {
    let mut h = Harness::logged_in(attempts(1), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.get();
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Fail(e1,AuthUnavailable)",
            "Authenticate(refresh)"
        ]
    );
}

#[test]
fn a_retry_after_beyond_the_backoff_budget_ends_the_operation_and_still_holds() {
    let mut h = Harness::logged_in(Config::default(), 1800); // 4 attempts, budget 60 s
    h.advance_secs(1800);
    let a = h.get();
    h.auth_reply(503, &headers(&[("retry-after", "300")]), "");
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Fail(e1,AuthUnavailable)"]
    );
    let until = h.now.saturating_add(Duration::from_secs(300));
    assert_eq!(retry_at(&h.errors[&a]), Some(until));
    h.advance_secs(299);
    h.get();
    assert_eq!(h.take(), ["Fail(e2,AuthUnavailable)"]);
    h.advance_secs(1);
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
}

#[test]
fn a_stale_token_is_still_sent_and_the_proactive_refresh_waits_for_retry_after() {
    let mut h = Harness::logged_in(attempts(1), 1800); // margin 180 s
    h.advance_secs(1700);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,A1)"]);
    h.auth_reply(429, &headers(&[("retry-after", "60")]), "");
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"], "nobody waited: nobody fails");
    h.advance_secs(59);
    let b = h.get();
    h.respond(b, 200);
    assert_eq!(
        h.take(),
        ["Send(e2,A1)", "Deliver(e2)"],
        "no proactive refresh before the Retry-After"
    );
    h.advance_secs(1);
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e3,A1)"]);
}

#[test]
fn the_background_refresh_waits_for_retry_after() {
    let cfg = Config {
        refresh_ahead: true,
        ..attempts(1)
    };
    let mut h = Harness::logged_in(cfg, 1800);
    assert_eq!(h.fire_timer(), TimerKind::RefreshAhead);
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    h.auth_reply(503, &headers(&[("retry-after", "90")]), "");
    let until = h.now.saturating_add(Duration::from_secs(90));
    assert_eq!(
        h.session.poll_timeout(),
        Some((until, TimerKind::RefreshAhead))
    );
    assert_eq!(h.fire_timer(), TimerKind::RefreshAhead);
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
}

#[test]
fn retry_after_is_clamped_to_the_named_limit() {
    let mut h = Harness::logged_in(attempts(1), 1800);
    h.advance_secs(1800);
    let date = tokenkeeper_core::parse::format_http_date(
        h.now.saturating_add(Duration::from_secs(7 * 86_400)),
    );
    for value in ["86400", date.as_str()] {
        let a = h.get();
        h.auth_reply(503, &headers(&[("retry-after", value)]), "");
        let until = h.now.saturating_add(MAX_AUTH_RETRY_AFTER);
        assert_eq!(retry_at(&h.errors[&a]), Some(until), "{value}");
        h.now = until;
    }
    assert_eq!(MAX_AUTH_RETRY_AFTER, Duration::from_secs(3600));
}

#[test]
fn a_login_answered_with_retry_after_holds_off_logins_and_explicit_login_too() {
    let mut h = Harness::with_config(attempts(1));
    h.get();
    h.auth_reply(429, &headers(&[("retry-after", "30")]), "");
    h.advance_secs(10);
    h.get();
    let login = h.session.login(h.now);
    h.drain();
    assert_eq!(
        h.take(),
        [
            "Authenticate(login)",
            "Fail(e1,AuthUnavailable)",
            "Fail(e2,AuthUnavailable)",
            "Fail(login,AuthUnavailable)"
        ]
    );
    assert_eq!(
        retry_at(&h.errors[&login]),
        Some(T0.saturating_add(Duration::from_secs(30)))
    );
    h.advance_secs(20);
    h.get();
    assert_eq!(h.take(), ["Authenticate(login)"]);
}

#[test]
fn with_the_circuit_open_retry_at_is_the_later_of_cool_down_and_retry_after() {
    let cfg = Config {
        circuit_breaker: CircuitBreaker {
            threshold: 1,
            cool_down: Duration::from_secs(30),
        },
        ..attempts(1)
    };
    let mut h = Harness::logged_in(cfg, 1800);
    h.advance_secs(1800);
    let a = h.get();
    h.auth_reply(503, &headers(&[("retry-after", "120")]), "");
    let until = h.now.saturating_add(Duration::from_secs(120));
    assert!(matches!(
        h.errors[&a],
        Error::AuthUnavailable {
            circuit_open: true,
            ..
        }
    ));
    assert_eq!(retry_at(&h.errors[&a]), Some(until));
    // The cool-down is over, the Retry-After is not: still refused, without the circuit.
    h.advance_secs(31);
    let b = h.get();
    assert_eq!(
        h.errors[&b],
        Error::AuthUnavailable {
            status: Some(503),
            attempts: 0,
            circuit_open: false,
            retry_at: Some(until),
        }
    );
    assert!(h.auth.is_none());
    h.now = until;
    h.get();
    assert_eq!(h.take().last().unwrap(), "Authenticate(refresh)");
}

#[test]
fn the_refusal_says_to_try_again_later() {
    let e = Error::AuthUnavailable {
        status: Some(429),
        attempts: 0,
        circuit_open: false,
        retry_at: Some(T0),
    };
    let text = e.to_string();
    assert!(text.contains("retry-after"), "{text}");
    assert!(text.contains("try again later"), "{text}");
}
