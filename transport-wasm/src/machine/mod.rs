//! The synchronous browser driver: the kit's [`Driver`] with the browser's protocols around it
//! (the cross-tab lock, the store, the other tabs' messages, the per-attempt timeout), as a
//! state machine that takes inputs with `now` and hands out [`Intent`]s. It does no I/O, reads
//! no clock and spawns nothing; the two skins over it do: the async Rust [`Keeper`] (web-sys,
//! `wasm-bindgen-futures`) and the npm package's JS shell (`bindings-js/js/`).
//!
//! Driving it: call an input ([`Machine::start`], [`Machine::response`], [`Machine::fire`],
//! ...), then take every [`Intent`] with [`Machine::poll`] and do it. Inputs may be made
//! while intents are still queued (from an event handler, say): the queue keeps their order.
//!
//! [`Keeper`]: crate::Keeper

mod auth;
mod exchanges;
mod intent;

use core::time::Duration;
use std::collections::VecDeque;

use http::StatusCode;
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::driver::{Driver, Step, Work};
use tokenkeeper_core::{
    Config, ConfigError, Error, Event, ExchangeId, HeaderValues, Metrics, RequestMeta, SendFailure,
    Session, Timestamp, TokenSet,
};

use crate::crosstab::Message;
use auth::Auth;
use exchanges::Exchanges;
pub use intent::{Handle, Intent};

/// What a [`Machine`] is built from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Setup {
    /// The engine's configuration.
    pub config: Config,
    /// How to log in and refresh.
    pub dialect: Dialect,
    /// The credentials held from the start (none with a provider).
    pub credentials: Credentials,
    /// The skin has a credentials provider: the engine may ask it ([`Intent::Ask`]).
    pub provider: bool,
    /// Tokens are kept in a store (`sessionStorage`, `localStorage`): [`Intent::Save`] and
    /// [`Intent::Clear`] keep it in step, and the skin passes what it holds on every call.
    pub persistent: bool,
    /// Cross-tab single flight: the skin has Web Locks and `BroadcastChannel`.
    pub cross_tab: bool,
    /// The storage key, lock name and channel name (default: derived from the identity).
    pub key: Option<String>,
    /// How long one attempt of a request may wait for its response headers.
    pub timeout: Option<Duration>,
    /// The engine's jitter seed.
    pub seed: u64,
}

impl Setup {
    /// A setup with nothing shared: memory only, no cross-tab, no timeout.
    pub fn new(config: Config, dialect: Dialect, credentials: Credentials, seed: u64) -> Setup {
        Setup {
            config,
            dialect,
            credentials,
            provider: false,
            persistent: false,
            cross_tab: false,
            key: None,
            timeout: None,
            seed,
        }
    }
}

/// The browser driver's state machine (see the [module docs](self)).
pub struct Machine {
    driver: Driver,
    ex: Exchanges,
    auth: Auth,
    out: VecDeque<Intent>,
    key: String,
    persistent: bool,
    cross_tab: bool,
    timeout: Option<Duration>,
    /// The timer the skin has armed, and whether it keeps the host alive.
    armed: Option<Timestamp>,
    keep_alive: bool,
    /// Exchanges failed because the credentials provider threw (see [`Machine::answer`]).
    rejected: Vec<ExchangeId>,
}

impl core::fmt::Debug for Machine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Machine")
            .field("driver", &self.driver)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// Builds the engine from a dialect whose endpoint URLs the platform's URL parser read
    /// (`EndpointUrl::from_parsed`). The skin then tells it which other origins may receive
    /// the token, as that parser read them ([`Machine::allow_origin`]), and calls
    /// [`Machine::restore`].
    pub fn new(setup: Setup) -> Result<Machine, ConfigError> {
        let Setup {
            mut config,
            dialect,
            credentials,
            provider,
            persistent,
            cross_tab,
            key,
            timeout,
            seed,
        } = setup;
        config.ask_for_credentials = provider;
        let key = crate::key::key(key.as_deref(), &dialect, &credentials);
        let session = Session::new(config, dialect, credentials, seed)?;
        Ok(Machine {
            driver: Driver::new(session),
            ex: Exchanges::default(),
            auth: Auth::default(),
            out: VecDeque::new(),
            key,
            persistent,
            cross_tab,
            timeout: timeout.filter(|t| !t.is_zero()),
            armed: None,
            keep_alive: false,
            rejected: Vec::new(),
        })
    }

    /// The storage key, lock name and channel name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether cross-tab single flight is on.
    pub fn cross_tab(&self) -> bool {
        self.cross_tab
    }

    /// The session, to read (tokens, configuration, dialect).
    pub fn session(&self) -> &Session {
        self.driver.session()
    }

    /// One more origin the token may go to, from the parts the platform's URL parser read
    /// (the URL's `protocol` without `:`, `hostname`, and `port`, `None` when it names none).
    pub fn allow_origin(
        &mut self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<(), ConfigError> {
        let mut work = Work::default();
        self.driver.input(Timestamp::EPOCH, &mut work, |s, _| {
            s.allow_origin_parts(scheme, host, port)
        })
    }

    /// Whether the token may go to a URL with this scheme (`https`), host (as the platform's
    /// URL parser writes it) and port (`None` for the scheme's default).
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.session().allows(scheme, host, port)
    }

    /// Starts: adopts what the store holds (`stored`, if anything), and with cross-tab single
    /// flight asks the other tabs for their tokens.
    pub fn restore(&mut self, now: Timestamp, stored: Option<&str>) {
        let mut work = Work::default();
        self.offer_stored(now, stored, &mut work);
        if self.cross_tab {
            self.out.push_back(Intent::Post(Message::Ask));
        }
        self.settle(now, work, None);
    }

    /// A caller's request (`meta`: its method and whether its body can be sent again;
    /// [`RequestMeta::for_method`]). `stored`: what the store holds, when it changed since the
    /// skin last read or wrote it (a tab that slept or reloaded catches up). Returns the
    /// exchange's handle.
    pub fn start(&mut self, now: Timestamp, meta: RequestMeta, stored: Option<&str>) -> Handle {
        let mut work = Work::default();
        self.offer_stored(now, stored, &mut work);
        let (id, step) = self.driver.start(now, meta, &mut work);
        let h = self.ex.open(id);
        self.settle(now, work, Some((h, step)));
        h
    }

    /// An explicit login ([`Session::login`]); the exchange ends with `Deliver` once tokens
    /// are held, or `Fail`.
    pub fn login(&mut self, now: Timestamp) -> Handle {
        let mut work = Work::default();
        let (id, step) = self.driver.login(now, &mut work);
        let h = self.ex.open(id);
        self.settle(now, work, Some((h, step)));
        h
    }

    /// Exchange `x`'s response: its status and the headers the engine reads
    /// ([`API_RESPONSE_HEADERS`](tokenkeeper_core::driver::API_RESPONSE_HEADERS)), as the
    /// platform gives them (values that are not header text are ignored).
    pub fn response(
        &mut self,
        now: Timestamp,
        x: Handle,
        status: u16,
        www_authenticate: Option<&str>,
        retry_after: Option<&str>,
        date: Option<&str>,
    ) {
        let headers = HeaderValues {
            www_authenticate,
            retry_after,
            date,
            content_type: None,
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        self.report(now, x, |s, now, id| {
            s.handle_response(now, id, status, &headers);
        });
    }

    /// Exchange `x`'s response came from an origin the token does not go to (a redirect left
    /// the allowed origins) or is opaque: it says nothing about the token.
    pub fn foreign(&mut self, now: Timestamp, x: Handle) {
        self.report(now, x, |s, _, id| s.handle_foreign_response(id));
    }

    /// Exchange `x`'s request failed without a response (`fetch` rejected: it cannot tell
    /// whether the request left, so it counts as having maybe reached the server).
    pub fn send_error(&mut self, now: Timestamp, x: Handle) {
        self.report(now, x, |s, now, id| {
            s.handle_send_error(now, id, SendFailure::MaybeSent);
        });
    }

    /// The caller of exchange `x` went away (it aborted): the exchange ends without a step.
    pub fn cancel(&mut self, now: Timestamp, x: Handle) {
        let Some(ex) = self.ex.close(x) else { return };
        let mut work = Work::default();
        self.driver.cancel(ex.id, &mut work);
        self.settle(now, work, None);
    }

    /// The timer of the last [`Intent::Timer`] fired (early or late does not matter).
    pub fn fire(&mut self, now: Timestamp) {
        self.armed = None;
        let due = self.ex.due(now);
        for &h in &due {
            if let Some(ex) = self.ex.get_mut(h) {
                ex.deadline = None;
            }
        }
        let mut work = Work::default();
        self.driver.fire_timers(now, &mut work);
        self.auth_timer(now);
        self.settle(now, work, None);
        for h in due {
            // No response headers within the timeout: a transport failure, which the engine
            // may resend (idempotent requests) or fail.
            self.out.push_back(Intent::Cut { x: h });
            self.report(now, h, |s, now, id| {
                s.handle_send_error(now, id, SendFailure::MaybeSent);
            });
        }
    }

    /// A message from another tab (see [`Message`]); anything else is ignored.
    pub fn message(&mut self, now: Timestamp, text: &str) {
        let Some(message) = Message::decode(text) else {
            return;
        };
        let mut work = Work::default();
        match message {
            Message::Set(set) => {
                let raw = set.to_json();
                if self.offer(now, set, &mut work) && self.persistent {
                    self.out.push_back(Intent::Save(raw));
                }
                self.auth_offered(now);
            }
            Message::Ask => {
                if let Some(set) = self.session().tokens() {
                    self.out.push_back(Intent::Post(Message::Set(set.clone())));
                }
            }
            Message::Clear => self.driver.input(now, &mut work, |s, _| s.logout()),
        }
        self.settle(now, work, None);
    }

    /// Installs tokens obtained elsewhere; they are stored and handed to the other tabs like
    /// new ones.
    pub fn set_tokens(&mut self, now: Timestamp, set: &TokenSet) -> Result<(), ConfigError> {
        let mut work = Work::default();
        let result = self
            .driver
            .input(now, &mut work, |s, now| s.set_tokens(now, set.clone()));
        if result.is_ok() {
            self.publish(set);
        }
        self.settle(now, work, None);
        result
    }

    /// Forgets the tokens here, in the store and in the other tabs; waiting exchanges fail
    /// with `SessionExpired`.
    pub fn logout(&mut self, now: Timestamp) {
        let mut work = Work::default();
        self.driver.input(now, &mut work, |s, _| s.logout());
        if self.cross_tab {
            self.out.push_back(Intent::Post(Message::Clear));
            self.out.push_back(Intent::Mark(None));
        }
        self.settle(now, work, None);
    }

    /// The credentials provider answered (`None`: it had none). `thrown`: it threw, and the
    /// exchanges failed for lack of credentials get [`Intent::Reject`] (the skin rejects them
    /// with what it threw).
    pub fn answer(&mut self, now: Timestamp, credentials: Option<Credentials>, thrown: bool) {
        let mut work = Work::default();
        let failed = self.driver.answer(now, credentials, &mut work);
        if thrown {
            self.rejected = failed;
        }
        self.settle(now, work, None);
        self.rejected.clear();
    }

    /// The engine's counters and token state now.
    pub fn metrics(&self, now: Timestamp) -> Metrics {
        self.session().metrics(now)
    }

    /// The next thing to do, if any.
    pub fn poll(&mut self) -> Option<Intent> {
        self.out.pop_front()
    }

    /// Reports an outcome of exchange `x`'s attempt.
    fn report(
        &mut self,
        now: Timestamp,
        x: Handle,
        f: impl FnOnce(&mut Session, Timestamp, ExchangeId),
    ) {
        let Some(ex) = self.ex.get_mut(x).filter(|ex| ex.sending) else {
            return; // not in flight: a late outcome of an attempt that was cut
        };
        ex.sending = false;
        ex.deadline = None;
        let id = ex.id;
        let mut work = Work::default();
        let ((), step) = self
            .driver
            .report(now, id, &mut work, |s, now| f(s, now, id));
        self.settle(now, work, Some((x, step)));
    }

    fn offer_stored(&mut self, now: Timestamp, stored: Option<&str>, work: &mut Work) {
        if let Some(set) = stored.and_then(|s| TokenSet::from_json(s.as_bytes())) {
            self.offer(now, set, work);
        }
    }

    /// Offers a set from outside to the engine; whether it was adopted.
    fn offer(&mut self, now: Timestamp, set: TokenSet, work: &mut Work) -> bool {
        self.driver
            .input(now, work, |s, now| s.offer_tokens(now, set))
    }

    /// Stores a new set and hands it to the other tabs.
    fn publish(&mut self, set: &TokenSet) {
        if self.persistent {
            self.out.push_back(Intent::Save(set.to_json()));
        }
        if self.cross_tab {
            self.out.push_back(Intent::Post(Message::Set(set.clone())));
            self.out.push_back(Intent::Mark(Some(set.issued_at)));
        }
    }

    /// Does what an input left: keeps the store and the other tabs in step, moves the auth
    /// operation along, hands out the exchanges' steps, the events and the timer.
    fn settle(&mut self, now: Timestamp, mut work: Work, own: Option<(Handle, Option<Step>)>) {
        for e in &work.events {
            match e {
                Event::TokensChanged(set) => self.publish(set),
                Event::SessionExpired if self.persistent => self.out.push_back(Intent::Clear),
                _ => {}
            }
        }
        self.auth_settle(now, &mut work);
        if let Some((h, step)) = own {
            self.step(now, h, step);
        }
        work.wake();
        for h in self.ex.take_ready() {
            self.step(now, h, None);
        }
        self.out.extend(work.events.drain(..).map(Intent::Event));
        if work.ask {
            self.out.push_back(Intent::Ask);
        }
        self.rearm();
    }

    /// Hands out exchange `h`'s step: `step`, or the one in its mailbox (parking its waker
    /// when there is none yet).
    fn step(&mut self, now: Timestamp, h: Handle, step: Option<Step>) {
        let Some(ex) = self.ex.get_mut(h) else { return };
        let step = match step {
            Some(step) => step,
            None => match self.driver.step(ex.id, Some(&ex.waker)) {
                Some(step) => step,
                None => return,
            },
        };
        let intent = match step {
            Step::Send(authorization) => {
                ex.sending = true;
                ex.deadline = self.timeout.map(|t| now.saturating_add(t));
                Intent::Send {
                    x: h,
                    authorization,
                }
            }
            Step::Deliver => Intent::Deliver { x: h },
            Step::Fail(Error::SessionExpired) if self.rejected.contains(&ex.id) => {
                Intent::Reject { x: h }
            }
            Step::Fail(error) => Intent::Fail { x: h, error },
            // Never asked for (the skins cancel instead of interrupting).
            Step::Interrupted => Intent::Fail {
                x: h,
                error: Error::UnknownExchange,
            },
        };
        if !matches!(intent, Intent::Send { .. }) {
            self.ex.close(h);
        }
        self.out.push_back(intent);
    }

    /// Asks the skin to arm its timer when the next thing due is earlier than the timer it
    /// has, or when whether anyone waits on it changed. A timer that fires with nothing due
    /// is harmless ([`Machine::fire`] re-arms), so a later deadline never re-arms it.
    fn rearm(&mut self) {
        let next = [
            self.driver.next_timer().map(|(at, _)| at),
            self.ex.next_deadline(),
            self.auth.until(),
        ]
        .into_iter()
        .flatten()
        .min();
        // A request in flight keeps a host alive by itself (its connection); one that waits
        // (for tokens, a backoff, credentials) has only this timer.
        let keep_alive = self.ex.waiting();
        match (next, self.armed) {
            (Some(at), armed) if armed.is_none_or(|a| at < a) => {
                self.armed = Some(at);
                self.keep_alive = keep_alive;
                self.out.push_back(Intent::Timer { at, keep_alive });
            }
            (_, Some(at)) if keep_alive != self.keep_alive => {
                self.keep_alive = keep_alive;
                self.out.push_back(Intent::Timer { at, keep_alive });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
