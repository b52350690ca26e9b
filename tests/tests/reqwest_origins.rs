//! The token goes only to allowed origins: never to another origin, directly or across a
//! redirect, and a 401 from an origin that never saw the token triggers no refresh.

mod reqwest_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest_support::{PASSWORD, USER, builder, default_server, warm_up};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_reqwest::Keeper;

/// What one request to a capture server carried: (port, path, Authorization header).
type Seen = Arc<Mutex<Vec<(u16, String, Option<String>)>>>;

/// A tiny API on two ports (one allowed for the token, one not) that records the
/// `Authorization` header of every request. Routes: `/capture` (200), `/redirect?to=URL`
/// (307 to `URL`), `/unauthorized` (401 with a Bearer challenge).
struct Capture {
    allowed: SocketAddr,
    other: SocketAddr,
    seen: Seen,
}

#[derive(Clone)]
struct App {
    port: u16,
    seen: Seen,
}

async fn record(State(app): State<App>, uri: Uri, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    app.seen
        .lock()
        .unwrap()
        .push((app.port, uri.path().to_owned(), auth));
    match uri.path() {
        "/unauthorized" => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
        _ => "ok".into_response(),
    }
}

async fn redirect(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let _ = record(State(app), uri, headers).await;
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, q["to"].clone())],
    )
        .into_response()
}

impl Capture {
    async fn start() -> Capture {
        let seen = Seen::default();
        let mut addrs = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = App {
                port: addr.port(),
                seen: Arc::clone(&seen),
            };
            let router = Router::new()
                .route("/capture", get(record))
                .route("/unauthorized", get(record))
                .route("/redirect", get(redirect))
                .with_state(app);
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            addrs.push(addr);
        }
        Capture {
            allowed: addrs[0],
            other: addrs[1],
            seen,
        }
    }

    fn take(&self) -> Vec<(u16, String, Option<String>)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn bearer(keeper: &Keeper) -> String {
    format!("Bearer {}", keeper.tokens().unwrap().access_token.expose())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_to_allowed_origins_only() {
    let server = default_server().await;
    let capture = Capture::start().await;
    let keeper = builder(&server)
        .allow_origin(format!("http://{}", capture.allowed))
        .build()
        .unwrap();
    warm_up(&keeper, &server).await;
    let client = keeper.client();
    let token = bearer(&keeper);

    // An allowed origin gets the token.
    let r = client
        .get(format!("http://{}/capture", capture.allowed))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        capture.take(),
        [(
            capture.allowed.port(),
            "/capture".into(),
            Some(token.clone())
        )]
    );

    // Another origin (same host, other port) does not, and the engine is not involved.
    let requests = keeper.metrics().requests;
    let r = client
        .get(format!("http://{}/capture", capture.other))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        capture.take(),
        [(capture.other.port(), "/capture".into(), None)]
    );
    assert_eq!(keeper.metrics().requests, requests);

    // A 401 from an origin that never saw the token is handed over without a refresh.
    let r = client
        .get(format!("http://{}/unauthorized", capture.other))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(server.counters().refreshes_accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_drops_the_token() {
    let server = default_server().await;
    let capture = Capture::start().await;
    let keeper = builder(&server)
        .allow_origin(format!("http://{}", capture.allowed))
        .build()
        .unwrap();
    warm_up(&keeper, &server).await;
    let client = keeper.client();
    let token = bearer(&keeper);
    let (allowed, other) = (capture.allowed, capture.other);

    // Same origin: the token follows the redirect.
    let r = client
        .get(format!(
            "http://{allowed}/redirect?to=http://{allowed}/capture"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        capture.take(),
        [
            (allowed.port(), "/redirect".into(), Some(token.clone())),
            (allowed.port(), "/capture".into(), Some(token.clone())),
        ]
    );

    // Another origin: reqwest strips it on the hop.
    let r = client
        .get(format!(
            "http://{allowed}/redirect?to=http://{other}/capture"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.url().port(), Some(other.port()));
    assert_eq!(
        capture.take(),
        [
            (allowed.port(), "/redirect".into(), Some(token.clone())),
            (other.port(), "/capture".into(), None),
        ]
    );

    // A 401 at the end of such a redirect is not about our token: no refresh, no resend.
    let r = client
        .get(format!(
            "http://{allowed}/redirect?to=http://{other}/unauthorized"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(capture.take().len(), 2);
    let c = server.counters();
    assert_eq!((c.refreshes_accepted, c.logins_ok), (0, 1), "{c:?}");
    assert_eq!(keeper.metrics().unauthorized_resends, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_between_two_allowed_origins_drops_the_token_too() {
    let server = default_server().await;
    let capture = Capture::start().await;
    let (a, b) = (capture.allowed, capture.other);
    let keeper = builder(&server)
        .allow_origin(format!("http://{a}"))
        .allow_origin(format!("http://{b}"))
        .build()
        .unwrap();
    warm_up(&keeper, &server).await;
    let client = keeper.client();
    let token = bearer(&keeper);

    // reqwest strips the header on any cross-origin hop, allowed or not.
    let r = client
        .get(format!("http://{a}/redirect?to=http://{b}/capture"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        capture.take(),
        [
            (a.port(), "/redirect".into(), Some(token.clone())),
            (b.port(), "/capture".into(), None),
        ]
    );

    // So a 401 from there is handed over: no refresh for a token the server never saw.
    let r = client
        .get(format!("http://{a}/redirect?to=http://{b}/unauthorized"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let c = server.counters();
    assert_eq!((c.refreshes_accepted, c.logins_ok), (0, 1), "{c:?}");
    assert_eq!(keeper.metrics().unauthorized_resends, 0);

    // Asked directly, the second origin gets the token.
    let r = client
        .get(format!("http://{b}/capture"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(capture.take().last().unwrap().2, Some(token));
}

/// The endpoint and the allowed origins are judged as reqwest reads them, the parser that
/// sends the requests: `127.1` is 127.0.0.1 (a loopback host, so plain http is allowed), and
/// its origin gets the token. `http::Uri` reads the host `127.1`, which the engine refused as
/// plain http off loopback before the keeper re-read its URLs with reqwest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_are_judged_as_reqwest_reads_them() {
    let server = default_server().await;
    let capture = Capture::start().await;
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let dialect = Dialect::vitalgraph(&format!("http://127.1:{port}/")).unwrap();
    let keeper = Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .allow_origin(format!("http://127.1:{}", capture.allowed.port()))
        .seed(7)
        .build()
        .unwrap();
    warm_up(&keeper, &server).await;
    assert_eq!(server.counters().logins_ok, 1);
    let r = keeper
        .client()
        .get(format!("http://{}/capture", capture.allowed))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        capture.take(),
        [(
            capture.allowed.port(),
            "/capture".into(),
            Some(bearer(&keeper))
        )]
    );
    // An origin reqwest cannot read is a typed error naming it.
    let err = Keeper::builder(Dialect::vitalgraph(&server.url()).unwrap())
        .allow_origin("http://[::1")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid url"), "{err}");
}
