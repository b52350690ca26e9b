//! The built-in dialects: exact bodies and headers of VitalGraph and OAuth 2.0 requests, their
//! origins, and redaction in `Debug`.

use super::*;
use http::Method;

#[test]
fn vitalgraph_requests() {
    let d = Dialect::vitalgraph("https://vg.example").unwrap();
    assert_eq!(d.name, "vitalgraph");
    let login = d.login_request(&alice()).unwrap();
    assert_eq!(login.method(), Method::POST);
    assert_eq!(login.url(), "https://vg.example/api/login");
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
    assert_eq!(refresh.url(), "https://vg.example/api/refresh");
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
    assert_eq!(login.url(), "https://server.example.com/token");
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
    assert_eq!(d.login_request(&alice()).unwrap().url(), url);
    assert_eq!(d.refresh_request(&Secret::new("rt")).unwrap().url(), url);
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
