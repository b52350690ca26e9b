//! Building requests: Basic client authentication, form and JSON encoding, custom dialects,
//! and when a login or refresh can be built.

use super::*;
use http::header::ACCEPT;

use crate::dialect::request::{basic_auth, form_body, form_encode, json_body};

#[test]
fn basic_header_vectors() {
    let table = [
        ("s6BhdRkqt3", "gX1fBat3bV", "czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        ("client:1", "p@ss w/rd", "Y2xpZW50JTNBMTpwJTQwc3MrdyUyRnJk"),
        (
            "clïent",
            "sécret ☃",
            "Y2wlQzMlQUZlbnQ6cyVDMyVBOWNyZXQrJUUyJTk4JTgz",
        ),
        ("svc", "pw", "c3ZjOnB3"),
        ("a", "", "YTo="),
    ];
    for (id, secret, b64) in table {
        let value = basic_auth(id, &Secret::new(secret)).unwrap();
        assert_eq!(
            value.to_str().unwrap(),
            format!("Basic {b64}"),
            "{id}:{secret}"
        );
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains(b64));
    }
}

#[test]
fn form_and_json_encoding_of_awkward_values() {
    let table = [
        ("plain", "plain", r#""plain""#),
        (PASSWORD, PASSWORD_FORM, r#""p&=+ %é☃-SECRET""#),
        ("a\"b\\c", "a%22b%5Cc", r#""a\"b\\c""#),
        (
            "line\nbreak\u{1}",
            "line%0Abreak%01",
            r#""line\nbreak\u0001""#,
        ),
        ("*-._~", "*-._%7E", r#""*-._~""#),
        ("", "", r#""""#),
    ];
    for (value, form, json) in table {
        assert_eq!(
            String::from_utf8(form_body(&[("k", value)])).unwrap(),
            format!("k={form}")
        );
        let body = json_body(&[("k", value), ("n", "1")]);
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            format!(r#"{{"k":{json},"n":"1"}}"#)
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["k"], value);
    }
    assert_eq!(json_body(&[]), b"{}");
    assert!(form_body(&[]).is_empty());
}

/// A custom dialect: JSON login with literal fields, body client auth and extra headers;
/// a refresh endpoint that wrongly wants the username.
fn custom() -> Dialect {
    Dialect {
        name: "custom".into(),
        login: Some(Endpoint {
            url: "https://id.example:8443/v2/session".parse().unwrap(),
            encoding: Encoding::Json,
            fields: vec![
                ("user".into(), Field::Username),
                ("pass".into(), Field::Password),
                ("kind".into(), Field::Literal("interactive".into())),
                ("scopes".into(), Field::Scope),
            ],
            refresh_token_as_bearer: false,
            client_auth: ClientAuth::Body {
                client_id: "tool".into(),
                client_secret: None,
            },
            headers: vec![
                (
                    HeaderName::from_static("x-api-version"),
                    HeaderValue::from_static("2"),
                ),
                (ACCEPT, HeaderValue::from_static("application/vnd.id+json")),
            ],
        }),
        refresh: Some(Endpoint {
            url: "https://id.example:8443/v2/renew".parse().unwrap(),
            encoding: Encoding::Form,
            fields: vec![
                ("user".into(), Field::Username),
                ("token".into(), Field::RefreshToken),
            ],
            refresh_token_as_bearer: false,
            client_auth: ClientAuth::None,
            headers: Vec::new(),
        }),
        scope: Some("profile email".into()),
    }
}

#[test]
fn custom_dialect_from_parts() {
    let d = custom();
    d.validate(false).unwrap();
    let login = d
        .login_request(&Credentials::password("alice", "pw\"1"))
        .unwrap();
    assert_eq!(login.url(), "https://id.example:8443/v2/session");
    assert_eq!(header(&login, "content-type"), Some("application/json"));
    assert_eq!(header(&login, "accept"), Some("application/vnd.id+json"));
    assert_eq!(login.headers().get_all(ACCEPT).iter().count(), 1);
    assert_eq!(header(&login, "x-api-version"), Some("2"));
    assert_eq!(
        body(&login),
        r#"{"user":"alice","pass":"pw\"1","kind":"interactive","scopes":"profile email","client_id":"tool"}"#
    );
    // The refresh endpoint needs the username, which a refresh does not have.
    assert!(!d.can_refresh());
    assert!(d.refresh_request(&Secret::new("rt")).is_none());
    assert_eq!(d.origin().as_deref(), Some("https://id.example:8443"));

    let mut no_scope = custom();
    no_scope.scope = None;
    let login = no_scope
        .login_request(&Credentials::password("a", "b"))
        .unwrap();
    assert_eq!(
        body(&login),
        r#"{"user":"a","pass":"b","kind":"interactive","client_id":"tool"}"#
    );
}

#[test]
fn can_login_and_can_refresh_table() {
    let vg = Dialect::vitalgraph("https://vg.example").unwrap();
    let cc =
        Dialect::oauth2_client_credentials("https://as.example/t", ClientAuth::None, None).unwrap();
    let user_only = Credentials {
        username: Some("alice".into()),
        password: None,
    };
    let password_only = Credentials {
        username: None,
        password: Some(Secret::new("pw")),
    };
    let mut refresh_only = vg.clone();
    refresh_only.login = None;
    let mut login_only = vg.clone();
    login_only.refresh = None;
    let mut conflict = vg.clone();
    conflict.refresh.as_mut().unwrap().client_auth = basic("id", "secret");
    // (dialect, credentials, can_login, can_refresh)
    let table = [
        (&vg, alice(), true, true),
        (&vg, Credentials::password("", ""), true, true),
        (&vg, Credentials::none(), false, true),
        (&vg, user_only.clone(), false, true),
        (&vg, password_only, false, true),
        (&cc, Credentials::none(), true, true),
        (&cc, user_only, true, true),
        (&refresh_only, alice(), false, true),
        (&login_only, alice(), true, false),
        (&conflict, alice(), true, false),
    ];
    for (d, creds, login, refresh) in table {
        assert_eq!(d.can_login(&creds), login, "{creds:?}");
        assert_eq!(d.login_request(&creds).is_some(), login, "{creds:?}");
        assert_eq!(d.can_refresh(), refresh);
        assert_eq!(d.refresh_request(&Secret::new("rt")).is_some(), refresh);
    }
    // A refresh token that cannot go into a header cannot be sent as a bearer.
    assert!(vg.refresh_request(&Secret::new("bad\ntoken")).is_none());
}

#[test]
fn form_encoding_is_the_form_urlencoded_crates() {
    let mut every_byte = String::new();
    for b in 0..=0x7f_u8 {
        every_byte.push(char::from(b));
    }
    for s in [every_byte.as_str(), "é☃ 𝄞 a+b=c&d", ""] {
        let mut ours = String::new();
        form_encode(&mut ours, s);
        let theirs: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
        assert_eq!(ours, theirs, "{s:?}");
    }
}

/// The request a dialect builds is the same through its parts and as an `http::Request`; its
/// `Debug` shows the method and URL only; `wipe_body` empties the body.
#[test]
fn auth_request_parts_and_http_agree() {
    let d = Dialect::vitalgraph("https://vg.example").unwrap();
    let mut refresh = d.refresh_request(&Secret::new(REFRESH)).unwrap();
    let shown = format!("{refresh:?}");
    assert!(shown.contains("https://vg.example/api/refresh"), "{shown}");
    assert!(!shown.contains(REFRESH), "{shown}");
    assert_eq!(refresh.method(), http::Method::POST);

    let http = refresh.clone().into_http().unwrap();
    assert_eq!(http.method(), http::Method::POST);
    assert_eq!(http.uri(), refresh.url());
    assert_eq!(&**http.body(), refresh.body());
    let listed: Vec<_> = refresh
        .header_list()
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let mapped: Vec<_> = http
        .headers()
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    assert_eq!(listed, mapped);
    assert!(http.headers()[AUTHORIZATION].is_sensitive());
    assert_eq!(refresh.headers(), *http.headers());

    assert!(body(&refresh).contains(REFRESH));
    refresh.wipe_body();
    assert!(refresh.body().is_empty());
}

/// An endpoint's extra header replaces the default of the same name, and an `Authorization`
/// the engine sets replaces the endpoint's.
#[test]
fn endpoint_headers_replace_defaults_and_lose_to_the_engines_authorization() {
    let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
    let refresh = d.refresh.as_mut().unwrap();
    refresh.headers = vec![
        (ACCEPT, HeaderValue::from_static("text/plain")),
        (AUTHORIZATION, HeaderValue::from_static("Basic x")),
        (ACCEPT, HeaderValue::from_static("application/json")),
    ];
    let r = d.refresh_request(&Secret::new(REFRESH)).unwrap();
    let names: Vec<_> = r.header_list().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-type", "accept", "accept", "authorization"]);
    assert_eq!(
        header(&r, "authorization"),
        Some(&*format!("Bearer {REFRESH}"))
    );
}
