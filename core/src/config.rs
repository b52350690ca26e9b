//! Every limit the engine applies, with defaults a careful user would pick.

use core::time::Duration;

use crate::error::ConfigError;

/// [`Config::peer_wait`]'s default.
pub(crate) const DEFAULT_PEER_WAIT: Duration = Duration::from_secs(1);

/// How long before expiry a token counts as "stale" (due for refresh).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Margin {
    /// A fraction of the token's whole lifetime, clamped to `[min, max]`, never more than half the
    /// lifetime. The default is 10 %, clamped to 5 s..300 s.
    Proportional {
        /// Fraction of the lifetime (0.0..=0.5).
        fraction: f64,
        /// Lower clamp.
        min: Duration,
        /// Upper clamp.
        max: Duration,
    },
    /// A fixed margin, still never more than half the lifetime.
    Fixed(Duration),
}

impl Default for Margin {
    fn default() -> Self {
        Margin::Proportional {
            fraction: 0.1,
            min: Duration::from_secs(5),
            max: Duration::from_mins(5),
        }
    }
}

/// Exponential backoff for resends and auth retries: `base × factor^n`, capped, with full jitter
/// on the upper half, bounded by a total time budget. `Retry-After` is a floor.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Growth factor per attempt (≥ 1.0).
    pub factor: f64,
    /// Largest single delay.
    pub cap: Duration,
    /// Total time an exchange (or auth operation) may spend waiting and retrying; a `Retry-After`
    /// beyond it ends the retries at once.
    pub budget: Duration,
    /// Randomise each delay within `[delay/2, delay]` (seeded, so deterministic per session).
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            factor: 2.0,
            cap: Duration::from_secs(10),
            budget: Duration::from_mins(1),
            jitter: true,
        }
    }
}

/// What to do when the server rejects a token it just issued (second 401 for one exchange).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SecondRejection {
    /// Hand the 401 response to the caller (default).
    #[default]
    Deliver,
    /// Fail the exchange with [`Error::Unauthorized`](crate::Error::Unauthorized).
    Fail,
}

/// The circuit breaker on the auth endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CircuitBreaker {
    /// Consecutive failed auth attempts (transient errors, malformed answers) that open the
    /// circuit. 0 disables the breaker.
    pub threshold: u32,
    /// How long the circuit stays open before one probe is allowed (half-open).
    pub cool_down: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Engine configuration. `Config::default()` is what most users want.
#[derive(Clone, PartialEq, Debug)]
pub struct Config {
    /// Automatic refresh at all. When false the engine logs in once, sends with that token and
    /// delivers 401s; an expired token fails with `SessionExpired`.
    pub enabled: bool,
    /// Refresh proactively inside the margin (while the token still works).
    pub proactive: bool,
    /// Refresh (or re-authenticate) and resend once after a 401 for the current token.
    pub retry_on_401: bool,
    /// The refresh margin.
    pub margin: Margin,
    /// Random extra margin, as a fraction of the margin (0.0 = none), still under the half-lifetime
    /// cap. Spreads refreshes of many processes that got tokens at the same moment.
    pub margin_jitter: f64,
    /// Within this much of expiry a token counts as expired (requests wait for the refresh rather
    /// than race the clock). Never more than half the margin.
    pub expiry_floor: Duration,
    /// Lifetime assumed when the token response has neither `expires_in` nor a JWT `exp`.
    pub default_lifetime: Duration,
    /// Refresh-or-re-authenticate cycles one exchange may trigger by 401s (default 1).
    pub max_auth_retries_per_exchange: u32,
    /// Resends at once of an exchange whose 401, or bare 403 (no Bearer challenge), came back
    /// for an older token generation.
    pub max_stale_generation_resends: u32,
    /// Attempts for one login or refresh operation against 429/5xx/transport errors.
    pub max_refresh_attempts: u32,
    /// How long one login or refresh request may take, from the `Authenticate` action to its
    /// complete answer. When it runs out the engine emits
    /// [`Action::AbortAuth`](crate::Action::AbortAuth) and counts the attempt as a transient
    /// failure (backoff and retry, within `max_refresh_attempts`). Default 30 s
    /// ([`DEFAULT_AUTH_TIMEOUT`](crate::limits::DEFAULT_AUTH_TIMEOUT)).
    pub auth_timeout: Duration,
    /// Backoff between auth attempts.
    pub auth_backoff: Backoff,
    /// Resends of one exchange after transient statuses or connect errors.
    pub max_transient_resends: u32,
    /// Backoff between transient resends.
    pub resend_backoff: Backoff,
    /// Statuses resent for any method (default 429, 503).
    pub transient_statuses: Vec<u16>,
    /// Statuses resent only for idempotent requests unless `retry_non_idempotent_gateway` (default 502, 504).
    pub gateway_statuses: Vec<u16>,
    /// Resend non-idempotent requests after `gateway_statuses` too.
    pub retry_non_idempotent_gateway: bool,
    /// Statuses that mean "this token was rejected" (default 401; some servers answer an expired
    /// token with a bare 403). Without 403 here, a bare 403 is still resent when it answers a
    /// token generation that has since been replaced (a token superseded by a refresh), and
    /// delivered otherwise (a 403 listed in `transient_statuses` or `gateway_statuses`
    /// follows that list instead).
    pub token_rejected_statuses: Vec<u16>,
    /// After a second rejection of a fresh token for the same exchange.
    pub second_rejection: SecondRejection,
    /// Log in again when the refresh token is rejected (and credentials are known).
    pub reauth_on_refresh_rejected: bool,
    /// The circuit breaker on the auth endpoint.
    pub circuit_breaker: CircuitBreaker,
    /// Background refresh: a `RefreshAhead` timer so an idle session is fresh when the next
    /// request arrives. Off by default.
    pub refresh_ahead: bool,
    /// Allow plain-`http` token endpoints on non-loopback hosts (never do this in production).
    pub allow_insecure_http: bool,
    /// The driver can obtain credentials on demand (a login form, a secrets store). When a
    /// login is needed while exchanges wait, and the dialect's login takes a username or
    /// password that is not held (never given, or refused), the engine emits
    /// [`Action::NeedCredentials`](crate::Action::NeedCredentials) and the exchanges wait for
    /// the answer instead of failing with `SessionExpired` or `InvalidCredentials`. Off by
    /// default.
    pub ask_for_credentials: bool,
    /// How long a driver waits for a peer (another tab or process) that holds newer tokens
    /// than this session's to hand them over, before it performs its own login or refresh
    /// ([`AuthGate::AskPeer`](crate::AuthGate::AskPeer)). Default 1 s.
    pub peer_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            proactive: true,
            retry_on_401: true,
            margin: Margin::default(),
            margin_jitter: 0.0,
            expiry_floor: Duration::from_millis(500),
            default_lifetime: Duration::from_mins(5),
            max_auth_retries_per_exchange: 1,
            max_stale_generation_resends: 3,
            max_refresh_attempts: 4,
            auth_timeout: crate::limits::DEFAULT_AUTH_TIMEOUT,
            auth_backoff: Backoff::default(),
            max_transient_resends: 3,
            resend_backoff: Backoff::default(),
            transient_statuses: vec![429, 503],
            gateway_statuses: vec![502, 504],
            retry_non_idempotent_gateway: false,
            token_rejected_statuses: vec![401],
            second_rejection: SecondRejection::Deliver,
            reauth_on_refresh_rejected: true,
            circuit_breaker: CircuitBreaker::default(),
            refresh_ahead: false,
            allow_insecure_http: false,
            ask_for_credentials: false,
            peer_wait: DEFAULT_PEER_WAIT,
        }
    }
}

impl Config {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason| Err(ConfigError::Invalid { field, reason });
        match self.margin {
            Margin::Proportional { fraction, min, max } => {
                if !(0.0..=0.5).contains(&fraction) {
                    return bad("margin.fraction", "must be within 0.0..=0.5");
                }
                if min > max {
                    return bad("margin", "min must not exceed max");
                }
            }
            Margin::Fixed(_) => {}
        }
        if !(0.0..=1.0).contains(&self.margin_jitter) {
            return bad("margin_jitter", "must be within 0.0..=1.0");
        }
        if self.default_lifetime.is_zero() {
            return bad("default_lifetime", "must be positive");
        }
        if self.max_refresh_attempts == 0 {
            return bad("max_refresh_attempts", "must be at least 1");
        }
        if self.auth_timeout.is_zero() {
            return bad("auth_timeout", "must be positive");
        }
        for (field, b) in [
            ("auth_backoff", &self.auth_backoff),
            ("resend_backoff", &self.resend_backoff),
        ] {
            if !(b.factor >= 1.0 && b.factor.is_finite()) {
                return bad(field, "factor must be a finite number >= 1.0");
            }
            if b.base > b.cap {
                return bad(field, "base must not exceed cap");
            }
        }
        if self
            .token_rejected_statuses
            .iter()
            .any(|s| !(400..500).contains(s))
        {
            return bad("token_rejected_statuses", "must be 4xx statuses");
        }
        Ok(())
    }
}
