//! Bare-403 refusals (django-oauth-toolkit's `protected_resource`) and the preset that
//! reproduces django-oauth-toolkit's defaults.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokenkeeper_testserver::ServerConfig;

use crate::common::{echo, header, login, start, start_with, str_field, token_endpoint};

async fn assert_bare_403(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(header(&r, "www-authenticate").is_none());
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn bare_403_for_missing_invalid_expired_and_revoked_tokens() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    s.control().set_bare_403_refusals(true);
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    let missing = c.get(format!("{}/api/echo", s.url())).send().await.unwrap();
    assert_bare_403(missing).await;
    assert_bare_403(echo(&c, &s, "not-a-token").await).await;
    s.control().advance_clock(Duration::from_hours(1));
    assert_bare_403(echo(&c, &s, &at).await).await;
    let (fresh, _) = login(&c, &s).await;
    s.control().revoke_all();
    assert_bare_403(echo(&c, &s, &fresh).await).await;
    let n = s.counters();
    assert_eq!(
        (
            n.protected_ok,
            n.protected_forbidden,
            n.protected_unauthorized
        ),
        (1, 4, 0)
    );

    s.control().set_bare_403_refusals(false);
    let r = echo(&c, &s, &fresh).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(s.counters().protected_unauthorized, 1);
}

#[tokio::test]
async fn injected_random_401s_stay_401_with_bare_403_on() {
    let (s, c) = start_with(ServerConfig::default().with_bare_403_refusals(true)).await;
    let (at, _) = login(&c, &s).await;
    s.control().set_random_401_rate(1.0, 1);
    let r = echo(&c, &s, &at).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").is_some());
    let n = s.counters();
    assert_eq!((n.protected_unauthorized, n.protected_forbidden), (1, 0));
}

#[tokio::test]
async fn bare_403_over_http_and_reset_restores_the_start_up_style() {
    let (s, c) = start().await;
    let r = c
        .post(format!("{}/_control/faults", s.url()))
        .json(&json!({"bare_403_refusals": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_bare_403(echo(&c, &s, "x").await).await;
    c.post(format!("{}/_control/reset", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(echo(&c, &s, "x").await.status(), StatusCode::UNAUTHORIZED);

    let (s, c) = start_with(ServerConfig::default().with_bare_403_refusals(true)).await;
    s.control().set_bare_403_refusals(false);
    s.control().reset();
    assert_eq!(echo(&c, &s, "x").await.status(), StatusCode::FORBIDDEN);
}

/// django-oauth-toolkit's defaults: rotation, the old access token dies at refresh, a
/// retired refresh token is `invalid_grant` without killing the session, bare 403s.
#[tokio::test]
async fn the_django_oauth_toolkit_preset() {
    let (s, c) = start_with(ServerConfig::default().django_oauth_toolkit()).await;
    let basic = Some(("cli", "cli-secret"));
    let grant = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", "admin"),
    ];
    let v: Value = token_endpoint(&c, &s, basic, &grant)
        .await
        .json()
        .await
        .unwrap();
    let (at1, rt1) = (
        str_field(&v, "access_token"),
        str_field(&v, "refresh_token"),
    );
    let refresh = |rt: String| {
        let (c, s) = (&c, &s);
        async move {
            token_endpoint(
                c,
                s,
                basic,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let r = refresh(rt1.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let (at2, rt2) = (
        str_field(&v, "access_token"),
        str_field(&v, "refresh_token"),
    );
    assert_bare_403(echo(&c, &s, &at1).await).await;
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::OK);
    let r = refresh(rt1).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(
        echo(&c, &s, &at2).await.status(),
        StatusCode::OK,
        "no family revocation"
    );
    assert_eq!(refresh(rt2).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_accepted,
            n.refreshes_rejected,
            n.reuse_detections
        ),
        (2, 1, 0)
    );
    assert_eq!((n.protected_ok, n.protected_forbidden), (2, 1));
}
