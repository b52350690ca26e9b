//! The `/_control` endpoints, `/health`, and CORS, as JS and browser tests use them.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokenkeeper_testserver::{Counters, ServerConfig, TestServer};

use crate::common::{echo, header, login, login_with_expiry, refresh, start, start_with};

async fn faults(c: &Client, s: &TestServer, body: &Value) -> reqwest::Response {
    c.post(format!("{}/_control/faults", s.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn counters(c: &Client, s: &TestServer) -> Counters {
    c.get(format!("{}/_control/counters", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_answers() {
    let (s, c) = start().await;
    let v: Value = c
        .get(format!("{}/health", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"status": "ok"}));
}

#[tokio::test]
async fn faults_reset_and_counters_over_http() {
    let (s, c) = start().await;
    let (_, rt) = login(&c, &s).await;
    let r = faults(
        &c,
        &s,
        &json!({"fail_next_refreshes": {"count": 1, "status": 503, "retry_after": 1}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = refresh(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("1"));
    let n = counters(&c, &s).await;
    assert_eq!(n, s.counters());
    assert_eq!((n.logins_ok, n.refreshes_faulted), (1, 1));

    faults(
        &c,
        &s,
        &json!({"fail_next_refreshes": {"count": 5}, "drop_next_connections": 3}),
    )
    .await;
    let r = c
        .post(format!("{}/_control/reset", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(counters(&c, &s).await, Counters::default());
    assert_eq!(refresh(&c, &s, &rt).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_fault_requests_are_400_and_change_nothing() {
    let (s, c) = start().await;
    for body in [
        json!({"no_such_fault": 1}),
        json!({"fail_next_logins": {"count": 1}, "random_401_rate": 2.0}),
        json!({"fail_next_logins": {"count": 1, "retry_after": "tomorrow"}}),
    ] {
        let r = faults(&c, &s, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    login(&c, &s).await;
}

#[tokio::test]
async fn settings_over_http() {
    let (s, c) = start().await;
    faults(&c, &s, &json!({"rotation": true, "access_ttl_secs": 2})).await;
    let r = c
        .post(format!("{}/api/login", s.url()))
        .form(&[("username", "admin"), ("password", "admin")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 2);
    let rt = v["refresh_token"].as_str().unwrap();
    let v: Value = refresh(&c, &s, rt).await.json().await.unwrap();
    assert!(v["refresh_token"].is_string(), "rotation on: {v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    faults(&c, &s, &json!({"advance_clock_ms": 2000})).await;
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::UNAUTHORIZED);
    // Reset restores the start-up settings (and the clock).
    c.post(format!("{}/_control/reset", s.url()))
        .send()
        .await
        .unwrap();
    let (_, rt) = login_with_expiry(&c, &s, None).await;
    let v: Value = refresh(&c, &s, &rt).await.json().await.unwrap();
    assert_eq!(v["expires_in"], 1800);
    assert!(v.get("refresh_token").is_none());
}

#[tokio::test]
async fn revoke_all_over_http() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    c.post(format!("{}/_control/revoke-all", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let (s, c) = start().await;
    let r = c
        .request(reqwest::Method::OPTIONS, format!("{}/api/refresh", s.url()))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&r, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let methods = header(&r, "access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let r = c
        .get(format!("{}/api/echo", s.url()))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("retry-after"),
        "{exposed}"
    );
}

#[tokio::test]
async fn cors_can_be_turned_off() {
    let (s, c) = start_with(ServerConfig::default().with_cors(false)).await;
    let r = c
        .get(format!("{}/health", s.url()))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
}
