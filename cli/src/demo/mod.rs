//! `tokenkeeper demo`: the reference server in-process with tokens that live a few seconds, a
//! concurrent workload through `tokenkeeper-reqwest`, faults part-way, and the client's and the
//! server's counts side by side at the end.

mod display;
mod metrics;
mod report;
mod scenario;
mod workload;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::tokens::refresh_margin;
use tokenkeeper_core::{Config, Metrics};
use tokenkeeper_reqwest::Keeper;
use tokenkeeper_testserver::{ServerConfig, TestServer};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::out::say;
use display::Display;
use report::Outcome;
use workload::Tally;

/// How long in-flight requests may take to finish once the workload stops.
const GRACE: Duration = Duration::from_secs(30);

/// Options of `tokenkeeper demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// How long the workload runs, in seconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration_secs: u64,
    /// Tasks sending requests at the same time.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Access-token lifetime the client asks for at login (VitalGraph `token_expiry_seconds`,
    /// 1..=1800).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1800))]
    token_secs: u64,
    /// Pause of each task between two requests, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// Inject no faults: no revoke-all, no failing auth endpoint, no random 401s, no dropped
    /// connections.
    #[arg(long)]
    no_faults: bool,
    /// Make the server rotate refresh tokens (with reuse detection).
    #[arg(long)]
    rotation: bool,
    /// Print plain progress lines even on a terminal.
    #[arg(long)]
    plain: bool,
    /// Serve the client's metrics in the Prometheus text format at
    /// `http://ADDR/metrics` while the demo runs (e.g. 127.0.0.1:9898; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

/// Runs the demo; the exit code is 0 only if no request failed.
pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    match demo(&args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("tokenkeeper demo: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<ExitCode, String> {
    let duration = Duration::from_secs(args.duration_secs);
    let lifetime = Duration::from_secs(args.token_secs);
    let server = TestServer::start(ServerConfig::default().with_rotation(args.rotation))
        .await
        .map_err(|e| format!("cannot start the reference server: {e}"))?;
    let base: Arc<str> = server.url().into();
    let control = server.control();

    let dialect = Dialect::vitalgraph_with_expiry(&base, args.token_secs)
        .map_err(|e| format!("bad --token-secs: {e}"))?;
    let config = Config {
        // A random 401 may hit the resend after a refresh too: allow a second
        // refresh-and-resend.
        max_auth_retries_per_exchange: 2,
        ..Config::default()
    };
    let margin = refresh_margin(lifetime, &config, 0.0);
    // The server is on loopback: a proxy from the environment must not get in the way.
    let api = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    let auth = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    let keeper = Keeper::builder(dialect)
        .credentials(Credentials::password("admin", "admin"))
        .config(config)
        .client(api)
        .auth_client(auth)
        .build()
        .map_err(|e| format!("cannot build the client: {e}"))?;

    let metrics_server = match args.metrics_addr {
        Some(addr) => Some(
            metrics::serve(addr, keeper.clone())
                .await
                .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?,
        ),
        None => None,
    };

    let steps = scenario::timeline(duration, !args.no_faults);
    say("tokenkeeper demo");
    say(&format!(
        "  server  {base}  reference server in-process ({}rotation); VitalGraph login with \
         token_expiry_seconds={}",
        if args.rotation { "" } else { "no " },
        args.token_secs
    ));
    say(&format!(
        "  client  tokenkeeper-reqwest: {} tasks for {} s, {} ms pause; refreshes {:.1} s before \
         expiry",
        args.concurrency,
        args.duration_secs,
        args.pause_ms,
        margin.as_secs_f64()
    ));
    if let Some(m) = &metrics_server {
        say(&format!(
            "  metrics http://{}/metrics  (Prometheus text format, while the demo runs)",
            m.addr
        ));
    }
    if steps.is_empty() {
        say("  faults  none (--no-faults)");
    } else {
        let at: Vec<String> = steps
            .iter()
            .map(|s| format!("{:.1} s", s.at.as_secs_f64()))
            .collect();
        say(&format!("  faults  at {}", at.join(", ")));
    }
    say("");

    let start = Instant::now();
    keeper
        .login()
        .await
        .map_err(|e| format!("the first login failed: {e}"))?;
    let mut display = Display::new(duration, args.plain);
    display.event(
        start.elapsed(),
        &format!(
            "client logged in (access token lives {} s)",
            args.token_secs
        ),
    );

    let tally = Arc::new(Tally::default());
    let stop_at = start + duration;
    let pause = Duration::from_millis(args.pause_ms);
    let mut tasks = JoinSet::new();
    for id in 0..args.concurrency as usize {
        tasks.spawn(workload::task(
            id,
            keeper.client(),
            base.clone(),
            tally.clone(),
            stop_at,
            pause,
        ));
    }

    let mut steps = steps.into_iter().peekable();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last = keeper.metrics();
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok(())) => {}
                Some(Err(e)) => tally.fail(format!("a workload task ended abnormally: {e}")),
            },
        }
        let elapsed = start.elapsed();
        while let Some(step) = steps.next_if(|s| s.at <= elapsed) {
            step.fault.apply(&control);
            display.event(elapsed, &step.fault.describe());
        }
        let now = keeper.metrics();
        for line in narrate(&last, &now) {
            display.event(elapsed, &line);
        }
        last = now;
        display.update(elapsed.min(duration), tally.seen(), &now);
        if !stopping && elapsed >= duration {
            stopping = true;
            display.event(elapsed, "workload stops; waiting for requests in flight");
        }
        if elapsed >= duration + GRACE {
            display.event(
                elapsed,
                "requests still in flight after the grace period: abandoned",
            );
            tasks.abort_all();
            break;
        }
    }
    display.finish();
    let elapsed = start.elapsed();

    let outcome = Outcome {
        seen: tally.seen(),
        client: keeper.metrics(),
        server: server.counters(),
    };
    print_summary(&outcome, &tally, elapsed, lifetime, args.rotation);
    drop(server);
    Ok(if outcome.failures() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Lines about what the client just did that is worth a line of its own (refreshes are only
/// counted: there is one every token lifetime).
fn narrate(before: &Metrics, now: &Metrics) -> Vec<String> {
    let mut lines = Vec::new();
    let delta = |a: u64, b: u64| b.saturating_sub(a);
    let n = delta(before.refresh_failures, now.refresh_failures);
    if n > 0 {
        lines.push(format!(
            "client: {n} refresh attempt(s) refused or failed ({} so far); requests wait",
            now.refresh_failures
        ));
    }
    let n = delta(before.login_failures, now.login_failures);
    if n > 0 {
        lines.push(format!(
            "client: {n} login attempt(s) failed ({} so far); backing off",
            now.login_failures
        ));
    }
    let n = delta(before.reauthentications, now.reauthentications);
    if n > 0 {
        lines.push(format!(
            "client: logged in again ({} re-login(s) so far); waiting requests resume",
            now.reauthentications
        ));
    }
    let n = delta(before.circuit_opened, now.circuit_opened);
    if n > 0 {
        lines.push("client: auth circuit breaker opened".to_owned());
    }
    lines
}

fn print_summary(
    outcome: &Outcome,
    tally: &Tally,
    elapsed: Duration,
    lifetime: Duration,
    rotation: bool,
) {
    let secs = elapsed.as_secs_f64();
    say("");
    say(&format!(
        "finished in {secs:.1} s: {} requests ({:.0}/s) across {:.0} token lifetimes",
        outcome.seen.sent,
        outcome.seen.sent as f64 / secs.max(0.001),
        secs / lifetime.as_secs_f64()
    ));
    say("");
    for line in outcome.render().lines() {
        say(line);
    }
    say("");
    let off = outcome.disagreements();
    if !off.is_empty() {
        say(&format!(
            "note: client and server counts differ for: {}",
            off.join(", ")
        ));
    }
    if rotation {
        say(&format!(
            "rotation: the server saw {} reuse(s) of a retired refresh token (expected 0)",
            outcome.server.reuse_detections
        ));
    }
    let failures = outcome.failures();
    if failures == 0 {
        say(&format!(
            "PASS: 0 failures; {} refreshes, {} re-login(s), {} 401s recovered, {} transient resends",
            outcome.client.refresh_count,
            outcome.client.reauthentications,
            outcome.client.unauthorized_resends,
            outcome.client.transient_resends
        ));
    } else {
        say(&format!("FAIL: {failures} request(s) failed"));
        for (reason, n) in tally.reasons().into_iter().take(8) {
            say(&format!("  {n:>6} × {reason}"));
        }
        let unfinished = outcome
            .seen
            .sent
            .saturating_sub(outcome.seen.ok + outcome.seen.failed);
        if unfinished > 0 {
            say(&format!(
                "  {unfinished:>6} × did not finish within the grace period"
            ));
        }
    }
}
