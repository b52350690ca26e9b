//! tokenkeeper-wasm: drives the [`tokenkeeper_core`] engine in browsers, workers and Node ≥ 20.
//!
//! Two layers (see `docs/ARCHITECTURE.md`):
//!
//! - [`machine`]: the browser driver as a synchronous state machine over the core's driver kit:
//!   inputs with `now` in, [`Intent`](machine::Intent)s out ("send this exchange with this
//!   header", "take the cross-tab lock", "perform this auth request", "store this set",
//!   "post this message", "arm the timer at T"...). No I/O, no clock, no runtime; always built.
//! - [`Keeper`] (feature `async`, on by default): the async Rust API over the machine, doing its
//!   intents with `fetch`, `setTimeout` (through a [`Clock`]), Web Locks, `BroadcastChannel` and
//!   Web Storage via web-sys. The npm package `tokenkeeper` is the other skin over the same
//!   machine, in JavaScript (`bindings-js/`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "async")]
mod auth;
#[cfg(feature = "async")]
mod clock;
pub mod crosstab;
#[cfg(feature = "async")]
mod error;
#[cfg(feature = "async")]
mod exchange;
#[cfg(feature = "async")]
mod keeper;
mod key;
pub mod machine;
#[cfg(feature = "async")]
mod options;
#[cfg(feature = "async")]
mod outgoing;
#[cfg(feature = "async")]
mod store;
#[cfg(feature = "async")]
mod sys;
#[cfg(feature = "async")]
mod tabs;

pub use tokenkeeper_core;

#[cfg(feature = "async")]
pub use skin::*;

/// The async Rust API.
#[cfg(feature = "async")]
mod skin {
    use std::rc::Rc;

    use tokenkeeper_core::dialect::{Credentials, Dialect};
    use tokenkeeper_core::{Config, ConfigError, Event, Metrics, TokenSet};
    use web_sys::Response;

    pub use crate::clock::{Clock, ManualClock, Sleep, SystemClock};
    pub use crate::error::KeeperError;
    pub use crate::options::{CredentialsFuture, CredentialsProvider, Options};
    pub use crate::store::Storage;

    use crate::keeper::{Shared, input};

    /// Keeps one identity's bearer token valid for the requests made through it.
    ///
    /// Cloning is cheap and shares the keeper. Every method is for the thread (page, worker)
    /// that created it.
    ///
    /// What it does, in the browser's terms:
    ///
    /// - `fetch(input, init)` reads the request's URL once with the platform's URL parser (as
    ///   `fetch` resolves it) and sends that very URL; the token goes with it only if that
    ///   URL's scheme, host and port are allowed. It normalises the request with
    ///   `new Request(input, init)` where needed, buffers the body so it can be replayed (a
    ///   `ReadableStream` body is sent once and never resent), and sends a copy with
    ///   `Authorization` for every `Send`. Requests to origins the token may not go to are
    ///   plain `fetch` calls. A rejected `fetch` (a `TypeError`: it cannot say whether the
    ///   request left) counts as having maybe reached the server, so a non-idempotent request
    ///   is never sent twice.
    /// - One timer follows the machine's next deadline, on the [`Clock`].
    /// - With cross-tab single flight, a login or refresh takes the Web Lock, offers the
    ///   shared tokens to the engine first, asks the other tabs when the epoch marker says one
    ///   holds newer tokens, and otherwise performs the request and reports it while still
    ///   holding the lock, so the new tokens are stored and broadcast first. Where Web Locks or
    ///   `BroadcastChannel` are missing (Node) single flight is per keeper. The answer is read
    ///   up to `MAX_AUTH_BODY` + 1 bytes, and the request is aborted (and never reported) when
    ///   the engine says `AbortAuth`.
    /// - Tokens live in memory, or in `sessionStorage`/`localStorage` on request; every call
    ///   first checks the store, so a tab that slept or reloaded catches up.
    #[derive(Clone)]
    pub struct Keeper {
        shared: Rc<Shared>,
    }

    impl core::fmt::Debug for Keeper {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Keeper").finish_non_exhaustive()
        }
    }

    impl Keeper {
        /// A keeper that logs in with these credentials (none for the client-credentials grant,
        /// or when tokens come from outside).
        pub fn new(
            config: Config,
            dialect: Dialect,
            credentials: Credentials,
            options: &Options,
        ) -> Result<Self, ConfigError> {
            let shared = crate::keeper::build(config, dialect, credentials, None, options)?;
            Ok(Keeper { shared })
        }

        /// A keeper that asks `provider` for credentials when the engine needs them
        /// ([`Action::NeedCredentials`](tokenkeeper_core::Action::NeedCredentials)): a login is
        /// due while requests wait, and no credentials are held or the server refused the last
        /// ones. Concurrent needs share one call; a provider that throws fails the waiting
        /// requests with what it threw. Sets `config.ask_for_credentials`.
        pub fn with_credentials_provider(
            config: Config,
            dialect: Dialect,
            provider: CredentialsProvider,
            options: &Options,
        ) -> Result<Self, ConfigError> {
            let shared = crate::keeper::build(
                config,
                dialect,
                Credentials::none(),
                Some(provider),
                options,
            )?;
            Ok(Keeper { shared })
        }

        /// `fetch(input, init)` with the token kept valid: `input` is a `Request`, a `URL` or a
        /// string, `init` a `RequestInit` object or `undefined`. Resolves with the response the
        /// engine delivers (any status, as `fetch` does) or fails with the engine's reason.
        pub async fn fetch(
            &self,
            input: &wasm_bindgen::JsValue,
            init: &wasm_bindgen::JsValue,
        ) -> Result<Response, KeeperError> {
            crate::exchange::fetch(&self.shared, input, init).await
        }

        /// Logs in now (even if tokens are held); resolves once tokens are held. With cross-tab
        /// single flight, tokens another tab just obtained count.
        pub async fn login(&self) -> Result<(), KeeperError> {
            crate::exchange::login(&self.shared).await
        }

        /// Forgets the tokens (memory, store and, with cross-tab single flight, the other
        /// tabs); waiting requests fail with `SessionExpired`.
        pub fn logout(&self) {
            input(&self.shared, crate::machine::Machine::logout);
        }

        /// Installs tokens obtained elsewhere; they are stored and handed to other tabs like
        /// new ones.
        pub fn set_tokens(&self, tokens: &TokenSet) -> Result<(), ConfigError> {
            input(&self.shared, |m, now| m.set_tokens(now, tokens))
        }

        /// A snapshot of the engine's counters and token state now.
        pub fn metrics(&self) -> Metrics {
            let now = self.shared.clock.now();
            self.shared.m.borrow().metrics(now)
        }

        /// Calls `handler` with every engine event (tokens changed, refreshed, logged in,
        /// session expired, circuit opened), after the state it describes is in place.
        /// Replaces any earlier handler. The handler may call back into the keeper.
        pub fn on_event(&self, handler: impl Fn(&Event) + 'static) {
            *self.shared.handler.borrow_mut() = Some(Rc::new(handler));
        }

        /// Whether cross-tab single flight is active (the option is on and the page has Web
        /// Locks and `BroadcastChannel`).
        pub fn cross_tab_active(&self) -> bool {
            self.shared.tabs.is_some()
        }

        /// Where the tokens are kept.
        pub fn storage(&self) -> Storage {
            self.shared.store.borrow().kind()
        }
    }
}
