//! The auth operation's journey through the browser: with cross-tab single flight, the lock
//! is taken, the store is offered to the engine, the other tabs are asked when the epoch
//! marker says one of them holds newer tokens (the engine's [`Session::auth_gate`] decides),
//! and only then is the request sent; its answer is read up to the engine's limit
//! ([`AuthBody`]) and reported while the lock is still held, so the new tokens are stored and
//! broadcast before the next tab looks. Without cross-tab single flight the request is sent
//! at once.
//!
//! [`Session::auth_gate`]: tokenkeeper_core::Session::auth_gate

use std::ops::ControlFlow;

use http::StatusCode;
use tokenkeeper_core::driver::{AuthBody, AuthOutcome, Work};
use tokenkeeper_core::{AuthGate, AuthId, AuthRequest, HeaderValues, SendFailure, Timestamp};

use super::Machine;
use super::intent::Intent;
use crate::crosstab::Message;

/// The cross-tab lock, as far as this keeper knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Lock {
    #[default]
    Free,
    /// [`Intent::Lock`] was given; [`Machine::locked`] has not come yet.
    Requested,
    Held,
}

/// Where the operation stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Waiting for the lock.
    Lock,
    /// Waiting to hear whether another tab is alive (the epoch marker says `epoch`).
    Peers { epoch: Timestamp },
    /// The other tabs were asked for their tokens; the gate is asked again by `until` or when
    /// a set arrives.
    AskPeer { until: Timestamp },
    /// The request is out.
    Sent,
}

struct Task {
    op: AuthId,
    /// The request, until it is handed out.
    request: Option<AuthRequest>,
    phase: Phase,
    body: AuthBody,
}

/// The auth operation in progress (at most one) and the lock.
#[derive(Default)]
pub(super) struct Auth {
    task: Option<Task>,
    lock: Lock,
}

impl Auth {
    /// When the operation must be looked at again (the end of a wait for the other tabs).
    pub(super) fn until(&self) -> Option<Timestamp> {
        match self.task.as_ref()?.phase {
            Phase::AskPeer { until } => Some(until),
            _ => None,
        }
    }
}

impl Machine {
    /// The lock was granted (or could not be had within the lock timeout: the skin goes on
    /// without it). `stored`: what the store holds now; `epoch`: the epoch marker
    /// (`<key>:epoch` in `localStorage`), if any.
    pub fn locked(&mut self, now: Timestamp, stored: Option<&str>, epoch: Option<&str>) {
        let epoch = epoch
            .and_then(|e| e.parse().ok())
            .map(Timestamp::from_millis);
        self.auth.lock = Lock::Held;
        let mut work = Work::default();
        if self
            .auth
            .task
            .as_ref()
            .is_some_and(|t| t.phase == Phase::Lock)
        {
            self.offer_stored(now, stored, &mut work);
            self.after_lock(now, epoch);
        }
        self.settle(now, work, None);
    }

    /// Whether a keeper of this key lives in another tab (the answer to [`Intent::Peers`]).
    pub fn peers(&mut self, now: Timestamp, alive: bool) {
        let mut work = Work::default();
        if let Some(Phase::Peers { epoch }) = self.auth.task.as_ref().map(|t| t.phase) {
            if alive {
                self.driver
                    .input(now, &mut work, |s, now| s.note_peer_tokens(now, epoch));
            }
            self.gate(now);
        }
        self.settle(now, work, None);
    }

    /// The next chunk of auth operation `op`'s answer. `false`: stop reading and close the
    /// stream (the body is over the engine's limit, or the operation is no longer wanted),
    /// then report as usual.
    pub fn auth_chunk(&mut self, op: u64, chunk: &[u8]) -> bool {
        match self.sent_task(op) {
            Some(task) => task.body.push(chunk) == ControlFlow::Continue(()),
            None => false,
        }
    }

    /// Auth operation `op` was answered: the status and the headers the engine reads
    /// ([`AUTH_RESPONSE_HEADERS`](tokenkeeper_core::driver::AUTH_RESPONSE_HEADERS)); the
    /// body came through [`Machine::auth_chunk`].
    pub fn auth_response(
        &mut self,
        now: Timestamp,
        op: u64,
        status: u16,
        content_type: Option<&str>,
        date: Option<&str>,
        retry_after: Option<&str>,
    ) {
        if self.sent_task(op).is_none() {
            return;
        }
        let Some(task) = self.auth.task.take() else {
            return;
        };
        let headers = HeaderValues {
            content_type,
            date,
            retry_after,
            www_authenticate: None,
        };
        let mut work = Work::default();
        match StatusCode::from_u16(status) {
            Ok(status) => {
                let outcome = AuthOutcome::Response {
                    status,
                    headers: &headers,
                    body: &task.body,
                };
                self.driver.auth_outcome(now, task.op, outcome, &mut work);
            }
            Err(_) => self.driver.auth_outcome(
                now,
                task.op,
                AuthOutcome::Error(SendFailure::MaybeSent),
                &mut work,
            ),
        }
        self.settle(now, work, None);
    }

    /// Auth operation `op` failed without an answer (`fetch` rejected, or its body broke off).
    pub fn auth_error(&mut self, now: Timestamp, op: u64) {
        self.auth_ended(now, op, AuthOutcome::Error(SendFailure::MaybeSent));
    }

    /// The skin gave up on auth operation `op` without an outcome (the task performing it was
    /// dropped): the engine restarts it for whoever still waits.
    pub fn auth_abandoned(&mut self, now: Timestamp, op: u64) {
        self.auth_ended(now, op, AuthOutcome::Abandoned);
    }

    fn auth_ended(&mut self, now: Timestamp, op: u64, outcome: AuthOutcome<'_>) {
        if self.sent_task(op).is_none() {
            return;
        }
        let Some(task) = self.auth.task.take() else {
            return;
        };
        let mut work = Work::default();
        self.driver.auth_outcome(now, task.op, outcome, &mut work);
        self.settle(now, work, None);
    }

    /// The task of `op`, if its request is out.
    fn sent_task(&mut self, op: u64) -> Option<&mut Task> {
        self.auth
            .task
            .as_mut()
            .filter(|t| t.op.as_u64() == op && t.phase == Phase::Sent)
    }

    /// After an input: aborts what the engine aborted, takes up a new operation, drops one
    /// the engine no longer wants, and releases the lock once nothing needs it.
    pub(super) fn auth_settle(&mut self, now: Timestamp, work: &mut Work) {
        for op in work.abort.drain(..) {
            if self.auth.task.as_ref().is_some_and(|t| t.op == op) {
                self.end_task();
            }
        }
        if let Some(request) = work.auth.take() {
            self.end_task(); // a new operation supersedes the old one
            self.auth.task = Some(Task {
                op: request.id,
                request: Some(request),
                phase: Phase::Lock,
                body: AuthBody::new(),
            });
            if !self.cross_tab {
                self.send();
            } else if self.auth.lock == Lock::Held {
                self.after_lock(now, None);
            } else if self.auth.lock == Lock::Free {
                self.auth.lock = Lock::Requested;
                self.out.push_back(Intent::Lock);
            }
        }
        if self
            .auth
            .task
            .as_ref()
            .is_some_and(|t| !self.driver.is_current_auth(t.op))
        {
            // Tokens were adopted or installed, or a logout happened: not wanted any more.
            self.end_task();
        }
        if self.auth.task.is_none() && self.auth.lock == Lock::Held {
            self.auth.lock = Lock::Free;
            self.out.push_back(Intent::Unlock);
        }
    }

    /// A set from another tab was offered: a wait for the other tabs may be over.
    pub(super) fn auth_offered(&mut self, now: Timestamp) {
        if self.auth.until().is_some() {
            self.gate(now);
        }
    }

    /// The timer fired: a wait for the other tabs may be over.
    pub(super) fn auth_timer(&mut self, now: Timestamp) {
        if self.auth.until().is_some_and(|until| until <= now) {
            self.gate(now);
        }
    }

    /// With the lock held and the store offered: asks the other tabs first if the epoch
    /// marker says one of them may hold newer tokens, else asks the gate.
    fn after_lock(&mut self, now: Timestamp, epoch: Option<Timestamp>) {
        let Some(task) = self.auth.task.as_mut() else {
            return;
        };
        match epoch {
            Some(epoch) => {
                task.phase = Phase::Peers { epoch };
                self.out.push_back(Intent::Peers);
            }
            None => self.gate(now),
        }
    }

    /// Asks the engine whether to send the request now ([`Session::auth_gate`]).
    ///
    /// [`Session::auth_gate`]: tokenkeeper_core::Session::auth_gate
    fn gate(&mut self, now: Timestamp) {
        let Some(task) = self.auth.task.as_mut() else {
            return;
        };
        match self.driver.session().auth_gate(now, task.op) {
            AuthGate::AskPeer { until } => {
                if !matches!(task.phase, Phase::AskPeer { .. }) {
                    self.out.push_back(Intent::Post(Message::Ask));
                }
                task.phase = Phase::AskPeer { until };
            }
            AuthGate::Send => self.send(),
            // Drop, and whatever a later engine adds: not now. The settle after this input
            // ends the task if the engine no longer wants it.
            _ => self.end_task(),
        }
    }

    /// Hands the request out.
    fn send(&mut self) {
        if let Some(task) = self.auth.task.as_mut()
            && let Some(request) = task.request.take()
        {
            task.phase = Phase::Sent;
            self.out.push_back(Intent::Authenticate(request));
        }
    }

    /// Ends the operation in progress, aborting its request if it is out.
    fn end_task(&mut self) {
        if let Some(task) = self.auth.task.take()
            && task.phase == Phase::Sent
        {
            self.out.push_back(Intent::AbortAuth {
                op: task.op.as_u64(),
            });
        }
    }
}
