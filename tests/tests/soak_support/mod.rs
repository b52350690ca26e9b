//! The soak under faults: the native client against the reference server (a child process,
//! so the client's CPU can be read apart), with 2-second access tokens, rotation with reuse
//! detection, and random faults: valid tokens refused with 401, API answers 503 with
//! `Retry-After`, dropped connections, refreshes answered 503. A GET/POST mix from many
//! concurrent tasks; every failure is classified. Run short by `tests/tests/soak.rs` and in
//! full by `cargo bench -p tokenkeeper-testserver --bench soak` (see BENCHMARKS.md).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokenkeeper_core::{Error as EngineError, TransportStop};
use tokenkeeper_reqwest::{Credentials, Dialect, Error, Keeper};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

pub const USER: &str = "soak";
pub const PASSWORD: &str = "soak-pw-4b1d";

/// The scenario.
#[derive(Clone, Debug)]
pub struct Options {
    pub requests: u64,
    pub concurrency: usize,
    pub token_secs: u64,
    /// Share of requests that are POSTs (the rest are GETs).
    pub post_share: f64,
    pub rate_401: f64,
    pub rate_503: f64,
    pub rate_drop: f64,
    pub rate_refresh_503: f64,
    /// `Retry-After` of the injected 503s, in seconds.
    pub retry_after: u64,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            requests: 100_000,
            concurrency: 64,
            token_secs: 2,
            post_share: 0.2,
            rate_401: 0.05,
            rate_503: 0.05,
            rate_drop: 0.02,
            rate_refresh_503: 0.10,
            retry_after: 1,
            seed: 7,
        }
    }
}

/// The reference server as a child process.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenkeeper-testserver"))
            .args(["--user", &format!("{USER}:{PASSWORD}"), "--no-cors"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tokenkeeper-testserver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("tokenkeeper-testserver listening on ")
            .expect("the server prints its URL")
            .to_owned();
        Server { child, url }
    }
}

/// What the soak measured.
#[derive(Debug, Default)]
pub struct Report {
    pub requests: u64,
    pub ok: u64,
    /// Failures by class (see [`classify`]).
    pub failures: BTreeMap<&'static str, u64>,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub client_cpu: Duration,
    pub server: Value,
    pub refreshes: u64,
    pub logins: u64,
    pub unauthorized_resends: u64,
    pub transient_resends: u64,
    /// Logins and refreshes started, by kind and reason (from the driver's `tokenkeeper_auth`
    /// spans).
    pub auth_reasons: BTreeMap<String, u64>,
}

impl Report {
    /// Failures that a resend could still have cured: the goal is none.
    pub fn lost(&self) -> u64 {
        self.failures
            .iter()
            .filter(|(class, _)| class.starts_with("lost"))
            .map(|(_, n)| n)
            .sum()
    }

    /// Token lifetimes the run spanned (each is one refresh when nothing else forces one).
    pub fn expiries(&self, token_secs: u64) -> f64 {
        self.elapsed.as_secs_f64() / token_secs as f64
    }

    pub fn render(&self, o: &Options) -> String {
        let mut s = String::new();
        let c = |k: &str| self.server[k].as_u64().unwrap_or(0);
        let _ = writeln!(
            s,
            "{} requests ({} concurrent, {:.0} % POST) in {:.1} s: {} ok, {} failed, {} lost",
            self.requests,
            o.concurrency,
            o.post_share * 100.0,
            self.elapsed.as_secs_f64(),
            self.ok,
            self.requests - self.ok,
            self.lost()
        );
        for (class, n) in &self.failures {
            let _ = writeln!(s, "  failed: {n:>6}  {class}");
        }
        let _ = writeln!(
            s,
            "latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; client CPU {:.1} µs per request",
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.max.as_secs_f64() * 1e3,
            self.client_cpu.as_secs_f64() * 1e6 / self.requests as f64
        );
        let _ = writeln!(
            s,
            "refreshes {} (server accepted {}, faulted {}) over {:.0} token lifetimes of {} s; logins {}; reuse detections {}",
            self.refreshes,
            c("refreshes_accepted"),
            c("refreshes_faulted"),
            self.expiries(o.token_secs),
            o.token_secs,
            self.logins,
            c("reuse_detections")
        );
        let reasons: Vec<String> = self
            .auth_reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        let _ = writeln!(s, "auth operations started: {}", reasons.join(", "));
        let _ = writeln!(
            s,
            "injected: {} 401s, {} 503s, {} dropped connections; the client resent {} after a 401 and {} after a transient failure",
            c("protected_injected_401"),
            c("protected_injected_503"),
            c("dropped_connections"),
            self.unauthorized_resends,
            self.transient_resends
        );
        s
    }
}

/// Sorts a failed request: what the engine gave up on, and why.
pub fn classify(outcome: &Result<u16, Error>) -> Option<&'static str> {
    match outcome {
        Ok(s) if (200..300).contains(s) => None,
        Ok(401) => Some("401 delivered after a refresh and one resend (auth retry spent)"),
        Ok(503) => Some("503 delivered after the resend limit (retry budget spent)"),
        Ok(_) => Some("lost: another status"),
        Err(e) => Some(match e.engine() {
            Some(EngineError::Transport { stopped, .. }) => match stopped {
                TransportStop::NotIdempotent => {
                    "transport: a POST that may have run, not resent (by design)"
                }
                TransportStop::ResendLimit => {
                    "transport: resend limit reached (retry budget spent)"
                }
                TransportStop::BackoffBudget => {
                    "transport: backoff budget spent (retry budget spent)"
                }
                _ => "lost: transport, other",
            },
            Some(EngineError::AuthUnavailable { .. }) => {
                "auth unavailable: refresh attempts spent (retry budget spent)"
            }
            Some(_) => "lost: engine error",
            None => "lost: driver error",
        }),
    }
}

async fn faults(http: &reqwest::Client, url: &str, body: &Value) {
    let r = http
        .post(format!("{url}/_control/faults"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

/// User+system CPU time of this process.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces: the fields start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // The fields after the name start with the state (field 3): utime and stime, fields 14
    // and 15, are at 11 and 12 here.
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = tick(11) + tick(12);
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

/// Counts the driver's `tokenkeeper_auth` spans by kind and reason.
#[derive(Clone, Default)]
struct Reasons(Arc<std::sync::Mutex<BTreeMap<String, u64>>>);

struct KindReason(String, String);

impl Visit for KindReason {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "kind" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "reason" => self.1 = format!("{value:?}"),
            "kind" => format!("{value:?}")
                .trim_matches('"')
                .clone_into(&mut self.0),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Reasons {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        if attrs.metadata().name() == "tokenkeeper_auth" {
            let mut v = KindReason(String::new(), String::new());
            attrs.record(&mut v);
            *self
                .0
                .lock()
                .unwrap()
                .entry(format!("{} ({})", v.0, v.1))
                .or_default() += 1;
        }
    }
}

/// Runs the soak against a fresh server.
pub async fn run(o: &Options) -> Report {
    let reasons = Reasons::default();
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(reasons.clone()),
    );
    let server = Server::start();
    let http = reqwest::Client::new();
    faults(
        &http,
        &server.url,
        &json!({
            "rotation": true,
            "reuse_detection": true,
            "random_401": {"rate": o.rate_401, "seed": o.seed},
            "random_503": {"rate": o.rate_503, "seed": o.seed + 1, "retry_after": o.retry_after},
            "random_drop": {"rate": o.rate_drop, "seed": o.seed + 2},
            "random_refresh_503": {"rate": o.rate_refresh_503, "seed": o.seed + 3, "retry_after": o.retry_after},
        }),
    )
    .await;
    let dialect = Dialect::vitalgraph_with_expiry(&server.url, o.token_secs).unwrap();
    let keeper = Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .seed(o.seed)
        .build()
        .unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let url = format!("{}/api/echo", server.url);
    let cpu0 = cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..o.concurrency)
        .map(|t| {
            let (client, url, next) = (keeper.client(), url.clone(), Arc::clone(&next));
            let (total, posts) = (o.requests, (o.post_share * 1000.0) as u64);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return seen;
                    }
                    let post = (n.wrapping_mul(2_654_435_761) ^ t as u64) % 1000 < posts;
                    let at = Instant::now();
                    let sent = if post {
                        client.post(&url).json(&json!({"n": n})).send().await
                    } else {
                        client.get(&url).send().await
                    };
                    let outcome = sent.map(|r| r.status().as_u16());
                    seen.push((at.elapsed(), classify(&outcome)));
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(o.requests as usize);
    let mut report = Report::default();
    for t in tasks {
        for (latency, failure) in t.await.unwrap() {
            latencies.push(latency);
            match failure {
                None => report.ok += 1,
                Some(class) => *report.failures.entry(class).or_default() += 1,
            }
        }
    }
    report.elapsed = started.elapsed();
    report.client_cpu = cpu().saturating_sub(cpu0);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    report.requests = latencies.len() as u64;
    report.p50 = pct(0.50);
    report.p99 = pct(0.99);
    report.max = *latencies.last().unwrap();
    report.server = http
        .get(format!("{}/_control/counters", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = keeper.metrics();
    report.refreshes = m.refresh_count;
    report.logins = m.logins;
    report.unauthorized_resends = m.unauthorized_resends;
    report.transient_resends = m.transient_resends;
    report.auth_reasons = reasons.0.lock().unwrap().clone();
    report
}
