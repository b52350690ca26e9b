//! Steering a running server: the [`Control`] handle for Rust tests (the same operations
//! over HTTP under `/_control/` are in `control_http.rs`).

use std::fmt;
use std::time::Duration;

use crate::config::{RetryAfter, RouteKind};
use crate::counters::Counters;
use crate::faults::{Injected, Random};
use crate::gauges::Gauges;
use crate::recorder::Recorded;
use crate::script::{self, Script, ScriptError, Times};
use crate::state::AppState;

/// A cheap, clonable handle that changes a running server's behaviour.
///
/// Faults (`fail_next_*`, latency, dropped connections, random faults, scripts) are
/// cleared by [`Control::reset_faults`]; settings (rotation, refusal style, lifetimes,
/// clock) by [`Control::reset_settings`]; the recorder by [`Control::reset_recorded`];
/// all of them and the counters by [`Control::reset`]. The crate docs list each operation
/// with its JSON form for `POST /_control/faults`.
#[derive(Clone)]
pub struct Control(pub(crate) AppState);

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.0.counters.snapshot()
    }

    /// Revokes every token issued so far (access and refresh); new logins still work.
    pub fn revoke_all(&self) {
        self.0.tokens.revoke_all();
    }

    /// Answers the next `n` refresh requests (VitalGraph and the `refresh_token` grant)
    /// with `status`, plus `Retry-After` when given; they count as `refreshes_faulted`.
    pub fn fail_next_refreshes(&self, n: u32, status: u16, retry_after: Option<RetryAfter>) {
        self.0.faults.fail_next(
            RouteKind::Refresh,
            n,
            Injected {
                status,
                retry_after,
            },
        );
    }

    /// Answers the next `n` logins (VitalGraph, password and client-credentials grants)
    /// with `status`, plus `Retry-After` when given; they count as `logins_faulted`.
    pub fn fail_next_logins(&self, n: u32, status: u16, retry_after: Option<RetryAfter>) {
        self.0.faults.fail_next(
            RouteKind::Login,
            n,
            Injected {
                status,
                retry_after,
            },
        );
    }

    /// Queues `script` for the requests of route kind `kind` (`Any`: login, refresh and
    /// protected each get it), after any script already queued there: the next `n`
    /// requests (or all, until reset) get it instead of the usual answer. Scripts come
    /// before `fail_next_*` faults; latency and dropped connections come first. A `Real`
    /// script for protected routes (or `Any`) is refused, as is an invalid answer; then
    /// nothing is queued.
    pub fn script(
        &self,
        kind: RouteKind,
        times: Times,
        script: impl Into<Script>,
    ) -> Result<(), ScriptError> {
        let p = script::prepare(kind, script.into())?;
        self.0.faults.push_script(kind, times, &p);
        Ok(())
    }

    /// What the server is doing right now: open connections, scripted answers in progress.
    pub fn gauges(&self) -> Gauges {
        self.0.gauges.snapshot()
    }

    /// Waits until no scripted answer is in progress (every client given a delayed,
    /// never-sent, streaming or reset answer has read it or gone away); `false` if
    /// `timeout` passed first.
    pub async fn wait_scripts_idle(&self, timeout: Duration) -> bool {
        self.0.gauges.scripts_idle(timeout).await
    }

    /// Delays every answer on routes of `kind` by `delay` (zero turns it off).
    pub fn set_latency(&self, kind: RouteKind, delay: Duration) {
        self.0.faults.set_latency(kind, delay);
    }

    /// Closes the TCP connection of the next `n` requests on routes of `kind` without
    /// answering (the client sees an incomplete message). Replaces any earlier setting.
    pub fn drop_next_connections(&self, n: u32, kind: RouteKind) {
        self.0.faults.drop_next(n, kind);
    }

    /// Refuses a fraction `rate` (0..=1) of otherwise valid protected requests with a 401,
    /// reproducibly for a given `seed`; counted as `protected_injected_401` (and
    /// `protected_unauthorized`). 0 turns it off.
    pub fn set_random_401_rate(&self, rate: f64, seed: u64) {
        self.0
            .faults
            .set_random(Random::Protected401, rate, seed, None);
    }

    /// Answers a fraction `rate` (0..=1) of protected requests (before their token is
    /// checked) with a 503 and `Retry-After` when given, reproducibly for `seed`; counted
    /// as `protected_injected_503`. 0 turns it off.
    pub fn set_random_503_rate(&self, rate: f64, seed: u64, retry_after: Option<RetryAfter>) {
        self.0
            .faults
            .set_random(Random::Protected503, rate, seed, retry_after);
    }

    /// Closes the connection of a fraction `rate` (0..=1) of protected requests without an
    /// answer, reproducibly for `seed`; counted as `dropped_connections`. 0 turns it off.
    pub fn set_random_drop_rate(&self, rate: f64, seed: u64) {
        self.0
            .faults
            .set_random(Random::ProtectedDrop, rate, seed, None);
    }

    /// Answers a fraction `rate` (0..=1) of refreshes (VitalGraph and the `refresh_token`
    /// grant; after any `fail_next_refreshes`) with a 503 and `Retry-After` when given,
    /// reproducibly for `seed`; counted as `refreshes_faulted`. 0 turns it off.
    pub fn set_random_refresh_503_rate(
        &self,
        rate: f64,
        seed: u64,
        retry_after: Option<RetryAfter>,
    ) {
        self.0
            .faults
            .set_random(Random::Refresh503, rate, seed, retry_after);
    }

    /// Turns refresh-token rotation on or off for later refreshes.
    pub fn set_rotation(&self, on: bool) {
        self.0.settings.set_rotation(on);
    }

    /// Turns reuse detection on or off for later refreshes.
    pub fn set_reuse_detection(&self, on: bool) {
        self.0.settings.set_reuse_detection(on);
    }

    /// Revokes (or stops revoking) the family's previous access token on each refresh.
    pub fn set_revoke_access_on_rotation(&self, on: bool) {
        self.0.settings.set_revoke_access_on_rotation(on);
    }

    /// Makes protected routes refuse a missing, invalid, expired or revoked token with a
    /// bare `403` (no body, no `WWW-Authenticate`; counted as `protected_forbidden`), or
    /// back to `401` with a Bearer challenge. Injected random 401s stay 401s.
    pub fn set_bare_403_refusals(&self, on: bool) {
        self.0.settings.set_bare_403_refusals(on);
    }

    /// Sets the access lifetime of later logins, and of refreshes in families whose login
    /// did not ask for a lifetime.
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.0.settings.set_access_ttl(ttl);
    }

    /// Sets the lifetime of refresh tokens issued from now on.
    pub fn set_refresh_ttl(&self, ttl: Duration) {
        self.0.settings.set_refresh_ttl(ttl);
    }

    /// Stops the server's clock where it is: from then on it moves only with
    /// [`Control::advance_clock`] (until reset), so a client on a manual clock started at the
    /// returned time (milliseconds since the Unix epoch) sees tokens expire exactly when the
    /// server does, without anyone waiting.
    pub fn freeze_clock(&self) -> u64 {
        self.0.freeze_clock()
    }

    /// Moves the server's clock forward: tokens expire without the test sleeping.
    pub fn advance_clock(&self, by: Duration) {
        self.0.advance_clock(by);
    }

    /// The requests the recorder answered (fallback and `/_record/*`), oldest first, at
    /// most [`MAX_RECORDED`](crate::MAX_RECORDED).
    pub fn recorded(&self) -> Vec<Recorded> {
        self.0.recorder.list()
    }

    /// Forgets the recorded requests.
    pub fn reset_recorded(&self) {
        self.0.recorder.clear();
    }

    /// Sets every counter to zero.
    pub fn reset_counters(&self) {
        self.0.counters.reset();
    }

    /// Clears every injected fault and queued script.
    pub fn reset_faults(&self) {
        self.0.faults.reset();
    }

    /// Restores rotation, reuse detection, the revocation and refusal styles, lifetimes and
    /// the clock to the start-up values.
    pub fn reset_settings(&self) {
        self.0.reset_settings();
    }

    /// Counters, faults, settings and the recorder all back to their start-up state (tokens
    /// stay valid unless the clock had been advanced past them).
    pub fn reset(&self) {
        self.reset_counters();
        self.reset_recorded();
        self.reset_faults();
        self.reset_settings();
    }
}
