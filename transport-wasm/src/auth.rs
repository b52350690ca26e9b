//! Performing the engine's `Authenticate`: exactly one login or refresh per keeper, and with
//! cross-tab single flight one per origin: the lock is taken, the shared tokens are read
//! again, and only if no other tab already got newer ones is the request sent. The outcome is
//! reported while the lock is still held, so the new tokens are stored and broadcast before
//! the next tab looks.

use http::header::{CONTENT_TYPE, DATE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCache, RequestInit, RequestRedirect, Response};

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

/// Runs one auth operation to its end (spawned for each `Action::Authenticate`).
pub(crate) async fn run(shared: Shared, auth: AuthRequest) {
    let op = auth.id;
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
    let outcome = perform(&auth.request).await;
    // The body holds the password or the refresh token; the answer holds the new tokens.
    // Neither copy is left in the module's memory.
    auth.request.body_mut().zeroize();
    drop(auth);
    input(&shared, |inner, now| match outcome {
        Ok((status, headers, body)) => {
            let body = Zeroizing::new(body);
            inner
                .session
                .handle_auth_response(now, op, status, &headers, &body);
        }
        Err(_) => inner
            .session
            .handle_auth_error(now, op, SendFailure::MaybeSent),
    });
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

/// Sends the auth request exactly as the engine built it; the response's status, headers and
/// body, or the JS error if there was no response. Redirects are refused (the body holds
/// credentials) and nothing is cached.
async fn perform(
    request: &http::Request<Vec<u8>>,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), JsValue> {
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
    let js_request = Request::new_with_str_and_init(&request.uri().to_string(), &init)?;
    let response: Response = JsFuture::from(sys::fetch_request(&js_request))
        .await?
        .unchecked_into();
    let status = StatusCode::from_u16(response.status()).map_err(|_| JsValue::UNDEFINED)?;
    let headers = engine_headers(&response.headers());
    let buffer = JsFuture::from(response.array_buffer()?).await?;
    Ok((status, headers, Uint8Array::new(&buffer).to_vec()))
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
