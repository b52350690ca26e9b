//! The async skin's shared state and its one rule: every input goes to the [`Machine`] with
//! the clock's `now`, and then [`run`] carries out every [`Intent`] it gave, with the machine
//! not borrowed (an event handler may call back into the keeper).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use http::HeaderValue;
use wasm_bindgen::JsValue;
use web_sys::{AbortController, AbortSignal};
use zeroize::Zeroizing;

use tokenkeeper_core::dialect::{Credentials, Dialect, EndpointUrl};
use tokenkeeper_core::{AuthRequest, Config, ConfigError, Error, Event, Timestamp};

use crate::clock::{Clock, SystemClock};
use crate::machine::{Handle, Intent, Machine, Setup};
use crate::options::{CredentialsProvider, Options};
use crate::store::Store;
use crate::sys::{self, ParsedUrl};
use crate::tabs::{LockGuard, Tabs};

/// What an exchange's task must do next.
pub(crate) enum Out {
    /// Send (again) with this `Authorization` value.
    Send(HeaderValue),
    /// Hand the last response to the caller.
    Deliver,
    /// Fail the caller.
    Fail(Error),
    /// Fail the caller with what the credentials provider threw.
    Reject(JsValue),
}

/// The mailbox between the machine and one exchange's task.
pub(crate) struct Slot {
    h: Handle,
    pub(crate) out: Option<Out>,
    pub(crate) waker: Option<Waker>,
    /// The caller's `AbortSignal` fired.
    pub(crate) aborted: bool,
    /// The attempt in flight was cut (per-attempt timeout): its outcome is not reported.
    pub(crate) cut: bool,
    /// Aborts the attempt in flight (only with a per-attempt timeout).
    pub(crate) attempt: Option<AbortController>,
}

/// The live exchanges' mailboxes.
#[derive(Default)]
pub(crate) struct Slots(Vec<Slot>);

impl Slots {
    pub(crate) fn open(&mut self, h: Handle) {
        self.0.push(Slot {
            h,
            out: None,
            waker: None,
            aborted: false,
            cut: false,
            attempt: None,
        });
    }

    pub(crate) fn get(&mut self, h: Handle) -> Option<&mut Slot> {
        self.0.iter_mut().rev().find(|s| s.h == h)
    }

    pub(crate) fn close(&mut self, h: Handle) {
        if let Some(at) = self.0.iter().rposition(|s| s.h == h) {
            self.0.swap_remove(at);
        }
    }

    fn post(&mut self, h: Handle, out: Out) {
        if let Some(slot) = self.get(h) {
            slot.out = Some(out);
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        }
    }
}

/// The user's event handler.
pub(crate) type Handler = Rc<dyn Fn(&Event)>;

/// A keeper's state. Each part is borrowed for short synchronous steps only.
pub(crate) struct Shared {
    pub(crate) m: RefCell<Machine>,
    pub(crate) clock: Rc<dyn Clock>,
    pub(crate) store: RefCell<Store>,
    pub(crate) tabs: Option<Tabs>,
    provider: Option<CredentialsProvider>,
    pub(crate) handler: RefCell<Option<Handler>>,
    pub(crate) slots: RefCell<Slots>,
    /// Whether attempts have a timeout (each then gets an `AbortController`).
    pub(crate) timeout: bool,
    /// Aborts the `fetch` of the auth operation in flight.
    pub(crate) auth_abort: RefCell<Option<(u64, AbortController)>>,
    lock: RefCell<Option<LockGuard>>,
    /// The timer's generation (a newer `Intent::Timer` cancels the older sleep) and the
    /// waker of its task.
    timer: Cell<u64>,
    timer_waker: RefCell<Option<Waker>>,
    /// What the credentials provider threw, for the exchanges it fails.
    thrown: RefCell<Option<JsValue>>,
    /// The last origin checked (`URL.protocol` and `URL.host`, kept in JS) and the answer:
    /// most pages talk to one API origin.
    last_origin: RefCell<Option<(JsValue, JsValue, bool)>>,
}

/// Applies one input at the clock's `now`, then carries out what it gave.
pub(crate) fn input<R>(shared: &Rc<Shared>, f: impl FnOnce(&mut Machine, Timestamp) -> R) -> R {
    let now = shared.clock.now();
    let r = f(&mut shared.m.borrow_mut(), now);
    run(shared);
    r
}

/// Carries out every intent the machine has queued.
pub(crate) fn run(shared: &Rc<Shared>) {
    loop {
        let Some(intent) = shared.m.borrow_mut().poll() else {
            return;
        };
        carry_out(shared, intent);
    }
}

fn carry_out(shared: &Rc<Shared>, intent: Intent) {
    match intent {
        Intent::Send { x, authorization } => {
            shared.slots.borrow_mut().post(x, Out::Send(authorization));
        }
        Intent::Cut { x } => {
            if let Some(slot) = shared.slots.borrow_mut().get(x) {
                slot.cut = true;
                if let Some(c) = slot.attempt.take() {
                    c.abort();
                }
            }
        }
        Intent::Deliver { x } => shared.slots.borrow_mut().post(x, Out::Deliver),
        Intent::Fail { x, error } => shared.slots.borrow_mut().post(x, Out::Fail(error)),
        Intent::Reject { x } => {
            let thrown = shared.thrown.borrow().clone().unwrap_or(JsValue::UNDEFINED);
            shared.slots.borrow_mut().post(x, Out::Reject(thrown));
        }
        Intent::Authenticate(auth) => {
            let abort = AbortController::new().ok();
            let signal = abort.as_ref().map(AbortController::signal);
            *shared.auth_abort.borrow_mut() = abort.map(|c| (auth.id.as_u64(), c));
            wasm_bindgen_futures::spawn_local(authenticate(shared.clone(), auth, signal));
        }
        Intent::AbortAuth { op } => {
            let mine = shared.auth_abort.borrow_mut().take_if(|(id, _)| *id == op);
            if let Some((_, controller)) = mine {
                controller.abort();
            }
        }
        Intent::Lock => wasm_bindgen_futures::spawn_local(lock(shared.clone())),
        Intent::Unlock => drop(shared.lock.borrow_mut().take()),
        Intent::Peers => wasm_bindgen_futures::spawn_local(peers(shared.clone())),
        Intent::Ask => {
            if let Some(provider) = shared.provider.clone() {
                wasm_bindgen_futures::spawn_local(ask(shared.clone(), provider));
            }
        }
        Intent::Save(raw) => shared.store.borrow_mut().save(raw),
        Intent::Clear => shared.store.borrow_mut().clear(),
        Intent::Mark(epoch) => {
            if let Some(tabs) = &shared.tabs {
                tabs.mark(epoch.map(Timestamp::as_millis));
            }
        }
        Intent::Post(message) => {
            if let Some(tabs) = &shared.tabs {
                tabs.post(&message.encode());
            }
        }
        Intent::Event(event) => {
            let handler = shared.handler.borrow().clone();
            if let Some(handler) = handler {
                handler(&event);
            }
        }
        Intent::Timer { at, keep_alive } => arm(shared, at, keep_alive),
    }
}

/// Sleeps until `at` on a task of its own (cancelling the sleep armed before), then fires.
fn arm(shared: &Rc<Shared>, at: Timestamp, keep_alive: bool) {
    let generation = shared.timer.get() + 1;
    shared.timer.set(generation);
    if let Some(w) = shared.timer_waker.borrow_mut().take() {
        w.wake(); // the older sleep's task ends (and drops its sleep)
    }
    let mut sleep = shared.clock.sleep_until(at, keep_alive);
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        let current = std::future::poll_fn(|cx| {
            let Some(shared) = weak.upgrade() else {
                return Poll::Ready(false);
            };
            if shared.timer.get() != generation {
                return Poll::Ready(false);
            }
            *shared.timer_waker.borrow_mut() = Some(cx.waker().clone());
            sleep.as_mut().poll(cx).map(|()| true)
        })
        .await;
        if let Some(shared) = weak.upgrade().filter(|_| current) {
            input(&shared, Machine::fire);
        }
    });
}

/// Runs one auth request to its end; `signal` aborts its `fetch` (the machine's `AbortAuth`),
/// and then nothing is reported.
async fn authenticate(shared: Rc<Shared>, auth: AuthRequest, signal: Option<AbortSignal>) {
    let op = auth.id.as_u64();
    let outcome = crate::auth::perform(auth, signal.as_ref(), |chunk| {
        shared.m.borrow_mut().auth_chunk(op, chunk)
    })
    .await;
    {
        let mut mine = shared.auth_abort.borrow_mut();
        if mine.as_ref().is_some_and(|(id, _)| *id == op) {
            *mine = None;
        }
    }
    if signal.as_ref().is_some_and(AbortSignal::aborted) {
        return; // the machine aborted it and counted it already
    }
    match outcome {
        Ok((status, [content_type, date, retry_after])) => input(&shared, |m, now| {
            m.auth_response(
                now,
                op,
                status,
                content_type.as_deref(),
                date.as_deref(),
                retry_after.as_deref(),
            );
        }),
        Err(_) => input(&shared, |m, now| m.auth_error(now, op)),
    }
}

/// Takes the cross-tab lock (or gives up after the lock timeout and goes on without it),
/// then tells the machine, with what the store and the epoch marker hold.
async fn lock(shared: Rc<Shared>) {
    let guard = match &shared.tabs {
        Some(tabs) => tabs.lock().await,
        None => None,
    };
    *shared.lock.borrow_mut() = guard;
    let stored = shared.store.borrow_mut().current();
    let epoch = shared.tabs.as_ref().and_then(Tabs::epoch);
    input(&shared, |m, now| {
        m.locked(now, stored.as_deref().map(String::as_str), epoch.as_deref());
    });
}

/// Finds out whether another tab's keeper of this key is alive.
async fn peers(shared: Rc<Shared>) {
    let alive = match &shared.tabs {
        Some(tabs) => tabs.others_alive().await,
        None => false,
    };
    input(&shared, |m, now| m.peers(now, alive));
}

/// Asks the provider for credentials and gives the machine the answer; a provider that throws
/// or rejects is an answer of none, and the exchanges that fail for it are rejected with what
/// it threw. Nothing is borrowed while the provider works (it may call back into the keeper).
async fn ask(shared: Rc<Shared>, provider: CredentialsProvider) {
    let answer = provider().await;
    let (credentials, thrown) = match answer {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e)),
    };
    let threw = thrown.is_some();
    *shared.thrown.borrow_mut() = thrown;
    input(&shared, |m, now| m.answer(now, credentials, threw));
    *shared.thrown.borrow_mut() = None;
}

impl Shared {
    /// Whether the token may be sent to `url` (parsed by the platform, and the very URL that
    /// is sent): its scheme, host and port, as the engine says.
    pub(crate) fn allows_url(&self, url: &ParsedUrl) -> bool {
        let (protocol, host) = (url.protocol_js(), url.host_js());
        if let Some((p, h, answer)) = &*self.last_origin.borrow()
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
        let answer = port.is_ok_and(|port| self.m.borrow().allows(scheme, &url.hostname(), port));
        *self.last_origin.borrow_mut() = Some((protocol, host, answer));
        answer
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.timer.set(self.timer.get() + 1);
        if let Some(w) = self.timer_waker.get_mut().take() {
            w.wake();
        }
    }
}

/// Builds a keeper's state: the machine, the store (restoring a stored set), the cross-tab
/// channel.
pub(crate) fn build(
    config: Config,
    dialect: Dialect,
    credentials: Credentials,
    provider: Option<CredentialsProvider>,
    options: &Options,
) -> Result<Rc<Shared>, ConfigError> {
    let clock = options
        .clock
        .clone()
        .unwrap_or_else(|| Rc::new(SystemClock));
    // Every URL the engine judges is read by the platform's parser, the one `fetch` uses
    // (docs/ARCHITECTURE.md, "Security rules"): the endpoints here, the allowed origins below.
    let mut dialect = dialect;
    dialect.reread_urls(|given| {
        let given = given.as_str();
        let (href, scheme, host, port) =
            sys::platform_reads(given).ok_or_else(|| ConfigError::invalid_url(given))?;
        EndpointUrl::from_parsed(&href, &scheme, &host, port)
    })?;
    let mut setup = Setup::new(
        config,
        dialect,
        credentials,
        options
            .seed
            .unwrap_or_else(|| (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64),
    );
    setup.provider = provider.is_some();
    setup.persistent = options.storage != crate::Storage::Memory;
    setup.cross_tab = options.cross_tab && Tabs::available();
    setup.key.clone_from(&options.key);
    setup.timeout = options.timeout;
    let mut m = Machine::new(setup)?;
    for origin in &options.allowed_origins {
        let (_, scheme, host, port) =
            sys::platform_reads(origin).ok_or_else(|| ConfigError::invalid_url(origin))?;
        m.allow_origin(&scheme, &host, port)?;
    }
    let key = m.key().to_owned();
    let store = Store::open(options.storage, &key).ok_or(ConfigError::Invalid {
        field: "storage",
        reason: "this storage is not available here (use memory)",
    })?;
    let cross_tab = m.cross_tab();
    let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
        let tabs = if cross_tab {
            let weak = weak.clone();
            let timeout = u32::try_from(options.lock_timeout.as_millis()).unwrap_or(u32::MAX);
            Tabs::open(&key, timeout, move |msg| {
                if let Some(shared) = weak.upgrade() {
                    let msg = Zeroizing::new(msg);
                    input(&shared, |m, now| m.message(now, &msg));
                }
            })
        } else {
            None
        };
        Shared {
            m: RefCell::new(m),
            clock,
            store: RefCell::new(store),
            tabs,
            provider,
            handler: RefCell::new(None),
            slots: RefCell::new(Slots::default()),
            timeout: options.timeout.is_some_and(|t| !t.is_zero()),
            auth_abort: RefCell::new(None),
            lock: RefCell::new(None),
            timer: Cell::new(0),
            timer_waker: RefCell::new(None),
            thrown: RefCell::new(None),
            last_origin: RefCell::new(None),
        }
    });
    let stored = shared.store.borrow_mut().current();
    input(&shared, |m, now| {
        m.restore(now, stored.as_deref().map(String::as_str));
    });
    Ok(shared)
}
