//! Server text kept in errors never shows a secret the session knows: an auth endpoint that
//! echoes the password, the client secret, a sensitive extra header or a token back in its
//! `detail`, `error` or `token_type` gets `[redacted]` in the error's place (`Error`'s "Server
//! text" docs), while a reason without secrets is kept as the server wrote it.

mod common;

use common::{BASE, Harness, headers, token_body};
use http::HeaderValue;
use http::header::HeaderName;
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::parse::InvalidAuthResponse;
use tokenkeeper_core::{Config, Error, ExchangeId};

const PASSWORD: &str = "hunter2-horse-battery";
const CLIENT_SECRET: &str = "cl1ent-s3cret-staple";
const API_KEY: &str = "k3y-for-the-gateway";
const ACCESS: &str = "access-tok-0123456789";
const REFRESH: &str = "refresh-tok-9876543210";

fn vitalgraph() -> Harness {
    Harness::build(
        Config::default(),
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::password("alice", PASSWORD),
    )
}

/// An OAuth 2 password-grant endpoint with a Basic client secret and a sensitive API key.
fn oauth2() -> Harness {
    let mut dialect = Dialect::oauth2_password(
        &format!("{BASE}/oauth/token"),
        ClientAuth::Basic {
            client_id: "app".into(),
            client_secret: CLIENT_SECRET.into(),
        },
        None,
    )
    .unwrap();
    let mut key = HeaderValue::from_static(API_KEY);
    key.set_sensitive(true);
    dialect
        .login
        .as_mut()
        .unwrap()
        .headers
        .push((HeaderName::from_static("x-api-key"), key));
    Harness::build(
        Config::default(),
        dialect,
        Credentials::password("alice", PASSWORD),
    )
}

/// The error `id` failed with; its `Display` and `Debug` hold none of the secrets.
fn failed(h: &Harness, id: ExchangeId) -> &Error {
    let error = &h.errors[&id];
    for text in [error.to_string(), format!("{error:?}")] {
        for secret in [PASSWORD, CLIENT_SECRET, API_KEY, ACCESS, REFRESH] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    error
}

fn reason(e: &Error) -> Option<&str> {
    match e {
        Error::InvalidCredentials { reason, .. } | Error::AuthRejected { reason, .. } => {
            reason.as_deref()
        }
        other => panic!("no reason in {other:?}"),
    }
}

#[test]
fn a_login_refused_with_the_password_echoed_keeps_no_password() {
    let filler = "x".repeat(190);
    // (status, body, the reason kept)
    let table: Vec<(u16, String, &str)> = vec![
        (
            401,
            format!(r#"{{"detail":"bad password {PASSWORD}"}}"#),
            "[redacted]",
        ),
        (400, format!(r#"{{"error":"{PASSWORD}"}}"#), "[redacted]"),
        (
            400,
            format!(r#"{{"detail":[{{"loc":["body","password"],"msg":"{PASSWORD} is wrong"}}]}}"#),
            "[redacted]",
        ),
        // Cut by the 200-character limit after the password's first 9 characters.
        (
            401,
            format!(r#"{{"detail":"{filler} {PASSWORD}"}}"#),
            "[redacted]",
        ),
        // Shortened by the server.
        (
            401,
            r#"{"detail":"bad password hunter2-h..."}"#.to_owned(),
            "[redacted]",
        ),
        // error_description is not kept: the code stays.
        (
            400,
            format!(r#"{{"error":"invalid_grant","error_description":"{PASSWORD}"}}"#),
            "invalid_grant",
        ),
        // No secret: kept as the server wrote it.
        (
            401,
            r#"{"detail":"Incorrect username or password"}"#.to_owned(),
            "Incorrect username or password",
        ),
    ];
    for (status, body, want) in table {
        let mut h = vitalgraph();
        let e1 = h.get();
        assert_eq!(h.take(), ["Authenticate(login)"]);
        h.auth_reply(status, &headers(&[]), &body);
        assert_eq!(h.take(), ["Fail(e1,InvalidCredentials)"], "{body}");
        let error = failed(&h, e1);
        assert_eq!(reason(error), Some(want), "{body}");
        assert_eq!(h.session.metrics(h.now).login_failures, 1);
    }
}

#[test]
fn the_password_a_login_was_sent_with_stays_hidden_after_it_is_replaced() {
    let mut h = vitalgraph();
    let e1 = h.get();
    assert_eq!(h.take(), ["Authenticate(login)"]);
    h.session
        .set_credentials(Credentials::password("alice", "another-passw0rd"));
    h.auth_reply(
        401,
        &headers(&[]),
        &format!(r#"{{"detail":"bad password {PASSWORD}"}}"#),
    );
    assert_eq!(h.take(), ["Fail(e1,InvalidCredentials)"]);
    assert_eq!(reason(failed(&h, e1)), Some("[redacted]"));
}

#[test]
fn a_client_secret_or_sensitive_header_echoed_is_redacted() {
    for (status, body, want) in [
        (
            401,
            format!(r#"{{"error":"invalid_client {CLIENT_SECRET}"}}"#),
            "[redacted]",
        ),
        (
            403,
            format!(r#"{{"detail":"unknown api key {API_KEY}"}}"#),
            "[redacted]",
        ),
        (
            401,
            r#"{"error":"invalid_client"}"#.to_owned(),
            "invalid_client",
        ),
    ] {
        let mut h = oauth2();
        let e1 = h.get();
        assert_eq!(h.take(), ["Authenticate(login)"]);
        h.auth_reply(status, &headers(&[]), &body);
        let error = failed(&h, e1);
        assert_eq!(reason(error), Some(want), "{body}");
    }
}

#[test]
fn a_refresh_refused_with_a_token_echoed_is_redacted() {
    for body in [
        format!(r#"{{"detail":"refresh token {REFRESH} is revoked"}}"#),
        format!(r#"{{"error":"{REFRESH}"}}"#),
        format!(r#"{{"detail":"your access token was {ACCESS}"}}"#),
    ] {
        // 400 without invalid_grant and 403 are configuration problems: AuthRejected.
        for status in [400, 403] {
            let mut h = vitalgraph();
            h.session.login(h.now);
            h.drain();
            h.auth_ok(&token_body(ACCESS, Some(REFRESH), Some(600)));
            h.take();
            h.advance_secs(600);
            let e = h.get();
            assert_eq!(h.take(), ["Authenticate(refresh)"]);
            h.auth_reply(status, &headers(&[]), &body);
            assert_eq!(h.take(), ["Fail(e1,AuthRejected)"], "{status} {body}");
            assert_eq!(reason(failed(&h, e)), Some("[redacted]"), "{status} {body}");
        }
    }
}

#[test]
fn a_token_type_echoing_a_secret_is_redacted() {
    for body in [
        format!(r#"{{"access_token":"new-token-1","token_type":"{PASSWORD}"}}"#),
        r#"{"access_token":"new-token-1","token_type":"new-token-1"}"#.to_owned(),
        r#"{"access_token":"new-token-1","token_type":"mac"}"#.to_owned(),
    ] {
        let mut h = vitalgraph();
        let e1 = h.get();
        assert_eq!(h.take(), ["Authenticate(login)"]);
        h.auth_ok(&body);
        assert_eq!(h.take(), ["Fail(e1,InvalidAuthResponse)"], "{body}");
        let Error::InvalidAuthResponse(InvalidAuthResponse::BadTokenType { token_type }) =
            failed(&h, e1)
        else {
            panic!("not BadTokenType: {body}");
        };
        let want = if body.contains("mac") {
            "mac"
        } else {
            "[redacted]"
        };
        assert_eq!(token_type, want, "{body}");
        assert!(!h.errors[&e1].to_string().contains("new-token-1"));
    }
}
