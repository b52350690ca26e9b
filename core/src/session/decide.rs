//! The private decisions behind the inputs: freshness, renewal, dispatch, auth outcomes,
//! rejections, transient errors, and how exchanges end.

use http::{HeaderMap, HeaderValue};

use super::{AuthState, Circuit, ExState, Freshness, Held, SendFailure, Session};
use crate::action::{Action, AuthId, AuthKind, AuthRequest, Event, ExchangeId};
use crate::config::SecondRejection;
use crate::error::{Error, TransportStop};
use crate::limits;
use crate::parse::{self, InvalidAuthResponse};
use crate::time::Timestamp;
use crate::tokens::{TokenSet, refresh_margin};

impl Session {
    // ---- decisions ------------------------------------------------------------------------

    pub(super) fn freshness(&self, now: Timestamp) -> Freshness {
        match &self.tokens {
            None => Freshness::Missing,
            Some(h) if h.rejected || now >= h.expired_at => Freshness::Expired,
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
                    let _ = self.ensure_auth(now);
                }
                self.send(id);
            }
            Freshness::Expired | Freshness::Missing => {
                if let Some(ex) = self.exchanges.get_mut(id) {
                    ex.state = ExState::AwaitingToken;
                }
                let result = if self.config.enabled || self.tokens.is_none() {
                    self.ensure_auth(now)
                } else {
                    Err(Error::SessionExpired)
                };
                if let Err(e) = result {
                    self.fail_waiters(&e);
                }
            }
        }
    }

    /// Makes sure an auth operation is in flight or scheduled, starting one if possible.
    pub(super) fn ensure_auth(&mut self, now: Timestamp) -> Result<(), Error> {
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
        self.begin_auth(now, kind, 1, now);
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

    /// Emits the `Authenticate` for `kind`. When the dialect cannot build a refresh with the
    /// held refresh token (not sendable in a header, say), that token is dropped and a login is
    /// tried instead; when nothing can be built, waiters fail and background renewal pauses.
    pub(super) fn begin_auth(
        &mut self,
        now: Timestamp,
        kind: AuthKind,
        attempt: u32,
        started: Timestamp,
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
                self.begin_auth(now, AuthKind::Login, 1, now);
                return;
            }
            if let Err(e) = self.ask_for_credentials() {
                self.quiet_until = Some(now.saturating_add(self.config.auth_backoff.cap));
                self.fail_waiters(&e);
            }
            return;
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
        self.actions
            .push_back(Action::Authenticate(AuthRequest { id, kind, request }));
    }

    pub(super) fn on_tokens(
        &mut self,
        now: Timestamp,
        kind: AuthKind,
        resp: parse::TokenResponse,
        headers: &HeaderMap,
    ) {
        let expiry = parse::resolve_expiry(
            now,
            resp.expires_in,
            resp.access_token.expose(),
            headers,
            self.config.default_lifetime,
        );
        let Some(header) = resp.access_token.bearer_header() else {
            self.on_auth_failed(
                now,
                kind,
                &Error::InvalidAuthResponse(InvalidAuthResponse::BadAccessToken),
            );
            return;
        };
        if expiry.expires_at <= now {
            let e = InvalidAuthResponse::BadExpiresIn {
                reason: "the token is already expired",
            };
            self.on_auth_failed(now, kind, &Error::InvalidAuthResponse(e));
            return;
        }
        // Rotation: a refresh that returns no refresh token keeps the old one.
        let refresh_token = match (resp.refresh_token, kind) {
            (Some(rt), _) => Some(rt),
            (None, AuthKind::Refresh) => self
                .tokens
                .as_ref()
                .and_then(|h| h.set.refresh_token.clone()),
            (None, AuthKind::Login) => None,
        };
        let refresh_expires_at = match &refresh_token {
            Some(rt) => parse::resolve_refresh_expiry(now, rt.expose(), headers)
                .or_else(|| self.tokens.as_ref().and_then(|h| h.set.refresh_expires_at)),
            None => None,
        };
        let had_tokens = self.tokens.is_some() || self.metrics.logins > 0;
        let set = TokenSet {
            access_token: resp.access_token,
            refresh_token,
            issued_at: now,
            expires_at: expiry.expires_at,
            refresh_expires_at,
        };
        self.circuit = Circuit::default();
        self.quiet_until = None;
        self.hold(set.clone(), header);
        let expires_at = expiry.expires_at;
        if self.force_login && kind == AuthKind::Refresh {
            // An explicit login() arrived while this refresh was in flight: do it now.
            self.begin_auth(now, AuthKind::Login, 1, now);
        }
        self.actions
            .push_back(Action::Event(Event::TokensChanged(set)));
        match kind {
            AuthKind::Refresh => {
                self.metrics.refresh_count += 1;
                self.metrics.last_refresh = Some(now);
                self.actions
                    .push_back(Action::Event(Event::Refreshed { expires_at }));
            }
            AuthKind::Login => {
                self.metrics.logins += 1;
                if had_tokens {
                    self.metrics.reauthentications += 1;
                }
                self.force_login = false;
                self.actions.push_back(Action::Event(Event::LoggedIn {
                    expires_at,
                    reauthenticated: had_tokens,
                }));
            }
        }
        self.resume_waiters(now);
    }

    /// Installs a token set as the current generation.
    pub(super) fn hold(&mut self, set: TokenSet, header: HeaderValue) {
        let lifetime = set.lifetime();
        let margin = refresh_margin(lifetime, &self.config, self.rng.next_f64());
        let floor = self.config.expiry_floor.min(margin / 2);
        self.generation += 1;
        self.last_issued = Some(set.issued_at);
        self.tokens = Some(Held {
            stale_at: set.expires_at.saturating_sub(margin),
            expired_at: set.expires_at.saturating_sub(floor),
            set,
            header,
            rejected: false,
        });
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

    pub(super) fn on_refresh_rejected(&mut self, now: Timestamp) {
        self.metrics.refresh_failures += 1;
        self.drop_refresh_token();
        let can_login = self.config.reauth_on_refresh_rejected
            && self.credentials_refused.is_none()
            && self.dialect.can_login(&self.credentials);
        if can_login {
            self.begin_auth(now, AuthKind::Login, 1, now);
        } else if self.config.reauth_on_refresh_rejected && self.ask_for_credentials().is_ok() {
            // The waiters wait for the credentials (and a login with them).
        } else if matches!(self.freshness(now), Freshness::Expired | Freshness::Missing) {
            self.tokens = None;
            self.actions.push_back(Action::Event(Event::SessionExpired));
            self.fail_waiters(&Error::SessionExpired);
        } else {
            // The access token still works until it expires; only the waiters lose.
            self.fail_waiters(&Error::SessionExpired);
        }
    }

    /// Forgets the refresh token (rejected, or unusable with this dialect) and tells stores.
    /// Returns whether there was one.
    pub(super) fn drop_refresh_token(&mut self) -> bool {
        let Some(h) = self
            .tokens
            .as_mut()
            .filter(|h| h.set.refresh_token.is_some())
        else {
            return false;
        };
        h.set.refresh_token = None;
        h.set.refresh_expires_at = None;
        let set = h.set.clone();
        self.actions
            .push_back(Action::Event(Event::TokensChanged(set)));
        true
    }

    pub(super) fn on_auth_transient(
        &mut self,
        now: Timestamp,
        kind: AuthKind,
        attempt: u32,
        started: Timestamp,
        status: Option<u16>,
        retry_after: Option<Timestamp>,
    ) {
        self.count_auth_failure(kind);
        // The server's `Retry-After` is a floor for the next auth attempt, whoever makes it.
        let retry_after =
            retry_after.map(|t| t.min(now.saturating_add(limits::MAX_AUTH_RETRY_AFTER)));
        if let (Some(until), Some(code)) = (retry_after, status)
            && until > now
        {
            self.auth_floor = Some((until, code));
        }
        let floor = self.auth_floor(now).map(|(until, _)| until);
        if self.circuit_failure(now) {
            let until = self.circuit.open_until.max(floor);
            self.quiet_until = until;
            self.fail_waiters(&Error::AuthUnavailable {
                status,
                attempts: attempt,
                circuit_open: true,
                retry_at: until,
            });
            return;
        }
        let next = (attempt < self.config.max_refresh_attempts)
            .then(|| {
                self.config.auth_backoff.next_attempt(
                    now,
                    started,
                    attempt,
                    retry_after,
                    &mut self.rng,
                )
            })
            .flatten();
        if let Some(until) = next {
            self.auth = AuthState::Backoff {
                kind,
                attempt,
                started,
                until,
            };
        } else {
            let quiet = now.saturating_add(self.config.auth_backoff.cap);
            self.quiet_until = Some(floor.map_or(quiet, |f| f.max(quiet)));
            self.fail_waiters(&Error::AuthUnavailable {
                status,
                attempts: attempt,
                circuit_open: false,
                retry_at: floor,
            });
        }
    }

    /// A non-transient failure of the auth operation: waiters fail, the tokens are kept.
    pub(super) fn on_auth_failed(&mut self, now: Timestamp, kind: AuthKind, error: &Error) {
        self.count_auth_failure(kind);
        if matches!(error, Error::InvalidAuthResponse(_)) {
            self.circuit_failure(now);
        }
        self.quiet_until = Some(now.saturating_add(self.config.auth_backoff.cap));
        self.force_login = false;
        self.fail_waiters(error);
    }

    pub(super) fn count_auth_failure(&mut self, kind: AuthKind) {
        match kind {
            AuthKind::Refresh => self.metrics.refresh_failures += 1,
            AuthKind::Login => self.metrics.login_failures += 1,
        }
    }

    /// Counts a failed auth attempt; returns whether the circuit (re)opened.
    pub(super) fn circuit_failure(&mut self, now: Timestamp) -> bool {
        let cb = self.config.circuit_breaker;
        if cb.threshold == 0 {
            return false;
        }
        self.circuit.failures += 1;
        if self.circuit.failures >= cb.threshold {
            let until = now.saturating_add(cb.cool_down);
            self.circuit.open_until = Some(until);
            self.metrics.circuit_opened += 1;
            self.actions
                .push_back(Action::Event(Event::CircuitOpened { until }));
            true
        } else {
            false
        }
    }

    pub(super) fn on_rejected(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
        generation: u64,
        status: u16,
        headers: &HeaderMap,
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
                h.rejected = true;
            }
            self.deliver(id);
        } else if !current {
            // The herd case: the token changed since this request left. Resend with the new one.
            if !self.resend_superseded(now, id) {
                self.second_rejection(id, status);
            }
        } else if ex.auth_retries >= self.config.max_auth_retries_per_exchange {
            self.second_rejection(id, status);
        } else {
            ex.auth_retries += 1;
            ex.state = ExState::AwaitingToken;
            self.metrics.unauthorized_resends += 1;
            if let Some(h) = self.tokens.as_mut() {
                h.rejected = true;
            }
            if let Err(e) = self.ensure_auth(now) {
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
        headers: &HeaderMap,
    ) {
        let superseded =
            generation < self.generation && parse::parse_bearer_challenge(headers).is_none();
        if !(superseded && self.resend_superseded(now, id)) {
            self.deliver(id);
        }
    }

    /// Resends at once, with the current token, an exchange whose token generation was
    /// replaced while it was in flight, within `max_stale_generation_resends`; returns whether
    /// it did.
    pub(super) fn resend_superseded(&mut self, now: Timestamp, id: ExchangeId) -> bool {
        let Some(ex) = self.exchanges.get_mut(id) else {
            return false;
        };
        if ex.stale_resends >= self.config.max_stale_generation_resends {
            return false;
        }
        ex.stale_resends += 1;
        ex.state = ExState::AwaitingToken;
        self.metrics.unauthorized_resends += 1;
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
    /// response, or `Fail` with a transport error saying why when there was none (`failure`).
    pub(super) fn on_transient(
        &mut self,
        now: Timestamp,
        id: ExchangeId,
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
                ex.transient_resends += 1;
                ex.state = ExState::Backoff { until };
                self.in_backoff += 1;
                self.metrics.transient_resends += 1;
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
