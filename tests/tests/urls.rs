//! The URL table (`tests/urls/cases.json`, tests/urls/README.md) against the native driver:
//! every absolute row's URL string given to `keeper.client().get(..)`. The platform's parser
//! here is `reqwest::Url` (the `url` crate, WHATWG): the token must reach the allowed origin
//! exactly when the URL that parser makes has that origin, at the path it makes, and never
//! the other server. Where the table (written for `fetch`) says `token`, the native driver
//! must send the token too; where it says `noToken`, it must not. (Rows `fetch` refuses, such
//! as credentials in the URL, may go out natively, but only by the same rule.) Relative rows
//! need a base, which a native client does not have.

use std::net::SocketAddr;

use reqwest::Url;
use serde_json::Value;
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_reqwest::Keeper;
use tokenkeeper_testserver::{ServerConfig, TestServer};

const CASES: &str = include_str!("../urls/cases.json");

/// What must happen to a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Token,
    NoToken,
    Refused,
}

/// What the platform's parser makes of `url` for a token allowed to go to `allowed`: the want,
/// and the path with query it sends to.
fn oracle(url: &str, allowed: &str) -> (Want, String) {
    match Url::parse(url) {
        Err(_) => (Want::Refused, String::new()),
        Ok(u) => {
            let path = format!(
                "{}{}",
                u.path(),
                u.query().map(|q| format!("?{q}")).unwrap_or_default()
            );
            if u.origin().ascii_serialization() == allowed {
                (Want::Token, path)
            } else {
                (Want::NoToken, path)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_urls_send_the_token_only_to_the_origin_the_parser_gives() {
    let api = TestServer::start(ServerConfig::default()).await.unwrap();
    let recorder = TestServer::start_on(
        SocketAddr::from(([127, 0, 0, 2], 0)),
        ServerConfig::default(),
    )
    .await
    .unwrap();
    let keeper = Keeper::builder(Dialect::vitalgraph(&api.url()).unwrap())
        .credentials(Credentials::password("admin", "admin"))
        .build()
        .unwrap();
    keeper.login().await.unwrap();
    let allowed = Url::parse(&api.url())
        .unwrap()
        .origin()
        .ascii_serialization();

    let (a, r) = (api.addr(), recorder.addr());
    let fill = |t: &str, k: &str| {
        t.replace("{A}", &a.to_string())
            .replace("{R}", &r.to_string())
            .replace("{PA}", &a.port().to_string())
            .replace("{PR}", &r.port().to_string())
            .replace("{k}", k)
    };
    let all: Value = serde_json::from_str(CASES).unwrap();
    let rows = all["absolute"].as_array().unwrap();
    assert!(rows.len() >= 45, "{} rows", rows.len());
    let mut sent_with_token = 0;
    for (i, row) in rows.iter().enumerate() {
        let url = fill(row["url"].as_str().unwrap(), &format!("abs{i:02}x"));
        let (want, path) = oracle(&url, &allowed);
        match row["want"].as_str().unwrap() {
            "token" => assert_eq!(want, Want::Token, "row {i} {url:?}: the table says token"),
            "noToken" => assert_ne!(want, Want::Token, "row {i} {url:?}: the table says noToken"),
            _ => {}
        }
        let (api0, rec0) = (
            api.control().recorded().len(),
            recorder.control().recorded().len(),
        );
        let engine0 = keeper.metrics().requests;
        let result = keeper.client().get(url.as_str()).send().await;
        let status = result
            .as_ref()
            .map(|r| r.status().as_u16())
            .map_err(ToString::to_string);
        let at_api = api.control().recorded().split_off(api0);
        let at_rec = recorder.control().recorded().split_off(rec0);
        let engine = keeper.metrics().requests - engine0;
        let what = format!(
            "row {i} {url:?}: want {want:?}, got {status:?}, engine saw {engine}, api saw {at_api:?}, recorder saw {at_rec:?}"
        );
        // (A URL's own userinfo goes out as `Basic` natively, to wherever the URL points.)
        let bearer = |s: &tokenkeeper_testserver::Recorded| s.scheme.as_deref() == Some("Bearer");
        assert!(
            !at_rec.iter().any(bearer),
            "the token reached another origin: {what}"
        );
        match want {
            Want::Token => {
                sent_with_token += 1;
                assert_eq!(status, Ok(200), "{what}");
                assert_eq!(engine, 1, "{what}");
                assert_eq!(at_api.len(), 1, "{what}");
                assert!(bearer(&at_api[0]), "sent without the token: {what}");
                assert_eq!(
                    at_api[0].path, path,
                    "sent elsewhere than it was checked: {what}"
                );
            }
            Want::NoToken => {
                assert!(!at_api.iter().any(bearer), "{what}");
                assert_eq!(engine, 0, "the engine was asked for a token: {what}");
            }
            Want::Refused => {
                assert!(status.is_err(), "{what}");
                assert!(at_api.is_empty() && at_rec.is_empty(), "{what}");
                assert_eq!(engine, 0, "{what}");
            }
        }
    }
    assert!(
        sent_with_token >= 20,
        "{sent_with_token} rows sent with the token"
    );
}
