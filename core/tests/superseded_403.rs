//! A bare 403 for a superseded token: servers that revoke the previous access token on
//! rotation and refuse a token with a 403 without `WWW-Authenticate` (django-oauth-toolkit)
//! answer a request that left with a token a refresh has since replaced with 403. Such a 403,
//! for an older token generation and without a Bearer challenge, is resent once with the
//! current token (replayable requests, within `max_stale_generation_resends`); any other 403
//! is the caller's answer unless `token_rejected_statuses` says otherwise.

mod common;

use common::{Harness, headers, token_body};
use tokenkeeper_core::{Config, Timestamp};

/// A session whose token A1 was replaced by A2 while `e1` (a GET, or a streaming POST with
/// `streaming`) was out with A1.
fn superseded(config: Config, streaming: bool) -> (Harness, tokenkeeper_core::ExchangeId) {
    let mut h = Harness::logged_in(config, 1800);
    h.advance_secs(1700);
    let a = if streaming { h.post_stream() } else { h.get() };
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    h.take();
    (h, a)
}

#[test]
fn a_403_with_a_bearer_challenge_for_an_older_token_is_delivered() {
    for challenge in [r#"Bearer error="insufficient_scope""#, "Bearer"] {
        let (mut h, a) = superseded(Config::default(), false);
        h.respond_with(a, 403, &headers(&[("www-authenticate", challenge)]));
        assert_eq!(h.take(), ["Deliver(e1)"], "{challenge}");
    }
}

#[test]
fn a_403_of_another_scheme_only_is_still_bare_for_bearer() {
    let (mut h, a) = superseded(Config::default(), false);
    h.respond_with(
        a,
        403,
        &headers(&[("www-authenticate", r#"Basic realm="x""#)]),
    );
    assert_eq!(h.take(), ["Send(e1,A2)"]);
}

#[test]
fn a_403_for_an_older_token_with_a_body_that_cannot_be_replayed_is_delivered() {
    let (mut h, a) = superseded(Config::default(), true);
    h.respond(a, 403);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    assert!(h.auth.is_none(), "the current token is not suspected");
    let b = h.get();
    h.respond(b, 200);
    assert_eq!(h.take(), ["Send(e2,A2)", "Deliver(e2)"]);
}

#[test]
fn a_403_for_the_current_token_is_delivered_and_refreshes_nothing() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    h.respond(a, 403);
    let b = h.get();
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)", "Send(e2,A1)"]);
    assert!(h.auth.is_none());
    let _ = b;
}

#[test]
fn superseded_403_resends_are_bounded_by_max_stale_generation_resends() {
    let cfg = Config {
        max_stale_generation_resends: 1,
        ..Config::default()
    };
    let (mut h, a) = superseded(cfg, false);
    h.respond(a, 403);
    assert_eq!(h.take(), ["Send(e1,A2)"]);
    // Another refresh replaces A2 while the resend is out (a 401 elsewhere, say).
    let b = h.get();
    h.respond(b, 401);
    h.auth_ok(&token_body("A3", Some("R3"), Some(1800)));
    h.take();
    h.respond(a, 403);
    assert_eq!(h.take(), ["Deliver(e1)"], "the limit is reached: delivered");
    let m = h.session.metrics(h.now);
    assert_eq!(
        m.unauthorized_resends, 2,
        "e1's resend and e2's refresh-and-resend"
    );
}

#[test]
fn with_retry_on_401_or_automatic_refresh_off_a_superseded_403_is_delivered() {
    for cfg in [
        Config {
            retry_on_401: false,
            ..Config::default()
        },
        Config {
            enabled: false,
            ..Config::default()
        },
    ] {
        let enabled = cfg.enabled;
        let mut h = Harness::logged_in(cfg, 1800);
        let a = h.get();
        // Tokens from elsewhere replace A1 while `a` is out.
        let now = h.now;
        let set = tokenkeeper_core::TokenSet {
            access_token: "A2".into(),
            refresh_token: None,
            issued_at: now,
            expires_at: Timestamp::from_millis(now.as_millis() + 1_800_000),
            refresh_expires_at: None,
        };
        h.session.set_tokens(now, set).unwrap();
        h.respond(a, 403);
        assert_eq!(
            h.take(),
            ["Send(e1,A1)", "Deliver(e1)"],
            "enabled {enabled}"
        );
        assert!(
            h.session.response_rules().delivers_as_is(
                http::StatusCode::FORBIDDEN,
                tokenkeeper_core::RequestMeta::new(&http::Method::GET, true)
            ),
            "enabled {enabled}"
        );
    }
}

#[test]
fn with_403_configured_as_a_rejection_it_follows_the_401_rules() {
    let cfg = Config {
        token_rejected_statuses: vec![401, 403],
        ..Config::default()
    };
    let (mut h, a) = superseded(cfg.clone(), false);
    h.respond(a, 403);
    assert_eq!(h.take(), ["Send(e1,A2)"], "older generation: resent");
    h.respond(a, 403);
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)"],
        "current generation: refresh and resend"
    );
}
