//! Every limit in `tokenkeeper_core::limits`, at the limit and one past it, through the public
//! parsers and the session (the table in `core/README.md` lists them).

mod common;

use std::time::Duration;

use common::{Harness, T0, headers, token_body};
use http::{HeaderMap, HeaderValue};
use tokenkeeper_core::limits::{
    DEFAULT_AUTH_TIMEOUT, MAX_AUTH_BODY, MAX_AUTH_RETRY_AFTER, MAX_HEADER_VALUE, MAX_JSON_DEPTH,
    MAX_LIFETIME, MAX_RETRY_AFTER, MAX_SERVER_TEXT, MAX_TOKEN_TYPE,
};
use tokenkeeper_core::parse::{
    AuthErrorBody, InvalidAuthResponse, jwt_exp, parse_auth_error, parse_bearer_challenge,
    parse_retry_after, parse_token_response, resolve_expiry,
};
use tokenkeeper_core::{Config, Error, TimerKind};

/// `text` followed by spaces up to `len` bytes.
fn padded(text: &str, len: usize) -> String {
    assert!(text.len() <= len);
    format!("{text}{}", " ".repeat(len - text.len()))
}

fn one(name: http::HeaderName, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name, HeaderValue::from_str(value).unwrap());
    h
}

/// A token response whose `n` member nests arrays so that the whole body is `depth` deep.
fn nested_body(depth: usize) -> String {
    let inner = depth - 1; // the object itself is one level
    format!(
        r#"{{"access_token":"x","n":{}{}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

#[test]
fn auth_body_limit() {
    let h = HeaderMap::new();
    let body = padded(&token_body("A1", None, Some(60)), MAX_AUTH_BODY);
    assert!(parse_token_response(&h, body.as_bytes()).is_ok());
    let over = format!("{body} ");
    assert_eq!(
        parse_token_response(&h, over.as_bytes()),
        Err(InvalidAuthResponse::TooLarge {
            len: MAX_AUTH_BODY + 1,
            limit: MAX_AUTH_BODY
        })
    );
    let error = padded(r#"{"error":"invalid_grant"}"#, MAX_AUTH_BODY);
    assert!(parse_auth_error(error.as_bytes()).is_invalid_grant());
    let over = format!("{error} ");
    assert_eq!(
        parse_auth_error(over.as_bytes()),
        AuthErrorBody::Unrecognized
    );
    assert_eq!(MAX_AUTH_BODY, 65_536);
}

#[test]
fn json_depth_limit() {
    let h = HeaderMap::new();
    assert!(parse_token_response(&h, nested_body(MAX_JSON_DEPTH).as_bytes()).is_ok());
    assert!(matches!(
        parse_token_response(&h, nested_body(MAX_JSON_DEPTH + 1).as_bytes()),
        Err(InvalidAuthResponse::NotJson { .. })
    ));
    // JWT claims go through the same reader.
    let claims = |depth: usize| {
        let inner = depth - 1;
        format!(
            r#"{{"exp":1700000000,"n":{}{}}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    };
    assert_eq!(jwt_exp(&jwt(&claims(MAX_JSON_DEPTH))), Some(1_700_000_000));
    assert_eq!(jwt_exp(&jwt(&claims(MAX_JSON_DEPTH + 1))), None);
    assert_eq!(MAX_JSON_DEPTH, 127);
}

#[test]
fn server_text_limit() {
    for (len, kept) in [
        (MAX_SERVER_TEXT, MAX_SERVER_TEXT),
        (MAX_SERVER_TEXT + 1, MAX_SERVER_TEXT),
    ] {
        let text = "e".repeat(len);
        let body = format!(r#"{{"error":"{text}","error_description":"{text}"}}"#);
        let AuthErrorBody::OAuth { error, description } = parse_auth_error(body.as_bytes()) else {
            panic!("not an OAuth error")
        };
        assert_eq!(error.len(), kept, "{len}");
        assert_eq!(description.unwrap().len(), kept, "{len}");
        let body = format!(r#"{{"detail":"{text}"}}"#);
        assert_eq!(
            parse_auth_error(body.as_bytes()),
            AuthErrorBody::Detail("e".repeat(kept))
        );
        let challenge = format!(r#"Bearer error="{text}", realm="{text}""#);
        let c = parse_bearer_challenge(&one(http::header::WWW_AUTHENTICATE, &challenge)).unwrap();
        assert_eq!(c.error.unwrap().len(), kept, "{len}");
        assert_eq!(c.realm.unwrap().len(), kept, "{len}");
    }
    assert_eq!(MAX_SERVER_TEXT, 200);
}

#[test]
fn token_type_limit() {
    let h = HeaderMap::new();
    for (len, kept) in [
        (MAX_TOKEN_TYPE, MAX_TOKEN_TYPE),
        (MAX_TOKEN_TYPE + 1, MAX_TOKEN_TYPE),
    ] {
        let body = format!(
            r#"{{"access_token":"x","token_type":"{}"}}"#,
            "m".repeat(len)
        );
        let Err(InvalidAuthResponse::BadTokenType { token_type }) =
            parse_token_response(&h, body.as_bytes())
        else {
            panic!("accepted")
        };
        assert_eq!(token_type, "m".repeat(kept), "{len}");
    }
}

#[test]
fn header_value_limit() {
    // WWW-Authenticate: a challenge in a value of the limit is read; one byte more, ignored.
    let challenge = padded(r#"Bearer error="insufficient_scope""#, MAX_HEADER_VALUE);
    let at = one(http::header::WWW_AUTHENTICATE, &challenge);
    assert_eq!(
        parse_bearer_challenge(&at).unwrap().error.as_deref(),
        Some("insufficient_scope")
    );
    let over = one(http::header::WWW_AUTHENTICATE, &format!("{challenge} "));
    assert_eq!(parse_bearer_challenge(&over), None);
    // A later value within the limit is still read.
    let mut both = over.clone();
    both.append(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"r\""),
    );
    assert_eq!(
        parse_bearer_challenge(&both).unwrap().realm.as_deref(),
        Some("r")
    );
    // Retry-After.
    let value = padded("120", MAX_HEADER_VALUE);
    assert_eq!(
        parse_retry_after(&one(http::header::RETRY_AFTER, &value), T0),
        Some(T0.saturating_add(Duration::from_secs(120)))
    );
    let over = format!("{value} ");
    assert_eq!(
        parse_retry_after(&one(http::header::RETRY_AFTER, &over), T0),
        None
    );
    // Content-Type: an HTML type in a value past the limit is not read; the JSON body is.
    let html = padded("text/html; charset=utf-8", MAX_HEADER_VALUE);
    let body = token_body("A1", None, Some(60));
    assert_eq!(
        parse_token_response(&one(http::header::CONTENT_TYPE, &html), body.as_bytes()),
        Err(InvalidAuthResponse::Html)
    );
    let over = format!("{html} ");
    assert!(parse_token_response(&one(http::header::CONTENT_TYPE, &over), body.as_bytes()).is_ok());
    // Date (the reference for a JWT `exp`): past the limit, `exp` is taken as absolute.
    let now = T0;
    let exp = T0.as_millis() / 1000 + 600;
    let token = jwt_with_exp(exp);
    let server_date =
        tokenkeeper_core::parse::format_http_date(T0.saturating_add(Duration::from_secs(3600)));
    let date = padded(&server_date, MAX_HEADER_VALUE);
    let lifetime = |h: &HeaderMap| {
        resolve_expiry(now, None, &token, h, Duration::from_secs(1))
            .expires_at
            .saturating_duration_since(now)
    };
    assert_eq!(lifetime(&one(http::header::DATE, &date)), Duration::ZERO);
    let over = format!("{date} ");
    assert_eq!(
        lifetime(&one(http::header::DATE, &over)),
        Duration::from_secs(600)
    );
    assert_eq!(MAX_HEADER_VALUE, 8192);
}

/// base64url without padding (written out: no base64 dependency here).
fn b64url(data: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.as_bytes().chunks(3) {
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

/// An unsecured JWT with these claims.
fn jwt(claims: &str) -> String {
    format!("{}.{}.", b64url(r#"{"alg":"none"}"#), b64url(claims))
}

fn jwt_with_exp(exp: u64) -> String {
    jwt(&format!(r#"{{"exp":{exp}}}"#))
}

#[test]
fn lifetime_limit() {
    let h = HeaderMap::new();
    let secs = MAX_LIFETIME.as_secs();
    for (expires_in, ok) in [
        (secs.to_string(), true),
        ((secs + 1).to_string(), false),
        (format!("{secs}.5"), false),
        (format!("\"{secs}\""), true),
        (format!("\"{}\"", secs + 1), false),
    ] {
        let body = format!(r#"{{"access_token":"x","expires_in":{expires_in}}}"#);
        let got = parse_token_response(&h, body.as_bytes());
        if ok {
            assert_eq!(got.unwrap().expires_in, Some(MAX_LIFETIME), "{expires_in}");
        } else {
            assert_eq!(
                got,
                Err(InvalidAuthResponse::BadExpiresIn {
                    reason: "too large"
                }),
                "{expires_in}"
            );
        }
    }
    // A JWT `exp` is clamped instead.
    let now_secs = T0.as_millis() / 1000;
    for exp in [now_secs + secs, now_secs + secs + 1] {
        let got = resolve_expiry(T0, None, &jwt_with_exp(exp), &h, Duration::from_secs(1));
        assert_eq!(got.expires_at, T0.saturating_add(MAX_LIFETIME), "{exp}");
    }
    assert_eq!(secs, 10 * 365 * 86_400);
}

#[test]
fn retry_after_limit() {
    let day = MAX_RETRY_AFTER.as_secs();
    for (value, want) in [(day, day), (day + 1, day)] {
        let h = one(http::header::RETRY_AFTER, &value.to_string());
        assert_eq!(
            parse_retry_after(&h, T0),
            Some(T0.saturating_add(Duration::from_secs(want)))
        );
    }
    assert_eq!(day, 86_400);
}

#[test]
fn auth_retry_after_limit() {
    let limit = MAX_AUTH_RETRY_AFTER.as_secs();
    for (value, want) in [(limit, limit), (limit + 1, limit)] {
        let mut h = Harness::logged_in(
            Config {
                max_refresh_attempts: 1,
                ..Config::default()
            },
            1800,
        );
        h.advance_secs(1800);
        let a = h.get();
        h.auth_reply(503, &headers(&[("retry-after", &value.to_string())]), "");
        let Error::AuthUnavailable { retry_at, .. } = h.errors[&a] else {
            panic!("{:?}", h.errors[&a])
        };
        assert_eq!(
            retry_at,
            Some(h.now.saturating_add(Duration::from_secs(want))),
            "{value}"
        );
    }
}

#[test]
fn auth_timeout_default_and_edge() {
    assert_eq!(Config::default().auth_timeout, DEFAULT_AUTH_TIMEOUT);
    assert_eq!(DEFAULT_AUTH_TIMEOUT, Duration::from_secs(30));
    // An answer a millisecond before the deadline counts.
    let mut h = Harness::new();
    h.get();
    h.advance(DEFAULT_AUTH_TIMEOUT.saturating_sub(Duration::from_millis(1)));
    h.session.handle_timeout(h.now);
    h.drain();
    h.auth_ok(&token_body("A1", Some("R1"), Some(1800)));
    assert_eq!(h.take(), ["Authenticate(login)", "Send(e1,A1)"]);
    // At the deadline it is aborted; a later answer is ignored.
    let mut h = Harness::new();
    h.get();
    assert_eq!(
        h.session.poll_timeout(),
        Some((
            T0.saturating_add(DEFAULT_AUTH_TIMEOUT),
            TimerKind::AuthDeadline
        ))
    );
    h.advance(DEFAULT_AUTH_TIMEOUT);
    h.session.handle_timeout(h.now);
    h.drain();
    let log = h.take();
    assert!(log[1].starts_with("AbortAuth"), "{log:?}");
    h.auth_ok(&token_body("LATE", Some("R1"), Some(1800)));
    assert!(h.session.tokens().is_none());
}
