//! tokenkeeper-wasm: drives the [`tokenkeeper_core`] engine in browsers, workers and Node ≥ 20
//! with the global `fetch`, `setTimeout` and `Date.now()`, and keeps one login or refresh in
//! flight per origin across tabs with Web Locks and `BroadcastChannel`.
//!
//! The driver decides nothing about HTTP: every response, error, auth answer and timer goes to
//! the engine as an input, and the driver does what the engine's actions say (see the core's
//! driving contract). What it owns is the I/O:
//!
//! - `fetch(input, init)` reads the request's URL once with the platform's URL parser (as
//!   `fetch` resolves it) and sends that very URL; the token goes with it only if that URL's
//!   scheme, host and port are allowed ([`Session::allows`](tokenkeeper_core::Session::allows)).
//!   It normalises the request with `new Request(input, init)` where needed, buffers the
//!   body so it can be replayed (a `ReadableStream` body is sent once and never resent), and
//!   sends a copy with `Authorization` for every `Send`. Requests to origins the token may not
//!   go to are plain `fetch` calls. A rejected `fetch` (a `TypeError`: it cannot say whether
//!   the request left) is reported as [`SendFailure::MaybeSent`](tokenkeeper_core::SendFailure),
//!   so a non-idempotent request is never sent twice.
//! - One `setTimeout` follows [`Session::poll_timeout`](tokenkeeper_core::Session::poll_timeout).
//! - `Authenticate` runs as a task: with cross-tab single flight it takes the Web Lock, reads
//!   the shared tokens again, adopts newer ones with `set_tokens` instead of calling the
//!   server, and otherwise performs the request and reports it while still holding the lock,
//!   so the new tokens are stored and broadcast first. Where Web Locks or `BroadcastChannel`
//!   are missing (Node) single flight is per keeper.
//!   The answer is read up to `MAX_AUTH_BODY` + 1 bytes, and the request is aborted (and
//!   never reported) when the engine says `AbortAuth`.
//! - Tokens live in memory, or in `sessionStorage`/`localStorage` on request, as the JSON of
//!   [`TokenSet`](tokenkeeper_core::TokenSet) with absolute expiry; every call first checks
//!   the store, so a tab that slept or reloaded catches up.
//!
//! All of it is single-threaded: state sits in one `RefCell`, borrowed for short synchronous
//! steps only, never across an `await` or a call into user code.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod crosstab;
mod error;
mod exchange;
mod keeper;
mod options;
mod outgoing;
mod store;
mod sys;

use std::rc::Rc;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Config, ConfigError, Event, Metrics, TokenSet};
use web_sys::Response;

pub use error::KeeperError;
pub use options::{CredentialsFuture, CredentialsProvider, Options};
pub use store::Storage;
pub use tokenkeeper_core;

use keeper::{Shared, input};

/// Keeps one identity's bearer token valid for the requests made through it.
///
/// Cloning is cheap and shares the keeper. Every method is for the thread (page, worker) that
/// created it.
#[derive(Clone)]
pub struct Keeper {
    shared: Shared,
}

impl core::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keeper").finish_non_exhaustive()
    }
}

impl Keeper {
    /// A keeper that logs in with these credentials (none for the client-credentials grant, or
    /// when tokens come from outside).
    pub fn new(
        config: Config,
        dialect: Dialect,
        credentials: Credentials,
        options: &Options,
    ) -> Result<Self, ConfigError> {
        let shared = keeper::build(config, dialect, credentials, None, options)?;
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
        let shared = keeper::build(
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
        exchange::fetch(&self.shared, input, init).await
    }

    /// Logs in now (even if tokens are held); resolves once tokens are held. With cross-tab
    /// single flight, tokens another tab just obtained count.
    pub async fn login(&self) -> Result<(), KeeperError> {
        exchange::login(&self.shared).await
    }

    /// Forgets the tokens (memory, store and, with cross-tab single flight, the other tabs);
    /// waiting requests fail with `SessionExpired`.
    pub fn logout(&self) {
        input(&self.shared, |inner, _| inner.logout());
        let cross = self.shared.borrow().cross.clone();
        if let Some(cross) = cross {
            cross.clear();
        }
    }

    /// Installs tokens obtained elsewhere; they are stored and handed to other tabs like new
    /// ones.
    pub fn set_tokens(&self, tokens: &TokenSet) -> Result<(), ConfigError> {
        let raw = store::encode(tokens);
        let result = input(&self.shared, |inner, now| {
            inner.session.set_tokens(now, tokens.clone())?;
            inner.current_auth = None;
            if let Some(raw) = &raw {
                inner.store.save(raw);
            }
            Ok(())
        });
        if let (Ok(()), Some(raw), Some(cross)) =
            (&result, &raw, self.shared.borrow().cross.clone())
        {
            cross.publish(tokens, raw);
        }
        result
    }

    /// A snapshot of the engine's counters and token state now.
    pub fn metrics(&self) -> Metrics {
        let inner = self.shared.borrow();
        inner.session.metrics((inner.clock)())
    }

    /// Test hook: runs what the engine's timers have due at the clock's `now` (see
    /// [`Options::clock`]), as the `setTimeout` does when it fires.
    #[cfg(feature = "test-clock")]
    pub fn fire_timer(&self) {
        input(&self.shared, |inner, now| inner.session.handle_timeout(now));
    }

    /// Calls `handler` with every engine event (tokens changed, refreshed, logged in, session
    /// expired, circuit opened), after the state it describes is in place. Replaces any
    /// earlier handler. The handler may call back into the keeper.
    pub fn on_event(&self, handler: impl Fn(&Event) + 'static) {
        self.shared.borrow_mut().handler = Some(Rc::new(handler));
    }

    /// Whether cross-tab single flight is active (the option is on and the page has Web Locks
    /// and `BroadcastChannel`).
    pub fn cross_tab_active(&self) -> bool {
        self.shared.borrow().cross.is_some()
    }

    /// Where the tokens are kept.
    pub fn storage(&self) -> Storage {
        self.shared.borrow().store.kind()
    }
}
