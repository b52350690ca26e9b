//! [`MemoryStore`]: tokens and a lock in this process's memory, shared by the keepers given
//! clones of it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use tokenkeeper_core::TokenSet;

use super::{HeldLock, StoreError, StoreLock, TokenStore};

/// A store in memory: keepers of one process that share an identity share one clone of it
/// (one refresh per expiry between them). Nothing outlives the process. Without any store a
/// keeper keeps its tokens in its own session, which is the default.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    tokens: Mutex<Option<TokenSet>>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.tokens().is_some();
        f.debug_struct("MemoryStore")
            .field("holds_tokens", &held)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The tokens stored (a copy).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Dropping it unlocks.
struct Held {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl HeldLock for Held {
    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move { drop(self) })
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        Ok(self.tokens())
    }

    async fn save(&self, tokens: Option<&TokenSet>) -> Result<(), StoreError> {
        let mut held = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match tokens {
            // Never replace a newer set with an older one.
            Some(t) if held.as_ref().is_some_and(|h| h.issued_at > t.issued_at) => {}
            Some(t) => *held = Some(t.clone()),
            None => *held = None,
        }
        Ok(())
    }

    async fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        Ok(Arc::clone(&self.inner.lock)
            .try_lock_owned()
            .ok()
            .map(|g| StoreLock::new(Held { _guard: g })))
    }
}
