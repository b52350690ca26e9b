//! The browser driver against the reference server binary, in Node and in headless Chromium
//! (the same binary: `WASM_BINDGEN_USE_BROWSER=1` picks the browser). Browser-only stories
//! (Web Storage, Web Locks + BroadcastChannel) return early in Node.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::RequestInit;

use tokenkeeper_wasm::tokenkeeper_core::Error;
use tokenkeeper_wasm::{KeeperError, Storage};

use support::{
    advance, counter, herd, in_browser, keeper, keeper_with, options, reset, revoke_all, server,
    sleep, until,
};

fn url(path: &str) -> JsValue {
    JsValue::from_str(&format!("{}{path}", server()))
}

#[wasm_bindgen_test]
async fn login_then_fetch_sends_the_token() {
    reset().await;
    let k = keeper("login", 1800);
    k.login().await.unwrap();
    let r = k
        .fetch(&url("/api/spaces"), &JsValue::UNDEFINED)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = k.metrics();
    assert_eq!((m.logins, m.requests, m.delivered), (1, 1, 1));
    assert_eq!(counter("logins_ok").await, 1);
}

#[wasm_bindgen_test]
async fn a_herd_at_expiry_refreshes_once() {
    let k = keeper("herd", 2);
    k.login().await.unwrap();
    advance(2100).await; // the keeper's clock: past expiry
    assert!(k.metrics().is_expired);
    reset().await;
    let statuses = herd(&k, 100, "/api/spaces", &JsValue::UNDEFINED).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(counter("refreshes_accepted").await, 1);
    assert_eq!(counter("logins_ok").await, 0);
    assert_eq!(counter("protected_unauthorized").await, 0);
}

#[wasm_bindgen_test]
async fn revoke_all_means_one_refresh_attempt_and_one_resend_each() {
    let k = keeper("revoke", 1800);
    k.login().await.unwrap();
    reset().await;
    revoke_all().await;
    let statuses = herd(&k, 20, "/api/spaces", &JsValue::UNDEFINED).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // The refresh token was revoked too: one refresh, rejected, then one login.
    assert_eq!(
        counter("refreshes_rejected").await + counter("refreshes_accepted").await,
        1
    );
    assert_eq!(counter("logins_ok").await, 1);
    assert_eq!(counter("protected_unauthorized").await, 20);
    assert_eq!(k.metrics().unauthorized_resends, 20);
}

#[wasm_bindgen_test]
async fn bodies_are_replayed_after_a_401() {
    let k = keeper("replay", 1800);
    k.login().await.unwrap();
    for body in [
        JsValue::from_str("payload-ü-123"),
        Uint8Array::from(&b"\x00\x01binary\xff"[..]).into(),
    ] {
        revoke_all().await;
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&body);
        let r = k.fetch(&url("/api/echo"), &init).await.unwrap();
        assert_eq!(r.status(), 200);
        let got =
            Uint8Array::new(&JsFuture::from(r.array_buffer().unwrap()).await.unwrap()).to_vec();
        let want = match body.as_string() {
            Some(s) => s.into_bytes(),
            None => Uint8Array::from(body).to_vec(),
        };
        assert_eq!(got, want);
    }
}

#[wasm_bindgen_test]
async fn bad_credentials_fail_typed_and_are_not_retried() {
    reset().await;
    let k = keeper_with("badpw", 1800, &options("badpw", Storage::Memory), "wrong");
    for _ in 0..2 {
        match k.fetch(&url("/api/spaces"), &JsValue::UNDEFINED).await {
            Err(KeeperError::Engine {
                error: Error::InvalidCredentials { status: 401, .. },
                ..
            }) => {}
            other => panic!("expected InvalidCredentials, got {other:?}"),
        }
    }
    assert_eq!(counter("logins_rejected").await, 1);
}

#[wasm_bindgen_test]
async fn other_origins_get_a_plain_fetch_without_the_token() {
    let k = keeper("origin", 1800);
    k.login().await.unwrap();
    let other = server().replace("127.0.0.1", "localhost");
    let r = k
        .fetch(
            &JsValue::from_str(&format!("{other}/api/spaces")),
            &JsValue::UNDEFINED,
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the token must not go to another origin");
    assert_eq!(k.metrics().requests, 0);
}

#[wasm_bindgen_test]
async fn session_storage_restores_tokens_after_a_reload() {
    if !in_browser() {
        return;
    }
    let opts = options("restore", Storage::Session);
    let first = keeper_with("restore", 1800, &opts, "admin");
    first.login().await.unwrap();
    reset().await;
    let reloaded = keeper_with("restore", 1800, &opts, "admin");
    assert_eq!(
        reloaded.metrics().token_expires_at,
        first.metrics().token_expires_at
    );
    let r = reloaded
        .fetch(&url("/api/spaces"), &JsValue::UNDEFINED)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(counter("logins_ok").await, 0);
}

#[wasm_bindgen_test]
async fn a_tab_that_slept_picks_up_tokens_another_tab_stored() {
    if !in_browser() {
        return;
    }
    let mut opts = options("slept", Storage::Local);
    opts.cross_tab = false; // only the lazy check on every call
    let awake = keeper_with("slept", 2, &opts, "admin");
    awake.login().await.unwrap();
    let asleep = keeper_with("slept", 2, &opts, "admin");
    advance(2100).await;
    reset().await;
    assert_eq!(
        awake
            .fetch(&url("/api/spaces"), &JsValue::UNDEFINED)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        asleep
            .fetch(&url("/api/spaces"), &JsValue::UNDEFINED)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(counter("refreshes_accepted").await, 1);
    assert_eq!(asleep.metrics().refresh_count, 0);
}

#[wasm_bindgen_test]
async fn two_tabs_at_expiry_refresh_once() {
    if !in_browser() {
        return;
    }
    // Two keepers with one key in one page behave like two tabs: the BroadcastChannel
    // delivers between them and the Web Lock excludes them.
    let opts = options("tabs", Storage::Memory);
    let a = keeper_with("tabs", 2, &opts, "admin");
    let b = keeper_with("tabs", 2, &opts, "admin");
    assert!(a.cross_tab_active() && b.cross_tab_active());
    reset().await;
    a.login().await.unwrap();
    b.login().await.unwrap(); // takes the lock, finds a's tokens: no second login
    assert_eq!(counter("logins_ok").await, 1);
    assert_eq!(a.metrics().token_expires_at, b.metrics().token_expires_at);
    advance(2100).await;
    reset().await;
    let (a2, b2) = (a.clone(), b.clone());
    let pa = future_to_promise(async move {
        Ok(herd(&a2, 20, "/api/spaces", &JsValue::UNDEFINED)
            .await
            .len()
            .into())
    });
    let pb = future_to_promise(async move {
        Ok(herd(&b2, 20, "/api/spaces", &JsValue::UNDEFINED)
            .await
            .len()
            .into())
    });
    let _ = JsFuture::from(pa).await.unwrap();
    let _ = JsFuture::from(pb).await.unwrap();
    assert_eq!(counter("refreshes_accepted").await, 1);
    assert_eq!(counter("protected_ok").await, 40);
}

#[wasm_bindgen_test]
async fn logout_in_one_tab_logs_out_the_others() {
    if !in_browser() {
        return;
    }
    let opts = options("logout", Storage::Memory);
    let a = keeper_with("logout", 1800, &opts, "admin");
    let b = keeper_with("logout", 1800, &opts, "admin");
    a.login().await.unwrap();
    assert!(
        until(|| b.metrics().token_expires_at.is_some()).await,
        "b got a's tokens"
    );
    a.logout();
    assert!(
        until(|| b.metrics().token_expires_at.is_none()).await,
        "b forgot them too"
    );
}

#[wasm_bindgen_test]
async fn a_credentials_provider_is_asked_once_per_need() {
    use std::cell::Cell;
    use std::rc::Rc;
    use tokenkeeper_wasm::CredentialsProvider;
    use tokenkeeper_wasm::tokenkeeper_core::Config;
    use tokenkeeper_wasm::tokenkeeper_core::dialect::{Credentials, Dialect};

    reset().await;
    let calls = Rc::new(Cell::new(0));
    let seen = Rc::clone(&calls);
    let provider: CredentialsProvider = Rc::new(move || {
        seen.set(seen.get() + 1);
        Box::pin(async {
            sleep(Duration::from_millis(20)).await; // someone typing: requests pile up
            Ok(Credentials::password("admin", "admin"))
        })
    });
    let k = tokenkeeper_wasm::Keeper::with_credentials_provider(
        Config::default(),
        Dialect::vitalgraph(server()).unwrap(),
        provider,
        &options("provider", Storage::Memory),
    )
    .unwrap();
    let statuses = herd(&k, 20, "/api/spaces", &JsValue::UNDEFINED).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!((calls.get(), counter("logins_ok").await), (1, 1));
    // The refresh token dies with the rest: the held credentials log in again, unasked.
    revoke_all().await;
    let statuses = herd(&k, 5, "/api/spaces", &JsValue::UNDEFINED).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!((calls.get(), counter("logins_ok").await), (1, 2));
    // After a logout the provider is asked again.
    k.logout();
    let statuses = herd(&k, 5, "/api/spaces", &JsValue::UNDEFINED).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!((calls.get(), counter("logins_ok").await), (2, 3));
}
