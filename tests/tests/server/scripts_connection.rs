//! Connection-level scripts on the token routes: truncated bodies, slow headers, never
//! answering, resetting; seen from a raw socket or an impatient client.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use tokenkeeper_testserver::{Answer, Body, RouteKind, Script, Times};

use crate::common::{refresh, start};
use crate::raw::{self, End};

const ADMIN: [(&str, &str); 2] = [("username", "admin"), ("password", "admin")];

#[tokio::test]
async fn a_truncated_body_declares_more_than_it_sends() {
    let (s, _) = start().await;
    s.control()
        .script(
            RouteKind::Login,
            Times::Next(1),
            Answer::new(200).body(Body::Huge(1000)).truncate_at(10),
        )
        .unwrap();
    let mut conn = raw::send(s.addr(), &raw::login_request()).await;
    let End::Eof(got) = raw::read_until_end(&mut conn, Duration::from_secs(10)).await else {
        panic!("the server closes the connection");
    };
    let text = String::from_utf8(got).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_lowercase().contains("content-length: 1000"),
        "{head}"
    );
    assert_eq!(body, "aaaaaaaaaa");
}

#[tokio::test]
async fn slow_headers_time_a_client_out_and_the_task_ends() {
    let (s, _) = start().await;
    let ctl = s.control();
    ctl.script(
        RouteKind::Refresh,
        Times::Next(1),
        Answer::new(200).delay(Duration::from_secs(600)),
    )
    .unwrap();
    let impatient = Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = impatient
        .post(format!("{}/api/refresh", s.url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    drop(impatient);
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);
    // A short delay is just a late answer.
    ctl.script(
        RouteKind::Refresh,
        Times::Next(1),
        Answer::new(204).delay(Duration::from_millis(30)),
    )
    .unwrap();
    let t = Instant::now();
    let r = refresh(&Client::new(), &s, "x").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn never_keeps_the_connection_open_until_the_client_leaves() {
    let (s, _) = start().await;
    let ctl = s.control();
    ctl.script(RouteKind::Login, Times::Next(1), Script::Never)
        .unwrap();
    let mut conn = raw::send(s.addr(), &raw::login_request()).await;
    let End::Quiet(got) = raw::read_until_end(&mut conn, Duration::from_millis(200)).await else {
        panic!("no answer, no close");
    };
    assert!(got.is_empty());
    let g = ctl.gauges();
    assert_eq!((g.scripts_in_progress, g.open_connections), (1, 1));
    drop(conn);
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);
    assert_eq!(s.counters().logins_scripted, 1);
}

#[tokio::test]
async fn reset_after_request_is_an_rst() {
    let (s, c) = start().await;
    let ctl = s.control();
    ctl.script(RouteKind::Login, Times::Next(2), Script::ResetAfterRequest)
        .unwrap();
    let mut conn = raw::send(s.addr(), &raw::login_request()).await;
    let end = raw::read_until_end(&mut conn, Duration::from_secs(10)).await;
    assert!(matches!(&end, End::Reset(got) if got.is_empty()), "{end:?}");
    let err = c
        .post(format!("{}/api/login", s.url()))
        .form(&ADMIN)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    let n = s.counters();
    assert_eq!(
        (n.connections_reset, n.logins_scripted, n.logins_ok),
        (2, 2, 0)
    );
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn raw_bytes_go_out_as_they_are_then_the_connection_closes() {
    let (s, c) = start().await;
    let ctl = s.control();
    let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello".to_vec();
    ctl.script(RouteKind::Login, Times::Next(1), Script::Raw(raw.clone()))
        .unwrap();
    let mut conn = raw::send(s.addr(), &raw::login_request()).await;
    let end = raw::read_until_end(&mut conn, Duration::from_secs(10)).await;
    assert!(matches!(&end, End::Eof(got) if *got == raw), "{end:?}");

    let r = c
        .post(format!("{}/_control/faults", s.url()))
        .json(&serde_json::json!({"script": {"route": "login", "raw": "not http at all\n"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let err = c
        .post(format!("{}/api/login", s.url()))
        .form(&ADMIN)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(s.counters().logins_scripted, 2);
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);
}
