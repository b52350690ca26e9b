//! One exchange, from `start` to `Deliver`/`Fail`, as a plain `async fn`: the path every
//! request can take, and the one to read first. It does what the engine says and reports what
//! happened; it decides nothing itself. (The [`crate::fast`] path skips the session lock for
//! requests a lease covers, and falls back to this one.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use tokenkeeper_core::driver::Step;
use tokenkeeper_core::{ExchangeId, RequestMeta, SendFailure, Session, Timestamp};

use crate::clock::Sleep;
use crate::state::Shared;
use crate::tasks::{carry_out, carry_out_in_drop};

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
pub(crate) fn is_replayable(request: &reqwest::Request) -> bool {
    request.body().is_none_or(|b| b.as_bytes().is_some())
}

/// What the engine needs to know of a request.
pub(crate) fn meta(request: &reqwest::Request) -> RequestMeta {
    RequestMeta::new(request.method(), is_replayable(request))
}

/// `a.origin() == b.origin()`, without the four allocations of `Url::origin` for the
/// http(s) URLs every request compares.
pub(crate) fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    match (a.scheme(), b.scheme()) {
        (x @ ("http" | "https"), y) if x == y => {
            a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => a.origin() == b.origin(),
    }
}

pub(crate) fn send_failure<T: Transport>(error: &T::Error) -> SendFailure {
    if T::is_connect(error) {
        SendFailure::NotSent
    } else {
        SendFailure::MaybeSent
    }
}

/// How one attempt ended, as the engine is told.
pub(crate) enum Report<'a> {
    Response {
        /// The answer came from another origin than the one asked (a redirect), with no token.
        foreign: bool,
        status: http::StatusCode,
        headers: &'a http::HeaderMap,
    },
    Error(SendFailure),
}

impl Report<'_> {
    /// Reports the outcome for exchange `id`; returns whether the engine owns the response
    /// (`false`: it came from another origin and is handed over untouched).
    pub(crate) fn apply(&self, s: &mut Session, now: Timestamp, id: ExchangeId) -> bool {
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

/// Runs a request through the engine to its end: `start` (the token goes only to an allowed
/// origin: checked on the very `Url` that is sent), then the engine's steps.
pub(crate) async fn run<T: Transport>(
    shared: &Arc<Shared>,
    request: reqwest::Request,
    transport: &mut T,
) -> Outcome<T::Error> {
    let meta = meta(&request);
    let url = request.url();
    let started = match url.host_str() {
        Some(host) => {
            let port = url.port_or_known_default();
            let (started, jobs) = shared.locked(|st, now, work| {
                st.driver
                    .session()
                    .allows(url.scheme(), host, port)
                    .then(|| st.driver.start(now, meta, work))
            });
            carry_out(shared, jobs);
            started
        }
        None => None,
    };
    let Some((id, step)) = started else {
        tracing::debug!(method = %request.method(), "tokenkeeper: origin not allowed, sent without token");
        return Outcome::PassThrough(transport.send(request).await);
    };
    tracing::debug!(exchange = id.as_u64(), method = %request.method(), path = request.url().path(), replayable = meta.replayable, "tokenkeeper: start");
    let ex = Exchange::<T> {
        requested: request.url().clone(),
        kept: if meta.replayable {
            T::keep(&request)
        } else {
            None
        },
        original: Some(request),
        guard: ExchangeGuard::new(shared, id),
        step,
        last_response: None,
        last_error: None,
        attempt: 0,
    };
    ex.drive(shared, transport).await
}

/// An exchange the engine knows: its request (or what is kept to send it again) and its last
/// outcome, driven by the engine's steps until `Deliver` or `Fail`.
pub(crate) struct Exchange<'a, T: Transport> {
    /// The caller's request, until its first attempt.
    pub(crate) original: Option<reqwest::Request>,
    pub(crate) kept: Option<T::Kept>,
    /// The URL asked for (parsed once), to notice a redirect and to send the request again.
    pub(crate) requested: reqwest::Url,
    pub(crate) guard: ExchangeGuard<'a>,
    pub(crate) step: Option<Step>,
    pub(crate) last_response: Option<reqwest::Response>,
    pub(crate) last_error: Option<T::Error>,
    pub(crate) attempt: u32,
}

impl<'a, T: Transport> Exchange<'a, T> {
    pub(crate) async fn drive(
        mut self,
        shared: &'a Arc<Shared>,
        transport: &mut T,
    ) -> Outcome<T::Error> {
        let id = self.guard.id;
        loop {
            let next = match self.step.take() {
                Some(s) => s,
                None => match wait(shared, id).await {
                    Some(s) => s,
                    None => return Outcome::Internal("exchange mailbox vanished"),
                },
            };
            match next {
                Step::Send(authorization) => {
                    let attempt_request = self.original.take().or_else(|| {
                        self.kept
                            .as_ref()
                            .and_then(|k| T::rebuild(k, self.requested.clone()))
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
                                foreign: !same_origin(&self.requested, response.url()),
                                status,
                                headers: response.headers(),
                            };
                            let (engine_owns_it, next) = report_outcome(shared, id, &report);
                            if !engine_owns_it {
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
                            let (_, next) = report_outcome(shared, id, &Report::Error(failure));
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
                Step::Interrupted => {
                    return Outcome::Internal("an exchange was interrupted");
                }
            }
        }
    }
}

/// Reports one attempt's outcome and returns whether the engine owns the response, with the
/// exchange's next step if one is due.
fn report_outcome(
    shared: &Arc<Shared>,
    id: ExchangeId,
    report: &Report<'_>,
) -> (bool, Option<Step>) {
    let (r, jobs) = shared.locked(|st, now, work| {
        st.driver
            .report(now, id, work, |s, now| report.apply(s, now, id))
    });
    carry_out(shared, jobs);
    r
}

/// Runs an explicit login (`Session::login`) to its end.
pub(crate) async fn login(shared: &Arc<Shared>) -> Result<(), crate::Error> {
    let ((id, step), jobs) = shared.locked(|st, now, work| st.driver.login(now, work));
    carry_out(shared, jobs);
    let mut guard = ExchangeGuard::new(shared, id);
    let next = match step {
        Some(s) => s,
        None => wait(shared, id)
            .await
            .ok_or(crate::Error::Internal("login mailbox vanished"))?,
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
        Step::Send(_) | Step::Interrupted => Err(crate::Error::Internal(
            "the engine asked to send a login exchange",
        )),
    }
}

/// Cancels the exchange in the engine when its future is dropped before the engine ended it.
/// It borrows the session from the exchange's future rather than holding a reference count:
/// two atomic updates less per request on a cache line every worker thread writes.
pub(crate) struct ExchangeGuard<'a> {
    shared: &'a Shared,
    pub(crate) id: ExchangeId,
    ended: bool,
}

impl<'a> ExchangeGuard<'a> {
    pub(crate) fn new(shared: &'a Shared, id: ExchangeId) -> Self {
        ExchangeGuard {
            shared,
            id,
            ended: false,
        }
    }

    /// The engine ended the exchange (`Deliver`/`Fail` was taken): nothing to cancel.
    pub(crate) fn ended(&mut self) {
        self.ended = true;
    }
}

impl Drop for ExchangeGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let id = self.id;
            tracing::debug!(exchange = id.as_u64(), "tokenkeeper: exchange cancelled");
            let ((), jobs) = self.shared.locked(|st, _, work| st.driver.cancel(id, work));
            carry_out_in_drop(self.shared, jobs);
        }
    }
}

/// Waits for the exchange's next step: checks its mailbox, takes a parked auth request or
/// question, sleeps until the engine's next timer and fires it.
fn wait(shared: &Arc<Shared>, id: ExchangeId) -> WaitStep<'_> {
    WaitStep {
        shared,
        id,
        sleep: None,
    }
}

struct WaitStep<'a> {
    shared: &'a Arc<Shared>,
    id: ExchangeId,
    sleep: Option<(Timestamp, Sleep)>,
}

impl Future for WaitStep<'_> {
    type Output = Option<Step>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        let this = self.get_mut();
        loop {
            let (timer, parked) = {
                let mut st = this.shared.lock();
                if let Some(step) = st.driver.step(this.id, Some(cx.waker())) {
                    return Poll::Ready(Some(step));
                }
                if !st.driver.is_open(this.id) {
                    return Poll::Ready(None);
                }
                let auth = st.driver.take_parked_auth();
                let ask = st.driver.take_ask();
                (st.driver.next_timer().map(|(at, _)| at), (auth, ask))
            };
            let (auth, ask) = parked;
            if auth.is_some() || ask {
                let mut jobs = crate::state::Jobs::default();
                jobs.work.auth = auth;
                jobs.work.ask = ask;
                carry_out(this.shared, jobs);
            }
            let Some(at) = timer else {
                this.sleep = None;
                return Poll::Pending;
            };
            let sleep = match &mut this.sleep {
                Some((armed, sleep)) if *armed == at => sleep,
                other => &mut other.insert((at, this.shared.clock.sleep_until(at))).1,
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            let (step, jobs) = this.shared.locked(|st, now, work| {
                st.driver.fire_timers(now, work);
                st.driver.step(this.id, None)
            });
            carry_out(this.shared, jobs);
            if step.is_some() {
                return Poll::Ready(step);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

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
            }
        }
    }
}
