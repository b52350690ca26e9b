//! The demo's workload: tasks that send a mix of requests through the keeper's client until
//! a deadline, and a tally of what their callers saw.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// What the callers saw, counted as it happens. A caller's request either succeeded (a 2xx
/// response whose body was read) or failed (an error, or any other status).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
}

/// A snapshot of a [`Tally`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Requests handed to the client (including those still in flight).
    pub(crate) sent: u64,
    /// Requests that ended with a 2xx response.
    pub(crate) ok: u64,
    /// Requests that ended with an error or a non-2xx status.
    pub(crate) failed: u64,
}

impl Tally {
    /// Counts a failure with its reason (the reason list keeps one count per distinct text).
    pub(crate) fn fail(&self, reason: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut reasons = self
            .reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *reasons.entry(reason).or_default() += 1;
    }

    /// The counts so far.
    pub(crate) fn seen(&self) -> Seen {
        Seen {
            sent: self.sent.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// The distinct failure reasons with their counts, most frequent first.
    pub(crate) fn reasons(&self) -> Vec<(String, u64)> {
        let reasons = self
            .reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut list: Vec<(String, u64)> = reasons.iter().map(|(r, n)| (r.clone(), *n)).collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list
    }
}

/// The request a task sends on its `i`-th turn: four routes in turn, so reads, a replayed
/// JSON body and a slow request that is in flight when tokens change are all exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    EchoGet,
    EchoPut,
    Spaces,
    Slow,
}

impl Route {
    fn pick(task: usize, turn: u64) -> Route {
        match (task as u64 + turn) % 4 {
            0 => Route::EchoGet,
            1 => Route::EchoPut,
            2 => Route::Spaces,
            _ => Route::Slow,
        }
    }
}

/// One workload task: sends requests through `client` until `stop_at`, pausing `pause`
/// between them, and counts every outcome in `tally`.
pub(crate) async fn task(
    id: usize,
    client: tokenkeeper_reqwest::Client,
    base: std::sync::Arc<str>,
    tally: std::sync::Arc<Tally>,
    stop_at: Instant,
    pause: Duration,
) {
    let mut turn = 0u64;
    while Instant::now() < stop_at {
        tally.sent.fetch_add(1, Ordering::Relaxed);
        match one(&client, &base, id, turn).await {
            Ok(()) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(reason) => tally.fail(reason),
        }
        turn += 1;
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// Sends one request and reads its body; `Err` carries a one-line reason.
async fn one(
    client: &tokenkeeper_reqwest::Client,
    base: &str,
    task: usize,
    turn: u64,
) -> Result<(), String> {
    let route = Route::pick(task, turn);
    let sent = match route {
        Route::EchoGet => {
            client
                .get(format!("{base}/api/echo?task={task}&turn={turn}"))
                .send()
                .await
        }
        Route::EchoPut => {
            let body = serde_json::json!({ "task": task, "turn": turn }).to_string();
            client
                .put(format!("{base}/api/echo"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
        }
        Route::Spaces => client.get(format!("{base}/api/spaces")).send().await,
        Route::Slow => client.get(format!("{base}/api/slow?ms=40")).send().await,
    };
    let response = sent.map_err(|e| format!("{route:?}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{route:?}: reading the body: {e}"))?;
    if !status.is_success() {
        return Err(format!("{route:?}: status {status}"));
    }
    if route == Route::EchoPut && !body.starts_with(b"{\"task\"") {
        return Err(format!(
            "{route:?}: the echoed body differs from the one sent"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_comes_up_in_turn() {
        let routes: Vec<Route> = (0..4).map(|t| Route::pick(3, t)).collect();
        for r in [Route::EchoGet, Route::EchoPut, Route::Spaces, Route::Slow] {
            assert!(routes.contains(&r));
        }
    }

    #[test]
    fn reasons_are_counted_most_frequent_first() {
        let t = Tally::default();
        t.fail("b".into());
        t.fail("a".into());
        t.fail("b".into());
        assert_eq!(t.reasons(), vec![("b".to_owned(), 2), ("a".to_owned(), 1)]);
        assert_eq!(t.seen().failed, 3);
    }
}
