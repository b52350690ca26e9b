//! Startup settings of the server and the small value types the control surface takes.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Settings a [`TestServer`](crate::TestServer) starts with.
///
/// Fields are public so a test can set exactly what it needs on top of
/// [`ServerConfig::default`]; the `with_*` methods do the same in a chain. Lifetimes,
/// rotation and the revocation policy can be changed later through
/// [`Control`](crate::Control); users, clients, the secret and CORS are fixed at start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Resource owners `(username, password)` accepted by `/api/login` and the password
    /// grant. Default: `admin` / `admin`.
    pub users: Vec<(String, String)>,
    /// OAuth clients `(client_id, client_secret)` accepted by `/oauth/token`. A client with
    /// an empty secret is public: it identifies itself with `client_id` alone.
    /// Default: `cli` / `cli-secret`.
    pub clients: Vec<(String, String)>,
    /// Lifetime of access tokens when the login does not ask for one. Default: 30 minutes.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens. Default: 7 days.
    pub refresh_ttl: Duration,
    /// Issue a new refresh token on every refresh and retire the old one. Default: `false`
    /// (VitalGraph today).
    pub rotation: bool,
    /// With rotation, presenting a retired refresh token revokes its whole family (every
    /// access and refresh token descended from the same login). Default: `true`.
    pub reuse_detection: bool,
    /// Revoke the family's previous access token on each refresh. Default: `false`.
    pub revoke_access_on_rotation: bool,
    /// Refuse a protected request whose token is missing, invalid, expired or revoked with
    /// a bare `403` (empty body, no `WWW-Authenticate`), as django-oauth-toolkit's
    /// `protected_resource` does, instead of `401` with a Bearer challenge.
    /// Default: `false`.
    pub bare_403_refusals: bool,
    /// HS256 signing key. Default: a fixed, public test key (this server guards nothing).
    pub secret: Vec<u8>,
    /// Answer CORS preflights and add `Access-Control-*` headers (browser tests).
    /// Default: `true`.
    pub cors: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            users: vec![("admin".to_owned(), "admin".to_owned())],
            clients: vec![("cli".to_owned(), "cli-secret".to_owned())],
            access_ttl: Duration::from_mins(30),
            refresh_ttl: Duration::from_hours(7 * 24),
            rotation: false,
            reuse_detection: true,
            revoke_access_on_rotation: false,
            bare_403_refusals: false,
            secret: b"tokenkeeper-testserver: not a secret".to_vec(),
            cors: true,
        }
    }
}

impl ServerConfig {
    /// Adds a resource owner (the default `admin` stays unless `users` is cleared).
    #[must_use]
    pub fn with_user(mut self, username: &str, password: &str) -> Self {
        self.users.push((username.to_owned(), password.to_owned()));
        self
    }

    /// Adds an OAuth client; an empty secret makes it a public client.
    #[must_use]
    pub fn with_client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.clients
            .push((client_id.to_owned(), client_secret.to_owned()));
        self
    }

    /// Sets the default access-token lifetime.
    #[must_use]
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Sets the refresh-token lifetime.
    #[must_use]
    pub fn with_refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Turns refresh-token rotation on or off.
    #[must_use]
    pub fn with_rotation(mut self, on: bool) -> Self {
        self.rotation = on;
        self
    }

    /// Turns reuse detection (family revocation on a retired refresh token) on or off.
    #[must_use]
    pub fn with_reuse_detection(mut self, on: bool) -> Self {
        self.reuse_detection = on;
        self
    }

    /// Revokes the previous access token of a family on each refresh.
    #[must_use]
    pub fn with_revoke_access_on_rotation(mut self, on: bool) -> Self {
        self.revoke_access_on_rotation = on;
        self
    }

    /// Refuses bad tokens on protected routes with a bare 403 instead of a 401 challenge.
    #[must_use]
    pub fn with_bare_403_refusals(mut self, on: bool) -> Self {
        self.bare_403_refusals = on;
        self
    }

    /// django-oauth-toolkit's defaults on top of `self`: refresh tokens rotate, the
    /// previous access token is revoked on each refresh, a retired refresh token is refused
    /// without revoking its family (no reuse detection), and protected routes refuse with a
    /// bare 403.
    #[must_use]
    pub fn django_oauth_toolkit(self) -> Self {
        self.with_rotation(true)
            .with_reuse_detection(false)
            .with_revoke_access_on_rotation(true)
            .with_bare_403_refusals(true)
    }

    /// Turns CORS headers on or off.
    #[must_use]
    pub fn with_cors(mut self, on: bool) -> Self {
        self.cors = on;
        self
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        let clients: Vec<&str> = self.clients.iter().map(|(c, _)| c.as_str()).collect();
        f.debug_struct("ServerConfig")
            .field("users", &users)
            .field("clients", &clients)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("rotation", &self.rotation)
            .field("reuse_detection", &self.reuse_detection)
            .field("revoke_access_on_rotation", &self.revoke_access_on_rotation)
            .field("bare_403_refusals", &self.bare_403_refusals)
            .field("secret", &"<redacted>")
            .field("cors", &self.cors)
            .finish()
    }
}

/// Which routes a latency or dropped-connection fault applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Every kind below.
    #[default]
    Any,
    /// `POST /api/login`, and the token endpoint's `password` and `client_credentials` grants.
    Login,
    /// `POST /api/refresh`, and the token endpoint's `refresh_token` grant.
    Refresh,
    /// The protected API: `/api/echo`, `/api/slow`, `/api/spaces`.
    Protected,
}

impl RouteKind {
    /// Whether a fault set for `self` applies to a request of kind `actual`.
    pub(crate) fn covers(self, actual: RouteKind) -> bool {
        self == RouteKind::Any || self == actual
    }
}

/// The value of an injected `Retry-After` header (RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>`, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    HttpDate(SystemTime),
}

impl RetryAfter {
    /// The header value as sent on the wire.
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::HttpDate(t) => httpdate::fmt_http_date(*t),
        }
    }
}
