//! Helpers for the wasm-bindgen-test suites: the reference servers' URLs (baked in at build
//! time from `TOKENKEEPER_TEST_SERVER` and `TOKENKEEPER_TEST_RECORDER`), their control routes,
//! timers and joins.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{Request, RequestInit, Response};

use tokenkeeper_wasm::tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_wasm::tokenkeeper_core::{Config, Metrics};
use tokenkeeper_wasm::{Keeper, ManualClock, Options, Storage};

/// The reference server started by tools/test-all.sh (`tokenkeeper-testserver --port 0`).
#[allow(clippy::option_env_unwrap)] // so the suite still builds (and lints) without a server
pub fn server() -> &'static str {
    option_env!("TOKENKEEPER_TEST_SERVER").expect(
        "set TOKENKEEPER_TEST_SERVER to a running tokenkeeper-testserver (tools/test-all.sh does)",
    )
}

/// The second reference server, on another origin (`--host 127.0.0.2`), whose recorder tells
/// what reached it and whether it carried `Authorization` (tools/test-browser.sh starts it).
#[allow(clippy::option_env_unwrap)]
pub fn recorder() -> &'static str {
    option_env!("TOKENKEEPER_TEST_RECORDER").expect(
        "set TOKENKEEPER_TEST_RECORDER to a second tokenkeeper-testserver --host 127.0.0.2 \
         (tools/test-browser.sh does)",
    )
}

/// One request a server's recorder saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The path with its query, as received.
    pub path: String,
    pub authorization: bool,
}

/// What the recorder of the server at `base` saw since its last reset, oldest first.
pub async fn recorded(base: &str) -> Vec<Seen> {
    let req = Request::new_with_str(&format!("{base}/_control/recorded")).unwrap();
    let r: Response = JsFuture::from(global_fetch(&req))
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(r.status(), 200, "GET {base}/_control/recorded");
    let list = JsFuture::from(r.json().unwrap()).await.unwrap();
    let field = |v: &JsValue, name: &str| Reflect::get(v, &JsValue::from_str(name)).unwrap();
    Array::from(&list)
        .iter()
        .map(|v| Seen {
            method: field(&v, "method").as_string().unwrap(),
            path: field(&v, "path").as_string().unwrap(),
            authorization: field(&v, "authorization").as_bool().unwrap(),
        })
        .collect()
}

/// Resets the server at `base` (counters, faults, settings, recorder).
pub async fn reset_at(base: &str) {
    let init = RequestInit::new();
    init.set_method("POST");
    let req = Request::new_with_str_and_init(&format!("{base}/_control/reset"), &init).unwrap();
    let r: Response = JsFuture::from(global_fetch(&req))
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(r.status(), 200);
}

/// `POST /_control/faults` with this JSON (faults, settings, scripted answers).
pub async fn faults(json: &str) {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(json));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    init.set_headers(&headers);
    let url = format!("{}/_control/faults", server());
    let req = Request::new_with_str_and_init(&url, &init).unwrap();
    let r: Response = JsFuture::from(global_fetch(&req))
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(r.status(), 200, "faults {json}: {}", text(&r).await);
}

/// One of the server's gauges (`scripts_in_progress`, `open_connections`): what it is doing
/// now.
pub async fn gauge(name: &str) -> u64 {
    let r = plain("GET", "/_control/gauges").await;
    assert_eq!(r.status(), 200);
    let v = JsFuture::from(r.json().unwrap()).await.unwrap();
    Reflect::get(&v, &JsValue::from_str(name))
        .unwrap()
        .as_f64()
        .unwrap() as u64
}

/// Waits (checking every 10 ms, up to 5 s) until the server has no scripted answer in
/// progress: every client given a never-sent or streaming answer has gone away. `false` if
/// one is still running after 5 s.
pub async fn scripts_idle() -> bool {
    for _ in 0..500 {
        if gauge("scripts_in_progress").await == 0 {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(r: &Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &js_sys::Function, ms: f64) -> JsValue;
}

thread_local! {
    /// The test keepers' clock (see [`advance`]).
    static CLOCK: ManualClock = ManualClock::starting_now();
}

/// The clock every test keeper reads (from [`options`]): it moves only with [`advance`].
pub fn clock() -> ManualClock {
    CLOCK.with(Clone::clone)
}

/// Moves the test keepers' clock forward by `ms` and lets the timers that came due run: no
/// test waits in real time for an expiry, a backoff or a deadline.
pub async fn advance(ms: u64) {
    clock().advance(ms);
    tick().await;
}

/// Lets every task that is ready run (a zero-delay `setTimeout`: not a wait for anything).
pub async fn tick() {
    sleep(Duration::ZERO).await;
}

/// Waits (checking every 10 ms, up to 5 s) until `done` holds; whether it did.
pub async fn until(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Sleeps in real time: only to poll for something another party does (a server, another
/// tab's message), never to wait for an expiry or a timeout (see [`advance`]).
pub async fn sleep(d: Duration) {
    let p = Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, d.as_millis() as f64);
    });
    let _ = JsFuture::from(p).await;
}

/// A plain fetch (no keeper) that returns the response.
pub async fn plain(method: &str, path: &str) -> Response {
    let init = RequestInit::new();
    init.set_method(method);
    let req = Request::new_with_str_and_init(&format!("{}{path}", server()), &init).unwrap();
    JsFuture::from(global_fetch(&req))
        .await
        .unwrap()
        .unchecked_into()
}

/// The response body as text.
pub async fn text(r: &Response) -> String {
    JsFuture::from(r.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

/// Resets the server's counters, faults, settings and recorder.
pub async fn reset() {
    reset_at(server()).await;
}

/// Revokes every token issued so far.
pub async fn revoke_all() {
    assert_eq!(plain("POST", "/_control/revoke-all").await.status(), 200);
}

/// One of the server's counters (`refreshes_accepted`, `logins_ok`, ...).
pub async fn counter(name: &str) -> u64 {
    let r = plain("GET", "/_control/counters").await;
    let v = JsFuture::from(r.json().unwrap()).await.unwrap();
    Reflect::get(&v, &JsValue::from_str(name))
        .unwrap()
        .as_f64()
        .unwrap() as u64
}

/// Options for a test keeper: its own key, so tests never share tokens by accident, and the
/// test clock.
pub fn options(key: &str, storage: Storage) -> Options {
    let mut o = Options::default();
    o.key = Some(format!("tokenkeeper-test:{key}"));
    o.storage = storage;
    o.clock = Some(std::rc::Rc::new(clock()));
    o
}

/// A keeper for admin/admin with tokens of `ttl_secs`.
pub fn keeper(key: &str, ttl_secs: u64) -> Keeper {
    keeper_with(key, ttl_secs, &options(key, Storage::Memory), "admin")
}

/// A keeper with these options and password.
pub fn keeper_with(key: &str, ttl_secs: u64, options: &Options, password: &str) -> Keeper {
    let _ = key;
    let dialect = Dialect::vitalgraph_with_expiry(server(), ttl_secs).unwrap();
    Keeper::new(
        Config::default(),
        dialect,
        Credentials::password("admin", password),
        options,
    )
    .unwrap()
}

/// `n` concurrent `keeper.fetch(url, init)` calls; their statuses (0 for a failure).
pub async fn herd(keeper: &Keeper, n: usize, path: &str, init: &JsValue) -> Vec<u16> {
    let url = JsValue::from_str(&format!("{}{path}", server()));
    let all = Array::new();
    for _ in 0..n {
        let (k, url, init) = (keeper.clone(), url.clone(), init.clone());
        all.push(&future_to_promise(async move {
            match k.fetch(&url, &init).await {
                Ok(r) => Ok(JsValue::from(r.status())),
                Err(_) => Ok(JsValue::from(0)),
            }
        }));
    }
    let done = JsFuture::from(Promise::all(&all)).await.unwrap();
    Array::from(&done)
        .iter()
        .map(|v| v.as_f64().unwrap() as u16)
        .collect()
}

/// Whether this runs in a browser (Web Storage and Web Locks exist).
pub fn in_browser() -> bool {
    Reflect::has(&js_sys::global(), &JsValue::from_str("document")).unwrap_or(false)
}

/// A keeper's metrics.
pub fn metrics(k: &Keeper) -> Metrics {
    k.metrics()
}
