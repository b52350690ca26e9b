//! Performing an [`Intent::Authenticate`](crate::machine::Intent::Authenticate): the login or
//! refresh request exactly as the engine built it (no cache; a redirect is not followed, its
//! body holds credentials, but reported as the answer it is: the engine refuses it), its answer
//! streamed chunk by chunk into the machine, which keeps at most
//! `MAX_AUTH_BODY` + 1 bytes and says when to stop reading; then the outcome reported. When the
//! machine says `AbortAuth` the `fetch` is aborted and nothing is reported.

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, ReadableStreamDefaultReader, Request, RequestCache, RequestInit,
    RequestRedirect, Response, ResponseType,
};
use zeroize::Zeroizing;

use tokenkeeper_core::driver::AUTH_RESPONSE_HEADERS;

use crate::sys;
use tokenkeeper_core::AuthRequest;

/// The status and the headers the engine reads ([`AUTH_RESPONSE_HEADERS`]).
pub(crate) type Answer = (u16, [Option<String>; 3]);

/// Sends the request and hands the body to `feed` chunk by chunk (each chunk is wiped in JS
/// once copied) until it ends or `feed` says stop (then the stream is cancelled, which ends
/// the request); the JS error if there was no response, or the body broke off.
pub(crate) async fn perform(
    mut auth: AuthRequest,
    signal: Option<&AbortSignal>,
    mut feed: impl FnMut(&[u8]) -> bool,
) -> Result<Answer, JsValue> {
    let init = RequestInit::new();
    init.set_method(auth.request.method().as_str());
    let headers = Headers::new()?;
    for (name, value) in auth.request.header_list() {
        let value = Zeroizing::new(String::from_utf8_lossy(value.as_bytes()).into_owned());
        headers.append(name.as_str(), &value)?;
    }
    init.set_headers(&headers);
    if !auth.request.body().is_empty() {
        let body = Uint8Array::from(auth.request.body());
        init.set_body(&body);
    }
    // Not `Error`: `fetch` would reject a redirect as it rejects a network failure, and the
    // engine would retry it.
    init.set_redirect(RequestRedirect::Manual);
    init.set_cache(RequestCache::NoStore);
    if let Some(signal) = signal {
        init.set_signal(Some(signal));
    }
    let request = Request::new_with_str_and_init(auth.request.url(), &init);
    // The request holds its own copy of the body now; this one is not needed any more.
    auth.request.wipe_body();
    let response: Response = JsFuture::from(sys::fetch_request(&request?))
        .await?
        .unchecked_into();
    let js = response.headers();
    let headers = AUTH_RESPONSE_HEADERS.map(|name| js.get(name).ok().flatten());
    if let Some(stream) = response.body() {
        let reader = ReadableStreamDefaultReader::new(&stream)?;
        let read = read_body(&reader, &mut feed).await;
        if !matches!(read, Ok(true)) {
            // Over the engine's limit, no longer wanted, or broken off: stop reading, close.
            sys::ignore_rejection(&reader.cancel());
        }
        read?;
    }
    // Node gives a redirect's status; browsers hide it (an `opaqueredirect` response, status
    // 0): reported as 302 (bindings-js/README.md).
    let status = if response.type_() == ResponseType::Opaqueredirect {
        302
    } else {
        response.status()
    };
    Ok((status, headers))
}

/// Reads the body into `feed` until it ends (`true`) or `feed` says stop (`false`).
async fn read_body(
    reader: &ReadableStreamDefaultReader,
    feed: &mut impl FnMut(&[u8]) -> bool,
) -> Result<bool, JsValue> {
    loop {
        let step = JsFuture::from(reader.read()).await?;
        if sys::prop(&step, "done").is_some_and(|d| d.as_bool() == Some(true)) {
            return Ok(true);
        }
        let chunk: Uint8Array = sys::prop(&step, "value")
            .ok_or(JsValue::UNDEFINED)?
            .dyn_into()?;
        let bytes = Zeroizing::new(chunk.to_vec());
        chunk.fill(0, 0, chunk.length());
        if !feed(&bytes) {
            return Ok(false);
        }
    }
}
