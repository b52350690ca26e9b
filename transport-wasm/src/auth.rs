//! Performing the engine's `Authenticate`: exactly one login or refresh per keeper, and with
//! cross-tab single flight one per origin: the lock is taken, the shared tokens are read
//! again, and only if no other tab already got newer ones is the request sent. The outcome is
//! reported while the lock is still held, so the new tokens are stored and broadcast before
//! the next tab looks.
//!
//! The answer is read as a stream and only up to `MAX_AUTH_BODY` + 1 bytes (a token endpoint
//! that answers gigabytes, or never stops, costs 64 kB), and the request is aborted when the
//! engine says `AbortAuth` (its deadline passed); an aborted operation is never reported.

use http::header::{CONTENT_TYPE, DATE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, ReadableStream, ReadableStreamDefaultReader, Request, RequestCache,
    RequestInit, RequestRedirect, Response,
};

use tokenkeeper_core::parse::MAX_AUTH_BODY;
use tokenkeeper_core::{AuthId, AuthRequest, SendFailure};
use zeroize::{Zeroize, Zeroizing};

use crate::crosstab::CrossTab;
use crate::keeper::{Shared, input};
use crate::store;
use crate::sys;

/// How long a tab waits for another tab's tokens once the epoch marker says it missed them
/// and another tab is alive to answer (it stops as soon as they arrive): up to 1 s.
const PEER_WAIT_STEPS: u32 = 50;
const PEER_WAIT_STEP_MS: u32 = 20;

/// Headers of an auth response that the engine reads: `Content-Type` (an HTML page is not a
/// token response), `Date` (JWT expiry and `Retry-After` dates are measured against it) and
/// `Retry-After`. Only these are copied out of JS (which spares the `.wasm` the parser of
/// arbitrary header names); `Headers.get` joins repeated values as `entries()` does.
const AUTH_RESPONSE_HEADERS: [(&str, HeaderName); 3] = [
    ("content-type", CONTENT_TYPE),
    ("date", DATE),
    ("retry-after", RETRY_AFTER),
];

/// Runs one auth operation to its end (spawned for each `Action::Authenticate`); `signal`
/// aborts its `fetch` (the engine's `AbortAuth`).
pub(crate) async fn run(shared: Shared, auth: AuthRequest, signal: Option<AbortSignal>) {
    let op = auth.id;
    let _ended = Ended {
        shared: shared.clone(),
        op,
    };
    let cross = shared.borrow().cross.clone();
    let _lock = match &cross {
        Some(cross) => {
            let lock = cross.lock().await;
            if adopted_from_peers(&shared, cross, op).await {
                return;
            }
            lock
        }
        None => None,
    };
    if !is_current(&shared, op) {
        return; // dropped by set_tokens or logout meanwhile
    }
    let mut auth = auth;
    let outcome = perform(&auth.request, signal.as_ref()).await;
    // The body holds the password or the refresh token; the answer holds the new tokens.
    // Neither copy is left in the module's memory (the answer is a `Zeroizing` buffer).
    auth.request.body_mut().zeroize();
    drop(auth);
    if !is_current(&shared, op) {
        // Aborted at its deadline (the engine already counted it as failed), or dropped by
        // set_tokens, logout or another tab's tokens: never reported.
        return;
    }
    input(&shared, |inner, now| match outcome {
        Ok((status, headers, body)) => {
            inner
                .session
                .handle_auth_response(now, op, status, &headers, &body);
        }
        Err(_) => inner
            .session
            .handle_auth_error(now, op, SendFailure::MaybeSent),
    });
}

/// Forgets the operation's abort handle when its task ends, however it ends.
struct Ended {
    shared: Shared,
    op: AuthId,
}

impl Drop for Ended {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.shared.try_borrow_mut() {
            inner.auth_ended(self.op);
        }
    }
}

fn is_current(shared: &Shared, op: AuthId) -> bool {
    shared.borrow().current_auth == Some(op)
}

/// With the lock held: whether the operation became unnecessary because another tab already
/// stored or broadcast newer tokens (which are then in use).
async fn adopted_from_peers(shared: &Shared, cross: &CrossTab, op: AuthId) -> bool {
    if !is_current(shared, op) {
        return true; // tokens arrived from another tab while we waited for the lock
    }
    let adopted = input(shared, |inner, now| match inner.store.load() {
        Some(set) if store::is_newer(&set, inner.session.tokens()) => inner.adopt(now, set),
        _ => false,
    });
    if adopted {
        return true;
    }
    let mine = shared
        .borrow()
        .session
        .tokens()
        .map_or(0, |t| t.issued_at.as_millis());
    if cross.peer_epoch().is_some_and(|epoch| epoch > mine) && cross.others_alive().await {
        // Another tab got newer tokens and its broadcast has not arrived (or this tab is new):
        // ask, and give the answer a moment.
        if !is_current(shared, op) {
            return true;
        }
        cross.ask();
        for _ in 0..PEER_WAIT_STEPS {
            let _ = JsFuture::from(sys::sleep(PEER_WAIT_STEP_MS)).await;
            if !is_current(shared, op) {
                return true;
            }
        }
    }
    false
}

/// The status, headers and (capped) body of an auth answer.
type Answer = (StatusCode, HeaderMap, Zeroizing<Vec<u8>>);

/// Sends the auth request exactly as the engine built it; the response's status, headers and
/// body (at most `MAX_AUTH_BODY` + 1 bytes), or the JS error if there was no response or it
/// broke off (or `signal` aborted it). Redirects are refused (the body holds credentials) and
/// nothing is cached.
async fn perform(
    request: &http::Request<Vec<u8>>,
    signal: Option<&AbortSignal>,
) -> Result<Answer, JsValue> {
    let init = RequestInit::new();
    init.set_method(request.method().as_str());
    let headers = Headers::new()?;
    for (name, value) in request.headers() {
        headers.append(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))?;
    }
    init.set_headers(&headers);
    if !request.body().is_empty() {
        init.set_body(&Uint8Array::from(request.body().as_slice()));
    }
    init.set_redirect(RequestRedirect::Error);
    init.set_cache(RequestCache::NoStore);
    if let Some(signal) = signal {
        init.set_signal(Some(signal));
    }
    let js_request = Request::new_with_str_and_init(&request.uri().to_string(), &init)?;
    let response: Response = JsFuture::from(sys::fetch_request(&js_request))
        .await?
        .unchecked_into();
    let status = StatusCode::from_u16(response.status()).map_err(|_| JsValue::UNDEFINED)?;
    let headers = engine_headers(&response.headers());
    let body = match response.body() {
        Some(stream) => read_capped(&stream).await?,
        None => Zeroizing::new(Vec::new()),
    };
    Ok((status, headers, body))
}

/// Reads the body stream until its end or until more than `MAX_AUTH_BODY` bytes arrived
/// (keeping `MAX_AUTH_BODY` + 1, so the engine sees it is too large), then cancels the stream,
/// which ends the request. Each chunk is wiped in JS once copied.
async fn read_capped(stream: &ReadableStream) -> Result<Zeroizing<Vec<u8>>, JsValue> {
    let reader = ReadableStreamDefaultReader::new(stream)?;
    // Room for the most ever kept, so the buffer never moves (a reallocation would leave an
    // unzeroized copy of the tokens behind).
    let mut body = Zeroizing::new(Vec::with_capacity(MAX_AUTH_BODY + 1));
    loop {
        let step = JsFuture::from(reader.read()).await?;
        if sys::prop(&step, "done").is_some_and(|d| d.as_bool() == Some(true)) {
            return Ok(body);
        }
        let chunk: Uint8Array = sys::prop(&step, "value")
            .ok_or(JsValue::UNDEFINED)?
            .dyn_into()?;
        let len = chunk.length();
        let take = (len as usize).min(MAX_AUTH_BODY + 1 - body.len());
        let at = body.len();
        body.resize(at + take, 0);
        chunk.subarray(0, take as u32).copy_to(&mut body[at..]);
        chunk.fill(0, 0, len);
        if body.len() > MAX_AUTH_BODY {
            sys::ignore_rejection(&reader.cancel());
            return Ok(body);
        }
    }
}

/// The headers of [`AUTH_RESPONSE_HEADERS`] that the response has and the page may read
/// (cross-origin: the CORS-safelisted and exposed ones).
fn engine_headers(js: &Headers) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (js_name, name) in AUTH_RESPONSE_HEADERS {
        if let Ok(Some(v)) = js.get(js_name)
            && let Ok(v) = HeaderValue::from_str(&v)
        {
            map.append(name, v);
        }
    }
    map
}
