//! Keeps a reqwest client's bearer token valid: logs in on first use, refreshes before expiry,
//! refreshes and resends once after a 401, logs in again when the refresh token is dead, backs
//! off on 429/5xx, and does exactly one login or refresh at a time however many requests run.
//!
//! Every decision is taken by the sans-IO engine [`tokenkeeper_core`]; this crate only does the
//! I/O, the clocks, the sleeps and the wakeups. It offers:
//!
//! - [`Keeper`]: one identity's session, shared by everything below (cheap `Clone`);
//! - [`Client`]: reqwest's familiar surface (`client.get(url).json(&x).send().await`);
//! - [`Middleware`]: one layer for `reqwest-middleware` users;
//! - [`blocking::Client`]: for synchronous programs (threads share one session);
//! - [`store`]: token stores, so that processes sharing an identity share one login and one
//!   refresh per expiry ([`store::FileStore`] on one machine, `store::RedisStore` with the
//!   `redis` feature for a fleet), set with [`KeeperBuilder::store`].
//!
//! ```no_run
//! use tokenkeeper_reqwest::Keeper;
//! use tokenkeeper_reqwest::core::dialect::{Credentials, Dialect};
//!
//! # async fn demo() -> Result<(), tokenkeeper_reqwest::Error> {
//! let keeper = Keeper::builder(Dialect::vitalgraph("https://vitalgraph.example.com")?)
//!     .credentials(Credentials::password("me", "secret"))
//!     .build()?;
//! let client = keeper.client();
//! // Logs in first, then sends with `Authorization: Bearer ...`; later calls refresh as needed.
//! let spaces = client.get("https://vitalgraph.example.com/api/spaces").send().await?;
//! println!("{} ({} refreshes so far)", spaces.status(), keeper.metrics().refresh_count);
//! # Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//!
//! - The token is attached only to the dialect's origin and those added with
//!   [`KeeperBuilder::allow_origin`]; a request elsewhere goes out untouched. reqwest drops
//!   `Authorization` on a redirect to another origin, and such an answer is handed over as is.
//! - Buffered bodies are replayed on resend. A streaming body (`reqwest::Body::wrap_stream`,
//!   reqwest feature `stream`) is sent once: a 401 for it is delivered, not resent.
//! - A request that may have reached the server (timeout, reset) is resent only if its method
//!   is idempotent; a POST fails with [`Error::Transport`] instead.
//! - Logins and refreshes run on a tokio task of their own: a caller that drops its request
//!   never aborts a refresh half-way, and no caller waits for a proactive refresh. A tokio
//!   runtime is required (as for reqwest itself); any flavour works.
//! - With `Config::refresh_ahead`, a background task renews an idle session's token before the
//!   next request needs it; otherwise renewal happens as requests arrive (proactively, inside
//!   the refresh margin, while the old token still works).
//! - Nothing here logs or formats a token or password. Every decision of the engine is a
//!   `tracing` event with its reason and token generation: `info` for logins, refreshes,
//!   session expiry and the circuit breaker (one line per refresh in steady state), `warn`
//!   for a login or refresh that failed for good, `debug` for resends, backoffs and aborts;
//!   each login or refresh runs in a `tokenkeeper_auth` span (see the README).
//! - While the token is fresh a request takes no lock shared with other threads: it sends with
//!   the engine's published lease, and only an answer that needs a decision (a 401, 429/5xx, a
//!   redirect elsewhere) reaches the session. A [`RequestBuilder`] and its `send()` future borrow
//!   the [`Client`] (a clone per request would cost a shared reference count update); to hand
//!   a request to `tokio::spawn`, move a client clone into the task or call
//!   [`RequestBuilder::into_owned`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blocking;
mod builder_macros;
mod client;
pub mod clock;
mod direct;
mod error;
mod exchange;
mod fast;
mod io;
mod keeper;
mod middleware;
pub mod prometheus;
pub mod settings;
mod state;
pub mod store;
mod stripes;
mod tasks;
mod trace;

pub use client::{Client, RequestBuilder};
pub use error::Error;
pub use io::{read_endpoint_urls, reqwest_request};
pub use keeper::{Keeper, KeeperBuilder};
pub use middleware::Middleware;
/// `reqwest-middleware`, re-exported so the versions match.
pub use reqwest_middleware;
/// The engine, re-exported for its configuration, dialects, tokens and events.
pub use tokenkeeper_core as core;
pub use tokenkeeper_core::dialect::{Credentials, Dialect};
pub use tokenkeeper_core::{Config, Event, Metrics, TokenSet};
