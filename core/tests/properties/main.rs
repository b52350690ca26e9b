//! Property tests: random sequences of inputs and time against the engine, with invariants
//! checked after every step (model-vs-engine fuzzing in the style of firezone's `tests/fuzz`).
//!
//! A `Driver` plays both the transport and the auth server. It feeds the session one `Op`
//! at a time (start an exchange, answer one in flight, answer or abandon the auth operation,
//! cancel, move the clock, fire timers, log in, install or drop tokens, answer a question for
//! credentials), drains
//! `poll_action` after each, and checks what comes out against a small model of what the
//! driver has seen. After the random part, a finishing phase answers everything with success
//! and fires timers until every exchange has ended, in a bounded number of steps.
//!
//! Each test is named after the invariant it checks and enables only that check, so a failure
//! names the rule that broke; the model's bookkeeping is the same for all. Cases: 256 per test,
//! up to 60 steps each, from a fixed proptest seed (set `PROPTEST_RNG_SEED` to explore others).
//!
//! `inputs.rs` draws the cases, `model.rs` (with `model/`) drives the engine and checks the
//! invariants; this file runs them, one property per invariant.

mod inputs;
mod model;

use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};

use inputs::*;
use model::*;

/// Runs a case (random steps, then the finishing phase); returns its transcript, or the first
/// invariant violation.
fn run(case: &Case, checks: Checks) -> Result<Vec<String>, TestCaseError> {
    let mut d = Driver::new(case, checks);
    for op in &case.ops {
        d.step(op);
        if let Some(failure) = d.failure {
            return Err(TestCaseError::fail(failure));
        }
    }
    d.finish();
    match d.failure {
        Some(failure) => Err(TestCaseError::fail(failure)),
        None => Ok(d.transcript),
    }
}

/// A fixed configuration: 256 cases and a fixed seed per test (`PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` override them, to explore further), no regression files, bounded
/// shrinking.
fn config(salt: u64) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: std::env::var_os("PROPTEST_CASES").map_or(256, |_| base.cases),
        rng_seed: match base.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x746f_6b65_6e6b_6565 ^ salt),
            fixed @ RngSeed::Fixed(_) => fixed,
        },
        failure_persistence: None,
        max_shrink_iters: 4_096,
        max_shrink_time: 60_000,
        ..base
    }
}

proptest! {
    #![proptest_config(config(1))]
    /// (a) An `Authenticate` is never emitted while the previous one has not been answered,
    /// errored, abandoned or superseded (`set_tokens`/`logout`); answers to superseded ones are
    /// ignored.
    #[test]
    fn at_most_one_auth_operation_outstanding(case in case()) {
        run(&case, Checks { single_flight: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(2))]
    /// (b) Every exchange ends exactly once (`Deliver` or `Fail`), gets no action after ending
    /// or cancellation, is delivered only with a response to deliver, and after the finishing
    /// phase none is left.
    #[test]
    fn every_exchange_ends_exactly_once_and_none_is_stranded(case in case()) {
        run(&case, Checks { endings: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(3))]
    /// (c) Resends after 401 ≤ `max_auth_retries_per_exchange + max_stale_generation_resends`,
    /// transient resends ≤ `max_transient_resends`, and a body that cannot be replayed is never
    /// resent.
    #[test]
    fn resends_never_exceed_configured_limits(case in case()) {
        run(&case, Checks { limits: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(4))]
    /// (d) The same seed and inputs give the same transcript.
    #[test]
    fn same_seed_and_inputs_give_same_transcript(case in case()) {
        let first = run(&case, Checks::default())?;
        let second = run(&case, Checks::default())?;
        prop_assert_eq!(first, second);
    }
}

proptest! {
    #![proptest_config(config(5))]
    /// (e) Every `Send` carries the current token, which is neither rejected by the server nor
    /// within the engine's hard floor of its expiry.
    #[test]
    fn no_known_expired_token_is_sent(case in case()) {
        run(&case, Checks { expiry: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(6))]
    /// (f) After `handle_timeout(t)` for a due timer, something happened or the next timer is
    /// after `t`; a wake-up with nothing due does nothing.
    #[test]
    fn timers_never_busy_loop(case in case()) {
        run(&case, Checks { timers: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(7))]
    /// (g) With `ask_for_credentials`, `NeedCredentials` comes only while an exchange waits,
    /// once per wait, never beside an auth operation, and every exchange still ends.
    #[test]
    fn credentials_are_asked_for_once_per_wait_and_only_while_someone_waits(case in asking_case()) {
        run(&case, Checks { asking: true, single_flight: true, endings: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(8))]
    /// (h) After a login or refresh answered 429/5xx with a `Retry-After`, no `Authenticate`
    /// is emitted before that time (clamped to `limits::MAX_AUTH_RETRY_AFTER`), whatever
    /// starts, times out or is installed meanwhile; every exchange still ends.
    #[test]
    fn no_auth_request_before_the_servers_retry_after(case in case()) {
        run(&case, Checks { retry_after: true, endings: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(9))]
    /// (i) `offer_tokens` adopts exactly the sets issued after the last one held that can be
    /// used; after an adopted offer no `Authenticate` uses a refresh token older than the
    /// adopted one; every exchange still ends.
    #[test]
    fn offers_adopt_only_newer_usable_sets_and_retire_older_refresh_tokens(case in case()) {
        run(&case, Checks { offers: true, endings: true, single_flight: true, ..Checks::default() })?;
    }
}
