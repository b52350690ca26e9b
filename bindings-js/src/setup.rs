//! `new TokenKeeper(options)`, second half: the JS shell has read and checked the options
//! object (`bindings-js/js/options.js`) and hands each given value over by number
//! ([`Num`], [`Str`]); this builds the engine's configuration, dialect and credentials and
//! the machine's setup from them. Whatever the engine refuses comes back as its
//! [`ConfigError`].

use core::time::Duration;

use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect, EndpointUrl};
use tokenkeeper_core::{
    Backoff, CircuitBreaker, Config, ConfigError, Margin, SecondRejection, Secret,
};
use tokenkeeper_wasm::machine::Setup;
use zeroize::Zeroizing;

/// The text options, by the number the JS shell gives them (`STR` in `options.js`).
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Str {
    Url = 0,
    ClientId,
    ClientSecret,
    Scope,
    Username,
    Password,
    Key,
    /// The URL option as the platform's parser read it: `href \n scheme \n host \n port`
    /// (the port empty when the URL names none); absent when it did not parse.
    Parsed,
}
const STRS: usize = 8;
/// The number after the last [`Num`]: `opt_num(STATUSES + i, status)` adds a status to list
/// `i` (transient, gateway, token rejected).
const STATUSES: usize = 100;

/// The number options, by the number the JS shell gives them (`NUM` in `options.js`).
/// Booleans are 0 or 1; durations are in milliseconds (the shell converts seconds and
/// minutes).
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Num {
    Dialect = 0,
    TokenExpirySeconds,
    RefreshMarginMs,
    RefreshMarginFraction,
    RefreshMarginMinMs,
    RefreshMarginMaxMs,
    MarginJitter,
    ExpiryFloorMs,
    AuthTimeoutMs,
    DefaultLifetimeMs,
    MaxAuthRetriesPerExchange,
    MaxRefreshAttempts,
    MaxTransientResends,
    MaxStaleGenerationResends,
    AuthBackoff,
    ResendBackoff = 19,
    CircuitThreshold = 24,
    CircuitCoolDownMs,
    PeerWaitMs,
    TimeoutMs,
    Seed,
    Enabled,
    Proactive,
    RetryOn401,
    RefreshAhead,
    ReauthOnRefreshRejected,
    RetryNonIdempotentGateway,
    AllowInsecureHttp,
    SecondRejectionFail,
    ClientAuthBody,
    Provider,
    Persistent,
    CrossTab,
}
const NUMS: usize = 41;

/// The options handed over so far, for the next keeper.
pub(crate) struct Given {
    strs: [Option<Zeroizing<String>>; STRS],
    nums: [f64; NUMS],
    /// `transient_statuses`, `gateway_statuses`, `token_rejected_statuses`, if given.
    statuses: [Option<Vec<u16>>; 3],
}

impl Given {
    pub(crate) const fn new() -> Given {
        Given {
            strs: [const { None }; STRS],
            nums: [f64::NAN; NUMS],
            statuses: [const { None }; 3],
        }
    }

    /// Text option `id`.
    pub(crate) fn set_str(&mut self, id: u32, value: &str) {
        if let Some(slot) = self.strs.get_mut(id as usize) {
            *slot = Some(Zeroizing::new(value.to_owned()));
        }
    }

    /// Number option `id` (NaN: not given); for the status lists, one more status.
    pub(crate) fn set_num(&mut self, id: u32, value: f64) {
        if let Some(slot) = self.nums.get_mut(id as usize) {
            *slot = value;
        } else if let Some(list) = self.statuses.get_mut((id as usize).wrapping_sub(STATUSES)) {
            list.get_or_insert_with(Vec::new).push(value as u16);
        }
    }

    /// The machine's setup from what was given, which is forgotten.
    pub(crate) fn build(&mut self) -> Result<Setup, ConfigError> {
        let r = setup(self);
        *self = Given::new();
        r
    }
}

impl Given {
    fn num(&self, id: Num) -> Option<f64> {
        Some(self.nums[id as usize]).filter(|n| !n.is_nan())
    }

    fn flag(&self, id: Num, default: bool) -> bool {
        self.num(id).map_or(default, |n| n != 0.0)
    }

    fn take(&mut self, id: Str) -> Option<Zeroizing<String>> {
        self.strs[id as usize].take()
    }
}

// One small function per kind of field, not inlined: a field costs a call, not a copy of
// the conversion (the configuration is read once per keeper).

/// Milliseconds (whole or not: the shell converted seconds and minutes) as a duration.
#[inline(never)]
fn dur(v: f64, into: &mut Duration) {
    if !v.is_nan() {
        *into = Duration::from_millis(v as u64); // saturates; the shell checked v >= 0
    }
}

/// A whole number (the shell checked it); saturates above `u32::MAX`.
#[inline(never)]
fn count(v: f64, into: &mut u32) {
    if !v.is_nan() {
        *into = v as u32;
    }
}

#[inline(never)]
fn flag(v: f64, into: &mut bool) {
    if !v.is_nan() {
        *into = v != 0.0;
    }
}

#[inline(never)]
fn real(v: f64, into: &mut f64) {
    if !v.is_nan() {
        *into = v;
    }
}

fn backoff(n: &[f64], into: &mut Backoff) {
    dur(n[0], &mut into.base);
    real(n[1], &mut into.factor);
    dur(n[2], &mut into.cap);
    dur(n[3], &mut into.budget);
    flag(n[4], &mut into.jitter);
}

fn config(g: &Given) -> Config {
    let n = &g.nums;
    let at = |id: Num| n[id as usize];
    let mut c = Config::default();
    flag(at(Num::Enabled), &mut c.enabled);
    flag(at(Num::Proactive), &mut c.proactive);
    flag(at(Num::RetryOn401), &mut c.retry_on_401);
    flag(at(Num::RefreshAhead), &mut c.refresh_ahead);
    flag(
        at(Num::ReauthOnRefreshRejected),
        &mut c.reauth_on_refresh_rejected,
    );
    flag(
        at(Num::RetryNonIdempotentGateway),
        &mut c.retry_non_idempotent_gateway,
    );
    flag(at(Num::AllowInsecureHttp), &mut c.allow_insecure_http);
    let mut fail = false;
    flag(at(Num::SecondRejectionFail), &mut fail);
    if fail {
        c.second_rejection = SecondRejection::Fail;
    }
    if let Margin::Proportional { fraction, min, max } = &mut c.margin {
        real(at(Num::RefreshMarginFraction), fraction);
        dur(at(Num::RefreshMarginMinMs), min);
        dur(at(Num::RefreshMarginMaxMs), max);
    }
    let mut fixed = Duration::MAX;
    dur(at(Num::RefreshMarginMs), &mut fixed);
    if fixed != Duration::MAX {
        c.margin = Margin::Fixed(fixed);
    }
    real(at(Num::MarginJitter), &mut c.margin_jitter);
    dur(at(Num::ExpiryFloorMs), &mut c.expiry_floor);
    dur(at(Num::AuthTimeoutMs), &mut c.auth_timeout);
    dur(at(Num::DefaultLifetimeMs), &mut c.default_lifetime);
    dur(at(Num::PeerWaitMs), &mut c.peer_wait);
    count(
        at(Num::MaxAuthRetriesPerExchange),
        &mut c.max_auth_retries_per_exchange,
    );
    count(at(Num::MaxRefreshAttempts), &mut c.max_refresh_attempts);
    count(at(Num::MaxTransientResends), &mut c.max_transient_resends);
    count(
        at(Num::MaxStaleGenerationResends),
        &mut c.max_stale_generation_resends,
    );
    backoff(&n[Num::AuthBackoff as usize..], &mut c.auth_backoff);
    backoff(&n[Num::ResendBackoff as usize..], &mut c.resend_backoff);
    c.circuit_breaker = CircuitBreaker::default();
    count(at(Num::CircuitThreshold), &mut c.circuit_breaker.threshold);
    dur(at(Num::CircuitCoolDownMs), &mut c.circuit_breaker.cool_down);
    let [transient, gateway, rejected] = g.statuses.clone();
    for (list, into) in [
        (transient, &mut c.transient_statuses),
        (gateway, &mut c.gateway_statuses),
        (rejected, &mut c.token_rejected_statuses),
    ] {
        if let Some(list) = list {
            *into = list;
        }
    }
    c
}

fn setup(g: &mut Given) -> Result<Setup, ConfigError> {
    let config = config(g);
    let url = g.take(Str::Url).unwrap_or_default();
    let parsed = g.take(Str::Parsed);
    let scope = g.take(Str::Scope);
    let client = match (g.take(Str::ClientId), g.take(Str::ClientSecret)) {
        (None, _) => ClientAuth::None,
        (Some(client_id), Some(secret)) if !g.flag(Num::ClientAuthBody, false) => {
            ClientAuth::Basic {
                client_id: client_id.to_string(),
                client_secret: Secret::new(secret.as_str()),
            }
        }
        (Some(client_id), secret) => ClientAuth::Body {
            client_id: client_id.to_string(),
            client_secret: secret.map(|s| Secret::new(s.as_str())),
        },
    };
    let scope = scope.as_deref().map(String::as_str);
    // The endpoint URLs are the platform parser's (what `fetch` sends is what the engine
    // judges); the option as given is what an error shows.
    let invalid = || ConfigError::invalid_url(url.trim());
    let p = parsed
        .as_deref()
        .and_then(|p| parse_parts(p))
        .ok_or_else(invalid)?;
    let at = |href: &str| EndpointUrl::from_parsed(href, p.1, p.2, p.3).map_err(|_| invalid());
    let dialect = match g.num(Num::Dialect).unwrap_or(0.0) as u32 {
        0 => {
            // A query or fragment in the option as given is refused, as `vitalgraph` does.
            Dialect::vitalgraph_urls(&url)?;
            let [login, refresh] = Dialect::vitalgraph_urls(p.0).map_err(|_| invalid())?;
            let d = Dialect::vitalgraph_at(at(&login)?, at(&refresh)?);
            match g.num(Num::TokenExpirySeconds) {
                Some(s) => d.with_vitalgraph_expiry(s as u64)?,
                None => d,
            }
        }
        1 => Dialect::oauth2_password_at(at(p.0)?, client, scope),
        _ => {
            if matches!(client, ClientAuth::None) {
                return Err(ConfigError::Invalid {
                    field: "clientId",
                    reason: "is required for the client credentials grant",
                });
            }
            Dialect::oauth2_client_credentials_at(at(p.0)?, client, scope)
        }
    };
    let credentials = Credentials {
        username: g.take(Str::Username).map(|u| u.to_string()),
        password: g.take(Str::Password).map(|p| Secret::new(p.as_str())),
    };
    let mut setup = Setup::new(
        config,
        dialect,
        credentials,
        g.num(Num::Seed).unwrap_or(0.0) as u64,
    );
    setup.provider = g.flag(Num::Provider, false);
    setup.persistent = g.flag(Num::Persistent, false);
    setup.cross_tab = g.flag(Num::CrossTab, false);
    setup.key = g.take(Str::Key).map(|k| k.to_string());
    let mut timeout = Duration::ZERO;
    dur(g.nums[Num::TimeoutMs as usize], &mut timeout);
    setup.timeout = Some(timeout).filter(|d| !d.is_zero());
    Ok(setup)
}

/// `href \n scheme \n host \n port` ([`Str::Parsed`]) as its four parts.
fn parse_parts(p: &str) -> Option<(&str, &str, &str, Option<u16>)> {
    let mut it = p.split('\n');
    let (href, scheme, host, port) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse().ok()?)
    };
    Some((href, scheme, host, port))
}

#[cfg(test)]
mod tests {
    use super::{NUMS, Num, STRS, Str};

    /// `name: number` pairs of a `const NAME = { ... };` table in `js/options.js`.
    fn table(name: &str) -> Vec<(String, u32)> {
        let js = include_str!("../js/options.js");
        let start = js.find(&format!("const {name} = {{")).expect("table") + name.len() + 10;
        let end = start + js[start..].find("};").expect("end of table");
        js[start..end]
            .split(',')
            .filter_map(|pair| {
                let (k, v) = pair.split_once(':')?;
                Some((k.trim().to_owned(), v.trim().parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn the_shells_option_numbers_are_these() {
        let strs = table("STR");
        assert_eq!(strs.len(), STRS);
        for (name, id) in [
            ("url", Str::Url),
            ("clientId", Str::ClientId),
            ("clientSecret", Str::ClientSecret),
            ("scope", Str::Scope),
            ("username", Str::Username),
            ("password", Str::Password),
            ("storageKey", Str::Key),
            ("parsed", Str::Parsed),
        ] {
            assert!(strs.contains(&(name.to_owned(), id as u32)), "{name}");
        }
        let nums = table("NUM");
        assert_eq!(nums.len(), NUMS - 8, "the backoffs take 5 numbers each");
        for (name, id) in [
            ("dialect", Num::Dialect),
            ("tokenExpirySeconds", Num::TokenExpirySeconds),
            ("refreshMarginMs", Num::RefreshMarginMs),
            ("refreshMarginFraction", Num::RefreshMarginFraction),
            ("refreshMarginMinMs", Num::RefreshMarginMinMs),
            ("refreshMarginMaxMs", Num::RefreshMarginMaxMs),
            ("marginJitter", Num::MarginJitter),
            ("expiryFloorMs", Num::ExpiryFloorMs),
            ("authTimeoutMs", Num::AuthTimeoutMs),
            ("defaultLifetimeSeconds", Num::DefaultLifetimeMs),
            ("maxAuthRetriesPerExchange", Num::MaxAuthRetriesPerExchange),
            ("maxRefreshAttempts", Num::MaxRefreshAttempts),
            ("maxTransientResends", Num::MaxTransientResends),
            ("maxStaleGenerationResends", Num::MaxStaleGenerationResends),
            ("authBackoff", Num::AuthBackoff),
            ("resendBackoff", Num::ResendBackoff),
            ("circuitThreshold", Num::CircuitThreshold),
            ("circuitCoolDownMs", Num::CircuitCoolDownMs),
            ("peerWaitMs", Num::PeerWaitMs),
            ("timeout", Num::TimeoutMs),
            ("seed", Num::Seed),
            ("enabled", Num::Enabled),
            ("proactive", Num::Proactive),
            ("retryOn401", Num::RetryOn401),
            ("refreshAhead", Num::RefreshAhead),
            ("reauthOnRefreshRejected", Num::ReauthOnRefreshRejected),
            ("retryNonIdempotentGateway", Num::RetryNonIdempotentGateway),
            ("allowInsecureHttp", Num::AllowInsecureHttp),
            ("secondRejectionFail", Num::SecondRejectionFail),
            ("clientAuthBody", Num::ClientAuthBody),
            ("provider", Num::Provider),
            ("persistent", Num::Persistent),
            ("crossTab", Num::CrossTab),
        ] {
            assert!(nums.contains(&(name.to_owned(), id as u32)), "{name}");
        }
        assert_eq!(Num::ResendBackoff as u32, Num::AuthBackoff as u32 + 5);
        assert_eq!(Num::CircuitThreshold as u32, Num::ResendBackoff as u32 + 5);
        assert_eq!(Num::CrossTab as usize, NUMS - 1);
        assert_eq!(
            table("LISTS"),
            [
                ("transientStatuses".to_owned(), 100),
                ("gatewayStatuses".to_owned(), 101),
                ("tokenRejectedStatuses".to_owned(), 102)
            ]
        );
    }
}
