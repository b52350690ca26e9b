//! Settings from YAML, TOML and environment variables: the seed configuration's `client:`
//! section, which loads unchanged and means what it says, and tokenkeeper's own keys for the
//! rest of the engine's [`Config`], the server, the credentials and the token store.
//!
//! ```yaml
//! client:
//!   timeout: 30                 # seconds per request attempt  -> KeeperBuilder::request_timeout
//!   max_retries: 3              # resends after 429/5xx         -> Config::max_transient_resends
//!   token_refresh:
//!     enabled: true             #                               -> Config::enabled
//!     buffer_minutes: 5         # fixed margin (<= half the lifetime) -> Margin::Fixed
//!     retry_on_401: true        #                               -> Config::retry_on_401
//!     max_refresh_attempts: 1   #                               -> Config::max_refresh_attempts
//!   auth:
//!     base_url: https://vitalgraph.example.com
//!   credentials:
//!     username: admin           # the password from $TOKENKEEPER_PASSWORD
//! ```
//!
//! ```no_run
//! use tokenkeeper_reqwest::Keeper;
//! use tokenkeeper_reqwest::settings::Settings;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::load("client.yaml")?; // then TOKENKEEPER_CLIENT__... variables
//! let keeper = Keeper::from_settings(&settings)?.build()?;
//! # Ok(()) }
//! ```
//!
//! Every key, its environment variable, its JS option and its default are in
//! `docs/CONFIG.md`. Rules:
//!
//! - Only the `client:` section is read; other sections of a larger configuration file are
//!   ignored. Unknown keys inside `client:` are refused (typos).
//! - Variables override files: `TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES=2` sets
//!   `client.token_refresh.buffer_minutes` (the path in capitals, `__` between its parts;
//!   lists comma-separated). A `TOKENKEEPER_CLIENT__` variable that names no key is refused.
//! - A refused value names its key, the variable it came from, and the value:
//!   `client.token_refresh.buffer_minutes (from TOKENKEEPER_CLIENT__...): -3 is not a number
//!   of minutes >= 0`. Secrets are never repeated.
//! - Secrets come from a variable (`password_env`, default `TOKENKEEPER_PASSWORD`;
//!   `client_secret_env`, default `TOKENKEEPER_CLIENT_SECRET`) or a file (`password_file`,
//!   `client_secret_file`). A `password:` or `client_secret:` written in the configuration is
//!   refused unless `allow_plaintext_secrets: true`, and then loading logs a warning.

mod convert;
mod dialect;
mod error;
mod keys;
mod load;
mod schema;
mod secrets;
mod store;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokenkeeper_core::Config;
use tokenkeeper_core::dialect::{Credentials, Dialect};

pub use error::SettingsError;
pub use load::Loader;
pub use schema::{
    AuthSettings, BackoffSettings, CircuitBreakerSettings, ClientAuthSetting, ClientSettings,
    CredentialsSettings, DialectSetting, SecondRejectionSetting, Settings, TokenRefreshSettings,
};
pub use store::StoreSettings;

use crate::keeper::{Keeper, KeeperBuilder};
use crate::store::TokenStore;
use secrets::{CLIENT_SECRET_ENV, PASSWORD_ENV, Source};

impl Settings {
    /// Settings from YAML text (its `client:` section), checked. No variables are read.
    pub fn from_yaml(text: &str) -> Result<Settings, SettingsError> {
        Loader::new().yaml(text)?.load()
    }

    /// Settings from TOML text (its `[client]` table), checked. No variables are read.
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        Loader::new().toml(text)?.load()
    }

    /// Settings from a file (`.yaml`, `.yml` or `.toml`), then the process's
    /// `TOKENKEEPER_CLIENT__...` variables over it, checked.
    pub fn load(path: impl AsRef<Path>) -> Result<Settings, SettingsError> {
        Loader::new().file(path)?.process_env()?.load()
    }

    /// Settings from the process's `TOKENKEEPER_CLIENT__...` variables alone, checked.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Loader::new().process_env()?.load()
    }

    /// Checks everything that can be checked without reading a secret: every value in range,
    /// the dialect's keys consistent, at most one source per secret and no plaintext secret
    /// without `allow_plaintext_secrets`. Loading calls it, and logs a warning (never the
    /// value) for each plaintext secret it accepts.
    pub fn check(&self) -> Result<(), SettingsError> {
        self.config()?;
        self.request_timeout()?;
        let secret = self
            .client_secret_source()
            .check()?
            .then(|| tokenkeeper_core::Secret::new("placeholder"));
        self.build_dialect(secret, true)?;
        self.origins()?;
        self.password_source().check()?;
        self.client.store.check()?;
        Ok(())
    }

    /// The keys of the secrets written in plain text (accepted with
    /// `allow_plaintext_secrets`).
    pub(crate) fn plaintext_secrets(&self) -> Vec<&'static str> {
        let c = &self.client.credentials;
        [
            (c.password.is_some(), "client.credentials.password"),
            (
                c.client_secret.is_some(),
                "client.credentials.client_secret",
            ),
        ]
        .into_iter()
        .filter_map(|(set, path)| set.then_some(path))
        .collect()
    }

    /// Everything a keeper is built from, with the secrets read from the process's
    /// environment and the files named.
    pub fn resolve(&self) -> Result<Resolved, SettingsError> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with `env` for the environment (tests, or secrets from
    /// somewhere else).
    pub fn resolve_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Resolved, SettingsError> {
        self.check()?;
        let client_secret = self.client_secret_source().read(env)?;
        let dialect = self.build_dialect(client_secret, false)?.ok_or_else(|| {
            SettingsError::invalid(
                "client.auth",
                None,
                "is missing: set client.auth.base_url (VitalGraph) or client.auth.dialect and \
                 token_url (OAuth 2.0)"
                    .to_owned(),
            )
        })?;
        let credentials = Credentials {
            username: self.client.credentials.username.clone(),
            password: self.password_source().read(env)?,
        };
        let (token_store, store_lock_wait) = match self.client.store.build(env)? {
            Some((store, wait)) => (Some(store), wait),
            None => (None, None),
        };
        Ok(Resolved {
            config: self.config()?,
            dialect,
            credentials,
            request_timeout: self.request_timeout()?,
            allowed_origins: self.origins()?,
            store: self.client.store.clone(),
            token_store,
            store_lock_wait,
        })
    }

    fn password_source(&self) -> Source<'_> {
        let c = &self.client.credentials;
        Source {
            plain_path: "client.credentials.password",
            plain: c.password.as_ref(),
            env_path: "client.credentials.password_env",
            env: c.password_env.as_deref(),
            default_env: PASSWORD_ENV,
            file_path: "client.credentials.password_file",
            file: c.password_file.as_deref(),
            allow_plain: c.allow_plaintext_secrets.unwrap_or(false),
        }
    }

    fn client_secret_source(&self) -> Source<'_> {
        let c = &self.client.credentials;
        Source {
            plain_path: "client.credentials.client_secret",
            plain: c.client_secret.as_ref(),
            env_path: "client.credentials.client_secret_env",
            env: c.client_secret_env.as_deref(),
            default_env: CLIENT_SECRET_ENV,
            file_path: "client.credentials.client_secret_file",
            file: c.client_secret_file.as_deref(),
            allow_plain: c.allow_plaintext_secrets.unwrap_or(false),
        }
    }
}

impl Keeper {
    /// Starts building a keeper from settings (a YAML or TOML file, environment variables):
    /// the dialect, the engine's configuration, the credentials (secrets read from the
    /// environment or files now), the request timeout and the allowed origins. Add hooks,
    /// clients or a credentials provider, then `build()`. See the [module docs](self) and
    /// `docs/CONFIG.md`.
    pub fn from_settings(settings: &Settings) -> Result<KeeperBuilder, SettingsError> {
        Ok(settings.resolve()?.builder())
    }
}

/// What a keeper is built from, as [`Settings::resolve`] reads it (secrets included: `Debug`
/// redacts them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// The engine's configuration.
    pub config: Config,
    /// The server's wire format.
    pub dialect: Dialect,
    /// The username and password (either may be absent).
    pub credentials: Credentials,
    /// The per-attempt request timeout (`client.timeout`).
    pub request_timeout: Option<Duration>,
    /// More origins that may receive the token.
    pub allowed_origins: Vec<String>,
    /// Where tokens are kept, as written.
    pub store: StoreSettings,
    /// The store built from it (`None` for `memory`), given to
    /// [`KeeperBuilder::store`].
    pub token_store: Option<Arc<dyn TokenStore>>,
    /// `client.store.lock_wait_ms` ([`KeeperBuilder::store_lock_wait`]).
    pub store_lock_wait: Option<Duration>,
}

impl Resolved {
    /// A builder with all of it set; add hooks, clients or a credentials provider, then
    /// `build()`.
    pub fn builder(self) -> KeeperBuilder {
        let mut b = Keeper::builder(self.dialect)
            .config(self.config)
            .credentials(self.credentials);
        if let Some(t) = self.request_timeout {
            b = b.request_timeout(t);
        }
        for o in self.allowed_origins {
            b = b.allow_origin(o);
        }
        if let Some(store) = self.token_store {
            b = b.store(store);
        }
        if let Some(wait) = self.store_lock_wait {
            b = b.store_lock_wait(wait);
        }
        b
    }
}
