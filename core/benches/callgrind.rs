//! The engine benchmarks' scenarios as a plain loop, for repeatable instruction counts under
//! `valgrind --tool=callgrind` (wall-clock figures on a shared machine are noisy).
//!
//! `callgrind <round_trip|refresh_cycle> <n>` runs a scenario `n` times after a warm-up. Run it
//! twice with different `n` and divide the difference in instructions (`Ir`) by the difference
//! in `n`: set-up and warm-up cancel out. See BENCHMARKS.md for the commands. Under
//! `cargo bench` it runs both scenarios briefly and prints wall-clock times.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{T0, logged_in, refresh_body};
use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::{Action, RequestMeta, Session, Timestamp};

/// A session holding a token valid for 30 minutes, plus the clock and a response body.
struct Bench {
    s: Session,
    now: Timestamp,
    headers: HeaderMap,
    body: String,
}

impl Bench {
    fn new() -> Self {
        let s = logged_in();
        let body = refresh_body();
        Bench {
            s,
            now: T0,
            headers: HeaderMap::new(),
            body,
        }
    }

    /// `start(GET)` → `Send` → `handle_response(200)` → `Deliver`: two decisions.
    #[inline(never)]
    fn round_trip(&mut self) {
        let s = &mut self.s;
        let id = s.start(self.now, RequestMeta::new(&Method::GET, true));
        let Some(Action::Send { authorization, .. }) = s.poll_action() else {
            panic!("expected Send")
        };
        black_box(authorization);
        s.handle_response(self.now, id, StatusCode::OK, &self.headers);
        let Some(Action::Deliver { .. }) = s.poll_action() else {
            panic!("expected Deliver")
        };
    }

    /// Expired token → `start` → `Authenticate` → 200 JSON → `Send` → 200 → `Deliver`.
    #[inline(never)]
    fn refresh_cycle(&mut self) {
        self.now = self.now.saturating_add(Duration::from_secs(1801));
        let s = &mut self.s;
        let id = s.start(self.now, RequestMeta::new(&Method::GET, true));
        let Some(Action::Authenticate(auth)) = s.poll_action() else {
            panic!("expected Authenticate")
        };
        black_box(&auth.request);
        s.handle_auth_response(
            self.now,
            auth.id,
            StatusCode::OK,
            &self.headers,
            self.body.as_bytes(),
        );
        let authorization = loop {
            match s.poll_action() {
                Some(Action::Send { authorization, .. }) => break authorization,
                Some(Action::Event(e)) => drop(black_box(e)),
                other => panic!("expected Send, got {other:?}"),
            }
        };
        black_box(authorization);
        s.handle_response(self.now, id, StatusCode::OK, &self.headers);
        let Some(Action::Deliver { .. }) = s.poll_action() else {
            panic!("expected Deliver")
        };
    }

    fn run(&mut self, scenario: &str, n: u64) {
        let f = match scenario {
            "round_trip" => Bench::round_trip,
            "refresh_cycle" => Bench::refresh_cycle,
            other => panic!("unknown scenario {other:?} (round_trip or refresh_cycle)"),
        };
        for _ in 0..16 {
            f(self); // warm-up: the slab and queues reach their working size
        }
        for _ in 0..n {
            f(self);
        }
    }
}

fn main() {
    // `cargo bench` passes flags such as `--bench`; positional arguments are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let [scenario, n] = args.as_slice() {
        Bench::new().run(scenario, n.parse().expect("n: a number of iterations"));
        return;
    }
    for (scenario, n) in [("round_trip", 1_000_000u64), ("refresh_cycle", 10_000)] {
        let mut b = Bench::new();
        let t = Instant::now();
        b.run(scenario, n);
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        println!("{scenario}: {per:.0} ns per iteration (wall clock, {n} iterations)");
    }
}
