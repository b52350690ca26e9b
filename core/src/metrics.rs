//! Counters and a cheap snapshot of the session's state (the seed's `get_token_metrics`).

use crate::time::Timestamp;

/// A snapshot of the session's counters and token state, from
/// [`Session::metrics`](crate::Session::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Exchanges started.
    pub requests: u64,
    /// Exchanges that ended with `Deliver`.
    pub delivered: u64,
    /// Exchanges that ended with `Fail`.
    pub failures: u64,
    /// Successful refreshes (`refresh_count`).
    pub refresh_count: u64,
    /// Refresh attempts that did not produce a token (`refresh_failures`).
    pub refresh_failures: u64,
    /// Successful logins, the first one included.
    pub logins: u64,
    /// Login attempts that did not produce a token.
    pub login_failures: u64,
    /// Successful logins that replaced an earlier session (refresh token missing or rejected).
    pub reauthentications: u64,
    /// Resends after a 401 (for an older token generation, or after a refresh), or after a
    /// bare 403 for an older token generation.
    pub unauthorized_resends: u64,
    /// Resends after a transient status (429/5xx) or a connect error.
    pub transient_resends: u64,
    /// Times the circuit breaker opened.
    pub circuit_opened: u64,
    /// When the last refresh succeeded (`last_refresh`).
    pub last_refresh: Option<Timestamp>,
    /// When the current access token expires (`token_expires_at`).
    pub token_expires_at: Option<Timestamp>,
    /// Whether there is no token or it is expired (or rejected) at snapshot time (`is_expired`).
    pub is_expired: bool,
    /// Whether a login or refresh is in flight or waiting to retry.
    pub auth_in_progress: bool,
}
