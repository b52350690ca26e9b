//! One exchange, from `start` to `Deliver`/`Fail`: the loop shared by the [`Client`](crate::Client)
//! and the [`Middleware`](crate::Middleware). It does what the engine says and reports what
//! happened; it decides nothing itself.

use std::future::Future;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use tokenkeeper_core::{RequestMeta, SendFailure, Session};

use crate::clock;
use crate::shared::{ExchangeGuard, Shared, Step};

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
    fn of(url: &reqwest::Url) -> Self {
        let s = url.as_str().as_bytes();
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= 128 => {
                let mut bytes = [0; 128];
                bytes[..s.len()].copy_from_slice(s);
                UrlCopy::Inline { len, bytes }
            }
            _ => UrlCopy::Heap(url.clone()),
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

/// Runs one exchange to its end.
pub(crate) async fn run<T: Transport>(
    shared: &Arc<Shared>,
    request: reqwest::Request,
    transport: &mut T,
) -> Outcome<T::Error> {
    let replayable = is_replayable(&request);
    let meta = RequestMeta::new(request.method(), replayable);
    let started = clock::now();
    // With a lease, the engine hears of the request only if its outcome needs a decision:
    // until then `exchange` is `None` and `leased` holds the token generation it was sent with.
    let (mut exchange, mut step, leased) = if let Some((authorization, generation)) =
        shared.leased(request.url(), started)
    {
        (None, Some(Step::Send(authorization)), generation)
    } else {
        let Some((guard, step)) = shared.start(request.url(), meta) else {
            tracing::debug!(method = %request.method(), "tokenkeeper: origin not allowed, sent without token");
            return Outcome::PassThrough(transport.send(request).await);
        };
        (Some(guard), step, 0)
    };
    let label = |e: &Option<ExchangeGuard<'_>>| e.as_ref().map(|g| g.id.as_u64());
    tracing::debug!(exchange = label(&exchange), method = %request.method(), path = request.url().path(), replayable, "tokenkeeper: start");
    // The URL asked for, to notice a redirect and to send the request again.
    let requested = UrlCopy::of(request.url());
    let kept = if replayable { T::keep(&request) } else { None };
    let mut original = Some(request);
    let mut last_response: Option<reqwest::Response> = None;
    let mut last_error: Option<T::Error> = None;
    let mut attempt = 0u32;
    loop {
        let next = match (step.take(), &exchange) {
            (Some(s), _) => s,
            (None, Some(guard)) => match shared.wait(guard.id).await {
                Some(s) => s,
                None => return Outcome::Internal("exchange slot vanished"),
            },
            (None, None) => return Outcome::Internal("a leased request has no next step"),
        };
        match next {
            Step::Send(authorization) => {
                let attempt_request = original
                    .take()
                    .or_else(|| kept.as_ref().and_then(|k| T::rebuild(k, requested.url()?)));
                let Some(mut attempt_request) = attempt_request else {
                    return Outcome::Internal(
                        "the engine asked to resend a request whose body cannot be replayed",
                    );
                };
                attempt += 1;
                attempt_request
                    .headers_mut()
                    .insert(AUTHORIZATION, authorization);
                // Free the previous attempt's connection before the next one.
                last_response = None;
                last_error = None;
                match transport.send(attempt_request).await {
                    Ok(response) => {
                        let status = response.status();
                        tracing::debug!(
                            exchange = label(&exchange),
                            attempt,
                            status = status.as_u16(),
                            "tokenkeeper: response"
                        );
                        // reqwest drops `Authorization` on a redirect to another origin (even
                        // one the keeper allows): an answer from there is not about our token,
                        // so the engine hands it over without judging it.
                        let foreign = !requested.same_origin(response.url());
                        let report = |s: &mut Session, now, id| {
                            if foreign {
                                s.handle_foreign_response(id);
                                false
                            } else {
                                s.handle_response(now, id, status, response.headers());
                                true
                            }
                        };
                        let (engine_owns_it, next) = match &exchange {
                            Some(guard) => {
                                let id = guard.id;
                                shared.input(Some(id), |s, now| report(s, now, id))
                            }
                            None if !foreign && shared.settles_leased(status, meta) => {
                                return Outcome::Response(response);
                            }
                            None => {
                                let (guard, owns, next) =
                                    shared.adopt(started, meta, leased, report);
                                exchange = Some(guard);
                                (owns, next)
                            }
                        };
                        if !engine_owns_it {
                            // The guard removes the slot (the engine forgot the exchange).
                            return Outcome::PassThrough(Ok(response));
                        }
                        last_response = Some(response);
                        step = next;
                    }
                    Err(error) => {
                        let failure = if T::is_connect(&error) {
                            SendFailure::NotSent
                        } else {
                            SendFailure::MaybeSent
                        };
                        tracing::debug!(
                            exchange = label(&exchange),
                            attempt,
                            ?failure,
                            "tokenkeeper: send failed"
                        );
                        let report =
                            |s: &mut Session, now, id| s.handle_send_error(now, id, failure);
                        step = if let Some(guard) = &exchange {
                            let id = guard.id;
                            shared.input(Some(id), |s, now| report(s, now, id)).1
                        } else {
                            let (guard, (), next) = shared.adopt(started, meta, leased, report);
                            exchange = Some(guard);
                            next
                        };
                        last_error = Some(error);
                    }
                }
            }
            Step::Deliver => {
                if let Some(guard) = &mut exchange {
                    guard.ended();
                }
                return match last_response {
                    Some(r) => Outcome::Response(r),
                    None => {
                        Outcome::Internal("the engine delivered an exchange that has no response")
                    }
                };
            }
            Step::Fail(engine) => {
                if let Some(guard) = &mut exchange {
                    guard.ended();
                }
                tracing::debug!(exchange = label(&exchange), error = %engine, "tokenkeeper: failed");
                return Outcome::Failed { engine, last_error };
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
