//! `client.store:`: where a keeper keeps its tokens, so that processes sharing an identity
//! share one login and one refresh per expiry (see [`crate::store`]).
//!
//! ```yaml
//! client:
//!   store:
//!     kind: file                      # memory (default) | file | redis
//!     path: /var/lib/myapp/tokens.json
//! ```
//!
//! ```yaml
//! client:
//!   store:
//!     kind: redis
//!     url_env: MYAPP_REDIS_URL        # or url: redis://127.0.0.1:6379/ (no password in it)
//!     key: myapp:alice
//!     lock_ttl_ms: 5000
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::SettingsError;
use crate::store::{FileStore, TokenStore};

/// Where tokens are kept (`client.store.kind`), with the kind's own keys; keys a kind does
/// not take are refused.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum StoreSettings {
    /// In the keeper only (the default). A struct variant, so that stray keys beside
    /// `kind: memory` are refused like any unknown key.
    Memory {},
    /// A file shared by the processes of one machine ([`FileStore`]).
    File {
        /// The file holding the tokens; its directory must exist.
        path: Option<PathBuf>,
        /// How long a login or refresh waits for the lock, in milliseconds
        /// (`KeeperBuilder::store_lock_wait`, default 10,000).
        lock_wait_ms: Option<f64>,
    },
    /// Redis, shared by processes anywhere (`RedisStore`, cargo feature `redis`).
    Redis {
        /// `redis://host[:port][/db]` or `unix:///path`, without a password (use `url_env`
        /// for a URL that holds one).
        url: Option<String>,
        /// The variable holding the URL (which may hold a password).
        url_env: Option<String>,
        /// The key prefix, one per identity (default `tokenkeeper`).
        key: Option<String>,
        /// The lock's expiry in milliseconds (default 5,000).
        lock_ttl_ms: Option<f64>,
        /// The bound on connecting and on each command, in milliseconds (default 1,000).
        timeout_ms: Option<f64>,
        /// Accept a `redis://` URL to another machine (tokens in clear; default false).
        allow_insecure: Option<bool>,
        /// As for `file`.
        lock_wait_ms: Option<f64>,
    },
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings::Memory {}
    }
}

/// A store built from the settings, and the lock wait to use with it.
pub(crate) type BuiltStore = Option<(Arc<dyn TokenStore>, Option<Duration>)>;

fn ms(path: &str, v: Option<f64>) -> Result<Option<Duration>, SettingsError> {
    v.map(|v| {
        (v.is_finite() && v > 0.0)
            .then(|| Duration::try_from_secs_f64(v / 1000.0).ok())
            .flatten()
            .ok_or_else(|| {
                SettingsError::invalid(
                    path,
                    Some(v.to_string()),
                    "is not a number of milliseconds > 0".to_owned(),
                )
            })
    })
    .transpose()
}

impl StoreSettings {
    /// Checks the keys (without reading the variable `url_env` names, nor needing the
    /// `redis` feature).
    pub(crate) fn check(&self) -> Result<(), SettingsError> {
        self.make(&|_| Some("redis://127.0.0.1/".to_owned()), false)
            .map(drop)
    }

    /// The store these settings describe (`None` for `memory`), reading `url_env` with `env`.
    pub(crate) fn build(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BuiltStore, SettingsError> {
        self.make(env, true)
    }

    fn make(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        build: bool,
    ) -> Result<BuiltStore, SettingsError> {
        match self {
            StoreSettings::Memory {} => Ok(None),
            StoreSettings::File { path, lock_wait_ms } => {
                let wait = ms("client.store.lock_wait_ms", *lock_wait_ms)?;
                let path = path.as_ref().ok_or_else(|| {
                    SettingsError::invalid(
                        "client.store.path",
                        None,
                        "is missing: kind: file needs the path of the tokens file".to_owned(),
                    )
                })?;
                Ok(Some((Arc::new(FileStore::new(path)), wait)))
            }
            StoreSettings::Redis {
                url,
                url_env,
                key,
                lock_ttl_ms,
                timeout_ms,
                allow_insecure,
                lock_wait_ms,
            } => {
                let wait = ms("client.store.lock_wait_ms", *lock_wait_ms)?;
                let ttl = ms("client.store.lock_ttl_ms", *lock_ttl_ms)?;
                let timeout = ms("client.store.timeout_ms", *timeout_ms)?;
                let url = redis_url(url.as_deref(), url_env.as_deref(), env)?;
                if !build && cfg!(not(feature = "redis")) {
                    return Ok(None);
                }
                redis(url, key.as_deref(), ttl, timeout, *allow_insecure, wait)
            }
        }
    }
}

/// The URL from `url` (refused if it holds a password) or the variable `url_env` names.
fn redis_url(
    url: Option<&str>,
    url_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SettingsError> {
    match (url, url_env) {
        (Some(_), Some(_)) => Err(SettingsError::invalid(
            "client.store.url",
            None,
            "set only one of client.store.url, client.store.url_env".to_owned(),
        )),
        (Some(u), None) => {
            // `scheme://[user][:password]@host`: anything before an `@` in the authority.
            let authority = u.split_once("://").map_or(u, |(_, rest)| rest);
            let authority = authority.split('/').next().unwrap_or("");
            if authority.contains('@') {
                return Err(SettingsError::invalid(
                    "client.store.url",
                    None,
                    "holds credentials: put the URL in a variable and name it with client.store.url_env"
                        .to_owned(),
                ));
            }
            Ok(u.to_owned())
        }
        (None, Some(var)) => env(var).ok_or_else(|| {
            SettingsError::invalid(
                "client.store.url_env",
                Some(var.to_owned()),
                "names a variable that is not set".to_owned(),
            )
        }),
        (None, None) => Err(SettingsError::invalid(
            "client.store.url",
            None,
            "is missing: kind: redis needs client.store.url or client.store.url_env".to_owned(),
        )),
    }
}

#[cfg(feature = "redis")]
fn redis(
    url: String,
    key: Option<&str>,
    ttl: Option<Duration>,
    timeout: Option<Duration>,
    allow_insecure: Option<bool>,
    wait: Option<Duration>,
) -> Result<BuiltStore, SettingsError> {
    use crate::store::{RedisOptions, RedisStore, StoreError};
    let mut o = RedisOptions::new(url);
    if let Some(k) = key {
        k.clone_into(&mut o.key);
    }
    if let Some(t) = ttl {
        o.lock_ttl = t;
    }
    if let Some(t) = timeout {
        o.timeout = t;
    }
    o.allow_insecure = allow_insecure.unwrap_or(false);
    let store = RedisStore::new(o).map_err(|e| match e {
        StoreError::Config { field, reason } => {
            let path = match field {
                "lock_ttl" => "client.store.lock_ttl_ms",
                _ => "client.store.url",
            };
            SettingsError::invalid(path, None, reason)
        }
        other => SettingsError::invalid("client.store", None, other.to_string()),
    })?;
    Ok(Some((Arc::new(store), wait)))
}

#[cfg(not(feature = "redis"))]
fn redis(
    _url: String,
    _key: Option<&str>,
    _ttl: Option<Duration>,
    _timeout: Option<Duration>,
    _allow_insecure: Option<bool>,
    _wait: Option<Duration>,
) -> Result<BuiltStore, SettingsError> {
    Err(SettingsError::invalid(
        "client.store.kind",
        Some("redis".to_owned()),
        "needs tokenkeeper-reqwest built with the `redis` feature".to_owned(),
    ))
}
