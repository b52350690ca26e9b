//! Hostile token endpoints, against the reference server's scripted answers: an answer of
//! 2 GB or one that never ends is read only up to the engine's limit (the caller gets
//! `InvalidAuthResponse`, the tokens held are kept, and the server sees the client go away);
//! one that never answers is aborted when the engine's deadline passes (the test moves the
//! keeper's clock; nothing waits 30 s), its cross-tab lock is released, and the next attempt
//! logs in.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wasm_bindgen_test::wasm_bindgen_test;

use tokenkeeper_wasm::tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_wasm::tokenkeeper_core::parse::{InvalidAuthResponse, MAX_AUTH_BODY};
use tokenkeeper_wasm::tokenkeeper_core::{Config, Error};
use tokenkeeper_wasm::{Keeper, KeeperError, Storage};

use support::{
    advance, counter, faults, gauge, in_browser, keeper, options, reset, scripts_idle, server,
    sleep, until,
};

fn url(path: &str) -> JsValue {
    JsValue::from_str(&format!("{}{path}", server()))
}

#[wasm_bindgen_test]
async fn huge_and_endless_token_answers_are_cut_at_the_limit_and_the_tokens_kept() {
    reset().await;
    let k = keeper("huge-answers", 1800);
    k.login().await.unwrap();
    for body in [r#"{"huge": 2000000000}"#, r#""endless""#] {
        faults(&format!(
            r#"{{"script": {{"route": "login", "status": 200, "body": {body}}}}}"#
        ))
        .await;
        match k.login().await {
            Err(KeeperError::Engine {
                error: Error::InvalidAuthResponse(InvalidAuthResponse::TooLarge { len, limit }),
                ..
            }) => assert_eq!((len, limit), (MAX_AUTH_BODY + 1, MAX_AUTH_BODY), "{body}"),
            other => panic!("{body}: expected InvalidAuthResponse(TooLarge), got {other:?}"),
        }
        assert!(
            scripts_idle().await,
            "{body}: the server is still sending, the driver did not stop reading"
        );
        // The tokens held before still work: no new login.
        let r = k.fetch(&url("/api/spaces"), &JsValue::UNDEFINED).await;
        assert_eq!(r.unwrap().status(), 200, "{body}");
        assert_eq!(counter("logins_ok").await, 1, "{body}");
    }
}

/// Wraps the global `fetch` (which the driver calls) to keep every `Request` to `path` and
/// how its `fetch` ended; `restore()` puts the original back.
struct Spy(JsValue);

impl Spy {
    fn new(path: &str) -> Spy {
        let make = Function::new_with_args(
            "path",
            "const original = globalThis.fetch;\
             const seen = [];\
             globalThis.fetch = function (input, init) {\
               const p = original(input, init);\
               if (input instanceof Request && new URL(input.url).pathname === path) {\
                 seen.push({ request: input, settled: p.then(() => 'answered', (e) => e.name) });\
               }\
               return p;\
             };\
             return { seen, restore() { globalThis.fetch = original; } };",
        );
        Spy(make.call1(&JsValue::UNDEFINED, &path.into()).unwrap())
    }

    fn get(v: &JsValue, name: &str) -> JsValue {
        Reflect::get(v, &JsValue::from_str(name)).unwrap()
    }

    fn seen(&self) -> Array {
        Array::from(&Self::get(&self.0, "seen"))
    }

    fn aborted(&self, i: u32) -> bool {
        let request = Self::get(&self.seen().get(i), "request");
        Self::get(&Self::get(&request, "signal"), "aborted").is_truthy()
    }

    async fn settled(&self, i: u32) -> String {
        let p: Promise = Self::get(&self.seen().get(i), "settled").into();
        JsFuture::from(p).await.unwrap().as_string().unwrap()
    }

    fn restore(&self) {
        let f: Function = Self::get(&self.0, "restore").into();
        f.call0(&self.0).unwrap();
    }
}

/// Whether the Web Lock `name` is free now (`ifAvailable`; browsers only).
async fn lock_free(name: &str) -> bool {
    let ask = Function::new_with_args(
        "name",
        "return navigator.locks.request(name, { ifAvailable: true }, (lock) => lock !== null);",
    );
    let p: Promise = ask.call1(&JsValue::UNDEFINED, &name.into()).unwrap().into();
    JsFuture::from(p).await.unwrap().is_truthy()
}

#[wasm_bindgen_test]
async fn the_auth_deadline_aborts_the_token_request_and_frees_the_lock() {
    reset().await;
    let o = options("deadline", Storage::Memory);
    let lock = o.key.clone().unwrap();
    let config = Config::default();
    let timeout = config.auth_timeout.as_millis() as u64;
    let k = Keeper::new(
        config,
        Dialect::vitalgraph(server()).unwrap(),
        Credentials::password("admin", "admin"),
        &o,
    )
    .unwrap();
    faults(r#"{"script": {"route": "login", "connection": "never"}}"#).await;
    let spy = Spy::new("/api/login");
    let caller = k.clone();
    let pending = future_to_promise(async move {
        match caller.fetch(&url("/api/spaces"), &JsValue::UNDEFINED).await {
            Ok(r) => Ok(r.status().into()),
            Err(e) => Err(JsValue::from_str(&format!("{e:?}"))),
        }
    });
    assert!(
        until(|| spy.seen().length() == 1).await,
        "no login was sent"
    );
    assert!(
        until_gauge_is_one().await,
        "the server did not get the login"
    );
    let cross_tab = in_browser() && k.cross_tab_active();
    if cross_tab {
        assert!(
            !lock_free(&lock).await,
            "the login holds the cross-tab lock"
        );
    }

    advance(timeout - 1).await;
    assert!(!spy.aborted(0), "aborted before the deadline");
    advance(1).await;
    assert!(
        spy.aborted(0),
        "the deadline passed and the login was not aborted"
    );
    assert_eq!(spy.settled(0).await, "AbortError");
    assert!(
        scripts_idle().await,
        "the server still holds the connection"
    );
    if cross_tab {
        assert!(
            until_async_lock_free(&lock).await,
            "the aborted login kept the cross-tab lock"
        );
    }
    assert_eq!(spy.seen().length(), 1, "retried before the backoff ended");

    // The engine retries after its backoff; this time the server answers.
    advance(10 * 60 * 1000).await;
    let status = JsFuture::from(pending).await.unwrap();
    assert_eq!(status.as_f64(), Some(200.0));
    assert_eq!(spy.seen().length(), 2);
    assert_eq!(spy.settled(1).await, "answered");
    assert_eq!(counter("logins_ok").await, 1);
    assert_eq!(k.metrics().logins, 1);
    spy.restore();
}

async fn until_gauge_is_one() -> bool {
    for _ in 0..500 {
        if gauge("scripts_in_progress").await == 1 {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn until_async_lock_free(name: &str) -> bool {
    for _ in 0..500 {
        if lock_free(name).await {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

#[wasm_bindgen_test]
async fn an_attempt_without_response_headers_within_the_timeout_is_cut_and_resent() {
    reset().await;
    let mut o = options("attempt-timeout", Storage::Memory);
    o.timeout = Some(Duration::from_secs(5));
    let k = Keeper::new(
        Config::default(),
        Dialect::vitalgraph(server()).unwrap(),
        Credentials::password("admin", "admin"),
        &o,
    )
    .unwrap();
    k.login().await.unwrap();
    // The next protected request is held by the server without an answer.
    faults(r#"{"script": {"route": "protected", "count": 1, "connection": "never"}}"#).await;
    let caller = k.clone();
    let pending = future_to_promise(async move {
        match caller.fetch(&url("/api/spaces"), &JsValue::UNDEFINED).await {
            Ok(r) => Ok(r.status().into()),
            Err(e) => Err(JsValue::from_str(&format!("{e:?}"))),
        }
    });
    assert!(
        until_gauge_is_one().await,
        "the server did not get the request"
    );
    advance(4999).await;
    assert_eq!(
        gauge("scripts_in_progress").await,
        1,
        "cut before the timeout"
    );
    advance(1).await;
    assert!(
        scripts_idle().await,
        "the attempt was not aborted at the timeout"
    );
    // A GET is resent after the engine's backoff, and answered.
    advance(10_000).await;
    let status = JsFuture::from(pending).await.unwrap();
    assert_eq!(status.as_f64(), Some(200.0));
    assert_eq!(k.metrics().transient_resends, 1);
}

#[wasm_bindgen_test]
async fn a_token_endpoint_that_redirects_is_refused_once_and_not_followed() {
    reset().await;
    support::reset_at(support::recorder()).await;
    let k = keeper("auth-redirect", 1800);
    faults(&format!(
        r#"{{"script": {{"route": "login", "count": 1, "status": 307,
             "headers": {{"location": "{}/_record/steal-password"}}}}}}"#,
        support::recorder()
    ))
    .await;
    match k.login().await {
        // Node gives the redirect's status; a browser (a page or a worker) hides it
        // (`opaqueredirect`): 302.
        Err(KeeperError::Engine {
            error: Error::AuthRejected { status, .. },
            ..
        }) => {
            let node = Reflect::has(&js_sys::global(), &"process".into()).unwrap_or(false);
            assert_eq!(status, if node { 307 } else { 302 });
        }
        other => panic!("expected AuthRejected, got {other:?}"),
    }
    assert_eq!(counter("logins_scripted").await, 1, "refused, not retried");
    assert!(
        support::recorded(support::recorder()).await.is_empty(),
        "the password followed the redirect"
    );
}
