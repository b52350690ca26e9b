//! The hostile-answer table (`tests/hostile/cases.json`, see its README) against the native
//! driver: every row's expected outcome, plus what every row must keep (bounded time and
//! memory, no secret in any output, no token sent to another origin).

mod reqwest_support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest_support::{PASSWORD, USER, describe};
use serde_json::Value;
use tokenkeeper_core::{Error as EngineError, TokenSet};
use tokenkeeper_reqwest::clock::{Clock, ManualClock};
use tokenkeeper_reqwest::{Config, Credentials, Dialect, Error, Keeper};
use tokenkeeper_testserver::{ServerConfig, TestServer};

const CASES: &str = include_str!("../hostile/cases.json");

/// How long a row may take in real time.
const ROW_LIMIT: Duration = Duration::from_secs(30);

/// How much the process may grow during a row.
const MEMORY_LIMIT: u64 = 64 << 20;

struct Servers {
    api: TestServer,
    recorder: TestServer,
    http: reqwest::Client,
}

impl Servers {
    async fn start() -> Self {
        let api = TestServer::start(ServerConfig::default().with_user(USER, PASSWORD))
            .await
            .unwrap();
        let recorder = TestServer::start_on(
            SocketAddr::from(([127, 0, 0, 2], 0)),
            ServerConfig::default(),
        )
        .await
        .unwrap();
        Servers {
            api,
            recorder,
            http: reqwest::Client::new(),
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{recorder}", &self.recorder.url())
            .replace("{api}", &self.api.url())
    }

    /// Applies a row's server setup (one faults body, or a list of them).
    async fn apply(&self, setup: &Value) {
        let bodies = match setup {
            Value::Array(list) => list.clone(),
            other => vec![other.clone()],
        };
        for body in bodies {
            let body = self.fill(&body.to_string());
            let r = self
                .http
                .post(format!("{}/_control/faults", self.api.url()))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
    }

    fn counters(&self) -> Value {
        serde_json::to_value(self.api.counters()).unwrap()
    }
}

/// The keeper for one row, with the clock it reads and what it reported.
struct Subject {
    keeper: Keeper,
    clock: ManualClock,
    events: Arc<Mutex<Vec<String>>>,
}

fn subject(servers: &Servers, config: Option<&Value>) -> Subject {
    let get = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_u64);
    let mut c = Config::default();
    if let Some(n) = get("maxRefreshAttempts") {
        c.max_refresh_attempts = n as u32;
    }
    if let Some(n) = get("maxTransientResends") {
        c.max_transient_resends = n as u32;
    }
    if let Some(ms) = get("authTimeoutMs") {
        c.auth_timeout = Duration::from_millis(ms);
    }
    let timeout = Duration::from_millis(get("timeoutMs").unwrap_or(10_000));
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(timeout)
        .build()
        .unwrap();
    let clock = ManualClock::starting_now();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let keeper = Keeper::builder(Dialect::vitalgraph(&servers.api.url()).unwrap())
        .credentials(Credentials::password(USER, PASSWORD))
        .config(c)
        .client(client)
        .clock(clock.clone())
        .seed(7)
        .on_event(move |e| seen.lock().unwrap().push(format!("{e:?}")))
        .build()
        .unwrap();
    Subject {
        keeper,
        clock,
        events,
    }
}

/// Sends the row's request, moving the keeper's clock to its next timer whenever the request
/// has been waiting a while (a deadline or a backoff), never waiting for one in real time.
async fn send(servers: &Servers, s: &Subject, request: Option<&Value>) -> Result<u16, Error> {
    let method = request
        .and_then(|r| r["method"].as_str())
        .unwrap_or("GET")
        .to_owned();
    let path = request
        .and_then(|r| r["path"].as_str())
        .unwrap_or("/api/echo");
    let body = request.and_then(|r| r["body"].as_str()).map(str::to_owned);
    let url = format!("{}{path}", servers.api.url());
    let client = s.keeper.client();
    let task = tokio::spawn(async move {
        let mut b = client.request(method.parse().unwrap(), url);
        if let Some(body) = body {
            b = b.header("content-type", "application/json").body(body);
        }
        b.send().await.map(|r| r.status().as_u16())
    });
    let mut idle = 0;
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        idle += 1;
        if idle >= 5
            && let Some(at) = s.clock.next_wake()
        {
            s.clock.set(at.max(s.clock.now()));
            idle = 0;
        }
    }
    task.await.unwrap()
}

/// The npm error code of a native error.
fn code(e: &Error) -> &'static str {
    match e.engine() {
        Some(EngineError::SessionExpired) => "SESSION_EXPIRED",
        Some(EngineError::InvalidCredentials { .. }) => "INVALID_CREDENTIALS",
        Some(EngineError::AuthRejected { .. }) => "AUTH_REJECTED",
        Some(EngineError::InvalidAuthResponse(_)) => "INVALID_AUTH_RESPONSE",
        Some(EngineError::AuthUnavailable { .. }) => "AUTH_UNAVAILABLE",
        Some(EngineError::Transport { .. }) => "TRANSPORT",
        Some(EngineError::Unauthorized { .. }) => "UNAUTHORIZED",
        _ => match e {
            Error::Http(_) => "HTTP",
            _ => "OTHER",
        },
    }
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Checks one outcome against `expect`; returns what did not hold.
fn check(
    expect: &Value,
    outcome: &Result<u16, Error>,
    counted: &HashMap<String, i64>,
    s: &Subject,
    before: Option<&TokenSet>,
) -> Vec<String> {
    let mut bad = Vec::new();
    match (outcome, expect["status"].as_u64(), expect["error"].as_str()) {
        (Ok(status), Some(want), _) if u64::from(*status) == want => {}
        (Err(e), None, Some(want)) if code(e) == want => {
            if let Some(detail) = expect["detail"].as_str()
                && !e.to_string().contains(detail)
            {
                bad.push(format!("message {:?} lacks {detail:?}", e.to_string()));
            }
            if let (Some(bound), Some(EngineError::AuthUnavailable { retry_at, .. })) =
                (expect["retry_at_within_ms"].as_u64(), e.engine())
            {
                let at = retry_at.map_or(0, tokenkeeper_core::Timestamp::as_millis);
                if at > s.clock.now().as_millis() + bound {
                    bad.push(format!("retry_at {at} is more than {bound} ms away"));
                }
            }
        }
        (got, _, _) => bad.push(format!(
            "got {:?}, expected status {} / error {}",
            got.as_ref().map_err(|e| (code(e), e.to_string())),
            expect["status"],
            expect["error"]
        )),
    }
    let after = s.keeper.tokens();
    let same = |a: &TokenSet, b: &TokenSet| a.access_token.expose() == b.access_token.expose();
    let tokens_ok = match expect["tokens"].as_str() {
        Some("none") => after.is_none(),
        Some("kept") => matches!((before, &after), (Some(b), Some(a)) if same(a, b)),
        Some("changed") => matches!((before, &after), (Some(b), Some(a)) if !same(a, b)),
        Some("new") => before.is_none() && after.is_some(),
        _ => true,
    };
    if !tokens_ok {
        bad.push(format!(
            "tokens {:?}: held before {}, after {}",
            expect["tokens"],
            before.is_some(),
            after.is_some()
        ));
    }
    if let (Some([lo, hi]), Some(t)) = (
        expect["lifetime_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect::<Vec<_>>())
            .as_deref(),
        &after,
    ) {
        let life = t.expires_at.as_millis() - t.issued_at.as_millis();
        if !(*lo..=*hi).contains(&life) {
            bad.push(format!("lifetime {life} ms outside {lo}..={hi}"));
        }
    }
    if let Some(want) = expect["counters"].as_object() {
        for (k, v) in want {
            let got = counted.get(k).copied().unwrap_or(i64::MIN);
            if Some(got) != v.as_i64() {
                bad.push(format!("counter {k}: {got}, expected {v}"));
            }
        }
    }
    bad
}

fn deltas(before: &Value, after: &Value) -> HashMap<String, i64> {
    after
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let b = before[k].as_i64().unwrap_or(0);
            (k.clone(), v.as_i64().unwrap_or(0) - b)
        })
        .collect()
}

async fn run_row(servers: &Servers, row: &Value) -> Vec<String> {
    servers.api.control().reset();
    servers.recorder.control().reset();
    let s = subject(servers, row.get("config"));
    let group = row["group"].as_str().unwrap();
    if group != "login" {
        let r = s
            .keeper
            .client()
            .get(format!("{}/api/echo", servers.api.url()))
            .send()
            .await
            .expect("warm-up");
        assert_eq!(r.status(), 200);
    }
    if group == "refresh" {
        let t = s.keeper.tokens().unwrap();
        let now = s.clock.now();
        s.keeper
            .set_tokens(TokenSet {
                issued_at: now.saturating_sub(Duration::from_secs(3600)),
                expires_at: now.saturating_sub(Duration::from_secs(1)),
                ..t
            })
            .unwrap();
    }
    let before = s.keeper.tokens();
    let start_counters = servers.counters();
    servers.apply(&row["server"]).await;
    let rss0 = rss();
    let started = Instant::now();
    let outcome = send(servers, &s, row.get("request")).await;
    let mut bad = check(
        &row["expect"],
        &outcome,
        &deltas(&start_counters, &servers.counters()),
        &s,
        before.as_ref(),
    );
    let mut outputs = vec![];
    if let Err(e) = &outcome {
        outputs.push(describe(e));
    }
    if let Some(then) = row["expect"].get("then") {
        let second = send(servers, &s, row.get("request")).await;
        let counted = deltas(&start_counters, &servers.counters());
        bad.extend(
            check(then, &second, &counted, &s, before.as_ref())
                .into_iter()
                .filter(|b| !b.starts_with("tokens"))
                .map(|b| format!("then: {b}")),
        );
        if let Err(e) = &second {
            outputs.push(describe(e));
        }
    }
    if started.elapsed() > ROW_LIMIT {
        bad.push(format!("took {:?}", started.elapsed()));
    }
    let grown = rss().saturating_sub(rss0);
    if grown > MEMORY_LIMIT {
        bad.push(format!("resident memory grew by {} MiB", grown >> 20));
    }
    // What the other origin saw: never a credential.
    let recorded = servers.recorder.control().recorded();
    if recorded.iter().any(|r| r.authorization) {
        bad.push(format!(
            "the other origin saw an Authorization header: {recorded:?}"
        ));
    }
    if let Some(n) = row["expect"]["recorded"].as_u64()
        && recorded.len() as u64 != n
    {
        bad.push(format!(
            "the other origin saw {} requests, expected {n}",
            recorded.len()
        ));
    }
    // No secret in any output.
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];
    for t in [before.as_ref(), s.keeper.tokens().as_ref()]
        .into_iter()
        .flatten()
    {
        secrets.push(t.access_token.expose().to_owned());
        secrets.extend(t.refresh_token.as_ref().map(|r| r.expose().to_owned()));
    }
    if let Some(extra) = row["secrets"].as_array() {
        secrets.extend(extra.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    outputs.extend(s.events.lock().unwrap().iter().cloned());
    outputs.push(format!("{:?}", s.keeper));
    for out in &outputs {
        for secret in &secrets {
            if out.contains(secret.as_str()) {
                bad.push(format!("a secret leaked into {out:?}"));
            }
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_hostile_answer_table_holds_for_the_native_driver() {
    let servers = Servers::start().await;
    let table: Value = serde_json::from_str(CASES).unwrap();
    let rows = table["cases"].as_array().unwrap();
    assert!(rows.len() >= 40, "the table has {} rows", rows.len());
    let mut report = String::new();
    let mut failed = 0;
    for row in rows {
        let started = Instant::now();
        let bad = run_row(&servers, row).await;
        let name = row["name"].as_str().unwrap();
        let _ = writeln!(
            report,
            "{} {name} ({} ms)",
            if bad.is_empty() { "ok  " } else { "FAIL" },
            started.elapsed().as_millis()
        );
        for b in &bad {
            let _ = writeln!(report, "       {b}");
        }
        failed += usize::from(!bad.is_empty());
    }
    println!("{report}");
    assert_eq!(
        failed,
        0,
        "{failed} of {} rows failed:\n{report}",
        rows.len()
    );
}
