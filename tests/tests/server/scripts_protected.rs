//! Scripted answers on the protected routes: what a resource server can do to a client
//! holding a valid token.

use std::time::Duration;

use futures::StreamExt as _;
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use tokenkeeper_testserver::{Answer, Body, RouteKind, Script, Times};

use crate::common::{echo, header, login, start};
use crate::raw::{self, End};

/// A scripted answer, the status the client must see, and headers it must carry.
type Row<'a> = (Answer, u16, Vec<(&'a str, &'a str)>);

#[tokio::test]
async fn every_row_is_one_call_and_the_client_sees_exactly_it() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let c = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let challenge = r#"Bearer error="invalid_token""#;
    let elsewhere = "http://127.0.0.2:8002/steal?x=1";
    let mut rows: Vec<Row> = vec![
        (
            Answer::new(401).header("www-authenticate", challenge),
            401,
            vec![("www-authenticate", challenge)],
        ),
        (Answer::new(403), 403, vec![]),
        (
            Answer::new(403).header("www-authenticate", r#"Bearer error="insufficient_scope""#),
            403,
            vec![("www-authenticate", r#"Bearer error="insufficient_scope""#)],
        ),
    ];
    for status in [301, 302, 307, 308] {
        rows.push((
            Answer::new(status).header("location", elsewhere),
            status,
            vec![("location", elsewhere)],
        ));
    }
    for ra in [
        "0",
        "99999999999999999999",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "soon, maybe",
        "-1",
    ] {
        for status in [503, 429] {
            rows.push((
                Answer::new(status).header("retry-after", ra),
                status,
                vec![("retry-after", ra)],
            ));
        }
    }
    let n = rows.len() as u64;
    for (answer, status, headers) in rows {
        s.control()
            .script(RouteKind::Protected, Times::Next(1), answer)
            .unwrap();
        let r = c
            .get(format!("{}/api/echo", s.url()))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        for (name, value) in &headers {
            assert_eq!(header(&r, name).as_deref(), Some(*value), "{status} {name}");
        }
        if headers.iter().all(|(n, _)| *n != "www-authenticate") {
            assert!(header(&r, "www-authenticate").is_none(), "{status}");
        }
        assert!(r.bytes().await.unwrap().is_empty());
    }
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    let counters = s.counters();
    assert_eq!(
        (
            counters.protected_scripted,
            counters.protected_ok,
            counters.protected_unauthorized
        ),
        (n, 1, 0)
    );
}

#[tokio::test]
async fn a_401_forever_until_reset_whatever_the_token() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    s.control()
        .script(
            RouteKind::Protected,
            Times::Always,
            Answer::new(401)
                .header("www-authenticate", "Bearer")
                .body(Body::Json(json!({"detail": "Not authenticated"}))),
        )
        .unwrap();
    for token in [at.as_str(), "garbage"] {
        for path in ["/api/echo", "/api/spaces", "/api/slow?ms=1"] {
            let r = c
                .get(format!("{}{path}", s.url()))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.json::<Value>().await.unwrap()["detail"],
                "Not authenticated"
            );
        }
    }
    let r = c
        .post(format!("{}/api/echo", s.url()))
        .bearer_auth(&at)
        .body("a body, read and dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.control().reset_faults();
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
    assert_eq!(s.counters().protected_scripted, 7);
}

#[tokio::test]
async fn never_and_reset_on_a_protected_route() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let ctl = s.control();
    ctl.script(RouteKind::Protected, Times::Next(1), Script::Never)
        .unwrap();
    ctl.script(
        RouteKind::Protected,
        Times::Next(1),
        Script::ResetAfterRequest,
    )
    .unwrap();
    let mut conn = raw::send(s.addr(), &raw::get_request("/api/echo", &at)).await;
    let end = raw::read_until_end(&mut conn, Duration::from_millis(200)).await;
    assert!(matches!(&end, End::Quiet(got) if got.is_empty()), "{end:?}");
    assert_eq!(ctl.gauges().scripts_in_progress, 1);
    drop(conn);
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);

    let mut conn = raw::send(s.addr(), &raw::get_request("/api/spaces", &at)).await;
    let end = raw::read_until_end(&mut conn, Duration::from_secs(10)).await;
    assert!(matches!(&end, End::Reset(got) if got.is_empty()), "{end:?}");
    let n = s.counters();
    assert_eq!((n.protected_scripted, n.connections_reset), (2, 1));
    assert_eq!(echo(&c, &s, &at).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn huge_and_endless_resource_bodies() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let ctl = s.control();
    ctl.script(
        RouteKind::Protected,
        Times::Next(1),
        Answer::new(200).body(Body::Huge(3_000_000)),
    )
    .unwrap();
    ctl.script(
        RouteKind::Protected,
        Times::Next(1),
        Answer::new(200).body(Body::Endless),
    )
    .unwrap();
    let r = echo(&c, &s, &at).await;
    assert_eq!(header(&r, "content-length").as_deref(), Some("3000000"));
    assert_eq!(r.bytes().await.unwrap().len(), 3_000_000);
    let mut body = echo(&c, &s, &at).await.bytes_stream();
    let mut got = 0;
    while got < 1 << 20 {
        got += body.next().await.unwrap().unwrap().len();
    }
    assert_eq!(ctl.gauges().scripts_in_progress, 1);
    drop(body);
    assert!(ctl.wait_scripts_idle(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn protected_scripts_over_http() {
    let (s, c) = start().await;
    let (at, _) = login(&c, &s).await;
    let r = c
        .post(format!("{}/_control/faults", s.url()))
        .json(&json!({"script": [
            {"route": "protected", "status": 307,
             "headers": {"location": "http://127.0.0.2:8002/x"}},
            {"route": "protected", "status": 503, "headers": {"retry-after": "garbage"}},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let nr = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = echo(&nr, &s, &at).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        header(&r, "location").as_deref(),
        Some("http://127.0.0.2:8002/x")
    );
    let r = echo(&nr, &s, &at).await;
    assert_eq!(header(&r, "retry-after").as_deref(), Some("garbage"));
    assert_eq!(echo(&nr, &s, &at).await.status(), StatusCode::OK);
}
