//! The driver's shared state and its one rule: every input to the engine goes through
//! [`input`], which applies it, drains the engine's actions, re-arms the timer and then (with no
//! borrow held) tells the event handler.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Waker;
use std::time::Duration;

use http::HeaderValue;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{
    Action, AuthId, Config, ConfigError, Error, Event, ExchangeId, Session, TimerKind, Timestamp,
    TokenSet,
};

use crate::crosstab::CrossTab;
use crate::store::{self, Storage, Store};
use crate::sys;

/// What a credentials provider returns: the credentials, or the JS value it failed with.
pub type CredentialsFuture = Pin<Box<dyn Future<Output = Result<Credentials, JsValue>>>>;

/// Supplies credentials when the keeper needs them (a login form, a secrets store).
pub type CredentialsProvider = Rc<dyn Fn() -> CredentialsFuture>;

/// How a keeper stores tokens and cooperates with other tabs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Where tokens are kept (memory by default).
    pub storage: Storage,
    /// Cross-tab single flight (Web Locks + `BroadcastChannel`) where the page has them.
    /// On by default; without those APIs (Node) single flight is per keeper.
    pub cross_tab: bool,
    /// The storage key, lock name and channel name. Default: derived from the dialect, the
    /// token URL and the username or client id, so two identities never share tokens.
    pub key: Option<String>,
    /// How long to wait for another tab's login or refresh before going ahead without the lock.
    pub lock_timeout: Duration,
    /// More origins (`https://api.example.com`) that may receive the access token; the token
    /// endpoint's origin always may. Requests to other origins are plain `fetch` calls.
    pub allowed_origins: Vec<String>,
    /// Seed for the engine's jitter (default: `Math.random()`).
    pub seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: Storage::Memory,
            cross_tab: true,
            key: None,
            lock_timeout: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            seed: None,
        }
    }
}

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
    /// `set_tokens` or `logout` (then its task must not send or report it).
    pub(crate) current_auth: Option<AuthId>,
    pub(crate) store: Store,
    pub(crate) cross: Option<Rc<CrossTab>>,
    pub(crate) provider: Option<Provider>,
    timer: Timer,
    events: Vec<Event>,
    pub(crate) handler: Option<Handler>,
    /// The last origin checked and the answer (most pages talk to one API origin).
    last_origin: Option<(String, bool)>,
}

/// The user's event handler.
pub(crate) type Handler = Rc<dyn Fn(&Event)>;

/// The shared handle every task holds.
pub(crate) type Shared = Rc<RefCell<Inner>>;

/// Applies one input at `now`, drains the engine and re-arms the timer, then reports the
/// events to the handler once the state is no longer borrowed (so it may call back in).
pub(crate) fn input<R>(shared: &Shared, f: impl FnOnce(&mut Inner, Timestamp) -> R) -> R {
    let now = sys::now();
    let (result, events, handler) = {
        let mut inner = shared.borrow_mut();
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
    /// Does what each queued action says (DESIGN §2.1): wake the exchange, start the auth
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
                    wasm_bindgen_futures::spawn_local(crate::auth::run(shared.clone(), request));
                }
                Action::Event(event) => {
                    self.persist(&event);
                    self.events.push(event);
                }
                _ => {}
            }
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

    /// Whether the token may be sent to `origin` (`scheme://host[:port]`), as the engine says.
    pub(crate) fn allows_origin(&mut self, origin: &str) -> bool {
        if let Some((last, answer)) = &self.last_origin
            && last == origin
        {
            return *answer;
        }
        let answer = crate::exchange::split_origin(origin)
            .is_some_and(|(scheme, host, port)| self.session.allows(scheme, host, port));
        self.last_origin = Some((origin.to_owned(), answer));
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

/// A keeper's identity for storage, locks and channels: a short hash of what identifies it.
fn default_key(dialect: &Dialect, who: &str) -> String {
    let url = dialect
        .login
        .as_ref()
        .or(dialect.refresh.as_ref())
        .map(|e| e.url.to_string())
        .unwrap_or_default();
    // FNV-1a: stable across builds and tabs; the key is a name, not a secret.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dialect
        .name
        .bytes()
        .chain([0])
        .chain(url.bytes())
        .chain([0])
        .chain(who.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("tokenkeeper:{h:016x}")
}

/// Who the credentials identify, for the default key: the username, else the client id.
fn identity(dialect: &Dialect, credentials: &Credentials) -> String {
    if let Some(u) = &credentials.username {
        return u.clone();
    }
    match dialect.login.as_ref().map(|e| &e.client_auth) {
        Some(ClientAuth::Basic { client_id, .. } | ClientAuth::Body { client_id, .. }) => {
            client_id.clone()
        }
        _ => String::new(),
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
    let key = options
        .key
        .clone()
        .unwrap_or_else(|| default_key(&dialect, &identity(&dialect, &credentials)));
    let seed = options
        .seed
        .unwrap_or_else(|| (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64);
    let mut session = Session::new(config, dialect, credentials, seed)?;
    for origin in &options.allowed_origins {
        session.allow_origin(origin)?;
    }
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
        RefCell::new(Inner {
            session,
            slots: Slots::default(),
            current_auth: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vg(url: &str) -> Dialect {
        Dialect::vitalgraph(url).unwrap()
    }

    #[test]
    fn default_keys_separate_identities_and_are_stable() {
        let a = default_key(&vg("https://vg.example.com"), "alice");
        assert_eq!(
            a,
            default_key(&vg("https://vg.example.com/"), "alice"),
            "same identity, same key"
        );
        assert_ne!(a, default_key(&vg("https://vg.example.com"), "bob"));
        assert_ne!(a, default_key(&vg("https://other.example.com"), "alice"));
        assert!(a.starts_with("tokenkeeper:") && a.len() == "tokenkeeper:".len() + 16);
        assert!(
            !a.contains("alice"),
            "the key does not spell out the username"
        );
    }

    #[test]
    fn identity_is_the_username_else_the_client_id() {
        let d = Dialect::oauth2_client_credentials(
            "https://auth.example.com/token",
            ClientAuth::Body {
                client_id: "app".into(),
                client_secret: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(identity(&d, &Credentials::none()), "app");
        assert_eq!(identity(&d, &Credentials::password("u", "p")), "u");
    }
}
