//! The recorder (fallback and `/_record/*`), and two servers as two loopback origins.

use std::net::{Ipv4Addr, SocketAddr};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokenkeeper_testserver::{Recorded, ServerConfig, TestServer};

use crate::common::{header, start};

async fn recorded_over_http(c: &reqwest::Client, s: &TestServer) -> Vec<Recorded> {
    c.get(format!("{}/_control/recorded", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn unmatched_requests_and_record_paths_are_answered_and_recorded() {
    let (s, c) = start().await;
    let r = c
        .get(format!("{}/steal/me?token=no&x=1", s.url()))
        .bearer_auth("secret-access-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"recorded": true}));
    let r = c
        .request(Method::PATCH, format!("{}/_record/a/b", s.url()))
        .basic_auth("id", Some("pw"))
        .body("ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    c.delete(format!("{}/_record", s.url()))
        .header("authorization", "lonelytoken")
        .send()
        .await
        .unwrap();
    c.post(format!("{}/elsewhere", s.url()))
        .send()
        .await
        .unwrap();

    let list = s.control().recorded();
    assert_eq!(recorded_over_http(&c, &s).await, list);
    let seen: Vec<_> = list
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.authorization,
                r.scheme.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "/steal/me?token=no&x=1", true, Some("Bearer")),
            ("PATCH", "/_record/a/b", true, Some("Basic")),
            ("DELETE", "/_record", true, None),
            ("POST", "/elsewhere", false, None),
        ]
    );
    // The credential itself is never kept.
    let raw = c
        .get(format!("{}/_control/recorded", s.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in ["secret-access-token", "lonelytoken", "aWQ6cHc"] {
        assert!(!raw.contains(secret), "{raw}");
    }
    assert_eq!(s.counters().recorded_requests, 4);
    // Known routes are not recorded.
    c.get(format!("{}/health", s.url())).send().await.unwrap();
    assert_eq!(s.control().recorded().len(), 4);
}

#[tokio::test]
async fn reset_clears_the_recorder() {
    let (s, c) = start().await;
    c.get(format!("{}/x", s.url())).send().await.unwrap();
    assert_eq!(s.control().recorded().len(), 1);
    c.post(format!("{}/_control/reset", s.url()))
        .send()
        .await
        .unwrap();
    assert!(recorded_over_http(&c, &s).await.is_empty());
    assert_eq!(s.counters().recorded_requests, 0);
    c.get(format!("{}/y", s.url())).send().await.unwrap();
    s.control().reset_recorded();
    assert!(s.control().recorded().is_empty());
}

/// A page served by one loopback origin sends a request with `Authorization` to a second
/// server on 127.0.0.2: the preflight lets it, and the second server records it.
#[tokio::test]
async fn a_second_origin_on_127_0_0_2_accepts_a_cross_origin_authorized_request() {
    let (page, c) = start().await;
    let other = TestServer::start_on(
        SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), 0)),
        ServerConfig::default(),
    )
    .await
    .expect("127.0.0.2 is loopback");
    assert!(
        other.url().starts_with("http://127.0.0.2:"),
        "{}",
        other.url()
    );
    let origin = page.url();
    let target = format!("{}/api/data?id=7", other.url());

    let pre = c
        .request(Method::OPTIONS, &target)
        .header("origin", &origin)
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "authorization,x-custom")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        header(&pre, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&pre, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("x-custom"),
        "{allowed}"
    );
    assert!(
        header(&pre, "access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert!(
        other.control().recorded().is_empty(),
        "preflights are not recorded"
    );

    let r = c
        .request(Method::PATCH, &target)
        .header("origin", &origin)
        .bearer_auth("leaked")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let list = other.control().recorded();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].path, "/api/data?id=7");
    assert_eq!(list[0].scheme.as_deref(), Some("Bearer"));
    assert_eq!(list[0].origin.as_deref(), Some(origin.as_str()));
    assert!(page.control().recorded().is_empty());
}
