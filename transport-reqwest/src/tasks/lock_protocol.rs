//! The store's part of a login or refresh, in the order the engine's lock protocol asks for
//! (see `core/README.md`, "Tokens shared between tabs, processes or machines"): look, lock,
//! look again, ask the gate; then, once the outcome is reported, save and release. Also the
//! saves of other inputs and the task that offers sets other processes publish.
//!
//! Nothing here decides which tokens win or whether to send: `offer_tokens` and `auth_gate`
//! do. This file only does the I/O and bounds the waits.

use std::sync::Arc;

use futures::StreamExt as _;
use futures::future::{AbortHandle, Abortable};
use tokenkeeper_core::{AuthGate, AuthId, TokenSet};

use super::carry_out;
use crate::state::Shared;
use crate::store::StoreLock;
use crate::store::handle::{Persist, StoreHandle};

/// What the auth task does after the store's part.
pub(crate) enum Before {
    /// Perform the request; hold the lock (if had) until the new tokens are saved.
    Send(Option<StoreLock>),
    /// The operation ended (tokens were adopted from the store, or it was dropped): report
    /// nothing.
    Ended,
}

/// The steps before an auth request: with a store, take its lock and let the engine adopt
/// what it holds; without one, send at once.
pub(crate) async fn before(shared: &Arc<Shared>, op: AuthId) -> Before {
    let Some(store) = &shared.store else {
        return Before::Send(None);
    };
    // 1. Look without the lock: a set stored by another process (or before a restart) may
    //    make the operation unnecessary. A store that cannot be read may still lock (a
    //    damaged file: the save below replaces it); one that cannot lock either is left.
    let _ = look(shared, store).await;
    if !is_current(shared, op) {
        return Before::Ended;
    }
    // 2. Take the lock, looking at the store while another process holds it. The wait is
    //    measured on the keeper's clock (tests move it); the pauses between tries are real.
    let deadline = shared.clock.now().saturating_add(store.lock_wait);
    let lock = loop {
        match store.store.try_lock().await {
            Ok(Some(lock)) => break lock,
            Ok(None) => {}
            Err(e) => {
                store.failed(&e);
                return alone(shared, store, op);
            }
        }
        if shared.clock.now() >= deadline {
            store.count_lock_timeout();
            return alone(shared, store, op);
        }
        tokio::time::sleep(store.store.poll_interval()).await;
        let _ = look(shared, store).await;
        if !is_current(shared, op) {
            return Before::Ended;
        }
    };
    // 3. Holding it, look again: the holder before us saved its tokens before releasing.
    let _ = look(shared, store).await;
    // 4. The engine's gate.
    loop {
        let now = shared.clock.now();
        let gate = shared.read(|s| s.auth_gate(now, op));
        match gate {
            AuthGate::Drop => {
                lock.release().await;
                return Before::Ended;
            }
            // A peer holds newer tokens than this session has seen. These stores hold the
            // whole set, which was just read: wait for the gate's deadline, read again.
            AuthGate::AskPeer { until } => {
                shared.clock.sleep_until(until).await;
                let _ = look(shared, store).await;
            }
            _ => {
                store.count_auth(true);
                return Before::Send(Some(lock));
            }
        }
    }
}

/// The steps after the outcome was reported: save the new tokens (before anyone else may
/// take the lock), then release it.
pub(crate) async fn after(shared: &Arc<Shared>, persist: Option<Persist>, lock: Option<StoreLock>) {
    if let (Some(store), Some(p)) = (&shared.store, persist) {
        store.save(p).await;
    }
    if let Some(lock) = lock {
        lock.release().await;
    }
}

/// Carries on without the store's lock (the engine's single flight still holds in this
/// process), unless the operation ended meanwhile.
fn alone(shared: &Shared, store: &StoreHandle, op: AuthId) -> Before {
    if !is_current(shared, op) {
        return Before::Ended;
    }
    store.count_auth(false);
    Before::Send(None)
}

fn is_current(shared: &Shared, op: AuthId) -> bool {
    shared.lock().driver.is_current_auth(op)
}

/// Loads the store and offers what it holds to the engine. `Err` when the store failed.
async fn look(shared: &Arc<Shared>, store: &StoreHandle) -> Result<(), ()> {
    if let Some(set) = store.load().await? {
        offer(shared, store, set);
    }
    Ok(())
}

/// Offers a set to the engine (which adopts it only if it is newer and usable).
fn offer(shared: &Arc<Shared>, store: &StoreHandle, set: TokenSet) -> bool {
    let (adopted, jobs) = shared.locked(|st, now, work| {
        st.driver
            .input(now, work, |s, now| s.offer_tokens(now, set))
    });
    carry_out(shared, jobs);
    if adopted {
        tracing::debug!("tokenkeeper: adopted tokens from the token store");
        store.count_adopted();
    }
    adopted
}

/// Saves what an input outside an auth operation asked to save (a logout, a refresh token
/// dropped), on a task of its own; outside a runtime the save is skipped and counted.
pub(crate) fn spawn_save(store: &Arc<StoreHandle>, p: Persist) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let store = Arc::clone(store);
        rt.spawn(async move { store.save(p).await });
    } else {
        tracing::debug!("tokenkeeper: no tokio runtime here; token store save skipped");
    }
}

/// Starts, once, the task that offers the sets other processes publish (stores that watch).
/// It holds the keeper weakly and is aborted when the keeper goes away.
pub(crate) fn start_watch(shared: &Arc<Shared>) {
    let Some(store) = &shared.store else { return };
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if !store.start_watch_once() {
        return;
    }
    let Some(mut stream) = store.store.watch() else {
        return;
    };
    let weak = Arc::downgrade(shared);
    let (handle, registration) = AbortHandle::new_pair();
    store.set_watch(handle);
    let task = async move {
        while let Some(item) = stream.next().await {
            let Some(shared) = weak.upgrade() else { break };
            let Some(store) = &shared.store else { break };
            match item {
                Ok(set) => {
                    store.worked();
                    offer(&shared, store, set);
                }
                Err(e) => store.failed(&e),
            }
        }
    };
    rt.spawn(Abortable::new(task, registration));
}
