//! A quick overhead check of the keeper against raw reqwest on loopback (64 concurrent,
//! 20,000 requests each, interleaved runs). Ignored by default; run it optimised:
//!
//! ```text
//! cargo test --release -p tokenkeeper-testserver --test reqwest_overhead -- --ignored --nocapture
//! ```

mod reqwest_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest_support::{default_server, echo, keeper, warm_up};

const CONCURRENCY: usize = 64;
const REQUESTS: usize = 20_000;

/// Runs `REQUESTS` requests with `CONCURRENCY` workers; returns (requests/s, p50, p99).
async fn run<F, Fut>(send: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let send = Arc::new(send);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (send, next) = (Arc::clone(&send), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    let t = Instant::now();
                    assert_eq!(send().await, 200);
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::with_capacity(REQUESTS);
    for w in futures::future::join_all(workers).await {
        all.extend(w.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (REQUESTS as f64 / elapsed.as_secs_f64(), pct(0.5), pct(0.99))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --release -- --ignored --nocapture"]
async fn overhead_against_raw_reqwest() {
    let server = default_server().await;
    let keeper = keeper(&server);
    warm_up(&keeper, &server).await;
    let url = echo(&server);
    let bearer = format!("Bearer {}", keeper.tokens().unwrap().access_token.expose());
    let raw = reqwest::Client::new();
    let kept = keeper.client();

    for round in 0..4 {
        let (raw, url1, bearer) = (raw.clone(), url.clone(), bearer.clone());
        let r = run(move || {
            let req = raw.get(&url1).header("authorization", &bearer).send();
            async move { req.await.unwrap().status().as_u16() }
        })
        .await;
        let (kept, url2) = (kept.clone(), url.clone());
        let k = run(move || {
            let req = kept.get(&url2).send();
            async move { req.await.unwrap().status().as_u16() }
        })
        .await;
        eprintln!(
            "round {round}: raw {:.0} req/s p50 {:?} p99 {:?} | keeper {:.0} req/s p50 {:?} p99 {:?} | throughput ×{:.3}, p99 ×{:.3}",
            r.0,
            r.1,
            r.2,
            k.0,
            k.1,
            k.2,
            k.0 / r.0,
            k.2.as_secs_f64() / r.2.as_secs_f64()
        );
    }
    assert_eq!(keeper.metrics().failures, 0);
}
