//! Rows about the response to a sent request: a refused or superseded token, statuses
//! delivered as they are, transient failures and transport errors.

use std::time::Duration;

use crate::common::{Harness, headers, token_body};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{Config, Error, SecondRejection, TransportStop};

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
