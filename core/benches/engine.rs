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

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Action, Config, ExchangeId, RequestMeta, Session, Timestamp, TokenSet};

/// The start of fake time.
const T0: Timestamp = Timestamp::from_secs(1_800_000_000);
/// Exchanges per timed chunk in the one-decision benchmarks: amortises the two clock reads.
const CHUNK: usize = 64;
/// A JWT-sized opaque access token (the header clone must not depend on its length).
const ACCESS: &str = concat!(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ".eyJzdWIiOiJhZG1pbiIsImlhdCI6MTgwMDAwMDAwMCwidHlwZSI6ImFjY2VzcyJ9",
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ",
);

/// A VitalGraph session holding a token valid for 30 minutes (and a refresh token), at `T0`.
fn logged_in() -> Session {
    let dialect = Dialect::vitalgraph("http://127.0.0.1:8001").unwrap();
    let mut s = Session::new(
        Config::default(),
        dialect,
        Credentials::password("admin", "admin"),
        7,
    )
    .unwrap();
    let tokens = TokenSet {
        access_token: ACCESS.into(),
        refresh_token: Some("refresh-token-0123456789".into()),
        issued_at: T0,
        expires_at: T0.saturating_add(Duration::from_secs(1800)),
        refresh_expires_at: None,
    };
    s.set_tokens(T0, tokens).unwrap();
    while s.poll_action().is_some() {}
    s
}

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
    let body = format!(r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":1800}}"#);
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
