//! Overhead of `tokenkeeper-reqwest` against raw reqwest on loopback, and the herd at expiry.
//!
//! ```text
//! cargo bench -p tokenkeeper-testserver --bench overhead               # under 2 minutes
//! cargo bench -p tokenkeeper-testserver --bench overhead -- --quick    # CI-sized, ~10 s
//! ```
//!
//! The reference server runs as a separate process (the `tokenkeeper-testserver` binary, so
//! client and server never share a runtime or a profile); `--in-process` runs it on its own
//! thread and runtime in this process instead.
//!
//! **Overhead.** Both clients share one `reqwest::Client` (the same connection pool): *raw*
//! sends `GET /api/echo` with a valid `Authorization: Bearer` header set by hand, *keeper*
//! sends the same request through the keeper's `Client`, which attaches the header itself.
//! `--concurrency` tasks (64) send `--requests` requests (20,000) per round and read each
//! body. After a warm-up of both, rounds alternate raw, keeper, keeper, raw, raw, keeper...
//! (ABBA, so a drifting load favours neither), up to `--rounds` (80) per mode or until
//! `--budget` seconds (180) are spent, whichever comes first. Reported: the medians over
//! rounds, and the median of the per-round keeper/raw ratios with a distribution-free 95 %
//! confidence interval, so a goal is called met or missed only when the interval says so.
//! The token lives 30 minutes: nothing is refreshed in the measured window (checked).
//! Alongside wall-clock throughput and latency the bench reports the CPU time this process
//! and the server spent per request (summed over their threads from
//! `/proc/<pid>/task/*/schedstat`), and the cores other processes kept busy meanwhile
//! (`/proc/stat` minus client and server): the noise to read the figures against.
//!
//! **Herd.** 1,000 requests start at once through the keeper: with a valid token (the
//! baseline), right after the keeper's token expired (`expired`: every request waits for one
//! refresh), and after the server's clock jumped past the token's expiry while the keeper
//! still believes it valid (`server-expired`: requests come back 401, one refresh, each is
//! resent once). Reported: the time from expiry (the herd's start) to the last response,
//! and the refreshes the server counted. Any herd with a refresh count other than exactly
//! one (zero for the baseline), a non-200 answer, or a refresh during the overhead rounds
//! makes the bench exit non-zero.
//!
//! Options: `--quick`, `--rounds N`, `--budget SECONDS`, `--requests N`, `--warm-up N`,
//! `--concurrency N`, `--herd N`, `--herd-rounds N`, `--threads N` (client runtime workers,
//! default 2), `--no-herd`, `--only raw|keeper` (one side only, no herd: for
//! `valgrind --tool=callgrind`, which does not trace the server process), `--in-process`,
//! `--plain` (the keeper without its fast path, `KeeperBuilder::fast_path(false)`: every
//! request takes the plain path through the engine; shows what the fast path gains).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use tokenkeeper_core::Timestamp;
use tokenkeeper_reqwest::{Credentials, Dialect, Keeper, TokenSet};
use tokenkeeper_testserver::{Counters, ServerConfig, TestServer};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

/// What to run, from the command line.
#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    budget: Duration,
    requests: usize,
    warm_up: usize,
    concurrency: usize,
    herd: usize,
    herd_rounds: usize,
    threads: usize,
    only: Option<Mode>,
    in_process: bool,
    plain: bool,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut o = Options {
            rounds: 80,
            budget: Duration::from_secs(180),
            requests: 20_000,
            warm_up: 4_000,
            concurrency: 64,
            herd: 1_000,
            herd_rounds: 3,
            threads: 2,
            only: None,
            in_process: false,
            plain: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name} needs a positive number"))
            };
            match arg.as_str() {
                // `cargo bench` passes `--bench`; a filter may follow the binary's name.
                "--bench" => {}
                "--quick" => {
                    o.rounds = 2;
                    o.budget = Duration::from_secs(20);
                    o.requests = 5_000;
                    o.warm_up = 1_000;
                    o.herd_rounds = 1;
                }
                "--rounds" => o.rounds = number("--rounds")?,
                "--budget" => o.budget = Duration::from_secs(number("--budget")? as u64),
                "--requests" => o.requests = number("--requests")?,
                "--warm-up" => o.warm_up = number("--warm-up")?,
                "--concurrency" => o.concurrency = number("--concurrency")?,
                "--herd" => o.herd = number("--herd")?,
                "--herd-rounds" => o.herd_rounds = number("--herd-rounds")?,
                "--threads" => o.threads = number("--threads")?,
                "--no-herd" => o.herd_rounds = 0,
                "--in-process" => o.in_process = true,
                "--plain" => o.plain = true,
                "--only" => {
                    o.only = match args.next().as_deref() {
                        Some("raw") => Some(Mode::Raw),
                        Some("keeper") => Some(Mode::Keeper),
                        _ => return Err("--only takes raw or keeper".to_owned()),
                    };
                    o.herd_rounds = 0;
                }
                other => return Err(format!("unknown argument {other:?} (see the bench's docs)")),
            }
        }
        Ok(o)
    }
}

// ---- the server ------------------------------------------------------------------------

/// The reference server: a child process, or one on its own thread in this process.
enum Server {
    Process { child: Child, url: String },
    InProcess(TestServer),
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Process { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    fn start(in_process: bool) -> Result<Server, String> {
        let config = ServerConfig::default().with_user(USER, PASSWORD);
        if in_process {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            return TestServer::start_blocking(addr, config)
                .map(Server::InProcess)
                .map_err(|e| format!("in-process server: {e}"));
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenkeeper-testserver"))
            .args(["--user", &format!("{USER}:{PASSWORD}"), "--no-cors"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start tokenkeeper-testserver: {e}"))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let url = line
            .trim()
            .strip_prefix("tokenkeeper-testserver listening on ")
            .map(str::to_owned);
        if let (Some(Ok(_)), Some(url)) = (read, url) {
            Ok(Server::Process { child, url })
        } else {
            let _ = child.kill();
            Err(format!("tokenkeeper-testserver said {line:?}"))
        }
    }

    fn url(&self) -> String {
        match self {
            Server::Process { url, .. } => url.clone(),
            Server::InProcess(s) => s.url(),
        }
    }

    fn pid(&self) -> Option<u32> {
        match self {
            Server::Process { child, .. } => Some(child.id()),
            Server::InProcess(_) => None,
        }
    }

    async fn counters(&self, http: &reqwest::Client) -> Result<Counters, String> {
        match self {
            Server::InProcess(s) => Ok(s.counters()),
            Server::Process { url, .. } => http
                .get(format!("{url}/_control/counters"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string()),
        }
    }

    async fn advance_clock(&self, http: &reqwest::Client, by: Duration) -> Result<(), String> {
        match self {
            Server::InProcess(s) => {
                s.control().advance_clock(by);
                Ok(())
            }
            Server::Process { url, .. } => {
                let r = http
                    .post(format!("{url}/_control/faults"))
                    .json(&serde_json::json!({ "advance_clock_ms": by.as_millis() as u64 }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("advance_clock: {}", r.status()))
                }
            }
        }
    }
}

// ---- CPU accounting -------------------------------------------------------------------------

/// Nanoseconds on CPU of every live thread of a process (`/proc/<pid>/task/*/schedstat`).
fn cpu_ns(pid: &str) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        total += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// Busy and total jiffies of the whole machine (`/proc/stat`).
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3)? + cpu.get(4)?;
    Some((total - idle, total))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// CPU used over one measured window: by this process, by the server process, by everyone.
struct CpuWindow {
    client_ns: Option<u64>,
    server_ns: Option<u64>,
    machine: Option<(u64, u64)>,
}

impl CpuWindow {
    fn start(server: Option<u32>) -> CpuWindow {
        CpuWindow {
            client_ns: cpu_ns("self"),
            server_ns: server.and_then(|p| cpu_ns(&p.to_string())),
            machine: machine_jiffies(),
        }
    }

    /// (client ns, server ns, cores busy on the whole machine) since `self`.
    fn end(&self, server: Option<u32>, wall: Duration) -> (Option<u64>, Option<u64>, Option<f64>) {
        let client = cpu_ns("self")
            .zip(self.client_ns)
            .map(|(b, a)| b.saturating_sub(a));
        let server = server
            .and_then(|p| cpu_ns(&p.to_string()))
            .zip(self.server_ns)
            .map(|(b, a)| b.saturating_sub(a));
        // Jiffies are 1/100 s on Linux (USER_HZ).
        let busy = machine_jiffies()
            .zip(self.machine)
            .map(|((b1, _), (b0, _))| (b1 - b0) as f64 / 100.0 / wall.as_secs_f64());
        (client, server, busy)
    }
}

// ---- the overhead rounds ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Raw,
    Keeper,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Keeper => "keeper",
        }
    }
}

/// What both modes send with.
struct Clients {
    raw: reqwest::Client,
    bearer: HeaderValue,
    keeper: tokenkeeper_reqwest::Client,
    url: String,
}

/// One measured round.
#[derive(Debug, Clone, Copy)]
struct Round {
    throughput: f64,
    p50: Duration,
    p99: Duration,
    client_cpu_us: Option<f64>,
    server_cpu_us: Option<f64>,
    /// Cores kept busy by other processes during the round (machine minus client and server).
    others_busy: Option<f64>,
}

/// Sends one request in `mode` and reads its body; returns the status.
async fn send(clients: &Clients, mode: Mode) -> Result<u16, String> {
    let response = match mode {
        Mode::Raw => clients
            .raw
            .get(&clients.url)
            .header(AUTHORIZATION, clients.bearer.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?,
        Mode::Keeper => clients
            .keeper
            .get(&clients.url)
            .send()
            .await
            .map_err(|e| e.to_string())?,
    };
    let status = response.status().as_u16();
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(status)
}

/// `requests` requests from `concurrency` tasks; every answer must be a 200.
async fn round(
    clients: &Arc<Clients>,
    mode: Mode,
    requests: usize,
    concurrency: usize,
    server_pid: Option<u32>,
) -> Result<Round, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = CpuWindow::start(server_pid);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (clients, next) = (Arc::clone(clients), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(requests / concurrency + 1);
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    let status = send(&clients, mode).await?;
                    latencies.push(t.elapsed());
                    if status != 200 {
                        return Err(format!("{} got {status}", mode.name()));
                    }
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(requests);
    for w in futures::future::join_all(workers).await {
        all.extend(w.map_err(|e| e.to_string())??);
    }
    let wall = started.elapsed();
    let (client_ns, server_ns, machine_busy) = cpu.end(server_pid, wall);
    let ours = client_ns.unwrap_or(0) + server_ns.unwrap_or(0);
    let others_busy = machine_busy.map(|b| (b - ours as f64 / 1e9 / wall.as_secs_f64()).max(0.0));
    all.sort_unstable();
    let per_request = |ns: u64| ns as f64 / 1000.0 / requests as f64;
    Ok(Round {
        throughput: requests as f64 / wall.as_secs_f64(),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        client_cpu_us: client_ns.map(per_request),
        server_cpu_us: server_ns.map(per_request),
        others_busy,
    })
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A median with a distribution-free confidence interval of about 95 % for it: the order
/// statistics `k` and `n - 1 - k` of the sorted sample, `k = ⌊(n − 1.96 √n) / 2⌋`. Below 6
/// samples even the whole range covers the median with less than 95 %: no interval then.
struct MedianCi {
    median: f64,
    interval: Option<(f64, f64)>,
}

fn median_ci(mut v: Vec<f64>) -> MedianCi {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let interval = (n >= 6).then(|| {
        let k = ((n as f64 - 1.96 * (n as f64).sqrt()) / 2.0)
            .floor()
            .max(0.0) as usize;
        (v[k], v[n - 1 - k])
    });
    MedianCi {
        median: median(v),
        interval,
    }
}

/// `x (lo–hi)` for a median and its interval.
fn fmt_ci(m: &MedianCi, digits: usize) -> String {
    match m.interval {
        Some((lo, hi)) => format!("{:.digits$} ({lo:.digits$}–{hi:.digits$})", m.median),
        None => format!("{:.digits$} (no interval: fewer than 6 rounds)", m.median),
    }
}

/// Whether a ratio's interval lies on the good side of the goal.
fn verdict(m: &MedianCi, goal: f64, higher_is_better: bool) -> &'static str {
    let Some((lo, hi)) = m.interval else {
        return "not resolved (too few rounds)";
    };
    let (good, bad) = if higher_is_better {
        (lo >= goal, hi < goal)
    } else {
        (hi <= goal, lo > goal)
    };
    match (good, bad) {
        (true, _) => "met",
        (_, true) => "missed",
        _ => "not resolved (the interval straddles the goal)",
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "?".to_owned(), |v| format!("{v:.digits$}"))
}

/// Medians of one mode's rounds.
struct Summary {
    throughput: f64,
    p50: f64,
    p99: f64,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

fn summarize(rounds: &[Round]) -> Summary {
    let opt =
        |f: fn(&Round) -> Option<f64>| rounds.iter().map(f).collect::<Option<Vec<_>>>().map(median);
    Summary {
        throughput: median(rounds.iter().map(|r| r.throughput).collect()),
        p50: median(rounds.iter().map(|r| us(r.p50)).collect()),
        p99: median(rounds.iter().map(|r| us(r.p99)).collect()),
        client_cpu: opt(|r| r.client_cpu_us),
        server_cpu: opt(|r| r.server_cpu_us),
    }
}

// ---- the herd ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Herd {
    /// A valid token: no refresh (the baseline).
    Valid,
    /// The keeper's token expired: every request waits for one refresh.
    Expired,
    /// The server's clock passed the token's expiry; the keeper still thinks it valid.
    ServerExpired,
}

impl Herd {
    fn name(self) -> &'static str {
        match self {
            Herd::Valid => "valid token",
            Herd::Expired => "expired",
            Herd::ServerExpired => "server-expired",
        }
    }

    fn refreshes_expected(self) -> u64 {
        u64::from(self != Herd::Valid)
    }
}

/// One herd: (time to the last response, time to the median response, refreshes, 401s).
struct HerdRun {
    last: Duration,
    median: Duration,
    refreshes: u64,
    unauthorized: u64,
}

fn now_ts() -> Timestamp {
    Timestamp::from_millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    )
}

async fn herd(
    kind: Herd,
    n: usize,
    keeper: &Keeper,
    server: &Server,
    http: &reqwest::Client,
    url: &str,
) -> Result<HerdRun, String> {
    let before = server.counters(http).await?;
    let metrics_before = keeper.metrics();
    match kind {
        Herd::Valid => {}
        Herd::Expired => {
            let tokens = keeper.tokens().ok_or("not logged in")?;
            let now = now_ts();
            keeper
                .set_tokens(TokenSet {
                    issued_at: now.saturating_sub(Duration::from_secs(1800)),
                    expires_at: now,
                    ..tokens
                })
                .map_err(|e| e.to_string())?;
        }
        Herd::ServerExpired => server.advance_clock(http, Duration::from_mins(31)).await?,
    }
    let client = keeper.client();
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let r = client.get(url).send().await.map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((status, started.elapsed()))
            })
        })
        .collect();
    let mut done = Vec::with_capacity(n);
    for t in futures::future::join_all(tasks).await {
        let (status, at) = t.map_err(|e| e.to_string())??;
        if status != 200 {
            return Err(format!("herd {}: a request got {status}", kind.name()));
        }
        done.push(at);
    }
    done.sort_unstable();
    let after = server.counters(http).await?;
    let metrics = keeper.metrics();
    let refreshes = after.refreshes_accepted - before.refreshes_accepted;
    if metrics.failures != metrics_before.failures {
        return Err(format!("herd {}: the keeper failed requests", kind.name()));
    }
    if metrics.refresh_count - metrics_before.refresh_count != refreshes {
        return Err(format!(
            "herd {}: keeper counted {} refreshes, server {refreshes}",
            kind.name(),
            metrics.refresh_count - metrics_before.refresh_count
        ));
    }
    Ok(HerdRun {
        last: done.last().copied().unwrap_or_default(),
        median: percentile(&done, 0.5),
        refreshes,
        unauthorized: after.protected_unauthorized - before.protected_unauthorized,
    })
}

// ---- main -------------------------------------------------------------------------------

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("overhead: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::start(options.in_process) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("overhead: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(run(&options, &server)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("\nFAILED: a herd did not cause exactly the expected refreshes");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("overhead: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: &Options, server: &Server) -> Result<bool, String> {
    let url = server.url();
    println!(
        "machine: {} CPUs, {}; load average {} at start",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        cpu_model(),
        load_average()
    );
    println!(
        "server: {} at {url}; client runtime: {} worker threads",
        if o.in_process {
            "in-process (own thread and runtime)"
        } else {
            "tokenkeeper-testserver process"
        },
        o.threads
    );

    // One connection pool for both: raw and keeper send over the same sockets.
    let http = reqwest::Client::new();
    let keeper = Keeper::builder(Dialect::vitalgraph(&url).map_err(|e| e.to_string())?)
        .credentials(Credentials::password(USER, PASSWORD))
        .client(http.clone())
        .fast_path(!o.plain)
        .build()
        .map_err(|e| e.to_string())?;
    if o.plain {
        println!("keeper: fast path off (--plain)");
    }
    keeper.login().await.map_err(|e| e.to_string())?;
    let token = keeper.tokens().ok_or("no tokens after login")?;
    let bearer = HeaderValue::try_from(format!("Bearer {}", token.access_token.expose()))
        .map_err(|e| e.to_string())?;
    let clients = Arc::new(Clients {
        raw: http.clone(),
        bearer,
        keeper: keeper.client(),
        url: format!("{url}/api/echo"),
    });
    let modes: Vec<Mode> = match o.only {
        Some(m) => vec![m],
        None => vec![Mode::Raw, Mode::Keeper],
    };
    let pid = server.pid();

    println!(
        "\n== overhead: GET /api/echo, {} concurrent, {} requests per round, up to {} rounds per mode or {} s, interleaved",
        o.concurrency,
        o.requests,
        o.rounds,
        o.budget.as_secs()
    );
    for &mode in &modes {
        round(&clients, mode, o.warm_up, o.concurrency, pid).await?;
    }
    let refreshes_before = keeper.metrics().refresh_count;
    let mut results: Vec<Vec<Round>> = vec![Vec::new(); modes.len()];
    let measuring = Instant::now();
    for i in 0..o.rounds {
        // Stop on the budget, after an even number of rounds (whole ABBA pairs) and 6 at least.
        if i >= 6 && i % 2 == 0 && measuring.elapsed() > o.budget {
            break;
        }
        // ABBA order (raw first in even rounds, keeper first in odd ones) so that a slow
        // drift in the machine's load favours neither side.
        let mut order: Vec<usize> = (0..modes.len()).collect();
        if i % 2 == 1 {
            order.reverse();
        }
        let mut others = Vec::new();
        for m in order {
            let r = round(&clients, modes[m], o.requests, o.concurrency, pid).await?;
            others.extend(r.others_busy);
            results[m].push(r);
        }
        let mut line = format!("round {:>2}:", i + 1);
        for (m, mode) in modes.iter().enumerate() {
            let r = &results[m][i];
            let _ = write!(
                line,
                " {:<6} {:>6.0} req/s p50 {:>5.0} µs p99 {:>6.0} µs cpu {:>5} µs/req |",
                mode.name(),
                r.throughput,
                us(r.p50),
                us(r.p99),
                fmt_opt(r.client_cpu_us, 1),
            );
        }
        let others = (!others.is_empty()).then(|| median(others));
        println!("{line} other load {} cores", fmt_opt(others, 2));
    }
    if keeper.metrics().refresh_count != refreshes_before {
        return Err("the token was refreshed during the overhead rounds".to_owned());
    }
    println!("load average {} after the overhead rounds", load_average());

    println!(
        "\n{:<8} {:>10} {:>9} {:>9} {:>17} {:>17}",
        "median", "req/s", "p50 µs", "p99 µs", "client cpu µs/req", "server cpu µs/req"
    );
    let summaries: Vec<Summary> = results.iter().map(|r| summarize(r)).collect();
    for (s, mode) in summaries.iter().zip(&modes) {
        println!(
            "{:<8} {:>10.0} {:>9.0} {:>9.0} {:>17} {:>17}",
            mode.name(),
            s.throughput,
            s.p50,
            s.p99,
            fmt_opt(s.client_cpu, 2),
            fmt_opt(s.server_cpu, 2)
        );
    }
    println!(
        "({} rounds per mode in {:.0} s)",
        results[0].len(),
        measuring.elapsed().as_secs_f64()
    );
    if let [raw, kept] = &results[..] {
        let paired = |f: fn(&Round) -> f64| {
            median_ci(raw.iter().zip(kept).map(|(r, k)| f(k) / f(r)).collect())
        };
        let throughput = paired(|r| r.throughput);
        let p50 = paired(|r| us(r.p50));
        let p99 = paired(|r| us(r.p99));
        println!("keeper/raw, median of the per-round ratios (95 % interval):");
        println!(
            "  throughput ×{}: goal ≥ 0.97 {}",
            fmt_ci(&throughput, 3),
            verdict(&throughput, 0.97, true)
        );
        println!(
            "  p99        ×{}: goal ≤ 1.05 {}",
            fmt_ci(&p99, 3),
            verdict(&p99, 1.05, false)
        );
        println!("  p50        ×{}", fmt_ci(&p50, 3));
        let cpu: Option<Vec<f64>> = raw
            .iter()
            .zip(kept)
            .map(|(r, k)| Some(k.client_cpu_us? - r.client_cpu_us?))
            .collect();
        if let Some(cpu) = cpu {
            println!(
                "  client CPU per request, keeper − raw: {} µs",
                fmt_ci(&median_ci(cpu), 2)
            );
        }
    }

    if o.herd_rounds == 0 {
        return Ok(true);
    }
    println!(
        "\n== herd: {} concurrent requests through the keeper, {} rounds",
        o.herd, o.herd_rounds
    );
    // Opens the herd's connections, so that no measured herd pays for them.
    herd(Herd::Valid, o.herd, &keeper, server, &http, &clients.url).await?;
    let mut ok = true;
    let kinds = [Herd::Valid, Herd::Expired, Herd::ServerExpired];
    let mut lasts: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for i in 0..o.herd_rounds {
        for (k, &kind) in kinds.iter().enumerate() {
            let h = herd(kind, o.herd, &keeper, server, &http, &clients.url).await?;
            let good = h.refreshes == kind.refreshes_expected();
            ok &= good;
            println!(
                "round {}: {:<14} last response {:>7.1} ms, median {:>7.1} ms, refreshes {} (expected {}{}), 401s {}",
                i + 1,
                kind.name(),
                h.last.as_secs_f64() * 1e3,
                h.median.as_secs_f64() * 1e3,
                h.refreshes,
                kind.refreshes_expected(),
                if good { ", ok" } else { ", WRONG" },
                h.unauthorized
            );
            lasts[k].push(h.last.as_secs_f64() * 1e3);
        }
    }
    for (kind, l) in kinds.iter().zip(lasts) {
        println!(
            "median time to the last of {} ({}): {:.1} ms",
            o.herd,
            kind.name(),
            median(l)
        );
    }
    println!("load average {} at the end", load_average());
    Ok(ok)
}
