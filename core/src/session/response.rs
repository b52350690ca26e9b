//! What a response or send error does to its exchange: a refused token refreshed and the
//! request resent, a superseded token's request resent, a transient failure backed off.

use crate::headers::ResponseHeaders;

use super::{ExState, SendFailure, Session};
use crate::action::{Action, AuthReason, Event, ExchangeId, ResendReason};
use crate::config::SecondRejection;
use crate::error::{Error, TransportStop};
use crate::parse::{self};
use crate::time::Timestamp;

impl Session {
    pub(super) fn on_rejected(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        generation: u64,
        status: u16,
        headers: &dyn ResponseHeaders,
    ) {
        let insufficient_scope = parse::parse_bearer_challenge(headers)
            .is_some_and(|c| c.error.as_deref() == Some("insufficient_scope"));
        let current = generation == self.generation;
        let Some(ex) = self.exchanges.get_mut(id) else {
            return;
        };
        if !self.config.retry_on_401 || insufficient_scope {
            self.deliver(id);
        } else if !ex.meta.replayable {
            // Cannot resend: hand the 401 over, and make the next request refresh first.
            if current && let Some(h) = self.tokens.as_mut() {
                h.rejected = Some(status);
            }
            self.deliver(id);
        } else if !current {
            // The herd case: the token changed since this request left. Resend with the new one.
            if !self.resend_superseded(now, id, status, generation) {
                self.second_rejection(id, status);
            }
        } else if ex.auth_retries >= self.config.max_auth_retries_per_exchange {
            self.second_rejection(id, status);
        } else {
            ex.auth_retries += 1;
            ex.state = ExState::AwaitingToken;
            self.metrics.unauthorized_resends += 1;
            self.actions.push_back(Action::Event(Event::Resend {
                reason: ResendReason::Renewal,
                status,
                generation,
            }));
            if let Some(h) = self.tokens.as_mut() {
                h.rejected = Some(status);
            }
            if let Err(e) = self.ensure_auth(now, AuthReason::TokenRejected { status }) {
                self.fail_waiters(&e);
            }
        }
    }

    /// A 403 (not configured as a rejection) for a request that can be resent. Servers that
    /// revoke the previous access token on rotation and answer a refused token with a bare
    /// 403 (django-oauth-toolkit) send it for a request that left with a token a refresh has
    /// since replaced: that one is resent with the current token, as a 401 for an older
    /// generation is. A 403 for the current token, or with a Bearer challenge (RFC 6750's
    /// `insufficient_scope`), is the caller's answer.
    pub(super) fn on_forbidden(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        generation: u64,
        headers: &dyn ResponseHeaders,
    ) {
        let superseded =
            generation < self.generation && parse::parse_bearer_challenge(headers).is_none();
        if !(superseded && self.resend_superseded(now, id, 403, generation)) {
            self.deliver(id);
        }
    }

    /// Resends at once, with the current token, an exchange whose token generation was
    /// replaced while it was in flight (refused with `status`), within
    /// `max_stale_generation_resends`; returns whether it did.
    pub(super) fn resend_superseded(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        status: u16,
        generation: u64,
    ) -> bool {
        let Some(ex) = self.exchanges.get_mut(id) else {
            return false;
        };
        if ex.stale_resends >= self.config.max_stale_generation_resends {
            return false;
        }
        ex.stale_resends += 1;
        ex.state = ExState::AwaitingToken;
        self.metrics.unauthorized_resends += 1;
        self.actions.push_back(Action::Event(Event::Resend {
            reason: ResendReason::Superseded,
            status,
            generation,
        }));
        self.dispatch(now, id);
        true
    }

    pub(super) fn second_rejection(&mut self, id: ExchangeId, status: u16) {
        match self.config.second_rejection {
            SecondRejection::Deliver => self.deliver(id),
            SecondRejection::Fail => self.fail(id, Error::Unauthorized { status }),
        }
    }

    /// Backs off and resends, or ends the exchange once the limits are reached: `Deliver` the
    /// response (`status`), or `Fail` with a transport error saying why when there was none
    /// (`failure`).
    pub(super) fn on_transient(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        status: Option<u16>,
        retry_after: Option<Timestamp>,
        failure: Option<SendFailure>,
    ) {
        let Some(ex) = self.exchanges.get_mut(id) else {
            return;
        };
        let next = if !ex.meta.replayable {
            Err(TransportStop::NotReplayable)
        } else if ex.transient_resends >= self.config.max_transient_resends {
            Err(TransportStop::ResendLimit)
        } else {
            self.config
                .resend_backoff
                .next_attempt(
                    now,
                    ex.started,
                    ex.transient_resends + 1,
                    retry_after,
                    &mut self.rng,
                )
                .ok_or(TransportStop::BackoffBudget)
        };
        match (next, failure) {
            (Ok(until), _) => {
                let generation = match ex.state {
                    ExState::InFlight { generation } => generation,
                    _ => self.generation,
                };
                ex.transient_resends += 1;
                ex.state = ExState::Backoff { until };
                self.in_backoff += 1;
                self.metrics.transient_resends += 1;
                self.actions.push_back(Action::Event(Event::Backoff {
                    status,
                    delay: until.saturating_duration_since(now),
                    resend: ex.transient_resends,
                    generation,
                }));
            }
            (Err(_), None) => self.deliver(id),
            (Err(stopped), Some(failure)) => {
                let error = Error::Transport {
                    may_have_reached_server: failure == SendFailure::MaybeSent,
                    attempts: ex.sends,
                    stopped,
                };
                self.fail(id, error);
            }
        }
    }
}
