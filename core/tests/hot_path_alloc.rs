//! Proves the hot path allocates nothing: with a valid token, `start` → `Send` →
//! `handle_response(200)` → `Deliver` makes no heap allocation once the session is warm. The
//! `Send`'s header is a clone of a `Bytes`-backed `HeaderValue`: a reference-count increment.
//!
//! A counting global allocator wraps `System`. It counts per thread, so the test harness's own
//! threads do not disturb the count.

// Implementing `GlobalAlloc` takes an `unsafe impl` (and its methods are `unsafe fn`s). This
// one only counts and forwards every call to `System` unchanged; it is a test binary of its
// own, so nothing else runs under it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Action, Config, RequestMeta, Session, Timestamp, TokenSet};

/// Round trips measured.
const ROUND_TRIPS: usize = 10_000;

thread_local! {
    /// Allocations (`alloc`, `alloc_zeroed`, `realloc`) made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// `System`, counting allocations per thread.
struct Counting;

fn count() {
    // `try_with`: the slot may already be gone while the thread shuts down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it keeps
// `System`'s guarantees; counting touches only a const-initialised thread-local `Cell`, which
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// One hot-path round trip: `start(GET)` → `Send` → `handle_response(200)` → `Deliver`.
fn round_trip(s: &mut Session, now: Timestamp, headers: &HeaderMap) {
    let id = s.start(now, RequestMeta::new(&Method::GET, true));
    let Some(Action::Send {
        id: sent,
        authorization,
    }) = s.poll_action()
    else {
        panic!("expected Send")
    };
    assert_eq!(sent, id);
    std::hint::black_box(authorization);
    s.handle_response(now, id, StatusCode::OK, headers);
    let Some(Action::Deliver { id: delivered }) = s.poll_action() else {
        panic!("expected Deliver")
    };
    assert_eq!(delivered, id);
    assert!(s.poll_action().is_none());
}

/// A VitalGraph session at `t0` holding a token valid for 30 minutes, actions drained.
fn logged_in(t0: Timestamp) -> Session {
    let dialect = Dialect::vitalgraph("http://127.0.0.1:8001").unwrap();
    let mut s = Session::new(
        Config::default(),
        dialect,
        Credentials::password("admin", "admin"),
        7,
    )
    .unwrap();
    s.set_tokens(
        t0,
        TokenSet {
            access_token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl".into(),
            refresh_token: Some("refresh-token".into()),
            issued_at: t0,
            expires_at: t0.saturating_add(Duration::from_secs(1800)),
            refresh_expires_at: None,
        },
    )
    .unwrap();
    while s.poll_action().is_some() {}
    s
}

#[test]
fn hot_path_round_trips_allocate_nothing_once_warm() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let mut s = logged_in(t0);
    let headers = HeaderMap::new();

    // Warm-up: the exchange slab, its free list and the action queue reach their working size.
    for _ in 0..16 {
        round_trip(&mut s, t0, &headers);
    }

    let before = allocations();
    for i in 0..ROUND_TRIPS {
        // The clock moves (1 ms per request, 10 s in all): still well outside the refresh margin.
        round_trip(
            &mut s,
            t0.saturating_add(Duration::from_millis(i as u64)),
            &headers,
        );
    }
    let delta = allocations() - before;
    eprintln!("{ROUND_TRIPS} hot-path round trips: {delta} heap allocations");
    assert_eq!(
        delta, 0,
        "the hot path allocated {delta} times in {ROUND_TRIPS} round trips"
    );
}

/// The counter is live: a refresh cycle (request building, JSON parsing, a new token set) does
/// allocate. Prints the count per cycle for BENCHMARKS.md.
#[test]
fn refresh_cycle_allocations_are_counted() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let mut s = logged_in(t0);
    let headers = HeaderMap::new();
    let body = concat!(
        r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl","#,
        r#""token_type":"bearer","expires_in":1800}"#,
    )
    .as_bytes();
    let mut now = t0;
    let mut cycle = |s: &mut Session| {
        now = now.saturating_add(Duration::from_secs(1801)); // expired: the exchange waits
        let id = s.start(now, RequestMeta::new(&Method::GET, true));
        let Some(Action::Authenticate(auth)) = s.poll_action() else {
            panic!("expected Authenticate")
        };
        s.handle_auth_response(now, auth.id, StatusCode::OK, &headers, body);
        drop(auth);
        while let Some(a) = s.poll_action() {
            if let Action::Send { id: sent, .. } = a {
                assert_eq!(sent, id);
                break;
            }
        }
        s.handle_response(now, id, StatusCode::OK, &headers);
        let Some(Action::Deliver { .. }) = s.poll_action() else {
            panic!("expected Deliver")
        };
    };
    cycle(&mut s);
    let before = allocations();
    for _ in 0..100 {
        cycle(&mut s);
    }
    let per_cycle = (allocations() - before) / 100;
    eprintln!("refresh cycle: {per_cycle} heap allocations");
    assert!(per_cycle > 0, "the counting allocator counted nothing");
}
