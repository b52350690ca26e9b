//! A caller's `fetch(input, init)`, prepared so it can be sent any number of times with a given
//! `Authorization` header.
//!
//! The URL is parsed once, by the platform's own parser, and what is checked against the
//! allowed origins is the very URL that goes out: the keeper sends its own parsed `URL` (or
//! its own `Request`), never the caller's string or object again (which a caller could change
//! while the request waits for a token).
//!
//! Two shapes, chosen for cost: a string or `URL` without a body is parsed with `new URL(input,
//! base)` (`base` as `fetch` resolves a relative URL, see [`sys::parse_url`]) and goes to
//! `fetch(url, init')` with `init'.headers` = the caller's headers plus `Authorization`, so a
//! send builds one `Request` (inside `fetch`), as a plain `fetch` call does. Everything else
//! (a `Request`, a body) is normalised once with `new Request(input, init)`, its URL parsed from
//! `request.url`, its body buffered, and a copy made for every send.

use http::HeaderValue;
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, ReadableStream, Request, RequestInit};

use crate::sys::{self, ParsedUrl};

/// The request body, as it can be sent again.
pub(crate) enum Body {
    /// No body (or an empty one).
    Empty,
    /// Buffered bytes (`ArrayBuffer`), sent as a fresh body on every resend.
    Buffered(JsValue),
    /// A `ReadableStream`: sent once, never resent.
    Stream,
}

/// A prepared request.
pub(crate) enum Outgoing {
    /// `fetch(url, init)` with the headers replaced on every send.
    Direct { url: ParsedUrl, init: JsValue },
    /// A normalised request, copied for every send; `url` is its URL, parsed.
    Copied {
        base: Request,
        url: ParsedUrl,
        body: Body,
    },
}

impl Outgoing {
    /// Prepares `fetch(input, init)`. Fails with the `TypeError` `fetch` would throw.
    pub(crate) fn new(input: &JsValue, init: &JsValue) -> Result<Self, JsValue> {
        let no_body = sys::prop(init, "body").is_none();
        if no_body && (input.is_string() || input.is_instance_of::<ParsedUrl>()) {
            // What does not parse fails with the error `fetch` gives (its `Request` throws it;
            // Node's `URL` throws another, with a `code`).
            let url = sys::parse_url(input)
                .map_err(|e| sys::new_request(input, init).err().unwrap_or(e))?;
            if url.has_credentials() {
                // `fetch` refuses a URL with credentials: fail as it does, before the engine
                // is asked for a token (the `Request` throws the platform's own TypeError).
                return Err(sys::new_request(&url, init)
                    .err()
                    .unwrap_or(JsValue::UNDEFINED));
            }
            return Ok(Outgoing::Direct {
                url,
                init: init.clone(),
            });
        }
        // A `Request` (of any realm), or anything `fetch` would turn into one: the `Request`
        // resolves the URL exactly as `fetch` does.
        let base = sys::new_request(input, init)?;
        let url = sys::url_of_request(&base)?;
        let body = if base.method() == "GET" || base.method() == "HEAD" {
            Body::Empty
        } else if sys::prop(init, "body").is_some_and(|b| b.is_instance_of::<ReadableStream>()) {
            Body::Stream
        } else {
            // Read below, in `buffer`, so `new` stays synchronous.
            Body::Buffered(JsValue::UNDEFINED)
        };
        Ok(Outgoing::Copied { base, url, body })
    }

    /// Buffers the body so it can be sent again: strings, `ArrayBuffer`s, typed arrays, `Blob`s,
    /// `FormData` and `URLSearchParams` all come out as bytes, with the content type the
    /// `Request` derived from them.
    pub(crate) async fn buffer(&mut self) -> Result<(), JsValue> {
        if let Outgoing::Copied {
            base,
            body: body @ Body::Buffered(_),
            ..
        } = self
        {
            // `clone()` leaves `base` unused, so it can be copied with a new body every time.
            let bytes = JsFuture::from(base.clone()?.array_buffer()?).await?;
            let empty = bytes.unchecked_ref::<js_sys::ArrayBuffer>().byte_length() == 0;
            *body = if empty {
                Body::Empty
            } else {
                Body::Buffered(bytes)
            };
        }
        Ok(())
    }

    /// The URL that is sent, parsed.
    pub(crate) fn url(&self) -> &ParsedUrl {
        match self {
            Outgoing::Direct { url, .. } | Outgoing::Copied { url, .. } => url,
        }
    }

    /// The method, upper-cased as `fetch` normalises the standard ones.
    pub(crate) fn method(&self) -> String {
        match self {
            Outgoing::Direct { init, .. } => sys::prop(init, "method")
                .and_then(|m| m.as_string())
                .map_or_else(|| "GET".to_owned(), |m| m.to_ascii_uppercase()),
            Outgoing::Copied { base, .. } => base.method(),
        }
    }

    /// Whether the body can be sent again (not a stream).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(
            self,
            Outgoing::Copied {
                body: Body::Stream,
                ..
            }
        )
    }

    /// The caller's `AbortSignal`, if one was given.
    pub(crate) fn signal(&self, input: &JsValue, init: &JsValue) -> Option<AbortSignal> {
        if let Some(s) = sys::prop(init, "signal") {
            return s.dyn_into().ok();
        }
        match self {
            Outgoing::Copied { .. } => input.dyn_ref::<Request>().map(Request::signal),
            Outgoing::Direct { .. } => None,
        }
    }

    /// Sends it with this `Authorization` value, or unchanged (`None`: an origin the token
    /// may not go to), with `signal` instead of the caller's (an attempt's own controller,
    /// which the caller's signal also aborts). Fails synchronously with a `TypeError` for what
    /// `fetch` refuses.
    pub(crate) fn send(
        &self,
        authorization: Option<&HeaderValue>,
        signal: Option<&AbortSignal>,
    ) -> Result<Promise, JsValue> {
        let Some(authorization) = authorization else {
            return Ok(match self {
                Outgoing::Direct { url, init } => sys::fetch_with(url, init),
                Outgoing::Copied { base, .. } => sys::fetch_request(base),
            });
        };
        let value = String::from_utf8_lossy(authorization.as_bytes());
        match self {
            Outgoing::Direct { url, init } => {
                let headers: JsValue = match sys::prop(init, "headers") {
                    Some(given) => {
                        let headers = sys::new_headers(&given)?;
                        headers.set("authorization", &value)?;
                        headers.into()
                    }
                    // The common case: a plain record is the cheapest `HeadersInit`.
                    None => sys::object(&[("authorization", JsValue::from_str(&value))]).into(),
                };
                let copy = Object::new();
                if init.is_object() {
                    Object::assign(&copy, init.unchecked_ref());
                }
                Reflect::set(&copy, &JsValue::from_str("headers"), &headers)?;
                if let Some(signal) = signal {
                    Reflect::set(&copy, &JsValue::from_str("signal"), signal)?;
                }
                Ok(sys::fetch_with(url, &copy))
            }
            Outgoing::Copied { base, body, .. } => {
                let headers = Headers::new_with_headers(&base.headers())?;
                headers.set("authorization", &value)?;
                let init = RequestInit::new();
                init.set_headers(&headers);
                if let Body::Buffered(bytes) = body {
                    init.set_body(bytes);
                }
                if let Some(signal) = signal {
                    init.set_signal(Some(signal));
                }
                Ok(sys::fetch_request(&Request::new_with_request_and_init(
                    base, &init,
                )?))
            }
        }
    }

    /// After `fetch` rejected: whether the request itself was invalid (a `TypeError` that is
    /// the caller's, not the network's). Only a `Direct` request can get that far unchecked.
    pub(crate) fn is_invalid(&self) -> bool {
        match self {
            Outgoing::Direct { url, init } => sys::new_request(url, init).is_err(),
            Outgoing::Copied { .. } => false,
        }
    }
}
