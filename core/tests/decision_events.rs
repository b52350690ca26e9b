//! The engine says what it decided and why, as data: every `Authenticate` carries its reason
//! and attempt, and the decisions that are not actions (a refused token's request resent, a
//! backoff, an aborted or failed auth operation, the circuit half-open) are events that carry
//! the token generation. A plain send and its 2xx add nothing.

mod common;

use std::time::Duration;

use common::{BASE, Harness, headers, token_body};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{
    AuthKind, AuthReason, CircuitBreaker, Config, Error, Event, ResendReason, TimerKind, TokenSet,
};

/// The pending `Authenticate`: kind, reason, attempt.
fn pending(h: &Harness) -> (AuthKind, AuthReason, u32) {
    let a = h.auth.as_ref().expect("an Authenticate is pending");
    (a.kind, a.reason, a.attempt)
}

/// The events since the last call.
fn events(h: &mut Harness) -> Vec<Event> {
    h.log.clear();
    std::mem::take(&mut h.events)
}

/// The delay until the next timer.
fn next_delay(h: &Harness) -> Duration {
    h.session
        .poll_timeout()
        .unwrap()
        .0
        .saturating_duration_since(h.now)
}

#[test]
fn a_plain_send_and_its_answer_report_nothing() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(h.take_all(), ["Send(e1,A1)", "Deliver(e1)"]);
    // Nor does a final non-2xx answer.
    let b = h.get();
    h.respond(b, 404);
    assert_eq!(h.take_all(), ["Send(e2,A1)", "Deliver(e2)"]);
}

#[test]
fn the_first_login_is_for_no_token() {
    let mut h = Harness::new();
    h.get();
    assert_eq!(pending(&h), (AuthKind::Login, AuthReason::NoToken, 1));
}

#[test]
fn renewal_says_whether_the_token_was_inside_its_margin_or_expired() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1700); // inside the 180 s margin
    h.get();
    assert_eq!(pending(&h), (AuthKind::Refresh, AuthReason::Proactive, 1));
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.advance_secs(1800);
    h.get();
    assert_eq!(pending(&h), (AuthKind::Refresh, AuthReason::Expired, 1));
}

#[test]
fn a_refused_token_is_resent_after_a_renewal_for_the_refusing_status() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let generation = h.session.generation();
    let a = h.get();
    h.take();
    h.respond(a, 401);
    assert_eq!(
        events(&mut h),
        [Event::Resend {
            reason: ResendReason::Renewal,
            status: 401,
            generation,
        }]
    );
    assert_eq!(
        pending(&h),
        (
            AuthKind::Refresh,
            AuthReason::TokenRejected { status: 401 },
            1
        )
    );
}

#[test]
fn a_streamed_body_refused_makes_the_next_request_renew_for_that_status() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.post_stream();
    h.respond(a, 401);
    assert!(events(&mut h).is_empty(), "delivered, not resent");
    h.get();
    assert_eq!(
        pending(&h),
        (
            AuthKind::Refresh,
            AuthReason::TokenRejected { status: 401 },
            1
        )
    );
}

#[test]
fn a_request_whose_token_was_superseded_is_resent_with_its_old_generation_named() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let old = h.session.generation();
    let (a, b, c) = (h.get(), h.get(), h.get());
    h.respond(a, 401);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    events(&mut h);
    h.respond(b, 401);
    h.respond_with(c, 403, &headers(&[]));
    assert_eq!(
        events(&mut h),
        [
            Event::Resend {
                reason: ResendReason::Superseded,
                status: 401,
                generation: old,
            },
            Event::Resend {
                reason: ResendReason::Superseded,
                status: 403,
                generation: old,
            },
        ]
    );
    assert_eq!(h.session.generation(), old + 1);
}

#[test]
fn a_rejected_refresh_token_leads_to_a_login_for_that_reason() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(400, &headers(&[]), r#"{"error":"invalid_grant"}"#);
    assert_eq!(
        pending(&h),
        (AuthKind::Login, AuthReason::RefreshRejected, 1)
    );
}

#[test]
fn an_explicit_login_says_so_even_after_a_refresh_in_flight() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.session.login(h.now);
    h.drain();
    assert_eq!(pending(&h), (AuthKind::Login, AuthReason::Explicit, 1));
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    h.advance_secs(1800);
    h.get();
    assert_eq!(pending(&h).0, AuthKind::Refresh);
    h.session.login(h.now);
    h.drain();
    h.auth_ok(&token_body("A3", Some("R3"), Some(1800)));
    assert_eq!(pending(&h), (AuthKind::Login, AuthReason::Explicit, 1));
}

#[test]
fn a_transient_auth_failure_backs_off_then_retries_with_the_next_attempt() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let generation = h.session.generation();
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    let delay = next_delay(&h);
    assert_eq!(
        events(&mut h),
        [Event::AuthBackoff {
            kind: AuthKind::Refresh,
            status: Some(503),
            delay,
            attempt: 1,
            generation,
        }]
    );
    assert!(delay > Duration::ZERO && delay <= Duration::from_millis(200));
    assert_eq!(h.fire_timer(), TimerKind::AuthRetry);
    assert_eq!(pending(&h), (AuthKind::Refresh, AuthReason::Retry, 2));
    h.auth_error(SendFailure::NotSent);
    assert!(matches!(
        events(&mut h)[..],
        [Event::AuthBackoff {
            status: None,
            attempt: 2,
            ..
        }]
    ));
}

#[test]
fn an_auth_request_past_its_deadline_is_reported_aborted() {
    let config = Config {
        auth_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    h.get();
    assert_eq!(h.fire_timer(), TimerKind::AuthDeadline);
    let seen = events(&mut h);
    assert_eq!(
        seen[0],
        Event::AuthAborted {
            kind: AuthKind::Login,
            attempt: 1,
            generation: 0,
        }
    );
    assert!(matches!(
        seen[1..],
        [Event::AuthBackoff {
            kind: AuthKind::Login,
            status: None,
            attempt: 1,
            ..
        }]
    ));
}

#[test]
fn an_abandoned_auth_request_is_restarted_as_the_same_attempt() {
    let mut h = Harness::new();
    h.get();
    let op = h.auth.take().unwrap().id;
    h.session.handle_auth_abandoned(h.now, op);
    h.drain();
    assert_eq!(pending(&h), (AuthKind::Login, AuthReason::Restarted, 1));
}

#[test]
fn a_background_refresh_says_so() {
    let config = Config {
        refresh_ahead: true,
        ..Config::default()
    };
    let mut h = Harness::logged_in(config, 1800);
    assert_eq!(h.fire_timer(), TimerKind::RefreshAhead);
    assert_eq!(
        pending(&h),
        (AuthKind::Refresh, AuthReason::RefreshAhead, 1)
    );
}

#[test]
fn a_login_with_credentials_provided_on_demand_says_so() {
    let config = Config {
        ask_for_credentials: true,
        ..Config::default()
    };
    let mut h = Harness::build(
        config,
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::none(),
    );
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    h.session
        .provide_credentials(h.now, Some(Credentials::password("admin", "admin")));
    h.drain();
    assert_eq!(
        pending(&h),
        (AuthKind::Login, AuthReason::CredentialsProvided, 1)
    );
}

#[test]
fn a_request_backing_off_reports_the_status_the_delay_and_its_generation() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let generation = h.session.generation();
    let a = h.get();
    h.respond_with(a, 503, &headers(&[("retry-after", "2")]));
    assert_eq!(
        events(&mut h),
        [Event::Backoff {
            status: Some(503),
            delay: Duration::from_secs(2),
            resend: 1,
            generation,
        }]
    );
    h.fire_timer();
    h.send_error(a, SendFailure::NotSent);
    let delay = next_delay(&h);
    assert_eq!(
        events(&mut h),
        [Event::Backoff {
            status: None,
            delay,
            resend: 2,
            generation,
        }]
    );
}

#[test]
fn failed_auth_operations_are_reported_once_with_the_error_the_waiters_get() {
    // Attempts spent.
    let config = Config {
        max_refresh_attempts: 1,
        ..Config::default()
    };
    let mut h = Harness::logged_in(config, 1800);
    let generation = h.session.generation();
    h.advance_secs(1800);
    let (a, _b) = (h.get(), h.get());
    h.auth_reply(503, &headers(&[]), "");
    let seen = events(&mut h);
    assert_eq!(seen.len(), 1, "one report for both waiters: {seen:?}");
    assert_eq!(
        seen[0],
        Event::AuthFailed {
            kind: AuthKind::Refresh,
            error: h.errors[&a].clone(),
            generation,
        }
    );
    // Refused credentials.
    let mut h = Harness::new();
    h.get();
    h.auth_reply(401, &headers(&[]), r#"{"detail":"bad credentials"}"#);
    assert!(matches!(
        events(&mut h)[..],
        [Event::AuthFailed {
            kind: AuthKind::Login,
            error: Error::InvalidCredentials { status: 401, .. },
            generation: 0,
        }]
    ));
    // A malformed answer.
    let mut h = Harness::new();
    h.get();
    h.auth_reply(200, &headers(&[("content-type", "text/html")]), "<html>");
    assert!(matches!(
        events(&mut h)[..],
        [Event::AuthFailed {
            error: Error::InvalidAuthResponse(_),
            ..
        }]
    ));
}

#[test]
fn the_circuit_reports_open_then_half_open_before_the_probe() {
    let config = Config {
        max_refresh_attempts: 1,
        circuit_breaker: CircuitBreaker {
            threshold: 2,
            cool_down: Duration::from_secs(30),
        },
        ..Config::default()
    };
    let mut h = Harness::logged_in(config, 1800);
    let generation = h.session.generation();
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    let seen = events(&mut h);
    assert!(
        matches!(
            seen[..],
            [
                Event::AuthFailed { .. },
                Event::CircuitOpened { .. },
                Event::AuthFailed {
                    error: Error::AuthUnavailable {
                        circuit_open: true,
                        ..
                    },
                    ..
                }
            ]
        ),
        "{seen:?}"
    );
    h.get();
    assert!(
        events(&mut h).is_empty(),
        "refused while open: no report per request"
    );
    h.advance_secs(30);
    h.get();
    assert_eq!(events(&mut h), [Event::CircuitHalfOpen { generation }]);
    assert_eq!(pending(&h), (AuthKind::Refresh, AuthReason::Expired, 1));
    // The probe fails: open again; after the next cool-down, half-open again.
    h.auth_reply(503, &headers(&[]), "");
    assert!(
        events(&mut h)
            .iter()
            .any(|e| matches!(e, Event::CircuitOpened { .. }))
    );
    h.advance_secs(30);
    h.get();
    assert_eq!(events(&mut h), [Event::CircuitHalfOpen { generation }]);
}

#[test]
fn no_event_or_request_description_holds_a_secret() {
    let mut h = Harness::logged_in(Config::default(), 60);
    h.advance_secs(60);
    let a = h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.fire_timer();
    let described = format!("{:?}", h.auth.as_ref().unwrap());
    h.auth_ok(&token_body(
        "SECRET-ACCESS",
        Some("SECRET-REFRESH"),
        Some(60),
    ));
    h.respond(a, 401);
    h.auth_ok(&token_body("SECRET-ACCESS-2", None, Some(60)));
    h.session
        .set_tokens(
            h.now,
            TokenSet {
                access_token: "SECRET-SET".into(),
                refresh_token: Some("SECRET-SET-R".into()),
                issued_at: h.now,
                expires_at: h.now.saturating_add(Duration::from_secs(60)),
                refresh_expires_at: None,
            },
        )
        .unwrap();
    h.drain();
    let all = format!("{described} {:?}", h.events);
    assert!(h.events.len() >= 5, "{all}");
    for secret in ["SECRET", "admin", "R1"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}
