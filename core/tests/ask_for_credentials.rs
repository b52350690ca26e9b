//! Credentials on demand (`Config::ask_for_credentials`): when a login is needed and the
//! credentials held cannot make one, the engine asks the driver once with `NeedCredentials`
//! and the waiting exchanges wait for `provide_credentials` instead of failing.

mod common;

use std::time::Duration;

use common::{BASE, Harness, T0, headers, token_body};
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{Config, TokenSet};

fn asking() -> Config {
    Config {
        ask_for_credentials: true,
        ..Config::default()
    }
}

/// A VitalGraph session with no credentials that asks for them.
fn without_credentials() -> Harness {
    Harness::build(
        asking(),
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::none(),
    )
}

fn good() -> Credentials {
    Credentials::password("admin", "admin")
}

fn provide(h: &mut Harness, credentials: Option<Credentials>) {
    h.session.provide_credentials(h.now, credentials);
    h.drain();
}

/// Tokens from elsewhere: `access`, valid for `secs`, with or without a refresh token.
fn install(h: &mut Harness, access: &str, refresh: Option<&str>, secs: u64) {
    let set = TokenSet {
        access_token: access.into(),
        refresh_token: refresh.map(Into::into),
        issued_at: h.now,
        expires_at: h.now.saturating_add(Duration::from_secs(secs)),
        refresh_expires_at: None,
    };
    h.session.set_tokens(h.now, set).unwrap();
    h.drain();
}

#[test]
fn no_credentials_asks_once_for_all_waiters_then_logs_in_with_the_answer() {
    let mut h = without_credentials();
    let (a, b) = (h.get(), h.get());
    assert_eq!(h.take(), ["NeedCredentials"]);
    assert!(h.session.auth_in_progress());
    assert_eq!(h.session.auth_in_flight(), None);
    assert!(
        h.session.poll_timeout().is_none(),
        "a wait for credentials has no timer"
    );
    let c = h.post();
    assert_eq!(h.take(), Vec::<String>::new(), "asked once per wait");
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Send(e1,A1)", "Send(e2,A1)", "Send(e3,A1)"]);
    for id in [a, b, c] {
        h.respond(id, 200);
    }
    assert_eq!(h.take(), ["Deliver(e1)", "Deliver(e2)", "Deliver(e3)"]);
    let m = h.session.metrics(h.now);
    assert_eq!((m.logins, m.delivered, m.failures), (1, 3, 0));
}

#[test]
fn no_answer_fails_the_waiters_with_session_expired_and_the_next_request_asks_again() {
    let mut h = without_credentials();
    h.get();
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    provide(&mut h, None);
    assert_eq!(
        h.take_all(),
        ["Fail(e1,SessionExpired)", "Fail(e2,SessionExpired)"],
        "no tokens were held, so no SessionExpired event"
    );
    assert!(!h.session.auth_in_progress());
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
}

#[test]
fn refused_credentials_fail_their_waiters_and_the_next_request_asks_again() {
    let mut h = Harness::build(
        asking(),
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::password("admin", "wrong"),
    );
    h.get();
    h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(login)"],
        "held credentials are used first"
    );
    h.auth_reply(
        401,
        &headers(&[]),
        r#"{"detail":"Incorrect username or password"}"#,
    );
    assert_eq!(
        h.take(),
        ["Fail(e1,InvalidCredentials)", "Fail(e2,InvalidCredentials)"],
        "the refusal reaches the callers: no loop of asking and refusing"
    );
    let c = h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    h.respond(c, 200);
    assert_eq!(h.take(), ["Send(e3,A1)", "Deliver(e3)"]);
    assert_eq!(h.session.metrics(h.now).login_failures, 1);
}

#[test]
fn refresh_rejected_without_credentials_asks_instead_of_failing() {
    let mut h = without_credentials();
    install(&mut h, "EXT", Some("R0"), 600);
    h.advance_secs(600);
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)"]);
    h.auth_reply(401, &headers(&[]), r#"{"detail":"refresh token revoked"}"#);
    assert_eq!(
        h.take_all(),
        ["Event(TokensChanged)", "NeedCredentials"],
        "the dead refresh token is dropped; the caller waits"
    );
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,A1)", "Deliver(e1)"]);
}

#[test]
fn refresh_rejected_and_no_answer_drops_the_expired_tokens() {
    let mut h = without_credentials();
    install(&mut h, "EXT", Some("R0"), 600);
    h.advance_secs(600);
    h.get();
    h.auth_reply(401, &headers(&[]), "{}");
    h.take_all();
    provide(&mut h, None);
    assert_eq!(
        h.take_all(),
        ["Event(SessionExpired)", "Fail(e1,SessionExpired)"]
    );
    assert!(h.session.tokens().is_none());
}

#[test]
fn credentials_that_cannot_log_in_are_not_asked_for_again() {
    let mut h = without_credentials();
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    provide(
        &mut h,
        Some(Credentials {
            username: Some("admin".into()),
            password: None,
        }),
    );
    assert_eq!(
        h.take(),
        ["Fail(e1,SessionExpired)"],
        "no second NeedCredentials"
    );
}

#[test]
fn tokens_installed_while_asking_resume_the_waiters_and_a_late_answer_is_kept() {
    let mut h = without_credentials();
    let a = h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    install(&mut h, "EXT", None, 600); // another tab logged in meanwhile
    h.respond(a, 200);
    assert_eq!(h.take(), ["Send(e1,EXT)", "Deliver(e1)"]);
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), Vec::<String>::new(), "no login: nobody waits");
    h.advance_secs(600);
    h.get();
    assert_eq!(
        h.take(),
        ["Authenticate(login)"],
        "the kept credentials are used"
    );
}

#[test]
fn a_usable_token_is_sent_without_asking_even_inside_the_margin() {
    let mut h = without_credentials();
    install(&mut h, "EXT", None, 600);
    h.advance_secs(570); // stale, no refresh token, no credentials: nothing can renew it
    let a = h.get();
    h.respond(a, 200);
    assert_eq!(
        h.take(),
        ["Send(e1,EXT)", "Deliver(e1)"],
        "nobody waits, so nobody is asked"
    );
}

#[test]
fn explicit_login_asks_when_no_credentials_are_held() {
    let mut h = without_credentials();
    h.session.login(h.now);
    h.drain();
    assert_eq!(h.take(), ["NeedCredentials"]);
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Deliver(login)"]);
}

#[test]
fn logout_while_asking_fails_the_waiters_and_ends_the_wait() {
    let mut h = without_credentials();
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
    h.session.logout();
    h.drain();
    assert_eq!(h.take(), ["Fail(e1,SessionExpired)"]);
    assert!(!h.session.auth_in_progress());
    provide(&mut h, Some(good()));
    assert_eq!(h.take(), Vec::<String>::new());
    h.session.logout();
    h.drain();
    h.get();
    assert_eq!(
        h.take(),
        ["NeedCredentials"],
        "logout forgets credentials that came on demand"
    );
}

#[test]
fn without_the_option_or_for_a_client_credentials_dialect_nothing_is_asked() {
    let mut off = Harness::build(
        Config::default(),
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::none(),
    );
    off.get();
    assert_eq!(off.take(), ["Fail(e1,SessionExpired)"]);

    let dialect = Dialect::oauth2_client_credentials(
        "https://auth.example.com/token",
        ClientAuth::Basic {
            client_id: "cli".into(),
            client_secret: "wrong".into(),
        },
        None,
    )
    .unwrap();
    let mut cc = Harness::build(asking(), dialect, Credentials::none());
    cc.get();
    assert_eq!(cc.take(), ["Authenticate(login)"]);
    cc.auth_reply(401, &headers(&[]), r#"{"error":"invalid_client"}"#);
    assert_eq!(cc.take(), ["Fail(e1,InvalidCredentials)"]);
    cc.get();
    assert_eq!(
        cc.take(),
        ["Fail(e2,InvalidCredentials)"],
        "a user's credentials cannot fix a refused client secret"
    );
    let _ = T0;
}

#[test]
fn a_proactive_refresh_rejected_while_the_token_works_asks_only_when_someone_waits() {
    let mut h = without_credentials();
    install(&mut h, "EXT", Some("R0"), 600);
    h.advance_secs(570); // inside the margin: refresh proactively, send meanwhile
    let a = h.get();
    assert_eq!(h.take(), ["Authenticate(refresh)", "Send(e1,EXT)"]);
    h.auth_reply(401, &headers(&[]), "{}");
    assert_eq!(
        h.take_all(),
        ["Event(TokensChanged)", "Event(AuthFailed)"],
        "nobody waits: nobody is asked (the refresh is reported failed)"
    );
    h.respond(a, 200);
    assert_eq!(h.take(), ["Deliver(e1)"]);
    h.advance_secs(30);
    h.get();
    assert_eq!(h.take(), ["NeedCredentials"]);
}
