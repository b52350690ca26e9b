//! The RFC 6749 token endpoint.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use tokenkeeper_testserver::ServerConfig;

use crate::common::{echo, header, start, start_with, str_field, token_endpoint};

const PASSWORD: &[(&str, &str)] = &[
    ("grant_type", "password"),
    ("username", "admin"),
    ("password", "admin"),
    ("scope", "read write"),
];

#[tokio::test]
async fn password_grant_with_basic_client_auth() {
    let (s, c) = start().await;
    let r = token_endpoint(&c, &s, Some(("cli", "cli-secret")), PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&r, "pragma").as_deref(), Some("no-cache"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 1800);
    assert_eq!(v["scope"], "read write");
    assert!(v["refresh_token"].is_string());
    let at = str_field(&v, "access_token");
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!((n.logins_ok, n.token_endpoint_calls), (1, 1));
}

#[tokio::test]
async fn password_grant_with_client_credentials_in_the_body() {
    let (s, c) = start().await;
    let mut form = PASSWORD.to_vec();
    form.extend([("client_id", "cli"), ("client_secret", "cli-secret")]);
    let r = token_endpoint(&c, &s, None, &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A public client (no client authentication) may use the password grant too.
    assert_eq!(
        token_endpoint(&c, &s, None, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let (s, c) = start_with(ServerConfig::default().with_client("my client", "p@ss:word")).await;
    let creds = base64::engine::general_purpose::STANDARD.encode("my+client:p%40ss%3Aword");
    let r = c
        .post(format!("{}/oauth/token", s.url()))
        .header("authorization", format!("Basic {creds}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_grant_issues_no_refresh_token() {
    let (s, c) = start().await;
    let r = token_endpoint(
        &c,
        &s,
        Some(("cli", "cli-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    let r = echo(&c, &s, &str_field(&v, "access_token")).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["subject"], "cli");
    // Without client authentication it is refused.
    let r = token_endpoint(&c, &s, None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_grant_with_and_without_rotation() {
    let (s, c) = start().await;
    let v: Value = token_endpoint(&c, &s, Some(("cli", "cli-secret")), PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let rt = str_field(&v, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let r = token_endpoint(&c, &s, Some(("cli", "cli-secret")), &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    assert_eq!(v["scope"], "read write");

    s.control().set_rotation(true);
    let v: Value = token_endpoint(&c, &s, Some(("cli", "cli-secret")), &form)
        .await
        .json()
        .await
        .unwrap();
    let rt2 = str_field(&v, "refresh_token");
    let at2 = str_field(&v, "access_token");
    // The retired token again: invalid_grant, and the family is gone.
    let r = token_endpoint(&c, &s, Some(("cli", "cli-secret")), &form).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(echo(&c, &s, &at2).await.status(), StatusCode::UNAUTHORIZED);
    let form2 = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt2.as_str()),
    ];
    let r = token_endpoint(&c, &s, Some(("cli", "cli-secret")), &form2).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_accepted,
            n.refreshes_rejected,
            n.reuse_detections
        ),
        (2, 2, 1)
    );
}

#[tokio::test]
async fn bad_client_is_invalid_client_401() {
    let (s, c) = start().await;
    let r = token_endpoint(&c, &s, Some(("cli", "wrong")), PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").unwrap().starts_with("Basic"));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(v["error_description"].is_string());
    let mut form = PASSWORD.to_vec();
    form.extend([("client_id", "nobody"), ("client_secret", "x")]);
    let r = token_endpoint(&c, &s, None, &form).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.counters().logins_rejected, 2);
}

#[tokio::test]
async fn request_errors_follow_section_5_2() {
    let (s, c) = start().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("grant_type", "authorization_code"), ("code", "x")],
            "unsupported_grant_type",
        ),
        (&[("username", "admin")], "invalid_request"),
        (
            &[("grant_type", "password"), ("username", "admin")],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "bad"),
            ],
            "invalid_grant",
        ),
        (
            &[("grant_type", "refresh_token"), ("refresh_token", "junk")],
            "invalid_grant",
        ),
    ];
    for (form, want) in cases {
        let r = token_endpoint(&c, &s, Some(("cli", "cli-secret")), form).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], *want, "{form:?}");
    }
    assert_eq!(s.counters().token_endpoint_calls, cases.len() as u64);
}
