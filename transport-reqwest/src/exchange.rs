//! One exchange, from `start` to `Deliver`/`Fail`: the loop shared by the [`Client`](crate::Client)
//! and the [`Middleware`](crate::Middleware). It does what the engine says and reports what
//! happened; it decides nothing itself.

use std::future::Future;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use tokenkeeper_core::{RequestMeta, SendFailure};

use crate::shared::{Shared, Step};

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

    /// A copy of `request` to send as one attempt, or `None` when its body cannot be copied.
    fn copy(request: &reqwest::Request) -> Option<reqwest::Request> {
        request.try_clone()
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
    let Some((mut guard, mut step)) = shared.start(request.url(), meta) else {
        tracing::debug!(method = %request.method(), "tokenkeeper: origin not allowed, sent without token");
        return Outcome::PassThrough(transport.send(request).await);
    };
    let id = guard.id;
    // The URL asked for, to notice a redirect (a replayable request keeps its original).
    let fallback_url = (!replayable).then(|| request.url().clone());
    tracing::debug!(exchange = id.as_u64(), method = %request.method(), path = request.url().path(), replayable, "tokenkeeper: start");
    let mut original = Some(request);
    let mut last_response: Option<reqwest::Response> = None;
    let mut last_error: Option<T::Error> = None;
    let mut attempt = 0u32;
    loop {
        let next = match step.take() {
            Some(s) => s,
            None => match shared.wait(id).await {
                Some(s) => s,
                None => return Outcome::Internal("exchange slot vanished"),
            },
        };
        match next {
            Step::Send(authorization) => {
                let attempt_request = if replayable {
                    original.as_ref().and_then(T::copy)
                } else {
                    original.take()
                };
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
                            exchange = id.as_u64(),
                            attempt,
                            status = status.as_u16(),
                            "tokenkeeper: response"
                        );
                        // reqwest drops `Authorization` on a redirect to another origin (even
                        // one the keeper allows): an answer from there is not about our token,
                        // so the engine hands it over without judging it.
                        let requested = original.as_ref().map(reqwest::Request::url);
                        let foreign = requested
                            .or(fallback_url.as_ref())
                            .is_some_and(|u| !same_origin(u, response.url()));
                        let (engine_owns_it, next) = shared.input(Some(id), |s, now| {
                            if foreign {
                                s.handle_foreign_response(id);
                                false
                            } else {
                                s.handle_response(now, id, status, response.headers());
                                true
                            }
                        });
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
                            exchange = id.as_u64(),
                            attempt,
                            ?failure,
                            "tokenkeeper: send failed"
                        );
                        let ((), next) =
                            shared.input(Some(id), |s, now| s.handle_send_error(now, id, failure));
                        last_error = Some(error);
                        step = next;
                    }
                }
            }
            Step::Deliver => {
                guard.ended();
                return match last_response {
                    Some(r) => Outcome::Response(r),
                    None => {
                        Outcome::Internal("the engine delivered an exchange that has no response")
                    }
                };
            }
            Step::Fail(engine) => {
                guard.ended();
                tracing::debug!(exchange = id.as_u64(), error = %engine, "tokenkeeper: failed");
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
