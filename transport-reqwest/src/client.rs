//! [`Client`] and [`RequestBuilder`]: reqwest's familiar surface, with the token kept valid.

use std::fmt;
use std::future::Future;

use reqwest::{IntoUrl, Method, Request, Response};

use crate::error::Error;
use crate::fast::{Sending, SharedRef};
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
    crate::builder_macros::method_shorthands!(RequestBuilder<'_>);

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
        Sending::new(
            SharedRef::Borrowed(&self.keeper.shared),
            Ok(request),
            execute,
        )
    }

    /// The keeper this client belongs to.
    pub fn keeper(&self) -> &Keeper {
        &self.keeper
    }
}

impl Keeper {
    /// An async client with the familiar reqwest surface that attaches and renews the token.
    pub fn client(&self) -> Client {
        Client {
            keeper: self.clone(),
        }
    }
}

/// The base client's `execute`, named so that [`Sending`] can hold its future.
fn execute(
    base: &reqwest::Client,
    request: Request,
) -> impl Future<Output = Result<Response, reqwest::Error>> + Send + Unpin + use<> {
    base.execute(request)
}

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
    crate::builder_macros::builder_methods!();

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
        let shared = match self.client {
            ClientRef::Borrowed(c) => SharedRef::Borrowed(&c.keeper.shared),
            ClientRef::Owned(c) => SharedRef::Owned(c.keeper.shared),
        };
        Sending::new(shared, self.inner.build(), execute)
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        RequestBuilder {
            client: self.client,
            inner: f(self.inner),
        }
    }
}
