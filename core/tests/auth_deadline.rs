//! The auth operation's deadline (`Config::auth_timeout`): a login or refresh that gets no
//! answer in time is aborted (`Action::AbortAuth`) and counts as a transient failure, so the
//! usual backoff and retry follow, and the waiters end with `AuthUnavailable` once the
//! attempts are spent. A late answer for an aborted operation changes nothing.

mod common;

use std::time::Duration;

use common::{Harness, T0, token_body};
use tokenkeeper_core::{Config, Error, TimerKind};

fn config(timeout_secs: u64, attempts: u32) -> Config {
    Config {
        auth_timeout: Duration::from_secs(timeout_secs),
        max_refresh_attempts: attempts,
        ..Config::default()
    }
}

#[test]
fn an_unanswered_login_is_aborted_at_its_deadline_and_retried() {
    let mut h = Harness::with_config(config(30, 4));
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(login)"]);
    let first = h.auth.as_ref().unwrap().id;
    let (at, kind) = h.session.poll_timeout().unwrap();
    assert_eq!(
        (at, kind),
        (
            T0.saturating_add(Duration::from_secs(30)),
            TimerKind::AuthDeadline
        )
    );
    assert_eq!(h.fire_timer(), TimerKind::AuthDeadline);
    assert_eq!(h.take(), [format!("AbortAuth {{ id: {first:?} }}")]);
    assert!(
        h.session.auth_in_flight().is_none(),
        "the aborted attempt is no longer in flight"
    );
    assert_eq!(h.fire_timer(), TimerKind::AuthRetry);
    assert_eq!(h.take(), ["Authenticate(login)"]);
    // The aborted attempt's answer arrives late: ignored.
    h.session.handle_auth_response(
        h.now,
        first,
        http::StatusCode::OK,
        &http::HeaderMap::new(),
        token_body("LATE", Some("R0"), Some(1800)).as_bytes(),
    );
    h.drain();
    assert!(h.take().is_empty());
    assert!(h.session.tokens().is_none());
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A1)"]);
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    let m = h.session.metrics(h.now);
    assert_eq!((m.logins, m.login_failures), (1, 1));
}

#[test]
fn a_refresh_that_never_answers_fails_the_waiters_once_the_attempts_are_spent() {
    let mut h = Harness::logged_in(config(10, 2), 1800);
    h.advance_secs(1800);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    assert_eq!(h.fire_timer(), TimerKind::AuthDeadline);
    assert_eq!(h.fire_timer(), TimerKind::AuthRetry);
    assert_eq!(h.fire_timer(), TimerKind::AuthDeadline);
    let log = h.take();
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log[0].starts_with("AbortAuth"));
    assert_eq!(log[1], "Authenticate(refresh)");
    assert!(log[2].starts_with("AbortAuth"));
    assert_eq!(log[3], "Fail(e1,AuthUnavailable)");
    assert!(matches!(
        h.errors[&a],
        Error::AuthUnavailable {
            attempts: 2,
            status: None,
            circuit_open: false,
            ..
        }
    ));
    assert_eq!(
        h.session.tokens().unwrap().access_token.expose(),
        "A1",
        "the tokens that were held are kept"
    );
}

#[test]
fn a_proactive_refresh_that_hangs_does_not_hold_up_requests_and_ends_the_lease_at_its_deadline() {
    let mut h = Harness::logged_in(config(30, 4), 1800); // margin 180 s
    h.advance_secs(1700);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,A1)"]);
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    assert_eq!(
        h.session.poll_timeout().map(|(_, k)| k),
        Some(TimerKind::AuthDeadline)
    );
    assert_eq!(h.fire_timer(), TimerKind::AuthDeadline);
    let log = h.take();
    assert!(log[0].starts_with("AbortAuth"), "{log:?}");
    // Still inside the margin, the token still works: requests go out meanwhile.
    let b = h.get();
    assert_eq!(h.take(), ["Send(e2,A1)"]);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e2)"]);
}

#[test]
fn an_answer_before_the_deadline_disarms_it() {
    let mut h = Harness::with_config(config(30, 4));
    let _ = h.get();
    h.advance_secs(29);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Authenticate(login)", "Send(e1,A1)"]);
    assert!(h.session.poll_timeout().is_none());
}

#[test]
fn a_zero_auth_timeout_is_refused() {
    let err = Config {
        auth_timeout: Duration::ZERO,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("auth_timeout"), "{err}");
}
