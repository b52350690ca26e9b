//! `new TokenKeeper(options)`: reading the plain options object into the engine's
//! configuration, dialect and credentials, and the driver's options.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{
    Backoff, CircuitBreaker, Config, ConfigError, Margin, SecondRejection, Secret,
};
use tokenkeeper_wasm::{CredentialsProvider, Options, Storage};

/// Everything a keeper is built from.
pub(crate) struct Parsed {
    pub(crate) config: Config,
    pub(crate) dialect: Dialect,
    pub(crate) credentials: Credentials,
    pub(crate) provider: Option<CredentialsProvider>,
    pub(crate) options: Options,
}

fn invalid(field: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { field, reason }
}

fn get(obj: &JsValue, name: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    js_sys::Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn string(obj: &JsValue, name: &'static str) -> Result<Option<String>, ConfigError> {
    get(obj, name)
        .map(|v| v.as_string().ok_or(invalid(name, "must be a string")))
        .transpose()
}

fn boolean(obj: &JsValue, name: &'static str) -> Result<Option<bool>, ConfigError> {
    get(obj, name)
        .map(|v| v.as_bool().ok_or(invalid(name, "must be a boolean")))
        .transpose()
}

fn number(obj: &JsValue, name: &'static str) -> Result<Option<f64>, ConfigError> {
    match get(obj, name).map(|v| v.as_f64()) {
        None => Ok(None),
        Some(Some(n)) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        Some(_) => Err(invalid(name, "must be a finite number >= 0")),
    }
}

fn count(obj: &JsValue, name: &'static str) -> Result<Option<u32>, ConfigError> {
    match number(obj, name)? {
        Some(n) if n.fract() != 0.0 || n > f64::from(u32::MAX) => {
            Err(invalid(name, "must be a whole number"))
        }
        n => Ok(n.map(|n| n as u32)),
    }
}

fn millis(obj: &JsValue, name: &'static str) -> Result<Option<Duration>, ConfigError> {
    number(obj, name)?
        .map(|ms| {
            Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| invalid(name, "is out of range"))
        })
        .transpose()
}

fn seconds(obj: &JsValue, name: &'static str) -> Result<Option<Duration>, ConfigError> {
    number(obj, name)?
        .map(|s| Duration::try_from_secs_f64(s).map_err(|_| invalid(name, "is out of range")))
        .transpose()
}

/// Reads `options`. Unknown properties are ignored; wrong types are a `CONFIG` error.
pub(crate) fn parse(o: &JsValue) -> Result<Parsed, ConfigError> {
    if !o.is_object() {
        return Err(invalid("options", "must be an object"));
    }
    let config = config(o)?;
    let dialect = dialect(o)?;
    let username = string(o, "username")?;
    let password = string(o, "password")?;
    let credentials = Credentials {
        username,
        password: password.map(Secret::new),
    };
    let provider = match get(o, "credentials") {
        None => None,
        Some(f) => Some(provider(
            f.dyn_into()
                .map_err(|_| invalid("credentials", "must be a function"))?,
        )),
    };
    Ok(Parsed {
        config,
        dialect,
        credentials,
        provider,
        options: driver_options(o)?,
    })
}

fn dialect(o: &JsValue) -> Result<Dialect, ConfigError> {
    let scope = string(o, "scope")?;
    let client_id = string(o, "clientId")?;
    let client_secret = string(o, "clientSecret")?.map(Secret::new);
    let in_body = match string(o, "clientAuth")?.as_deref() {
        None | Some("basic") => false,
        Some("body") => true,
        Some(_) => return Err(invalid("clientAuth", "must be \"basic\" or \"body\"")),
    };
    let client = match (client_id, client_secret) {
        (None, _) => ClientAuth::None,
        (Some(client_id), Some(client_secret)) if !in_body => ClientAuth::Basic {
            client_id,
            client_secret,
        },
        (Some(client_id), client_secret) => ClientAuth::Body {
            client_id,
            client_secret,
        },
    };
    let token_url =
        || string(o, "tokenUrl")?.ok_or(invalid("tokenUrl", "is required for OAuth 2.0 dialects"));
    match string(o, "dialect")?.as_deref().unwrap_or("vitalgraph") {
        "vitalgraph" => {
            let base = string(o, "baseUrl")?
                .ok_or(invalid("baseUrl", "is required for the vitalgraph dialect"))?;
            match number(o, "tokenExpirySeconds")? {
                Some(s) => Dialect::vitalgraph_with_expiry(&base, s as u64),
                None => Dialect::vitalgraph(&base),
            }
        }
        "oauth2-password" => Dialect::oauth2_password(&token_url()?, client, scope.as_deref()),
        "oauth2-client-credentials" => {
            if matches!(client, ClientAuth::None) {
                return Err(invalid(
                    "clientId",
                    "is required for the client credentials grant",
                ));
            }
            Dialect::oauth2_client_credentials(&token_url()?, client, scope.as_deref())
        }
        _ => Err(invalid(
            "dialect",
            "must be vitalgraph, oauth2-password or oauth2-client-credentials",
        )),
    }
}

fn backoff(o: &JsValue, name: &'static str, into: &mut Backoff) -> Result<(), ConfigError> {
    let Some(b) = get(o, name) else { return Ok(()) };
    if let Some(d) = millis(&b, "baseMs")? {
        into.base = d;
    }
    if let Some(f) = number(&b, "factor")? {
        into.factor = f;
    }
    if let Some(d) = millis(&b, "capMs")? {
        into.cap = d;
    }
    if let Some(d) = millis(&b, "budgetMs")? {
        into.budget = d;
    }
    if let Some(j) = boolean(&b, "jitter")? {
        into.jitter = j;
    }
    Ok(())
}

fn config(o: &JsValue) -> Result<Config, ConfigError> {
    let mut c = Config::default();
    let flags: [(&'static str, &mut bool); 7] = [
        ("enabled", &mut c.enabled),
        ("proactive", &mut c.proactive),
        ("retryOn401", &mut c.retry_on_401),
        ("refreshAhead", &mut c.refresh_ahead),
        ("reauthOnRefreshRejected", &mut c.reauth_on_refresh_rejected),
        (
            "retryNonIdempotentGateway",
            &mut c.retry_non_idempotent_gateway,
        ),
        ("allowInsecureHttp", &mut c.allow_insecure_http),
    ];
    for (name, field) in flags {
        if let Some(v) = boolean(o, name)? {
            *field = v;
        }
    }
    if let Some(d) = millis(o, "refreshMarginMs")? {
        c.margin = Margin::Fixed(d);
    } else if let Margin::Proportional { fraction, min, max } = &mut c.margin {
        *fraction = number(o, "refreshMarginFraction")?.unwrap_or(*fraction);
        *min = millis(o, "refreshMarginMinMs")?.unwrap_or(*min);
        *max = millis(o, "refreshMarginMaxMs")?.unwrap_or(*max);
    }
    c.margin_jitter = number(o, "marginJitter")?.unwrap_or(c.margin_jitter);
    c.expiry_floor = millis(o, "expiryFloorMs")?.unwrap_or(c.expiry_floor);
    c.auth_timeout = millis(o, "authTimeoutMs")?.unwrap_or(c.auth_timeout);
    c.default_lifetime = seconds(o, "defaultLifetimeSeconds")?.unwrap_or(c.default_lifetime);
    let counts: [(&'static str, &mut u32); 4] = [
        (
            "maxAuthRetriesPerExchange",
            &mut c.max_auth_retries_per_exchange,
        ),
        ("maxRefreshAttempts", &mut c.max_refresh_attempts),
        ("maxTransientResends", &mut c.max_transient_resends),
        (
            "maxStaleGenerationResends",
            &mut c.max_stale_generation_resends,
        ),
    ];
    for (name, field) in counts {
        if let Some(v) = count(o, name)? {
            *field = v;
        }
    }
    backoff(o, "authBackoff", &mut c.auth_backoff)?;
    backoff(o, "resendBackoff", &mut c.resend_backoff)?;
    if let Some(cb) = get(o, "circuitBreaker") {
        let d = CircuitBreaker::default();
        c.circuit_breaker = CircuitBreaker {
            threshold: count(&cb, "threshold")?.unwrap_or(d.threshold),
            cool_down: millis(&cb, "coolDownMs")?.unwrap_or(d.cool_down),
        };
    }
    c.second_rejection = match string(o, "secondRejection")?.as_deref() {
        None | Some("deliver") => SecondRejection::Deliver,
        Some("fail") => SecondRejection::Fail,
        Some(_) => {
            return Err(invalid(
                "secondRejection",
                "must be \"deliver\" or \"fail\"",
            ));
        }
    };
    c.validate()?;
    Ok(c)
}

fn driver_options(o: &JsValue) -> Result<Options, ConfigError> {
    let mut options = Options::default();
    options.storage = match string(o, "storage")?.as_deref() {
        None | Some("memory") => Storage::Memory,
        Some("session") => Storage::Session,
        Some("local") => Storage::Local,
        Some(_) => {
            return Err(invalid(
                "storage",
                "must be \"memory\", \"session\" or \"local\"",
            ));
        }
    };
    options.cross_tab = boolean(o, "crossTab")?.unwrap_or(true);
    options.key = string(o, "storageKey")?;
    options.lock_timeout = millis(o, "lockTimeoutMs")?.unwrap_or(options.lock_timeout);
    if let Some(list) = get(o, "allowedOrigins") {
        let list: js_sys::Array = list
            .dyn_into()
            .map_err(|_| invalid("allowedOrigins", "must be an array"))?;
        for v in list.iter() {
            options.allowed_origins.push(
                v.as_string()
                    .ok_or(invalid("allowedOrigins", "must hold strings"))?,
            );
        }
    }
    Ok(options)
}

/// Wraps the `credentials` callback: called with no arguments, it returns (or resolves to)
/// `{ username, password }`.
fn provider(f: Function) -> CredentialsProvider {
    Rc::new(move || {
        let f = f.clone();
        Box::pin(async move {
            let value = f.call0(&JsValue::UNDEFINED)?;
            let value = JsFuture::from(Promise::resolve(&value)).await?;
            let field = |name| get(&value, name).and_then(|v| v.as_string());
            Ok(Credentials {
                username: field("username"),
                password: field("password").map(Secret::new),
            })
        })
    })
}
