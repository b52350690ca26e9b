//! One transcript test per row of the decision table (DESIGN §2.2), named after the row.
//! Each drives the engine with a fake clock and asserts the exact sequence of actions.

mod common;

use std::time::Duration;

use common::{Harness, T0, headers, token_body};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{Config, Error, SecondRejection, Timestamp, TransportStop};

#[test]
fn no_token_yet_credentials_known_logs_in_first_once_for_all_waiters() {
    let mut h = Harness::new();
    let (a, b, c) = (h.get(), h.get(), h.post());
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e2,A1)", "Send(e3,A1)"]);
    for id in [a, b, c] {
        h.respond(id, 200);
    }
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)", "Deliver(e3)"]);
    let m = h.session.metrics(h.now);
    assert_eq!((m.logins, m.refresh_count, m.delivered), (1, 0, 3));
}

#[test]
fn token_valid_outside_margin_sends_at_once() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1000);
    let a = h.get();
    assert_eq!(h.take(), ["Send(e1,A1)"]);
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    assert!(
        h.session.poll_timeout().is_none(),
        "no timer for a plain exchange"
    );
}

#[test]
fn token_stale_refresh_usable_refreshes_and_sends_meanwhile() {
    let mut h = Harness::logged_in(Config::default(), 1800); // margin 180 s
    h.advance_secs(1700);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,A1)"]);
    let b = h.get();
    assert_eq!(
        h.take(),
        ["Send(e2,A1)"],
        "single flight: no second refresh, no waiting"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 200);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)"]);
    let c = h.get();
    h.respond(c, 200);
    assert_eq!(h.take(), ["Send(e3,A2)", "Deliver(e3)"]);
    assert_eq!(h.session.metrics(h.now).refresh_count, 1);
}

#[test]
fn token_expired_refresh_usable_refreshes_and_exchanges_wait() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let a = h.get();
    let b = h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)"],
        "no expired token is sent"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A2)", "Send(e2,A2)"]);
    h.respond(a, 200);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)"]);
}

#[test]
fn token_within_hard_floor_of_expiry_counts_as_expired() {
    let mut h = Harness::logged_in(Config::default(), 1800); // floor 500 ms
    h.advance(Duration::from_millis(1_799_600));
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
}

#[test]
fn inside_margin_no_usable_refresh_token_credentials_known_reauthenticates() {
    let mut h = Harness::with_config(Config::default());
    h.session.login(h.now);
    h.drain();
    h.auth_ok(&token_body("A1", None, Some(600))); // no refresh token
    h.take();
    h.advance_secs(560); // stale (margin 60 s), still valid
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(login)", "Send(e1,A1)"]);
    h.auth_ok(&token_body("A2", None, Some(600)));
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    // Expired and no refresh token: the exchange waits for the re-login.
    h.advance_secs(700);
    h.get();
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A3", None, Some(600)));
    assert_eq!(h.take(), ["Send(e2,A3)"]);
    assert_eq!(h.session.metrics(h.now).reauthentications, 2);
}

#[test]
fn inside_margin_nothing_usable_fails_with_session_expired() {
    use tokenkeeper_core::dialect::{Credentials, Dialect};
    let mut h = Harness::build(
        Config::default(),
        Dialect::vitalgraph(common::BASE).unwrap(),
        Credentials::none(),
    );
    h.get();
    assert_eq!(h.take(), ["Fail(e1,SessionExpired)"]);
    let tokens = tokenkeeper_core::TokenSet {
        access_token: "EXT".into(),
        refresh_token: None,
        issued_at: T0,
        expires_at: T0.saturating_add(Duration::from_secs(600)),
        refresh_expires_at: None,
    };
    h.session.set_tokens(h.now, tokens).unwrap();
    h.advance_secs(570); // stale, still valid: the token is still usable
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e2,EXT)", "Deliver(e2)"]);
    h.advance_secs(30); // expired: nothing usable
    h.get();
    assert_eq!(h.take(), ["Fail(e3,SessionExpired)"]);
}

#[test]
fn auth_operation_in_flight_single_flight_valid_proceeds_others_wait() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1700);
    h.get(); // starts the proactive refresh
    h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A1)", "Send(e2,A1)"]
    );
    h.advance_secs(100); // now expired while the refresh is still in flight
    h.get();
    h.get();
    assert_eq!(
        h.take(),
        Vec::<String>::new(),
        "expired: they wait, and no second refresh starts"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take(), ["Send(e3,A2)", "Send(e4,A2)"]);
}

#[test]
fn response_401_for_older_generation_resends_at_once_without_refresh() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1700);
    let a = h.get();
    let b = h.get();
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A1)", "Send(e2,A1)"]
    );
    // The server revoked A1 on rotation: both come back 401, after A2 arrived.
    h.respond(a, 401);
    h.respond(b, 401);
    assert_eq!(h.take(), ["Send(e1,A2)", "Send(e2,A2)"]);
    h.respond(a, 200);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)"]);
    let m = h.session.metrics(h.now);
    assert_eq!((m.refresh_count, m.unauthorized_resends), (1, 2));
}

#[test]
fn bare_403_for_an_older_token_generation_resends_at_once_with_the_current_token() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1700);
    let a = h.get();
    let b = h.get();
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A1)", "Send(e2,A1)"]
    );
    // django-oauth-toolkit revoked A1 on rotation and refuses it with a bare 403.
    h.respond(a, 403);
    h.respond(b, 403);
    assert_eq!(h.take(), ["Send(e1,A2)", "Send(e2,A2)"]);
    // A 403 for the current token is the caller's answer: delivered, no refresh.
    h.respond(a, 403);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)"]);
    assert!(h.auth.is_none());
    let m = h.session.metrics(h.now);
    assert_eq!((m.refresh_count, m.unauthorized_resends), (1, 2));
}

#[test]
fn response_401_with_current_token_refreshes_then_resends_once() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    let b = h.get();
    h.respond(a, 401); // revoked server-side
    assert_eq!(
        h.take(),
        ["Send(e1,A1)", "Send(e2,A1)", "Authenticate(refresh)"]
    );
    h.respond(b, 401);
    let c = h.get();
    assert_eq!(
        h.take(),
        Vec::<String>::new(),
        "a rejected token is not sent again; one refresh"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A2)", "Send(e2,A2)", "Send(e3,A2)"]);
    for id in [a, b, c] {
        h.respond(id, 200);
    }
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)", "Deliver(e3)"]);
}

#[test]
fn second_401_for_same_exchange_after_fresh_token_is_delivered_never_loops() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond(a, 401);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 401);
    assert_eq!(
        h.take(),
        [
            "Send(e1,A1)",
            "Authenticate(refresh)",
            "Send(e1,A2)",
            "Deliver(e1)"
        ]
    );
    assert!(h.auth.is_none(), "no second refresh");

    let cfg = Config {
        second_rejection: SecondRejection::Fail,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let a = h.get();
    h.respond(a, 401);
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.respond(a, 401);
    assert_eq!(
        h.take(),
        [
            "Send(e1,A1)",
            "Authenticate(refresh)",
            "Send(e1,A2)",
            "Fail(e1,Unauthorized)"
        ]
    );
}

#[test]
fn response_401_for_unreplayable_body_is_delivered_and_next_request_refreshes() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.post_stream();
    h.respond(a, 401);
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
    h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)"],
        "the rejected token is stale now: refresh first"
    );
    h.auth_ok(&token_body("A2", None, Some(1800)));
    assert_eq!(h.take(), ["Send(e2,A2)"]);
}

#[test]
fn status_403_other_4xx_2xx_3xx_are_delivered() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    for status in [200, 201, 204, 302, 304, 400, 403, 404, 409, 422, 500] {
        let id = h.post();
        h.respond(id, status);
    }
    let log = h.take();
    assert_eq!(
        log.iter().filter(|s| s.starts_with("Deliver")).count(),
        11,
        "{log:?}"
    );
    assert!(h.auth.is_none());
}

#[test]
fn status_403_counts_as_rejection_when_configured() {
    let cfg = Config {
        token_rejected_statuses: vec![401, 403],
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let a = h.get();
    h.respond(a, 403);
    assert_eq!(h.take(), ["Send(e1,A1)", "Authenticate(refresh)"]);
}

#[test]
fn insufficient_scope_challenge_is_delivered_without_refresh() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond_with(
        a,
        401,
        &headers(&[("www-authenticate", r#"Bearer error="insufficient_scope""#)]),
    );
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
}

#[test]
fn status_429_503_any_method_wait_with_backoff_and_resend() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.post();
    h.respond(a, 503);
    assert_eq!(h.take(), ["Send(e1,A1)"]);
    let (at, _) = h.session.poll_timeout().unwrap();
    let wait = at.saturating_duration_since(h.now);
    assert!(
        wait >= Duration::from_millis(100) && wait <= Duration::from_millis(200),
        "{wait:?}"
    );
    h.fire_timer();
    h.respond(a, 429);
    h.fire_timer();
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e1,A1)", "Deliver(e1)"]);
    assert_eq!(h.session.metrics(h.now).transient_resends, 2);
}

#[test]
fn status_502_504_resent_only_for_idempotent_or_opt_in() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let g = h.get();
    h.respond(g, 502);
    let p = h.post();
    h.respond(p, 504);
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e2,A1)", "Deliver(e2)"]);
    h.fire_timer();
    assert_eq!(h.take(), ["Send(e1,A1)"]);

    let cfg = Config {
        retry_non_idempotent_gateway: true,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let p = h.post();
    h.respond(p, 504);
    h.fire_timer();
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e1,A1)"]);
}

#[test]
fn retry_after_seconds_and_http_date_are_floors() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond_with(a, 503, &headers(&[("retry-after", "7")]));
    assert_eq!(
        h.session.poll_timeout().unwrap().0,
        h.now.saturating_add(Duration::from_secs(7))
    );
    h.fire_timer();
    let date =
        tokenkeeper_core::parse::format_http_date(h.now.saturating_add(Duration::from_secs(12)));
    h.respond_with(a, 429, &headers(&[("retry-after", &date)]));
    let (at, _) = h.session.poll_timeout().unwrap();
    assert!(
        at.saturating_duration_since(h.now) >= Duration::from_secs(11),
        "{at:?}"
    );
}

#[test]
fn transient_resends_are_bounded_by_attempts_and_budget() {
    let mut h = Harness::logged_in(Config::default(), 1800); // 3 resends
    let a = h.get();
    for _ in 0..3 {
        h.respond(a, 503);
        h.fire_timer();
    }
    h.respond(a, 503);
    assert_eq!(
        h.take(),
        [
            "Send(e1,A1)",
            "Send(e1,A1)",
            "Send(e1,A1)",
            "Send(e1,A1)",
            "Deliver(e1)"
        ]
    );
    // A Retry-After beyond the 60 s budget ends it at once.
    let b = h.get();
    h.respond_with(b, 503, &headers(&[("retry-after", "3600")]));
    assert_eq!(h.take(), ["Send(e2,A1)", "Deliver(e2)"]);
}

#[test]
fn connect_error_before_sending_backs_off_and_resends_any_method() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.post();
    h.send_error(a, SendFailure::NotSent);
    h.fire_timer();
    h.respond(a, 201);
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e1,A1)", "Deliver(e1)"]);
    // Out of attempts: a typed transport error.
    let b = h.get();
    for _ in 0..3 {
        h.send_error(b, SendFailure::NotSent);
        h.fire_timer();
    }
    h.send_error(b, SendFailure::NotSent);
    assert_eq!(h.take().last().unwrap(), "Fail(e2,Transport)");
    assert_eq!(
        h.errors[&b],
        Error::Transport {
            may_have_reached_server: false,
            attempts: 4,
            stopped: TransportStop::ResendLimit,
        }
    );
}

#[test]
fn error_after_request_may_have_reached_server_non_idempotent_fails() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let p = h.post();
    h.send_error(p, SendFailure::MaybeSent);
    assert_eq!(h.take(), ["Send(e1,A1)", "Fail(e1,Transport)"]);
    assert_eq!(
        h.errors[&p],
        Error::Transport {
            may_have_reached_server: true,
            attempts: 1,
            stopped: TransportStop::NotIdempotent,
        }
    );
    // An idempotent one is resent.
    let g = h.get();
    h.send_error(g, SendFailure::MaybeSent);
    h.fire_timer();
    assert_eq!(h.take(), ["Send(e2,A1)", "Send(e2,A1)"]);
}

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

#[test]
fn token_expiry_comes_from_jwt_exp_when_expires_in_is_absent() {
    let mut h = Harness::new();
    h.get();
    let exp = T0.as_millis() / 1000 + 900;
    let jwt = jwt_with_exp(exp);
    h.auth_ok(&serde_json::json!({"access_token": jwt, "token_type": "Bearer"}).to_string());
    assert_eq!(
        h.session.tokens().unwrap().expires_at,
        Timestamp::from_secs(exp)
    );
}

fn jwt_with_exp(exp: u64) -> String {
    fn b64(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &c)| acc | (u32::from(c) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    format!(
        "{}.{}.sig",
        b64(r#"{"alg":"HS256"}"#),
        b64(&format!(r#"{{"exp":{exp}}}"#))
    )
}

#[test]
fn response_from_a_foreign_origin_after_redirect_is_delivered_without_decisions() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.session.handle_foreign_response(a);
    h.drain();
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
    assert!(
        h.auth.is_none(),
        "a 401 from elsewhere says nothing about our token"
    );
    assert_eq!(h.session.metrics(h.now).delivered, 1);
}

#[test]
fn the_token_goes_only_to_allowed_origins() {
    let mut h = Harness::new();
    let ok = |h: &Harness, u: &str| h.session.allows_origin(&u.parse().unwrap());
    assert!(ok(&h, "http://127.0.0.1:8001/api/spaces"));
    assert!(!ok(&h, "http://127.0.0.1:8002/api/spaces"), "another port");
    assert!(!ok(&h, "https://127.0.0.1:8001/"), "another scheme");
    assert!(!ok(&h, "http://localhost:8001/"), "another host");
    h.session.allow_origin("https://API.example.com").unwrap();
    assert!(
        ok(&h, "https://api.example.com:443/x"),
        "default port, case-insensitive host"
    );
    assert!(h.session.allows("HTTPS", "api.example.com", None));
    assert!(!h.session.allows("https", "api.example.com", Some(8443)));
    assert!(h.session.allow_origin("not a url").is_err());
    h.session.allow_origin("http://[::1]:8080").unwrap();
    assert!(h.session.allows("http", "[::1]", Some(8080)));
    assert!(h.session.allows("http", "::1", Some(8080)));
    assert!(!h.session.allows("http", "[::1]", None));
}

#[test]
fn set_tokens_drops_the_auth_operation_in_flight() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    let op = h.auth.as_ref().unwrap().id;
    assert_eq!(
        h.session.auth_in_flight(),
        Some((op, tokenkeeper_core::AuthKind::Refresh))
    );
    let set = tokenkeeper_core::TokenSet {
        access_token: "T2".into(),
        refresh_token: Some("R2".into()),
        issued_at: h.now,
        expires_at: h.now.saturating_add(Duration::from_secs(600)),
        refresh_expires_at: None,
    };
    h.session.set_tokens(h.now, set).unwrap();
    h.drain();
    assert_eq!(h.session.auth_in_flight(), None);
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,T2)"]);
    let bad = tokenkeeper_core::TokenSet {
        access_token: "bad\ntoken".into(),
        refresh_token: None,
        issued_at: h.now,
        expires_at: h.now.saturating_add(Duration::from_secs(600)),
        refresh_expires_at: None,
    };
    assert!(h.session.set_tokens(h.now, bad).is_err());
    assert_eq!(
        h.session.tokens().unwrap().access_token.expose(),
        "T2",
        "nothing changed"
    );
}
