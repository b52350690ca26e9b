//! What an auth operation's outcome does: new tokens installed, a dead refresh token dropped,
//! a failure backed off and retried or handed to the waiters, the circuit breaker counted.

use http::HeaderValue;

use crate::headers::ResponseHeaders;

use super::{AuthState, Circuit, Freshness, Held, Session};
use crate::action::{Action, AuthKind, AuthReason, Event};
use crate::error::Error;
use crate::limits;
use crate::parse::{self, InvalidAuthResponse};
use crate::time::Timestamp;
use crate::tokens::{TokenSet, refresh_margin};

impl Session {
    pub(super) fn on_tokens(
        &mut self,
        now: Timestamp,
        kind: AuthKind,
        resp: parse::TokenResponse,
        headers: &dyn ResponseHeaders,
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
            self.begin_auth(now, AuthKind::Login, 1, now, AuthReason::Explicit);
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
            rejected: None,
        });
    }

    pub(super) fn on_refresh_rejected(&mut self, now: Timestamp) {
        self.metrics.refresh_failures += 1;
        self.drop_refresh_token();
        let can_login = self.config.reauth_on_refresh_rejected
            && self.credentials_refused.is_none()
            && self.dialect.can_login(&self.credentials);
        if can_login {
            self.begin_auth(now, AuthKind::Login, 1, now, AuthReason::RefreshRejected);
        } else if self.config.reauth_on_refresh_rejected && self.ask_for_credentials().is_ok() {
            // The waiters wait for the credentials (and a login with them).
        } else if matches!(self.freshness(now), Freshness::Expired | Freshness::Missing) {
            self.tokens = None;
            self.actions.push_back(Action::Event(Event::SessionExpired));
            self.fail_waiters(&Error::SessionExpired);
        } else {
            // The access token still works until it expires; only the waiters lose.
            self.auth_failed(AuthKind::Refresh, &Error::SessionExpired);
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
            let error = Error::AuthUnavailable {
                status,
                attempts: attempt,
                circuit_open: true,
                retry_at: until,
            };
            self.auth_failed(kind, &error);
            self.fail_waiters(&error);
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
            self.actions.push_back(Action::Event(Event::AuthBackoff {
                kind,
                status,
                delay: until.saturating_duration_since(now),
                attempt,
                generation: self.generation,
            }));
            self.auth = AuthState::Backoff {
                kind,
                attempt,
                started,
                until,
            };
        } else {
            let quiet = now.saturating_add(self.config.auth_backoff.cap);
            self.quiet_until = Some(floor.map_or(quiet, |f| f.max(quiet)));
            let error = Error::AuthUnavailable {
                status,
                attempts: attempt,
                circuit_open: false,
                retry_at: floor,
            };
            self.auth_failed(kind, &error);
            self.fail_waiters(&error);
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
        self.auth_failed(kind, error);
        self.fail_waiters(error);
    }

    /// Reports that the auth operation ended without tokens ([`Event::AuthFailed`]).
    pub(super) fn auth_failed(&mut self, kind: AuthKind, error: &Error) {
        self.actions.push_back(Action::Event(Event::AuthFailed {
            kind,
            error: error.clone(),
            generation: self.generation,
        }));
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
}
