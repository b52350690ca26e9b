//! Rows about the auth operation's outcome: new tokens, a dead refresh token, refused
//! credentials, an unavailable or misbehaving endpoint, a cancelled operation, the circuit
//! breaker and background refresh.

use std::time::Duration;

use crate::common::{self, Harness, T0, headers, token_body};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{Config, Error};

#[test]
fn refresh_answered_200_stores_rotation_keeps_old_refresh_token_unless_new() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(
        h.session
            .tokens()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .expose(),
        "R1"
    );
    let gen2 = h.session.generation();
    h.advance_secs(1800);
    h.get();
    h.auth_ok(&token_body("A3", Some("R2"), Some(1800)));
    assert_eq!(
        h.session
            .tokens()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .expose(),
        "R2"
    );
    assert_eq!(h.session.generation(), gen2 + 1);
    let req = {
        h.advance_secs(1800);
        h.get();
        h.auth.as_ref().unwrap().request.clone()
    };
    assert_eq!(
        req.headers()["authorization"],
        "Bearer R2",
        "the rotated refresh token is used"
    );
}

#[test]
fn refresh_answered_invalid_grant_or_401_drops_refresh_token_and_reauthenticates() {
    for (status, body) in [
        (400, r#"{"error":"invalid_grant"}"#),
        // Surrounding whitespace of any kind is trimmed from server text.
        (400, r#"{"error":"\u3000invalid_grant\u00a0"}"#),
        (401, r#"{"detail":"Invalid refresh token"}"#),
    ] {
        let mut h = Harness::logged_in(Config::default(), 1800);
        h.advance_secs(1800);
        h.get();
        h.auth_reply(status, &headers(&[]), body);
        assert_eq!(
            h.take(),
            ["Authenticate(refresh)", "Authenticate(login)"],
            "status {status}"
        );
        assert!(h.session.tokens().unwrap().refresh_token.is_none());
        h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
        assert_eq!(h.take(), ["Send(e1,A2)"]);
        assert_eq!(h.session.metrics(h.now).reauthentications, 1);
    }
}

#[test]
fn refresh_rejected_without_credentials_fails_waiters_with_session_expired() {
    use tokenkeeper_core::dialect::{Credentials, Dialect};
    let mut h = Harness::build(
        Config::default(),
        Dialect::vitalgraph(common::BASE).unwrap(),
        Credentials::none(),
    );
    let set = tokenkeeper_core::TokenSet {
        access_token: "A1".into(),
        refresh_token: Some("R1".into()),
        issued_at: T0,
        expires_at: T0.saturating_add(Duration::from_secs(600)),
        refresh_expires_at: None,
    };
    h.session.set_tokens(h.now, set).unwrap();
    h.advance_secs(600);
    h.get();
    h.auth_reply(401, &headers(&[]), r#"{"detail":"Invalid refresh token"}"#);
    assert_eq!(
        h.take_all(),
        [
            "Authenticate(refresh)",
            "Event(TokensChanged)",
            "Event(SessionExpired)",
            "Fail(e1,SessionExpired)"
        ]
    );
}

#[test]
fn refresh_answered_429_5xx_or_transport_error_backs_off_then_fails_typed() {
    let mut h = Harness::logged_in(Config::default(), 1800); // 4 attempts
    h.advance_secs(1800);
    let a = h.get();
    h.auth_reply(
        503,
        &headers(&[("retry-after", "2")]),
        r#"{"detail":"Authentication backend unavailable"}"#,
    );
    let (at, kind) = h.session.poll_timeout().unwrap();
    assert_eq!(kind, tokenkeeper_core::TimerKind::AuthRetry);
    assert!(
        at >= h.now.saturating_add(Duration::from_secs(2)),
        "Retry-After is a floor"
    );
    h.fire_timer();
    h.auth_error(SendFailure::NotSent);
    h.fire_timer();
    h.auth_reply(429, &headers(&[]), "");
    h.fire_timer();
    h.auth_reply(500, &headers(&[]), "<html>oops</html>");
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Authenticate(refresh)",
            "Authenticate(refresh)",
            "Authenticate(refresh)",
            "Fail(e1,AuthUnavailable)"
        ]
    );
    assert!(matches!(
        h.errors[&a],
        Error::AuthUnavailable {
            status: Some(500),
            attempts: 4,
            circuit_open: false,
            ..
        }
    ));
    assert_eq!(h.session.metrics(h.now).refresh_failures, 4);
}

#[test]
fn auth_retry_after_is_a_floor_for_the_next_auth_attempt_even_after_the_attempts_are_spent() {
    let cfg = Config {
        max_refresh_attempts: 1,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[("retry-after", "30")]), "");
    h.advance_secs(29);
    let b = h.get();
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Fail(e1,AuthUnavailable)",
            "Fail(e2,AuthUnavailable)"
        ],
        "no network call before the Retry-After"
    );
    assert!(matches!(
        h.errors[&b],
        Error::AuthUnavailable { attempts: 0, retry_at: Some(t), .. }
            if t == h.now.saturating_add(Duration::from_secs(1))
    ));
    h.advance_secs(1);
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
}

#[test]
fn refresh_5xx_then_success_resumes_waiters() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.fire_timer();
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Authenticate(refresh)",
            "Send(e1,A2)"
        ]
    );
}

#[test]
fn login_answered_400_or_401_fails_with_invalid_credentials_never_retried() {
    for status in [400, 401] {
        let mut h = Harness::new();
        h.get();
        h.get();
        h.auth_reply(
            status,
            &headers(&[("www-authenticate", "Bearer")]),
            r#"{"detail":"Incorrect username or password"}"#,
        );
        assert_eq!(
            h.take(),
            [
                "Authenticate(login)",
                "Fail(e1,InvalidCredentials)",
                "Fail(e2,InvalidCredentials)"
            ]
        );
        h.get();
        assert_eq!(
            h.take(),
            ["Fail(e3,InvalidCredentials)"],
            "no second login attempt (account lockout)"
        );
        assert!(h.session.poll_timeout().is_none());
    }
}

#[test]
fn auth_response_malformed_fails_typed_and_keeps_old_tokens() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let a = h.get();
    h.auth_ok("<html><body>Bad gateway</body></html>");
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Fail(e1,InvalidAuthResponse)"]
    );
    assert!(matches!(h.errors[&a], Error::InvalidAuthResponse(_)));
    assert_eq!(
        h.session.tokens().unwrap().access_token.expose(),
        "A1",
        "the working set is kept"
    );
    assert_eq!(
        h.session
            .tokens()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .expose(),
        "R1"
    );
}

#[test]
fn exchange_driving_the_auth_operation_cancelled_operation_is_not_lost() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let a = h.get();
    let b = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    // The task of `a` performed the refresh; it is dropped mid-flight.
    h.session.cancel(a);
    let op = h.auth.take().unwrap().id;
    h.session.handle_auth_abandoned(h.now, op);
    h.drain();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)"],
        "restarted for the others"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(b, 200);
    assert_eq!(h.take(), ["Send(e2,A2)", "Deliver(e2)"]);
    // A late answer to the abandoned operation is ignored.
    h.session.handle_auth_response(
        h.now,
        op,
        http::StatusCode::OK,
        &headers(&[]),
        token_body("X", None, Some(5)).as_bytes(),
    );
    h.drain();
    assert_eq!(h.session.tokens().unwrap().access_token.expose(), "A2");
}

#[test]
fn cancelled_waiter_strands_nobody() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let a = h.get();
    let b = h.get();
    h.session.cancel(b);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 200);
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A2)", "Deliver(e1)"]
    );
    assert_eq!(h.session.live_exchanges(), 0);
}

#[test]
fn circuit_breaker_fails_fast_then_half_open_probe() {
    let cfg = Config {
        max_refresh_attempts: 1,
        circuit_breaker: tokenkeeper_core::CircuitBreaker {
            threshold: 2,
            cool_down: Duration::from_secs(30),
        },
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    assert_eq!(
        h.take(),
        [
            "Authenticate(refresh)",
            "Fail(e1,AuthUnavailable)",
            "Authenticate(refresh)",
            "Fail(e2,AuthUnavailable)"
        ]
    );
    let e = h.get();
    assert_eq!(
        h.take(),
        ["Fail(e3,AuthUnavailable)"],
        "open: fail fast without contacting the server"
    );
    assert!(matches!(
        h.errors[&e],
        Error::AuthUnavailable {
            circuit_open: true,
            ..
        }
    ));
    h.advance_secs(30);
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"], "half-open: one probe");
    h.get();
    assert_eq!(h.take(), Vec::<String>::new());
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take(), ["Send(e4,A2)", "Send(e5,A2)"]);
}

#[test]
fn refresh_ahead_timer_refreshes_an_idle_session() {
    let cfg = Config {
        refresh_ahead: true,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let (at, kind) = h.session.poll_timeout().unwrap();
    assert_eq!(kind, tokenkeeper_core::TimerKind::RefreshAhead);
    assert_eq!(at, T0.saturating_add(Duration::from_secs(1620)));
    h.fire_timer();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,A2)", "Deliver(e1)"]);
    assert_eq!(
        h.session.poll_timeout().unwrap().0,
        h.now.saturating_add(Duration::from_secs(1620))
    );
    // Off by default.
    let h = Harness::logged_in(Config::default(), 1800);
    assert!(h.session.poll_timeout().is_none());
}
