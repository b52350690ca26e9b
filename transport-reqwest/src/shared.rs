//! The session shared by every task: one short critical section per input, outputs routed
//! to the exchange that owns them, auth operations handed to a task of their own.
//!
//! Rules kept here:
//! - the lock is a `std::sync::Mutex` and is never held across an await;
//! - after every input the engine's actions are drained under the lock: `Send`/`Deliver`/
//!   `Fail` go to their exchange's slot (and wake it), `Authenticate` is parked, events are
//!   collected; wakers, the auth task and event listeners run after the lock is released;
//! - an `Authenticate` is performed by a detached tokio task (see [`crate::auth`]), so a
//!   caller that drops its future never aborts a login or refresh half-way, and no caller
//!   waits for a proactive refresh. If that task is dropped anyway (its runtime shut down),
//!   its guard reports `handle_auth_abandoned` and the re-issued operation is picked up by
//!   the next waiting exchange that is polled, or by the next input;
//! - while the engine has a [`Lease`] (a fresh token, no timer due), a request does not take
//!   the session lock: it reads the lease from its thread's stripe (a lock only that stripe's
//!   threads and the publisher take), sends with the stripe's copy of the header, and hands a
//!   response the engine's [`ResponseRules`] call final straight to its caller, counting both
//!   in the stripe; the counts reach the engine's metrics when they are read. The lease is
//!   republished into every stripe under the session lock after every input, so a request
//!   that reads it is ordered before or after that input as a whole; a leased request whose
//!   outcome needs a decision is adopted (`Session::adopt`) and continues as an ordinary
//!   exchange;
//! - waiting exchanges sleep until `poll_timeout` and then call `handle_timeout`; when an
//!   input moves the next timer earlier, every waiting exchange is woken to re-arm. A timer
//!   that came due while nobody slept on it fires at the next `start`; with
//!   `Config::refresh_ahead` a background task sleeps on every timer (see [`crate::timer`]).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use http::HeaderValue;
use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::{
    Action, AuthRequest, Event, ExchangeId, Lease, LeaseTerms, Metrics, RequestMeta, ResponseRules,
    Session, Timestamp,
};

use crate::clock;

/// A user hook called with every engine event, after the session lock is released.
pub(crate) type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// What a credentials provider returns: credentials, or `None` when there are none.
pub(crate) type CredentialsFuture = Pin<Box<dyn Future<Output = Option<Credentials>> + Send>>;

/// Asked for credentials when the engine says `NeedCredentials`.
pub(crate) type CredentialsProvider = Arc<dyn Fn() -> CredentialsFuture + Send + Sync>;

/// What the published lease says of a request (see [`Shared::leased`]).
pub(crate) enum LeaseRoute {
    /// Send it with this `Authorization` value; requests carry this token generation.
    Valid(HeaderValue, u64),
    /// The token is not sent to this origin.
    Elsewhere,
    /// No valid lease: the engine decides.
    None,
}

/// What the engine decided for one exchange.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send (or resend) the request with this `Authorization` value.
    Send(HeaderValue),
    /// Hand the last response to the caller.
    Deliver,
    /// Fail the caller with this error.
    Fail(tokenkeeper_core::Error),
}

/// The mailbox of one exchange: its next step, and the waker of the task waiting for it.
#[derive(Default)]
struct Slot {
    step: Option<Step>,
    waker: Option<Waker>,
}

/// Hashes exchange ids for the slot map. They come from the engine, not from a peer (no
/// flooding to fear), and are small counters: one multiply per word spreads them well,
/// where SipHash cost about a fifth of the driver's own work per request (a request looks
/// its slot up six times).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // FxHash's step with the golden-ratio multiplier: the high bits (hashbrown's tag
        // byte) mix every input bit, the low ones (its bucket index) differ for ids that
        // differ in their low bits.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Slots = HashMap<ExchangeId, Slot, BuildHasherDefault<IdHasher>>;

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) session: Session,
    slots: Slots,
    /// An `Authenticate` that no task has taken yet.
    pending_auth: Option<AuthRequest>,
    /// The next timer as of the last drain, to notice when it moves earlier.
    last_timer: Option<Timestamp>,
    /// Whether the background timer task runs (see [`crate::timer`]).
    pub(crate) timer_task: bool,
    /// The background timer task's waker, woken when the next timer moves earlier.
    pub(crate) timer_waker: Option<Waker>,
    /// The terms of the published lease.
    lease_terms: Option<LeaseTerms>,
    /// The engine asked for credentials and no task has taken the question yet.
    ask_wanted: bool,
    /// A task is asking the credentials provider.
    asking: bool,
}

/// The lock-free path is striped by thread: a lock, counter or reference count that every
/// worker thread updated would cost a cache-line transfer per request.
const STRIPES: usize = 8;

/// This thread's stripe.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|i| *i)
}

/// One stripe: its copy of the published lease (with a header copy of its own), and the counts
/// of its leased requests since the engine was last told. Only the stripe's threads and the
/// publisher take its lock, so it is almost never contended.
#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    lease: Mutex<Option<(Lease, HeaderValue)>>,
    sent: AtomicU64,
    delivered: AtomicU64,
}

impl Stripe {
    fn lease(&self) -> MutexGuard<'_, Option<(Lease, HeaderValue)>> {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What to do once the lock is released.
#[derive(Default)]
pub(crate) struct Outputs {
    wakers: Vec<Waker>,
    events: Vec<Event>,
}

/// The state shared by a [`Keeper`](crate::Keeper), its clients, middleware and auth tasks.
///
/// Aligned to 128 bytes so that the `Arc`'s reference counts, which every request builder
/// updates, share no cache line with the fields the lock-free path reads.
#[repr(align(128))]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The client for API requests made through [`Client`](crate::Client).
    pub(crate) base: reqwest::Client,
    /// The client for login and refresh requests (does not follow redirects).
    pub(crate) auth_client: reqwest::Client,
    listeners: Vec<Listener>,
    /// Asked when the engine needs credentials (`Config::ask_for_credentials` is set with it).
    pub(crate) provider: Option<CredentialsProvider>,
    /// The engine's current lease, republished into every stripe under the session lock after
    /// every input, and the counts of leased requests.
    stripes: [Stripe; STRIPES],
    /// How the engine sorts responses (fixed by the configuration).
    rules: ResponseRules,
    /// Run a background task for the engine's timers (`Config::refresh_ahead`): with it, an
    /// idle session is refreshed before the next request arrives.
    background_timer: bool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Let the background timer task see that the session is gone, and end.
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = st.timer_waker.take() {
            w.wake();
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Shared")
            .field("session", &st.session)
            .field("slots", &st.slots.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        base: reqwest::Client,
        auth_client: reqwest::Client,
        listeners: Vec<Listener>,
        provider: Option<CredentialsProvider>,
    ) -> Self {
        let background_timer = session.config().refresh_ahead && session.config().enabled;
        Shared {
            background_timer,
            stripes: Default::default(),
            rules: session.response_rules(),
            state: Mutex::new(State {
                session,
                slots: Slots::default(),
                pending_auth: None,
                last_timer: None,
                timer_task: false,
                timer_waker: None,
                lease_terms: None,
                ask_wanted: false,
                asking: false,
            }),
            base,
            auth_client,
            listeners,
            provider,
        }
    }

    /// The lock. A panic elsewhere (a user hook, say) must not wedge every request, and the
    /// session's own methods do not panic half-way, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the session without changing it.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(&self.lock().session)
    }

    /// The engine's metrics, leased requests included.
    pub(crate) fn metrics(&self) -> Metrics {
        let now = clock::now();
        let mut st = self.lock();
        let (mut sent, mut delivered) = (0, 0);
        for s in &self.stripes {
            sent += s.sent.swap(0, Ordering::Relaxed);
            delivered += s.delivered.swap(0, Ordering::Relaxed);
        }
        st.session.record_leased(sent, delivered);
        st.session.metrics(now)
    }

    /// Republishes the lease if the engine's changed. Called under the lock after every input,
    /// so that a request reading the lease is ordered before or after the input as a whole.
    fn publish(&self, st: &mut State, now: Timestamp) {
        let terms = st.session.lease_terms(now);
        if terms != st.lease_terms {
            st.lease_terms = terms;
            let lease = st.session.lease(now);
            for s in &self.stripes {
                *s.lease() = lease.as_ref().map(|l| (l.clone(), l.authorization_copy()));
            }
        }
    }

    /// What the published lease says of a request to `url` starting at `now`: send it with
    /// this `Authorization` value (counted as a leased request), send it untouched (the lease
    /// does not cover its origin), or ask the engine. Takes no session lock.
    pub(crate) fn leased(&self, url: &reqwest::Url, now: Timestamp) -> LeaseRoute {
        let stripe = &self.stripes[stripe()];
        let lease = {
            let slot = stripe.lease();
            let Some((lease, header)) = slot.as_ref().filter(|(l, _)| l.is_valid(now)) else {
                return LeaseRoute::None;
            };
            let allowed = url
                .host_str()
                .is_some_and(|h| lease.allows(url.scheme(), h, url.port_or_known_default()));
            if !allowed {
                return LeaseRoute::Elsewhere;
            }
            LeaseRoute::Valid(header.clone(), lease.generation())
        };
        stripe.sent.fetch_add(1, Ordering::Relaxed);
        lease
    }

    /// Whether the response to a leased request is the caller's as it is (counted as
    /// delivered), or needs the engine.
    pub(crate) fn settles_leased(&self, status: http::StatusCode, meta: RequestMeta) -> bool {
        let settles = self.rules.delivers_as_is(status, meta);
        if settles {
            self.stripes[stripe()]
                .delivered
                .fetch_add(1, Ordering::Relaxed);
        }
        settles
    }

    /// Hands a leased request (sent at `started` with token `generation`) to the engine, with
    /// the outcome that needs it: `f` reports it under the new exchange's id.
    pub(crate) fn adopt<R>(
        self: &Arc<Self>,
        started: Timestamp,
        meta: RequestMeta,
        generation: u64,
        f: impl FnOnce(&mut Session, Timestamp, ExchangeId) -> R,
    ) -> (ExchangeGuard<'_>, R, Option<Step>) {
        let (id, r, step) = self.locked(|st, now, out| {
            let id = st.session.adopt(started, meta, generation);
            st.slots.insert(id, Slot::default());
            let r = f(&mut st.session, now, id);
            st.drain(out);
            (id, r, st.take_step(id))
        });
        (self.guard(id), r, step)
    }

    /// Runs `f` under the lock (it feeds the engine and drains it into `out`), then, with the
    /// lock released: hands a new auth operation to a task of its own, starts the background
    /// timer if it is due, wakes tasks and reports events.
    pub(crate) fn locked<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut State, Timestamp, &mut Outputs) -> R,
    ) -> R {
        let now = clock::now();
        let mut out = Outputs::default();
        let (r, auth, ask, start_timer) = {
            let mut st = self.lock();
            let r = f(&mut st, now, &mut out);
            self.publish(&mut st, now);
            let start_timer = self.background_timer
                && !st.timer_task
                && tokio::runtime::Handle::try_current().is_ok();
            st.timer_task |= start_timer;
            (r, st.pending_auth.take(), st.take_ask(), start_timer)
        };
        if let Some(auth) = auth {
            self.spawn_auth(auth);
        }
        if ask {
            self.spawn_ask();
        }
        if start_timer {
            crate::timer::spawn(self);
        }
        self.dispatch(out);
        r
    }

    /// Feeds one input to the engine (`f` gets the session and `now`), drains the outputs,
    /// and returns `f`'s result with the next step of `caller`'s exchange if one is due.
    pub(crate) fn input<R>(
        self: &Arc<Self>,
        caller: Option<ExchangeId>,
        f: impl FnOnce(&mut Session, Timestamp) -> R,
    ) -> (R, Option<Step>) {
        self.locked(|st, now, out| {
            let r = f(&mut st.session, now);
            st.drain(out);
            (r, caller.and_then(|id| st.take_step(id)))
        })
    }

    /// Starts an exchange for a request to `url` if the token may be sent there; `None` means
    /// the origin is not allowed and the request must go out untouched.
    pub(crate) fn start(
        self: &Arc<Self>,
        url: &reqwest::Url,
        meta: RequestMeta,
    ) -> Option<(ExchangeGuard<'_>, Option<Step>)> {
        let host = url.host_str()?;
        let port = url.port_or_known_default();
        let (id, step) = self.locked(|st, now, out| {
            if !st.session.allows(url.scheme(), host, port) {
                return None;
            }
            // Fire a timer that came due while no task was sleeping on it.
            if st.session.poll_timeout().is_some_and(|(at, _)| at <= now) {
                st.session.handle_timeout(now);
            }
            let id = st.session.start(now, meta);
            st.slots.insert(id, Slot::default());
            st.drain(out);
            Some((id, st.take_step(id)))
        })?;
        Some((self.guard(id), step))
    }

    /// Starts an explicit login exchange (`Session::login`).
    pub(crate) fn start_login(self: &Arc<Self>) -> (ExchangeGuard<'_>, Option<Step>) {
        let (id, step) = self.locked(|st, now, out| {
            let id = st.session.login(now);
            st.slots.insert(id, Slot::default());
            st.drain(out);
            (id, st.take_step(id))
        });
        (self.guard(id), step)
    }

    fn guard(&self, id: ExchangeId) -> ExchangeGuard<'_> {
        ExchangeGuard {
            shared: self,
            id,
            ended: false,
        }
    }

    /// Waits for the exchange's next step (sleeping on the engine's timers meanwhile).
    pub(crate) fn wait(self: &Arc<Self>, id: ExchangeId) -> WaitStep<'_> {
        WaitStep {
            shared: self,
            id,
            sleep: None,
        }
    }

    /// Feeds an input from a destructor: nothing may be spawned here (the runtime may be
    /// shutting down), so a re-issued `Authenticate` is parked for the next waiter.
    pub(crate) fn input_from_drop(&self, f: impl FnOnce(&mut Session, Timestamp)) {
        self.input_from_drop_with(|st, now, _| f(&mut st.session, now));
    }

    pub(crate) fn input_from_drop_with(&self, f: impl FnOnce(&mut State, Timestamp, &mut Outputs)) {
        let now = clock::now();
        let mut out = Outputs::default();
        {
            let mut st = self.lock();
            f(&mut st, now, &mut out);
            st.drain(&mut out);
            self.publish(&mut st, now);
            if st.pending_auth.is_some() || st.ask_wanted {
                st.wake_all(&mut out);
            }
        }
        self.dispatch(out);
    }

    fn dispatch(&self, out: Outputs) {
        for w in out.wakers {
            w.wake();
        }
        for e in &out.events {
            for l in &self.listeners {
                l(e);
            }
        }
    }

    /// Asks the credentials provider on a task of its own on the current tokio runtime; with
    /// no runtime here the question is parked for the next waiter to take.
    fn spawn_ask(self: &Arc<Self>) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(crate::auth::ask(crate::auth::AskGuard::new(Arc::clone(
                self,
            ))));
        } else {
            let mut out = Outputs::default();
            {
                let mut st = self.lock();
                st.asking = false;
                st.ask_wanted = true;
                st.wake_all(&mut out);
            }
            self.dispatch(out);
        }
    }

    /// Runs the auth operation on a task of its own on the current tokio runtime.
    fn spawn_auth(self: &Arc<Self>, auth: AuthRequest) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let guard = crate::auth::AuthGuard::new(Arc::clone(self), auth.id);
            handle.spawn(crate::auth::perform(guard, auth));
        } else {
            // Called outside a runtime (e.g. `set_tokens` from a plain thread): park it and
            // wake the waiting exchanges, which take it on their runtime; otherwise the next
            // request takes it.
            tracing::debug!("tokenkeeper: no tokio runtime here; auth request parked");
            let mut out = Outputs::default();
            {
                let mut st = self.lock();
                st.pending_auth = Some(auth);
                st.wake_all(&mut out);
            }
            self.dispatch(out);
        }
    }
}

impl State {
    /// Takes the engine's question for credentials if no task is asking yet: the caller must
    /// then ask (see `Shared::spawn_ask`).
    fn take_ask(&mut self) -> bool {
        let ask = self.ask_wanted && !self.asking;
        self.ask_wanted &= !ask;
        self.asking |= ask;
        ask
    }

    /// The provider answered (or its task ended without an answer): gives the engine the
    /// answer.
    pub(crate) fn answer(
        &mut self,
        now: Timestamp,
        credentials: Option<Credentials>,
        out: &mut Outputs,
    ) {
        self.asking = false;
        self.session.provide_credentials(now, credentials);
        self.drain(out);
    }

    /// Drains every action, routing each to its place.
    fn drain(&mut self, out: &mut Outputs) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send { id, authorization } => {
                    self.route(id, Step::Send(authorization), out);
                }
                Action::Deliver { id } => self.route(id, Step::Deliver, out),
                Action::Fail { id, error } => self.route(id, Step::Fail(error), out),
                Action::Authenticate(auth) => {
                    tracing::debug!(op = auth.id.as_u64(), kind = ?auth.kind, "tokenkeeper: authenticate");
                    self.pending_auth = Some(auth);
                }
                Action::Event(e) => out.events.push(e),
                Action::NeedCredentials => self.ask_wanted = true,
                _ => {}
            }
        }
        let timer = self.session.poll_timeout().map(|(at, _)| at);
        if timer != self.last_timer {
            let earlier = match (timer, self.last_timer) {
                (Some(t), Some(last)) => t < last,
                (Some(_), None) => true,
                (None, _) => false,
            };
            self.last_timer = timer;
            if earlier {
                self.wake_all(out);
            }
        }
    }

    fn route(&mut self, id: ExchangeId, step: Step, out: &mut Outputs) {
        if let Some(slot) = self.slots.get_mut(&id) {
            debug_assert!(slot.step.is_none(), "two steps for one exchange");
            slot.step = Some(step);
            if let Some(w) = slot.waker.take() {
                out.wakers.push(w);
            }
        }
    }

    /// Takes the exchange's next step; a final one (`Deliver`/`Fail`) removes its slot.
    fn take_step(&mut self, id: ExchangeId) -> Option<Step> {
        let slot = self.slots.get_mut(&id)?;
        let step = slot.step.take()?;
        slot.waker = None;
        if !matches!(step, Step::Send(_)) {
            self.slots.remove(&id);
        }
        Some(step)
    }

    /// Wakes every waiting exchange and the background timer (to re-arm a timer, or to take a
    /// parked auth request).
    fn wake_all(&mut self, out: &mut Outputs) {
        out.wakers
            .extend(self.slots.values_mut().filter_map(|s| s.waker.take()));
        out.wakers.extend(self.timer_waker.take());
    }
}

/// Cancels the exchange in the engine and removes its slot when the exchange future is
/// dropped before the engine ended it (`Deliver`/`Fail`, whose slot is removed as the step is
/// taken). It borrows the session from the exchange's future rather than holding a
/// reference count: two atomic updates less per request on a cache line every worker
/// thread writes.
pub(crate) struct ExchangeGuard<'a> {
    shared: &'a Shared,
    pub(crate) id: ExchangeId,
    ended: bool,
}

impl ExchangeGuard<'_> {
    /// The engine ended the exchange (`Deliver`/`Fail` was taken): nothing to cancel.
    pub(crate) fn ended(&mut self) {
        self.ended = true;
    }
}

impl Drop for ExchangeGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let id = self.id;
            tracing::debug!(exchange = id.as_u64(), "tokenkeeper: exchange cancelled");
            self.shared.input_from_drop_with(|st, _, _| {
                st.session.cancel(id);
                st.slots.remove(&id);
            });
        }
    }
}

/// The future of an exchange's next step: checks its slot, takes a parked auth request,
/// sleeps until the engine's next timer and fires it.
pub(crate) struct WaitStep<'a> {
    shared: &'a Arc<Shared>,
    id: ExchangeId,
    sleep: Option<(Timestamp, Pin<Box<tokio::time::Sleep>>)>,
}

impl Future for WaitStep<'_> {
    type Output = Option<Step>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        let this = self.get_mut();
        loop {
            let (timer, auth, ask) = {
                let mut st = this.shared.lock();
                if let Some(step) = st.take_step(this.id) {
                    return Poll::Ready(Some(step));
                }
                let Some(slot) = st.slots.get_mut(&this.id) else {
                    return Poll::Ready(None);
                };
                match &slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                (
                    st.session.poll_timeout().map(|(at, _)| at),
                    st.pending_auth.take(),
                    st.take_ask(),
                )
            };
            if let Some(auth) = auth {
                this.shared.spawn_auth(auth);
            }
            if ask {
                this.shared.spawn_ask();
            }
            let Some(at) = timer else {
                this.sleep = None;
                return Poll::Pending;
            };
            let sleep = match &mut this.sleep {
                Some((armed, sleep)) if *armed == at => sleep,
                other => {
                    &mut other
                        .insert((at, Box::pin(tokio::time::sleep_until(clock::deadline(at)))))
                        .1
                }
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            let ((), step) = this.shared.input(Some(this.id), Session::handle_timeout);
            if step.is_some() {
                return Poll::Ready(step);
            }
        }
    }
}
