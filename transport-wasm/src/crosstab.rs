//! Cross-tab single flight: a Web Lock around every login or refresh, and a
//! `BroadcastChannel` that hands new tokens to the other tabs of the origin.
//!
//! Messages are strings: `s<json>` (a token set, after a login or refresh, or in answer to an
//! ask), `a` (ask: "send me your tokens", from a new tab or one whose lock found that another
//! tab got newer tokens) and `c` (clear: an explicit logout). A tab that obtains tokens also
//! writes their `issued_at` (never the tokens) to `localStorage` under `<key>:epoch`, so a tab
//! that takes the lock next can tell it missed a broadcast and wait briefly for it. Every live
//! keeper holds a shared Web Lock `<key>:alive` for its lifetime, so that wait happens only
//! when another tab is there to answer (not after a reload that left a marker behind).

use std::cell::RefCell;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent, Storage as WebStorage};

use tokenkeeper_core::TokenSet;

use crate::sys::{self, LockManager};

/// The channel, the lock manager and the epoch marker of one keeper key.
pub(crate) struct CrossTab {
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

impl CrossTab {
    /// Opens the channel for `key`, or `None` where Web Locks or `BroadcastChannel` are
    /// missing (Node 20, old browsers): the keeper then keeps single flight within the page.
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
        Some(CrossTab {
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

    /// Hands a freshly obtained set (`raw`, its JSON) to the other tabs and records its epoch.
    pub(crate) fn publish(&self, set: &TokenSet, raw: &str) {
        self.send_set(raw);
        if let Some(m) = &self.marker {
            let _ = m.set_item(&self.marker_key, &set.issued_at.as_millis().to_string());
        }
    }

    /// Sends a set to the other tabs (an answer to an ask, or a publication).
    pub(crate) fn send_set(&self, raw: &str) {
        let mut msg = String::with_capacity(raw.len() + 1);
        msg.push('s');
        msg.push_str(raw);
        let _ = self.channel.post_message(&JsValue::from_str(&msg));
    }

    /// Asks the other tabs for their tokens.
    pub(crate) fn ask(&self) {
        let _ = self.channel.post_message(&JsValue::from_str("a"));
    }

    /// Tells the other tabs to forget their tokens (explicit logout).
    pub(crate) fn clear(&self) {
        let _ = self.channel.post_message(&JsValue::from_str("c"));
        if let Some(m) = &self.marker {
            let _ = m.remove_item(&self.marker_key);
        }
    }

    /// `issued_at` (ms) of the newest set any tab obtained from the server, if recorded.
    pub(crate) fn peer_epoch(&self) -> Option<u64> {
        self.marker
            .as_ref()?
            .get_item(&self.marker_key)
            .ok()??
            .parse()
            .ok()
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

impl Drop for CrossTab {
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
