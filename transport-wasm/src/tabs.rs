//! Cross-tab I/O: the `BroadcastChannel` of the keeper's key, its Web Lock around every login
//! or refresh, the shared `<key>:alive` lock every live keeper holds (so a tab can tell
//! whether another one is there to answer), and the epoch marker `<key>:epoch` in
//! `localStorage`. What the tabs say is [`crate::crosstab::Message`]; what to do when is the
//! machine's.

use std::cell::RefCell;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent, Storage as WebStorage};

use crate::sys::{self, LockManager};

/// The channel, the lock manager and the epoch marker of one keeper key.
pub(crate) struct Tabs {
    channel: BroadcastChannel,
    locks: LockManager,
    lock_name: String,
    marker: Option<WebStorage>,
    marker_key: String,
    lock_timeout_ms: u32,
    alive_name: String,
    /// The shared `<key>:alive` lock, held while this keeper lives.
    _presence: Option<LockGuard>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    /// The keys of the live keepers of this page (their presence locks are not other tabs).
    static LOCAL_KEYS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Holds a Web Lock until dropped.
pub(crate) struct LockGuard {
    release: Function,
    /// The callback `request` calls on grant; kept alive while the request may call it.
    callback: Closure<dyn FnMut(JsValue) -> Promise>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

impl Tabs {
    /// Whether this global has Web Locks and `BroadcastChannel` (not Node 20, nor old
    /// browsers: the keeper then keeps single flight within the page).
    pub(crate) fn available() -> bool {
        sys::lock_manager().is_some() && sys::global("BroadcastChannel").is_some()
    }

    /// Opens the channel for `key`, or `None` where Web Locks or `BroadcastChannel` are
    /// missing.
    pub(crate) fn open(
        key: &str,
        lock_timeout_ms: u32,
        mut on_message: impl FnMut(String) + 'static,
    ) -> Option<Self> {
        let locks = sys::lock_manager()?;
        sys::global("BroadcastChannel")?;
        let channel = BroadcastChannel::new(key).ok()?;
        let cb = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(s) = ev.data().as_string() {
                on_message(s);
            }
        });
        channel.set_onmessage(Some(cb.as_ref().unchecked_ref()));
        let alive_name = format!("{key}:alive");
        let presence = hold_shared(&locks, &alive_name);
        LOCAL_KEYS.with(|k| k.borrow_mut().push(key.to_owned()));
        Some(Tabs {
            channel,
            locks,
            lock_name: key.to_owned(),
            marker: sys::storage("localStorage"),
            marker_key: format!("{key}:epoch"),
            lock_timeout_ms,
            alive_name,
            _presence: presence,
            _on_message: cb,
        })
    }

    /// Whether a keeper of this key lives in another tab (or worker). `true` when the Web
    /// Locks snapshot cannot be had.
    pub(crate) async fn others_alive(&self) -> bool {
        let Ok(query) = self.locks.query() else {
            return true;
        };
        let Ok(snapshot) = JsFuture::from(query).await else {
            return true;
        };
        let Some(held) = sys::prop(&snapshot, "held") else {
            return true;
        };
        let alive = Array::from(&held)
            .iter()
            .filter(|l| {
                sys::prop(l, "name").and_then(|n| n.as_string()).as_deref()
                    == Some(&self.alive_name)
            })
            .count();
        let here = LOCAL_KEYS.with(|k| k.borrow().iter().filter(|k| **k == self.lock_name).count());
        alive > here
    }

    /// Posts a message (an encoded [`crate::crosstab::Message`]) to the other tabs.
    pub(crate) fn post(&self, message: &str) {
        let _ = self.channel.post_message(&JsValue::from_str(message));
    }

    /// Writes (or removes) the epoch marker.
    pub(crate) fn mark(&self, epoch: Option<u64>) {
        if let Some(m) = &self.marker {
            let _ = match epoch {
                Some(t) => m.set_item(&self.marker_key, &t.to_string()),
                None => m.remove_item(&self.marker_key),
            };
        }
    }

    /// The epoch marker, as written.
    pub(crate) fn epoch(&self) -> Option<String> {
        self.marker.as_ref()?.get_item(&self.marker_key).ok()?
    }

    /// Takes the exclusive lock for this key. `None` when it could not be had within the
    /// timeout (a hung tab): the caller goes on without it rather than wait forever.
    pub(crate) async fn lock(&self) -> Option<LockGuard> {
        let mut release = None;
        let released = Promise::new(&mut |resolve, _| release = Some(resolve));
        let mut grant = None;
        let granted = Promise::new(&mut |resolve, _| grant = Some(resolve));
        let (release, grant) = (release?, grant?);
        let cb = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock: JsValue| {
            let _ = grant.call0(&JsValue::UNDEFINED);
            released.clone()
        });
        let options = match sys::global("AbortSignal").and_then(|a| sys::prop(&a, "timeout")) {
            Some(_) => sys::object(&[(
                "signal",
                web_sys::AbortSignal::timeout_with_u32(self.lock_timeout_ms).into(),
            )]),
            None => js_sys::Object::new(),
        };
        let guard = LockGuard {
            release,
            callback: cb,
        };
        let requested = self
            .locks
            .request(
                &self.lock_name,
                &options,
                guard.callback.as_ref().unchecked_ref(),
            )
            .ok()?;
        // Resolves once the lock is released (after our callback's promise), rejects with an
        // AbortError when the timeout fires first.
        sys::ignore_rejection(&requested);
        JsFuture::from(Promise::race(&Array::of2(&granted, &requested)))
            .await
            .ok()
            .map(|_| guard)
    }
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
        LOCAL_KEYS.with(|k| {
            let mut k = k.borrow_mut();
            if let Some(at) = k.iter().position(|k| *k == self.lock_name) {
                k.swap_remove(at);
            }
        });
    }
}

/// Requests a shared lock and holds it until the guard is dropped.
fn hold_shared(locks: &LockManager, name: &str) -> Option<LockGuard> {
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let callback =
        Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock: JsValue| held.clone());
    let options = sys::object(&[("mode", JsValue::from_str("shared"))]);
    let requested = locks
        .request(name, &options, callback.as_ref().unchecked_ref())
        .ok()?;
    sys::ignore_rejection(&requested);
    Some(LockGuard {
        release: release?,
        callback,
    })
}
