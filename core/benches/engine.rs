//! Criterion benchmarks of the engine's decisions (issue 2, "Measure"):
//!
//! - `hot_path/*`: a logged-in session with a valid token. `start(GET)` → `poll_action`
//!   (`Send`, carrying a clone of the header) is one decision; `handle_response(200)` →
//!   `poll_action` (`Deliver`) is another; `round_trip` is both. Goal: ≤ 100 ns per decision.
//! - `refresh_cycle`: an expired token, so `start` → `Authenticate` → `handle_auth_response`
//!   (200, JSON body) → `Send` (after the `TokensChanged`/`Refreshed` events) →
//!   `handle_response(200)` → `Deliver`.
//!
//! Run with `cargo bench -p tokenkeeper-core --bench engine`; figures are in BENCHMARKS.md.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{T0, logged_in, refresh_body};
use criterion::Criterion;
use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::{Action, ExchangeId, RequestMeta, Session};

/// Exchanges per timed chunk in the one-decision benchmarks: amortises the two clock reads.
const CHUNK: usize = 64;

/// `start(GET)` and the `Send` it produces.
fn start(s: &mut Session, meta: RequestMeta) -> ExchangeId {
    let id = s.start(T0, meta);
    match s.poll_action() {
        Some(Action::Send {
            id: sent,
            authorization,
        }) => {
            black_box(&authorization);
            sent
        }
        other => panic!("expected Send for {id:?}, got {other:?}"),
    }
}

/// `handle_response(200)` and the `Deliver` it produces.
fn respond(s: &mut Session, id: ExchangeId, headers: &HeaderMap) {
    s.handle_response(T0, id, StatusCode::OK, headers);
    match s.poll_action() {
        Some(Action::Deliver { id: delivered }) => {
            black_box(delivered);
        }
        other => panic!("expected Deliver for {id:?}, got {other:?}"),
    }
}

fn hot_path(c: &mut Criterion) {
    let meta = RequestMeta::new(&Method::GET, true);
    let headers = HeaderMap::new();
    let mut g = c.benchmark_group("hot_path");

    let mut s = logged_in();
    g.bench_function("start_to_send", |b| {
        let mut ids = Vec::with_capacity(CHUNK);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK as u64);
                let t = Instant::now();
                for _ in 0..n {
                    ids.push(start(&mut s, meta));
                }
                total += t.elapsed();
                for id in ids.drain(..) {
                    respond(&mut s, id, &headers);
                }
                left -= n;
            }
            total
        });
    });

    let mut s = logged_in();
    g.bench_function("response_to_deliver", |b| {
        let mut ids = Vec::with_capacity(CHUNK);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK as u64);
                ids.extend((0..n).map(|_| start(&mut s, meta)));
                let t = Instant::now();
                for id in ids.drain(..) {
                    respond(&mut s, id, &headers);
                }
                total += t.elapsed();
                left -= n;
            }
            total
        });
    });

    let mut s = logged_in();
    g.bench_function("round_trip", |b| {
        b.iter(|| {
            let id = start(&mut s, meta);
            respond(&mut s, id, &headers);
        });
    });
    g.finish();
}

fn refresh_cycle(c: &mut Criterion) {
    let meta = RequestMeta::new(&Method::GET, true);
    let headers = HeaderMap::new();
    let body = refresh_body();
    let mut s = logged_in();
    let mut now = T0;
    c.bench_function("refresh_cycle", |b| {
        b.iter(|| {
            // Every iteration starts with the token expired, so the exchange waits for a refresh.
            now = now.saturating_add(Duration::from_secs(1801));
            let id = s.start(now, meta);
            let Some(Action::Authenticate(auth)) = s.poll_action() else {
                panic!("expected Authenticate")
            };
            black_box(&auth.request);
            s.handle_auth_response(now, auth.id, StatusCode::OK, &headers, body.as_bytes());
            let sent = loop {
                match s.poll_action() {
                    Some(Action::Send { id, authorization }) => {
                        black_box(&authorization);
                        break id;
                    }
                    Some(Action::Event(e)) => {
                        black_box(e);
                    }
                    other => panic!("expected Send, got {other:?}"),
                }
            };
            assert_eq!(sent, id);
            s.handle_response(now, id, StatusCode::OK, &headers);
            let Some(Action::Deliver { .. }) = s.poll_action() else {
                panic!("expected Deliver")
            };
        });
    });
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let mut c = Criterion::default().configure_from_args();
    hot_path(&mut c);
    refresh_cycle(&mut c);
    c.final_summary();
}
