//! tokenkeeper-core: a deterministic state machine that keeps a bearer token valid. It does no
//! networking, reads no clock, spawns nothing and draws no random numbers of its own.
//!
//! A [`Session`] owns one identity: its tokens, the one login or refresh in flight, and every
//! request ("exchange") in flight. It refreshes before expiry, refreshes and resends once after
//! a 401, logs in again when the refresh token is gone or rejected, backs off on 429/5xx, and
//! does all of it with exactly one auth operation at a time however many exchanges wait. The
//! decisions follow the decision table in `core/README.md`; [`session`] states the rules it keeps.
//!
//! # Driving contract
//!
//! 1. Give every input `now` (wall-clock milliseconds since the Unix epoch): [`Session::start`],
//!    [`Session::handle_response`], [`Session::handle_send_error`], [`Session::handle_auth_response`],
//!    [`Session::handle_auth_error`], [`Session::handle_auth_abandoned`], [`Session::cancel`],
//!    [`Session::handle_timeout`], [`Session::set_tokens`], [`Session::offer_tokens`],
//!    [`Session::login`], [`Session::provide_credentials`].
//!    Drivers that share tokens with other tabs or processes also ask [`Session::auth_gate`]
//!    before performing an auth request (see [`session::offer`]'s lock protocol).
//! 2. After every input, drain [`Session::poll_action`] until it returns `None`, and do what each
//!    [`Action`] says: `Send` the exchange's request with that `Authorization` value,
//!    `Authenticate` by performing the given HTTP request (exactly one is ever outstanding),
//!    `AbortAuth` by aborting it (its deadline passed),
//!    `Deliver` the last response to the caller, `Fail` the caller with the error, pass on
//!    each `Event`, and (only with [`Config::ask_for_credentials`]) answer `NeedCredentials`
//!    with [`Session::provide_credentials`].
//! 3. Then sleep until [`Session::poll_timeout`] (if any) or the next input, whichever comes
//!    first, and call [`Session::handle_timeout`] when the time comes.
//!
//! Multi-task drivers keep the session behind one short lock per input, hold no lock across an
//! await, and route `Send`/`Deliver`/`Fail` to the task that owns the exchange. They may also
//! publish the session's [`Lease`] after every input and send requests with it without the lock
//! while it is valid, adopting a request into the engine ([`Session::adopt`]) only when its
//! response needs a decision (see [`Lease`]).
//!
//! ```no_run
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use http::{HeaderMap, Method, StatusCode};
//! use tokenkeeper_core::dialect::{Credentials, Dialect};
//! use tokenkeeper_core::{Action, Config, RequestMeta, Session, Timestamp};
//!
//! fn now() -> Timestamp {
//!     Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64)
//! }
//! # fn perform(_: &tokenkeeper_core::dialect::AuthHttpRequest) -> (StatusCode, HeaderMap, Vec<u8>) { (StatusCode::OK, HeaderMap::new(), Vec::new()) }
//! # fn send_api_request(_: &http::HeaderValue) -> (StatusCode, HeaderMap) { (StatusCode::OK, HeaderMap::new()) }
//! # fn sleep_until(_: Timestamp) {}
//!
//! let dialect = Dialect::vitalgraph("https://vitalgraph.example.com")?;
//! let mut session = Session::new(Config::default(), dialect, Credentials::password("me", "pw"), 42)?;
//! let id = session.start(now(), RequestMeta::new(&Method::GET, true));
//! loop {
//!     match session.poll_action() {
//!         Some(Action::Send { id, authorization }) => {
//!             let (status, headers) = send_api_request(&authorization);
//!             session.handle_response(now(), id, status, &headers);
//!         }
//!         Some(Action::Authenticate(auth)) => {
//!             let (status, headers, body) = perform(&auth.request);
//!             session.handle_auth_response(now(), auth.id, status, &headers, &body);
//!         }
//!         Some(Action::Deliver { .. }) => break,            // hand the response over
//!         Some(Action::Fail { error, .. }) => return Err(error.into()),
//!         Some(_) => {}                                     // events: persist, broadcast, count
//!         None => match session.poll_timeout() {
//!             Some((at, _why)) => { sleep_until(at); session.handle_timeout(now()); }
//!             None => break,
//!         },
//!     }
//! }
//! # let _ = id;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
mod backoff;
pub mod config;
pub mod dialect;
pub mod driver;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzz_api;
pub mod headers;
pub mod limits;
pub mod metrics;
mod origin;
pub mod parse;
mod quote;
pub mod secret;
pub mod session;
mod slab;
mod status_set;
pub mod time;
mod token_json;
pub mod tokens;

pub use action::{
    Action, AuthId, AuthKind, AuthReason, AuthRequest, Event, ExchangeId, RequestMeta,
    ResendReason, TimerKind,
};
pub use config::{Backoff, CircuitBreaker, Config, Margin, SecondRejection};
pub use error::{ConfigError, Error, TransportStop};
pub use headers::{HeaderValues, ReadHeader, ResponseHeaders};
pub use metrics::Metrics;
pub use secret::Secret;
pub use session::{AuthGate, Lease, LeaseTerms, ResponseRules, SendFailure, Session};
pub use time::Timestamp;
pub use tokens::TokenSet;
