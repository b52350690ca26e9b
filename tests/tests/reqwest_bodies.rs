//! Request bodies across a resend: buffered bodies (JSON, form, bytes, text) arrive identical
//! after a 401 and a refresh; a streaming body is sent once and its 401 is handed over.

mod reqwest_support;

use std::time::Duration;

use reqwest_support::{default_server, echo, keeper, warm_up};
use tokenkeeper_reqwest::Client;
use tokenkeeper_testserver::TestServer;

/// Expires the current token on the server only: the next request gets a 401.
fn expire_on_server(server: &TestServer) {
    server.control().advance_clock(Duration::from_secs(31 * 60));
}

/// Sends `build`'s request after a server-side expiry and checks it was refused once,
/// refreshed and resent, and that the echo returned `body` with `content_type`.
async fn check_replayed(
    server: &TestServer,
    client: &Client,
    build: impl FnOnce(&Client) -> tokenkeeper_reqwest::RequestBuilder,
    body: &[u8],
    content_type: &str,
) {
    let before = server.counters();
    expire_on_server(server);
    let r = build(client).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], content_type);
    assert_eq!(r.bytes().await.unwrap(), body);
    let after = server.counters();
    assert_eq!(
        after.protected_unauthorized - before.protected_unauthorized,
        1,
        "{after:?}"
    );
    assert_eq!(after.refreshes_accepted - before.refreshes_accepted, 1);
    assert_eq!(after.protected_ok - before.protected_ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_bodies_are_replayed_identically_after_a_401() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let client = keeper.client();
    let url = echo(&server);

    let json = serde_json::json!({"space": "space_test", "n": [1, 2, 3], "ünïcode": "✓"});
    let json_bytes = serde_json::to_vec(&json).unwrap();
    check_replayed(
        &server,
        &client,
        |c| c.post(&url).json(&json),
        &json_bytes,
        "application/json",
    )
    .await;

    let form = [("a", "1"), ("b", "two words"), ("c", "&=?")];
    let form_bytes = b"a=1&b=two+words&c=%26%3D%3F";
    check_replayed(
        &server,
        &client,
        |c| c.post(&url).form(&form),
        form_bytes,
        "application/x-www-form-urlencoded",
    )
    .await;

    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    check_replayed(
        &server,
        &client,
        |c| {
            c.put(&url)
                .header("content-type", "application/octet-stream")
                .body(bytes.clone())
        },
        &bytes,
        "application/octet-stream",
    )
    .await;

    check_replayed(
        &server,
        &client,
        |c| {
            c.post(&url)
                .header("content-type", "text/plain")
                .body("plain text body")
        },
        b"plain text body",
        "text/plain",
    )
    .await;
    assert_eq!(keeper.metrics().unauthorized_resends, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_is_sent_once_and_its_401_delivered() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let client = keeper.client();
    expire_on_server(&server);

    let chunks: Vec<Result<&'static [u8], std::io::Error>> =
        vec![Ok(b"first chunk, "), Ok(b"second chunk")];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = client
        .post(echo(&server))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 401, "handed over, not resent");
    let c = server.counters();
    assert_eq!((c.protected_unauthorized, c.protected_ok), (1, 1), "{c:?}");
    assert_eq!(
        c.refreshes_accepted, 0,
        "no refresh for a request that cannot be resent"
    );

    // The token is now known to be rejected: the next request refreshes first.
    let r = client.get(echo(&server)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let c = server.counters();
    assert_eq!(
        (c.protected_unauthorized, c.refreshes_accepted),
        (1, 1),
        "{c:?}"
    );
}
