//! Token stores within one process: keepers that share a store share one login and one
//! refresh per expiry (rotation and reuse detection on), a keeper started later adopts the
//! stored tokens instead of logging in, and a store that fails or a lock that is never
//! released costs no request. Expiry comes from the server's clock (`advance_clock`) and
//! lock waits from a `ManualClock`: nothing here waits for a timeout in real time.

mod reqwest_support;

use std::time::Duration;

use reqwest_support::{builder, echo, server};
use tokenkeeper_reqwest::clock::ManualClock;
use tokenkeeper_reqwest::store::{FileStore, MemoryStore, TokenStore};
use tokenkeeper_reqwest::{Client, Keeper};
use tokenkeeper_testserver::{ServerConfig, TestServer};

async fn rotating_server() -> TestServer {
    server(
        ServerConfig::default()
            .with_rotation(true)
            .with_reuse_detection(true),
    )
    .await
}

/// Sends `n` GETs at once on each client and checks every one got a 200.
async fn herd(clients: &[Client], url: &str, n: usize) {
    let tasks: Vec<_> = clients
        .iter()
        .flat_map(|c| std::iter::repeat_n(c.clone(), n))
        .map(|client| {
            let url = url.to_owned();
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.unwrap().expect("request"), 200);
    }
}

async fn a_later_keeper_adopts_the_stored_tokens(store: impl TokenStore + Clone) {
    let server = rotating_server().await;
    let first = builder(&server).store(store.clone()).build().unwrap();
    herd(&[first.client()], &echo(&server), 1).await;
    assert_eq!(server.counters().logins_ok, 1);

    // A restarted process: a new keeper on the same store.
    let later = builder(&server).store(store).build().unwrap();
    herd(&[later.client()], &echo(&server), 5).await;

    let c = server.counters();
    assert_eq!((c.logins_ok, c.refreshes_accepted), (1, 0), "{c:?}");
    let s = later.store_metrics().unwrap();
    assert_eq!(
        (s.adopted, s.locked_auth, s.unlocked_auth),
        (1, 0, 0),
        "{s:?}"
    );
    assert_eq!(later.metrics().logins, 0);
    assert_eq!(later.tokens(), first.tokens());
}

#[tokio::test]
async fn a_keeper_started_later_adopts_the_tokens_in_memory_instead_of_logging_in() {
    a_later_keeper_adopts_the_stored_tokens(MemoryStore::new()).await;
}

#[tokio::test]
async fn a_keeper_started_later_adopts_the_tokens_in_a_file_instead_of_logging_in() {
    let dir = tempfile::tempdir().unwrap();
    a_later_keeper_adopts_the_stored_tokens(FileStore::new(dir.path().join("tokens.json"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepers_sharing_a_file_make_one_refresh_per_expiry_without_tripping_reuse_detection() {
    let server = rotating_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    // Four keepers, as four processes would have: each its own FileStore on the same path.
    let keepers: Vec<Keeper> = (0..4)
        .map(|_| {
            builder(&server)
                .store(FileStore::new(&path))
                .build()
                .unwrap()
        })
        .collect();
    let clients: Vec<Client> = keepers.iter().map(Keeper::client).collect();
    herd(&clients, &echo(&server), 10).await;
    assert_eq!(server.counters().logins_ok, 1);

    for round in 1..=3u64 {
        // Every token the keepers hold has expired on the server: each keeper sees 401s.
        server.control().advance_clock(Duration::from_secs(31 * 60));
        herd(&clients, &echo(&server), 25).await;
        let c = server.counters();
        assert_eq!(c.refreshes_accepted, round, "one refresh per expiry: {c:?}");
        assert_eq!((c.reuse_detections, c.refreshes_rejected), (0, 0), "{c:?}");
        assert_eq!(c.logins_ok, 1);
    }
    let refreshes: u64 = keepers.iter().map(|k| k.metrics().refresh_count).sum();
    let adopted: u64 = keepers
        .iter()
        .map(|k| k.store_metrics().unwrap().adopted)
        .sum();
    assert_eq!(refreshes, 3);
    assert_eq!(
        adopted,
        3 + 3 * 3,
        "each login or refresh adopted by the three others"
    );
    for k in &keepers {
        let s = k.store_metrics().unwrap();
        assert_eq!(
            (s.errors, s.lock_timeouts, s.unlocked_auth),
            (0, 0, 0),
            "{s:?}"
        );
        assert_eq!(k.metrics().failures, 0);
    }
    // The newest set is stored (saved before its refresher released the lock, which may
    // come just after the last response).
    let newest = keepers[0].tokens();
    for _ in 0..200 {
        if FileStore::new(&path).load().await.unwrap() == newest {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(FileStore::new(&path).load().await.unwrap(), newest);
}

#[tokio::test]
async fn a_failing_store_costs_no_request_and_is_counted() {
    let server = rotating_server().await;
    let keeper = builder(&server)
        .store(FileStore::new("/nonexistent-tokenkeeper-dir/tokens.json"))
        .build()
        .unwrap();
    herd(&[keeper.client()], &echo(&server), 5).await;
    server.control().advance_clock(Duration::from_secs(31 * 60));
    herd(&[keeper.client()], &echo(&server), 5).await;

    let c = server.counters();
    assert_eq!((c.logins_ok, c.refreshes_accepted), (1, 1), "{c:?}");
    let s = keeper.store_metrics().unwrap();
    assert!(s.degraded, "{s:?}");
    assert!(s.errors >= 2, "{s:?}");
    assert_eq!(
        (s.unlocked_auth, s.locked_auth, s.saves),
        (2, 0, 0),
        "{s:?}"
    );
    assert_eq!(keeper.metrics().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_nobody_releases_is_waited_for_then_the_keeper_goes_on_alone() {
    let server = rotating_server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    let hung = store.try_lock().await.unwrap().expect("free"); // a holder that never finishes
    let clock = ManualClock::starting_now();
    let keeper = builder(&server)
        .store(store.clone())
        .store_lock_wait(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    let client = keeper.client();
    let url = echo(&server);
    let request = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });

    // Step the keeper's clock until it gives up on the lock (5 s on its clock); before that,
    // nothing is sent.
    let mut advanced = Duration::ZERO;
    for _ in 0..500 {
        if request.is_finished() {
            break;
        }
        if advanced < Duration::from_secs(5) {
            assert_eq!(server.counters().logins_ok, 0, "nothing sent while waiting");
        }
        clock.advance(Duration::from_millis(250));
        advanced += Duration::from_millis(250);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        advanced >= Duration::from_secs(5),
        "gave up after {advanced:?}"
    );
    assert_eq!(request.await.unwrap().unwrap(), 200);
    assert_eq!(server.counters().logins_ok, 1);
    let s = keeper.store_metrics().unwrap();
    assert_eq!(
        (s.lock_timeouts, s.unlocked_auth, s.locked_auth),
        (1, 1, 0),
        "{s:?}"
    );
    // Its tokens were saved all the same (a save needs no lock).
    for _ in 0..200 {
        if keeper.store_metrics().unwrap().saves == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(store.load().await.unwrap(), keeper.tokens());
    drop(hung);
}

#[tokio::test]
async fn logout_clears_the_store() {
    let server = rotating_server().await;
    let store = MemoryStore::new();
    let keeper = builder(&server).store(store.clone()).build().unwrap();
    herd(&[keeper.client()], &echo(&server), 1).await;
    assert!(store.tokens().is_some());
    keeper.logout();
    for _ in 0..200 {
        if store.tokens().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(store.tokens(), None);
}

#[tokio::test]
async fn a_damaged_file_is_counted_and_replaced_under_the_lock() {
    let server = rotating_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, b"{\"version\":1,\"tokens\":").unwrap();
    let keeper = builder(&server)
        .store(FileStore::new(&path))
        .build()
        .unwrap();
    herd(&[keeper.client()], &echo(&server), 3).await;
    // The requests went out before the save (made before the lock is released).
    for _ in 0..200 {
        if keeper.store_metrics().unwrap().saves == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    assert_eq!(server.counters().logins_ok, 1);
    let s = keeper.store_metrics().unwrap();
    assert!(s.errors >= 1, "{s:?}");
    assert_eq!(
        (s.locked_auth, s.unlocked_auth, s.saves),
        (1, 0, 1),
        "{s:?}"
    );
    assert!(!s.degraded, "the save worked: {s:?}");
    assert_eq!(FileStore::new(&path).load().await.unwrap(), keeper.tokens());
}
