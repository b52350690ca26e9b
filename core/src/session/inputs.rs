//! The inputs: a request starts, a response or error arrives for it, the auth endpoint
//! answers, a timer fires; and the outputs the driver drains after each.

use http::StatusCode;

use crate::headers::ResponseHeaders;

use super::classify::{self, AuthVerdict, SendVerdict, Verdict};
use super::{AuthState, ExState, Exchange, Freshness, SendFailure, Session};
use crate::action::{
    Action, AuthId, AuthKind, AuthReason, Event, ExchangeId, RequestMeta, TimerKind,
};
use crate::error::{Error, TransportStop};
use crate::parse;
use crate::time::Timestamp;

impl Session {
    // ---- inputs ---------------------------------------------------------------------------

    /// A caller's request starts. The engine answers with `Send` at once when the token is
    /// usable, or makes the exchange wait for a login or refresh, or fails it.
    pub fn start(&mut self, now: Timestamp, meta: RequestMeta) -> ExchangeId {
        self.metrics.requests += 1;
        let id = self.exchanges.insert(Exchange {
            meta,
            state: ExState::AwaitingToken,
            started: now,
            sends: 0,
            auth_retries: 0,
            stale_resends: 0,
            transient_resends: 0,
            login_only: false,
        });
        self.dispatch(now, id);
        id
    }

    /// The response to an exchange's last `Send` arrived with this status and headers.
    /// Unknown ids (already ended or cancelled) are ignored.
    pub fn handle_response(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        status: StatusCode,
        headers: &dyn ResponseHeaders,
    ) {
        let Some(ex) = self.exchanges.get_mut(id) else {
            return;
        };
        let ExState::InFlight { generation } = ex.state else {
            return;
        };
        let code = status.as_u16();
        match self.rules.verdict(code, ex.meta) {
            Verdict::Rejected => self.on_rejected(now, id, generation, code, headers),
            Verdict::Transient => {
                let retry_after = parse::parse_retry_after(headers, now);
                self.on_transient(now, id, Some(code), retry_after, None);
            }
            Verdict::Forbidden => self.on_forbidden(now, id, generation, headers),
            Verdict::Final => self.deliver(id),
        }
    }

    /// The exchange's response says nothing about the token: it came from an origin the token
    /// was not sent to (a redirect left the allowed origins and the client stripped the
    /// header), or the driver cannot read its status (a browser's opaque response). It is
    /// delivered as it is, without decisions.
    pub fn handle_foreign_response(&mut self, id: ExchangeId) {
        if self
            .exchanges
            .get_mut(id)
            .is_some_and(|ex| matches!(ex.state, ExState::InFlight { .. }))
        {
            self.deliver(id);
        }
    }

    /// An exchange's last `Send` failed without a response.
    pub fn handle_send_error(&mut self, now: Timestamp, id: ExchangeId, failure: SendFailure) {
        let Some(ex) = self.exchanges.get_mut(id) else {
            return;
        };
        if !matches!(ex.state, ExState::InFlight { .. }) {
            return;
        }
        match classify::send_error(failure, ex.meta) {
            SendVerdict::Resend => self.on_transient(now, id, None, None, Some(failure)),
            SendVerdict::NotIdempotent => {
                let error = Error::Transport {
                    may_have_reached_server: true,
                    attempts: ex.sends,
                    stopped: TransportStop::NotIdempotent,
                };
                self.fail(id, error);
            }
        }
    }

    /// The exchange was cancelled by its caller (future dropped, request aborted). It ends
    /// without an action; an auth operation it was waiting for carries on for the others.
    pub fn cancel(&mut self, id: ExchangeId) {
        if let Some(ex) = self.exchanges.remove(id)
            && matches!(ex.state, ExState::Backoff { .. })
        {
            self.in_backoff -= 1;
        }
    }

    /// The auth endpoint answered the operation `op`. Outcomes for operations that are no
    /// longer current are ignored.
    pub fn handle_auth_response(
        &mut self,
        now: Timestamp,
        op: AuthId,
        status: StatusCode,
        headers: &dyn ResponseHeaders,
        body: &[u8],
    ) {
        let Some((kind, attempt, started)) = self.take_auth(op) else {
            return;
        };
        let code = status.as_u16();
        let verdict = match classify::auth_answer(kind, status) {
            AuthVerdict::Tokens => {
                match parse::parse_token_response(headers, body) {
                    Ok(resp) => self.on_tokens(now, kind, resp, headers),
                    Err(e) => {
                        let error = self.redact_invalid(e);
                        self.on_auth_failed(now, kind, &error);
                    }
                }
                return;
            }
            AuthVerdict::Transient => {
                let retry_after = parse::parse_retry_after(headers, now);
                self.on_auth_transient(now, kind, attempt, started, Some(code), retry_after);
                return;
            }
            verdict => verdict,
        };
        let body = parse::parse_auth_error(body);
        let reason = self.redact_reason(body.code().map(str::to_owned));
        self.auth_sent = None;
        match verdict.refine(&body) {
            AuthVerdict::GrantRejected => self.on_refresh_rejected(now),
            AuthVerdict::CredentialsRefused => {
                self.metrics.login_failures += 1;
                let error = Error::InvalidCredentials {
                    status: code,
                    reason,
                };
                self.credentials_refused = Some(error.clone());
                self.force_login = false;
                self.auth_failed(kind, &error);
                self.fail_waiters(&error);
            }
            _ => {
                self.circuit_failure(now);
                self.on_auth_failed(
                    now,
                    kind,
                    &Error::AuthRejected {
                        status: code,
                        reason,
                    },
                );
            }
        }
    }

    /// The auth request `op` failed without a response (connection refused, timeout, reset).
    pub fn handle_auth_error(&mut self, now: Timestamp, op: AuthId, _failure: SendFailure) {
        let Some((kind, attempt, started)) = self.take_auth(op) else {
            return;
        };
        self.on_auth_transient(now, kind, attempt, started, None, None);
    }

    /// The driver gave up on the auth request `op` without an outcome (the task performing it
    /// was cancelled). The operation is restarted, as a new `Authenticate`, if anyone still
    /// waits for it.
    pub fn handle_auth_abandoned(&mut self, now: Timestamp, op: AuthId) {
        let Some((kind, attempt, started)) = self.take_auth(op) else {
            return;
        };
        if self.has_waiters() || self.freshness(now) != Freshness::Fresh {
            self.begin_auth(now, kind, attempt, started, AuthReason::Restarted);
        }
    }

    /// A timer from [`Session::poll_timeout`] may have fired: runs everything due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if let AuthState::InFlight { id, deadline, .. } = self.auth
            && deadline <= now
            && let Some((kind, attempt, started)) = self.take_auth(id)
        {
            self.actions.push_back(Action::AbortAuth { id });
            self.actions.push_back(Action::Event(Event::AuthAborted {
                kind,
                attempt,
                generation: self.generation,
            }));
            self.on_auth_transient(now, kind, attempt, started, None, None);
        }
        if let AuthState::Backoff {
            kind,
            attempt,
            started,
            until,
        } = self.auth
            && until <= now
        {
            self.auth = AuthState::Idle;
            if let Some(k) = self.renewal(now) {
                let attempt = if k == kind { attempt + 1 } else { 1 };
                self.begin_auth(now, k, attempt, started, AuthReason::Retry);
            } else if let Err(e) = self.ask_for_credentials() {
                self.fail_waiters(&e);
            }
        }
        if self.in_backoff > 0 {
            let mut due = core::mem::take(&mut self.scratch);
            due.clear();
            self.exchanges.ids_where(
                &mut due,
                |e| matches!(e.state, ExState::Backoff { until } if until <= now),
            );
            for &id in &due {
                if let Some(ex) = self.exchanges.get_mut(id) {
                    ex.state = ExState::AwaitingToken;
                    self.in_backoff -= 1;
                    self.dispatch(now, id);
                }
            }
            self.scratch = due;
        }
        if self.refresh_ahead_at().is_some_and(|t| t <= now) {
            // Nobody waits for a background refresh: when it cannot start, try again later
            // rather than fire this timer in a loop.
            if self.ensure_auth(now, AuthReason::RefreshAhead).is_err() {
                self.quiet_until = Some(now.saturating_add(self.config.auth_backoff.cap));
            }
        }
    }

    /// Ends the auth operation `op` if it is the one in flight: its kind, attempt and start.
    fn take_auth(&mut self, op: AuthId) -> Option<(AuthKind, u32, Timestamp)> {
        match self.auth {
            AuthState::InFlight {
                id,
                kind,
                attempt,
                started,
                ..
            } if id == op => {
                self.auth = AuthState::Idle;
                Some((kind, attempt, started))
            }
            _ => None,
        }
    }

    // ---- outputs --------------------------------------------------------------------------

    /// The next thing the driver must do, or `None` when there is nothing left. Drain after
    /// every input.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the driver must call [`Session::handle_timeout`] next, and why, or `None` when no
    /// timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Timestamp, TimerKind)> {
        let mut next: Option<(Timestamp, TimerKind)> = None;
        let mut consider = |t: Timestamp, k: TimerKind| {
            if next.is_none_or(|(n, _)| t < n) {
                next = Some((t, k));
            }
        };
        match self.auth {
            AuthState::Backoff { until, .. } => consider(until, TimerKind::AuthRetry),
            AuthState::InFlight { deadline, .. } => consider(deadline, TimerKind::AuthDeadline),
            AuthState::Idle | AuthState::AwaitingCredentials => {}
        }
        if self.in_backoff > 0 {
            for ex in self.exchanges.values() {
                if let ExState::Backoff { until } = ex.state {
                    consider(until, TimerKind::ExchangeRetry);
                }
            }
        }
        if let Some(t) = self.refresh_ahead_at() {
            let kind = if self.circuit.open_until == Some(t) {
                TimerKind::CircuitHalfOpen
            } else {
                TimerKind::RefreshAhead
            };
            consider(t, kind);
        }
        next
    }
}
