//! Every bound the engine puts on what servers send it, in one place, each with the reason for
//! its value. `core/README.md` lists them in one table (with the `Config` fields that bound
//! resends and retries), saying what happens at each limit and who enforces it: the engine's
//! parsers, or every driver.
//!
//! The servers are untrusted: an authorization server or a resource server (or whatever
//! answers in their place: a proxy, a captive portal, an attacker on a plain-http loopback)
//! may send bodies, headers and numbers chosen to exhaust memory or stack, to fill logs, or to
//! park the client. Each limit is far above what an honest server sends.

use core::time::Duration;

/// The largest login or refresh response body that is parsed: 64 KiB. Real token responses
/// are a few KiB at most (two JWTs and a few fields); an error body is smaller still.
///
/// At the limit: a 2xx body of more bytes is refused with
/// [`InvalidAuthResponse::TooLarge`](crate::parse::InvalidAuthResponse::TooLarge) (the auth
/// operation fails, the tokens held are kept); an error body of more bytes gives no reason
/// ([`AuthErrorBody::Unrecognized`](crate::parse::AuthErrorBody::Unrecognized)). Drivers read
/// the auth response as a stream and stop after `MAX_AUTH_BODY + 1` bytes, so the engine sees
/// that it is too large without anyone buffering the rest.
pub const MAX_AUTH_BODY: usize = 64 * 1024;

/// The deepest nesting of JSON arrays and objects read (in auth responses and JWT claims): 127,
/// `serde_json`'s default. A token response is 1 level deep, a FastAPI error 3. Deeper input is
/// not JSON to the engine (the reader recurses, so this bounds its stack).
pub const MAX_JSON_DEPTH: usize = 127;

/// The most characters kept of a server string shown in errors and logs: an auth error's
/// `error`, `error_description` or `detail`, and a `WWW-Authenticate` challenge's parameters
/// (200). Enough for any real error code or sentence; a longer one is cut (after control and
/// bidirectional-override characters are removed), so a server cannot fill logs or forge
/// lines in them.
pub const MAX_SERVER_TEXT: usize = 200;

/// The most characters kept of an unsupported `token_type` in
/// [`InvalidAuthResponse::BadTokenType`](crate::parse::InvalidAuthResponse::BadTokenType)
/// (40): real types (`bearer`, `mac`, `DPoP`, `N_A`) are a few characters.
pub const MAX_TOKEN_TYPE: usize = 40;

/// The longest header value the engine reads: 8 KiB, the common per-header limit of HTTP
/// servers and proxies (nginx, Apache). Applies to `WWW-Authenticate`, `Retry-After`, `Date`
/// and `Content-Type`; a longer value is ignored, as if the header were absent (a
/// `WWW-Authenticate` value longer than this holds no challenge the engine acts on).
pub const MAX_HEADER_VALUE: usize = 8 * 1024;

/// The longest token lifetime believed from a server: 10 years (of 365 days). An
/// `expires_in` above it is refused
/// ([`InvalidAuthResponse::BadExpiresIn`](crate::parse::InvalidAuthResponse::BadExpiresIn)
/// `"too large"`); a JWT `exp` further away is clamped to it. It keeps expiry arithmetic far
/// from overflow; a real token lives minutes to days.
pub const MAX_LIFETIME: Duration = Duration::from_hours(10 * 365 * 24);

/// The longest wait read from a `Retry-After` header: 1 day; longer ones are clamped. For a
/// request's resends, the resend backoff budget
/// ([`Config::resend_backoff`](crate::Config::resend_backoff), 60 s by default) ends the
/// resends first: a wait beyond it delivers the response at once.
pub const MAX_RETRY_AFTER: Duration = Duration::from_hours(24);

/// The longest pause the auth endpoint can impose with `Retry-After` after a failed login or
/// refresh: 1 hour, the most MSAL's throttling honours. Until it has passed, no login or
/// refresh is sent and a request that needs one fails at once with
/// [`Error::AuthUnavailable`](crate::Error::AuthUnavailable) `{ retry_at: Some(..) }`. A longer
/// `Retry-After` is cut to this: a misconfigured or hostile endpoint must not lock the client
/// out for the day the header parser allows.
pub const MAX_AUTH_RETRY_AFTER: Duration = Duration::from_hours(1);

/// [`Config::auth_timeout`](crate::Config::auth_timeout)'s default: 30 s for one login or
/// refresh, from the `Authenticate` action to its complete answer. A token endpoint answers in
/// well under a second; one that trickles its answer, or never answers, must not hold every
/// waiting request. At the deadline the engine emits
/// [`Action::AbortAuth`](crate::Action::AbortAuth) (every driver aborts the request) and
/// counts a transient failure (backoff and retry).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(30);
