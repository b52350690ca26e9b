//! Every key of the settings, once: its path, the kind of value, its environment variable, the
//! JS option that takes the same setting, the Rust field it sets and its default. The
//! environment layer reads values by this table, and `docs/CONFIG.md`'s table is checked
//! against it (a test renders it).

use serde_json::Value;

/// The kind of value a key takes, which says how its environment variable is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A number (durations may be fractional).
    Float,
    /// A string (or one of a few words).
    Str,
    /// Whole numbers, comma-separated in a variable (`401,403`).
    IntList,
    /// Strings, comma-separated in a variable.
    StrList,
    /// A secret written in the configuration: no variable (name one with `*_env` instead).
    Secret,
}

/// How the npm package takes a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Js {
    /// It takes this option (`a.b` for the property `b` of the object option `a`).
    Takes(&'static str),
    /// Does not apply in a browser; the text says what the package has instead.
    NotApplicable(&'static str),
}

/// One key. The fields only the tests read (the documentation table is rendered from them)
/// are kept here so that the table and the documentation cannot drift apart.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Key {
    /// Dotted path from the top of the file (`client.token_refresh.buffer_minutes`).
    pub(crate) path: &'static str,
    pub(crate) kind: Kind,
    pub(crate) js: Js,
    /// The Rust field or call it sets.
    pub(crate) rust: &'static str,
    /// The default, as a user reads it.
    pub(crate) default: &'static str,
    /// A value a test sets it to, as written in an environment variable.
    pub(crate) sample: &'static str,
}

/// The prefix of every settings variable.
pub(crate) const ENV_PREFIX: &str = "TOKENKEEPER_";

impl Key {
    /// `TOKENKEEPER_` and the path in capitals with `__` between its parts.
    pub(crate) fn env(&self) -> Option<String> {
        (self.kind != Kind::Secret).then(|| {
            format!(
                "{ENV_PREFIX}{}",
                self.path.to_uppercase().replace('.', "__")
            )
        })
    }

    /// Reads a variable's text as this key's kind of value. Text that is not of the kind is
    /// kept as a string, so that the refusal names the key and the text.
    pub(crate) fn parse_env(&self, text: &str) -> Value {
        let t = text.trim();
        match self.kind {
            Kind::Bool => match t {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(text.to_owned()),
            },
            Kind::Int => t
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            Kind::Float => match t.parse::<f64>() {
                Ok(n) if n.is_finite() => Value::from(n),
                _ => Value::String(text.to_owned()),
            },
            Kind::Str | Kind::Secret => Value::String(text.to_owned()),
            Kind::IntList => Value::Array(
                list(t)
                    .map(|s| {
                        s.parse::<i64>()
                            .map_or_else(|_| Value::from(s), Value::from)
                    })
                    .collect(),
            ),
            Kind::StrList => Value::Array(list(t).map(Value::from).collect()),
        }
    }
}

/// The items of `a,b,c` (or `[a, b, c]`), trimmed; none for an empty text.
fn list(text: &str) -> impl Iterator<Item = &str> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The key at `path`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// The key a variable names, if any.
pub(crate) fn by_env(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.env().as_deref() == Some(name))
}

macro_rules! keys {
    ($( $path:literal, $kind:ident, $js:ident($jsname:literal), $rust:literal, $default:literal, $sample:literal; )*) => {
        /// Every key, in the order of `docs/CONFIG.md`.
        pub(crate) const KEYS: &[Key] = &[
            $( Key { path: $path, kind: Kind::$kind, js: Js::$js($jsname), rust: $rust, default: $default, sample: $sample }, )*
        ];
    };
}

keys! {
    "client.timeout", Float, Takes("timeout"), "`KeeperBuilder::request_timeout` (seconds)", "none (30 s read timeout)", "12.5";
    "client.max_retries", Int, Takes("maxRetries"), "`Config::max_transient_resends`", "3", "7";
    "client.transient_statuses", IntList, Takes("transientStatuses"), "`Config::transient_statuses`", "[429, 503]", "429,503,500";
    "client.gateway_statuses", IntList, Takes("gatewayStatuses"), "`Config::gateway_statuses`", "[502, 504]", "502";
    "client.retry_non_idempotent_gateway", Bool, Takes("retryNonIdempotentGateway"), "`Config::retry_non_idempotent_gateway`", "false", "true";
    "client.resend_backoff.base_ms", Float, Takes("resendBackoff.baseMs"), "`Config::resend_backoff.base`", "200", "150";
    "client.resend_backoff.factor", Float, Takes("resendBackoff.factor"), "`Config::resend_backoff.factor`", "2.0", "3";
    "client.resend_backoff.cap_ms", Float, Takes("resendBackoff.capMs"), "`Config::resend_backoff.cap`", "10000", "4000";
    "client.resend_backoff.budget_ms", Float, Takes("resendBackoff.budgetMs"), "`Config::resend_backoff.budget`", "60000", "20000";
    "client.resend_backoff.jitter", Bool, Takes("resendBackoff.jitter"), "`Config::resend_backoff.jitter`", "true", "false";
    "client.token_refresh.enabled", Bool, Takes("enabled"), "`Config::enabled`", "true", "false";
    "client.token_refresh.buffer_minutes", Float, Takes("bufferMinutes"), "`Config::margin` = `Margin::Fixed` (minutes)", "proportional (see refresh_margin_fraction)", "2";
    "client.token_refresh.retry_on_401", Bool, Takes("retryOn401"), "`Config::retry_on_401`", "true", "false";
    "client.token_refresh.max_refresh_attempts", Int, Takes("maxRefreshAttempts"), "`Config::max_refresh_attempts`", "4", "2";
    "client.token_refresh.proactive", Bool, Takes("proactive"), "`Config::proactive`", "true", "false";
    "client.token_refresh.refresh_ahead", Bool, Takes("refreshAhead"), "`Config::refresh_ahead`", "false", "true";
    "client.token_refresh.refresh_margin_ms", Float, Takes("refreshMarginMs"), "`Config::margin` = `Margin::Fixed` (milliseconds)", "proportional (see refresh_margin_fraction)", "45000";
    "client.token_refresh.refresh_margin_fraction", Float, Takes("refreshMarginFraction"), "`Config::margin` = `Margin::Proportional { fraction, .. }`", "0.1", "0.2";
    "client.token_refresh.refresh_margin_min_ms", Float, Takes("refreshMarginMinMs"), "`Config::margin` = `Margin::Proportional { min, .. }`", "5000", "1000";
    "client.token_refresh.refresh_margin_max_ms", Float, Takes("refreshMarginMaxMs"), "`Config::margin` = `Margin::Proportional { max, .. }`", "300000", "120000";
    "client.token_refresh.margin_jitter", Float, Takes("marginJitter"), "`Config::margin_jitter`", "0.0", "0.25";
    "client.token_refresh.expiry_floor_ms", Float, Takes("expiryFloorMs"), "`Config::expiry_floor`", "500", "250";
    "client.token_refresh.default_lifetime_seconds", Float, Takes("defaultLifetimeSeconds"), "`Config::default_lifetime`", "300", "600";
    "client.token_refresh.auth_timeout_ms", Float, Takes("authTimeoutMs"), "`Config::auth_timeout`", "30000", "15000";
    "client.token_refresh.max_auth_retries_per_exchange", Int, Takes("maxAuthRetriesPerExchange"), "`Config::max_auth_retries_per_exchange`", "1", "2";
    "client.token_refresh.max_stale_generation_resends", Int, Takes("maxStaleGenerationResends"), "`Config::max_stale_generation_resends`", "3", "5";
    "client.token_refresh.reauth_on_refresh_rejected", Bool, Takes("reauthOnRefreshRejected"), "`Config::reauth_on_refresh_rejected`", "true", "false";
    "client.token_refresh.second_rejection", Str, Takes("secondRejection"), "`Config::second_rejection`: `deliver` or `fail`", "deliver", "fail";
    "client.token_refresh.token_rejected_statuses", IntList, Takes("tokenRejectedStatuses"), "`Config::token_rejected_statuses`", "[401]", "401,403";
    "client.token_refresh.peer_wait_ms", Float, Takes("peerWaitMs"), "`Config::peer_wait`", "1000", "2500";
    "client.token_refresh.auth_backoff.base_ms", Float, Takes("authBackoff.baseMs"), "`Config::auth_backoff.base`", "200", "300";
    "client.token_refresh.auth_backoff.factor", Float, Takes("authBackoff.factor"), "`Config::auth_backoff.factor`", "2.0", "1.5";
    "client.token_refresh.auth_backoff.cap_ms", Float, Takes("authBackoff.capMs"), "`Config::auth_backoff.cap`", "10000", "5000";
    "client.token_refresh.auth_backoff.budget_ms", Float, Takes("authBackoff.budgetMs"), "`Config::auth_backoff.budget`", "60000", "30000";
    "client.token_refresh.auth_backoff.jitter", Bool, Takes("authBackoff.jitter"), "`Config::auth_backoff.jitter`", "true", "false";
    "client.token_refresh.circuit_breaker.threshold", Int, Takes("circuitBreaker.threshold"), "`Config::circuit_breaker.threshold` (0: off)", "5", "9";
    "client.token_refresh.circuit_breaker.cool_down_ms", Float, Takes("circuitBreaker.coolDownMs"), "`Config::circuit_breaker.cool_down`", "30000", "45000";
    "client.auth.dialect", Str, Takes("dialect"), "`Dialect::vitalgraph`, `Dialect::oauth2_password` or `Dialect::oauth2_client_credentials` (`vitalgraph`, `oauth2-password`, `oauth2-client-credentials`)", "vitalgraph", "oauth2-client-credentials";
    "client.auth.base_url", Str, Takes("baseUrl"), "`Dialect::vitalgraph(base_url)`; OAuth 2.0: `KeeperBuilder::allow_origin`", "none", "https://api.example.com";
    "client.auth.token_url", Str, Takes("tokenUrl"), "`Dialect::oauth2_password` / `Dialect::oauth2_client_credentials` (`token_url`)", "none", "https://auth.example.com/oauth/token";
    "client.auth.token_expiry_seconds", Int, Takes("tokenExpirySeconds"), "`Dialect::vitalgraph_with_expiry`", "none (the server's)", "15";
    "client.auth.client_id", Str, Takes("clientId"), "`ClientAuth::Basic` / `ClientAuth::Body` (`client_id`)", "none", "my-app";
    "client.auth.client_auth", Str, Takes("clientAuth"), "`ClientAuth::Basic` (`basic`) or `ClientAuth::Body` (`body`)", "basic with a secret, else body", "body";
    "client.auth.scope", Str, Takes("scope"), "`Dialect::scope`", "none", "read write";
    "client.auth.allowed_origins", StrList, Takes("allowedOrigins"), "`KeeperBuilder::allow_origin` (each)", "[]", "https://files.example.com,https://cdn.example.com";
    "client.auth.allow_insecure_http", Bool, Takes("allowInsecureHttp"), "`Config::allow_insecure_http`", "false", "true";
    "client.credentials.username", Str, Takes("username"), "`Credentials::username`", "none", "alice";
    "client.credentials.password_env", Str, NotApplicable("`password` or the `credentials` callback"), "`Credentials::password` (read from the variable)", "TOKENKEEPER_PASSWORD", "VG_PASSWORD";
    "client.credentials.password_file", Str, NotApplicable("`password` or the `credentials` callback"), "`Credentials::password` (read from the file)", "none", "/run/secrets/vg-password";
    "client.credentials.password", Secret, Takes("password"), "`Credentials::password`", "refused unless allow_plaintext_secrets", "";
    "client.credentials.client_secret_env", Str, NotApplicable("`clientSecret`"), "`ClientAuth` `client_secret` (read from the variable)", "TOKENKEEPER_CLIENT_SECRET", "MY_APP_SECRET";
    "client.credentials.client_secret_file", Str, NotApplicable("`clientSecret`"), "`ClientAuth` `client_secret` (read from the file)", "none", "/run/secrets/my-app";
    "client.credentials.client_secret", Secret, Takes("clientSecret"), "`ClientAuth` `client_secret`", "refused unless allow_plaintext_secrets", "";
    "client.credentials.allow_plaintext_secrets", Bool, NotApplicable("secrets are values there"), "accept `password` / `client_secret` in the file (with a warning)", "false", "true";
    "client.store.kind", Str, NotApplicable("`storage`: `memory`, `session` or `local`"), "the token store: `memory` (none), `file` (`FileStore`) or `redis` (`RedisStore`)", "memory", "memory";
    "client.store.path", Str, NotApplicable("`storage`"), "`FileStore::new(path)` (kind `file`)", "none (required)", "/var/lib/app/tokens.json";
    "client.store.lock_wait_ms", Float, NotApplicable("Web Locks wait"), "`KeeperBuilder::store_lock_wait` (kinds `file`, `redis`)", "10000", "2500";
    "client.store.url", Str, NotApplicable("`storage`"), "`RedisOptions::url` (kind `redis`; no password in it)", "none (or url_env)", "redis://127.0.0.1:6379/";
    "client.store.url_env", Str, NotApplicable("`storage`"), "`RedisOptions::url` read from this variable (kind `redis`)", "none (or url)", "MY_REDIS_URL";
    "client.store.key", Str, NotApplicable("`storage`"), "`RedisOptions::key` (kind `redis`)", "tokenkeeper", "app:alice";
    "client.store.lock_ttl_ms", Float, NotApplicable("`storage`"), "`RedisOptions::lock_ttl` (kind `redis`)", "5000", "2000";
    "client.store.timeout_ms", Float, NotApplicable("`storage`"), "`RedisOptions::timeout` (kind `redis`)", "1000", "500";
    "client.store.allow_insecure", Bool, NotApplicable("`storage`"), "`RedisOptions::allow_insecure` (kind `redis`)", "false", "true";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_the_path_in_capitals() {
        let key = find("client.token_refresh.buffer_minutes").unwrap();
        assert_eq!(
            key.env().as_deref(),
            Some("TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES")
        );
        assert_eq!(
            by_env("TOKENKEEPER_CLIENT__TIMEOUT").map(|k| k.path),
            Some("client.timeout")
        );
        assert!(find("client.credentials.password").unwrap().env().is_none());
    }

    #[test]
    fn variables_are_read_by_kind() {
        let k = |p| find(p).unwrap();
        assert_eq!(k("client.max_retries").parse_env(" 7 "), Value::from(7));
        assert_eq!(
            k("client.max_retries").parse_env("seven"),
            Value::from("seven")
        );
        assert_eq!(k("client.timeout").parse_env("2.5"), Value::from(2.5));
        assert_eq!(k("client.timeout").parse_env("inf"), Value::from("inf"));
        assert_eq!(
            k("client.token_refresh.token_rejected_statuses").parse_env("[401, 403]"),
            serde_json::json!([401, 403])
        );
        assert_eq!(
            k("client.token_refresh.token_rejected_statuses").parse_env("401,x"),
            serde_json::json!([401, "x"])
        );
        assert_eq!(
            k("client.auth.allowed_origins").parse_env(""),
            serde_json::json!([])
        );
        assert_eq!(
            k("client.token_refresh.enabled").parse_env("yes"),
            Value::from("yes")
        );
    }

    #[test]
    fn paths_and_variables_are_unique() {
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                assert_ne!(a.path, b.path);
            }
        }
    }
}
