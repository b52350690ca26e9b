//! `Error::Transport` says what happened to a request that failed without a response: how many
//! attempts were made, whether the last one may have reached the server, and why the engine
//! stopped resending (`TransportStop`).

mod common;

use std::time::Duration;

use common::Harness;
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{Backoff, Config, Error, ExchangeId, TransportStop};

/// Fails the exchange's sends with `failure`, firing the backoff timers between them, until
/// the engine gives up; returns the error.
fn fail_until_it_stops(h: &mut Harness, id: ExchangeId, failure: SendFailure) -> Error {
    for _ in 0..20 {
        h.send_error(id, failure);
        if let Some(e) = h.errors.get(&id) {
            return e.clone();
        }
        h.fire_timer();
    }
    panic!("never stopped: {:?}", h.take());
}

fn transport(may_have_reached_server: bool, attempts: u32, stopped: TransportStop) -> Error {
    Error::Transport {
        may_have_reached_server,
        attempts,
        stopped,
    }
}

#[test]
fn a_get_resent_three_times_says_so_and_that_the_resend_limit_stopped_it() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let a = h.get();
    let e = fail_until_it_stops(&mut h, a, SendFailure::MaybeSent);
    assert_eq!(e, transport(true, 4, TransportStop::ResendLimit));
    let text = e.to_string();
    assert!(text.contains("4 attempts (3 resends)"), "{text}");
    assert!(text.contains("resend limit reached"), "{text}");
    assert!(!text.contains("not idempotent"), "{text}");
    let b = h.get();
    let e = fail_until_it_stops(&mut h, b, SendFailure::NotSent);
    assert_eq!(e, transport(false, 4, TransportStop::ResendLimit));
    assert!(e.to_string().contains("could not be reached"), "{e}");
}

#[test]
fn a_post_that_may_have_run_is_not_resent_even_after_earlier_resends() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let p = h.post();
    h.send_error(p, SendFailure::MaybeSent);
    assert_eq!(
        h.errors[&p],
        transport(true, 1, TransportStop::NotIdempotent)
    );
    let q = h.post();
    h.send_error(q, SendFailure::NotSent);
    h.fire_timer();
    h.send_error(q, SendFailure::MaybeSent);
    let e = &h.errors[&q];
    assert_eq!(*e, transport(true, 2, TransportStop::NotIdempotent));
    let text = e.to_string();
    assert!(text.contains("2 attempts (1 resend)"), "{text}");
    assert!(text.contains("not idempotent"), "{text}");
}

#[test]
fn a_streaming_body_is_never_resent_and_the_error_says_why() {
    let mut h = Harness::logged_in(Config::default(), 1800);
    let s = h.post_stream();
    h.send_error(s, SendFailure::NotSent);
    let e = &h.errors[&s];
    assert_eq!(*e, transport(false, 1, TransportStop::NotReplayable));
    assert!(e.to_string().contains("cannot be replayed"), "{e}");
    let g = h.start(tokenkeeper_core::RequestMeta::new(
        &http::Method::GET,
        false,
    ));
    h.send_error(g, SendFailure::MaybeSent);
    assert_eq!(
        h.errors[&g],
        transport(true, 1, TransportStop::NotReplayable)
    );
}

#[test]
fn resends_stop_when_the_backoff_budget_is_spent() {
    let cfg = Config {
        resend_backoff: Backoff {
            budget: Duration::from_millis(500),
            jitter: false,
            ..Backoff::default()
        },
        max_transient_resends: 10,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let a = h.get();
    // Delays 200 ms, 400 ms: the second resend would come at 600 ms, past the 500-ms budget.
    let e = fail_until_it_stops(&mut h, a, SendFailure::NotSent);
    assert_eq!(e, transport(false, 2, TransportStop::BackoffBudget));
    assert!(e.to_string().contains("backoff budget"), "{e}");
}

#[test]
fn with_no_resends_allowed_one_attempt_and_the_limit() {
    let cfg = Config {
        max_transient_resends: 0,
        ..Config::default()
    };
    let mut h = Harness::logged_in(cfg, 1800);
    let a = h.get();
    h.send_error(a, SendFailure::NotSent);
    let e = &h.errors[&a];
    assert_eq!(*e, transport(false, 1, TransportStop::ResendLimit));
    assert!(e.to_string().contains("1 attempt (no resend)"), "{e}");
}
