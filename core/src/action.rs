//! What the engine asks the driver to do (`Action`), and the ids and descriptions that go with it.

use core::time::Duration;

use http::HeaderValue;

use crate::error::Error;
use crate::time::Timestamp;
use crate::tokens::TokenSet;

/// Identifies one exchange (a caller's request, with its resends) within a session.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ExchangeId {
    pub(crate) index: u32,
    pub(crate) tag: u32,
}

impl ExchangeId {
    /// A number unique among the session's live exchanges (for logs and driver maps).
    #[must_use]
    pub fn as_u64(self) -> u64 {
        (u64::from(self.tag) << 32) | u64::from(self.index)
    }
}

/// Identifies one auth operation (a login or refresh HTTP request).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AuthId(pub(crate) u64);

impl AuthId {
    /// The operation's sequence number within the session.
    #[must_use]
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// What the engine needs to know about a caller's request before it is sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RequestMeta {
    /// Whether the method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE): such a request
    /// may be resent after an error that happened once it may have reached the server.
    pub idempotent: bool,
    /// Whether the body can be sent again (buffered or empty). A streaming body cannot, so a
    /// 401 or transient error for it is delivered, not resent.
    pub replayable: bool,
}

impl RequestMeta {
    /// Meta for a request with this method and a body that can (or cannot) be replayed.
    #[must_use]
    pub fn new(method: &http::Method, replayable: bool) -> Self {
        RequestMeta {
            idempotent: method.is_idempotent(),
            replayable,
        }
    }

    /// [`RequestMeta::new`] from a method's name as sent (`"GET"`; names are case-sensitive,
    /// so `"get"` is an extension method, as for `http::Method`), for drivers that hold the
    /// method as text: the npm package leaves `http::Method`'s parser out of its build.
    #[must_use]
    pub fn for_method(name: &str, replayable: bool) -> Self {
        RequestMeta {
            idempotent: matches!(
                name,
                "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
            ),
            replayable,
        }
    }
}

/// Which kind of auth operation an [`AuthRequest`] performs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthKind {
    /// Obtain tokens with credentials (login, password grant, client-credentials grant).
    Login,
    /// Obtain a new access token with the refresh token.
    Refresh,
}

impl AuthKind {
    /// `login` or `refresh` (for logs).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Login => "login",
            AuthKind::Refresh => "refresh",
        }
    }
}

/// Why the engine asks for a login or refresh ([`AuthRequest::reason`]): the decision that
/// made this request, for logs and hooks. Never holds a secret.
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthReason {
    /// No token is held (the first login, or the first after the session expired or a
    /// logout) and a request needs one.
    NoToken,
    /// The token is inside its refresh margin and still works: it is renewed while requests
    /// go out with it.
    Proactive,
    /// The token has expired (or is within the expiry floor): requests wait for the new one.
    Expired,
    /// The server refused the current token (401, or a status in
    /// [`Config::token_rejected_statuses`](crate::Config::token_rejected_statuses)): it is
    /// renewed and the request resent.
    TokenRejected {
        /// The refusing status.
        status: u16,
    },
    /// The refresh token was rejected (400 `invalid_grant`, 401): logging in again.
    RefreshRejected,
    /// The held refresh token cannot be sent with this dialect: logging in instead.
    RefreshUnusable,
    /// An explicit login ([`Session::login`](crate::Session::login)).
    Explicit,
    /// The previous attempt of the operation failed (429/5xx, a network error, its
    /// deadline) and its backoff ended ([`AuthRequest::attempt`] says which attempt this is).
    Retry,
    /// Background refresh before the margin ([`Config::refresh_ahead`](crate::Config::refresh_ahead)).
    RefreshAhead,
    /// The task performing the previous request gave up without an outcome
    /// ([`Session::handle_auth_abandoned`](crate::Session::handle_auth_abandoned)): restarted
    /// for the requests that wait.
    Restarted,
    /// Credentials arrived after [`Action::NeedCredentials`].
    CredentialsProvided,
}

impl AuthReason {
    /// A short phrase for logs (`token inside its refresh margin`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthReason::NoToken => "no token held",
            AuthReason::Proactive => "token inside its refresh margin",
            AuthReason::Expired => "token expired",
            AuthReason::TokenRejected { .. } => "token refused by the server",
            AuthReason::RefreshRejected => "refresh token rejected",
            AuthReason::RefreshUnusable => "refresh token unusable with this dialect",
            AuthReason::Explicit => "explicit login",
            AuthReason::Retry => "retry after a failed attempt",
            AuthReason::RefreshAhead => "background refresh ahead of the margin",
            AuthReason::Restarted => "restarted after the previous request was abandoned",
            AuthReason::CredentialsProvided => "credentials provided",
        }
    }
}

impl core::fmt::Display for AuthReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())?;
        match self {
            AuthReason::TokenRejected { status } => write!(f, " ({status})"),
            _ => Ok(()),
        }
    }
}

/// Why a request refused for its token is sent again ([`Event::Resend`]).
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ResendReason {
    /// It carried a token generation that has since been replaced (a refresh finished while
    /// it was in flight): resent at once with the current token.
    Superseded,
    /// The current token was refused: the request waits for a refresh (or login) and is
    /// resent with the new token.
    Renewal,
}

impl ResendReason {
    /// A short phrase for logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ResendReason::Superseded => "its token was superseded while in flight",
            ResendReason::Renewal => "the current token was refused; renewing it",
        }
    }
}

/// A login or refresh HTTP request for the driver to perform.
///
/// The driver MUST send `request` exactly as given (method, URL, headers, body), then report the
/// outcome with [`Session::handle_auth_response`](crate::Session::handle_auth_response) or
/// [`Session::handle_auth_error`](crate::Session::handle_auth_error); if it gives up on it
/// without an outcome (its task was cancelled), it MUST report
/// [`Session::handle_auth_abandoned`](crate::Session::handle_auth_abandoned) so the operation is
/// restarted for the other waiters.
pub struct AuthRequest {
    /// The operation's id, to quote when reporting the outcome.
    pub id: AuthId,
    /// Login or refresh.
    pub kind: AuthKind,
    /// Why the engine asks for it.
    pub reason: AuthReason,
    /// Which attempt of the operation this is (1 for the first; more after failures).
    pub attempt: u32,
    /// The complete HTTP request. Its body and headers hold secrets: never log them.
    pub request: crate::dialect::AuthHttpRequest,
}

impl core::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("attempt", &self.attempt)
            .field("method", &"POST")
            .field("url", &self.request.url())
            .finish_non_exhaustive()
    }
}

/// Something the session reports for stores, other tabs, metrics and user hooks.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// New tokens are in use after a login or refresh, or the refresh token was dropped.
    /// Persist or broadcast them. (Not emitted for [`Session::set_tokens`](crate::Session::set_tokens)
    /// or [`Session::offer_tokens`](crate::Session::offer_tokens): the caller already has
    /// those.)
    TokensChanged(TokenSet),
    /// A refresh succeeded.
    Refreshed {
        /// When the new access token expires.
        expires_at: Timestamp,
    },
    /// A login (first or re-authentication) succeeded.
    LoggedIn {
        /// When the new access token expires.
        expires_at: Timestamp,
        /// Whether this replaced an earlier session's tokens (a re-authentication).
        reauthenticated: bool,
    },
    /// The tokens were dropped: nothing usable is left (refresh rejected with no credentials, or
    /// logout). The next request fails with `SessionExpired` unless new credentials or tokens are
    /// supplied.
    SessionExpired,
    /// The circuit breaker opened: auth requests are refused until `until`.
    CircuitOpened {
        /// When a probe request will be allowed.
        until: Timestamp,
    },
    /// The circuit breaker's cool-down ended: one probe login or refresh goes out (its
    /// failure opens the circuit again, its success closes it).
    CircuitHalfOpen {
        /// The token generation held.
        generation: u64,
    },
    /// A request refused for its token (a 401, a status in `token_rejected_statuses`, or a
    /// bare 403 for a superseded token) is sent again.
    Resend {
        /// Why.
        reason: ResendReason,
        /// The refusing status.
        status: u16,
        /// The token generation the refused request carried.
        generation: u64,
    },
    /// A request is resent after a backoff: a transient status (429, 503, ...) or a failure
    /// before any response.
    Backoff {
        /// The transient status, or `None` for a failure without a response.
        status: Option<u16>,
        /// How long until the resend.
        delay: Duration,
        /// Which resend this is (1 for the first).
        resend: u32,
        /// The token generation the failed attempt carried.
        generation: u64,
    },
    /// A login or refresh attempt failed transiently (429/5xx, a network error, its
    /// deadline) and is tried again after a backoff.
    AuthBackoff {
        /// Login or refresh.
        kind: AuthKind,
        /// The status, or `None` for a failure without a response.
        status: Option<u16>,
        /// How long until the next attempt.
        delay: Duration,
        /// The attempt that failed.
        attempt: u32,
        /// The token generation held.
        generation: u64,
    },
    /// The login or refresh in flight ran out of time
    /// ([`Config::auth_timeout`](crate::Config::auth_timeout)) and is aborted
    /// ([`Action::AbortAuth`]); it counts as a transient failure.
    AuthAborted {
        /// Login or refresh.
        kind: AuthKind,
        /// The attempt aborted.
        attempt: u32,
        /// The token generation held.
        generation: u64,
    },
    /// A login or refresh operation ended without tokens; the requests waiting for it fail
    /// with `error` (a refused refresh that leads to a new login is not reported here).
    AuthFailed {
        /// Login or refresh.
        kind: AuthKind,
        /// Why (never holds a secret).
        error: Error,
        /// The token generation held.
        generation: u64,
    },
}

/// What the driver must do next. Drain with [`Session::poll_action`](crate::Session::poll_action)
/// after every input until it returns `None`.
#[non_exhaustive]
#[derive(Debug)]
pub enum Action {
    /// Send (or resend) the exchange's request with this `Authorization` header value. The driver
    /// MUST report the outcome with `handle_response` or `handle_send_error`.
    Send {
        /// The exchange.
        id: ExchangeId,
        /// The `Authorization` header value (`Bearer …`, marked sensitive).
        authorization: HeaderValue,
    },
    /// Perform this login or refresh request (at most one is in flight per session).
    Authenticate(AuthRequest),
    /// Abort the login or refresh request `id` now (its deadline,
    /// [`Config::auth_timeout`](crate::Config::auth_timeout), passed): close its connection
    /// and stop reading its answer. The engine has already counted it as failed; any outcome
    /// still reported for it is ignored, and it must not be reported as abandoned.
    AbortAuth {
        /// The operation to abort.
        id: AuthId,
    },
    /// Hand the last response received for the exchange to the caller. The exchange has ended.
    Deliver {
        /// The exchange.
        id: ExchangeId,
    },
    /// Fail the exchange with this error. The exchange has ended.
    Fail {
        /// The exchange.
        id: ExchangeId,
        /// Why.
        error: Error,
    },
    /// Report this event (persist tokens, broadcast, count, call hooks). No reply is expected.
    Event(Event),
    /// Obtain credentials (ask the user, read a secrets store) and answer with
    /// [`Session::provide_credentials`](crate::Session::provide_credentials): a login is needed
    /// and the credentials held cannot make one (none were given, or they were refused). Only
    /// with [`Config::ask_for_credentials`](crate::Config::ask_for_credentials), and only while
    /// exchanges wait; emitted once per wait, and those exchanges keep waiting until the answer.
    NeedCredentials,
}

/// Why the driver should wake the engine at the time given by
/// [`Session::poll_timeout`](crate::Session::poll_timeout).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerKind {
    /// An exchange's backoff before a resend (429/5xx or connect error) has ended.
    ExchangeRetry,
    /// The backoff before retrying a failed login or refresh has ended.
    AuthRetry,
    /// The login or refresh in flight ran out of time ([`Config::auth_timeout`](crate::Config::auth_timeout)):
    /// the engine will ask for it to be aborted.
    AuthDeadline,
    /// Background refresh: the token enters its refresh margin (only with `refresh_ahead`).
    RefreshAhead,
    /// The circuit breaker's cool-down has ended; a probe auth request is allowed again.
    CircuitHalfOpen,
}

#[cfg(test)]
mod tests {
    use super::RequestMeta;

    /// A method named as text is judged as `http::Method` judges it, the standard methods and
    /// the extension methods (a lower-case name is one) alike.
    #[test]
    fn for_method_agrees_with_http_method() {
        let names = [
            "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "POST", "PATCH", "CONNECT", "get",
            "put", "PROPFIND", "",
        ];
        for name in names {
            for replayable in [true, false] {
                let from_text = RequestMeta::for_method(name, replayable);
                let Ok(method) = http::Method::from_bytes(name.as_bytes()) else {
                    assert!(!from_text.idempotent, "{name:?}");
                    continue;
                };
                assert_eq!(from_text, RequestMeta::new(&method, replayable), "{name:?}");
            }
        }
    }
}
