//! `tokenkeeper-store-bench`: what sharing one identity through a token store costs and
//! saves, run by hand for BENCHMARKS.md (not a test: it takes minutes).
//!
//! For each store (`none`: every process on its own; `file`; `redis`) and each number of
//! processes, it starts the reference server in-process (rotation and reuse detection on),
//! runs that many `tokenkeeper-worker` processes for `--duration-ms` with 2-second tokens, and
//! prints one Markdown row: server refreshes and logins, refreshes per expiry, and request
//! latency at an expiry against the rest. "At an expiry": requests that started within 200 ms
//! of the moment a new set was issued (the fleet's refreshes, as each worker saw them); the
//! added latency is their p99 minus the p99 of the others. Needs `redis-server` for `redis`.
//!
//! ```text
//! cargo build --release -p tokenkeeper-testserver --bins
//! target/release/tokenkeeper-store-bench --processes 1,8,32 --stores none,file,redis
//! ```

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use tokenkeeper_testserver::{ServerConfig, TestServer};

#[derive(Debug, Parser)]
#[command(name = "tokenkeeper-store-bench")]
struct Args {
    /// Numbers of processes, comma-separated.
    #[arg(long, default_value = "1,8,32", value_delimiter = ',')]
    processes: Vec<usize>,
    /// Stores, comma-separated: none, file, redis.
    #[arg(long, default_value = "none,file,redis", value_delimiter = ',')]
    stores: Vec<String>,
    /// How long each run sends requests (not a whole number of seconds, so the last expiry
    /// is not on the edge).
    #[arg(long, default_value_t = 6500)]
    duration_ms: u64,
    /// Request loops per process.
    #[arg(long, default_value_t = 2)]
    tasks: usize,
    /// Pass `--proactive false` to the workers: requests wait for the refresh at expiry.
    #[arg(long)]
    no_proactive: bool,
}

const PASSWORD: &str = "bench-password";
/// A 2-second token is refreshed half-way through its life: one expiry per second, the
/// first a second after the login.
const CADENCE_MS: u64 = 1000;

struct Run {
    refreshes: u64,
    logins: u64,
    reuse: u64,
    failures: u64,
    /// Latencies (µs) of requests at an expiry, and of the others.
    at: Vec<u64>,
    rest: Vec<u64>,
}

/// Requests that started this close to a set's issue are "at an expiry".
const WINDOW_MS: u64 = 200;

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn worker_path() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("tokenkeeper-worker")
}

fn run(args: &Args, store: &str, n: usize, redis_url: Option<&str>) -> Run {
    let server = TestServer::start_blocking(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default()
            .with_user("alice", PASSWORD)
            .with_rotation(true)
            .with_reuse_detection(true),
    )
    .expect("server");
    let dir = tempfile_dir();
    let store_arg = match store {
        "file" => format!("file:{}/tokens.json", dir.display()),
        "redis" => format!("redis:{}", redis_url.expect("redis url")),
        _ => "none".to_owned(),
    };
    let key = format!("bench-{}-{store}-{n}", std::process::id());
    let children: Vec<Child> = (0..n)
        .map(|_| {
            Command::new(worker_path())
                .args(["--server", &server.url(), "--store", &store_arg])
                .args(["--redis-key", &key, "--samples"])
                .args(["--token-secs", "2"])
                .args(["--duration-ms", &args.duration_ms.to_string()])
                .args(["--tasks", &args.tasks.to_string()])
                .args([
                    "--proactive",
                    if args.no_proactive { "false" } else { "true" },
                ])
                .env("TOKENKEEPER_WORKER_PASSWORD", PASSWORD)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("worker")
        })
        .collect();
    let mut reports = Vec::new();
    let mut failures = 0;
    for c in children {
        let out = c.wait_with_output().expect("worker output");
        let v: Value = serde_json::from_slice(&out.stdout).expect("worker report");
        failures += v["failures"].as_u64().unwrap_or(0);
        reports.push(v);
    }
    // Every moment a set was issued, as any worker saw it (the login and each refresh).
    let mut issued: Vec<u64> = reports
        .iter()
        .flat_map(|v| {
            v["issued_ms"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64)
        })
        .collect();
    issued.sort_unstable();
    issued.dedup();
    let (mut at, mut rest) = (Vec::new(), Vec::new());
    for v in &reports {
        for s in v["samples"].as_array().unwrap() {
            let (start, us) = (s[0].as_u64().unwrap(), s[1].as_u64().unwrap());
            let near = issued
                .iter()
                .skip(1) // the login is not an expiry
                .any(|&t| start + WINDOW_MS >= t && start <= t + WINDOW_MS);
            if near { at.push(us) } else { rest.push(us) }
        }
    }
    at.sort_unstable();
    rest.sort_unstable();
    let _ = std::fs::remove_dir_all(&dir);
    let c = server.counters();
    Run {
        refreshes: c.refreshes_accepted,
        logins: c.logins_ok,
        reuse: c.reuse_detections,
        failures,
        at,
        rest,
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("tokenkeeper-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A redis-server on a free loopback port, without persistence.
fn start_redis() -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (tools/setup.sh installs it)");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, format!("redis://127.0.0.1:{port}/"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not start");
}

fn main() {
    let args = Args::parse();
    let mut redis = args.stores.iter().any(|s| s == "redis").then(start_redis);
    let url = redis.as_ref().map(|(_, u)| u.clone());
    println!(
        "| store | processes | server refreshes | logins | refreshes per expiry | reuse | failed | requests at an expiry | p50 / p99 / max at an expiry | p99 otherwise | p99 added |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Proactive: a 2-second token is refreshed half-way (margin); otherwise at the engine's
    // expiry floor, 500 ms before it expires.
    let cadence_ms = if args.no_proactive { 1500 } else { CADENCE_MS };
    let expiries = (args.duration_ms / cadence_ms) as f64;
    for store in &args.stores {
        for &n in &args.processes {
            let r = run(&args, store, n, url.as_deref());
            let (p99, p99_rest) = (pct(&r.at, 0.99), pct(&r.rest, 0.99));
            println!(
                "| {store} | {n} | {} | {} | {:.2} | {} | {} | {} | {:.1} / {:.1} / {:.1} ms | {:.1} ms | {:+.1} ms |",
                r.refreshes,
                r.logins,
                r.refreshes as f64 / expiries,
                r.reuse,
                r.failures,
                r.at.len(),
                pct(&r.at, 0.50),
                p99,
                pct(&r.at, 1.0),
                p99_rest,
                p99 - p99_rest,
            );
        }
    }
    if let Some((child, _)) = &mut redis {
        let _ = child.kill();
        let _ = child.wait();
    }
}
