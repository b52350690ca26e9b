//! Tokens offered from outside (`Session::offer_tokens`): another tab's broadcast, a store read
//! under a shared lock. A set is adopted only if it was issued after the one held and can be
//! used; adopting ends the auth operation in flight and resumes the waiters, and a later
//! refresh uses the adopted refresh token. `note_peer_tokens` and `auth_gate` tell a driver
//! holding the lock whether to send its auth request or ask a peer first.

mod common;

use std::time::Duration;

use common::{BASE, Harness, T0, headers, token_body};
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{AuthGate, Config, TimerKind, Timestamp, TokenSet};

/// A set issued `issued_ago` seconds before `now`, whose access token expires `expires_in`
/// seconds after `now` (negative: already expired).
fn set(
    now: Timestamp,
    access: &str,
    refresh: Option<&str>,
    issued_ago: u64,
    expires_in: i64,
) -> TokenSet {
    let expires_at = if expires_in >= 0 {
        now.saturating_add(Duration::from_secs(expires_in.unsigned_abs()))
    } else {
        now.saturating_sub(Duration::from_secs(expires_in.unsigned_abs()))
    };
    TokenSet {
        access_token: access.into(),
        refresh_token: refresh.map(Into::into),
        issued_at: now.saturating_sub(Duration::from_secs(issued_ago)),
        expires_at,
        refresh_expires_at: None,
    }
}

/// Offers `set(h.now, ..)`.
fn offer_new(
    h: &mut Harness,
    access: &str,
    refresh: Option<&str>,
    issued_ago: u64,
    expires_in: i64,
) -> bool {
    let offered = set(h.now, access, refresh, issued_ago, expires_in);
    offer(h, offered)
}

fn offer(h: &mut Harness, set: TokenSet) -> bool {
    let adopted = h.session.offer_tokens(h.now, set);
    h.drain();
    adopted
}

/// The refresh token an `Authenticate(refresh)` carries (VitalGraph: as a bearer header).
fn refresh_token_sent(h: &Harness) -> String {
    let req = &h.auth.as_ref().expect("an Authenticate is pending").request;
    req.headers()["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

#[test]
fn an_older_or_equal_set_is_refused_and_nothing_changes() {
    let mut h = Harness::logged_in(Config::default(), 1800); // A1 issued at T0
    h.advance_secs(60);
    let generation = h.session.generation();
    let older = set(h.now, "OLD", Some("ROLD"), 61, 1800);
    assert!(!offer(&mut h, older));
    let equal = set(h.now, "EQ", Some("REQ"), 60, 1800);
    assert!(!offer(&mut h, equal), "issued at the same time: not newer");
    assert_eq!(h.session.generation(), generation);
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
}

#[test]
fn a_newer_usable_set_is_adopted_without_an_event() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(60);
    let generation = h.session.generation();
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, 1800));
    assert_eq!(h.session.generation(), generation + 1);
    assert!(h.take_all().is_empty(), "the offerer already has them");
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,N1)", "Deliver(e1)"]);
}

#[test]
fn an_expired_set_with_a_refresh_token_is_adopted_and_the_next_refresh_uses_it() {
    let mut h = Harness::logged_in(Config::default(), 1800); // R1 held
    h.advance_secs(60);
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, -1));
    h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    assert_eq!(
        refresh_token_sent(&h),
        "RN1",
        "the adopted refresh token, not R1"
    );
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A2)"]);
}

#[test]
fn an_unusable_set_is_refused() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(60);
    let no_refresh = set(h.now, "N1", None, 0, -1);
    assert!(!offer(&mut h, no_refresh), "expired, nothing to renew it");
    let mut dead_refresh = set(h.now, "N2", Some("RN2"), 0, -1);
    dead_refresh.refresh_expires_at = Some(h.now);
    assert!(
        !offer(&mut h, dead_refresh),
        "expired, refresh token expired too"
    );
    let unsendable = set(h.now, "bad\ntoken", None, 0, 1800);
    assert!(!offer(&mut h, unsendable));
    let unsendable_refresh = set(h.now, "N3", Some("bad\nrefresh"), 0, 1800);
    assert!(!offer(&mut h, unsendable_refresh));
    assert_eq!(h.session.tokens().unwrap().access_token.expose(), "A1");
    // A dialect that cannot refresh: a refresh token does not make an expired set usable.
    let mut dialect = Dialect::oauth2_client_credentials(
        &format!("{BASE}/oauth/token"),
        ClientAuth::Body {
            client_id: "svc".into(),
            client_secret: Some("s".into()),
        },
        None,
    )
    .unwrap();
    dialect.refresh = None;
    let mut h = Harness::build(Config::default(), dialect, Credentials::none());
    assert!(!offer_new(&mut h, "C1", Some("RC1"), 0, -1));
    assert!(offer_new(&mut h, "C2", None, 0, 60));
}

#[test]
fn an_offer_during_a_refresh_in_flight_ends_it_and_resumes_the_waiters() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    let op = h.auth.as_ref().unwrap().id;
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, 1800));
    assert_eq!(h.take(), ["Send(e1,N1)"]);
    assert_eq!(h.session.auth_in_flight(), None);
    assert_eq!(h.session.auth_gate(h.now, op), AuthGate::Drop);
    // Its answer, if the driver had sent it, is ignored.
    h.auth_ok(&token_body("LATE", Some("RLATE"), Some(1800)));
    assert!(h.take().is_empty());
    assert_eq!(h.session.tokens().unwrap().access_token.expose(), "N1");
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
}

#[test]
fn an_offer_during_a_backoff_ends_it_and_resumes_the_waiters() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    h.auth_reply(503, &headers(&[]), "");
    assert_eq!(
        h.session.poll_timeout().map(|(_, k)| k),
        Some(TimerKind::AuthRetry)
    );
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, 1800));
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,N1)"]);
    assert!(!h.session.auth_in_progress());
    assert_eq!(h.session.poll_timeout(), None, "no retry left to fire");
}

#[test]
fn an_offer_while_waiting_for_credentials_ends_the_wait() {
    let mut h = Harness::build(
        Config {
            ask_for_credentials: true,
            ..Config::default()
        },
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::none(),
    );
    let a = h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, 1800));
    assert_eq!(h.take(), ["Send(e1,N1)"]);
    // The late answer only keeps the credentials.
    h.session
        .provide_credentials(h.now, Some(Credentials::password("u", "p")));
    h.drain();
    assert!(h.take().is_empty());
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
}

#[test]
fn with_rotation_the_refresh_token_held_before_is_never_used_again() {
    let mut h = Harness::logged_in(Config::default(), 1800); // A1/R1
    h.advance_secs(1800);
    // Another process refreshed with R1 first: the server rotated it to RN1 (and would treat
    // a second use of R1 as reuse). Its set arrives while our own attempt backs off.
    h.get();
    assert_eq!(refresh_token_sent(&h), "R1");
    h.auth_reply(503, &headers(&[]), "");
    assert!(offer_new(&mut h, "N1", Some("RN1"), 0, -1));
    assert_eq!(h.take(), ["Authenticate(refresh)", "Authenticate(refresh)"]);
    assert_eq!(refresh_token_sent(&h), "RN1");
    // Its retry too.
    h.auth_reply(503, &headers(&[]), "");
    h.fire_timer();
    assert_eq!(refresh_token_sent(&h), "RN1");
    // A set adopted without a refresh token: when it expires, a login, never R1 or RN1.
    h.auth_ok(&token_body("A2", None, Some(1800)));
    h.take();
    h.advance_secs(60);
    assert!(offer_new(&mut h, "N2", None, 0, 600));
    h.advance_secs(600);
    h.get();
    assert_eq!(h.take(), ["Authenticate(login)"]);
}

#[test]
fn after_logout_a_set_no_newer_than_the_last_held_is_refused() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let held = h.session.tokens().unwrap().clone();
    h.advance_secs(10);
    h.session.logout();
    h.drain();
    assert!(!offer(&mut h, held), "a stale broadcast of our own tokens");
    assert!(
        offer_new(&mut h, "N1", Some("RN1"), 0, 1800),
        "a newer login elsewhere"
    );
}

#[test]
fn the_gate_asks_the_peer_only_while_it_holds_newer_tokens_and_only_for_a_while() {
    let cfg = Config {
        peer_wait: Duration::from_millis(500),
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800); // A1 issued at T0
    h.advance_secs(1800);
    h.get();
    let op = h.auth.as_ref().unwrap().id;
    assert_eq!(
        h.session.auth_gate(h.now, op),
        AuthGate::Send,
        "nothing noted"
    );
    h.session.note_peer_tokens(h.now, T0);
    assert_eq!(
        h.session.auth_gate(h.now, op),
        AuthGate::Send,
        "the peer's are ours"
    );
    let peer_epoch = T0.saturating_add(Duration::from_secs(1700));
    h.session.note_peer_tokens(h.now, peer_epoch);
    let until = h.now.saturating_add(Duration::from_millis(500));
    assert_eq!(h.session.auth_gate(h.now, op), AuthGate::AskPeer { until });
    // Noting the same epoch again does not extend the wait.
    h.advance(Duration::from_millis(300));
    h.session.note_peer_tokens(h.now, peer_epoch);
    assert_eq!(h.session.auth_gate(h.now, op), AuthGate::AskPeer { until });
    h.advance(Duration::from_millis(200));
    assert_eq!(
        h.session.auth_gate(h.now, op),
        AuthGate::Send,
        "the peer did not answer"
    );
    // A wrong id, or an operation that has ended: drop it.
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    assert_eq!(h.session.auth_gate(h.now, op), AuthGate::Drop);
}

#[test]
fn the_lock_protocol_a_peer_answers_and_no_auth_request_is_sent() {
    // Two participants share a store and a lock; B refreshed a moment ago.
    let mut a = Harness::logged_in(Config::default(), 1800);
    a.advance_secs(1800);
    a.get();
    let op = a.auth.as_ref().unwrap().id;
    // A takes the lock, loads the store (still A's own set: not newer), reads the marker.
    let stored = a.session.tokens().unwrap().clone();
    assert!(!offer(&mut a, stored));
    let b_set = TokenSet {
        access_token: "B2".into(),
        refresh_token: Some("RB2".into()),
        issued_at: a.now.saturating_sub(Duration::from_secs(1)),
        expires_at: a.now.saturating_add(Duration::from_secs(1799)),
        refresh_expires_at: None,
    };
    a.session.note_peer_tokens(a.now, b_set.issued_at);
    assert!(matches!(
        a.session.auth_gate(a.now, op),
        AuthGate::AskPeer { .. }
    ));
    // A asks; B's answer arrives and is offered.
    a.advance(Duration::from_millis(40));
    assert!(offer(&mut a, b_set));
    assert_eq!(a.session.auth_gate(a.now, op), AuthGate::Drop);
    assert_eq!(a.take(), ["Authenticate(refresh)", "Send(e1,B2)"]);
    assert_eq!(a.session.metrics(a.now).refresh_count, 0);
}

#[test]
fn the_lock_protocol_no_peer_has_newer_tokens_and_the_new_ones_come_out_as_an_event() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    h.advance_secs(1800);
    h.get();
    let op = h.auth.as_ref().unwrap().id;
    let stored = h.session.tokens().unwrap().clone();
    assert!(!offer(&mut h, stored));
    h.session.note_peer_tokens(h.now, T0);
    assert_eq!(h.session.auth_gate(h.now, op), AuthGate::Send);
    h.auth_ok(&token_body("A2", Some("R2"), Some(1800)));
    let log = h.take_all();
    assert!(
        log.iter().any(|l| l == "Event(TokensChanged)"),
        "store them, then release the lock: {log:?}"
    );
    let now: Timestamp = h.now;
    assert_eq!(h.session.tokens().unwrap().issued_at, now);
}
