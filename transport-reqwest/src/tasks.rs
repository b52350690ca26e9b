//! Carrying out what an input left to do, with the lock released: waking tasks, running the
//! auth request and the credentials question on tasks of their own, the background timer, and
//! the user's event hooks.
//!
//! An auth request runs on a detached tokio task, so a caller that drops its future never
//! aborts a login or refresh half-way and no caller waits for a proactive refresh. If that
//! task is dropped anyway (its runtime shut down), its guard reports the operation abandoned
//! and the engine hands it out again to whoever still waits. Outside a tokio runtime nothing
//! can be spawned: the request (or question) is parked in the driver and the next waiting
//! exchange, which runs on a runtime, takes it.
//!
//! With a token store ([`crate::store`]), the auth task does the store's part of the lock
//! protocol around the request ([`lock_protocol`]): look, lock, look again, ask the
//! engine's gate, perform, report, save the new tokens, release. Other inputs' saves run on
//! tasks of their own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures::future::{AbortHandle, Abortable};
use tokenkeeper_core::driver::{AuthOutcome, Work};
use tokenkeeper_core::{AuthId, AuthRequest, Timestamp};

use tracing::Instrument as _;

use crate::clock::Sleep;
use crate::io::{self, AuthAnswer};
use crate::state::{Jobs, Shared};
use lock_protocol::Before;

mod lock_protocol;

/// Does what an input left to do (see the module docs).
pub(crate) fn carry_out(shared: &Arc<Shared>, jobs: Jobs) {
    let Jobs {
        mut work,
        start_timer,
        persist,
    } = jobs;
    if let Some(store) = &shared.store {
        if let Some(p) = persist {
            lock_protocol::spawn_save(store, p);
        }
        lock_protocol::start_watch(shared);
    }
    if let Some(auth) = work.auth.take() {
        spawn_auth(shared, auth);
    }
    if work.ask {
        spawn_ask(shared);
    }
    if start_timer {
        spawn_timer(shared);
    }
    finish(shared, work);
}

/// Carries out the jobs of an input made from a destructor: nothing may be spawned there (the
/// runtime may be shutting down), so a new auth request or question is parked for the next
/// waiting exchange.
pub(crate) fn carry_out_in_drop(shared: &Shared, jobs: Jobs) {
    let mut work = jobs.work;
    if let (Some(store), Some(p)) = (&shared.store, jobs.persist) {
        lock_protocol::spawn_save(store, p);
    }
    if work.auth.is_some() || work.ask {
        let auth = work.auth.take();
        let ask = work.ask;
        let ((), more) = shared.locked(|st, _, w| {
            if let Some(auth) = auth {
                st.driver.park_auth(auth, w);
            }
            if ask {
                st.driver.park_ask(w);
            }
        });
        work.wakers.extend(more.work.wakers);
    }
    finish(shared, work);
}

fn finish(shared: &Shared, mut work: Work) {
    work.wake();
    for e in &work.events {
        crate::trace::event(shared, e);
        for l in &shared.listeners {
            l(e);
        }
    }
}

/// Runs the auth request on a task of its own on the current tokio runtime (parks it when
/// there is none).
fn spawn_auth(shared: &Arc<Shared>, auth: AuthRequest) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("tokenkeeper: no tokio runtime here; auth request parked");
        let ((), jobs) = shared.locked(|st, _, work| st.driver.park_auth(auth, work));
        return carry_out(shared, jobs);
    };
    let span = crate::trace::auth_span(shared, &auth);
    let (handle, registration) = AbortHandle::new_pair();
    shared.lock().auth_abort = Some((auth.id, handle));
    let guard = AuthGuard {
        shared: Arc::clone(shared),
        op: auth.id,
        reported: false,
    };
    runtime.spawn(Abortable::new(perform(guard, auth), registration).instrument(span));
}

async fn perform(mut guard: AuthGuard, mut auth: AuthRequest) {
    let shared = Arc::clone(&guard.shared);
    let op = auth.id;
    let lock = match lock_protocol::before(&shared, op).await {
        Before::Send(lock) => lock,
        Before::Ended => {
            // Adopted from the store, or dropped: the request (its body holds the password
            // or the refresh token) is wiped unsent, and nothing is reported.
            guard.reported = true;
            auth.request.wipe_body();
            let mut st = shared.lock();
            if st.auth_abort.as_ref().is_some_and(|(id, _)| *id == op) {
                st.auth_abort = None;
            }
            return;
        }
    };
    let answer = io::perform(&shared.auth_client, auth).await;
    guard.reported = true;
    let ((), mut jobs) = shared.locked(|st, now, work| {
        if st.auth_abort.as_ref().is_some_and(|(id, _)| *id == op) {
            st.auth_abort = None;
        }
        let outcome = match &answer {
            AuthAnswer::Response {
                status,
                headers,
                body,
            } => {
                tracing::debug!(
                    op = op.as_u64(),
                    status = status.as_u16(),
                    "tokenkeeper: auth response"
                );
                AuthOutcome::Response {
                    status: *status,
                    headers,
                    body,
                }
            }
            AuthAnswer::Failed(failure) => AuthOutcome::Error(*failure),
        };
        st.driver.auth_outcome(now, op, outcome, work);
    });
    // The waiters go out at once; the new tokens are saved before the store's lock is
    // released, so the next holder finds them.
    let persist = jobs.persist.take();
    carry_out(&shared, jobs);
    lock_protocol::after(&shared, persist, lock).await;
}

/// Reports the auth operation abandoned if its task is dropped before it reported an outcome
/// (its runtime shut down, or it was aborted at its deadline, which the engine already
/// counted), so the engine hands it out again if anyone still waits for it.
struct AuthGuard {
    shared: Arc<Shared>,
    op: AuthId,
    reported: bool,
}

impl Drop for AuthGuard {
    fn drop(&mut self) {
        if !self.reported {
            let op = self.op;
            tracing::debug!(op = op.as_u64(), "tokenkeeper: auth request abandoned");
            let ((), jobs) = self.shared.locked(|st, now, work| {
                st.driver
                    .auth_outcome(now, op, AuthOutcome::Abandoned, work);
            });
            carry_out_in_drop(&self.shared, jobs);
        }
    }
}

/// Asks the credentials provider on a task of its own (parks the question without a runtime).
fn spawn_ask(shared: &Arc<Shared>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        let ((), jobs) = shared.locked(|st, _, work| st.driver.park_ask(work));
        return carry_out(shared, jobs);
    };
    let guard = AskGuard {
        shared: Arc::clone(shared),
        answered: false,
    };
    runtime.spawn(ask(guard));
}

/// Asks the provider and gives the engine its answer. The credentials are never logged.
async fn ask(mut guard: AskGuard) {
    let shared = Arc::clone(&guard.shared);
    let answer = match &shared.provider {
        Some(provider) => provider().await,
        None => None,
    };
    guard.answered = true;
    let (_, jobs) = shared.locked(|st, now, work| st.driver.answer(now, answer, work));
    carry_out(&shared, jobs);
}

/// Gives the engine no credentials if the task asking the provider is dropped (the runtime
/// shuts down, the provider panicked) before it answered, so the waiting exchanges end.
struct AskGuard {
    shared: Arc<Shared>,
    answered: bool,
}

impl Drop for AskGuard {
    fn drop(&mut self) {
        if !self.answered {
            tracing::debug!("tokenkeeper: credentials provider gave no answer");
            let (_, jobs) = self
                .shared
                .locked(|st, now, work| st.driver.answer(now, None, work));
            carry_out_in_drop(&self.shared, jobs);
        }
    }
}

/// Starts the background timer task (`Config::refresh_ahead`): it sleeps until the engine's
/// next timer and fires it even when no request waits, so an idle session is refreshed before
/// the next request arrives (and an auth retry, deadline or circuit cool-down ends on time).
/// It holds only a `Weak` reference and ends once the keeper is gone.
fn spawn_timer(shared: &Arc<Shared>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        tracing::debug!("tokenkeeper: background timer started");
        runtime.spawn(TimerTask {
            shared: Arc::downgrade(shared),
            sleep: None,
        });
    }
}

struct TimerTask {
    shared: Weak<Shared>,
    sleep: Option<(Timestamp, Sleep)>,
}

impl Drop for TimerTask {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let mut st = shared.lock();
            st.timer_task = false;
            st.timer_waker = None;
        }
    }
}

impl Future for TimerTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            // Never keep the session alive while pending: upgrade on every poll.
            let Some(shared) = this.shared.upgrade() else {
                return Poll::Ready(());
            };
            let timer = {
                let mut st = shared.lock();
                st.timer_waker = Some(cx.waker().clone());
                st.driver.next_timer().map(|(at, _)| at)
            };
            let Some(at) = timer else {
                this.sleep = None;
                return Poll::Pending;
            };
            let sleep = match &mut this.sleep {
                Some((armed, sleep)) if *armed == at => sleep,
                other => &mut other.insert((at, shared.clock.sleep_until(at))).1,
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            let ((), jobs) = shared.locked(|st, now, work| st.driver.fire_timers(now, work));
            carry_out(&shared, jobs);
        }
    }
}
