//! VitalGraph's `/api/login` and `/api/refresh`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokenkeeper_testserver::{Counters, ServerConfig};

use crate::common::{
    echo, header, login, login_form, login_with_expiry, refresh, start, start_with, str_field,
};

#[tokio::test]
async fn login_answers_the_vitalgraph_shape() {
    let (s, c) = start().await;
    let r = login_form(&c, &s, &[("username", "admin"), ("password", "admin")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let v: Value = r.json().await.unwrap();
    for f in [
        "access_token",
        "refresh_token",
        "username",
        "full_name",
        "email",
        "profile_image",
        "role",
    ] {
        assert!(v[f].is_string(), "{f} missing in {v}");
    }
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 1800);
    assert_eq!(v["username"], "admin");
    assert_eq!(
        s.counters(),
        Counters {
            logins_ok: 1,
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn bad_password_is_401_before_the_expiry_is_checked() {
    let (s, c) = start().await;
    let r = login_form(
        &c,
        &s,
        &[
            ("username", "admin"),
            ("password", "wrong"),
            ("token_expiry_seconds", "0"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Bearer"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"detail": "Incorrect username or password"})
    );
    let r = login_form(&c, &s, &[("username", "nobody"), ("password", "admin")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.counters().logins_rejected, 2);
}

#[tokio::test]
async fn token_expiry_seconds_must_be_1_to_1800() {
    let (s, c) = start().await;
    for bad in ["0", "1801", "-5", "abc", "1.5", ""] {
        let r = login_form(
            &c,
            &s,
            &[
                ("username", "admin"),
                ("password", "admin"),
                ("token_expiry_seconds", bad),
            ],
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "token_expiry_seconds={bad:?}"
        );
        let v: Value = r.json().await.unwrap();
        assert!(v["detail"].is_string());
    }
    for (ok, want) in [("1", 1), ("1800", 1800)] {
        let r = login_form(
            &c,
            &s,
            &[
                ("username", "admin"),
                ("password", "admin"),
                ("token_expiry_seconds", ok),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["expires_in"], want);
    }
}

#[tokio::test]
async fn login_without_form_body_is_422() {
    let (s, c) = start().await;
    let r = c
        .post(format!("{}/api/login", s.url()))
        .json(&serde_json::json!({"username": "admin", "password": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let (s, c) = start().await;
    let (_, rt) = login(&c, &s).await;
    for _ in 0..2 {
        let r = refresh(&c, &s, &rt).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert!(v.get("refresh_token").is_none(), "no rotation: {v}");
        assert_eq!(v["token_type"], "bearer");
        assert_eq!(v["expires_in"], 1800);
        let at = str_field(&v, "access_token");
        assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    }
    assert_eq!(s.counters().refreshes_accepted, 2);
}

#[tokio::test]
async fn refresh_keeps_the_lifetime_the_login_asked_for() {
    let (s, c) = start().await;
    let (_, rt) = login_with_expiry(&c, &s, Some("7")).await;
    let v: Value = refresh(&c, &s, &rt).await.json().await.unwrap();
    assert_eq!(v["expires_in"], 7);
}

#[tokio::test]
async fn access_token_as_bearer_on_refresh_is_401() {
    let (s, c) = start().await;
    let (at, rt) = login(&c, &s).await;
    let r = c
        .post(format!("{}/api/refresh", s.url()))
        .bearer_auth(&at)
        .json(&serde_json::json!({ "refresh_token": rt }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert!(v["detail"].is_string());
    // The access token in both places is no better.
    assert_eq!(
        refresh(&c, &s, &at).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Neither is a missing header.
    let r = c
        .post(format!("{}/api/refresh", s.url()))
        .json(&serde_json::json!({ "refresh_token": rt }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.counters().refreshes_rejected, 3);
    assert_eq!(s.counters().refreshes_accepted, 0);
}

#[tokio::test]
async fn expired_or_garbage_refresh_token_is_invalid() {
    let (s, c) =
        start_with(ServerConfig::default().with_refresh_ttl(Duration::from_mins(10))).await;
    let (_, rt) = login(&c, &s).await;
    let r = refresh(&c, &s, "not.a.token").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.control().advance_clock(Duration::from_mins(10));
    let r = refresh(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"], "Invalid refresh token");
}

#[tokio::test]
async fn rotation_reuse_revokes_the_whole_family() {
    let (s, c) = start_with(ServerConfig::default().with_rotation(true)).await;
    let (at1, rt1) = login(&c, &s).await;
    let v: Value = refresh(&c, &s, &rt1).await.json().await.unwrap();
    let (at2, rt2) = (
        str_field(&v, "access_token"),
        str_field(&v, "refresh_token"),
    );
    assert_ne!(rt1, rt2);
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::OK);
    // Reusing the retired refresh token: refused, and the family dies.
    let r = refresh(&c, &s, &rt1).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echo(&c, &s, &at1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&c, &s, &rt2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_accepted,
            n.refreshes_rejected,
            n.reuse_detections
        ),
        (1, 2, 1)
    );
    // Another session is untouched.
    let (at3, _) = login(&c, &s).await;
    assert_eq!(echo(&c, &s, &at3).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoke_access_on_rotation_kills_the_previous_access_token() {
    let (s, c) = start_with(ServerConfig::default().with_revoke_access_on_rotation(true)).await;
    let (at1, rt) = login(&c, &s).await;
    let v: Value = refresh(&c, &s, &rt).await.json().await.unwrap();
    let at2 = str_field(&v, "access_token");
    assert_eq!(echo(&c, &s, &at1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::OK);
}
