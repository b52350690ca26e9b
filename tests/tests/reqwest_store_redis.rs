//! The Redis store on a real `redis-server` (Debian package, installed by `tools/setup.sh`),
//! started by each test on a free loopback port and stopped by its pid:
//!
//! - the lock: exclusive, released only by its owner;
//! - a set one keeper obtains is published and adopted by another without a request;
//! - 8 `tokenkeeper-worker` processes (2-second tokens, rotation and reuse detection on):
//!   one login, one refresh per expiry, no reuse, no failed request;
//! - Redis stopped mid-run: no request fails, each process says so (a warning and its store
//!   metrics) and carries on alone; once Redis is back they share again;
//! - the lock holder killed mid-refresh delays the others at most the lock's expiry.
//!
//! The multi-process tests run in real time (token expiry across processes is real time),
//! each bounded to a few seconds; nothing waits for a timeout.

mod store_support;

use std::time::{Duration, Instant};

use store_support::{Redis, Worker, assert_shared, rotating_server, wait_for};
use tokenkeeper_reqwest::store::{RedisOptions, RedisStore, TokenStore};
use tokenkeeper_reqwest::{Credentials, Dialect, Keeper};
use tokenkeeper_testserver::{RouteKind, TestServer};

fn store(redis: &Redis, key: &str) -> RedisStore {
    let mut o = RedisOptions::new(redis.url());
    key.clone_into(&mut o.key);
    RedisStore::new(o).unwrap()
}

fn keeper(server: &TestServer, store: RedisStore) -> Keeper {
    Keeper::builder(Dialect::vitalgraph(&server.url()).unwrap())
        .credentials(Credentials::password(
            store_support::USER,
            store_support::PASSWORD,
        ))
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_exclusive_and_released_only_by_its_owner() {
    let redis = Redis::start();
    let (a, b) = (store(&redis, "lock"), store(&redis, "lock"));
    let held = a.try_lock().await.unwrap().expect("free");
    assert!(b.try_lock().await.unwrap().is_none());
    let owner = redis.cli(&["GET", "lock:lock"]).unwrap();
    assert!(
        owner.starts_with(&format!("{}:", std::process::id())),
        "{owner}"
    );
    // The lock expired (here: deleted) and someone else took it: the first owner's release
    // must not delete the new owner's lock.
    redis.cli(&["DEL", "lock:lock"]);
    let other = b.try_lock().await.unwrap().expect("free again");
    held.release().await;
    assert!(redis.cli(&["GET", "lock:lock"]).is_some(), "still b's");
    assert!(a.try_lock().await.unwrap().is_none());
    other.release().await;
    let last = a.try_lock().await.unwrap().expect("released by b");
    let ttl: i64 = redis.cli(&["PTTL", "lock:lock"]).unwrap().parse().unwrap();
    assert!((1..=5000).contains(&ttl), "the lock expires: {ttl}");
    drop(last); // dropping releases too
    wait_for_async(|| redis.cli(&["EXISTS", "lock:lock"]).as_deref() == Some("0")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_one_keeper_obtains_is_adopted_by_another_without_a_request() {
    let redis = Redis::start();
    let server = tokio::task::spawn_blocking(rotating_server).await.unwrap();
    let url = format!("{}/api/echo", server.url());
    let a = keeper(&server, store(&redis, "pub"));
    let b = keeper(&server, store(&redis, "pub"));
    assert_eq!(a.client().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(b.client().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(server.counters().logins_ok, 1);

    server.control().advance_clock(Duration::from_secs(31 * 60));
    assert_eq!(a.client().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(server.counters().refreshes_accepted, 1);
    let new = a.tokens();
    wait_for_async(|| b.tokens() == new).await;
    assert_eq!(b.metrics().requests, 1, "b sent nothing more");
    assert_eq!(
        b.store_metrics().unwrap().adopted,
        2,
        "the login and the refresh"
    );
    assert_eq!(b.client().get(&url).send().await.unwrap().status(), 200);
    let c = server.counters();
    assert_eq!(
        (c.refreshes_accepted, c.protected_unauthorized),
        (1, 1),
        "{c:?}"
    );
}

async fn wait_for_async(mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("not within 5 s");
}

fn worker_args<'a>(store: &'a str, duration_ms: &'a str) -> Vec<&'a str> {
    vec![
        "--store",
        store,
        "--redis-key",
        "fleet",
        "--token-secs",
        "2",
        "--duration-ms",
        duration_ms,
    ]
}

#[test]
fn eight_processes_share_one_login_and_one_refresh_per_expiry_through_redis() {
    let redis = Redis::start();
    let server = rotating_server();
    let store = format!("redis:{}", redis.url());
    let args = worker_args(&store, "5000");
    let workers: Vec<Worker> = (0..8).map(|_| Worker::spawn(&server, &args)).collect();
    let reports: Vec<_> = workers.into_iter().map(Worker::report).collect();

    let c = server.counters();
    assert_shared(&reports, &c);
    assert!(
        (3..=6).contains(&c.refreshes_accepted),
        "one refresh per expiry (a refresh every second): {c:?}"
    );
    for r in &reports {
        assert_eq!(
            (r.store("errors"), r.store("unlocked_auth")),
            (0, 0),
            "{:?}",
            r.json
        );
    }
    let adopted: u64 = reports.iter().map(|r| r.store("adopted")).sum();
    assert!(adopted >= 7 * 3, "{adopted}");
}

#[test]
fn redis_stopped_mid_run_costs_no_request_and_the_fleet_shares_again_once_it_is_back() {
    let mut redis = Redis::start();
    let server = rotating_server();
    let store = format!("redis:{}", redis.url());
    let args = worker_args(&store, "8000");
    let started = Instant::now();
    let workers: Vec<Worker> = (0..8).map(|_| Worker::spawn(&server, &args)).collect();
    wait_for(Duration::from_secs(5), "two refreshes", || {
        server.counters().refreshes_accepted >= 2
    });
    redis.stop();
    let down = server.counters();
    // A few expiries without Redis: the processes refresh (or log in) alone.
    let ops = |c: &tokenkeeper_testserver::Counters| c.refreshes_accepted + c.logins_ok;
    wait_for(
        Duration::from_secs(5),
        "auth operations during the outage",
        || ops(&server.counters()) >= ops(&down) + 8,
    );
    redis.restart();
    let back = server.counters();
    let back_at = started.elapsed();
    let reports: Vec<_> = workers.into_iter().map(Worker::report).collect();
    let end = server.counters();
    eprintln!("before the outage {down:?}\nback {back:?}\nend {end:?}");

    for r in &reports {
        assert_eq!(r.failures(), 0, "no request lost: {:?}", r.json);
        assert!(r.store("errors") > 0, "{:?}", r.json);
        assert!(
            r.stderr.contains("carrying on alone"),
            "a warning: {}",
            r.stderr
        );
    }
    assert_eq!(down.logins_ok, 1, "shared before the outage: {down:?}");
    let alone: u64 = reports.iter().map(|r| r.store("unlocked_auth")).sum();
    assert!(alone > 0, "refreshed alone during the outage");
    // Once back, the processes adopt each other's sets again: the last expiries cost one
    // refresh each (a refresh a second), not one per process (8 a second).
    let tail_secs = (Duration::from_millis(8000).saturating_sub(back_at)).as_secs_f64();
    let tail = ops(&end).saturating_sub(ops(&back));
    assert!(
        (tail as f64) <= tail_secs + 2.0,
        "sharing again after Redis came back: {tail} auth operations in {tail_secs:.1} s ({back:?} -> {end:?})"
    );
}

#[test]
fn killing_the_lock_holder_mid_refresh_delays_the_others_at_most_the_lock_expiry() {
    let redis = Redis::start();
    let server = rotating_server();
    let control = server.control();
    let store = format!("redis:{}", redis.url());
    let mut args = worker_args(&store, "4000");
    args.extend(["--lock-ttl-ms", "1000"]);
    let mut workers: Vec<Worker> = (0..4).map(|_| Worker::spawn(&server, &args)).collect();
    wait_for(Duration::from_secs(5), "the first login", || {
        server.counters().logins_ok == 1
    });
    control.set_latency(RouteKind::Refresh, Duration::from_millis(1500));
    let mut holder = None;
    wait_for(Duration::from_secs(3), "a worker holding the lock", || {
        holder = redis
            .cli(&["GET", "fleet:lock"])
            .and_then(|owner| owner.split(':').next()?.parse::<u32>().ok())
            .filter(|pid| workers.iter().any(|w| w.pid() == *pid));
        holder.is_some()
    });
    let i = workers
        .iter()
        .position(|w| Some(w.pid()) == holder)
        .unwrap();
    let auth_ops = || {
        let c = server.counters();
        c.refreshes_accepted + c.logins_ok
    };
    let before = auth_ops();
    let mut killed = workers.remove(i);
    killed.child.kill().unwrap(); // SIGKILL
    control.set_latency(RouteKind::Refresh, Duration::ZERO);
    let took = wait_for(
        Duration::from_secs(4),
        "a refresh by another process",
        || auth_ops() > before,
    );
    assert!(!killed.child.wait().unwrap().success());
    eprintln!("the next login or refresh came {took:?} after the kill");
    let reports: Vec<_> = workers.into_iter().map(Worker::report).collect();
    for r in &reports {
        assert_eq!(r.failures(), 0, "{:?}", r.json);
    }
    // The lock's expiry (1 s), then a try of the lock, a look and a refresh: well under a
    // second more, even on a loaded machine.
    assert!(
        took < Duration::from_millis(1000 + 1000),
        "at most the lock's expiry (1 s) and a refresh: {took:?}"
    );
    let c = server.counters();
    assert!(c.logins_ok <= 2 && c.reuse_detections <= 1, "{c:?}");
}
