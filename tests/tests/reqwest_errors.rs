//! Every error the driver produces, formatted every way (`Display`, `Debug`, the `source()`
//! chain): typed, lower-case, and never holding a token or a password.

mod reqwest_support;

use std::time::Duration;

use reqwest_support::{
    PASSWORD, USER, builder, default_server, describe, echo, keeper_with, secrets_of, warm_up,
};
use tokenkeeper_core::Error as EngineError;
use tokenkeeper_reqwest::{Config, Credentials, Dialect, Error, Keeper};
use tokenkeeper_testserver::RouteKind;

/// Checks one error: matches `expected`, is lower-case, leaks none of `secrets`.
fn check(err: &Error, expected: fn(&Error) -> bool, secrets: &[String]) {
    assert!(expected(err), "unexpected error {err:?}");
    let display = err.to_string();
    assert!(
        !display.starts_with(char::is_uppercase),
        "not lower-case: {display}"
    );
    reqwest_support::assert_no_secret(&describe(err), secrets);
}

fn fast_resends() -> Config {
    let mut config = Config::default();
    config.resend_backoff.base = Duration::from_millis(5);
    config.resend_backoff.cap = Duration::from_millis(20);
    config.auth_backoff.base = Duration::from_millis(5);
    config.auth_backoff.cap = Duration::from_millis(20);
    config.max_refresh_attempts = 2;
    config
}

async fn get(keeper: &Keeper, url: String) -> Error {
    keeper.client().get(url).send().await.expect_err("fails")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_typed_lower_case_and_secret_free() {
    let server = default_server().await;
    let control = server.control();
    let keeper = keeper_with(&server, fast_resends());
    warm_up(&keeper, &server).await;
    // Every token this test ever sees, plus the password.
    let mut secrets = secrets_of(&keeper);
    let mut errors = 0;

    // Invalid credentials.
    let wrong = builder(&server)
        .credentials(Credentials::password(USER, "wrong-5f0c"))
        .build()
        .unwrap();
    let e = get(&wrong, echo(&server)).await;
    secrets.push("wrong-5f0c".into());
    check(&e, Error::is_invalid_credentials, &secrets);
    errors += 1;

    // A POST that may have run: transport error with the reqwest source.
    control.drop_next_connections(1, RouteKind::Protected);
    let e = keeper
        .client()
        .post(echo(&server))
        .body("x")
        .send()
        .await
        .unwrap_err();
    check(
        &e,
        |e| {
            matches!(
                e,
                Error::Transport {
                    engine: EngineError::Transport {
                        may_have_reached_server: true,
                        ..
                    },
                    ..
                }
            )
        },
        &secrets,
    );
    errors += 1;

    // An allowed origin that refuses connections: resent, then a transport error.
    let closed = closed_port().await;
    let k = builder(&server)
        .config(fast_resends())
        .allow_origin(format!("http://127.0.0.1:{closed}"))
        .build()
        .unwrap();
    let e = get(&k, format!("http://127.0.0.1:{closed}/api/echo")).await;
    secrets.extend(secrets_of(&k));
    check(
        &e,
        |e| matches!(e, Error::Transport { engine: EngineError::Transport { may_have_reached_server: false, attempts: 4, stopped: tokenkeeper_core::TransportStop::ResendLimit }, source } if source.is_connect()),
        &secrets,
    );
    errors += 1;

    // An origin outside the keeper's care: reqwest's own error.
    let e = get(&keeper, format!("http://127.0.0.1:{closed}/elsewhere")).await;
    check(
        &e,
        |e| matches!(e, Error::Http(s) if s.is_connect()),
        &secrets,
    );
    errors += 1;

    // The auth endpoint stays unavailable.
    control.fail_next_refreshes(5, 503, None);
    reqwest_support::expire_locally(&keeper);
    let e = get(&keeper, echo(&server)).await;
    check(
        &e,
        |e| {
            matches!(
                e.engine(),
                Some(EngineError::AuthUnavailable {
                    status: Some(503),
                    attempts: 2,
                    ..
                })
            )
        },
        &secrets,
    );
    errors += 1;
    control.reset_faults();

    // The auth endpoint refuses the refresh for another reason.
    let k = keeper_with(&server, fast_resends());
    warm_up(&k, &server).await;
    secrets.extend(secrets_of(&k));
    control.fail_next_refreshes(1, 403, None);
    reqwest_support::expire_locally(&k);
    let e = get(&k, echo(&server)).await;
    check(
        &e,
        |e| {
            matches!(
                e.engine(),
                Some(EngineError::AuthRejected { status: 403, .. })
            )
        },
        &secrets,
    );
    errors += 1;

    // A token response without a token.
    let k = keeper_with(&server, fast_resends());
    warm_up(&k, &server).await;
    secrets.extend(secrets_of(&k));
    control.fail_next_refreshes(1, 200, None);
    reqwest_support::expire_locally(&k);
    let e = get(&k, echo(&server)).await;
    check(
        &e,
        |e| matches!(e.engine(), Some(EngineError::InvalidAuthResponse(_))),
        &secrets,
    );
    errors += 1;

    // A fresh token refused again, with the "fail" policy.
    let mut config = fast_resends();
    config.second_rejection = tokenkeeper_core::SecondRejection::Fail;
    let k = keeper_with(&server, config);
    warm_up(&k, &server).await;
    secrets.extend(secrets_of(&k));
    control.set_random_401_rate(1.0, 1);
    let e = get(&k, echo(&server)).await;
    secrets.extend(secrets_of(&k));
    check(
        &e,
        |e| matches!(e.engine(), Some(EngineError::Unauthorized { status: 401 })),
        &secrets,
    );
    errors += 1;
    control.reset_faults();

    // Tokens only, no credentials: after logout the session is over.
    let k = Keeper::builder(Dialect::vitalgraph(&server.url()).unwrap())
        .build()
        .unwrap();
    k.set_tokens(keeper.tokens().unwrap()).unwrap();
    assert_eq!(
        k.client().get(echo(&server)).send().await.unwrap().status(),
        200
    );
    k.logout();
    let e = get(&k, echo(&server)).await;
    check(&e, Error::is_session_expired, &secrets);
    errors += 1;

    // Configuration refused before anything is sent.
    let e: Error = Dialect::vitalgraph_with_expiry(&server.url(), 0)
        .unwrap_err()
        .into();
    check(&e, |e| matches!(e, Error::Config(_)), &secrets);
    let e = builder(&server)
        .allow_origin("not a url")
        .build()
        .unwrap_err();
    check(
        &e,
        |e| {
            matches!(
                e,
                Error::Config(tokenkeeper_core::ConfigError::InvalidUrl { .. })
            )
        },
        &secrets,
    );
    errors += 2;

    // Nothing else leaks either: the keeper, its builder, its tokens.
    let text = format!(
        "{keeper:?} {:?} {:?} {:?}",
        builder(&server),
        keeper.tokens(),
        keeper.metrics()
    );
    reqwest_support::assert_no_secret(&text, &secrets);
    assert!(!text.contains(PASSWORD));
    assert_eq!(errors, 11);
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_token_endpoint_elsewhere_is_refused() {
    let e = Keeper::builder(Dialect::vitalgraph("http://auth.example.com").unwrap())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(tokenkeeper_core::ConfigError::InsecureUrl { .. })
        ),
        "{e:?}"
    );
}
