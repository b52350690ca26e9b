//! [`Keeper`]: one identity's session, shared by every client, middleware and thread.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Config, ConfigError, Event, Metrics, Session, TokenSet};

use crate::clock::{Clock, ClockRef};
use crate::error::Error;
use crate::state::{CredentialsProvider, Listener, Parts, Shared};
use crate::store::handle::StoreHandle;
use crate::store::{StoreMetrics, TokenStore};
use crate::tasks::carry_out;

/// One identity's tokens and the engine that keeps them valid, shared by every [`Client`](crate::Client),
/// [`Middleware`](crate::Middleware) and [`blocking::Client`](crate::blocking::Client) made
/// from it.
///
/// Cheap to clone (an `Arc`), `Send + Sync`. However many requests run at once, at most one
/// login or refresh is in flight.
#[derive(Clone)]
pub struct Keeper {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Keeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Keeper").field(&self.shared).finish()
    }
}

impl Keeper {
    /// Starts building a keeper for this wire format (see [`Dialect`]).
    pub fn builder(dialect: Dialect) -> KeeperBuilder {
        KeeperBuilder {
            dialect,
            credentials: Credentials::none(),
            config: Config::default(),
            client: None,
            auth_client: None,
            origins: Vec::new(),
            seed: None,
            listeners: Vec::new(),
            provider: None,
            clock: ClockRef::System,
            fast_path: true,
            request_timeout: None,
            store: None,
            store_lock_wait: DEFAULT_STORE_LOCK_WAIT,
        }
    }

    /// A snapshot of the counters and token state (cheap: one short lock).
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics()
    }

    /// What the token store did (sets adopted from it, logins and refreshes made with and
    /// without its lock, failures), or `None` without a store
    /// ([`KeeperBuilder::store`]).
    pub fn store_metrics(&self) -> Option<StoreMetrics> {
        self.shared.store.as_ref().map(|s| s.metrics())
    }

    /// The tokens in use, if any (to persist them, for instance).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.shared.read(|s| s.tokens().cloned())
    }

    /// Installs tokens obtained elsewhere (a store, another process). Requests waiting for a
    /// login or refresh resume with them. They are not written to the keeper's token store
    /// ([`KeeperBuilder::store`]), which saves the sets the keeper obtains itself.
    pub fn set_tokens(&self, tokens: TokenSet) -> Result<(), Error> {
        let (result, jobs) = self.shared.locked(|st, now, work| {
            st.driver
                .input(now, work, |s, now| s.set_tokens(now, tokens))
        });
        carry_out(&self.shared, jobs);
        result.map_err(Error::Config)
    }

    /// Replaces the credentials used to log in (and lifts a refusal of the previous ones).
    pub fn set_credentials(&self, credentials: Credentials) {
        let ((), jobs) = self.shared.locked(|st, now, work| {
            st.driver
                .input(now, work, |s, _| s.set_credentials(credentials));
        });
        carry_out(&self.shared, jobs);
    }

    /// Logs in now, even if tokens are held. Fails with the engine's reason
    /// (`InvalidCredentials`, `AuthUnavailable`, ...); never retried after a 400/401.
    pub async fn login(&self) -> Result<(), Error> {
        crate::exchange::login(&self.shared).await
    }

    /// Forgets the tokens; requests waiting for a login or refresh fail with `SessionExpired`.
    /// Listeners receive [`Event::SessionExpired`]. With a credentials provider, the
    /// credentials held are forgotten too (the engine's rule): the next login asks it again.
    pub fn logout(&self) {
        let ((), jobs) = self
            .shared
            .locked(|st, now, work| st.driver.input(now, work, |s, _| s.logout()));
        carry_out(&self.shared, jobs);
    }

    /// Whether the token is sent to `url`'s origin (the dialect's origin and those added with
    /// [`KeeperBuilder::allow_origin`]).
    pub fn allows_origin(&self, url: &reqwest::Url) -> bool {
        url.host_str().is_some_and(|host| {
            self.shared
                .read(|s| s.allows(url.scheme(), host, url.port_or_known_default()))
        })
    }
}

/// Builds a [`Keeper`]. Start with [`Keeper::builder`].
pub struct KeeperBuilder {
    dialect: Dialect,
    credentials: Credentials,
    config: Config,
    client: Option<reqwest::Client>,
    auth_client: Option<reqwest::Client>,
    origins: Vec<String>,
    seed: Option<u64>,
    listeners: Vec<Listener>,
    provider: Option<CredentialsProvider>,
    clock: ClockRef,
    fast_path: bool,
    request_timeout: Option<Duration>,
    store: Option<Arc<dyn TokenStore>>,
    store_lock_wait: Duration,
}

impl fmt::Debug for KeeperBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeeperBuilder")
            .field("dialect", &self.dialect.name)
            .field("credentials", &self.credentials)
            .field("config", &self.config)
            .field("origins", &self.origins)
            .field("listeners", &self.listeners.len())
            .field("credentials_provider", &self.provider.is_some())
            .field("fast_path", &self.fast_path)
            .field("request_timeout", &self.request_timeout)
            .field("store", &self.store)
            .field("store_lock_wait", &self.store_lock_wait)
            .finish_non_exhaustive()
    }
}

impl KeeperBuilder {
    /// The credentials to log in with (none by default: tokens must then come from
    /// [`Keeper::set_tokens`], or the dialect needs none, like the client-credentials grant).
    #[must_use]
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Asks `provider` for credentials when the engine needs them: a login is due while
    /// requests wait, and no credentials are held (none given) or the server refused the last
    /// ones. One call for any number of waiting requests; it returns the credentials, or
    /// `None` when there are none (the waiting requests then fail with `SessionExpired`). A
    /// provider that panics counts as `None`. Typical providers prompt on a terminal or read a
    /// secrets store. Sets [`Config::ask_for_credentials`]; credentials given with
    /// [`credentials`](Self::credentials) are tried first.
    #[must_use]
    pub fn credentials_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Credentials>> + Send + 'static,
    {
        self.provider = Some(Arc::new(move || Box::pin(provider())));
        self
    }

    /// The engine's settings (`Config::default()` unless given).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The reqwest client that sends API requests, used as it is (its timeouts, its redirect
    /// policy; reqwest drops `Authorization` on a redirect to another origin). Default: a
    /// client the keeper builds, with a 10 s connect timeout and a 30 s read timeout (an
    /// attempt that receives nothing for 30 s fails), and the
    /// [`request_timeout`](Self::request_timeout) if one is set.
    #[must_use]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// A limit on each attempt of an API request as a whole, from sending it to the end of the
    /// response body, on the client the keeper builds (the seed configuration's
    /// `client.timeout`). Not set by default: a long download that keeps receiving is not cut
    /// off; the read timeout (30 s without a byte) still ends a server that stops answering.
    /// Ignored with a [`client`](Self::client) of your own, which keeps its settings.
    /// `reqwest::RequestBuilder::timeout` overrides it for one request.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The clock the keeper reads and sleeps on (default: [`SystemClock`](crate::clock::SystemClock)).
    /// Tests pass a [`ManualClock`](crate::clock::ManualClock) to move time themselves.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = ClockRef::Custom(Arc::new(clock));
        self
    }

    /// Whether requests a lease covers skip the session lock (default: on; see
    /// BENCHMARKS.md for what it gains). Off, every request takes the plain path through the
    /// engine: the same behaviour, for measurement and debugging.
    #[must_use]
    pub fn fast_path(mut self, on: bool) -> Self {
        self.fast_path = on;
        self
    }

    /// The reqwest client that sends login and refresh requests. Configure it NOT to follow
    /// redirects: a 307 would carry the password or refresh token elsewhere. Default: a client
    /// without redirects and a 10 s connect timeout (the engine's `Config::auth_timeout`
    /// bounds the whole operation).
    #[must_use]
    pub fn auth_client(mut self, client: reqwest::Client) -> Self {
        self.auth_client = Some(client);
        self
    }

    /// Also sends the token to this origin (`https://api.example.com[:port]`), read as
    /// `reqwest::Url` reads it (`http://127.1` is `http://127.0.0.1`; one it cannot read is
    /// `ConfigError::InvalidUrl` at [`build`](Self::build)). The dialect's own origin is
    /// always allowed; requests to any other origin go out without the token and without the
    /// engine's involvement.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// The seed of the engine's jitter (default: random). Fix it in tests.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls `f` with every engine event (tokens changed, refreshed, logged in, session
    /// expired, ...), after the session lock is released. Keep it short; it runs on the task
    /// that fed the engine.
    #[must_use]
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(f));
        self
    }

    /// Shares the tokens through `store` ([`FileStore`](crate::store::FileStore) for the
    /// processes of one machine, `RedisStore` for a fleet, [`MemoryStore`](crate::store::MemoryStore)
    /// for keepers of one process): the keeper adopts the tokens stored instead of logging in
    /// or refreshing when they are newer than its own, takes the store's lock around each
    /// login or refresh, and saves every new set (absolute times) before releasing it. A store
    /// that fails never fails a request: the keeper carries on alone and says so (a warning,
    /// [`Keeper::store_metrics`]). Default: none (tokens live in this keeper only). See
    /// [`crate::store`].
    #[must_use]
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long a login or refresh waits for the store's lock while another process holds
    /// it (default 10 s), before carrying on alone. A holder that crashed releases a file
    /// lock at once and a Redis lock when it expires; this bounds a holder that hangs. Keep
    /// it under `Config::auth_timeout` (30 s), which the wait counts toward.
    #[must_use]
    pub fn store_lock_wait(mut self, wait: Duration) -> Self {
        self.store_lock_wait = wait;
        self
    }

    /// Checks the settings and builds the keeper. Nothing is sent yet: the first request
    /// logs in.
    ///
    /// `Config::ask_for_credentials` without a
    /// [`credentials_provider`](Self::credentials_provider) is refused: nobody would answer.
    pub fn build(mut self) -> Result<Keeper, Error> {
        if self.provider.is_some() {
            self.config.ask_for_credentials = true;
        } else if self.config.ask_for_credentials {
            return Err(Error::Config(ConfigError::Invalid {
                field: "ask_for_credentials",
                reason: "needs a credentials provider (KeeperBuilder::credentials_provider)",
            }));
        }
        let seed = self.seed.unwrap_or_else(random_seed);
        // Every URL the engine judges is read by reqwest's parser, the one that sends them
        // (docs/ARCHITECTURE.md, "Security rules"): the endpoints and the allowed origins.
        crate::io::read_endpoint_urls(&mut self.dialect)?;
        let mut session = Session::new(self.config, self.dialect, self.credentials, seed)?;
        for origin in &self.origins {
            let invalid = || ConfigError::invalid_url(origin);
            let url = reqwest::Url::parse(origin).map_err(|_| invalid())?;
            session
                .allow_origin_parts(url.scheme(), url.host_str().unwrap_or_default(), url.port())
                .map_err(|_| invalid())?;
        }
        let base = if let Some(c) = self.client {
            c
        } else {
            let mut b = reqwest::Client::builder()
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .read_timeout(DEFAULT_READ_TIMEOUT);
            if let Some(t) = self.request_timeout {
                b = b.timeout(t);
            }
            b.build()?
        };
        let auth_client = match self.auth_client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .build()?,
        };
        Ok(Keeper {
            shared: Arc::new(Shared::new(Parts {
                session,
                clock: self.clock,
                base,
                auth_client,
                listeners: self.listeners,
                provider: self.provider,
                fast_path: self.fast_path,
                store: self
                    .store
                    .map(|s| Arc::new(StoreHandle::new(s, self.store_lock_wait))),
            })),
        })
    }
}

/// A random seed without a dependency: the standard library's per-process random hash keys.
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// How long a login or refresh waits for a token store's lock by default.
const DEFAULT_STORE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The connect timeout of the clients the keeper builds.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The read timeout of the API client the keeper builds: an attempt that receives nothing for
/// this long fails (as "may have reached the server": an idempotent request is resent).
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
