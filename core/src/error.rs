//! Errors: what failed an exchange, and what is wrong with a configuration.
//!
//! Every variant says whose fault it is and what the caller can do about it. No variant ever
//! carries a token, a password or a response body that could hold one.

use core::fmt;

use crate::parse::InvalidAuthResponse;
use crate::time::Timestamp;

/// Why the engine failed an exchange (`Action::Fail`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No usable access token, and no refresh token or credentials to get one. Log in again
    /// (supply credentials or tokens) to continue.
    SessionExpired,
    /// The server refused the credentials at login (400/401). Never retried automatically, to
    /// avoid locking the account; supply new credentials.
    InvalidCredentials {
        /// HTTP status of the login response.
        status: u16,
        /// The server's error code (`error` or `detail`), if it sent one.
        reason: Option<String>,
    },
    /// The auth endpoint refused the request for another reason (e.g. `invalid_client`,
    /// `unsupported_grant_type`, 404): a configuration problem on one side or the other.
    AuthRejected {
        /// HTTP status of the auth response.
        status: u16,
        /// The server's error code (`error` or `detail`), if it sent one.
        reason: Option<String>,
    },
    /// The auth endpoint answered something that is not a usable token response. The tokens
    /// that worked are kept.
    InvalidAuthResponse(InvalidAuthResponse),
    /// The auth endpoint is unavailable (429/5xx or transport errors) after the configured
    /// attempts, or the circuit breaker is open. Try again later.
    AuthUnavailable {
        /// Last HTTP status seen, if any (none for transport errors or an open circuit).
        status: Option<u16>,
        /// Auth attempts made for this operation (0 when the circuit was open).
        attempts: u32,
        /// Whether the circuit breaker refused the attempt without contacting the server.
        circuit_open: bool,
        /// When the engine will try the auth endpoint again, if known.
        retry_at: Option<Timestamp>,
    },
    /// The request could not be completed over the network, and resending it was not allowed
    /// or the resend limits were reached.
    Transport {
        /// Whether the request may have reached the server (so a non-idempotent one may have
        /// run there).
        may_have_reached_server: bool,
        /// Attempts made for this exchange.
        attempts: u32,
    },
    /// The server rejected a freshly issued token too (second 401 for the same exchange) and the
    /// policy is to fail rather than deliver the response.
    Unauthorized {
        /// The rejecting status (401 unless configured otherwise).
        status: u16,
    },
    /// The exchange id is unknown to the session (already ended, or from another session):
    /// a driver bug.
    UnknownExchange,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SessionExpired => f.write_str(
                "session expired: no usable token, refresh token or credentials; log in again",
            ),
            Error::InvalidCredentials { status, reason } => {
                write!(f, "login refused with status {status}")?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                f.write_str(": check the username and password; not retried")
            }
            Error::AuthRejected { status, reason } => {
                write!(f, "auth endpoint refused the request with status {status}")?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            Error::InvalidAuthResponse(e) => write!(f, "invalid auth response: {e}"),
            Error::AuthUnavailable {
                status,
                attempts,
                circuit_open,
                ..
            } => {
                if *circuit_open {
                    f.write_str(
                        "auth endpoint unavailable: circuit breaker open after repeated failures",
                    )
                } else {
                    write!(f, "auth endpoint unavailable after {attempts} attempt(s)")?;
                    if let Some(s) = status {
                        write!(f, ", last status {s}")?;
                    }
                    Ok(())
                }
            }
            Error::Transport {
                may_have_reached_server,
                attempts,
            } => {
                if *may_have_reached_server {
                    write!(
                        f,
                        "request failed after {attempts} attempt(s); it may have reached the server, so it was not resent"
                    )
                } else {
                    write!(
                        f,
                        "request failed after {attempts} attempt(s): the server could not be reached"
                    )
                }
            }
            Error::Unauthorized { status } => {
                write!(
                    f,
                    "server rejected a freshly issued token with status {status}"
                )
            }
            Error::UnknownExchange => f.write_str("unknown exchange id (driver bug)"),
        }
    }
}

impl core::error::Error for Error {}

/// A configuration the engine refuses (returned by constructors, before anything is sent).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A URL could not be parsed or has no scheme/host.
    InvalidUrl {
        /// The offending URL (URLs never hold secrets here).
        url: String,
    },
    /// A token endpoint uses plain `http` on a non-loopback host; allow it explicitly if you
    /// really mean it.
    InsecureUrl {
        /// The offending URL.
        url: String,
    },
    /// VitalGraph `token_expiry_seconds` outside `1..=1800`.
    TokenExpiryOutOfRange {
        /// The refused value.
        seconds: u64,
    },
    /// A setting is out of its allowed range.
    Invalid {
        /// Which setting.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A value cannot be sent in an HTTP header (control characters, for instance).
    InvalidHeaderValue {
        /// Which value.
        field: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidUrl { url } => write!(f, "invalid url {url:?}"),
            ConfigError::InsecureUrl { url } => write!(
                f,
                "refusing plain-http token endpoint {url:?} on a non-loopback host (allow_insecure_http to override)"
            ),
            ConfigError::TokenExpiryOutOfRange { seconds } => {
                write!(
                    f,
                    "token_expiry_seconds must be within 1..=1800, got {seconds}"
                )
            }
            ConfigError::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            ConfigError::InvalidHeaderValue { field } => {
                write!(
                    f,
                    "{field} contains characters not allowed in an HTTP header"
                )
            }
        }
    }
}

impl core::error::Error for ConfigError {}
