//! `tokenkeeper-worker`: one process of a fleet sharing one identity through a token store,
//! for the multi-process suites (`tests/tests/reqwest_store_*.rs`) and the store benchmark
//! (`tests/src/bin/tokenkeeper-store-bench.rs`).
//!
//! It runs `--tasks` loops of `GET {server}/api/echo` through one keeper for `--duration-ms`,
//! then prints one JSON line on stdout: requests, failures (with the first few messages),
//! latency percentiles, the keeper's metrics and its store's. The password comes from the
//! environment variable `TOKENKEEPER_WORKER_PASSWORD`. Warnings (`tracing`, level WARN) go
//! to stderr.
//!
//! ```text
//! tokenkeeper-worker --server http://127.0.0.1:8001 --user alice --store file:/tmp/t.json \
//!     --token-secs 2 --duration-ms 5000
//! ```

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tokenkeeper_reqwest::core::dialect::{Credentials, Dialect};
use tokenkeeper_reqwest::store::{FileStore, RedisOptions, RedisStore};
use tokenkeeper_reqwest::{Config, Keeper};

#[derive(Debug, Parser)]
#[command(name = "tokenkeeper-worker")]
struct Args {
    /// The reference server's base URL.
    #[arg(long)]
    server: String,
    /// The user to log in as.
    #[arg(long, default_value = "alice")]
    user: String,
    /// `none`, `file:PATH` or `redis:URL`.
    #[arg(long, default_value = "none")]
    store: String,
    /// The Redis key prefix (one per identity).
    #[arg(long, default_value = "tokenkeeper")]
    redis_key: String,
    /// The Redis lock's expiry.
    #[arg(long, default_value_t = 5000)]
    lock_ttl_ms: u64,
    /// How long a login or refresh waits for the store's lock.
    #[arg(long, default_value_t = 10_000)]
    lock_wait_ms: u64,
    /// The access-token lifetime asked at login (VitalGraph `token_expiry_seconds`).
    #[arg(long, default_value_t = 2)]
    token_secs: u64,
    /// How long to send requests.
    #[arg(long, default_value_t = 5000)]
    duration_ms: u64,
    /// Concurrent request loops.
    #[arg(long, default_value_t = 2)]
    tasks: usize,
    /// Pause between two requests of one loop.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// Refresh inside the margin while the token still works (the default); off, requests
    /// wait for the refresh at expiry.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    proactive: bool,
    /// Also print every successful request's start (ms since the Unix epoch) and latency
    /// (µs), and when each set this process held was issued, in the report.
    #[arg(long)]
    samples: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokenkeeper-worker: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let password = std::env::var("TOKENKEEPER_WORKER_PASSWORD")
        .map_err(|_| "set TOKENKEEPER_WORKER_PASSWORD".to_owned())?;
    let dialect = Dialect::vitalgraph_with_expiry(&args.server, args.token_secs)
        .map_err(|e| e.to_string())?;
    let mut builder = Keeper::builder(dialect)
        .credentials(Credentials::password(&args.user, password))
        .config(Config {
            proactive: args.proactive,
            ..Config::default()
        })
        .store_lock_wait(Duration::from_millis(args.lock_wait_ms));
    if let Some(path) = args.store.strip_prefix("file:") {
        builder = builder.store(FileStore::new(path));
    } else if let Some(url) = args.store.strip_prefix("redis:") {
        let mut o = RedisOptions::new(url);
        o.key.clone_from(&args.redis_key);
        o.lock_ttl = Duration::from_millis(args.lock_ttl_ms);
        builder = builder.store(RedisStore::new(o).map_err(|e| e.to_string())?);
    } else if args.store != "none" {
        return Err(format!(
            "--store {:?}: none, file:PATH or redis:URL",
            args.store
        ));
    }
    let keeper = builder.build().map_err(|e| e.to_string())?;
    let client = keeper.client();
    let url = format!("{}/api/echo", args.server);
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    // (start, ms since the Unix epoch; latency, µs) of every successful request.
    let timed = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let end = Instant::now() + Duration::from_millis(args.duration_ms);
    let loops: Vec<_> = (0..args.tasks)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            let (latencies, errors) = (latencies.clone(), errors.clone());
            let timed = timed.clone();
            tokio::spawn(async move {
                while Instant::now() < end {
                    let t0 = Instant::now();
                    let started = wall_ms();
                    let r = client.get(&url).send().await;
                    let us = t0.elapsed().as_micros() as u64;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            latencies.lock().unwrap().push(us);
                            timed.lock().unwrap().push((started, us));
                        }
                        Ok(r) => errors
                            .lock()
                            .unwrap()
                            .push(format!("status {}", r.status())),
                        Err(e) => errors.lock().unwrap().push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
                }
            })
        })
        .collect();
    // When each set this process held was issued (a login or refresh, its own or adopted):
    // the moments of the fleet's expiries.
    let issued = tokio::spawn({
        let keeper = keeper.clone();
        async move {
            let mut seen: Vec<u64> = Vec::new();
            while Instant::now() < end {
                if let Some(t) = keeper.tokens() {
                    let at = t.issued_at.as_millis();
                    if seen.last() != Some(&at) {
                        seen.push(at);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        }
    });
    for l in loops {
        l.await.map_err(|e| e.to_string())?;
    }
    let issued = issued.await.map_err(|e| e.to_string())?;
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_unstable();
    let errors = std::mem::take(&mut *errors.lock().unwrap());
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i]
    };
    let mut report = json!({
        "pid": std::process::id(),
        "ok": lat.len(),
        "failures": errors.len(),
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
        "latency_us": {"p50": pct(0.50), "p99": pct(0.99), "max": lat.last().copied().unwrap_or(0)},
        "metrics": keeper.metrics(),
        "store": keeper.store_metrics(),
    });
    if args.samples {
        report["samples"] = json!(*timed.lock().unwrap());
        report["issued_ms"] = json!(issued);
    }
    println!("{report}");
    Ok(())
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
