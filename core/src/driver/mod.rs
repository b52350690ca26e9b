//! The driver kit: what every driver of a [`Session`] needs, written and tested once, with no
//! I/O, no clock and no runtime of its own.
//!
//! A driver (`tokenkeeper-reqwest`, `tokenkeeper-wasm`, or a third one) keeps a [`Driver`]
//! behind its lock (a `Mutex`, a `RefCell`) and does only I/O, spawning, sleeping and waking
//! around it:
//!
//! 1. Every input goes through the `Driver` ([`Driver::start`], [`Driver::report`],
//!    [`Driver::input`], ...) with `now` from the driver's clock and a [`Work`] to fill. The
//!    kit feeds the engine, drains every action and routes it: `Send`/`Deliver`/`Fail` to the
//!    exchange's mailbox, `Authenticate` to [`Work::auth`], `AbortAuth` to [`Work::abort`],
//!    `NeedCredentials` to [`Work::ask`], events to [`Work::events`], and notes whether the
//!    next timer moved ([`Work::timer`]).
//! 2. With the lock released, the driver does the [`Work`]: wakes the wakers, performs the
//!    auth request on a task of its own (reading the answer into an [`AuthBody`], which stops
//!    at the engine's size limit), aborts the auth requests named in `abort`, asks for
//!    credentials, passes events on, and re-arms its timer at [`Driver::next_timer`].
//! 3. A task waiting for its exchange takes its next [`Step`] with [`Driver::step`] (parking
//!    its waker when there is none yet), does it, and reports the outcome with
//!    [`Driver::report`]. A task that goes away before a final step calls [`Driver::cancel`];
//!    an auth task that goes away without an outcome reports [`AuthOutcome::Abandoned`].
//!
//! The origin rule also lives here, on the engine ([`Session::allows`]): a driver parses the
//! request URL once with its platform's parser (`reqwest::Url`, WHATWG `URL`), checks *that*
//! parsed URL's scheme, host and port, and sends *that* parsed URL — never a string it split
//! by hand. The limits a driver enforces are the engine's: the auth answer's size
//! ([`AuthBody`]) and the auth deadline ([`Action::AbortAuth`](crate::Action::AbortAuth)); see
//! `core/README.md` for the table of every limit.

mod auth_body;
mod mailbox;

use core::task::Waker;

use http::StatusCode;

use crate::headers::ResponseHeaders;

pub use auth_body::AuthBody;
pub use mailbox::Step;

use crate::action::{Action, AuthId, AuthRequest, Event, ExchangeId, RequestMeta, TimerKind};
use crate::dialect::Credentials;
use crate::session::{SendFailure, Session};
use crate::time::Timestamp;
use mailbox::Mailboxes;

/// The response headers the engine reads from an API response: `WWW-Authenticate` (RFC 6750
/// challenges), `Retry-After` (a backoff floor) and `Date` (to read a `Retry-After` date
/// against the server's clock). A driver that must copy headers out of its platform (a
/// browser) copies these and no others; cross-origin servers must expose them (CORS).
pub const API_RESPONSE_HEADERS: [&str; 3] = ["www-authenticate", "retry-after", "date"];

/// The response headers the engine reads from a login or refresh answer: `Content-Type` (an
/// HTML page is not a token response), `Date` (JWT `exp` and `Retry-After` dates are read
/// against it) and `Retry-After`.
pub const AUTH_RESPONSE_HEADERS: [&str; 3] = ["content-type", "date", "retry-after"];

/// How an auth request ended, as its task reports it ([`Driver::auth_outcome`]).
#[derive(Clone, Copy, Debug)]
pub enum AuthOutcome<'a> {
    /// The endpoint answered; the body as read (stopped at the limit).
    Response {
        /// The status.
        status: StatusCode,
        /// The headers (at least [`AUTH_RESPONSE_HEADERS`]).
        headers: &'a dyn ResponseHeaders,
        /// The body.
        body: &'a AuthBody,
    },
    /// No answer: the request failed (connect error, reset, broken body).
    Error(SendFailure),
    /// The task gave up without an outcome (it was dropped): the engine restarts the operation
    /// for whoever still waits.
    Abandoned,
}

/// How the next timer moved during an input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimerMove {
    /// The next timer before the input.
    pub from: Option<Timestamp>,
    /// The next timer now, and why.
    pub to: Option<(Timestamp, TimerKind)>,
}

impl TimerMove {
    /// Whether a timer is now due earlier than before (or was added): a driver whose waiting
    /// tasks sleep on the timer themselves wakes them to re-arm.
    pub fn earlier(&self) -> bool {
        match (self.to, self.from) {
            (Some((t, _)), Some(from)) => t < from,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// What the driver must do once its lock is released, collected during an input.
#[derive(Default, Debug)]
pub struct Work {
    /// Tasks to wake (their exchange has a step).
    pub wakers: Vec<Waker>,
    /// Events to pass on (stores, other tabs, hooks, metrics).
    pub events: Vec<Event>,
    /// An auth operation to perform now, on a task of its own. A driver that cannot start it
    /// here gives it back with [`Driver::park_auth`].
    pub auth: Option<AuthRequest>,
    /// Auth operations to abort (their deadline passed): close the connection, stop reading,
    /// and report nothing more for them.
    pub abort: Vec<AuthId>,
    /// Ask for credentials now (once; answer with [`Driver::answer`]).
    pub ask: bool,
    /// The next timer moved: re-arm the sleep at [`Driver::next_timer`].
    pub timer: Option<TimerMove>,
}

impl Work {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.wakers.is_empty()
            && self.events.is_empty()
            && self.auth.is_none()
            && self.abort.is_empty()
            && !self.ask
            && self.timer.is_none()
    }

    /// Wakes every task in [`Work::wakers`].
    pub fn wake(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }
}

/// Where the question for credentials stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ask {
    Idle,
    /// The engine asked; no one is asking the provider yet.
    Wanted,
    /// A provider call is under way.
    Asking,
}

/// A [`Session`] with the mailboxes of its exchanges and the bookkeeping every driver needs.
/// See the [module docs](self) for how a driver uses it.
pub struct Driver {
    session: Session,
    mail: Mailboxes,
    /// An `Authenticate` no task has taken yet.
    pending_auth: Option<AuthRequest>,
    ask: Ask,
    /// The next timer as of the last drain.
    timer: Option<Timestamp>,
    /// Collects the exchanges failed during the current input (see [`Driver::answer`]).
    failed: Option<Vec<ExchangeId>>,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("session", &self.session)
            .field("mailboxes", &self.mail.len())
            .field("ask", &self.ask)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver around `session`.
    pub fn new(session: Session) -> Self {
        Driver {
            session,
            mail: Mailboxes::default(),
            pending_auth: None,
            ask: Ask::Idle,
            timer: None,
            failed: None,
        }
    }

    /// The session, to read (tokens, metrics, origins, configuration).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The next timer: when to call [`Driver::fire_timers`], and why.
    pub fn next_timer(&self) -> Option<(Timestamp, TimerKind)> {
        self.session.poll_timeout()
    }

    /// Applies an input to the session (`f` gets it and `now`), then drains and routes the
    /// engine's actions into `work`.
    pub fn input<R>(
        &mut self,
        now: Timestamp,
        work: &mut Work,
        f: impl FnOnce(&mut Session, Timestamp) -> R,
    ) -> R {
        let r = f(&mut self.session, now);
        self.drain(work);
        r
    }

    /// Starts an exchange (after firing a timer that came due while no one slept on it) and
    /// returns its id with its first step, if one is due at once.
    pub fn start(
        &mut self,
        now: Timestamp,
        meta: RequestMeta,
        work: &mut Work,
    ) -> (ExchangeId, Option<Step>) {
        if self.session.poll_timeout().is_some_and(|(at, _)| at <= now) {
            self.session.handle_timeout(now);
        }
        let id = self.session.start(now, meta);
        self.mail.open(id);
        self.drain(work);
        (id, self.mail.take(id, None))
    }

    /// Starts an explicit login ([`Session::login`]); the exchange ends with `Deliver` once
    /// tokens are held.
    pub fn login(&mut self, now: Timestamp, work: &mut Work) -> (ExchangeId, Option<Step>) {
        let id = self.session.login(now);
        self.mail.open(id);
        self.drain(work);
        (id, self.mail.take(id, None))
    }

    /// Hands the engine a request sent with a lease ([`Session::adopt`]) together with its
    /// outcome: `report` reports it under the new id. Returns the id, `report`'s result and
    /// the exchange's next step.
    pub fn adopt<R>(
        &mut self,
        now: Timestamp,
        started: Timestamp,
        meta: RequestMeta,
        generation: u64,
        work: &mut Work,
        report: impl FnOnce(&mut Session, Timestamp, ExchangeId) -> R,
    ) -> (ExchangeId, R, Option<Step>) {
        let id = self.session.adopt(started, meta, generation);
        self.mail.open(id);
        let r = report(&mut self.session, now, id);
        self.drain(work);
        (id, r, self.mail.take(id, None))
    }

    /// Reports an outcome of exchange `id` (`f` calls `handle_response`,
    /// `handle_foreign_response` or `handle_send_error`) and returns `f`'s result with the
    /// exchange's next step, if one is due.
    pub fn report<R>(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        work: &mut Work,
        f: impl FnOnce(&mut Session, Timestamp) -> R,
    ) -> (R, Option<Step>) {
        let r = self.input(now, work, f);
        (r, self.mail.take(id, None))
    }

    /// The exchange's next step, if one is due; otherwise `waker` (if given) is kept and woken
    /// when one is. `None` for an exchange without a mailbox too: check
    /// [`Driver::is_open`].
    pub fn step(&mut self, id: ExchangeId, waker: Option<&Waker>) -> Option<Step> {
        self.mail.take(id, waker)
    }

    /// Whether the exchange's mailbox is open (it has not taken a final step, nor been
    /// cancelled).
    pub fn is_open(&self, id: ExchangeId) -> bool {
        self.mail.contains(id)
    }

    /// The exchange's task went away before the engine ended it (its future was dropped, or
    /// it took [`Step::Interrupted`]): the engine forgets it and its mailbox closes. Harmless
    /// for an exchange that already ended.
    pub fn cancel(&mut self, id: ExchangeId, work: &mut Work) {
        self.mail.close(id);
        self.session.cancel(id);
        self.drain(work);
    }

    /// The caller gave up (an abort signal): the exchange's next step is
    /// [`Step::Interrupted`]. Returns the waker to wake.
    pub fn interrupt(&mut self, id: ExchangeId) -> Option<Waker> {
        self.mail.interrupt(id)
    }

    /// Fires every timer due at `now` ([`Session::handle_timeout`]).
    pub fn fire_timers(&mut self, now: Timestamp, work: &mut Work) {
        self.input(now, work, Session::handle_timeout);
    }

    /// Gives back an auth operation the driver could not start where it got it (no runtime
    /// there); the next waiting task (woken through `work`) takes it with
    /// [`Driver::take_parked_auth`].
    pub fn park_auth(&mut self, auth: AuthRequest, work: &mut Work) {
        self.pending_auth = Some(auth);
        self.mail.wakers(&mut work.wakers);
    }

    /// Takes a parked auth operation, if it is still the current one.
    pub fn take_parked_auth(&mut self) -> Option<AuthRequest> {
        self.pending_auth
            .take()
            .filter(|a| self.is_current_auth(a.id))
    }

    /// Whether `op` is the auth operation the engine is waiting for (not dropped by
    /// `set_tokens`, `logout`, an offer, or its deadline): an auth task checks this before it
    /// sends, and after it waited for a lock.
    pub fn is_current_auth(&self, op: AuthId) -> bool {
        self.session
            .auth_in_flight()
            .is_some_and(|(id, _)| id == op)
    }

    /// Reports how the auth operation `op` ended.
    pub fn auth_outcome(
        &mut self,
        now: Timestamp,
        op: AuthId,
        outcome: AuthOutcome<'_>,
        work: &mut Work,
    ) {
        self.input(now, work, |s, now| match outcome {
            AuthOutcome::Response {
                status,
                headers,
                body,
            } => s.handle_auth_response(now, op, status, headers, body.as_bytes()),
            AuthOutcome::Error(failure) => s.handle_auth_error(now, op, failure),
            AuthOutcome::Abandoned => s.handle_auth_abandoned(now, op),
        });
    }

    /// Takes the engine's question for credentials if no one is asking yet: the caller must
    /// then ask the provider and [`answer`](Driver::answer). Also set in [`Work::ask`] at the
    /// end of the input that raised it.
    pub fn take_ask(&mut self) -> bool {
        let take = self.ask == Ask::Wanted;
        if take {
            self.ask = Ask::Asking;
        }
        take
    }

    /// Gives back a question for credentials the driver could not ask where it got it; the
    /// next waiting task (woken through `work`) takes it with [`Driver::take_ask`].
    pub fn park_ask(&mut self, work: &mut Work) {
        self.ask = Ask::Wanted;
        self.mail.wakers(&mut work.wakers);
    }

    /// The credentials provider answered (`None`: it has none, or it failed). Returns the
    /// exchanges the engine failed in response (a driver that reports a provider's own error
    /// to those callers uses this).
    pub fn answer(
        &mut self,
        now: Timestamp,
        credentials: Option<Credentials>,
        work: &mut Work,
    ) -> Vec<ExchangeId> {
        self.ask = Ask::Idle;
        self.failed = Some(Vec::new());
        self.input(now, work, |s, now| s.provide_credentials(now, credentials));
        self.failed.take().unwrap_or_default()
    }

    /// Wakes every waiting task (through `work`).
    pub fn wake_all(&mut self, work: &mut Work) {
        self.mail.wakers(&mut work.wakers);
    }

    /// Drains every action, routing each to its place.
    fn drain(&mut self, work: &mut Work) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send { id, authorization } => {
                    work.wakers
                        .extend(self.mail.post(id, Step::Send(authorization)));
                }
                Action::Deliver { id } => work.wakers.extend(self.mail.post(id, Step::Deliver)),
                Action::Fail { id, error } => {
                    if let Some(failed) = &mut self.failed {
                        failed.push(id);
                    }
                    work.wakers.extend(self.mail.post(id, Step::Fail(error)));
                }
                Action::Authenticate(auth) => self.pending_auth = Some(auth),
                Action::AbortAuth { id } => {
                    if self.pending_auth.as_ref().is_some_and(|a| a.id == id) {
                        // Never started: nothing to abort.
                        self.pending_auth = None;
                    } else {
                        work.abort.push(id);
                    }
                }
                Action::NeedCredentials => {
                    if self.ask == Ask::Idle {
                        self.ask = Ask::Wanted;
                    }
                }
                Action::Event(e) => work.events.push(e),
            }
        }
        // A second Authenticate within one input means the first one already ended: the
        // newer one replaces it.
        if let Some(auth) = self.pending_auth.take() {
            work.auth = Some(auth);
        }
        work.ask |= self.take_ask();
        let to = self.session.poll_timeout();
        let at = to.map(|(at, _)| at);
        if at != self.timer {
            work.timer = Some(TimerMove {
                from: self.timer,
                to,
            });
            self.timer = at;
        }
    }
}

#[cfg(test)]
mod tests;
