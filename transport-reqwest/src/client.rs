//! [`Client`] and [`RequestBuilder`]: reqwest's familiar surface, with the token kept valid.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use reqwest::{IntoUrl, Method, Request, Response};

use crate::error::Error;
use crate::exchange::{self, Leased, Outcome, Route, Settled, Transport};
use crate::keeper::Keeper;

/// An async HTTP client that attaches the bearer token to requests for allowed origins,
/// refreshes it before it expires, and refreshes and resends once after a 401.
///
/// Made with [`Keeper::client`]; cheap to clone. Requests go through the keeper's base
/// `reqwest::Client`.
///
/// Buffered bodies (`json`, `form`, `text`, bytes) are replayed when a request is resent. A
/// streaming body (`reqwest::Body::wrap_stream`, reqwest feature `stream`) is sent once: a 401
/// or 503 for it is delivered to the caller as is (after a 401 the token counts as rejected,
/// so the next request refreshes first).
#[derive(Clone)]
pub struct Client {
    pub(crate) keeper: Keeper,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    crate::client::method_shorthands!(RequestBuilder<'_>);

    /// A request with any method. The builder borrows the client (see
    /// [`RequestBuilder::into_owned`] for one that does not).
    pub fn request<U: IntoUrl>(&self, method: Method, url: U) -> RequestBuilder<'_> {
        RequestBuilder {
            client: ClientRef::Borrowed(self),
            inner: self.keeper.shared.base.request(method, url),
        }
    }

    /// Sends a request built elsewhere (any `Authorization` header it has is replaced for
    /// allowed origins).
    pub fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Error>> + Send + '_ {
        Sending::new(ClientRef::Borrowed(self), Ok(request), execute)
    }

    /// The keeper this client belongs to.
    pub fn keeper(&self) -> &Keeper {
        &self.keeper
    }
}

/// What the caller gets for the way an exchange ended.
fn result(outcome: Outcome<reqwest::Error>) -> Result<Response, Error> {
    match outcome {
        Outcome::Response(r) | Outcome::PassThrough(Ok(r)) => Ok(r),
        Outcome::PassThrough(Err(e)) => Err(Error::Http(e)),
        Outcome::Failed { engine, last_error } => Err(failed(engine, last_error)),
        Outcome::Internal(what) => Err(Error::Internal(what)),
    }
}

/// The error for an exchange the engine failed, keeping the reqwest error of a transport
/// failure.
fn failed(engine: tokenkeeper_core::Error, last_error: Option<reqwest::Error>) -> Error {
    match (engine, last_error) {
        (engine @ tokenkeeper_core::Error::Transport { .. }, Some(source)) => {
            Error::Transport { engine, source }
        }
        (engine, _) => Error::Engine(engine),
    }
}

/// The base client's `execute`, named so that [`Sending`] can hold its future.
fn execute(
    base: &reqwest::Client,
    request: Request,
) -> impl Future<Output = Result<Response, reqwest::Error>> + Send + Unpin + use<> {
    base.execute(request)
}

/// The engine's part of an exchange, boxed (see [`Sending`]).
type EngineFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

/// The future of [`RequestBuilder::send`] and [`Client::execute`], written out by hand for the
/// common exchange: routed by the lease on its first poll, sent, and its response handed
/// straight back when the engine's rules say so. Every task carries its request's future, and
/// every move of a request or response between nested `async` blocks is a copy into memory the
/// task has not touched since its previous request; here the request is moved once, what a
/// resend needs is written in place, and the response is handed straight through. Anything
/// else (no valid lease, an outcome that needs the engine) continues in a boxed `async` block.
struct Sending<'a, F> {
    client: ClientRef<'a>,
    execute: fn(&reqwest::Client, Request) -> F,
    /// The request, until the first poll (the lease is read then, not when the future is
    /// made).
    request: Option<Result<Request, reqwest::Error>>,
    /// The request on its way, with the lease (`leased` is set) or untouched (it is not).
    in_flight: Option<F>,
    leased: Option<Leased<Kept>>,
    /// The engine's part: `start` and its steps, or an adopted request.
    engine: Option<EngineFuture>,
}

impl<'a, F> Sending<'a, F> {
    fn new(
        client: ClientRef<'a>,
        request: Result<Request, reqwest::Error>,
        execute: fn(&reqwest::Client, Request) -> F,
    ) -> Self {
        Sending {
            client,
            execute,
            request: Some(request),
            in_flight: None,
            leased: None,
            engine: None,
        }
    }
}

impl<F> Future for Sending<'_, F>
where
    F: Future<Output = Result<Response, reqwest::Error>> + Send + Unpin + 'static,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = &this.client.get().keeper.shared;
        if let Some(Ok(request)) = &mut this.request {
            let route = exchange::route::<Direct>(shared, request, &mut this.leased);
            let Some(Ok(request)) = this.request.take() else {
                return Poll::Ready(Err(Error::Internal("request future out of step")));
            };
            if route == Route::Engine {
                let shared = Arc::clone(shared);
                this.engine = Some(Box::pin(async move {
                    let mut direct = Direct(&shared.base);
                    result(exchange::run_engine(&shared, request, &mut direct).await)
                }));
            } else {
                this.in_flight = Some((this.execute)(&shared.base, request));
            }
        } else if let Some(Err(_)) = &this.request {
            let Some(Err(e)) = this.request.take() else {
                return Poll::Ready(Err(Error::Internal("request future out of step")));
            };
            return Poll::Ready(Err(Error::Http(e)));
        }
        if let Some(in_flight) = &mut this.in_flight {
            let Poll::Ready(sent) = Pin::new(in_flight).poll(cx) else {
                return Poll::Pending;
            };
            this.in_flight = None;
            let Some(leased) = this.leased.take() else {
                // Sent untouched: the caller's, as reqwest answered.
                return Poll::Ready(sent.map_err(Error::Http));
            };
            match leased.settle(shared, sent) {
                Settled::Deliver(response) => return Poll::Ready(Ok(response)),
                Settled::Adopt(sent) => {
                    let shared = Arc::clone(shared);
                    this.engine = Some(Box::pin(async move {
                        let mut direct = Direct(&shared.base);
                        result(leased.adopt(&shared, &mut direct, sent).await)
                    }));
                }
            }
        }
        match &mut this.engine {
            Some(engine) => {
                let Poll::Ready(outcome) = engine.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                this.engine = None;
                Poll::Ready(outcome)
            }
            None => Poll::Ready(Err(Error::Internal("request future polled after it ended"))),
        }
    }
}

/// Sends through the keeper's base client.
struct Direct<'a>(&'a reqwest::Client);

impl Transport for Direct<'_> {
    type Error = reqwest::Error;

    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, reqwest::Error>> + Send {
        self.0.execute(request)
    }

    fn is_connect(error: &reqwest::Error) -> bool {
        error.is_connect()
    }

    type Kept = Kept;

    /// `Request::try_clone` also copies the request's extensions, after inserting a timeout
    /// entry into the copy that it then overwrites: three allocations and frees. Of the
    /// extensions, `reqwest::Client::execute` reads only that timeout, so a request without a
    /// body keeps its parts instead (one with a body keeps a `try_clone`, the only way to
    /// share its buffered bytes).
    fn keep(request: &Request) -> Option<Kept> {
        if request.body().is_some() {
            return request.try_clone().map(|r| Kept::Request(Box::new(r)));
        }
        Some(Kept::Parts {
            method: request.method().clone(),
            headers: (!request.headers().is_empty()).then(|| request.headers().clone()),
            version: request.version(),
            timeout: request.timeout().copied(),
        })
    }

    fn rebuild(kept: &Kept, url: reqwest::Url) -> Option<Request> {
        match kept {
            Kept::Request(r) => {
                let mut copy = r.try_clone()?;
                *copy.url_mut() = url;
                Some(copy)
            }
            Kept::Parts {
                method,
                headers,
                version,
                timeout,
            } => {
                let mut copy = Request::new(method.clone(), url);
                if let Some(headers) = headers {
                    *copy.headers_mut() = headers.clone();
                }
                *copy.version_mut() = *version;
                // Setting `None` would still add an (empty) extension entry.
                if let Some(t) = timeout {
                    *copy.timeout_mut() = Some(*t);
                }
                Some(copy)
            }
        }
    }
}

/// What [`Direct`] keeps of a request to send it again.
enum Kept {
    /// A request with a buffered body (boxed: the common request has none, and every
    /// request's future carries this enum).
    Request(Box<Request>),
    /// A request without a body: everything `reqwest::Client::execute` reads but the URL.
    Parts {
        method: reqwest::Method,
        /// `None` when there are none (most requests: reqwest adds its defaults later).
        headers: Option<reqwest::header::HeaderMap>,
        version: reqwest::Version,
        timeout: Option<std::time::Duration>,
    },
}

/// `get`, `post`, `put`, `patch`, `delete` and `head` for both clients (async and blocking),
/// written once: each calls the type's own `request(method, url)` and returns `$builder`.
macro_rules! method_shorthands {
    ($builder:ty) => {
        /// A `GET` request.
        pub fn get<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::GET, url)
        }

        /// A `POST` request (not resent after an error that may have reached the server).
        pub fn post<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::POST, url)
        }

        /// A `PUT` request.
        pub fn put<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::PUT, url)
        }

        /// A `PATCH` request (not resent after an error that may have reached the server).
        pub fn patch<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::PATCH, url)
        }

        /// A `DELETE` request.
        pub fn delete<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::DELETE, url)
        }

        /// A `HEAD` request.
        pub fn head<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::HEAD, url)
        }
    };
}
pub(crate) use method_shorthands;

/// The builder methods both request builders (async and blocking) share, written once: each
/// hands the wrapped builder to the type's own `map`.
macro_rules! builder_methods {
    () => {
        /// Adds a header.
        #[must_use]
        pub fn header<K, V>(self, key: K, value: V) -> Self
        where
            reqwest::header::HeaderName: TryFrom<K>,
            <reqwest::header::HeaderName as TryFrom<K>>::Error: Into<http::Error>,
            reqwest::header::HeaderValue: TryFrom<V>,
            <reqwest::header::HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
        {
            self.map(|b| b.header(key, value))
        }

        /// Adds headers (merged into those already set).
        #[must_use]
        pub fn headers(self, headers: reqwest::header::HeaderMap) -> Self {
            self.map(|b| b.headers(headers))
        }

        /// Appends query parameters (serialized with `serde_urlencoded`).
        #[must_use]
        pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Self {
            self.map(|b| b.query(query))
        }

        /// A JSON body (buffered: replayed on resend).
        #[must_use]
        pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> Self {
            self.map(|b| b.json(json))
        }

        /// A form body (buffered: replayed on resend).
        #[must_use]
        pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
            self.map(|b| b.form(form))
        }

        /// A body: bytes, `String`, `Vec<u8>`... are buffered and replayed on resend; a
        /// streaming body is sent once and never resent.
        #[must_use]
        pub fn body<T: Into<reqwest::Body>>(self, body: T) -> Self {
            self.map(|b| b.body(body))
        }

        /// A timeout for each attempt (from sending to the end of the response headers and
        /// body).
        #[must_use]
        pub fn timeout(self, timeout: std::time::Duration) -> Self {
            self.map(|b| b.timeout(timeout))
        }
    };
}
pub(crate) use builder_methods;

/// A request being built, as with [`reqwest::RequestBuilder`]. There is no `bearer_auth` or
/// `basic_auth`: the keeper owns the `Authorization` header.
///
/// It borrows the [`Client`] it came from, and so does the future of [`RequestBuilder::send`]:
/// a request builder that held a clone would update the client's shared reference count on
/// every request, a cache line every worker thread writes (about 0.4 µs per request on a
/// 2-core machine, measured in BENCHMARKS.md). To send from a spawned task, move a clone of
/// the client into it, or call [`RequestBuilder::into_owned`].
pub struct RequestBuilder<'a> {
    client: ClientRef<'a>,
    inner: reqwest::RequestBuilder,
}

/// The client a builder sends through: borrowed, or owned by a `'static` builder.
enum ClientRef<'a> {
    Borrowed(&'a Client),
    Owned(Client),
}

impl ClientRef<'_> {
    fn get(&self) -> &Client {
        match self {
            ClientRef::Borrowed(c) => c,
            ClientRef::Owned(c) => c,
        }
    }
}

impl fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestBuilder<'a> {
    crate::client::builder_methods!();

    /// The builder with a clone of its client instead of the borrow: for a request (or a
    /// [`send`](RequestBuilder::send) future) that must outlive the borrow, e.g. one handed to
    /// `tokio::spawn`.
    #[must_use]
    pub fn into_owned(self) -> RequestBuilder<'static> {
        RequestBuilder {
            client: ClientRef::Owned(self.client.get().clone()),
            inner: self.inner,
        }
    }

    /// The HTTP version to use.
    #[must_use]
    pub fn version(self, version: reqwest::Version) -> Self {
        self.map(|b| b.version(version))
    }

    /// A copy of the builder, or `None` when the body is a stream.
    pub fn try_clone(&self) -> Option<Self> {
        Some(RequestBuilder {
            client: match &self.client {
                ClientRef::Borrowed(c) => ClientRef::Borrowed(c),
                ClientRef::Owned(c) => ClientRef::Owned(c.clone()),
            },
            inner: self.inner.try_clone()?,
        })
    }

    /// The request, without sending it (to inspect it or pass it to [`Client::execute`]).
    pub fn build(self) -> Result<Request, Error> {
        Ok(self.inner.build()?)
    }

    /// Sends the request: logs in or refreshes first if needed, attaches the token, resends
    /// as the engine decides, and returns the response (any status) or a typed error.
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> + Send + 'a {
        Sending::new(self.client, self.inner.build(), execute)
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        RequestBuilder {
            client: self.client,
            inner: f(self.inner),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Direct, Transport as _};

    /// What `Client::execute` gets from a request: everything but the extensions it ignores.
    fn parts(r: reqwest::Request) -> (String, usize, Option<Duration>) {
        let timeout = r.timeout().copied();
        let http = http::Request::<reqwest::Body>::try_from(r).unwrap();
        let (head, _) = http.into_parts();
        (format!("{head:?}"), head.extensions.len(), timeout)
    }

    #[test]
    fn the_direct_rebuild_equals_try_clone_for_every_builder_option() {
        let client = reqwest::Client::new();
        let builders = [
            client.get("http://127.0.0.1:1/a"),
            client
                .delete("http://127.0.0.1:1/a?x=1#f")
                .query(&[("y", "2")]),
            client
                .head("http://127.0.0.1:1/a")
                .header("x-one", "1")
                .header("x-one", "2")
                .timeout(Duration::from_millis(1500))
                .version(reqwest::Version::HTTP_11),
        ];
        for b in builders {
            let request = b.build().unwrap();
            let kept = Direct::keep(&request).unwrap();
            let copy = Direct::rebuild(&kept, request.url().clone()).unwrap();
            let cloned = request.try_clone().unwrap();
            assert!(copy.body().is_none());
            assert_eq!(parts(copy), parts(cloned));
        }
    }
}
