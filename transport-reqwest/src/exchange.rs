//! One exchange, from `start` to `Deliver`/`Fail`: the loop shared by the [`Client`](crate::Client)
//! and the [`Middleware`](crate::Middleware). It does what the engine says and reports what
//! happened; it decides nothing itself.

use std::future::Future;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use tokenkeeper_core::{ExchangeId, RequestMeta, SendFailure, Session, Timestamp};

use crate::clock;
use crate::shared::{ExchangeGuard, LeaseRoute, Shared, Step};

/// How an exchange's request goes out: the base client, or the rest of a middleware stack.
pub(crate) trait Transport {
    /// The error of one attempt.
    type Error: Send;

    /// Sends one attempt.
    fn send(
        &mut self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<reqwest::Response, Self::Error>> + Send;

    /// Whether the error happened before the request left (DNS, connect, TLS handshake).
    fn is_connect(error: &Self::Error) -> bool;

    /// What is kept of a request, besides its URL, to send it again.
    type Kept: Send;

    /// Keeps what is needed to send `request` again, or `None` when its body cannot be copied.
    /// The request itself goes out as the first attempt.
    fn keep(request: &reqwest::Request) -> Option<Self::Kept>;

    /// The request to send again, to `url`.
    fn rebuild(kept: &Self::Kept, url: reqwest::Url) -> Option<reqwest::Request>;
}

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

    /// The URL again (it parsed once, so it parses again to the same `Url`).
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
            || self.url().is_some_and(|u| same_origin(&u, other))
    }
}

/// How an exchange ended.
pub(crate) enum Outcome<E> {
    /// The engine delivered this response.
    Response(reqwest::Response),
    /// The engine had no say: the request went to an origin the token is not sent to (or a
    /// redirect ended on one), untouched.
    PassThrough(Result<reqwest::Response, E>),
    /// The engine failed the exchange; `last_error` is the last attempt's error, if it had one.
    Failed {
        engine: tokenkeeper_core::Error,
        last_error: Option<E>,
    },
    /// A driver bug.
    Internal(&'static str),
}

/// Whether a buffered copy of the body exists, so the request can be sent again.
fn is_replayable(request: &reqwest::Request) -> bool {
    request.body().is_none_or(|b| b.as_bytes().is_some())
}

/// `a.origin() == b.origin()`, without the four allocations of `Url::origin` for the
/// http(s) URLs every request compares.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    match (a.scheme(), b.scheme()) {
        (x @ ("http" | "https"), y) if x == y => {
            a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => a.origin() == b.origin(),
    }
}

/// What a driver does with a request, as far as the lease tells without the session lock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Send it (the lease's header is attached); settle or adopt its outcome.
    Leased,
    /// The lease does not cover this origin: send it untouched.
    Elsewhere,
    /// No valid lease: the engine decides (`start`).
    Engine,
}

/// Routes `request` by the published lease (no session lock). For [`Route::Leased`] the
/// header is attached in place and what the engine needs later is written to `leased`
/// (in place too: these are fields of every request's future).
pub(crate) fn route<T: Transport>(
    shared: &Shared,
    request: &mut reqwest::Request,
    leased: &mut Option<Leased<T::Kept>>,
) -> Route {
    let replayable = is_replayable(request);
    let meta = RequestMeta::new(request.method(), replayable);
    let started = clock::now();
    match shared.leased(request.url(), started) {
        LeaseRoute::Valid(authorization, generation) => {
            tracing::debug!(method = %request.method(), path = request.url().path(), replayable, "tokenkeeper: start (leased)");
            let l = leased.insert(Leased {
                kept: if replayable { T::keep(request) } else { None },
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
    Deliver(reqwest::Response),
    /// The engine's to judge: adopt the request with it.
    Adopt(Result<reqwest::Response, E>),
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
    pub(crate) fn settle<E>(
        &self,
        shared: &Shared,
        sent: Result<reqwest::Response, E>,
    ) -> Settled<E> {
        match sent {
            Ok(response)
                if self.requested.same_origin(response.url())
                    && shared.settles_leased(response.status(), self.meta) =>
            {
                Settled::Deliver(response)
            }
            other => Settled::Adopt(other),
        }
    }

    /// Hands the request and the outcome of its first attempt to the engine, and runs the
    /// exchange to its end.
    pub(crate) async fn adopt<T: Transport<Kept = K>>(
        self,
        shared: &Arc<Shared>,
        transport: &mut T,
        sent: Result<reqwest::Response, T::Error>,
    ) -> Outcome<T::Error> {
        let Leased {
            kept,
            requested,
            meta,
            started,
            generation,
        } = self;
        match sent {
            Ok(response) => {
                let status = response.status();
                tracing::debug!(
                    attempt = 1,
                    status = status.as_u16(),
                    "tokenkeeper: response (leased)"
                );
                let report = Report::Response {
                    foreign: !requested.same_origin(response.url()),
                    status,
                    headers: response.headers(),
                };
                let (guard, engine_owns_it, step) =
                    shared.adopt(started, meta, generation, |s, now, id| {
                        report.apply(s, now, id)
                    });
                if !engine_owns_it {
                    return Outcome::PassThrough(Ok(response));
                }
                let mut ex = Exchange::<T>::adopted(kept, requested, guard, step);
                ex.last_response = Some(response);
                ex.drive(shared, transport).await
            }
            Err(error) => {
                let report = Report::Error(send_failure::<T>(&error));
                let (guard, _, step) = shared.adopt(started, meta, generation, |s, now, id| {
                    report.apply(s, now, id)
                });
                let mut ex = Exchange::<T>::adopted(kept, requested, guard, step);
                ex.last_error = Some(error);
                ex.drive(shared, transport).await
            }
        }
    }
}

/// Runs an exchange the engine starts (no valid lease) to its end: `start`, then its steps.
pub(crate) async fn run_engine<T: Transport>(
    shared: &Arc<Shared>,
    request: reqwest::Request,
    transport: &mut T,
) -> Outcome<T::Error> {
    let meta = RequestMeta::new(request.method(), is_replayable(&request));
    let Some((guard, step)) = shared.start(request.url(), meta) else {
        tracing::debug!(method = %request.method(), "tokenkeeper: origin not allowed, sent without token");
        return Outcome::PassThrough(transport.send(request).await);
    };
    tracing::debug!(exchange = guard.id.as_u64(), method = %request.method(), path = request.url().path(), replayable = meta.replayable, "tokenkeeper: start");
    Exchange::new(request, meta, guard, step)
        .drive(shared, transport)
        .await
}

/// Runs one exchange to its end (the middleware's path; the `Client` has a hand-written
/// future for the same steps, see `client::Sending`).
///
/// The common case (a valid lease, a final answer) is a small future of its own: the general
/// loop, with its wait states and bookkeeping, lives behind a box that only a request whose
/// outcome needs the engine allocates. Every task carries its request's future, so its size
/// is memory touched on every request.
pub(crate) async fn run<T: Transport>(
    shared: &Arc<Shared>,
    mut request: reqwest::Request,
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
        _ => Box::pin(run_engine(shared, request, transport)).await,
    }
}

/// How one attempt ended, as the engine is told.
enum Report<'a> {
    Response {
        foreign: bool,
        status: http::StatusCode,
        headers: &'a http::HeaderMap,
    },
    Error(SendFailure),
}

impl Report<'_> {
    /// Reports the outcome for exchange `id`; returns whether the engine owns the response
    /// (`false`: it came from another origin and is handed over untouched).
    fn apply(&self, s: &mut Session, now: Timestamp, id: ExchangeId) -> bool {
        match *self {
            Report::Response { foreign: true, .. } => {
                s.handle_foreign_response(id);
                false
            }
            Report::Response {
                status, headers, ..
            } => {
                s.handle_response(now, id, status, headers);
                true
            }
            Report::Error(failure) => {
                s.handle_send_error(now, id, failure);
                true
            }
        }
    }
}

fn send_failure<T: Transport>(error: &T::Error) -> SendFailure {
    if T::is_connect(error) {
        SendFailure::NotSent
    } else {
        SendFailure::MaybeSent
    }
}

/// An exchange the engine knows: its request (or what is kept to send it again) and its last
/// outcome, driven by the engine's steps until `Deliver` or `Fail`.
struct Exchange<'a, T: Transport> {
    /// The caller's request, until its first attempt.
    original: Option<reqwest::Request>,
    kept: Option<T::Kept>,
    /// The URL asked for, to notice a redirect and to send the request again.
    requested: UrlCopy,
    guard: ExchangeGuard<'a>,
    step: Option<Step>,
    last_response: Option<reqwest::Response>,
    last_error: Option<T::Error>,
    attempt: u32,
}

impl<'a, T: Transport> Exchange<'a, T> {
    fn new(
        request: reqwest::Request,
        meta: RequestMeta,
        guard: ExchangeGuard<'a>,
        step: Option<Step>,
    ) -> Self {
        Exchange {
            requested: UrlCopy::of(request.url()),
            kept: if meta.replayable {
                T::keep(&request)
            } else {
                None
            },
            original: Some(request),
            guard,
            step,
            last_response: None,
            last_error: None,
            attempt: 0,
        }
    }

    /// A leased request after its first attempt, adopted by the engine.
    fn adopted(
        kept: Option<T::Kept>,
        requested: UrlCopy,
        guard: ExchangeGuard<'a>,
        step: Option<Step>,
    ) -> Self {
        Exchange {
            original: None,
            kept,
            requested,
            guard,
            step,
            last_response: None,
            last_error: None,
            attempt: 1,
        }
    }

    async fn drive(mut self, shared: &'a Arc<Shared>, transport: &mut T) -> Outcome<T::Error> {
        let id = self.guard.id;
        loop {
            let next = match self.step.take() {
                Some(s) => s,
                None => match shared.wait(id).await {
                    Some(s) => s,
                    None => return Outcome::Internal("exchange slot vanished"),
                },
            };
            match next {
                Step::Send(authorization) => {
                    let attempt_request = self.original.take().or_else(|| {
                        self.kept
                            .as_ref()
                            .and_then(|k| T::rebuild(k, self.requested.url()?))
                    });
                    let Some(mut attempt_request) = attempt_request else {
                        return Outcome::Internal(
                            "the engine asked to resend a request whose body cannot be replayed",
                        );
                    };
                    self.attempt += 1;
                    attempt_request
                        .headers_mut()
                        .insert(AUTHORIZATION, authorization);
                    // Free the previous attempt's connection before the next one.
                    self.last_response = None;
                    self.last_error = None;
                    match transport.send(attempt_request).await {
                        Ok(response) => {
                            let status = response.status();
                            tracing::debug!(
                                exchange = id.as_u64(),
                                attempt = self.attempt,
                                status = status.as_u16(),
                                "tokenkeeper: response"
                            );
                            // reqwest drops `Authorization` on a redirect to another origin
                            // (even one the keeper allows): an answer from there is not about
                            // our token, so the engine hands it over without judging it.
                            let report = Report::Response {
                                foreign: !self.requested.same_origin(response.url()),
                                status,
                                headers: response.headers(),
                            };
                            let (engine_owns_it, next) =
                                shared.input(Some(id), |s, now| report.apply(s, now, id));
                            if !engine_owns_it {
                                // The guard removes the slot (the engine forgot the exchange).
                                return Outcome::PassThrough(Ok(response));
                            }
                            self.last_response = Some(response);
                            self.step = next;
                        }
                        Err(error) => {
                            let failure = send_failure::<T>(&error);
                            tracing::debug!(
                                exchange = id.as_u64(),
                                attempt = self.attempt,
                                ?failure,
                                "tokenkeeper: send failed"
                            );
                            let report = Report::Error(failure);
                            let ((), next) = shared.input(Some(id), |s, now| {
                                report.apply(s, now, id);
                            });
                            self.last_error = Some(error);
                            self.step = next;
                        }
                    }
                }
                Step::Deliver => {
                    self.guard.ended();
                    return match self.last_response.take() {
                        Some(r) => Outcome::Response(r),
                        None => Outcome::Internal(
                            "the engine delivered an exchange that has no response",
                        ),
                    };
                }
                Step::Fail(engine) => {
                    self.guard.ended();
                    tracing::debug!(exchange = id.as_u64(), error = %engine, "tokenkeeper: failed");
                    return Outcome::Failed {
                        engine,
                        last_error: self.last_error.take(),
                    };
                }
            }
        }
    }
}

/// Runs an explicit login (`Session::login`) to its end.
pub(crate) async fn login(shared: &Arc<Shared>) -> Result<(), crate::Error> {
    let (mut guard, step) = shared.start_login();
    let next = match step {
        Some(s) => s,
        None => shared
            .wait(guard.id)
            .await
            .ok_or(crate::Error::Internal("login slot vanished"))?,
    };
    match next {
        Step::Deliver => {
            guard.ended();
            Ok(())
        }
        Step::Fail(e) => {
            guard.ended();
            Err(crate::Error::Engine(e))
        }
        // The guard cancels the exchange.
        Step::Send(_) => Err(crate::Error::Internal(
            "the engine asked to send a login exchange",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{UrlCopy, same_origin};

    #[test]
    fn same_origin_agrees_with_url_origin() {
        let urls = [
            "http://127.0.0.1:8080/api/echo",
            "http://127.0.0.1:8080/other?q=1",
            "http://127.0.0.1/x",
            "http://127.0.0.1:80/x",
            "https://127.0.0.1:8080/x",
            "http://localhost:8080/x",
            "HTTP://LOCALHOST:8080/y",
            "https://api.example.com/x",
            "https://api.example.com:443/y",
            "https://API.example.com./y",
            "http://[::1]:8080/x",
            "http://[0:0:0:0:0:0:0:1]:8080/y",
            "ws://api.example.com/x",
            "ftp://api.example.com/x",
            "file:///etc/hosts",
            "data:text/plain,hi",
            "blob:https://api.example.com/uuid",
        ];
        for a in urls {
            for b in urls {
                let (ua, ub) = (
                    reqwest::Url::parse(a).unwrap(),
                    reqwest::Url::parse(b).unwrap(),
                );
                assert_eq!(
                    same_origin(&ua, &ub),
                    ua.origin() == ub.origin(),
                    "{a} vs {b}"
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
