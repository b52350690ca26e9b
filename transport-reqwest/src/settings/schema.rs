//! The settings as they appear in a file: every key optional (absent keys take the engine's
//! defaults), numbers kept as written so that validation can name a refused value.
//!
//! `docs/CONFIG.md` lists every key with its environment variable, its JS option name, the Rust
//! field it sets and its default.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokenkeeper_core::Secret;

use super::secrets;
use super::store::StoreSettings;

/// tokenkeeper's settings: the `client:` section of a client configuration file (the seed's
/// `client: { timeout, max_retries, token_refresh: {...} }`, plus tokenkeeper's own keys).
///
/// Load it with [`Settings::from_yaml`], [`Settings::from_toml`], [`Settings::load`] (a file,
/// then `TOKENKEEPER_CLIENT__...` environment variables) or a [`Loader`](super::Loader). Other
/// top-level sections of the file are ignored; unknown keys inside `client:` are refused.
/// `Debug` and `Serialize` never show a secret.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Settings {
    /// The `client:` section.
    #[serde(default)]
    pub client: ClientSettings,
}

/// `client:`: the per-request settings, and the sections below.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientSettings {
    /// Seconds one attempt of an API request may take, from sending to the end of the body
    /// (`KeeperBuilder::request_timeout`). Absent: no overall limit (a 30 s read timeout).
    pub timeout: Option<f64>,
    /// Resends of a request after 429/503 (any method), 502/504 (idempotent) or a connect
    /// error (`Config::max_transient_resends`).
    pub max_retries: Option<i64>,
    /// Statuses resent for any method (`Config::transient_statuses`).
    pub transient_statuses: Option<Vec<i64>>,
    /// Statuses resent only for idempotent requests (`Config::gateway_statuses`).
    pub gateway_statuses: Option<Vec<i64>>,
    /// Resend non-idempotent requests after a gateway status too
    /// (`Config::retry_non_idempotent_gateway`).
    pub retry_non_idempotent_gateway: Option<bool>,
    /// Backoff between resends (`Config::resend_backoff`).
    pub resend_backoff: BackoffSettings,
    /// `token_refresh:`: when and how tokens are renewed.
    pub token_refresh: TokenRefreshSettings,
    /// `auth:`: the server's wire format and where tokens may go.
    pub auth: AuthSettings,
    /// `credentials:`: who logs in, and where the secrets come from.
    pub credentials: CredentialsSettings,
    /// `store:`: where tokens are kept between runs.
    pub store: StoreSettings,
}

/// `client.token_refresh:`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenRefreshSettings {
    /// Automatic refresh at all (`Config::enabled`).
    pub enabled: Option<bool>,
    /// A fixed refresh margin in minutes, never more than half the token's lifetime
    /// (`Config::margin = Margin::Fixed`).
    pub buffer_minutes: Option<f64>,
    /// Refresh and resend once after a 401 (`Config::retry_on_401`).
    pub retry_on_401: Option<bool>,
    /// Attempts for one login or refresh against 429/5xx/transport errors
    /// (`Config::max_refresh_attempts`).
    pub max_refresh_attempts: Option<i64>,
    /// Refresh inside the margin while the token still works (`Config::proactive`).
    pub proactive: Option<bool>,
    /// Renew an idle session's token in the background (`Config::refresh_ahead`).
    pub refresh_ahead: Option<bool>,
    /// A fixed refresh margin in milliseconds (the same as `buffer_minutes`; set one).
    pub refresh_margin_ms: Option<f64>,
    /// The proportional margin's fraction of the lifetime (`Margin::Proportional::fraction`).
    pub refresh_margin_fraction: Option<f64>,
    /// The proportional margin's lower clamp, in milliseconds.
    pub refresh_margin_min_ms: Option<f64>,
    /// The proportional margin's upper clamp, in milliseconds.
    pub refresh_margin_max_ms: Option<f64>,
    /// Random extra margin as a fraction of the margin (`Config::margin_jitter`).
    pub margin_jitter: Option<f64>,
    /// Within this many milliseconds of expiry a token counts as expired
    /// (`Config::expiry_floor`).
    pub expiry_floor_ms: Option<f64>,
    /// Lifetime assumed when the answer gives none (`Config::default_lifetime`).
    pub default_lifetime_seconds: Option<f64>,
    /// Milliseconds one login or refresh request may take (`Config::auth_timeout`).
    pub auth_timeout_ms: Option<f64>,
    /// Refresh-and-resend cycles one request may trigger (`Config::max_auth_retries_per_exchange`).
    pub max_auth_retries_per_exchange: Option<i64>,
    /// Resends of a request refused for a superseded token
    /// (`Config::max_stale_generation_resends`).
    pub max_stale_generation_resends: Option<i64>,
    /// Log in again when the refresh token is rejected (`Config::reauth_on_refresh_rejected`).
    pub reauth_on_refresh_rejected: Option<bool>,
    /// What to do when a fresh token is rejected too (`Config::second_rejection`).
    pub second_rejection: Option<SecondRejectionSetting>,
    /// Statuses that mean "this token was refused" (`Config::token_rejected_statuses`).
    pub token_rejected_statuses: Option<Vec<i64>>,
    /// Milliseconds to wait for a peer holding newer tokens (`Config::peer_wait`).
    pub peer_wait_ms: Option<f64>,
    /// Backoff between login or refresh attempts (`Config::auth_backoff`).
    pub auth_backoff: BackoffSettings,
    /// The circuit breaker on the auth endpoint (`Config::circuit_breaker`).
    pub circuit_breaker: CircuitBreakerSettings,
}

/// A backoff (`resend_backoff`, `token_refresh.auth_backoff`): `base_ms × factor^n`, capped,
/// within a budget.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BackoffSettings {
    /// First delay, in milliseconds (`Backoff::base`).
    pub base_ms: Option<f64>,
    /// Growth per attempt, at least 1 (`Backoff::factor`).
    pub factor: Option<f64>,
    /// Largest single delay, in milliseconds (`Backoff::cap`).
    pub cap_ms: Option<f64>,
    /// Total time spent waiting and retrying, in milliseconds (`Backoff::budget`).
    pub budget_ms: Option<f64>,
    /// Randomise each delay within `[delay/2, delay]` (`Backoff::jitter`).
    pub jitter: Option<bool>,
}

/// `client.token_refresh.circuit_breaker:`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitBreakerSettings {
    /// Consecutive failed auth attempts that open the circuit; 0 disables it.
    pub threshold: Option<i64>,
    /// Milliseconds the circuit stays open before one probe.
    pub cool_down_ms: Option<f64>,
}

/// `second_rejection`: `deliver` (hand the 401 over) or `fail` (`Error::Unauthorized`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecondRejectionSetting {
    /// Hand the response to the caller.
    Deliver,
    /// Fail the request.
    Fail,
}

/// `client.auth:`: which wire format, where, and which origins may receive the token.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSettings {
    /// `vitalgraph` (default), `oauth2-password` or `oauth2-client-credentials`.
    pub dialect: Option<DialectSetting>,
    /// VitalGraph: the server (`/api/login`, `/api/refresh` below it). OAuth 2.0: the API
    /// server, whose origin may receive the token.
    pub base_url: Option<String>,
    /// OAuth 2.0: the token endpoint.
    pub token_url: Option<String>,
    /// VitalGraph: the access-token lifetime asked for at login (1..=1800 seconds).
    pub token_expiry_seconds: Option<i64>,
    /// OAuth 2.0: the client id.
    pub client_id: Option<String>,
    /// OAuth 2.0: how the client authenticates: `basic` (default with a secret) or `body`.
    pub client_auth: Option<ClientAuthSetting>,
    /// OAuth 2.0: the scope to ask for (space-separated).
    pub scope: Option<String>,
    /// More origins that may receive the token (`KeeperBuilder::allow_origin`).
    pub allowed_origins: Option<Vec<String>>,
    /// Allow plain-http token endpoints off loopback (`Config::allow_insecure_http`).
    pub allow_insecure_http: Option<bool>,
}

/// The wire format (`client.auth.dialect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum DialectSetting {
    /// VitalGraph: `POST {base_url}/api/login`, `POST {base_url}/api/refresh`.
    #[serde(rename = "vitalgraph")]
    Vitalgraph,
    /// OAuth 2.0 resource owner password grant at `token_url`.
    #[serde(rename = "oauth2-password")]
    Oauth2Password,
    /// OAuth 2.0 client credentials grant at `token_url`.
    #[serde(rename = "oauth2-client-credentials")]
    Oauth2ClientCredentials,
}

/// How an OAuth 2.0 client authenticates (`client.auth.client_auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthSetting {
    /// HTTP Basic.
    Basic,
    /// `client_id` (and `client_secret`) in the body.
    Body,
}

/// `client.credentials:`: the username, and where the password and client secret come from.
///
/// Secrets come from an environment variable (`password_env`, default `TOKENKEEPER_PASSWORD`;
/// `client_secret_env`, default `TOKENKEEPER_CLIENT_SECRET`) or a file (`password_file`,
/// `client_secret_file`). A secret written in the file itself (`password`, `client_secret`) is
/// refused unless `allow_plaintext_secrets: true`, and then a warning is logged.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CredentialsSettings {
    /// The username to log in with.
    pub username: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A file holding the password (one trailing newline is removed).
    pub password_file: Option<PathBuf>,
    /// The password in plain text; only with `allow_plaintext_secrets`.
    #[serde(
        deserialize_with = "secrets::deserialize_plain",
        serialize_with = "secrets::serialize_redacted"
    )]
    pub password: Option<Secret>,
    /// The environment variable holding the OAuth 2.0 client secret.
    pub client_secret_env: Option<String>,
    /// A file holding the client secret (one trailing newline is removed).
    pub client_secret_file: Option<PathBuf>,
    /// The client secret in plain text; only with `allow_plaintext_secrets`.
    #[serde(
        deserialize_with = "secrets::deserialize_plain",
        serialize_with = "secrets::serialize_redacted"
    )]
    pub client_secret: Option<Secret>,
    /// Accept `password` / `client_secret` written in the configuration (a warning is logged).
    pub allow_plaintext_secrets: Option<bool>,
}
