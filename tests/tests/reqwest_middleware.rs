//! The `reqwest-middleware` layer: one `.with(Middleware::new(keeper))` and the client gets
//! through a revoke-all, replays buffered bodies, and reports typed errors.

mod reqwest_support;

use std::time::Duration;

use reqwest_support::{default_server, echo, keeper, secrets_of, warm_up};
use tokenkeeper_reqwest::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokenkeeper_reqwest::{Error, Keeper, Middleware};
use tokenkeeper_testserver::RouteKind;

fn layered(keeper: &Keeper) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(Middleware::new(keeper.clone()))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_middleware_client_gets_through_a_revoke_all() {
    let server = default_server().await;
    let keeper = keeper(&server);
    let client = layered(&keeper);
    let r = client.get(echo(&server)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let control = server.control();
    control.revoke_all();
    control.set_latency(RouteKind::Protected, Duration::from_millis(100));

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (client, url) = (client.clone(), echo(&server));
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.unwrap().unwrap(), 200);
    }
    let c = server.counters();
    assert_eq!(
        (c.refreshes_rejected, c.refreshes_accepted),
        (1, 0),
        "{c:?}"
    );
    assert_eq!(c.logins_ok, 2);
    assert_eq!(c.protected_ok, 201);
    assert_eq!(
        keeper.metrics().unauthorized_resends,
        c.protected_unauthorized
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_middleware_client_replays_bodies_and_types_its_errors() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let client = layered(&keeper);
    let control = server.control();

    control.advance_clock(Duration::from_secs(31 * 60));
    let body = serde_json::json!({"k": "v"});
    let r = client.post(echo(&server)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), body);
    let c = server.counters();
    assert_eq!((c.protected_unauthorized, c.refreshes_accepted), (1, 1));

    control.drop_next_connections(1, RouteKind::Protected);
    let err = client
        .post(echo(&server))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    let tokenkeeper_reqwest::reqwest_middleware::Error::Middleware(inner) = &err else {
        panic!("expected the layer's error, got {err:?}")
    };
    let ours = inner.downcast_ref::<Error>().expect("a tokenkeeper error");
    assert!(matches!(
        ours,
        Error::Transport {
            engine: tokenkeeper_core::Error::Transport {
                may_have_reached_server: true,
                ..
            },
            ..
        }
    ));
    let text = format!("{err} | {err:?} | {ours:?}");
    reqwest_support::assert_no_secret(&text, &secrets_of(&keeper));
    assert_eq!(server.counters().dropped_connections, 1);
}
