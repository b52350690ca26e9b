//! The keeper's side of a store: the store itself, the counters a metrics renderer reads, the
//! one warning per outage, and the order in which sets are saved.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::AbortHandle;
use tokenkeeper_core::{Event, TokenSet};

use super::{StoreError, TokenStore};

/// What a keeper's token store did, from [`Keeper::store_metrics`](crate::Keeper::store_metrics).
/// Counters only grow.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreMetrics {
    /// Sets adopted from the store (or published by another process) instead of a login or
    /// refresh of this keeper's own.
    pub adopted: u64,
    /// Logins and refreshes performed holding the store's lock.
    pub locked_auth: u64,
    /// Logins and refreshes performed without it: the lock was not had in time, or the store
    /// failed (the engine's single flight still held within this process).
    pub unlocked_auth: u64,
    /// Lock waits that ran out (a holder that does not finish).
    pub lock_timeouts: u64,
    /// Store operations that failed (load, save, lock, watch).
    pub errors: u64,
    /// Sets saved (and clears).
    pub saves: u64,
    /// Whether the last store operation failed (the keeper is carrying on alone).
    pub degraded: bool,
}

/// A save to make: the tokens after an input (`None`: clear), numbered in the order the
/// engine produced them.
#[derive(Debug)]
pub(crate) struct Persist {
    seq: u64,
    tokens: Option<TokenSet>,
}

impl Persist {
    /// The save that `events` ask for, if any: the last `TokensChanged` (store it) or
    /// `SessionExpired` (clear). `seq` must grow with each input.
    pub(crate) fn from_events(events: &[Event], seq: &mut u64) -> Option<Persist> {
        let tokens = events.iter().rev().find_map(|e| match e {
            Event::TokensChanged(t) => Some(Some(t.clone())),
            Event::SessionExpired => Some(None),
            _ => None,
        })?;
        *seq += 1;
        Some(Persist { seq: *seq, tokens })
    }
}

#[derive(Default)]
struct Counters {
    adopted: AtomicU64,
    locked_auth: AtomicU64,
    unlocked_auth: AtomicU64,
    lock_timeouts: AtomicU64,
    errors: AtomicU64,
    saves: AtomicU64,
}

/// A keeper's store and what it keeps about it.
pub(crate) struct StoreHandle {
    pub(crate) store: Arc<dyn TokenStore>,
    /// How long an auth operation waits for the lock before carrying on alone.
    pub(crate) lock_wait: Duration,
    counters: Counters,
    /// Set while the store is failing: one warning per outage.
    degraded: AtomicBool,
    /// The last save made (saves run in the engine's order; an older one is skipped).
    saved: tokio::sync::Mutex<u64>,
    /// The task offering published sets, once started.
    watch: Mutex<Option<AbortHandle>>,
    watch_started: AtomicBool,
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        if let Some(h) = self
            .watch
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            h.abort();
        }
    }
}

impl StoreHandle {
    pub(crate) fn new(store: Arc<dyn TokenStore>, lock_wait: Duration) -> Self {
        StoreHandle {
            store,
            lock_wait,
            counters: Counters::default(),
            degraded: AtomicBool::new(false),
            saved: tokio::sync::Mutex::new(0),
            watch: Mutex::new(None),
            watch_started: AtomicBool::new(false),
        }
    }

    pub(crate) fn metrics(&self) -> StoreMetrics {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreMetrics {
            adopted: g(&c.adopted),
            locked_auth: g(&c.locked_auth),
            unlocked_auth: g(&c.unlocked_auth),
            lock_timeouts: g(&c.lock_timeouts),
            errors: g(&c.errors),
            saves: g(&c.saves),
            degraded: self.degraded.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_adopted(&self) {
        self.counters.adopted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_auth(&self, locked: bool) {
        let c = if locked {
            &self.counters.locked_auth
        } else {
            &self.counters.unlocked_auth
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_lock_timeout(&self) {
        self.counters.lock_timeouts.fetch_add(1, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                wait_ms = self.lock_wait.as_millis() as u64,
                "tokenkeeper: the token store's lock was not had in time (a holder that does not finish); carrying on alone: this process may refresh on its own"
            );
        }
    }

    /// A store operation failed: counted, and a warning at the start of an outage.
    pub(crate) fn failed(&self, e: &StoreError) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if self.degraded.swap(true, Ordering::Relaxed) {
            tracing::debug!(error = %e, "tokenkeeper: the token store failed again");
        } else {
            tracing::warn!(error = %e, "tokenkeeper: the token store failed; carrying on alone (one login or refresh at a time in this process) until it works again");
        }
    }

    /// A store operation worked: the end of an outage, if there was one.
    pub(crate) fn worked(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("tokenkeeper: the token store works again");
        }
    }

    /// Saves `p` unless a later save was already made. Failures are counted, never returned.
    pub(crate) async fn save(&self, p: Persist) {
        let mut saved = self.saved.lock().await;
        if p.seq <= *saved {
            return;
        }
        *saved = p.seq;
        match self.store.save(p.tokens.as_ref()).await {
            Ok(()) => {
                self.counters.saves.fetch_add(1, Ordering::Relaxed);
                self.worked();
            }
            Err(e) => self.failed(&e),
        }
    }

    /// Loads the store; a failure is counted and reads as nothing stored.
    pub(crate) async fn load(&self) -> Result<Option<TokenSet>, ()> {
        match self.store.load().await {
            Ok(t) => {
                self.worked();
                Ok(t)
            }
            Err(e) => {
                self.failed(&e);
                Err(())
            }
        }
    }

    /// Whether the watch task is to be started now (true once).
    pub(crate) fn start_watch_once(&self) -> bool {
        !self.watch_started.load(Ordering::Relaxed)
            && !self.watch_started.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn set_watch(&self, handle: AbortHandle) {
        *self.watch.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }
}
