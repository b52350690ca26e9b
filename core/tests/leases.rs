//! Leases: what a multi-threaded driver may do without its lock. A lease says "`start` would
//! send at once with this header", and until when; a leased request whose response needs a
//! decision is adopted and judged like any other exchange sent with that token generation.

mod common;

use std::time::Duration;

use common::{Harness, T0, token_body};
use http::{Method, StatusCode};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{Config, Margin, RequestMeta};

fn get() -> RequestMeta {
    RequestMeta::new(&Method::GET, true)
}

fn post() -> RequestMeta {
    RequestMeta::new(&Method::POST, true)
}

/// A fixed 60-s margin and no jitter, so the lease's end is exact.
fn fixed_margin() -> Config {
    Config {
        margin: Margin::Fixed(Duration::from_secs(60)),
        margin_jitter: 0.0,
        ..Config::default()
    }
}

#[test]
fn no_lease_without_a_token() {
    let h = Harness::new();
    assert!(h.session.lease(h.now).is_none());
    assert!(h.session.lease_terms(h.now).is_none());
}

#[test]
fn a_fresh_token_is_leased_until_it_enters_its_refresh_margin() {
    let mut h = Harness::logged_in(fixed_margin(), 1800);
    let lease = h.session.lease(h.now).expect("a fresh token is leased");
    assert_eq!(lease.authorization(), "Bearer A1");
    assert_eq!(lease.generation(), h.session.generation());
    assert_eq!(
        lease.valid_until(),
        T0.saturating_add(Duration::from_secs(1800 - 60))
    );
    assert!(lease.allows("http", "127.0.0.1", Some(8001)));
    assert!(!lease.allows("http", "127.0.0.1", Some(8002)));
    assert!(!format!("{lease:?}").contains("A1"), "{lease:?}");
    let copy = lease.authorization_copy();
    assert_eq!(copy, "Bearer A1");
    assert!(copy.is_sensitive());
    assert_ne!(
        copy.as_bytes().as_ptr(),
        lease.authorization().as_bytes().as_ptr()
    );
    // The same state gives the same terms, so a driver republishes nothing.
    h.advance_secs(100);
    assert_eq!(h.session.lease_terms(h.now), Some(lease.terms()));
    assert!(lease.is_valid(h.now));
    // Inside the margin: no lease; `start` refreshes (once) and sends meanwhile.
    h.advance_secs(1800 - 60 - 100);
    assert!(!lease.is_valid(h.now));
    assert!(h.session.lease(h.now).is_none());
    h.get();
    h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(refresh)", "Send(e1,A1)", "Send(e2,A1)"]
    );
    assert!(
        h.session.lease(h.now).is_none(),
        "stale until the refresh lands"
    );
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    let next = h.session.lease(h.now).expect("the new token is leased");
    assert_eq!(next.authorization(), "Bearer A2");
    assert_ne!(next.terms(), lease.terms());
}

#[test]
fn a_lease_ends_at_the_next_timer() {
    let config = Config {
        refresh_ahead: true,
        ..fixed_margin()
    };
    let h = Harness::logged_in(config, 1800);
    let (timer, _) = h.session.poll_timeout().expect("the refresh-ahead timer");
    let lease = h.session.lease(h.now).unwrap();
    assert!(lease.valid_until() <= timer);
}

#[test]
fn leased_successes_are_delivered_as_they_are_and_counted() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let rules = h.session.response_rules();
    for status in [200, 201, 204, 302, 400, 404, 500] {
        assert!(
            rules.delivers_as_is(StatusCode::from_u16(status).unwrap(), get()),
            "{status}"
        );
    }
    // A 403 may answer a token that a refresh has replaced since: the engine judges it.
    for status in [401, 403, 429, 502, 503, 504] {
        assert!(
            !rules.delivers_as_is(StatusCode::from_u16(status).unwrap(), get()),
            "{status}"
        );
    }
    // A POST is not resent after a gateway error (it may have run): delivered as it is.
    assert!(rules.delivers_as_is(StatusCode::BAD_GATEWAY, post()));
    // A streaming body cannot be resent: its 403 is the caller's.
    assert!(rules.delivers_as_is(StatusCode::FORBIDDEN, RequestMeta::new(&Method::GET, false)));
    assert!(!rules.delivers_as_is(StatusCode::TOO_MANY_REQUESTS, post()));
    let before = h.session.metrics(h.now);
    h.session.record_leased(3, 2);
    let after = h.session.metrics(h.now);
    assert_eq!(
        (
            after.requests - before.requests,
            after.delivered - before.delivered
        ),
        (3, 2)
    );
    assert_eq!(h.session.live_exchanges(), 0);
    assert!(h.take_all().is_empty(), "leases emit nothing");
}

#[test]
fn a_leased_401_for_the_current_token_refreshes_once_and_resends() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let lease = h.session.lease(h.now).unwrap();
    let (a, b) = (
        h.adopt(h.now, get(), lease.generation()),
        h.adopt(h.now, get(), lease.generation()),
    );
    h.respond(a, 401);
    h.respond(b, 401);
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    assert!(
        h.session.lease(h.now).is_none(),
        "a rejected token is not leased"
    );
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A2)", "Send(e2,A2)"]);
    h.respond(a, 200);
    h.respond(b, 200);
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)"]);
    assert_eq!(h.session.metrics(h.now).refresh_count, 1);
}

#[test]
fn a_leased_401_for_an_older_token_resends_without_refreshing() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let old = h.session.lease(h.now).unwrap();
    // Another request's 401 already brought a new token.
    let first = h.adopt(h.now, get(), old.generation());
    h.respond(first, 401);
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    h.respond(first, 200);
    h.take();
    let late = h.adopt(h.now, get(), old.generation());
    h.respond(late, 401);
    assert_eq!(h.take(), ["Send(e2,A2)"]);
    h.respond(late, 200);
    assert_eq!(h.take(), ["Deliver(e2)"]);
    assert_eq!(h.session.metrics(h.now).refresh_count, 1);
}

#[test]
fn a_leased_503_backs_off_and_a_leased_post_is_not_resent_after_an_ambiguous_error() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let generation = h.session.lease(h.now).unwrap().generation();
    let a = h.adopt(h.now, get(), generation);
    h.respond(a, 503);
    assert!(h.take().is_empty(), "waits for its backoff");
    assert!(
        h.session
            .lease(h.now)
            .is_none_or(|l| Some(l.valid_until()) <= h.session.poll_timeout().map(|(t, _)| t)),
        "a lease never outlives the next timer"
    );
    h.fire_timer();
    assert_eq!(h.take(), ["Send(e1,A1)"]);
    let p = h.adopt(h.now, post(), generation);
    h.send_error(p, SendFailure::MaybeSent);
    assert_eq!(h.take(), ["Fail(e2,Transport)"]);
}

#[test]
fn a_leased_bare_403_for_an_older_token_resends_and_for_the_current_token_is_delivered() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let old = h.session.lease(h.now).unwrap();
    let current = h.adopt(h.now, get(), old.generation());
    h.respond(current, 403);
    assert_eq!(h.take(), ["Deliver(e1)"], "a 403 for the current token");
    // A refresh replaced A1 (and, with rotation, revoked it) while this one was out.
    let first = h.adopt(h.now, get(), old.generation());
    h.respond(first, 401);
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    h.respond(first, 200);
    h.take();
    let late = h.adopt(h.now, get(), old.generation());
    h.respond(late, 403);
    assert_eq!(h.take(), ["Send(e3,A2)"]);
    h.respond(late, 200);
    assert_eq!(h.take(), ["Deliver(e3)"]);
    assert_eq!(h.session.metrics(h.now).refresh_count, 1);
}
