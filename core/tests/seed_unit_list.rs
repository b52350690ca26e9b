//! The seed plan's unit list (`tests/test_vitalgraph_client_token_refresh.py`), as engine
//! transcripts with a fake clock.

mod common;

use common::{Harness, token_body};
use tokenkeeper_core::{Config, Error, Event};

#[test]
fn test_proactive_refresh_before_expiry() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1650); // inside the 180 s margin
    let a = h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A1)"],
        "refreshed before expiry, no waiting"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 200);
    h.advance_secs(200); // A1 would have expired; A2 is in use
    let b = h.get();
    assert_eq!(h.take(), ["Deliver(e1)", "Send(e2,A2)"]);
    h.respond(b, 200);
}

#[test]
fn test_reactive_refresh_on_401() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond(a, 401);
    assert_eq!(h.take(), ["Send(e1,A1)", "Authenticate(refresh)"]);
}

#[test]
fn test_retry_after_refresh() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.post();
    h.respond(a, 401);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 201);
    assert_eq!(
        h.take(),
        [
            "Send(e1,A1)",
            "Authenticate(refresh)",
            "Send(e1,A2)",
            "Deliver(e1)"
        ]
    );
    assert_eq!(h.session.metrics(h.now).unauthorized_resends, 1);
}

#[test]
fn test_refresh_failure_raises_error() {
    let mut h = Harness::logged_in(
        Config {
            max_refresh_attempts: 1,
            ..Config::default()
        },
        1800,
    );
    h.advance_secs(1800);
    let a = h.get();
    h.auth_reply(
        503,
        &common::headers(&[]),
        r#"{"detail":"Authentication backend unavailable"}"#,
    );
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Fail(e1,AuthUnavailable)"]
    );
    assert_eq!(
        h.errors[&a],
        Error::AuthUnavailable {
            status: Some(503),
            attempts: 1,
            circuit_open: false,
            retry_at: None
        }
    );
    assert!(
        h.errors[&a]
            .to_string()
            .contains("unavailable after 1 attempt")
    );
}

#[test]
fn test_concurrent_refresh_thread_safe() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let ids: Vec<_> = (0..1000).map(|_| h.get()).collect();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)"],
        "1,000 waiters, one refresh"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take().len(), 1000);
    for id in ids {
        h.respond(id, 200);
    }
    let m = h.session.metrics(h.now);
    assert_eq!((m.refresh_count, m.delivered), (1, 1000));
}

#[test]
fn test_refresh_token_rotation() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    let changed: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TokensChanged(t) => Some(t.refresh_token.as_ref().unwrap().expose().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(
        changed,
        ["R2"],
        "stores are told about the rotated refresh token"
    );
}

#[test]
fn test_async_token_refresh() {
    // Interleavings an async driver produces: responses arrive out of order, a refresh
    // completes between a Send and its response, and a waiter is cancelled mid-refresh.
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.advance_secs(1700);
    let b = h.get(); // starts a proactive refresh
    let c = h.get();
    h.respond(c, 200);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(b, 401); // answered after A2 arrived: resent with A2 at once
    h.respond(a, 200);
    h.respond(b, 200);
    assert_eq!(
        h.take(),
        [
            "Send(e1,A1)",
            "Authenticate(refresh)",
            "Send(e2,A1)",
            "Send(e3,A1)",
            "Deliver(e3)",
            "Send(e2,A2)",
            "Deliver(e1)",
            "Deliver(e2)"
        ]
    );
    assert_eq!(h.session.live_exchanges(), 0);
}

#[test]
fn test_config_disabled_refresh() {
    let cfg = Config {
        enabled: false,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    h.advance_secs(1700);
    let a = h.get();
    h.respond(a, 401);
    assert_eq!(
        h.take(),
        ["Send(e1,A1)", "Deliver(e1)"],
        "no proactive refresh, 401 delivered"
    );
    h.advance_secs(200);
    h.get();
    assert_eq!(
        h.take(),
        ["Fail(e2,SessionExpired)"],
        "never sends an expired token"
    );
    assert!(h.auth.is_none());
}

#[test]
fn retry_on_401_disabled_delivers_the_401() {
    let cfg = Config {
        retry_on_401: false,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let a = h.get();
    h.respond(a, 401);
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
}

#[test]
fn proactive_disabled_refreshes_only_at_expiry() {
    let cfg = Config {
        proactive: false,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    h.advance_secs(1700);
    h.get();
    assert_eq!(h.take(), ["Send(e1,A1)"]);
    h.advance_secs(100);
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
}
