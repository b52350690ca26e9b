//! Reference authorization server for tokenkeeper's tests: the VitalGraph auth routes, an
//! RFC 6749 token endpoint, a protected API, and fault injection, over real HTTP on
//! loopback.
//!
//! Start one per test with [`TestServer::start`]; steer it with [`Control`]; read what it
//! saw with [`Counters`]. The binary `tokenkeeper-testserver` runs the same server for the
//! CLI demo and JS/browser tests, which steer it over HTTP under `/_control/`.
//!
//! Routes:
//!
//! | route | what |
//! |---|---|
//! | `POST /api/login` | VitalGraph login (form `username`, `password`, `token_expiry_seconds`) |
//! | `POST /api/refresh` | VitalGraph refresh (JSON `refresh_token` + `Authorization: Bearer`) |
//! | `POST /oauth/token` | RFC 6749 token endpoint: password, client_credentials, refresh_token |
//! | `GET/DELETE /api/echo` | protected: `{"subject","method","query","raw_query"}` |
//! | `POST/PUT /api/echo` | protected: the request body and `Content-Type` echoed back |
//! | `GET /api/slow?ms=N` | protected: answers after `N` ms |
//! | `GET /api/spaces` | protected: a small VitalGraph-like list |
//! | `GET /health` | `{"status":"ok"}` |
//! | any other path, any method on `/_record/*` | the recorder: `200 {"recorded":true}` |
//! | `GET /_control/counters` | [`Counters`] as JSON |
//! | `GET /_control/recorded` | what the recorder saw: a JSON array of [`Recorded`] |
//! | `POST /_control/reset` | counters, faults, settings and the recorder back to start |
//! | `POST /_control/revoke-all` | revoke every token issued so far |
//! | `POST /_control/faults` | inject faults, change settings (below) |
//!
//! `POST /_control/faults` takes a JSON object whose fields are all optional; only those
//! present change anything, and a request with an unknown field or a bad value is refused
//! (400) without changing anything:
//!
//! ```json
//! {
//!   "fail_next_refreshes": {"count": 2, "status": 503, "retry_after": 1},
//!   "fail_next_logins": {"count": 1, "status": 429,
//!                        "retry_after": "Sun, 06 Nov 1994 08:49:37 GMT"},
//!   "latency_ms": 200,
//!   "drop_next_connections": {"count": 1, "route": "refresh"},
//!   "random_401_rate": 0.1, "random_401_seed": 7,
//!   "rotation": true, "reuse_detection": true, "revoke_access_on_rotation": true,
//!   "access_ttl_secs": 2, "access_ttl_ms": 1500, "refresh_ttl_secs": 60,
//!   "advance_clock_ms": 5000
//! }
//! ```
//!
//! `status` defaults to 503; `retry_after` is seconds, an HTTP date, or
//! `{"http_date_in_secs": N}` (a date `N` s from now). `latency_ms` is a number (every
//! route kind) or `{"login": ms, "refresh": ms, "protected": ms}`. `drop_next_connections`
//! is a number (any route) or `{"count", "route"}` with `route` one of `any`, `login`,
//! `refresh`, `protected` (see [`RouteKind`]).
//!
//! The recorder answers every request no route matches (and any method on `/_record` and
//! `/_record/*`) with `200 {"recorded":true}` and keeps, for each, `{"method", "path"
//! (with the query), "authorization" (bool), "scheme" ("Bearer", or null), "origin"}`:
//! never the credential. With CORS on (the default) every `OPTIONS` request is answered as
//! a preflight allowing any origin, the methods GET, POST, PUT, PATCH, DELETE, HEAD, and
//! whatever request headers are asked for (`Authorization` included), so a page on one
//! loopback origin can send credentials to a server on another (`--host 127.0.0.2`);
//! preflights are not recorded.
//!
//! Tokens are HS256 JWTs with claims `sub`, `typ` (`access`/`refresh`), `fam`, `jti`,
//! `iat`, `exp` and `exp_ms`; expiry is checked to the millisecond against the server's
//! clock, which [`Control::advance_clock`] can move forward so tests never sleep.

#![forbid(unsafe_code)]

mod config;
mod control;
mod counters;
mod faults;
mod jwt;
mod recorder;
mod routes;
mod server;
mod state;
mod tokens;

pub use config::{RetryAfter, RouteKind, ServerConfig};
pub use control::Control;
pub use counters::Counters;
pub use recorder::{MAX_RECORDED, Recorded};
pub use server::TestServer;
