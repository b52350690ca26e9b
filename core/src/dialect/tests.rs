//! Table tests of the dialects: exact bodies and headers, validation, redaction.
use super::*;

const PASSWORD: &str = "p&=+ %é☃-SECRET";
const PASSWORD_FORM: &str = "p%26%3D%2B+%25%C3%A9%E2%98%83-SECRET";
const REFRESH: &str = "refresh.token-SECRET";

fn alice() -> Credentials {
    Credentials::password("alice", PASSWORD)
}

fn header<'a>(r: &'a Request<Vec<u8>>, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

fn body(r: &Request<Vec<u8>>) -> &str {
    core::str::from_utf8(r.body()).unwrap()
}

fn basic(id: &str, secret: &str) -> ClientAuth {
    ClientAuth::Basic {
        client_id: id.into(),
        client_secret: Secret::new(secret),
    }
}

#[test]
fn vitalgraph_requests() {
    let d = Dialect::vitalgraph("https://vg.example").unwrap();
    assert_eq!(d.name, "vitalgraph");
    let login = d.login_request(&alice()).unwrap();
    assert_eq!(login.method(), Method::POST);
    assert_eq!(login.uri(), "https://vg.example/api/login");
    assert_eq!(
        header(&login, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&login, "accept"), Some("application/json"));
    assert_eq!(header(&login, "authorization"), None);
    assert_eq!(
        body(&login),
        format!("username=alice&password={PASSWORD_FORM}")
    );

    let refresh = d.refresh_request(&Secret::new(REFRESH)).unwrap();
    assert_eq!(refresh.method(), Method::POST);
    assert_eq!(refresh.uri(), "https://vg.example/api/refresh");
    assert_eq!(header(&refresh, "content-type"), Some("application/json"));
    assert_eq!(header(&refresh, "accept"), Some("application/json"));
    assert_eq!(
        header(&refresh, "authorization"),
        Some(format!("Bearer {REFRESH}").as_str())
    );
    assert!(refresh.headers()[AUTHORIZATION].is_sensitive());
    assert_eq!(
        body(&refresh),
        format!(r#"{{"refresh_token":"{REFRESH}"}}"#)
    );
    assert_eq!(refresh.headers().len(), 3);
    assert_eq!(d.origin().as_deref(), Some("https://vg.example"));
}

#[test]
fn vitalgraph_base_url_forms() {
    let table = [
        ("https://vg.example", "https://vg.example/api/login"),
        ("https://vg.example/", "https://vg.example/api/login"),
        ("https://vg.example//", "https://vg.example/api/login"),
        ("  https://vg.example/  ", "https://vg.example/api/login"),
        (
            "https://vg.example/prefix",
            "https://vg.example/prefix/api/login",
        ),
        (
            "https://vg.example/prefix/",
            "https://vg.example/prefix/api/login",
        ),
        ("http://localhost:8001", "http://localhost:8001/api/login"),
        ("http://[::1]:8001/", "http://[::1]:8001/api/login"),
    ];
    for (base, login) in table {
        let d = Dialect::vitalgraph(base).unwrap();
        assert_eq!(d.login.unwrap().url, login, "{base}");
        assert_eq!(
            d.refresh.unwrap().url,
            login.replace("/login", "/refresh").as_str(),
            "{base}"
        );
    }
}

#[test]
fn bad_urls_are_refused_without_echoing_userinfo() {
    let table = [
        ("", ""),
        ("not a url", "not a url"),
        ("vg.example", "vg.example"),
        ("/api", "/api"),
        ("ftp://vg.example", "ftp://vg.example"),
        ("https://", "https://"),
        ("https://vg.example?x=1", "https://vg.example?x=1"),
        ("https://vg.example/#frag", "https://vg.example/#frag"),
        (
            "https://admin:SECRET@vg.example",
            "https://[redacted]@vg.example",
        ),
    ];
    for (base, shown) in table {
        let err = Dialect::vitalgraph(base).unwrap_err();
        assert_eq!(err, ConfigError::InvalidUrl { url: shown.into() }, "{base}");
        assert!(!err.to_string().contains("SECRET"));
        if base.contains('?') {
            continue; // a token endpoint may have a query (RFC 6749 §3.2)
        }
        let err = Dialect::oauth2_password(base, ClientAuth::None, None).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidUrl { .. }),
            "{base}: {err:?}"
        );
        assert!(!err.to_string().contains("SECRET"));
    }
}

#[test]
fn vitalgraph_with_expiry_range() {
    let table = [
        (0, false),
        (1, true),
        (900, true),
        (1800, true),
        (1801, false),
        (u64::MAX, false),
    ];
    for (seconds, ok) in table {
        match Dialect::vitalgraph_with_expiry("https://vg.example", seconds) {
            Ok(d) => {
                assert!(ok, "{seconds} accepted");
                let login = d
                    .login_request(&Credentials::password("bob", "pw"))
                    .unwrap();
                assert_eq!(
                    body(&login),
                    format!("username=bob&password=pw&token_expiry_seconds={seconds}")
                );
            }
            Err(e) => {
                assert!(!ok, "{seconds} refused");
                assert_eq!(e, ConfigError::TokenExpiryOutOfRange { seconds });
            }
        }
    }
    // The range is checked before the URL.
    assert_eq!(
        Dialect::vitalgraph_with_expiry("garbage", 0),
        Err(ConfigError::TokenExpiryOutOfRange { seconds: 0 })
    );
    assert!(matches!(
        Dialect::vitalgraph_with_expiry("garbage", 60),
        Err(ConfigError::InvalidUrl { .. })
    ));
}

#[test]
fn oauth2_password_with_basic_client_auth() {
    // RFC 6749 §2.3.1 and §4.3.2 examples.
    let d = Dialect::oauth2_password(
        "https://server.example.com/token",
        basic("s6BhdRkqt3", "gX1fBat3bV"),
        Some("read write"),
    )
    .unwrap();
    assert_eq!(d.name, "oauth2-password");
    let login = d
        .login_request(&Credentials::password("johndoe", "A3ddj3w"))
        .unwrap();
    assert_eq!(login.uri(), "https://server.example.com/token");
    assert_eq!(
        header(&login, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&login, "accept"), Some("application/json"));
    assert_eq!(
        header(&login, "authorization"),
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW")
    );
    assert!(login.headers()[AUTHORIZATION].is_sensitive());
    assert_eq!(
        body(&login),
        "grant_type=password&username=johndoe&password=A3ddj3w&scope=read+write"
    );

    let refresh = d
        .refresh_request(&Secret::new("tGzv3JOkF0XG5Qx2TlKWIA"))
        .unwrap();
    assert_eq!(
        header(&refresh, "authorization"),
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW")
    );
    assert_eq!(
        header(&refresh, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        body(&refresh),
        "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&scope=read+write"
    );
}

#[test]
fn oauth2_password_with_body_client_auth_and_no_scope() {
    let client = ClientAuth::Body {
        client_id: "app".into(),
        client_secret: Some(Secret::new("s3cr&t")),
    };
    let d = Dialect::oauth2_password("https://as.example/oauth/token", client, None).unwrap();
    let login = d.login_request(&alice()).unwrap();
    assert_eq!(header(&login, "authorization"), None);
    assert_eq!(
        body(&login),
        format!(
            "grant_type=password&username=alice&password={PASSWORD_FORM}&client_id=app&client_secret=s3cr%26t"
        )
    );
    let refresh = d.refresh_request(&Secret::new("rt")).unwrap();
    assert_eq!(
        body(&refresh),
        "grant_type=refresh_token&refresh_token=rt&client_id=app&client_secret=s3cr%26t"
    );

    let public = ClientAuth::Body {
        client_id: "spa".into(),
        client_secret: None,
    };
    let d = Dialect::oauth2_password("https://as.example/token", public, Some("  ")).unwrap();
    assert_eq!(d.scope, None);
    let refresh = d.refresh_request(&Secret::new("rt")).unwrap();
    assert_eq!(
        body(&refresh),
        "grant_type=refresh_token&refresh_token=rt&client_id=spa"
    );
}

#[test]
fn oauth2_token_url_keeps_its_query() {
    // RFC 6749 §3.2: the endpoint URI may have a query, which must be retained.
    let url = "https://as.example/token?tenant=a%20b";
    let d = Dialect::oauth2_password(url, ClientAuth::None, None).unwrap();
    assert_eq!(d.login_request(&alice()).unwrap().uri(), url);
    assert_eq!(d.refresh_request(&Secret::new("rt")).unwrap().uri(), url);
    assert!(matches!(
        Dialect::oauth2_password("https://as.example/token#f", ClientAuth::None, None),
        Err(ConfigError::InvalidUrl { .. })
    ));
}

#[test]
fn oauth2_client_credentials_needs_no_user() {
    let d = Dialect::oauth2_client_credentials(
        "https://as.example/token",
        basic("svc", "pw"),
        Some("api"),
    )
    .unwrap();
    assert_eq!(d.name, "oauth2-client-credentials");
    assert!(d.can_login(&Credentials::none()));
    assert!(d.can_refresh());
    let login = d.login_request(&Credentials::none()).unwrap();
    assert_eq!(body(&login), "grant_type=client_credentials&scope=api");
    assert_eq!(header(&login, "authorization"), Some("Basic c3ZjOnB3"));
    let refresh = d.refresh_request(&Secret::new("rt")).unwrap();
    assert_eq!(
        body(&refresh),
        "grant_type=refresh_token&refresh_token=rt&scope=api"
    );
}

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
    assert_eq!(login.uri(), "https://id.example:8443/v2/session");
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
fn validate_urls_table() {
    let insecure = |u: &str| Err(ConfigError::InsecureUrl { url: u.into() });
    let invalid = |u: &str| Err(ConfigError::InvalidUrl { url: u.into() });
    // (login url, allow_insecure_http, expected)
    let table: Vec<(&str, bool, Result<(), ConfigError>)> = vec![
        ("https://as.example/token", false, Ok(())),
        ("HTTPS://AS.EXAMPLE/token", false, Ok(())),
        ("http://localhost/token", false, Ok(())),
        ("http://LOCALHOST:8080/token", false, Ok(())),
        ("http://localhost./token", false, Ok(())),
        ("http://127.0.0.1:3000/token", false, Ok(())),
        ("http://127.255.0.9/token", false, Ok(())),
        ("http://[::1]:3000/token", false, Ok(())),
        ("http://[::ffff:127.0.0.1]/token", false, Ok(())),
        (
            "http://as.example/token",
            false,
            insecure("http://as.example/token"),
        ),
        (
            "http://10.0.0.1/token",
            false,
            insecure("http://10.0.0.1/token"),
        ),
        (
            "http://128.0.0.1/token",
            false,
            insecure("http://128.0.0.1/token"),
        ),
        ("http://[::2]/token", false, insecure("http://[::2]/token")),
        (
            "http://localhost.evil.example/token",
            false,
            insecure("http://localhost.evil.example/token"),
        ),
        (
            "http://127.0.0.1.nip.io/token",
            false,
            insecure("http://127.0.0.1.nip.io/token"),
        ),
        ("http://as.example/token", true, Ok(())),
        (
            "ftp://as.example/token",
            false,
            invalid("ftp://as.example/token"),
        ),
        ("/token", false, invalid("/token")),
    ];
    for (url, allow, want) in table {
        let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
        d.login.as_mut().unwrap().url = url.parse().unwrap();
        assert_eq!(d.validate(allow), want, "{url} allow={allow}");
    }
    // The refresh endpoint is checked too.
    let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
    d.refresh.as_mut().unwrap().url = "http://vg.example/api/refresh".parse().unwrap();
    assert!(matches!(
        d.validate(false),
        Err(ConfigError::InsecureUrl { .. })
    ));
    // Userinfo in a hand-built URL is refused without being echoed.
    d.refresh.as_mut().unwrap().url = "https://u:SECRET@vg.example/api/refresh".parse().unwrap();
    let err = d.validate(true).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                field: "endpoint url",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("SECRET"));
    // No endpoints at all: nothing to check.
    let empty = Dialect {
        name: "external".into(),
        login: None,
        refresh: None,
        scope: None,
    };
    assert_eq!(empty.validate(false), Ok(()));
    assert_eq!(empty.origin(), None);
}

#[test]
fn validate_client_auth_table() {
    let body = |id: &str, secret: Option<&str>| ClientAuth::Body {
        client_id: id.into(),
        client_secret: secret.map(Secret::new),
    };
    let table: Vec<(ClientAuth, Result<(), ConfigError>)> = vec![
        (ClientAuth::None, Ok(())),
        (basic("id", "secret with spaces & symbols é"), Ok(())),
        (body("id", None), Ok(())),
        (
            basic("", "s"),
            Err(ConfigError::Invalid {
                field: "client_id",
                reason: "empty",
            }),
        ),
        (
            body("", None),
            Err(ConfigError::Invalid {
                field: "client_id",
                reason: "empty",
            }),
        ),
        (
            basic("i\nd", "s"),
            Err(ConfigError::InvalidHeaderValue { field: "client_id" }),
        ),
        (
            basic("id", "s\r\nX-Evil: 1"),
            Err(ConfigError::InvalidHeaderValue {
                field: "client_secret",
            }),
        ),
        (
            body("id", Some("s\0")),
            Err(ConfigError::InvalidHeaderValue {
                field: "client_secret",
            }),
        ),
    ];
    for (client, want) in table {
        let d = Dialect::oauth2_password("https://as.example/token", client.clone(), None).unwrap();
        assert_eq!(d.validate(false), want, "{client:?}");
    }
    let mut conflict = Dialect::vitalgraph("https://vg.example").unwrap();
    conflict.refresh.as_mut().unwrap().client_auth = basic("id", "s");
    assert!(matches!(
        conflict.validate(false),
        Err(ConfigError::Invalid {
            field: "client_auth",
            ..
        })
    ));
    let mut unnamed = Dialect::vitalgraph("https://vg.example").unwrap();
    unnamed
        .login
        .as_mut()
        .unwrap()
        .fields
        .push((String::new(), Field::Literal("x".into())));
    assert!(matches!(
        unnamed.validate(false),
        Err(ConfigError::Invalid {
            field: "fields",
            ..
        })
    ));
}

#[test]
fn origin_table() {
    let table = [
        (
            "https://Auth.Example.com/oauth/token",
            "https://auth.example.com",
        ),
        (
            "https://auth.example.com:443/token",
            "https://auth.example.com",
        ),
        (
            "https://auth.example.com:8443/token",
            "https://auth.example.com:8443",
        ),
        ("http://localhost:80/token", "http://localhost"),
        ("http://localhost:8001/token", "http://localhost:8001"),
        ("http://[::1]:8001/token", "http://[::1]:8001"),
        (
            "https://auth.example.com:80/token",
            "https://auth.example.com:80",
        ),
    ];
    for (url, origin) in table {
        let d = Dialect::oauth2_password(url, ClientAuth::None, None).unwrap();
        assert_eq!(d.origin().as_deref(), Some(origin), "{url}");
    }
    // Without a login endpoint, the refresh endpoint's origin.
    let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
    d.login = None;
    d.refresh.as_mut().unwrap().url = "https://refresh.example/r".parse().unwrap();
    assert_eq!(d.origin().as_deref(), Some("https://refresh.example"));
}

#[test]
fn debug_never_prints_secrets() {
    let creds = alice();
    let client = basic("app", "client-SECRET");
    let oauth =
        Dialect::oauth2_password("https://as.example/token", client.clone(), Some("s")).unwrap();
    let body_auth = ClientAuth::Body {
        client_id: "app".into(),
        client_secret: Some(Secret::new("body-SECRET")),
    };
    let vg = Dialect::vitalgraph("https://vg.example").unwrap();
    let refresh = vg.refresh_request(&Secret::new(REFRESH)).unwrap();
    let login = oauth.login_request(&creds).unwrap();
    let texts = [
        format!("{creds:?}"),
        format!("{client:?}"),
        format!("{body_auth:?}"),
        format!("{oauth:?}"),
        format!("{vg:?}"),
        format!("{:?}", refresh.headers()),
        format!("{:?}", login.headers()),
    ];
    for text in &texts {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains("p&="), "{text}");
    }
    assert!(
        texts[0].contains("alice"),
        "the username is shown: {}",
        texts[0]
    );
}

#[test]
fn redact_userinfo_table() {
    let table = [
        ("https://u:p@host/x", "https://[redacted]@host/x"),
        ("https://u@host", "https://[redacted]@host"),
        ("https://host/x@y", "https://host/x@y"),
        ("https://host?q=a@b", "https://host?q=a@b"),
        ("u:p@host", "[redacted]@host"),
        ("https://host", "https://host"),
        ("", ""),
    ];
    for (url, want) in table {
        assert_eq!(redact_userinfo(url), want);
    }
}

/// The hand-written address readers against `core::net`'s parsers.
fn agrees_with_core_net(s: &str) {
    use core::net::{Ipv4Addr, Ipv6Addr};
    assert_eq!(
        ipv4(s),
        s.parse::<Ipv4Addr>().ok().map(|a| a.octets()),
        "v4 {s}"
    );
    assert_eq!(
        ipv6(s),
        s.parse::<Ipv6Addr>().ok().map(|a| a.segments()),
        "v6 {s}"
    );
    let std_loopback = s.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || s.parse::<Ipv6Addr>().is_ok_and(|a| {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    assert_eq!(
        is_loopback(s),
        std_loopback || s.eq_ignore_ascii_case("localhost"),
        "{s}"
    );
}

#[test]
fn loopback_addresses_read_as_core_net_reads_them() {
    for s in [
        "127.0.0.1",
        "127.255.255.255",
        "127.0.0.01",
        "127.0.0.256",
        "127.0.0",
        "127.0.0.1.1",
        "0127.0.0.1",
        "127.0.0.+1",
        "::1",
        "0:0:0:0:0:0:0:1",
        "0000:0000::0001",
        "::0:1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::FFFF:127.1.2.3",
        "0:0:0:0:0:ffff:127.0.0.1",
        "::ffff:128.0.0.1",
        "::127.0.0.1",
        "1.2.3.4::",
        "::1::",
        ":::1",
        "1:2:3:4:5:6:7::8",
        "1:2:3:4:5:6::8",
        "1:2:3:4:5:6:7:8:9",
        "::00001",
        "::",
        "",
        "localhost",
        "::1:2:3:4:5:6:1.2.3.4",
        "::1:2:3:4:5:1.2.3.4",
    ] {
        agrees_with_core_net(s);
    }
}

proptest::proptest! {
    #[test]
    fn address_readers_agree_with_core_net(s in "[0-9a-fA-F:.]{0,24}") {
        agrees_with_core_net(&s);
    }

    #[test]
    fn dotted_quads_agree_with_core_net(s in "(0|1|12|127|255|256|01)(\\.(0|1|25|255|256|00|009)){2,4}") {
        agrees_with_core_net(&s);
    }
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
