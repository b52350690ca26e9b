//! Scripted answers on the login and refresh routes (VitalGraph and `/oauth/token`): what
//! a client sees, byte for byte where it matters.

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt as _;
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use tokenkeeper_testserver::{Answer, Body, Rewrite, RouteKind, Times};

use crate::common::{echo, header, login, login_form, refresh, start, str_field, token_endpoint};

const ADMIN: [(&str, &str); 2] = [("username", "admin"), ("password", "admin")];

fn no_redirects() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn status_headers_and_a_literal_body_replace_the_refresh() {
    let (s, c) = start().await;
    let (_, rt) = login(&c, &s).await;
    s.control()
        .script(
            RouteKind::Refresh,
            Times::Next(1),
            Answer::new(302)
                .header("location", "http://127.0.0.2:9/steal")
                .header("retry-after", "soon-ish")
                .header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
                .header("x-twice", "1")
                .header("x-twice", "2")
                .body(Body::Text("<html>moved</html>".into())),
        )
        .unwrap();
    let r = no_redirects()
        .post(format!("{}/api/refresh", s.url()))
        .bearer_auth(&rt)
        .json(&json!({ "refresh_token": rt }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        header(&r, "location").as_deref(),
        Some("http://127.0.0.2:9/steal")
    );
    assert_eq!(header(&r, "retry-after").as_deref(), Some("soon-ish"));
    assert_eq!(
        header(&r, "date").as_deref(),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&r, "content-length").as_deref(), Some("18"));
    assert!(
        header(&r, "cache-control").is_none(),
        "exactly what was scripted"
    );
    let twice: Vec<_> = r.headers().get_all("x-twice").iter().collect();
    assert_eq!(twice, ["1", "2"]);
    assert_eq!(r.text().await.unwrap(), "<html>moved</html>");
    // One request only: the next refresh is real.
    assert_eq!(refresh(&c, &s, &rt).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_scripted,
            n.refreshes_accepted,
            n.refreshes_faulted
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn bytes_json_and_no_content_type() {
    let (s, c) = start().await;
    let ctl = s.control();
    let raw = vec![0xff, 0x00, 0xfe, b'{'];
    ctl.script(
        RouteKind::Login,
        Times::Next(1),
        Answer::new(200).body(Body::Bytes(raw.clone())),
    )
    .unwrap();
    ctl.script(
        RouteKind::Login,
        Times::Next(1),
        Answer::new(200)
            .body(Body::Json(json!({"access_token": 42})))
            .without_header("content-type"),
    )
    .unwrap();
    let r = login_form(&c, &s, &ADMIN).await;
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_slice());
    let r = login_form(&c, &s, &ADMIN).await;
    assert!(header(&r, "content-type").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"access_token": 42})
    );
    assert_eq!(s.counters().logins_scripted, 2);
    assert_eq!(s.counters().logins_ok, 0);
}

#[tokio::test]
async fn next_n_then_real_and_always_until_reset() {
    let (s, c) = start().await;
    let ctl = s.control();
    ctl.script(RouteKind::Login, Times::Next(2), Answer::new(500))
        .unwrap();
    let got: Vec<u16> = futures::future::join_all((0..3).map(|_| login_form(&c, &s, &ADMIN)))
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(got.iter().filter(|s| **s == 500).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|s| **s == 200).count(), 1, "{got:?}");

    ctl.script(RouteKind::Any, Times::Always, Answer::new(418))
        .unwrap();
    for _ in 0..3 {
        assert_eq!(login_form(&c, &s, &ADMIN).await.status(), 418);
    }
    ctl.reset_faults();
    assert_eq!(login_form(&c, &s, &ADMIN).await.status(), StatusCode::OK);
    let n = s.counters();
    assert_eq!((n.logins_scripted, n.logins_ok), (5, 2));
}

#[tokio::test]
async fn the_token_endpoint_takes_login_and_refresh_scripts() {
    let (s, c) = start().await;
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
    let rt = str_field(&v, "refresh_token");
    s.control()
        .script(
            RouteKind::Refresh,
            Times::Next(1),
            Answer::new(503).header("retry-after", "-1"),
        )
        .unwrap();
    let r = token_endpoint(
        &c,
        &s,
        basic,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "admin"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a login does not take a refresh script"
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let r = token_endpoint(&c, &s, basic, &form).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("-1"));
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(
        token_endpoint(&c, &s, basic, &form).await.status(),
        StatusCode::OK
    );
    let n = s.counters();
    assert_eq!(
        (n.refreshes_scripted, n.refreshes_accepted, n.logins_ok),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_huge_token_is_streamed_whole_with_its_length() {
    let (s, c) = start().await;
    let len = 5_000_000;
    let ctl = s.control();
    ctl.script(
        RouteKind::Login,
        Times::Next(1),
        Answer::new(200).body(Body::HugeToken(len)),
    )
    .unwrap();
    ctl.script(
        RouteKind::Login,
        Times::Next(1),
        Answer::new(200).body(Body::Huge(100_000)).chunked(),
    )
    .unwrap();
    let r = login_form(&c, &s, &ADMIN).await;
    let declared: u64 = header(&r, "content-length").unwrap().parse().unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["access_token"].as_str().unwrap().len() as u64, len);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(declared, serde_json::to_vec(&v).unwrap().len() as u64);
    let r = login_form(&c, &s, &ADMIN).await;
    assert!(header(&r, "content-length").is_none());
    assert_eq!(header(&r, "transfer-encoding").as_deref(), Some("chunked"));
    assert_eq!(r.bytes().await.unwrap().len(), 100_000);
    assert!(s.control().wait_scripts_idle(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn an_endless_body_stops_when_the_client_goes_away() {
    let (s, c) = start().await;
    let ctl = s.control();
    ctl.script(
        RouteKind::Login,
        Times::Next(1),
        Answer::new(200).body(Body::Endless),
    )
    .unwrap();
    let r = login_form(&c, &s, &ADMIN).await;
    assert!(header(&r, "content-length").is_none());
    let mut body = r.bytes_stream();
    let mut got = 0usize;
    let mut first = Vec::new();
    while got < 4 << 20 {
        let chunk = body.next().await.unwrap().unwrap();
        if first.len() < 32 {
            first.extend_from_slice(&chunk);
        }
        got += chunk.len();
    }
    assert!(first.starts_with(br#"{"access_token":"aaaa"#));
    assert_eq!(ctl.gauges().scripts_in_progress, 1);
    drop(body);
    assert!(
        ctl.wait_scripts_idle(Duration::from_secs(10)).await,
        "the server stops streaming once the client is gone"
    );
    assert_eq!(ctl.gauges().scripts_in_progress, 0);
}

#[tokio::test]
async fn a_slow_body_arrives_in_small_pieces() {
    let (s, c) = start().await;
    let every = Duration::from_millis(15);
    s.control()
        .script(
            RouteKind::Refresh,
            Times::Next(1),
            Answer::new(200)
                .body(Body::Json(json!({"access_token": "abc"})))
                .slow(4, every),
        )
        .unwrap();
    let t = Instant::now();
    let r = refresh(&c, &s, "whatever").await;
    let body = r.bytes().await.unwrap();
    assert_eq!(body.as_ref(), br#"{"access_token":"abc"}"#);
    // 22 bytes in 4-byte chunks: 6 chunks, 5 waits after the first.
    assert!(t.elapsed() >= every * 5, "{:?}", t.elapsed());
}

#[tokio::test]
async fn deep_json_is_nested_as_asked() {
    let (s, c) = start().await;
    s.control()
        .script(
            RouteKind::Login,
            Times::Next(1),
            Answer::new(200).body(Body::DeepJson(100_000)),
        )
        .unwrap();
    let r = login_form(&c, &s, &ADMIN).await;
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    let b = r.bytes().await.unwrap();
    assert_eq!(b.len(), 200_000);
    assert!(b[..100_000].iter().all(|c| *c == b'[') && b[100_000..].iter().all(|c| *c == b']'));
    assert!(
        serde_json::from_slice::<Value>(&b).is_err(),
        "past serde_json's depth limit"
    );
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[tokio::test]
async fn real_answers_with_odd_fields_issue_tokens_the_api_accepts() {
    let (s, c) = start().await;
    let ctl = s.control();
    for (expires_in, exp_offset) in [
        (Some(json!(0)), -1_000_000_000),
        (Some(json!(-30)), 0),
        (Some(json!(1e300)), 3_000_000_000),
        (Some(json!(2.5)), 0),
        (Some(json!("3600")), 0),
        (Some(json!(null)), 0),
        (None, 0),
    ] {
        let mut rw = Rewrite::new()
            .set("token_type", json!("MAC"))
            .exp_offset(exp_offset);
        rw = match &expires_in {
            Some(v) => rw.set("expires_in", v.clone()),
            None => rw.remove("expires_in"),
        };
        ctl.script(RouteKind::Login, Times::Next(1), rw).unwrap();
        let v: Value = login_form(&c, &s, &ADMIN).await.json().await.unwrap();
        assert_eq!(v.get("expires_in"), expires_in.as_ref(), "{v}");
        assert_eq!(v["token_type"], "MAC");
        let at = str_field(&v, "access_token");
        let claims = jwt_claims(&at);
        let real_exp = claims["exp_ms"].as_i64().unwrap() / 1000;
        assert_eq!(claims["exp"].as_i64().unwrap(), real_exp + exp_offset);
        assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK, "{v}");
    }
    let n = s.counters();
    assert_eq!((n.logins_scripted, n.logins_ok, n.protected_ok), (7, 7, 7));
}

#[tokio::test]
async fn real_refreshes_rotate_and_tokens_can_be_made_unusable() {
    let (s, c) = start().await;
    let ctl = s.control();
    ctl.set_rotation(true);
    let (_, rt) = login(&c, &s).await;
    ctl.script(
        RouteKind::Refresh,
        Times::Next(1),
        Rewrite::new()
            .remove("token_type")
            .set("scope", json!(["odd"])),
    )
    .unwrap();
    let v: Value = refresh(&c, &s, &rt).await.json().await.unwrap();
    assert!(v.get("token_type").is_none());
    assert_eq!(v["scope"], json!(["odd"]));
    let rt2 = str_field(&v, "refresh_token");
    assert_eq!(
        echo(&c, &s, &str_field(&v, "access_token")).await.status(),
        200
    );
    ctl.script(
        RouteKind::Refresh,
        Times::Next(1),
        Rewrite::new()
            .set("access_token", json!("line\r\nbreak"))
            .set("refresh_token", json!("jetón✓")),
    )
    .unwrap();
    let v: Value = refresh(&c, &s, &rt2).await.json().await.unwrap();
    assert_eq!(v["access_token"], "line\r\nbreak");
    assert_eq!(v["refresh_token"], "jetón✓");
    // A real refresh that fails is answered as usual, rewrite or not.
    ctl.script(
        RouteKind::Refresh,
        Times::Next(1),
        Rewrite::new().set("x", json!(1)),
    )
    .unwrap();
    let r = refresh(&c, &s, &rt).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.json::<Value>().await.unwrap().get("x").is_none());
    let n = s.counters();
    assert_eq!(
        (
            n.refreshes_scripted,
            n.refreshes_accepted,
            n.refreshes_rejected
        ),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn scripts_over_http() {
    let (s, c) = start().await;
    let post = |body: Value| {
        let c = c.clone();
        let url = format!("{}/_control/faults", s.url());
        async move { c.post(url).json(&body).send().await.unwrap() }
    };
    // A bad script anywhere in the list: 400, nothing queued.
    let r = post(json!({"script": [
        {"route": "login", "status": 503},
        {"route": "protected", "real": {}},
    ]}))
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(json!({"script": {"route": "login", "headers": {"x": "a\nb"}}})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(login_form(&c, &s, &ADMIN).await.status(), StatusCode::OK);

    let r = post(json!({"script": [
        {"route": "login", "count": 1, "status": 429,
         "headers": [["retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"], ["content-type", null]],
         "body": {"json": {"detail": "slow down"}}},
        {"route": "login", "real": {"set": {"expires_in": "never"}, "exp_offset_secs": -60}},
        {"route": "refresh", "count": "always", "connection": "reset_after_request"},
    ]}))
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = login_form(&c, &s, &ADMIN).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "retry-after").as_deref(),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    assert!(header(&r, "content-type").is_none());
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], "slow down");
    let v: Value = login_form(&c, &s, &ADMIN).await.json().await.unwrap();
    assert_eq!(v["expires_in"], "never");
    let at = str_field(&v, "access_token");
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    for _ in 0..2 {
        assert!(
            c.post(format!("{}/api/refresh", s.url()))
                .send()
                .await
                .is_err()
        );
    }
    let g: Value = c
        .get(format!("{}/_control/gauges", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(g["open_connections"].as_u64().unwrap() >= 1, "{g}");
    assert!(g.get("scripts_in_progress").is_some(), "{g}");
    let n = s.counters();
    assert_eq!(
        (n.logins_scripted, n.refreshes_scripted, n.connections_reset),
        (2, 2, 2)
    );
}
