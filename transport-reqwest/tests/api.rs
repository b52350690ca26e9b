//! The public surface without a server: thread-safety of every handle and future, builder
//! refusals, and requests to origins outside the keeper's care. The HTTP scenarios live in
//! `tests/tests/reqwest_*.rs` (package `tokenkeeper-testserver`), against the reference
//! server.

// `Config` is non-exhaustive: it can only be changed field by field.
#![allow(clippy::field_reassign_with_default)]

use tokenkeeper_reqwest::{
    Client, Credentials, Dialect, Error, Keeper, KeeperBuilder, Middleware, RequestBuilder,
    blocking,
};

fn assert_send_sync<T: Send + Sync + 'static>() {}
fn assert_send<T: Send>(_: &T) {}
fn assert_static<T: Send + 'static>(_: &T) {}

fn keeper() -> Keeper {
    Keeper::builder(Dialect::vitalgraph("http://127.0.0.1:9").unwrap())
        .credentials(Credentials::password("u", "p"))
        .build()
        .unwrap()
}

#[test]
fn handles_are_send_and_sync_and_futures_are_send() {
    assert_send_sync::<Keeper>();
    assert_send_sync::<Client>();
    assert_send_sync::<Middleware>();
    assert_send_sync::<blocking::Client>();
    assert_send_sync::<Error>();
    assert_send_sync::<KeeperBuilder>();
    assert_send::<RequestBuilder>(&keeper().client().get("http://127.0.0.1:9/"));
    let keeper = keeper();
    let client = keeper.client();
    assert_send(&client.get("http://127.0.0.1:9/").send());
    assert_send(&keeper.login());
    // A builder borrows its client; an owned one (and its future) can go anywhere.
    let owned = client.get("http://127.0.0.1:9/").into_owned();
    assert_static(&owned);
    assert_static(&owned.send());
}

#[test]
fn the_builder_refuses_bad_settings_before_sending() {
    let e = Keeper::builder(Dialect::vitalgraph("http://auth.example.com").unwrap())
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Config(tokenkeeper_reqwest::core::ConfigError::InsecureUrl { .. })
    ));
    let e = Keeper::builder(Dialect::vitalgraph("https://auth.example.com").unwrap())
        .allow_origin("/relative")
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Config(tokenkeeper_reqwest::core::ConfigError::InvalidUrl { .. })
    ));
    let mut config = tokenkeeper_reqwest::Config::default();
    config.max_refresh_attempts = 0;
    let e = Keeper::builder(Dialect::vitalgraph("https://auth.example.com").unwrap())
        .config(config)
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid max_refresh_attempts: must be at least 1"
    );
    // Asking for credentials needs someone to ask: this driver has no provider.
    let mut config = tokenkeeper_reqwest::Config::default();
    config.ask_for_credentials = true;
    let e = Keeper::builder(Dialect::vitalgraph("https://auth.example.com").unwrap())
        .config(config)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().starts_with("invalid ask_for_credentials: "),
        "{e}"
    );
}

#[test]
fn origins_are_the_dialects_plus_those_allowed() {
    let keeper = Keeper::builder(Dialect::vitalgraph("https://auth.example.com").unwrap())
        .allow_origin("https://api.example.com:8443")
        .build()
        .unwrap();
    let allows = |u: &str| keeper.allows_origin(&u.parse().unwrap());
    assert!(allows("https://auth.example.com/api/spaces"));
    assert!(allows("https://AUTH.example.com:443/x"));
    assert!(allows("https://api.example.com:8443/x?y=1"));
    assert!(!allows("http://auth.example.com/api/spaces"));
    assert!(!allows("https://api.example.com/x"));
    assert!(!allows("https://evil.example.com/"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_elsewhere_never_involves_the_engine() {
    let keeper = keeper();
    // Port 9 (discard) is not listening: reqwest's own error comes back untouched.
    let e = keeper
        .client()
        .get("http://127.0.0.2:9/")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Http(r) if r.is_connect()), "{e:?}");
    // The same from a spawned task, with a builder that owns a clone of the client.
    let request = keeper.client().get("http://127.0.0.2:9/").into_owned();
    let e = tokio::spawn(request.send()).await.unwrap().unwrap_err();
    assert!(matches!(&e, Error::Http(r) if r.is_connect()), "{e:?}");
    let m = keeper.metrics();
    assert_eq!((m.requests, m.logins, m.login_failures), (0, 0, 0));
    assert!(keeper.tokens().is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_auth_endpoint_fails_typed_after_its_retries() {
    let mut config = tokenkeeper_reqwest::Config::default();
    config.max_refresh_attempts = 2;
    config.auth_backoff.base = std::time::Duration::from_millis(5);
    config.auth_backoff.cap = std::time::Duration::from_millis(10);
    let keeper = Keeper::builder(Dialect::vitalgraph("http://127.0.0.1:9").unwrap())
        .credentials(Credentials::password("u", "p"))
        .config(config)
        .build()
        .unwrap();
    let e = keeper
        .client()
        .get("http://127.0.0.1:9/api/spaces")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.engine(),
            Some(tokenkeeper_reqwest::core::Error::AuthUnavailable {
                status: None,
                attempts: 2,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(keeper.metrics().login_failures, 2);
}
