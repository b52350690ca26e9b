//! Errors: what failed an exchange, and what is wrong with a configuration.
//!
//! Every variant says whose fault it is and what the caller can do about it. No variant ever
//! carries a token, a password or a response body that could hold one.
//!
//! # Server text
//!
//! A few variants keep a short text from the auth endpoint, to say what it refused: the
//! `reason` of [`Error::InvalidCredentials`] and [`Error::AuthRejected`] (the body's `error` or
//! `detail`; `error_description` is not kept), and the `token_type` of
//! [`InvalidAuthResponse::BadTokenType`]. It is sanitized (no control or bidirectional
//! characters, trimmed, at most [`MAX_SERVER_TEXT`](crate::limits::MAX_SERVER_TEXT)
//! characters) and, because an endpoint may echo what it was sent, **redacted**: when it holds
//! a secret the session knows (the password, a client secret, a sensitive extra header of an
//! endpoint, the refresh token sent or held, the access token held, and for `token_type` also
//! the tokens of the same response), the whole text is replaced with `[redacted]`. The whole
//! text, not only the secret: where a short secret sat would tell what it is. "Holds" means the
//! text contains the secret's first 8 characters (all of a shorter one), so an echo cut at the
//! length limit or shortened by the server is caught too; an echo that leaves out the
//! secret's start, or encodes it, is not.

use core::fmt;

use crate::parse::InvalidAuthResponse;
use crate::quote::Quoted;
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
        /// The server's error code (`error` or `detail`), if it sent one; `[redacted]` when it
        /// holds a secret (see [Server text](self#server-text)).
        reason: Option<String>,
    },
    /// The auth endpoint refused the request for another reason (e.g. `invalid_client`,
    /// `unsupported_grant_type`, 404): a configuration problem on one side or the other.
    AuthRejected {
        /// HTTP status of the auth response.
        status: u16,
        /// The server's error code (`error` or `detail`), if it sent one; `[redacted]` when it
        /// holds a secret (see [Server text](self#server-text)).
        reason: Option<String>,
    },
    /// The auth endpoint answered something that is not a usable token response. The tokens
    /// that worked are kept.
    InvalidAuthResponse(InvalidAuthResponse),
    /// The auth endpoint is unavailable (429/5xx or transport errors) after the configured
    /// attempts, the circuit breaker is open, or the endpoint's `Retry-After` has not passed.
    /// Try again later (at `retry_at` when it is known).
    AuthUnavailable {
        /// Last HTTP status seen, if any (none for transport errors, or an open circuit with no
        /// `Retry-After` pending).
        status: Option<u16>,
        /// Auth attempts made for this operation (0 when it was refused without contacting the
        /// server: an open circuit or a pending `Retry-After`).
        attempts: u32,
        /// Whether the circuit breaker refused the attempt without contacting the server.
        circuit_open: bool,
        /// When the engine will try the auth endpoint again, if known: the end of the circuit's
        /// cool-down or of the endpoint's `Retry-After`, whichever is later.
        retry_at: Option<Timestamp>,
    },
    /// The request could not be completed over the network, and resending it was not allowed
    /// or the resend limits were reached.
    Transport {
        /// Whether the last attempt may have reached the server (so a non-idempotent request
        /// may have run there).
        may_have_reached_server: bool,
        /// Attempts made for this exchange (the first send and every resend).
        attempts: u32,
        /// Why the engine did not resend it (again).
        stopped: TransportStop,
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
                } else if *attempts == 0 {
                    f.write_str(
                        "auth endpoint unavailable: it asked for a pause (retry-after) that has not ended; not contacted, try again later",
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
                stopped,
            } => {
                match attempts {
                    0 | 1 => write!(f, "request failed after {attempts} attempt (no resend)")?,
                    2 => f.write_str("request failed after 2 attempts (1 resend)")?,
                    n => write!(f, "request failed after {n} attempts ({} resends)", n - 1)?,
                }
                f.write_str(if *may_have_reached_server {
                    ": the connection failed after the request may have reached the server; stopped: "
                } else {
                    ": the server could not be reached; stopped: "
                })?;
                f.write_str(stopped.as_str())
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

/// Why the engine stopped resending a request that failed without a response
/// ([`Error::Transport`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportStop {
    /// The request may have reached the server and its method is not idempotent: a resend
    /// could run it twice.
    NotIdempotent,
    /// Its body is a stream that cannot be sent again.
    NotReplayable,
    /// [`Config::max_transient_resends`](crate::Config::max_transient_resends) resends were
    /// made.
    ResendLimit,
    /// The next resend would come after the exchange's backoff budget
    /// ([`Backoff::budget`](crate::Backoff::budget) of `resend_backoff`).
    BackoffBudget,
}

impl TransportStop {
    /// Why the engine stopped and what the caller can do, as the end of [`Error::Transport`]'s
    /// message.
    fn as_str(self) -> &'static str {
        match self {
            TransportStop::NotIdempotent => {
                "the method is not idempotent and the request may have run; check whether it took effect before repeating it"
            }
            TransportStop::NotReplayable => {
                "the body cannot be replayed; send the request again with a new body"
            }
            TransportStop::ResendLimit => "resend limit reached; try again later",
            TransportStop::BackoffBudget => {
                "time allowed for resends (backoff budget) spent; try again later"
            }
        }
    }
}

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
            ConfigError::InvalidUrl { url } => write!(f, "invalid url {}", Quoted(url)),
            ConfigError::InsecureUrl { url } => write!(
                f,
                "refusing plain-http token endpoint {} on a non-loopback host (allow_insecure_http to override)",
                Quoted(url)
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

impl ConfigError {
    /// [`ConfigError::InvalidUrl`] for `url`, with any `user:password@` in it hidden.
    #[must_use]
    pub fn invalid_url(url: &str) -> ConfigError {
        ConfigError::InvalidUrl {
            url: redact_userinfo(url),
        }
    }
}

/// A URL with its userinfo (`user:password@`) replaced by `[redacted]@`.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::{Error, TransportStop};

    #[test]
    fn transport_messages_say_how_many_attempts_and_why_it_stopped() {
        use TransportStop::{BackoffBudget, NotIdempotent, NotReplayable, ResendLimit};
        let table = [
            (
                true,
                1,
                NotIdempotent,
                "request failed after 1 attempt (no resend): the connection failed after the request may have reached the server; stopped: the method is not idempotent and the request may have run; check whether it took effect before repeating it",
            ),
            (
                true,
                3,
                NotIdempotent,
                "request failed after 3 attempts (2 resends): the connection failed after the request may have reached the server; stopped: the method is not idempotent and the request may have run; check whether it took effect before repeating it",
            ),
            (
                false,
                1,
                NotReplayable,
                "request failed after 1 attempt (no resend): the server could not be reached; stopped: the body cannot be replayed; send the request again with a new body",
            ),
            (
                true,
                4,
                ResendLimit,
                "request failed after 4 attempts (3 resends): the connection failed after the request may have reached the server; stopped: resend limit reached; try again later",
            ),
            (
                false,
                4,
                ResendLimit,
                "request failed after 4 attempts (3 resends): the server could not be reached; stopped: resend limit reached; try again later",
            ),
            (
                false,
                2,
                BackoffBudget,
                "request failed after 2 attempts (1 resend): the server could not be reached; stopped: time allowed for resends (backoff budget) spent; try again later",
            ),
        ];
        for (may_have_reached_server, attempts, stopped, want) in table {
            let e = Error::Transport {
                may_have_reached_server,
                attempts,
                stopped,
            };
            assert_eq!(e.to_string(), want);
        }
    }
}
