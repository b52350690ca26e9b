//! The driver's shared state and its one rule: every input to the engine goes through
//! [`input`], which applies it, drains the engine's actions, re-arms the timer and then (with no
//! borrow held) tells the event handler.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::task::Waker;

use http::HeaderValue;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::AbortController;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{
    Action, AuthId, Config, ConfigError, Error, Event, ExchangeId, Session, TimerKind, Timestamp,
    TokenSet,
};

use crate::crosstab::CrossTab;
use crate::options::{self, CredentialsProvider, Options};
use crate::store::{self, Store};
use crate::sys::{self, ParsedUrl};

/// What the engine said an exchange must do next.
pub(crate) enum Instr {
    /// Send (again) with this `Authorization` value.
    Send(HeaderValue),
    /// Hand the last response to the caller.
    Deliver,
    /// Fail the caller.
    Fail(Error),
    /// Fail the caller with what the credentials provider threw.
    Reject(JsValue),
    /// The caller's `AbortSignal` fired while the exchange waited.
    Aborted,
}

/// The mailbox between the engine and one waiting exchange.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) instr: Option<Instr>,
    pub(crate) waker: Option<Waker>,
    pub(crate) aborted: bool,
}

/// The mailboxes of the live exchanges. A short vector: lookups are linear, which beats a map
/// for the few hundred exchanges a page has in flight and keeps a map's code out of the `.wasm`.
#[derive(Default)]
pub(crate) struct Slots(Vec<(ExchangeId, Slot)>);

impl Slots {
    pub(crate) fn insert(&mut self, id: ExchangeId) {
        self.0.push((id, Slot::default()));
    }

    pub(crate) fn get_mut(&mut self, id: ExchangeId) -> Option<&mut Slot> {
        self.0.iter_mut().find(|(i, _)| *i == id).map(|(_, s)| s)
    }

    pub(crate) fn remove(&mut self, id: ExchangeId) {
        if let Some(at) = self.0.iter().position(|(i, _)| *i == id) {
            self.0.swap_remove(at);
        }
    }
}

/// The credentials provider, asked when the engine says `NeedCredentials`.
pub(crate) struct Provider {
    pub(crate) call: CredentialsProvider,
    /// A call is under way: a second `NeedCredentials` waits for its answer.
    busy: bool,
    /// What the provider threw, while its answer is given to the engine: the exchanges the
    /// engine fails for lack of credentials are rejected with it.
    error: Option<JsValue>,
}

/// The pending `setTimeout` for [`Session::poll_timeout`].
struct Timer {
    at: Option<Timestamp>,
    handle: JsValue,
    callback: Closure<dyn FnMut()>,
}

/// A keeper's state, behind one `RefCell`; borrowed only for short synchronous steps.
pub(crate) struct Inner {
    pub(crate) session: Session,
    pub(crate) slots: Slots,
    /// The auth operation the engine wants performed; `None` once it was dropped by
    /// `set_tokens` or `logout`, or aborted at its deadline (then its task must not send or
    /// report it).
    pub(crate) current_auth: Option<AuthId>,
    /// Aborts the `fetch` of the auth operation in flight (the engine's `AbortAuth`).
    auth_abort: Option<(AuthId, AbortController)>,
    /// The engine's `now` (`Date.now()`, or a test's clock).
    pub(crate) clock: fn() -> Timestamp,
    pub(crate) store: Store,
    pub(crate) cross: Option<Rc<CrossTab>>,
    pub(crate) provider: Option<Provider>,
    timer: Timer,
    events: Vec<Event>,
    pub(crate) handler: Option<Handler>,
    /// The last origin checked (`URL.protocol` and `URL.host`, kept in JS) and the answer:
    /// most pages talk to one API origin.
    last_origin: Option<(JsValue, JsValue, bool)>,
}

/// The user's event handler.
pub(crate) type Handler = Rc<dyn Fn(&Event)>;

/// The shared handle every task holds.
pub(crate) type Shared = Rc<RefCell<Inner>>;

/// Applies one input at `now`, drains the engine and re-arms the timer, then reports the
/// events to the handler once the state is no longer borrowed (so it may call back in).
pub(crate) fn input<R>(shared: &Shared, f: impl FnOnce(&mut Inner, Timestamp) -> R) -> R {
    let (result, events, handler) = {
        let mut inner = shared.borrow_mut();
        let now = (inner.clock)();
        let result = f(&mut inner, now);
        inner.drain(shared);
        inner.rearm(now);
        let events = std::mem::take(&mut inner.events);
        let handler = if events.is_empty() {
            None
        } else {
            inner.handler.clone()
        };
        (result, events, handler)
    };
    if let Some(handler) = handler {
        for e in &events {
            handler(e);
        }
    }
    result
}

impl Inner {
    /// Does what each queued action says (the driving contract in the crate docs of
    /// `tokenkeeper-core` and `core/README.md`): wake the exchange, start or abort the auth
    /// task, persist and broadcast tokens.
    fn drain(&mut self, shared: &Shared) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send { id, authorization } => self.instruct(id, Instr::Send(authorization)),
                Action::Deliver { id } => self.instruct(id, Instr::Deliver),
                Action::Fail { id, error } => {
                    let thrown = self.provider.as_ref().and_then(|p| p.error.clone());
                    match thrown {
                        Some(e) if error == Error::SessionExpired => {
                            self.instruct(id, Instr::Reject(e));
                        }
                        _ => self.instruct(id, Instr::Fail(error)),
                    }
                }
                Action::NeedCredentials => {
                    if let Some(p) = self.provider.as_mut().filter(|p| !p.busy) {
                        p.busy = true;
                        wasm_bindgen_futures::spawn_local(ask(shared.clone(), p.call.clone()));
                    }
                }
                Action::Authenticate(request) => {
                    self.current_auth = Some(request.id);
                    let abort = AbortController::new().ok();
                    let signal = abort.as_ref().map(AbortController::signal);
                    self.auth_abort = abort.map(|c| (request.id, c));
                    wasm_bindgen_futures::spawn_local(crate::auth::run(
                        shared.clone(),
                        request,
                        signal,
                    ));
                }
                Action::AbortAuth { id } => self.abort_auth(id),
                Action::Event(event) => {
                    self.persist(&event);
                    self.events.push(event);
                }
                _ => {}
            }
        }
    }

    /// Aborts the auth operation `op` (its deadline passed): its `fetch` is aborted, which ends
    /// its task (releasing the cross-tab lock), and the task will not report it.
    fn abort_auth(&mut self, op: AuthId) {
        if self.current_auth == Some(op) {
            self.current_auth = None;
        }
        if let Some((_, controller)) = self.auth_abort.take_if(|(id, _)| *id == op) {
            controller.abort();
        }
    }

    /// The task of `op` has ended: its abort handle goes.
    pub(crate) fn auth_ended(&mut self, op: AuthId) {
        if self.auth_abort.as_ref().is_some_and(|(id, _)| *id == op) {
            self.auth_abort = None;
        }
    }

    fn instruct(&mut self, id: ExchangeId, instr: Instr) {
        if let Some(slot) = self.slots.get_mut(id) {
            slot.instr = Some(instr);
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        }
    }

    /// Keeps the store and the other tabs in step with the engine's tokens.
    fn persist(&mut self, event: &Event) {
        match event {
            Event::TokensChanged(set) => {
                if let Some(raw) = store::encode(set) {
                    self.store.save(&raw);
                    if let Some(cross) = &self.cross {
                        cross.publish(set, &raw);
                    }
                }
            }
            Event::SessionExpired => self.store.clear(),
            _ => {}
        }
    }

    /// Points the one `setTimeout` at the engine's next deadline.
    fn rearm(&mut self, now: Timestamp) {
        let next = self.session.poll_timeout();
        let want = next.map(|(at, _)| at);
        if want == self.timer.at {
            return;
        }
        if self.timer.at.take().is_some() {
            sys::clear_timeout(&self.timer.handle);
        }
        if let Some((at, kind)) = next {
            let delay = at
                .as_millis()
                .saturating_sub(now.as_millis())
                .min(i32::MAX as u64);
            self.timer.handle =
                sys::set_timeout(self.timer.callback.as_ref().unchecked_ref(), delay as f64);
            if matches!(kind, TimerKind::RefreshAhead | TimerKind::CircuitHalfOpen) {
                // Background work must not keep a Node process alive; waiting requests do.
                sys::unref_timer(&self.timer.handle);
            }
            self.timer.at = Some(at);
        }
    }

    /// Whether the token may be sent to `url` (parsed by the platform, and the very URL that
    /// is sent): its scheme, host and port, as the engine's [`Session::allows`] says.
    pub(crate) fn allows_url(&mut self, url: &ParsedUrl) -> bool {
        let (protocol, host) = (url.protocol_js(), url.host_js());
        if let Some((p, h, answer)) = &self.last_origin
            && *p == protocol
            && *h == host
        {
            return *answer;
        }
        let scheme = protocol.as_string().unwrap_or_default();
        let scheme = scheme.strip_suffix(':').unwrap_or(&scheme);
        let port = url.port();
        // `URL.port` is empty for the scheme's default port, else the port's digits.
        let port = if port.is_empty() {
            Ok(None)
        } else {
            port.parse().map(Some)
        };
        let answer = port.is_ok_and(|port| self.session.allows(scheme, &url.hostname(), port));
        self.last_origin = Some((protocol, host, answer));
        answer
    }

    /// Logs out here (this tab's `logout()`, or another tab's): the tokens go and an auth
    /// operation in flight is forgotten (with a provider, the engine forgets the credentials
    /// too, so the next login asks it again).
    pub(crate) fn logout(&mut self) {
        self.current_auth = None;
        self.session.logout();
    }

    /// Installs tokens that came from the store or another tab; the engine drops its auth
    /// operation, so its task must neither send nor report it.
    pub(crate) fn adopt(&mut self, now: Timestamp, set: TokenSet) -> bool {
        if self.session.set_tokens(now, set).is_ok() {
            self.current_auth = None;
            true
        } else {
            false
        }
    }

    /// Adopts the stored set if it changed and is newer than the engine's (the lazy check that
    /// lets a tab that slept, or reloaded, catch up).
    pub(crate) fn sync_store(&mut self, now: Timestamp) {
        if let Some(set) = self.store.load_changed()
            && store::is_newer(&set, self.session.tokens())
        {
            self.adopt(now, set);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.timer.at.is_some() {
            sys::clear_timeout(&self.timer.handle);
        }
    }
}

/// Builds the shared state: the session, the store (restoring a stored set), the timer and
/// the cross-tab channel.
pub(crate) fn build(
    config: Config,
    dialect: Dialect,
    credentials: Credentials,
    provider: Option<CredentialsProvider>,
    options: &Options,
) -> Result<Shared, ConfigError> {
    let mut config = config;
    config.ask_for_credentials = provider.is_some();
    let key = options::key(options, &dialect, &credentials);
    let seed = options
        .seed
        .unwrap_or_else(|| (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64);
    let token_origin = dialect.origin();
    let mut session = Session::new(config, dialect, credentials, seed)?;
    options::allow_origins(&mut session, token_origin.as_deref(), options)?;
    let store = Store::open(options.storage, key.clone()).ok_or(ConfigError::Invalid {
        field: "storage",
        reason: "this storage is not available here (use memory)",
    })?;
    let shared: Shared = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
        let weak = weak.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                input(&shared, |inner, now| {
                    inner.timer.at = None;
                    inner.session.handle_timeout(now);
                });
            }
        });
        #[cfg(feature = "test-clock")]
        let clock = options.clock.unwrap_or(sys::now);
        #[cfg(not(feature = "test-clock"))]
        let clock = sys::now;
        RefCell::new(Inner {
            session,
            slots: Slots::default(),
            current_auth: None,
            auth_abort: None,
            clock,
            store,
            cross: None,
            provider: provider.map(|call| Provider {
                call,
                busy: false,
                error: None,
            }),
            timer: Timer {
                at: None,
                handle: JsValue::UNDEFINED,
                callback,
            },
            events: Vec::new(),
            handler: None,
            last_origin: None,
        })
    });
    if options.cross_tab {
        let weak = Rc::downgrade(&shared);
        let timeout = u32::try_from(options.lock_timeout.as_millis()).unwrap_or(u32::MAX);
        let cross = CrossTab::open(&key, timeout, move |msg| {
            if let Some(shared) = weak.upgrade() {
                on_message(&shared, &msg);
            }
        });
        shared.borrow_mut().cross = cross.map(Rc::new);
    }
    input(&shared, |inner, now| {
        if let Some(set) = inner.store.load() {
            inner.adopt(now, set);
        }
    });
    let cross = shared.borrow().cross.clone();
    if let Some(cross) = cross {
        cross.ask();
    }
    Ok(shared)
}

/// A message from another tab (see [`crate::crosstab`]).
fn on_message(shared: &Shared, msg: &str) {
    if let Some(raw) = msg.strip_prefix('s') {
        let Some(set) = store::decode(raw) else {
            return;
        };
        input(shared, |inner, now| {
            if store::is_newer(&set, inner.session.tokens()) && inner.adopt(now, set) {
                inner.store.save(raw);
            }
        });
    } else if msg == "a" {
        let inner = shared.borrow();
        if let (Some(cross), Some(raw)) =
            (&inner.cross, inner.session.tokens().and_then(store::encode))
        {
            cross.send_set(&raw);
        }
    } else if msg == "c" {
        input(shared, |inner, _| inner.logout());
    }
}

/// Asks the provider for credentials (the engine said `NeedCredentials`) and gives the
/// engine the answer; a provider that throws or rejects is an answer of none, and the
/// exchanges that fail for it are rejected with what it threw. Runs with nothing borrowed
/// while the provider works, which may call back into the keeper.
async fn ask(shared: Shared, provider: CredentialsProvider) {
    let answer = provider().await;
    input(&shared, |inner, now| {
        let (credentials, thrown) = match answer {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        if let Some(p) = inner.provider.as_mut() {
            p.busy = false;
            p.error = thrown;
        }
        inner.session.provide_credentials(now, credentials);
        // The failures are drained (and rejected with the thrown value) before `input`
        // returns; clear it once they are.
        inner.drain(&shared);
        if let Some(p) = inner.provider.as_mut() {
            p.error = None;
        }
    });
}
