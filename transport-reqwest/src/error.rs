//! The one error type of this crate.

use tokenkeeper_core::ConfigError;

/// Why a request (or `login`) through a [`Keeper`](crate::Keeper) failed.
///
/// Messages are lower-case and never hold a token or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed the request: the session expired, the credentials were refused, the
    /// auth endpoint is unavailable, a second 401... The variant says what the caller can do.
    #[error(transparent)]
    Engine(tokenkeeper_core::Error),
    /// The request failed on the network and the engine did not (or no longer could) resend
    /// it. `engine` says whether it may have reached the server (a POST that may have run is
    /// never resent); `source` is the last reqwest error.
    #[error("{engine}")]
    Transport {
        /// The engine's verdict ([`tokenkeeper_core::Error::Transport`]).
        engine: tokenkeeper_core::Error,
        /// The reqwest error of the last attempt.
        #[source]
        source: reqwest::Error,
    },
    /// reqwest failed outside the engine's care: building the request, a request to an origin
    /// the token is not sent to, or reading a body.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The configuration was refused before anything was sent (bad URL, plain-http token
    /// endpoint, `token_expiry_seconds` out of range, ...). Fix the setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A builder setting could not be used (e.g. the blocking client's runtime could not
    /// start).
    #[error("invalid builder setting: {0}")]
    Builder(String),
    /// The driver reached a state it should not (a bug in tokenkeeper); the request was not
    /// completed.
    #[error("internal error in tokenkeeper-reqwest: {0}")]
    Internal(&'static str),
}

impl Error {
    /// The engine's error, for [`Error::Engine`] and [`Error::Transport`].
    pub fn engine(&self) -> Option<&tokenkeeper_core::Error> {
        match self {
            Error::Engine(e) | Error::Transport { engine: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The underlying reqwest error, for [`Error::Transport`] and [`Error::Http`].
    pub fn reqwest(&self) -> Option<&reqwest::Error> {
        match self {
            Error::Transport { source, .. } | Error::Http(source) => Some(source),
            _ => None,
        }
    }

    /// Whether the session has nothing usable left (log in again or supply tokens).
    pub fn is_session_expired(&self) -> bool {
        matches!(self.engine(), Some(tokenkeeper_core::Error::SessionExpired))
    }

    /// Whether the server refused the credentials (never retried automatically).
    pub fn is_invalid_credentials(&self) -> bool {
        matches!(
            self.engine(),
            Some(tokenkeeper_core::Error::InvalidCredentials { .. })
        )
    }
}

impl From<tokenkeeper_core::Error> for Error {
    fn from(e: tokenkeeper_core::Error) -> Self {
        Error::Engine(e)
    }
}
