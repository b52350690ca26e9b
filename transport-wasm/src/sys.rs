//! The JavaScript globals the driver uses, bound once. Every binding goes through the global
//! object (not `window`), so the same code runs in pages, workers and Node ≥ 20.

use std::cell::OnceCell;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Request, Response, Storage};

use tokenkeeper_core::Timestamp;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch(request)`.
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn fetch_request(request: &Request) -> Promise;

    /// The global `fetch(input, init)`.
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn fetch_with(input: &JsValue, init: &JsValue) -> Promise;

    /// The `Headers` class, for its constructor with any `HeadersInit`.
    #[wasm_bindgen(js_name = Headers)]
    type AnyHeaders;

    /// `new Headers(init)`.
    #[wasm_bindgen(constructor, catch, js_class = "Headers")]
    fn new(init: &JsValue) -> Result<AnyHeaders, JsValue>;

    /// The global `setTimeout(callback, ms)`; a number in browsers, an object in Node.
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(callback: &Function, ms: f64) -> JsValue;

    /// The global `clearTimeout(handle)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub(crate) fn clear_timeout(handle: &JsValue);

    /// The `Request` class, for its constructor with any `input` (string, URL or Request).
    #[wasm_bindgen(js_name = Request)]
    type AnyRequest;

    /// `new Request(input, init)`.
    #[wasm_bindgen(constructor, catch, js_class = "Request")]
    fn new(input: &JsValue, init: &JsValue) -> Result<AnyRequest, JsValue>;

    /// A URL as the platform's own (WHATWG) parser reads it.
    #[wasm_bindgen(js_name = URL)]
    pub(crate) type ParsedUrl;

    /// `new URL(input, base)`: `input` is converted to a string as `fetch` converts it, `base`
    /// may be `undefined`. Fails with the `TypeError` `fetch` would throw.
    #[wasm_bindgen(constructor, catch, js_class = "URL")]
    fn new(input: &JsValue, base: &JsValue) -> Result<ParsedUrl, JsValue>;

    /// `url.protocol` (`"https:"`), left in JS.
    #[wasm_bindgen(method, getter, js_name = protocol)]
    pub(crate) fn protocol_js(this: &ParsedUrl) -> JsValue;

    /// `url.host` (`hostname[:port]`, the port only when not the scheme's default), left in JS.
    #[wasm_bindgen(method, getter, js_name = host)]
    pub(crate) fn host_js(this: &ParsedUrl) -> JsValue;

    /// `url.hostname` (lower-case, IDNA to ASCII, IPv4 in dotted decimal, IPv6 in brackets).
    #[wasm_bindgen(method, getter)]
    pub(crate) fn hostname(this: &ParsedUrl) -> String;

    /// `url.port`: empty for the scheme's default port.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn port(this: &ParsedUrl) -> String;

    /// `url.href`: the URL as the parser writes it back.
    #[wasm_bindgen(method, getter)]
    fn href(this: &ParsedUrl) -> String;

    /// `url.username`, left in JS (empty when there is none).
    #[wasm_bindgen(method, getter, js_name = username)]
    pub(crate) fn username_js(this: &ParsedUrl) -> JsValue;

    /// `url.password`, left in JS (empty when there is none).
    #[wasm_bindgen(method, getter, js_name = password)]
    pub(crate) fn password_js(this: &ParsedUrl) -> JsValue;

    /// A `Request` or a `Response`, for its `url`.
    type WithUrl;

    /// `request.url` or `response.url` (parsed and serialised by the platform), left in JS.
    #[wasm_bindgen(method, getter, js_name = url)]
    fn url(this: &WithUrl) -> JsValue;

    /// A Web Locks `LockManager` (`navigator.locks`).
    pub(crate) type LockManager;

    /// `navigator.locks.request(name, options, callback)`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &Function,
    ) -> Result<Promise, JsValue>;

    /// `navigator.locks.query()`: a snapshot `{ held, pending }` of the origin's locks.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn query(this: &LockManager) -> Result<Promise, JsValue>;
}

/// `new Request(input, init)`: `input` is a `Request`, a URL object or a string, `init` an
/// optional `RequestInit`. Fails with the `TypeError` `fetch` would throw.
pub(crate) fn new_request(input: &JsValue, init: &JsValue) -> Result<Request, JsValue> {
    AnyRequest::new(input, init).map(JsCast::unchecked_into)
}

impl ParsedUrl {
    /// Whether the URL has a username or password in it (`fetch` refuses such a URL).
    pub(crate) fn has_credentials(&self) -> bool {
        self.username_js().is_truthy() || self.password_js().is_truthy()
    }
}

/// Parses `input` (a string or anything `fetch` converts to one) as `fetch` does: a relative
/// URL against [`base_url`], so the URL checked is the URL sent.
pub(crate) fn parse_url(input: &JsValue) -> Result<ParsedUrl, JsValue> {
    ParsedUrl::new(input, &base_url())
}

/// The URL of a `Request`, parsed (it is absolute: the `Request` resolved it as `fetch` does).
pub(crate) fn url_of_request(request: &Request) -> Result<ParsedUrl, JsValue> {
    ParsedUrl::new(
        &request.unchecked_ref::<WithUrl>().url(),
        &JsValue::UNDEFINED,
    )
}

/// The URL a response came from (after redirects), parsed; `None` when it has none.
pub(crate) fn url_of_response(response: &Response) -> Option<ParsedUrl> {
    ParsedUrl::new(
        &response.unchecked_ref::<WithUrl>().url(),
        &JsValue::UNDEFINED,
    )
    .ok()
}

/// `url` as the platform's parser reads it (`http://127.1:8080` is `http://127.0.0.1:8080`,
/// `https://BÜCHER.example:443/x` is `https://xn--bcher-kva.example/x`): the text it writes
/// back, the scheme (without `:`), the host name and the port (`None` for the scheme's
/// default); `None` when it does not parse or its origin is opaque.
pub(crate) fn platform_reads(url: &str) -> Option<(String, String, String, Option<u16>)> {
    let parsed = ParsedUrl::new(&JsValue::from_str(url), &JsValue::UNDEFINED).ok()?;
    if prop(&parsed, "origin")?.as_string()? == "null" {
        return None;
    }
    let scheme = parsed.protocol_js().as_string()?;
    let scheme = scheme.strip_suffix(':').unwrap_or(&scheme).to_owned();
    let port = parsed.port();
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse().ok()?)
    };
    Some((parsed.href(), scheme, parsed.hostname(), port))
}

/// Where `fetch` finds the base URL of a relative URL: the document's base URL in a page
/// (`document.baseURI`, which a `<base>` element changes), the global's `location` in a
/// worker; Node has none (a relative URL fails there, as `fetch` fails).
enum BaseSource {
    /// The document and the name `baseURI` (made once).
    Document(JsValue, JsValue),
    Worker(JsValue),
    None,
}

thread_local! {
    static BASE: OnceCell<BaseSource> = const { OnceCell::new() };
}

/// The base URL `fetch` resolves a relative URL against here, or `undefined`.
fn base_url() -> JsValue {
    BASE.with(|base| {
        let source = base.get_or_init(|| {
            if let Some(document) = global("document") {
                BaseSource::Document(document, JsValue::from_str("baseURI"))
            } else if let Some(href) = global("location").and_then(|l| prop(&l, "href")) {
                BaseSource::Worker(href) // a worker's location never changes
            } else {
                BaseSource::None
            }
        });
        match source {
            BaseSource::Document(d, key) => Reflect::get(d, key).unwrap_or(JsValue::UNDEFINED),
            BaseSource::Worker(href) => href.clone(),
            BaseSource::None => JsValue::UNDEFINED,
        }
    })
}

/// `new Headers(init)` for any `HeadersInit` (a `Headers`, pairs, a record, `undefined`).
pub(crate) fn new_headers(init: &JsValue) -> Result<web_sys::Headers, JsValue> {
    AnyHeaders::new(init).map(JsCast::unchecked_into)
}

/// Wall-clock milliseconds since the Unix epoch (`Date.now()`), the engine's `now`.
pub(crate) fn now() -> Timestamp {
    let ms = js_sys::Date::now();
    Timestamp::from_millis(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

/// A property of the global object, if it exists and reading it does not throw.
pub(crate) fn global(name: &str) -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// A property of an object, if present (not `undefined` or `null`) and readable.
pub(crate) fn prop(obj: &JsValue, name: &str) -> Option<JsValue> {
    if !obj.is_object() && !obj.is_function() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `navigator.locks`, where the Web Locks API exists (not in Node 20).
pub(crate) fn lock_manager() -> Option<LockManager> {
    let locks = prop(&global("navigator")?, "locks")?;
    prop(&locks, "request")?;
    Some(locks.unchecked_into())
}

/// `localStorage` or `sessionStorage`, where it exists and may be used (reading it throws in
/// opaque origins and some sandboxes; it is absent in workers and Node 20).
pub(crate) fn storage(name: &str) -> Option<Storage> {
    global(name)?.dyn_into::<Storage>().ok()
}

/// A plain object with these properties.
pub(crate) fn object(entries: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in entries {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// Calls `.unref()` on a Node timer handle so a background timer does not keep the process
/// alive; does nothing in browsers (the handle is a number there).
pub(crate) fn unref_timer(handle: &JsValue) {
    if let Some(f) = prop(handle, "unref").and_then(|f| f.dyn_into::<Function>().ok()) {
        let _ = f.call0(handle);
    }
}

/// Makes a promise's rejection harmless (Node treats unhandled rejections as fatal).
pub(crate) fn ignore_rejection(p: &Promise) {
    thread_local! {
        static NOOP: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
    }
    NOOP.with(|f| {
        let _ = p.catch(f);
    });
}
