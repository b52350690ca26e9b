//! The fast path: a request that a valid lease covers is sent without the session lock, and
//! its response is handed straight back when the engine's rules say so. Everything else falls
//! back to the plain path ([`crate::exchange::run`]), which is what a newcomer should read
//! first: this module only makes the common request cheaper (measured in BENCHMARKS.md; turn it
//! off with [`KeeperBuilder::fast_path`](crate::KeeperBuilder::fast_path) to compare).
//!
//! What it keeps cheap, each measured when it was added: the lease is read from the thread's
//! stripe ([`crate::stripes`]) instead of the session lock; the request's URL is kept inline
//! (no allocation) to compare with the response's and to send it again; and the client's
//! future ([`Sending`]) is written by hand, so the request is moved once and the response is
//! handed straight through, the engine's part living behind a box only requests that need it
//! allocate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use reqwest::{Request, Response};
use tokenkeeper_core::{RequestMeta, Timestamp};

use crate::direct::Direct;
use crate::error::Error;
use crate::exchange::{self, Exchange, ExchangeGuard, Outcome, Report, Transport};
use crate::state::Shared;
use crate::stripes::LeaseRoute;
use crate::tasks::carry_out;

/// A request's URL as text, kept to compare with the response's and to send the request
/// again: inline when it is short, so that the common request allocates nothing for it; it
/// is parsed again only for a resend or after a redirect.
pub(crate) enum UrlCopy {
    Inline { len: u8, bytes: [u8; 128] },
    Heap(reqwest::Url),
}

impl UrlCopy {
    /// Nothing yet (see [`UrlCopy::set`]).
    const EMPTY: UrlCopy = UrlCopy::Inline {
        len: 0,
        bytes: [0; 128],
    };

    #[cfg(test)]
    fn of(url: &reqwest::Url) -> Self {
        let mut copy = UrlCopy::EMPTY;
        copy.set(url);
        copy
    }

    /// Overwrites the copy with `url`, in place.
    fn set(&mut self, url: &reqwest::Url) {
        let s = url.as_str().as_bytes();
        match (self, u8::try_from(s.len())) {
            (UrlCopy::Inline { len, bytes }, Ok(n)) if s.len() <= bytes.len() => {
                bytes[..s.len()].copy_from_slice(s);
                *len = n;
            }
            (this, _) => *this = UrlCopy::Heap(url.clone()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            UrlCopy::Inline { len, bytes } => &bytes[..usize::from(*len)],
            UrlCopy::Heap(url) => url.as_str().as_bytes(),
        }
    }

    /// The URL again (it was serialized by the parser, so it parses again to the same `Url`).
    fn url(&self) -> Option<reqwest::Url> {
        match self {
            UrlCopy::Inline { .. } => core::str::from_utf8(self.as_bytes())
                .ok()
                .and_then(|s| reqwest::Url::parse(s).ok()),
            UrlCopy::Heap(url) => Some(url.clone()),
        }
    }

    /// Whether `other` is on the same origin: equal http(s) URLs are, others are parsed and
    /// compared (a `file:` URL's origin is opaque: not even equal to itself).
    fn same_origin(&self, other: &reqwest::Url) -> bool {
        (matches!(other.scheme(), "http" | "https") && self.as_bytes() == other.as_str().as_bytes())
            || self.url().is_some_and(|u| exchange::same_origin(&u, other))
    }
}

/// What a driver does with a request, as far as the lease tells without the session lock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Send it (the lease's header is attached); settle or adopt its outcome.
    Leased,
    /// The lease does not cover this origin: send it untouched.
    Elsewhere,
    /// No valid lease (or no fast path): the engine decides.
    Engine,
}

/// Routes `request` by the published lease (no session lock). For [`Route::Leased`] the
/// header is attached in place and what the engine needs later is written to `leased`
/// (in place too: these are fields of every request's future).
pub(crate) fn route<T: Transport>(
    shared: &Shared,
    request: &mut Request,
    leased: &mut Option<Leased<T::Kept>>,
) -> Route {
    let Some(leases) = &shared.leases else {
        return Route::Engine;
    };
    let started = shared.clock.now();
    match leases.route(request.url(), started) {
        LeaseRoute::Valid(authorization, generation) => {
            let meta = exchange::meta(request);
            tracing::debug!(method = %request.method(), path = request.url().path(), replayable = meta.replayable, "tokenkeeper: start (leased)");
            let l = leased.insert(Leased {
                kept: if meta.replayable {
                    T::keep(request)
                } else {
                    None
                },
                requested: UrlCopy::EMPTY,
                meta,
                started,
                generation,
            });
            l.requested.set(request.url());
            request.headers_mut().insert(AUTHORIZATION, authorization);
            Route::Leased
        }
        LeaseRoute::Elsewhere => {
            tracing::debug!(method = %request.method(), "tokenkeeper: origin not allowed, sent without token");
            Route::Elsewhere
        }
        LeaseRoute::None => Route::Engine,
    }
}

/// What becomes of a leased request's first outcome.
pub(crate) enum Settled<E> {
    /// The caller's, as it is.
    Deliver(Response),
    /// The engine's to judge: adopt the request with it.
    Adopt(Result<Response, E>),
}

/// A request sent with the lease, which the engine knows nothing of until it is adopted.
pub(crate) struct Leased<K> {
    kept: Option<K>,
    /// The URL asked for, to notice a redirect and to send the request again.
    requested: UrlCopy,
    meta: RequestMeta,
    started: Timestamp,
    generation: u64,
}

impl<K> Leased<K> {
    /// The response, when the engine's rules hand it to the caller as it is (counted as
    /// delivered); otherwise the outcome back, for [`Leased::adopt`].
    pub(crate) fn settle<E>(&self, shared: &Shared, sent: Result<Response, E>) -> Settled<E> {
        match (sent, &shared.leases) {
            (Ok(response), Some(leases))
                if self.requested.same_origin(response.url())
                    && leases.settles(response.status(), self.meta) =>
            {
                Settled::Deliver(response)
            }
            (other, _) => Settled::Adopt(other),
        }
    }

    /// Hands the request and the outcome of its first attempt to the engine, and runs the
    /// exchange to its end on the plain path.
    pub(crate) async fn adopt<T: Transport<Kept = K>>(
        self,
        shared: &Arc<Shared>,
        transport: &mut T,
        sent: Result<Response, T::Error>,
    ) -> Outcome<T::Error> {
        let Leased {
            kept,
            requested,
            meta,
            started,
            generation,
        } = self;
        let Some(requested_url) = requested.url() else {
            return Outcome::Internal("a kept URL did not parse again");
        };
        let report = match &sent {
            Ok(response) => {
                tracing::debug!(
                    attempt = 1,
                    status = response.status().as_u16(),
                    "tokenkeeper: response (leased)"
                );
                Report::Response {
                    foreign: !requested.same_origin(response.url()),
                    status: response.status(),
                    headers: response.headers(),
                }
            }
            Err(error) => Report::Error(exchange::send_failure::<T>(error)),
        };
        let ((id, engine_owns_it, step), jobs) = shared.locked(|st, now, work| {
            st.driver
                .adopt(now, started, meta, generation, work, |s, now, id| {
                    report.apply(s, now, id)
                })
        });
        carry_out(shared, jobs);
        let (last_response, last_error) = match sent {
            Ok(response) if !engine_owns_it => {
                // From another origin: the engine already forgot the exchange.
                return Outcome::PassThrough(Ok(response));
            }
            Ok(response) => (Some(response), None),
            Err(error) => (None, Some(error)),
        };
        Exchange::<T> {
            original: None,
            kept,
            requested: requested_url,
            guard: ExchangeGuard::new(shared, id),
            step,
            last_response,
            last_error,
            attempt: 1,
        }
        .drive(shared, transport)
        .await
    }
}

/// Runs one exchange to its end, the lease first (the middleware's path; the `Client` has the
/// hand-written [`Sending`] future for the same steps).
pub(crate) async fn run<T: Transport>(
    shared: &Arc<Shared>,
    mut request: Request,
    transport: &mut T,
) -> Outcome<T::Error> {
    let mut leased = None;
    match (route::<T>(shared, &mut request, &mut leased), leased) {
        (Route::Leased, Some(leased)) => {
            let sent = transport.send(request).await;
            match leased.settle(shared, sent) {
                Settled::Deliver(response) => Outcome::Response(response),
                Settled::Adopt(sent) => Box::pin(leased.adopt(shared, transport, sent)).await,
            }
        }
        (Route::Elsewhere, _) => Outcome::PassThrough(transport.send(request).await),
        _ => Box::pin(exchange::run(shared, request, transport)).await,
    }
}

/// What the caller gets for the way an exchange ended.
pub(crate) fn result(outcome: Outcome<reqwest::Error>) -> Result<Response, Error> {
    match outcome {
        Outcome::Response(r) | Outcome::PassThrough(Ok(r)) => Ok(r),
        Outcome::PassThrough(Err(e)) => Err(Error::Http(e)),
        Outcome::Failed { engine, last_error } => Err(match (engine, last_error) {
            (engine @ tokenkeeper_core::Error::Transport { .. }, Some(source)) => {
                Error::Transport { engine, source }
            }
            (engine, _) => Error::Engine(engine),
        }),
        Outcome::Internal(what) => Err(Error::Internal(what)),
    }
}

/// The engine's part of an exchange, boxed (see [`Sending`]).
type EngineFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

/// The future of [`RequestBuilder::send`](crate::RequestBuilder::send) and
/// [`Client::execute`](crate::Client::execute), written out by hand for the common exchange:
/// routed by the lease on its first poll, sent, and its response handed straight back when the
/// engine's rules say so. Every task carries its request's future, and every move of a request
/// or response between nested `async` blocks is a copy into memory the task has not touched
/// since its previous request; here the request is moved once, what a resend needs is written
/// in place, and the response is handed straight through. Anything else (no valid lease, an
/// outcome that needs the engine) continues in a boxed `async` block.
pub(crate) struct Sending<'a, F> {
    shared: SharedRef<'a>,
    execute: fn(&reqwest::Client, Request) -> F,
    /// The request, until the first poll (the lease is read then, not when the future is
    /// made).
    request: Option<Result<Request, reqwest::Error>>,
    /// The request on its way, with the lease (`leased` is set) or untouched (it is not).
    in_flight: Option<F>,
    leased: Option<Leased<crate::direct::Kept>>,
    /// The engine's part: the plain path, or an adopted request.
    engine: Option<EngineFuture>,
}

/// The keeper's state, borrowed from a client, or owned by a `'static` request.
pub(crate) enum SharedRef<'a> {
    Borrowed(&'a Arc<Shared>),
    Owned(Arc<Shared>),
}

impl SharedRef<'_> {
    fn get(&self) -> &Arc<Shared> {
        match self {
            SharedRef::Borrowed(s) => s,
            SharedRef::Owned(s) => s,
        }
    }
}

impl<'a, F> Sending<'a, F> {
    pub(crate) fn new(
        shared: SharedRef<'a>,
        request: Result<Request, reqwest::Error>,
        execute: fn(&reqwest::Client, Request) -> F,
    ) -> Self {
        Sending {
            shared,
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
        let shared = this.shared.get();
        if let Some(Ok(request)) = &mut this.request {
            let route = route::<Direct>(shared, request, &mut this.leased);
            let Some(Ok(request)) = this.request.take() else {
                return Poll::Ready(Err(Error::Internal("request future out of step")));
            };
            if route == Route::Engine {
                let shared = Arc::clone(shared);
                this.engine = Some(Box::pin(async move {
                    let mut direct = Direct(&shared.base);
                    result(exchange::run(&shared, request, &mut direct).await)
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

#[cfg(test)]
mod tests {
    use super::UrlCopy;

    #[test]
    fn a_kept_url_agrees_with_url_origin() {
        let urls = [
            "http://127.0.0.1:8080/api/echo",
            "http://127.0.0.1:80/x",
            "https://API.example.com./y",
            "http://[0:0:0:0:0:0:0:1]:8080/y",
            "file:///etc/hosts",
            "blob:https://api.example.com/uuid",
        ];
        for a in urls {
            for b in urls {
                let (ua, ub) = (
                    reqwest::Url::parse(a).unwrap(),
                    reqwest::Url::parse(b).unwrap(),
                );
                assert_eq!(
                    UrlCopy::of(&ua).same_origin(&ub),
                    ua.origin() == ub.origin(),
                    "{a} vs {b}, kept as text"
                );
            }
        }
    }

    #[test]
    fn a_kept_url_parses_back_to_itself_short_or_long() {
        let long = format!(
            "http://127.0.0.1:8080/{}?q={}",
            "a".repeat(100),
            "b".repeat(60)
        );
        for text in [
            "http://127.0.0.1:8080/api/echo?x=1#f",
            "https://[::1]/",
            &long,
        ] {
            let url = reqwest::Url::parse(text).unwrap();
            let kept = UrlCopy::of(&url);
            assert_eq!(
                matches!(kept, UrlCopy::Inline { .. }),
                url.as_str().len() <= 128
            );
            assert_eq!(kept.url(), Some(url.clone()));
            assert!(kept.same_origin(&url));
        }
    }
}
