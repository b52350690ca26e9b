//! What the engine asks the driver to do (`Action`), and the ids and descriptions that go with it.

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
}

/// Which kind of auth operation an [`AuthRequest`] performs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthKind {
    /// Obtain tokens with credentials (login, password grant, client-credentials grant).
    Login,
    /// Obtain a new access token with the refresh token.
    Refresh,
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
    /// The complete HTTP request. Its body and headers hold secrets: never log them.
    pub request: http::Request<Vec<u8>>,
}

impl core::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
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
