//! The protected API and its RFC 6750 challenges.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{echo, header, login, login_with_expiry, refresh, start};

#[tokio::test]
async fn valid_token_reaches_every_route() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let r = c
        .get(format!("{}/api/echo?q=rust&n=2", s.url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["subject"], "admin");
    assert_eq!(v["query"], serde_json::json!({"q": "rust", "n": "2"}));
    let v: Value = c
        .get(format!("{}/api/spaces", s.url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total_count"], 2);
    let v: Value = c
        .get(format!("{}/api/slow?ms=20", s.url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["slept_ms"], 20);
    assert_eq!(s.counters().protected_ok, 3);
}

#[tokio::test]
async fn post_and_put_echo_the_body_and_content_type() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let body = br#"{"name":"replay me","bytes":[1,2,3]}"#.to_vec();
    for method in [reqwest::Method::POST, reqwest::Method::PUT] {
        let r = c
            .request(method.clone(), format!("{}/api/echo", s.url()))
            .bearer_auth(&at)
            .header("content-type", "application/vnd.test+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "content-type").as_deref(),
            Some("application/vnd.test+json")
        );
        assert_eq!(
            header(&r, "x-echo-method").as_deref(),
            Some(method.as_str())
        );
        assert_eq!(header(&r, "x-echo-subject").as_deref(), Some("admin"));
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    }
}

#[tokio::test]
async fn missing_token_gets_a_bare_bearer_challenge() {
    let (s, c) = start().await;
    let r = c.get(format!("{}/api/echo", s.url())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Bearer"));
    let r = echo(&c, &s, "garbage").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let h = header(&r, "www-authenticate").unwrap();
    assert!(
        h.starts_with("Bearer error=\"invalid_token\", error_description="),
        "{h}"
    );
    assert_eq!(s.counters().protected_unauthorized, 2);
}

#[tokio::test]
async fn expired_token_is_refused_with_invalid_token() {
    let (s, c) = start().await;
    let (at, rt) = login_with_expiry(&c, &s, Some("60")).await;
    let control = s.control();
    control.advance_clock(Duration::from_secs(59));
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    control.advance_clock(Duration::from_secs(1));
    let r = echo(&c, &s, &at).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let h = header(&r, "www-authenticate").unwrap();
    assert_eq!(
        h,
        "Bearer error=\"invalid_token\", error_description=\"token expired\""
    );
    // The refresh token still works, and its access token lives on the shifted clock.
    let v: Value = refresh(&c, &s, &rt).await.json().await.unwrap();
    let at2 = v["access_token"].as_str().unwrap();
    assert_eq!(echo(&c, &s, at2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_is_not_an_access_token() {
    let (s, c) = start().await;
    let (_, rt) = login(&c, &s).await;
    let r = echo(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn revoke_all_kills_every_issued_token() {
    let (s, c) = start().await;
    let (at, rt) = login(&c, &s).await;
    s.control().revoke_all();
    let r = echo(&c, &s, &at).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("token revoked")
    );
    assert_eq!(
        refresh(&c, &s, &rt).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (at2, _) = login(&c, &s).await;
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn random_401s_follow_the_seed() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let control = s.control();
    let mut runs = Vec::new();
    for _ in 0..2 {
        control.set_random_401_rate(0.5, 42);
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(echo(&c, &s, &at).await.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&401) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
    control.set_random_401_rate(1.0, 1);
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::UNAUTHORIZED);
    control.set_random_401_rate(0.0, 1);
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
}
