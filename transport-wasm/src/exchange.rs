//! One caller's request from `fetch(input, init)` to its response: prepared once (see
//! [`crate::outgoing`]), then sent with `Authorization` for every `Send` the engine asks for,
//! each response or rejection reported back, until the engine says `Deliver` or `Fail`.

use std::task::Poll;

use http::header::{DATE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Response};

use tokenkeeper_core::{Error, ExchangeId, RequestMeta, SendFailure};

use crate::error::KeeperError;
use crate::keeper::{Instr, Shared, input};
use crate::outgoing::Outgoing;
use crate::sys;

/// Headers of an API response that the engine reads (`Retry-After` as a backoff floor, `Date`
/// to measure a `Retry-After` date against the server's clock, `WWW-Authenticate` for RFC 6750
/// challenges). Only these are copied out of JS, which keeps the per-call cost low;
/// cross-origin servers must list them in `Access-Control-Expose-Headers`.
const ENGINE_RESPONSE_HEADERS: [http::HeaderName; 3] = [WWW_AUTHENTICATE, RETRY_AFTER, DATE];

/// `keeper.fetch(input, init)`.
pub(crate) async fn fetch(
    shared: &Shared,
    input_value: &JsValue,
    init: &JsValue,
) -> Result<Response, KeeperError> {
    let mut outgoing = Outgoing::new(input_value, init).map_err(KeeperError::Js)?;
    let allowed = shared.borrow_mut().allows_url(outgoing.url());
    if !allowed {
        // Not an origin the token may go to: a plain fetch, without the token.
        let sent = outgoing.send(None).map_err(KeeperError::Js)?;
        return await_response(sent).await.map_err(KeeperError::Js);
    }
    let signal = outgoing.signal(input_value, init);
    outgoing.buffer().await.map_err(KeeperError::Js)?;
    let method = Method::from_bytes(outgoing.method().as_bytes()).unwrap_or(Method::POST);
    let meta = RequestMeta::new(&method, outgoing.replayable());
    let id = input(shared, |inner, now| {
        inner.sync_store(now);
        let id = inner.session.start(now, meta);
        inner.slots.insert(id);
        id
    });
    let mut guard = ExchangeGuard {
        shared,
        id,
        done: false,
        abort: None,
    };
    if let Some(signal) = &signal {
        guard.abort = Some(AbortHook::new(shared, id, signal));
    }
    let mut last: Option<Response> = None;
    let mut cause: Option<JsValue> = None;
    loop {
        match next_instr(shared, id).await {
            Instr::Send(authorization) => {
                if let Some(old) = last.take() {
                    discard(&old);
                }
                if let Some(s) = signal.as_ref().filter(|s| s.aborted()) {
                    return Err(KeeperError::Js(s.reason()));
                }
                let sent = outgoing
                    .send(Some(&authorization))
                    .map_err(KeeperError::Js)?;
                match await_response(sent).await {
                    Ok(response) if is_foreign(shared, &response) => {
                        last = Some(response);
                        input(shared, |inner, _| inner.session.handle_foreign_response(id));
                    }
                    Ok(response) => {
                        let (status, headers) = engine_view(&response);
                        last = Some(response);
                        input(shared, |inner, now| {
                            inner.session.handle_response(now, id, status, &headers);
                        });
                    }
                    Err(e) => {
                        if signal.as_ref().is_some_and(AbortSignal::aborted)
                            || outgoing.is_invalid()
                        {
                            return Err(KeeperError::Js(e));
                        }
                        // fetch cannot tell a refused connection from one that broke after the
                        // request was written: report the worst case, so a non-idempotent
                        // request is never sent twice (idempotent ones are retried).
                        cause = Some(e);
                        input(shared, |inner, now| {
                            inner
                                .session
                                .handle_send_error(now, id, SendFailure::MaybeSent);
                        });
                    }
                }
            }
            Instr::Deliver => {
                guard.done = true;
                return last.ok_or(KeeperError::Engine {
                    error: Error::UnknownExchange,
                    cause: None,
                });
            }
            Instr::Fail(error) => {
                guard.done = true;
                return Err(KeeperError::Engine { error, cause });
            }
            Instr::Reject(thrown) => {
                guard.done = true;
                return Err(KeeperError::Js(thrown));
            }
            Instr::Aborted => {
                let reason = signal
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, AbortSignal::reason);
                return Err(KeeperError::Js(reason));
            }
        }
    }
}

/// `keeper.login()`: the engine's login exchange, which ends when tokens are held.
pub(crate) async fn login(shared: &Shared) -> Result<(), KeeperError> {
    let id = input(shared, |inner, now| {
        let id = inner.session.login(now);
        inner.slots.insert(id);
        id
    });
    let mut guard = ExchangeGuard {
        shared,
        id,
        done: false,
        abort: None,
    };
    loop {
        match next_instr(shared, id).await {
            Instr::Deliver => {
                guard.done = true;
                return Ok(());
            }
            Instr::Fail(error) => {
                guard.done = true;
                return Err(KeeperError::Engine { error, cause: None });
            }
            Instr::Reject(thrown) => {
                guard.done = true;
                return Err(KeeperError::Js(thrown));
            }
            // A login exchange is never sent; nothing else can arrive.
            Instr::Send(_) | Instr::Aborted => {}
        }
    }
}

/// The next instruction for exchange `id`, once the engine gives one.
fn next_instr(shared: &Shared, id: ExchangeId) -> impl std::future::Future<Output = Instr> + '_ {
    std::future::poll_fn(move |cx| {
        let mut inner = shared.borrow_mut();
        let Some(slot) = inner.slots.get_mut(id) else {
            return Poll::Ready(Instr::Fail(Error::UnknownExchange));
        };
        if slot.aborted {
            return Poll::Ready(Instr::Aborted);
        }
        if let Some(instr) = slot.instr.take() {
            Poll::Ready(instr)
        } else {
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

/// Removes the exchange's mailbox when the caller is done, and cancels the exchange in the
/// engine if it had not ended (the caller aborted, or dropped the future).
struct ExchangeGuard<'a> {
    shared: &'a Shared,
    id: ExchangeId,
    done: bool,
    /// Kept alive for the exchange's lifetime.
    abort: Option<AbortHook>,
}

impl Drop for ExchangeGuard<'_> {
    fn drop(&mut self) {
        let id = self.id;
        if self.done {
            self.shared.borrow_mut().slots.remove(id);
        } else {
            input(self.shared, |inner, _| {
                inner.slots.remove(id);
                inner.session.cancel(id);
            });
        }
    }
}

/// Wakes a waiting exchange when the caller's `AbortSignal` fires.
struct AbortHook {
    signal: AbortSignal,
    callback: Closure<dyn FnMut()>,
}

impl AbortHook {
    fn new(shared: &Shared, id: ExchangeId, signal: &AbortSignal) -> Self {
        let weak = std::rc::Rc::downgrade(shared);
        let callback = Closure::<dyn FnMut()>::new(move || {
            let Some(shared) = weak.upgrade() else { return };
            let mut inner = shared.borrow_mut();
            if let Some(slot) = inner.slots.get_mut(id) {
                slot.aborted = true;
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
        });
        let _ = signal.add_event_listener_with_callback("abort", callback.as_ref().unchecked_ref());
        AbortHook {
            signal: signal.clone(),
            callback,
        }
    }
}

impl Drop for AbortHook {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.callback.as_ref().unchecked_ref());
    }
}

/// Whether the response says nothing about the token: it came from an origin the token was
/// not sent to (a redirect left the allowed origins; `fetch` dropped `Authorization` on the
/// way), or it is opaque (status 0: `mode: "no-cors"`, `redirect: "manual"`). The final URL is
/// read with the platform's parser, as the request's was.
fn is_foreign(shared: &Shared, response: &Response) -> bool {
    response.status() == 0
        || (response.redirected()
            && !sys::url_of_response(response).is_some_and(|u| shared.borrow_mut().allows_url(&u)))
}

/// What the engine needs of a response: its status and the headers it reads.
fn engine_view(response: &Response) -> (StatusCode, HeaderMap) {
    let status = StatusCode::from_u16(response.status()).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    let js = response.headers();
    for name in ENGINE_RESPONSE_HEADERS {
        if let Ok(Some(v)) = js.get(name.as_str())
            && let Ok(v) = HeaderValue::from_str(&v)
        {
            headers.append(name, v);
        }
    }
    (status, headers)
}

/// Lets go of a response that is being replaced by a resend (frees its connection in Node).
fn discard(response: &Response) {
    if let Some(body) = response.body() {
        sys::ignore_rejection(&body.cancel());
    }
}

async fn await_response(p: Promise) -> Result<Response, JsValue> {
    JsFuture::from(p).await.map(JsCast::unchecked_into)
}
