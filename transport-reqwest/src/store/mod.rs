//! Token stores: where a keeper keeps its tokens beyond its own memory, so that processes (or
//! keepers) sharing one identity share its tokens and make one refresh per expiry between
//! them, and a restarted process does not log in again while its tokens are valid.
//!
//! A [`TokenStore`] does three things: [`load`](TokenStore::load) the tokens stored,
//! [`save`](TokenStore::save) a set (or clear them), and take an exclusive lock around a login
//! or refresh ([`try_lock`](TokenStore::try_lock); dropping the [`StoreLock`] releases it).
//! Stores may also [`watch`](TokenStore::watch) for sets that other processes publish.
//!
//! | store | shared by | lock | new tokens reach the others |
//! |---|---|---|---|
//! | none (the default) | one keeper | the engine's single flight | — |
//! | [`MemoryStore`] | keepers of one process (clones share) | an in-process mutex | when they next look (at their refresh margin) |
//! | [`FileStore`] | processes on one machine | `flock` on `<path>.lock`, released by the OS when a holder dies | when they next look |
//! | `RedisStore` (feature `redis`) | processes anywhere | `SET NX PX` with an owner token, renewed while held | published at once (`PUBLISH`) |
//!
//! # What the keeper does with a store
//!
//! Every decision is the engine's ([`Session::offer_tokens`](tokenkeeper_core::Session::offer_tokens)
//! and [`Session::auth_gate`](tokenkeeper_core::Session::auth_gate), see the engine's
//! README); the keeper only sequences the I/O around each login or refresh:
//!
//! 1. load the store without the lock and offer what it holds (a process that starts with
//!    valid tokens stored adopts them and never logs in);
//! 2. take the store's lock, trying again every [`TokenStore::poll_interval`] and looking
//!    at the store meanwhile, for at most the keeper's lock wait
//!    ([`KeeperBuilder::store_lock_wait`](crate::KeeperBuilder::store_lock_wait));
//! 3. holding it, load and offer again: a set another process obtained while this one
//!    waited ends the operation (the engine adopts it; no request is sent);
//! 4. ask the engine's gate, perform the request, report the outcome;
//! 5. save the new tokens (`Event::TokensChanged`), then release the lock.
//!
//! A store that fails or a lock that cannot be had in time never fails a request: the keeper
//! carries on alone (the engine's single flight still holds within the process), logs a
//! warning once per outage and counts it in [`Keeper::store_metrics`](crate::Keeper::store_metrics).
//! Sets are always stored with absolute times ([`TokenSet`]), never a bare `expires_in`.

mod codec;
mod error;
mod file;
pub(crate) mod handle;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::Stream;
use tokenkeeper_core::TokenSet;

pub use error::StoreError;
pub use file::FileStore;
pub use handle::StoreMetrics;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};

/// Sets published by other processes, as a store's [`watch`](TokenStore::watch) yields them
/// (an error when the watch broke; the store reconnects by itself and goes on).
pub type TokenStream = Pin<Box<dyn Stream<Item = Result<TokenSet, StoreError>> + Send>>;

/// Where a keeper loads, saves and locks its tokens (see the [module docs](self)).
///
/// Implementations must be cheap to call concurrently, keep their own I/O bounded in time
/// (an operation that hangs holds up the login or refresh it belongs to), and never put a
/// token in an error message or a log.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The tokens stored, if any.
    async fn load(&self) -> Result<Option<TokenSet>, StoreError>;

    /// Stores `tokens`, replacing what is stored, or clears the store (`None`: logout, session
    /// expired). A store may keep a newer set instead of an older one (compared by
    /// `issued_at`).
    async fn save(&self, tokens: Option<&TokenSet>) -> Result<(), StoreError>;

    /// Takes the store's exclusive lock if it is free: `Ok(None)` when another process (or
    /// keeper) holds it. The keeper tries again every [`poll_interval`](Self::poll_interval).
    async fn try_lock(&self) -> Result<Option<StoreLock>, StoreError>;

    /// How long the keeper waits between two [`try_lock`](Self::try_lock) calls (default
    /// 10 ms).
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(10)
    }

    /// Sets other processes save, as they save them, if the store can publish them (the keeper
    /// offers each to its engine). `None` (the default): the keeper sees others' sets when it
    /// next loads.
    fn watch(&self) -> Option<TokenStream> {
        None
    }
}

#[async_trait::async_trait]
impl<S: TokenStore + ?Sized> TokenStore for Arc<S> {
    async fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        (**self).load().await
    }

    async fn save(&self, tokens: Option<&TokenSet>) -> Result<(), StoreError> {
        (**self).save(tokens).await
    }

    async fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        (**self).try_lock().await
    }

    fn poll_interval(&self) -> Duration {
        (**self).poll_interval()
    }

    fn watch(&self) -> Option<TokenStream> {
        (**self).watch()
    }
}

/// What releases a held lock (implemented by each store).
pub trait HeldLock: Send + 'static {
    /// Releases the lock. The future is spawned (or dropped, outside a runtime) when the
    /// [`StoreLock`] is dropped without [`StoreLock::release`].
    fn release(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// A store's exclusive lock, held until [`release`](StoreLock::release)d or dropped.
pub struct StoreLock(Option<Box<dyn HeldLock>>);

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreLock")
            .field("held", &self.0.is_some())
            .finish()
    }
}

impl StoreLock {
    /// A lock released by `held`.
    pub fn new(held: impl HeldLock) -> Self {
        StoreLock(Some(Box::new(held)))
    }

    /// Releases the lock now.
    pub async fn release(mut self) {
        if let Some(h) = self.0.take() {
            h.release().await;
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let release = h.release();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn(release)),
                // No runtime: what the future owns (a file, a guard) is released as it drops.
                Err(_) => drop(release),
            }
        }
    }
}
