//! Rows about when a request is sent, waits for a login or refresh, or fails: the token's
//! freshness, what can renew it, and single flight.

use std::time::Duration;

use crate::common::{self, Harness, T0, token_body};
use tokenkeeper_core::{Config, Timestamp};

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
