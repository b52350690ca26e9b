//! One caller's request from `fetch(input, init)` to its response: prepared once (see
//! [`crate::outgoing`]), then sent with `Authorization` for every `Send` the machine asks for,
//! each response or rejection reported back, until it says `Deliver` or `Fail`.

use std::rc::Rc;
use std::task::Poll;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Response};

use tokenkeeper_core::driver::API_RESPONSE_HEADERS;
use tokenkeeper_core::{Error, RequestMeta};

use crate::error::KeeperError;
use crate::keeper::{Out, Shared, input, run};
use crate::machine::Handle;
use crate::outgoing::Outgoing;
use crate::sys;

/// `keeper.fetch(input, init)`.
pub(crate) async fn fetch(
    shared: &Rc<Shared>,
    input_value: &JsValue,
    init: &JsValue,
) -> Result<Response, KeeperError> {
    let mut outgoing = Outgoing::new(input_value, init).map_err(KeeperError::Js)?;
    if !shared.allows_url(outgoing.url()) {
        // Not an origin the token may go to: a plain fetch, without the token.
        let sent = outgoing.send(None, None).map_err(KeeperError::Js)?;
        return await_response(sent).await.map_err(KeeperError::Js);
    }
    let signal = outgoing.signal(input_value, init);
    outgoing.buffer().await.map_err(KeeperError::Js)?;
    if let Some(s) = signal.as_ref().filter(|s| s.aborted()) {
        return Err(KeeperError::Js(s.reason())); // as `fetch` does
    }
    let meta = RequestMeta::for_method(&outgoing.method(), outgoing.replayable());
    let stored = shared.store.borrow_mut().changed();
    let now = shared.clock.now();
    let h = shared
        .m
        .borrow_mut()
        .start(now, meta, stored.as_deref().map(String::as_str));
    drop(stored);
    let mut guard = ExchangeGuard::open(shared, h);
    if let Some(signal) = &signal {
        guard.abort = Some(AbortHook::new(shared, h, signal));
    }
    run(shared);
    let mut last: Option<Response> = None;
    let mut cause: Option<JsValue> = None;
    loop {
        match next(shared, h).await {
            Step::Out(Out::Send(authorization)) => {
                if let Some(old) = last.take() {
                    discard(&old);
                }
                if let Some(s) = signal.as_ref().filter(|s| s.aborted()) {
                    return Err(KeeperError::Js(s.reason()));
                }
                let attempt = if shared.timeout {
                    let c = AbortController::new().map_err(KeeperError::Js)?;
                    if let Some(slot) = shared.slots.borrow_mut().get(h) {
                        slot.attempt = Some(c.clone());
                    }
                    Some(c)
                } else {
                    None
                };
                let sent = outgoing
                    .send(
                        Some(&authorization),
                        attempt.as_ref().map(AbortController::signal).as_ref(),
                    )
                    .map_err(KeeperError::Js)?;
                let result = await_response(sent).await;
                let cut = shared.slots.borrow_mut().get(h).is_some_and(|slot| {
                    slot.attempt = None;
                    core::mem::take(&mut slot.cut)
                });
                if cut {
                    // The machine cut this attempt (no headers in time) and counted it.
                    if let Ok(response) = &result {
                        discard(response);
                    }
                    continue;
                }
                match result {
                    Ok(response) if is_foreign(shared, &response) => {
                        last = Some(response);
                        input(shared, |m, now| m.foreign(now, h));
                    }
                    Ok(response) => {
                        let status = response.status();
                        let headers = response.headers();
                        let [www, retry, date] =
                            API_RESPONSE_HEADERS.map(|name| headers.get(name).ok().flatten());
                        last = Some(response);
                        input(shared, |m, now| {
                            m.response(
                                now,
                                h,
                                status,
                                www.as_deref(),
                                retry.as_deref(),
                                date.as_deref(),
                            );
                        });
                    }
                    Err(e) => {
                        if signal.as_ref().is_some_and(AbortSignal::aborted)
                            || outgoing.is_invalid()
                        {
                            return Err(KeeperError::Js(e));
                        }
                        // fetch cannot tell a refused connection from one that broke after the
                        // request was written: the machine reports the worst case, so a
                        // non-idempotent request is never sent twice.
                        cause = Some(e);
                        input(shared, |m, now| m.send_error(now, h));
                    }
                }
            }
            Step::Out(Out::Deliver) => {
                guard.done = true;
                return last.ok_or(KeeperError::Engine {
                    error: Error::UnknownExchange,
                    cause: None,
                });
            }
            Step::Out(Out::Fail(error)) => {
                guard.done = true;
                return Err(KeeperError::Engine { error, cause });
            }
            Step::Out(Out::Reject(thrown)) => {
                guard.done = true;
                return Err(KeeperError::Js(thrown));
            }
            Step::Aborted => {
                let reason = signal
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, AbortSignal::reason);
                return Err(KeeperError::Js(reason));
            }
        }
    }
}

/// `keeper.login()`: the machine's login exchange, which ends when tokens are held.
pub(crate) async fn login(shared: &Rc<Shared>) -> Result<(), KeeperError> {
    let now = shared.clock.now();
    let h = shared.m.borrow_mut().login(now);
    let mut guard = ExchangeGuard::open(shared, h);
    run(shared);
    loop {
        match next(shared, h).await {
            Step::Out(Out::Deliver) => {
                guard.done = true;
                return Ok(());
            }
            Step::Out(Out::Fail(error)) => {
                guard.done = true;
                return Err(KeeperError::Engine { error, cause: None });
            }
            Step::Out(Out::Reject(thrown)) => {
                guard.done = true;
                return Err(KeeperError::Js(thrown));
            }
            // A login exchange is never sent; nothing else can arrive.
            Step::Out(Out::Send(_)) | Step::Aborted => {}
        }
    }
}

enum Step {
    Out(Out),
    Aborted,
}

/// The exchange's next step, once the machine gives one.
fn next(shared: &Shared, h: Handle) -> impl std::future::Future<Output = Step> + '_ {
    std::future::poll_fn(move |cx| {
        let mut slots = shared.slots.borrow_mut();
        let Some(slot) = slots.get(h) else {
            return Poll::Ready(Step::Out(Out::Fail(Error::UnknownExchange)));
        };
        if slot.aborted {
            return Poll::Ready(Step::Aborted);
        }
        if let Some(out) = slot.out.take() {
            Poll::Ready(Step::Out(out))
        } else {
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

/// Removes the exchange's mailbox when the caller is done, and cancels the exchange if it had
/// not ended (the caller aborted, or dropped the future).
struct ExchangeGuard<'a> {
    shared: &'a Rc<Shared>,
    h: Handle,
    done: bool,
    /// Kept alive for the exchange's lifetime.
    abort: Option<AbortHook>,
}

impl<'a> ExchangeGuard<'a> {
    fn open(shared: &'a Rc<Shared>, h: Handle) -> Self {
        shared.slots.borrow_mut().open(h);
        ExchangeGuard {
            shared,
            h,
            done: false,
            abort: None,
        }
    }
}

impl Drop for ExchangeGuard<'_> {
    fn drop(&mut self) {
        let h = self.h;
        self.shared.slots.borrow_mut().close(h);
        if !self.done {
            input(self.shared, |m, now| m.cancel(now, h));
        }
    }
}

/// Wakes a waiting exchange when the caller's `AbortSignal` fires (and aborts its attempt in
/// flight, when attempts have their own controller).
struct AbortHook {
    signal: AbortSignal,
    callback: Closure<dyn FnMut()>,
}

impl AbortHook {
    fn new(shared: &Rc<Shared>, h: Handle, signal: &AbortSignal) -> Self {
        let weak = Rc::downgrade(shared);
        let reason_of = signal.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            let Some(shared) = weak.upgrade() else { return };
            let mut slots = shared.slots.borrow_mut();
            if let Some(slot) = slots.get(h) {
                slot.aborted = true;
                if let Some(c) = slot.attempt.take() {
                    c.abort_with_reason(&reason_of.reason());
                }
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
            && !sys::url_of_response(response).is_some_and(|u| shared.allows_url(&u)))
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
