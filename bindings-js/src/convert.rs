//! Rust values as the plain JS values the package hands out: errors with a stable `code`,
//! metrics and event payloads as objects with camelCase keys, times as epoch milliseconds.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use tokenkeeper_core::{ConfigError, Error, Event, Metrics, Timestamp, TokenSet, TransportStop};
use tokenkeeper_wasm::KeeperError;

fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(key), &value.into());
}

fn time(t: Option<Timestamp>) -> JsValue {
    t.map_or(JsValue::NULL, |t| JsValue::from_f64(t.as_millis() as f64))
}

fn opt_u16(v: Option<u16>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from)
}

fn opt_str(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from_str)
}

/// An `Error` with `code` and the details of `error`; the JS wrapper turns it into the
/// matching `TokenKeeperError` subclass.
fn coded(code: &str, message: &str) -> js_sys::Error {
    let e = js_sys::Error::new(message);
    set(&e, "code", code);
    e
}

/// The JS error for an engine failure.
pub(crate) fn engine_error(error: &Error, cause: Option<JsValue>) -> JsValue {
    let message = error.to_string();
    let e = match error {
        Error::SessionExpired => coded("SESSION_EXPIRED", &message),
        Error::InvalidCredentials { status, reason } | Error::AuthRejected { status, reason } => {
            let code = if matches!(error, Error::InvalidCredentials { .. }) {
                "INVALID_CREDENTIALS"
            } else {
                "AUTH_REJECTED"
            };
            let e = coded(code, &message);
            set(&e, "status", *status);
            set(&e, "reason", opt_str(reason.as_deref()));
            e
        }
        Error::InvalidAuthResponse(_) => coded("INVALID_AUTH_RESPONSE", &message),
        Error::AuthUnavailable {
            status,
            attempts,
            circuit_open,
            retry_at,
        } => {
            let e = coded("AUTH_UNAVAILABLE", &message);
            set(&e, "status", opt_u16(*status));
            set(&e, "attempts", *attempts);
            set(&e, "circuitOpen", *circuit_open);
            set(&e, "retryAt", time(*retry_at));
            e
        }
        Error::Transport {
            may_have_reached_server,
            attempts,
            stopped,
        } => {
            let e = coded("TRANSPORT", &message);
            set(&e, "mayHaveReachedServer", *may_have_reached_server);
            set(&e, "attempts", *attempts);
            let stopped = match stopped {
                TransportStop::NotIdempotent => "notIdempotent",
                TransportStop::NotReplayable => "notReplayable",
                TransportStop::ResendLimit => "resendLimit",
                TransportStop::BackoffBudget => "backoffBudget",
                _ => "other",
            };
            set(&e, "stopped", stopped);
            e
        }
        Error::Unauthorized { status } => {
            let e = coded("UNAUTHORIZED", &message);
            set(&e, "status", *status);
            e
        }
        _ => coded("INTERNAL", &message),
    };
    if let Some(cause) = cause {
        set(&e, "cause", cause);
    }
    e.into()
}

/// The JS error for a refused configuration.
pub(crate) fn config_error(error: &ConfigError) -> JsValue {
    coded("CONFIG", &error.to_string()).into()
}

/// The JS value a keeper call rejects with.
pub(crate) fn keeper_error(error: KeeperError) -> JsValue {
    match error {
        KeeperError::Engine { error, cause } => engine_error(&error, cause),
        KeeperError::Js(v) => v,
        other => coded("INTERNAL", &other.to_string()).into(),
    }
}

/// `keeper.metrics()`.
pub(crate) fn metrics(m: &Metrics) -> JsValue {
    let o = Object::new();
    let counters = [
        ("requests", m.requests),
        ("delivered", m.delivered),
        ("failures", m.failures),
        ("refreshCount", m.refresh_count),
        ("refreshFailures", m.refresh_failures),
        ("logins", m.logins),
        ("loginFailures", m.login_failures),
        ("reauthentications", m.reauthentications),
        ("unauthorizedResends", m.unauthorized_resends),
        ("transientResends", m.transient_resends),
        ("circuitOpened", m.circuit_opened),
    ];
    for (k, v) in counters {
        set(&o, k, v as f64);
    }
    set(&o, "lastRefresh", time(m.last_refresh));
    set(&o, "tokenExpiresAt", time(m.token_expires_at));
    set(&o, "isExpired", m.is_expired);
    set(&o, "authInProgress", m.auth_in_progress);
    o.into()
}

/// A token set as JS sees it (the `tokens` event, `setTokens`).
pub(crate) fn tokens(t: &TokenSet) -> JsValue {
    let o = Object::new();
    set(&o, "accessToken", t.access_token.expose());
    set(
        &o,
        "refreshToken",
        opt_str(
            t.refresh_token
                .as_ref()
                .map(tokenkeeper_core::Secret::expose),
        ),
    );
    set(&o, "issuedAt", time(Some(t.issued_at)));
    set(&o, "expiresAt", time(Some(t.expires_at)));
    set(&o, "refreshExpiresAt", time(t.refresh_expires_at));
    o.into()
}

/// The name and payload of an event for `keeper.on(name, callback)`.
pub(crate) fn event(e: &Event) -> Option<(&'static str, JsValue)> {
    let o = Object::new();
    let name = match e {
        Event::TokensChanged(t) => return Some(("tokens", tokens(t))),
        Event::Refreshed { expires_at } => {
            set(&o, "expiresAt", time(Some(*expires_at)));
            "refreshed"
        }
        Event::LoggedIn {
            expires_at,
            reauthenticated,
        } => {
            set(&o, "expiresAt", time(Some(*expires_at)));
            set(&o, "reauthenticated", *reauthenticated);
            "loggedIn"
        }
        Event::SessionExpired => "sessionExpired",
        Event::CircuitOpened { until } => {
            set(&o, "until", time(Some(*until)));
            "circuitOpened"
        }
        _ => return None,
    };
    Some((name, o.into()))
}
