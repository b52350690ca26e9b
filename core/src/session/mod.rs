//! The engine: one identity's tokens, its auth operation and its exchanges.
//!
//! # Theory of operation
//!
//! A [`Session`] holds at most one token set, at most one auth operation (login or refresh) and
//! any number of exchanges (caller requests with their resends). Every input takes `now`;
//! every decision is pushed onto an action queue that the driver drains with
//! [`Session::poll_action`]. Rules it keeps (the decision table in `core/README.md`):
//!
//! - a token it knows to be expired or rejected is never sent;
//! - at most one auth operation is in flight (single flight) and every exchange waiting for it
//!   resumes or fails when it ends;
//! - every started exchange ends exactly once, with `Deliver` or `Fail`, unless cancelled;
//! - resends are bounded: 401s by `max_auth_retries_per_exchange` and
//!   `max_stale_generation_resends`, transient errors by `max_transient_resends` and the backoff
//!   budget.

use std::collections::VecDeque;

use http::HeaderValue;

use crate::action::{Action, AuthId, AuthKind, AuthReason, Event, ExchangeId, RequestMeta};
use crate::backoff::Rng;
use crate::config::Config;
use crate::dialect::{Credentials, Dialect};
use crate::error::{ConfigError, Error};
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::slab::Slab;
use crate::time::Timestamp;
use crate::tokens::TokenSet;

use crate::origin::Origin;

mod auth;
mod classify;
mod decide;
mod inputs;
mod lease;
pub mod offer;
mod redact;
mod response;

pub use classify::ResponseRules;
pub use lease::{Lease, LeaseTerms};
pub use offer::AuthGate;
use offer::PeerNote;

/// How a request failed to produce a response, as far as the driver can tell.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendFailure {
    /// The request never left: DNS, connect or TLS handshake failure. Safe to resend any request.
    NotSent,
    /// The request may have reached the server (timeout, reset after writing, truncated
    /// response). Only idempotent requests are resent.
    MaybeSent,
}

/// The token in use, with the times derived from it when it arrived.
struct Held {
    set: TokenSet,
    header: HeaderValue,
    /// Inside the refresh margin from here on.
    stale_at: Timestamp,
    /// Treated as expired from here on (expiry minus the hard floor).
    expired_at: Timestamp,
    /// The server refused it with this status (a 401 for this generation): treated as
    /// expired.
    rejected: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Freshness {
    Fresh,
    Stale,
    Expired,
    Missing,
}

#[derive(Clone, Copy, Debug)]
enum AuthState {
    Idle,
    InFlight {
        id: AuthId,
        kind: AuthKind,
        attempt: u32,
        started: Timestamp,
        /// The attempt's deadline (`Authenticate` emitted + `auth_timeout`).
        deadline: Timestamp,
    },
    Backoff {
        kind: AuthKind,
        attempt: u32,
        started: Timestamp,
        until: Timestamp,
    },
    /// `NeedCredentials` was emitted; the waiters wait for `provide_credentials`.
    AwaitingCredentials,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExState {
    /// Waits for the auth operation, then is sent (or delivered, for a login exchange).
    AwaitingToken,
    /// Sent with this token generation; a response or error is due.
    InFlight { generation: u64 },
    /// Waits for a backoff to end before a resend.
    Backoff { until: Timestamp },
}

struct Exchange {
    meta: RequestMeta,
    state: ExState,
    started: Timestamp,
    sends: u32,
    auth_retries: u32,
    stale_resends: u32,
    transient_resends: u32,
    /// A `login()` exchange: ends with `Deliver` once a login has produced tokens.
    login_only: bool,
}

/// Circuit breaker on the auth endpoint.
#[derive(Default)]
struct Circuit {
    failures: u32,
    open_until: Option<Timestamp>,
}

/// One identity's token-keeping state machine. See the [crate docs](crate) for the driving
/// contract.
pub struct Session {
    config: Config,
    dialect: Dialect,
    credentials: Credentials,
    origins: Vec<Origin>,
    /// How responses are sorted (from the configuration).
    rules: ResponseRules,
    rng: Rng,
    tokens: Option<Held>,
    /// `issued_at` of the last token set held (kept after the tokens are dropped): an offered
    /// set must be newer.
    last_issued: Option<Timestamp>,
    /// A peer's newest tokens, as noted by the driver.
    peer: Option<PeerNote>,
    generation: u64,
    auth: AuthState,
    /// The password or refresh token the last `Authenticate` carried (the credentials may be
    /// replaced while it is in flight), so that server text kept from its answer never shows
    /// it; dropped once a refusal is read, and at logout.
    auth_sent: Option<Secret>,
    next_auth_id: u64,
    /// The next auth operation must be a login (explicit `login()`).
    force_login: bool,
    /// The credentials were refused; logins stay off until new credentials are supplied.
    credentials_refused: Option<Error>,
    /// No proactive or background refresh before this time (after a failed auth operation).
    quiet_until: Option<Timestamp>,
    /// The auth endpoint's last `Retry-After` (clamped to
    /// [`MAX_AUTH_RETRY_AFTER`](crate::limits::MAX_AUTH_RETRY_AFTER)), with the status it came
    /// with: no auth operation starts before it.
    auth_floor: Option<(Timestamp, u16)>,
    circuit: Circuit,
    exchanges: Slab<Exchange>,
    in_backoff: usize,
    actions: VecDeque<Action>,
    scratch: Vec<ExchangeId>,
    metrics: Metrics,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("dialect", &self.dialect.name)
            .field("generation", &self.generation)
            .field("auth", &self.auth)
            .field("exchanges", &self.exchanges.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for one identity. `seed` drives margin and backoff jitter (pass a random
    /// number in production, a constant in tests). The token may be sent to the dialect's
    /// origin; add API origins with [`Session::allow_origin`].
    pub fn new(
        config: Config,
        dialect: Dialect,
        credentials: Credentials,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        dialect.validate(config.allow_insecure_http)?;
        let origins = match dialect.endpoint_url() {
            Some(u) => vec![Origin::from_parts(u.scheme(), u.host(), u.port())?],
            None => Vec::new(),
        };
        Ok(Session {
            rules: ResponseRules::new(&config),
            config,
            dialect,
            credentials,
            origins,
            rng: Rng::new(seed),
            tokens: None,
            last_issued: None,
            peer: None,
            generation: 0,
            auth: AuthState::Idle,
            auth_sent: None,
            next_auth_id: 0,
            force_login: false,
            credentials_refused: None,
            quiet_until: None,
            auth_floor: None,
            circuit: Circuit::default(),
            exchanges: Slab::new(),
            in_backoff: 0,
            actions: VecDeque::new(),
            scratch: Vec::new(),
            metrics: Metrics::default(),
        })
    }

    // ---- getters --------------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// The tokens in use, if any.
    pub fn tokens(&self) -> Option<&TokenSet> {
        self.tokens.as_ref().map(|h| &h.set)
    }

    /// The current token generation (incremented every time new tokens are installed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Live exchanges (started, not yet delivered, failed or cancelled).
    pub fn live_exchanges(&self) -> usize {
        self.exchanges.len()
    }

    /// The login or refresh the driver is performing now, if any (none while it waits to be
    /// retried). [`Session::set_tokens`] and [`Session::logout`] drop it.
    pub fn auth_in_flight(&self) -> Option<(AuthId, AuthKind)> {
        match self.auth {
            AuthState::InFlight { id, kind, .. } => Some((id, kind)),
            _ => None,
        }
    }

    /// Whether a login or refresh is in flight or waiting to be retried.
    pub fn auth_in_progress(&self) -> bool {
        !matches!(self.auth, AuthState::Idle)
    }

    /// A snapshot of the counters and token state at `now`.
    pub fn metrics(&self, now: Timestamp) -> Metrics {
        Metrics {
            token_expires_at: self.tokens.as_ref().map(|h| h.set.expires_at),
            is_expired: matches!(self.freshness(now), Freshness::Expired | Freshness::Missing),
            auth_in_progress: self.auth_in_progress(),
            ..self.metrics
        }
    }

    /// Whether the access token may be sent to `uri`'s origin (scheme, host and port equal to
    /// one of the allowed origins). Drivers MUST NOT attach the header otherwise, and must not
    /// carry it across a redirect to another origin.
    pub fn allows_origin(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(auth)) => self.allows(scheme, auth.host(), auth.port_u16()),
            _ => false,
        }
    }

    /// [`Session::allows_origin`] from parts, for drivers whose URL type is not `http::Uri`
    /// (`port` `None` means the scheme's default). Allocates nothing.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        Origin::any_allows(&self.origins, scheme, host, port)
    }

    // ---- commands -------------------------------------------------------------------------

    /// Allows sending the access token to another origin (`https://api.example.com[:port]`).
    pub fn allow_origin(&mut self, origin: &str) -> Result<(), ConfigError> {
        self.origins.push(Origin::parse(origin)?);
        Ok(())
    }

    /// [`Session::allow_origin`] from parts a URL parser has read, for drivers whose URL type
    /// is not `http::Uri` (`port` `None` for the scheme's default; an IPv6 host may keep its
    /// brackets). `InvalidUrl` when the scheme or the host is empty.
    pub fn allow_origin_parts(
        &mut self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<(), ConfigError> {
        self.origins.push(Origin::from_parts(scheme, host, port)?);
        Ok(())
    }

    /// Replaces the credentials (and lifts a refusal of the previous ones).
    pub fn set_credentials(&mut self, credentials: Credentials) {
        self.credentials = credentials;
        self.credentials_refused = None;
    }

    /// The answer to [`Action::NeedCredentials`]: the credentials to log in with, or `None`
    /// when there are none (the user cancelled, the store is empty). With credentials that can
    /// make a login, the login starts and the waiting exchanges go out with its token; without,
    /// they fail with `SessionExpired` (and expired tokens are dropped, with
    /// [`Event::SessionExpired`]). Outside a wait the credentials are only kept, as
    /// [`Session::set_credentials`] does.
    pub fn provide_credentials(&mut self, now: Timestamp, credentials: Option<Credentials>) {
        let given = credentials.is_some();
        if let Some(c) = credentials {
            self.set_credentials(c);
        }
        if !matches!(self.auth, AuthState::AwaitingCredentials) {
            return;
        }
        self.auth = AuthState::Idle;
        if given && self.renewal(now).is_some() {
            if let Err(e) = self.ensure_auth(now, AuthReason::CredentialsProvided) {
                self.fail_waiters(&e);
            }
            return;
        }
        if self.tokens.is_some() && self.freshness(now) == Freshness::Expired {
            self.tokens = None;
            self.actions.push_back(Action::Event(Event::SessionExpired));
        }
        self.fail_waiters(&Error::SessionExpired);
    }

    /// Starts a login now, even if tokens are held (explicit `login()`), and returns an exchange
    /// that ends with `Deliver` when it succeeded or `Fail` with the reason.
    pub fn login(&mut self, now: Timestamp) -> ExchangeId {
        let id = self.exchanges.insert(Exchange {
            meta: RequestMeta {
                idempotent: true,
                replayable: true,
            },
            state: ExState::AwaitingToken,
            started: now,
            sends: 0,
            auth_retries: 0,
            stale_resends: 0,
            transient_resends: 0,
            login_only: true,
        });
        self.credentials_refused = None;
        self.force_login = true;
        if let Err(e) = self.ensure_auth(now, AuthReason::Explicit) {
            self.fail_waiters(&e);
        }
        id
    }

    /// Drops the tokens, fails waiting exchanges with `SessionExpired` and forgets any auth
    /// operation in flight. Emits [`Event::SessionExpired`] so stores and tabs forget them too.
    /// With [`Config::ask_for_credentials`] the credentials are forgotten as well: the next
    /// login asks for them again.
    pub fn logout(&mut self) {
        if self.config.ask_for_credentials {
            self.credentials = Credentials::none();
        }
        self.tokens = None;
        self.generation += 1;
        self.auth = AuthState::Idle;
        self.auth_sent = None;
        self.force_login = false;
        self.fail_waiters(&Error::SessionExpired);
        self.actions.push_back(Action::Event(Event::SessionExpired));
    }
}
