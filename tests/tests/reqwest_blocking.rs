//! The blocking client: threads share one session (50 threads at expiry, one refresh), and it
//! neither panics nor deadlocks when used from inside an async runtime.

mod reqwest_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Barrier};

use reqwest_support::{PASSWORD, USER, echo, expire_locally};
use tokenkeeper_reqwest::{Credentials, Dialect, Keeper, blocking};
use tokenkeeper_testserver::{ServerConfig, TestServer};

fn blocking_client(server: &TestServer) -> blocking::Client {
    Keeper::builder(Dialect::vitalgraph(&server.url()).unwrap())
        .credentials(Credentials::password(USER, PASSWORD))
        .seed(3)
        .build_blocking()
        .unwrap()
}

#[test]
fn fifty_threads_at_expiry_cause_one_refresh() {
    let server = TestServer::start_blocking(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ServerConfig::default().with_user(USER, PASSWORD),
    )
    .unwrap();
    let client = blocking_client(&server);
    client.login().unwrap();
    expire_locally(client.keeper());

    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let (client, url, barrier) = (client.clone(), echo(&server), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let r = client.get(url).query(&[("thread", i)]).send().unwrap();
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().unwrap();
                assert_eq!(v["query"]["thread"], i.to_string());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    let c = server.counters();
    assert_eq!(c.refreshes_accepted, 1, "{c:?}");
    assert_eq!(
        (c.logins_ok, c.protected_ok, c.protected_unauthorized),
        (1, 50, 0)
    );
    let m = client.metrics();
    assert_eq!((m.refresh_count, m.failures), (1, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn the_blocking_client_works_inside_a_runtime_and_drops_cleanly() {
    let server = TestServer::start(ServerConfig::default().with_user(USER, PASSWORD))
        .await
        .unwrap();
    let client = blocking_client(&server);
    let r = client.post(echo(&server)).json(&[1, 2, 3]).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "[1,2,3]");
    client.logout();
    let r = client.get(echo(&server)).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.counters().logins_ok, 2);
    drop(client); // shuts its runtime down in the background: no panic here
}
