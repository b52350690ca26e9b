//! tokenkeeper-js: the wasm-bindgen surface of the npm package `tokenkeeper`.
//!
//! It exports one class, `KeeperCore`, which the package's hand-written wrapper (`js/`) turns
//! into `TokenKeeper`: the wrapper adds the `Error` subclasses and `on()`. Everything else
//! (options, errors with a stable `code`, metrics and event payloads) is converted here.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod options;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use tokenkeeper_core::{Secret, Timestamp, TokenSet};
use tokenkeeper_wasm::Keeper;

/// The engine and its browser driver for one identity (wrapped by `TokenKeeper` in JS).
#[wasm_bindgen]
pub struct KeeperCore {
    keeper: Keeper,
}

#[wasm_bindgen]
impl KeeperCore {
    /// Builds a keeper from the options object; `events(name, payload)` receives every event.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue, events: Option<Function>) -> Result<KeeperCore, JsValue> {
        let p = options::parse(options).map_err(|e| convert::config_error(&e))?;
        let keeper = match p.provider {
            Some(provider) => {
                Keeper::with_credentials_provider(p.config, p.dialect, provider, &p.options)
            }
            None => Keeper::new(p.config, p.dialect, p.credentials, &p.options),
        }
        .map_err(|e| convert::config_error(&e))?;
        if let Some(f) = events {
            keeper.on_event(move |e| {
                if let Some((name, payload)) = convert::event(e) {
                    let _ = f.call2(&JsValue::UNDEFINED, &JsValue::from_str(name), &payload);
                }
            });
        }
        Ok(KeeperCore { keeper })
    }

    /// `fetch(input, init)` with the token kept valid; resolves with the `Response`.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let keeper = self.keeper.clone();
        future_to_promise(async move {
            keeper
                .fetch(&input, &init)
                .await
                .map(JsValue::from)
                .map_err(convert::keeper_error)
        })
    }

    /// Logs in now; resolves with `undefined` once tokens are held.
    pub fn login(&self) -> Promise {
        let keeper = self.keeper.clone();
        future_to_promise(async move {
            keeper
                .login()
                .await
                .map(|()| JsValue::UNDEFINED)
                .map_err(convert::keeper_error)
        })
    }

    /// Forgets the tokens here, in the store and in the other tabs.
    pub fn logout(&self) {
        self.keeper.logout();
    }

    /// A plain object of counters and token state.
    pub fn metrics(&self) -> JsValue {
        convert::metrics(&self.keeper.metrics())
    }

    /// Installs tokens obtained elsewhere: `{ accessToken, refreshToken?, expiresAt, issuedAt? }`
    /// (times in epoch milliseconds).
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, tokens: &JsValue) -> Result<(), JsValue> {
        let set = token_set(tokens).ok_or_else(|| {
            convert::config_error(&tokenkeeper_core::ConfigError::Invalid {
                field: "tokens",
                reason: "needs accessToken (string) and expiresAt (epoch ms)",
            })
        })?;
        self.keeper
            .set_tokens(&set)
            .map_err(|e| convert::config_error(&e))
    }

    /// Whether cross-tab single flight is active here.
    #[wasm_bindgen(getter, js_name = crossTab)]
    pub fn cross_tab(&self) -> bool {
        self.keeper.cross_tab_active()
    }
}

fn token_set(v: &JsValue) -> Option<TokenSet> {
    let get = |name: &str| {
        js_sys::Reflect::get(v, &JsValue::from_str(name))
            .ok()
            .filter(|x| !x.is_undefined() && !x.is_null())
    };
    let ms = |name: &str| {
        get(name)?
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| Timestamp::from_millis(n as u64))
    };
    let expires_at = ms("expiresAt")?;
    Some(TokenSet {
        access_token: Secret::new(get("accessToken")?.as_string()?),
        refresh_token: get("refreshToken")
            .and_then(|r| r.as_string())
            .map(Secret::new),
        issued_at: ms("issuedAt")
            .unwrap_or_else(|| Timestamp::from_millis(js_sys::Date::now() as u64)),
        expires_at,
        refresh_expires_at: ms("refreshExpiresAt"),
    })
}
