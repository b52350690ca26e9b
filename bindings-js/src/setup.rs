//! `new TokenKeeper(options)`, second half: the JS shell has read and checked the options
//! object (`bindings-js/js/options.js`) and hands each given value over by number
//! ([`Num`], [`Str`]); this builds the engine's configuration, dialect and credentials and
//! the machine's setup from them. Whatever the engine refuses comes back as its
//! [`ConfigError`].

use core::time::Duration;

use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
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
}
const STRS: usize = 7;
/// The number after the last [`Num`]: `opt_num(STATUSES + i, status)` adds a status to list
/// `i` (transient, gateway, token rejected).
const STATUSES: usize = 100;

/// The number options, by the number the JS shell gives them (`NUM` in `options.js`).
/// Booleans are 0 or 1.
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
    DefaultLifetimeSeconds,
    MaxAuthRetriesPerExchange,
    MaxRefreshAttempts,
    MaxTransientResends,
    MaxStaleGenerationResends,
    AuthBackoff,
    ResendBackoff = 19,
    CircuitThreshold = 24,
    CircuitCoolDownMs,
    PeerWaitMs,
    TimeoutSeconds,
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

    fn at(&self, id: usize) -> Option<f64> {
        Some(self.nums[id]).filter(|n| !n.is_nan())
    }

    fn flag(&self, id: Num, default: bool) -> bool {
        self.num(id).map_or(default, |n| n != 0.0)
    }

    fn take(&mut self, id: Str) -> Option<Zeroizing<String>> {
        self.strs[id as usize].take()
    }
}

fn ms(n: f64) -> Duration {
    Duration::try_from_secs_f64(n / 1000.0).unwrap_or(Duration::MAX)
}

fn count(n: f64) -> u32 {
    n as u32 // the shell checked it is a whole number >= 0; saturates above u32::MAX
}

fn backoff(g: &Given, at: usize, into: &mut Backoff) {
    if let Some(n) = g.at(at) {
        into.base = ms(n);
    }
    if let Some(n) = g.at(at + 1) {
        into.factor = n;
    }
    if let Some(n) = g.at(at + 2) {
        into.cap = ms(n);
    }
    if let Some(n) = g.at(at + 3) {
        into.budget = ms(n);
    }
    if let Some(n) = g.at(at + 4) {
        into.jitter = n != 0.0;
    }
}

fn config(g: &Given) -> Config {
    let mut c = Config::default();
    c.enabled = g.flag(Num::Enabled, c.enabled);
    c.proactive = g.flag(Num::Proactive, c.proactive);
    c.retry_on_401 = g.flag(Num::RetryOn401, c.retry_on_401);
    c.refresh_ahead = g.flag(Num::RefreshAhead, c.refresh_ahead);
    c.reauth_on_refresh_rejected =
        g.flag(Num::ReauthOnRefreshRejected, c.reauth_on_refresh_rejected);
    c.retry_non_idempotent_gateway = g.flag(
        Num::RetryNonIdempotentGateway,
        c.retry_non_idempotent_gateway,
    );
    c.allow_insecure_http = g.flag(Num::AllowInsecureHttp, c.allow_insecure_http);
    if g.flag(Num::SecondRejectionFail, false) {
        c.second_rejection = SecondRejection::Fail;
    }
    if let Some(n) = g.num(Num::RefreshMarginMs) {
        c.margin = Margin::Fixed(ms(n));
    } else if let Margin::Proportional { fraction, min, max } = &mut c.margin {
        *fraction = g.num(Num::RefreshMarginFraction).unwrap_or(*fraction);
        *min = g.num(Num::RefreshMarginMinMs).map_or(*min, ms);
        *max = g.num(Num::RefreshMarginMaxMs).map_or(*max, ms);
    }
    c.margin_jitter = g.num(Num::MarginJitter).unwrap_or(c.margin_jitter);
    c.expiry_floor = g.num(Num::ExpiryFloorMs).map_or(c.expiry_floor, ms);
    c.auth_timeout = g.num(Num::AuthTimeoutMs).map_or(c.auth_timeout, ms);
    c.default_lifetime = g
        .num(Num::DefaultLifetimeSeconds)
        .map_or(c.default_lifetime, |s| ms(s * 1000.0));
    c.peer_wait = g.num(Num::PeerWaitMs).map_or(c.peer_wait, ms);
    let counts = [
        (
            Num::MaxAuthRetriesPerExchange,
            &mut c.max_auth_retries_per_exchange,
        ),
        (Num::MaxRefreshAttempts, &mut c.max_refresh_attempts),
        (Num::MaxTransientResends, &mut c.max_transient_resends),
        (
            Num::MaxStaleGenerationResends,
            &mut c.max_stale_generation_resends,
        ),
    ];
    for (id, field) in counts {
        if let Some(n) = g.num(id) {
            *field = count(n);
        }
    }
    backoff(g, Num::AuthBackoff as usize, &mut c.auth_backoff);
    backoff(g, Num::ResendBackoff as usize, &mut c.resend_backoff);
    let d = CircuitBreaker::default();
    c.circuit_breaker = CircuitBreaker {
        threshold: g.num(Num::CircuitThreshold).map_or(d.threshold, count),
        cool_down: g.num(Num::CircuitCoolDownMs).map_or(d.cool_down, ms),
    };
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
    let dialect = match g.num(Num::Dialect).unwrap_or(0.0) as u32 {
        0 => match g.num(Num::TokenExpirySeconds) {
            Some(s) => Dialect::vitalgraph_with_expiry(&url, s as u64),
            None => Dialect::vitalgraph(&url),
        },
        1 => Dialect::oauth2_password(&url, client, scope),
        _ => {
            if matches!(client, ClientAuth::None) {
                return Err(ConfigError::Invalid {
                    field: "clientId",
                    reason: "is required for the client credentials grant",
                });
            }
            Dialect::oauth2_client_credentials(&url, client, scope)
        }
    }?;
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
    setup.timeout = g
        .num(Num::TimeoutSeconds)
        .map(|s| ms(s * 1000.0))
        .filter(|d| !d.is_zero());
    Ok(setup)
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
            ("defaultLifetimeSeconds", Num::DefaultLifetimeSeconds),
            ("maxAuthRetriesPerExchange", Num::MaxAuthRetriesPerExchange),
            ("maxRefreshAttempts", Num::MaxRefreshAttempts),
            ("maxTransientResends", Num::MaxTransientResends),
            ("maxStaleGenerationResends", Num::MaxStaleGenerationResends),
            ("authBackoff", Num::AuthBackoff),
            ("resendBackoff", Num::ResendBackoff),
            ("circuitThreshold", Num::CircuitThreshold),
            ("circuitCoolDownMs", Num::CircuitCoolDownMs),
            ("peerWaitMs", Num::PeerWaitMs),
            ("timeout", Num::TimeoutSeconds),
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
