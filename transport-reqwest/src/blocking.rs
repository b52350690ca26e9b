//! A blocking client for synchronous programs: every thread shares the keeper's one session.
//!
//! The client owns a small multi-thread tokio runtime (two workers). Each call runs the async
//! request on that runtime and blocks the calling thread until it ends, so it works from any
//! thread, including one inside another async runtime (where it does not panic, unlike
//! `Runtime::block_on`, but it does block that runtime's worker: prefer the async
//! [`Client`](crate::Client) there). Do not call it from an [`on_event`](crate::KeeperBuilder::on_event)
//! hook, which may run on this runtime.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{IntoUrl, Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokenkeeper_core::{Metrics, TokenSet};

use crate::error::Error;
use crate::keeper::{Keeper, KeeperBuilder};

impl Keeper {
    /// A blocking client for synchronous programs (it starts a small runtime of its own).
    pub fn blocking(&self) -> Result<Client, Error> {
        Client::new(self.clone())
    }
}

impl KeeperBuilder {
    /// Builds the keeper and a [`blocking::Client`](Client) for it.
    pub fn build_blocking(self) -> Result<Client, Error> {
        self.build()?.blocking()
    }
}

/// The runtime, shut down in the background when the last user goes (dropping a runtime
/// inside another runtime would panic).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Runtime {
    /// Enters the runtime's context (so tasks spawned meanwhile run on it).
    fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.0.as_ref().map(tokio::runtime::Runtime::enter)
    }

    /// Runs `fut` on the runtime and waits for it on this thread.
    fn run<F>(&self, fut: F) -> Result<F::Output, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self
            .0
            .as_ref()
            .ok_or(Error::Internal("the blocking runtime is gone"))?;
        let task = rt.spawn(fut);
        match futures::executor::block_on(task) {
            Ok(out) => Ok(out),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Internal(
                "the blocking runtime shut down during the request",
            )),
        }
    }
}

/// A blocking HTTP client that keeps the bearer token valid; clone it freely across threads
/// (they share one session, so 50 threads at expiry cause one refresh).
///
/// Made with [`Keeper::blocking`] or [`KeeperBuilder::build_blocking`](crate::KeeperBuilder::build_blocking).
#[derive(Clone)]
pub struct Client {
    keeper: Keeper,
    api: crate::Client,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A blocking client for `keeper`, with a runtime of its own.
    pub fn new(keeper: Keeper) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tokenkeeper-blocking")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Builder(format!("cannot start the blocking client's runtime: {e}"))
            })?;
        Ok(Client {
            api: keeper.client(),
            keeper,
            rt: Arc::new(Runtime(Some(rt))),
        })
    }

    crate::builder_macros::method_shorthands!(RequestBuilder);

    /// A request with any method.
    pub fn request<U: IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder {
            // Owned: the request runs as a task on the client's runtime.
            inner: self.api.request(method, url).into_owned(),
            rt: Arc::clone(&self.rt),
        }
    }

    /// Sends a request built elsewhere.
    pub fn execute(&self, request: reqwest::Request) -> Result<Response, Error> {
        let client = self.api.clone();
        let inner = self
            .rt
            .run(async move { client.execute(request).await })??;
        Ok(Response {
            inner,
            rt: Arc::clone(&self.rt),
        })
    }

    /// Logs in now (see [`Keeper::login`]).
    pub fn login(&self) -> Result<(), Error> {
        let keeper = self.keeper.clone();
        self.rt.run(async move { keeper.login().await })?
    }

    /// Forgets the tokens (see [`Keeper::logout`]).
    pub fn logout(&self) {
        let _runtime = self.rt.enter();
        self.keeper.logout();
    }

    /// A snapshot of the counters and token state.
    pub fn metrics(&self) -> Metrics {
        self.keeper.metrics()
    }

    /// The tokens in use, if any.
    pub fn tokens(&self) -> Option<TokenSet> {
        self.keeper.tokens()
    }

    /// Installs tokens obtained elsewhere (see [`Keeper::set_tokens`]).
    pub fn set_tokens(&self, tokens: TokenSet) -> Result<(), Error> {
        // Inside the runtime, so a refresh this starts runs at once.
        let _runtime = self.rt.enter();
        self.keeper.set_tokens(tokens)
    }

    /// The keeper (to make an async client or a middleware sharing this session).
    pub fn keeper(&self) -> &Keeper {
        &self.keeper
    }
}

/// A blocking request being built; see [`crate::RequestBuilder`].
pub struct RequestBuilder {
    inner: crate::RequestBuilder<'static>,
    rt: Arc<Runtime>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::RequestBuilder")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    crate::builder_macros::builder_methods!();

    /// Sends the request and blocks until the response headers arrive (or it fails).
    pub fn send(self) -> Result<Response, Error> {
        let RequestBuilder { inner, rt } = self;
        let response = rt.run(inner.send())??;
        Ok(Response {
            inner: response,
            rt,
        })
    }

    fn map(
        self,
        f: impl FnOnce(crate::RequestBuilder<'static>) -> crate::RequestBuilder<'static>,
    ) -> Self {
        RequestBuilder {
            inner: f(self.inner),
            rt: self.rt,
        }
    }
}

/// A response whose body is read by blocking.
pub struct Response {
    inner: reqwest::Response,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Response")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The final URL (after redirects).
    pub fn url(&self) -> &Url {
        self.inner.url()
    }

    /// The body as text.
    pub fn text(self) -> Result<String, Error> {
        let inner = self.inner;
        Ok(self.rt.run(inner.text())??)
    }

    /// The body as bytes.
    pub fn bytes(self) -> Result<bytes::Bytes, Error> {
        let inner = self.inner;
        Ok(self.rt.run(inner.bytes())??)
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned + Send + 'static>(self) -> Result<T, Error> {
        let inner = self.inner;
        Ok(self.rt.run(inner.json::<T>())??)
    }

    /// An error if the status is 4xx or 5xx.
    pub fn error_for_status(self) -> Result<Self, Error> {
        let Response { inner, rt } = self;
        Ok(Response {
            inner: inner.error_for_status()?,
            rt,
        })
    }

    /// The async response (to read the body as a stream, say).
    pub fn into_async(self) -> reqwest::Response {
        self.inner
    }
}
