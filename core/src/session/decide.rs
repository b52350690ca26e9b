//! The decisions every input leads to: how fresh the token is, which auth operation would
//! renew it, whether an exchange is sent or waits, and starting an auth operation; then how
//! exchanges end.

use super::{AuthState, ExState, Freshness, Session};
use crate::action::{Action, AuthId, AuthKind, AuthReason, AuthRequest, Event, ExchangeId};
use crate::error::Error;
use crate::time::Timestamp;

impl Session {
    pub(super) fn freshness(&self, now: Timestamp) -> Freshness {
        match &self.tokens {
            None => Freshness::Missing,
            Some(h) if h.rejected.is_some() || now >= h.expired_at => Freshness::Expired,
            Some(h) if now >= h.stale_at => Freshness::Stale,
            Some(_) => Freshness::Fresh,
        }
    }

    /// Which auth operation would renew the session now, if any.
    pub(super) fn renewal(&self, now: Timestamp) -> Option<AuthKind> {
        let refresh_usable = !self.force_login
            && self.dialect.can_refresh()
            && self.tokens.as_ref().is_some_and(|h| {
                h.set.refresh_token.is_some() && h.set.refresh_expires_at.is_none_or(|t| t > now)
            });
        if refresh_usable {
            Some(AuthKind::Refresh)
        } else if self.credentials_refused.is_none() && self.dialect.can_login(&self.credentials) {
            Some(AuthKind::Login)
        } else {
            None
        }
    }

    /// Sends the exchange if the token allows, else makes it wait for (or fails it for lack
    /// of) an auth operation.
    pub(super) fn dispatch(&mut self, now: Timestamp, id: ExchangeId) {
        let login_only = self.exchanges.get_mut(id).is_some_and(|e| e.login_only);
        if login_only {
            if self.force_login || self.tokens.is_none() {
                return; // waits for the login
            }
            self.deliver(id);
            return;
        }
        match self.freshness(now) {
            Freshness::Fresh => self.send(id),
            Freshness::Stale => {
                if self.config.enabled
                    && self.config.proactive
                    && self.quiet_until.is_none_or(|t| now >= t)
                    && self.renewal(now).is_some()
                {
                    // A failure to start a proactive refresh is not the caller's problem yet:
                    // the token still works (and when nothing can renew it, nobody is asked
                    // for credentials while it does).
                    let _ = self.ensure_auth(now, AuthReason::Proactive);
                }
                self.send(id);
            }
            Freshness::Expired | Freshness::Missing => {
                if let Some(ex) = self.exchanges.get_mut(id) {
                    ex.state = ExState::AwaitingToken;
                }
                let reason =
                    match &self.tokens {
                        None => AuthReason::NoToken,
                        Some(h) => h.rejected.map_or(AuthReason::Expired, |status| {
                            AuthReason::TokenRejected { status }
                        }),
                    };
                let result = if self.config.enabled || self.tokens.is_none() {
                    self.ensure_auth(now, reason)
                } else {
                    Err(Error::SessionExpired)
                };
                if let Err(e) = result {
                    self.fail_waiters(&e);
                }
            }
        }
    }

    /// Makes sure an auth operation is in flight or scheduled, starting one (for `reason`)
    /// if possible.
    pub(super) fn ensure_auth(&mut self, now: Timestamp, reason: AuthReason) -> Result<(), Error> {
        if !matches!(self.auth, AuthState::Idle) {
            return Ok(());
        }
        let Some(kind) = self.renewal(now) else {
            return self.ask_for_credentials();
        };
        let circuit = self.circuit.open_until.filter(|&t| now < t);
        let floor = self.auth_floor(now);
        if circuit.is_some() || floor.is_some() {
            // Refused without contacting the server: the circuit is open, or the server's
            // `Retry-After` has not passed yet.
            return Err(Error::AuthUnavailable {
                status: floor.map(|(_, status)| status),
                attempts: 0,
                circuit_open: circuit.is_some(),
                retry_at: circuit.max(floor.map(|(until, _)| until)),
            });
        }
        if self.circuit.open_until.take().is_some() {
            // The cool-down has ended: this operation is the probe.
            self.actions
                .push_back(Action::Event(Event::CircuitHalfOpen {
                    generation: self.generation,
                }));
        }
        self.begin_auth(now, kind, 1, now, reason);
        Ok(())
    }

    /// The auth endpoint's `Retry-After` and the status it came with, while it has not passed.
    pub(super) fn auth_floor(&self, now: Timestamp) -> Option<(Timestamp, u16)> {
        self.auth_floor.filter(|&(until, _)| now < until)
    }

    /// Nothing can renew the session with what is held. With `ask_for_credentials`, a login
    /// that takes user credentials, credentials that cannot make it (missing or refused) and
    /// someone waiting, asks the driver for credentials (once per wait) and keeps the waiters
    /// waiting. Otherwise returns the error the waiters fail with.
    pub(super) fn ask_for_credentials(&mut self) -> Result<(), Error> {
        let asking = self.config.ask_for_credentials
            && matches!(self.auth, AuthState::Idle)
            && self.dialect.login_takes_credentials()
            && (self.credentials_refused.is_some() || !self.dialect.can_login(&self.credentials))
            && self.has_waiters();
        if !asking {
            return Err(self
                .credentials_refused
                .clone()
                .unwrap_or(Error::SessionExpired));
        }
        self.auth = AuthState::AwaitingCredentials;
        self.actions.push_back(Action::NeedCredentials);
        Ok(())
    }

    /// Emits the `Authenticate` for `kind`, made for `reason`. When the dialect cannot build a refresh with the
    /// held refresh token (not sendable in a header, say), that token is dropped and a login is
    /// tried instead; when nothing can be built, waiters fail and background renewal pauses.
    pub(super) fn begin_auth(
        &mut self,
        now: Timestamp,
        kind: AuthKind,
        attempt: u32,
        started: Timestamp,
        reason: AuthReason,
    ) {
        let request = match kind {
            AuthKind::Refresh => self
                .tokens
                .as_ref()
                .and_then(|h| h.set.refresh_token.as_ref())
                .and_then(|rt| self.dialect.refresh_request(rt)),
            AuthKind::Login => self.dialect.login_request(&self.credentials),
        };
        let Some(request) = request else {
            if kind == AuthKind::Refresh
                && self.drop_refresh_token()
                && self.renewal(now) == Some(AuthKind::Login)
            {
                self.begin_auth(now, AuthKind::Login, 1, now, AuthReason::RefreshUnusable);
                return;
            }
            if let Err(e) = self.ask_for_credentials() {
                self.quiet_until = Some(now.saturating_add(self.config.auth_backoff.cap));
                self.fail_waiters(&e);
            }
            return;
        };
        self.auth_sent = match kind {
            AuthKind::Refresh => self
                .tokens
                .as_ref()
                .and_then(|h| h.set.refresh_token.clone()),
            AuthKind::Login => self.credentials.password.clone(),
        };
        self.next_auth_id += 1;
        let id = AuthId(self.next_auth_id);
        self.auth = AuthState::InFlight {
            id,
            kind,
            attempt,
            started,
            deadline: now.saturating_add(self.config.auth_timeout),
        };
        self.actions.push_back(Action::Authenticate(AuthRequest {
            id,
            kind,
            reason,
            attempt,
            request,
        }));
    }

    pub(super) fn resume_waiters(&mut self, now: Timestamp) {
        let mut waiting = core::mem::take(&mut self.scratch);
        waiting.clear();
        self.exchanges
            .ids_where(&mut waiting, |e| e.state == ExState::AwaitingToken);
        for &id in &waiting {
            if self
                .exchanges
                .get_mut(id)
                .is_some_and(|e| e.state == ExState::AwaitingToken)
            {
                self.dispatch(now, id);
            }
        }
        self.scratch = waiting;
    }

    pub(super) fn has_waiters(&self) -> bool {
        self.exchanges
            .values()
            .any(|e| e.state == ExState::AwaitingToken)
    }

    pub(super) fn refresh_ahead_at(&self) -> Option<Timestamp> {
        if !(self.config.refresh_ahead
            && self.config.enabled
            && matches!(self.auth, AuthState::Idle))
        {
            return None;
        }
        let h = self.tokens.as_ref()?;
        let mut at = h.stale_at;
        if let Some(q) = self.quiet_until {
            at = at.max(q);
        }
        if let Some(open) = self.circuit.open_until {
            at = at.max(open);
        }
        if let Some((floor, _)) = self.auth_floor {
            at = at.max(floor);
        }
        self.renewal(at)?;
        Some(at)
    }

    // ---- endings --------------------------------------------------------------------------

    pub(super) fn send(&mut self, id: ExchangeId) {
        let (Some(h), Some(ex)) = (self.tokens.as_ref(), self.exchanges.get_mut(id)) else {
            return;
        };
        ex.state = ExState::InFlight {
            generation: self.generation,
        };
        ex.sends += 1;
        self.actions.push_back(Action::Send {
            id,
            authorization: h.header.clone(),
        });
    }

    pub(super) fn deliver(&mut self, id: ExchangeId) {
        if let Some(ex) = self.exchanges.remove(id) {
            if matches!(ex.state, ExState::Backoff { .. }) {
                self.in_backoff -= 1;
            }
            if !ex.login_only {
                self.metrics.delivered += 1;
            }
            self.actions.push_back(Action::Deliver { id });
        }
    }

    pub(super) fn fail(&mut self, id: ExchangeId, error: Error) {
        if let Some(ex) = self.exchanges.remove(id) {
            if matches!(ex.state, ExState::Backoff { .. }) {
                self.in_backoff -= 1;
            }
            if !ex.login_only {
                self.metrics.failures += 1;
            }
            self.actions.push_back(Action::Fail { id, error });
        }
    }

    /// Fails every exchange waiting for the auth operation.
    pub(super) fn fail_waiters(&mut self, error: &Error) {
        let mut waiting = core::mem::take(&mut self.scratch);
        waiting.clear();
        self.exchanges
            .ids_where(&mut waiting, |e| e.state == ExState::AwaitingToken);
        for &id in &waiting {
            self.fail(id, error.clone());
        }
        self.scratch = waiting;
    }
}
