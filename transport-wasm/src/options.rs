//! How a keeper is configured beyond the engine: [`Options`] and the credentials provider's
//! type.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::JsValue;

use tokenkeeper_core::dialect::Credentials;

use crate::clock::Clock;
use crate::store::Storage;

/// What a credentials provider returns: the credentials, or the JS value it failed with.
pub type CredentialsFuture = Pin<Box<dyn Future<Output = Result<Credentials, JsValue>>>>;

/// Supplies credentials when the keeper needs them (a login form, a secrets store).
pub type CredentialsProvider = Rc<dyn Fn() -> CredentialsFuture>;

/// How a keeper stores tokens, cooperates with other tabs, and keeps time.
#[derive(Clone)]
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
    /// endpoint's origin always may. Each is read with the platform's URL parser, as request
    /// URLs are (`http://127.1:8080` means `http://127.0.0.1:8080`; a path is ignored).
    /// Requests to other origins are plain `fetch` calls.
    pub allowed_origins: Vec<String>,
    /// How long one attempt of a request may wait for its response headers before it fails
    /// as a transport failure (resent if idempotent). Default: none.
    pub timeout: Option<Duration>,
    /// Seed for the engine's jitter (default: `Math.random()`).
    pub seed: Option<u64>,
    /// The clock: [`SystemClock`](crate::SystemClock) by default; a
    /// [`ManualClock`](crate::ManualClock) in tests.
    pub clock: Option<Rc<dyn Clock>>,
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("storage", &self.storage)
            .field("cross_tab", &self.cross_tab)
            .field("key", &self.key)
            .field("lock_timeout", &self.lock_timeout)
            .field("allowed_origins", &self.allowed_origins)
            .field("timeout", &self.timeout)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: Storage::Memory,
            cross_tab: true,
            key: None,
            lock_timeout: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            timeout: None,
            seed: None,
            clock: None,
        }
    }
}
