//! From settings to the engine's `Config` and the request timeout. Every refusal names the
//! key and the value.

use std::time::Duration;

use tokenkeeper_core::{Backoff, CircuitBreaker, Config, ConfigError, Margin, SecondRejection};

use super::error::SettingsError;
use super::schema::{BackoffSettings, SecondRejectionSetting, Settings};

/// A number of seconds `v` (from a key in `unit`s of `per` seconds), finite and `>= 0` (or
/// `> 0` when `positive`).
fn duration(
    path: &str,
    v: f64,
    per: f64,
    unit: &str,
    positive: bool,
) -> Result<Duration, SettingsError> {
    let ok = v.is_finite() && if positive { v > 0.0 } else { v >= 0.0 };
    let d = ok
        .then(|| Duration::try_from_secs_f64(v * per).ok())
        .flatten();
    d.ok_or_else(|| {
        let bound = if positive { "> 0" } else { ">= 0" };
        SettingsError::invalid(
            path,
            Some(v.to_string()),
            format!("is not a number of {unit} {bound}"),
        )
    })
}

fn ms(path: &str, v: f64, positive: bool) -> Result<Duration, SettingsError> {
    duration(path, v, 0.001, "milliseconds", positive)
}

/// A whole number within `min..=u32::MAX`.
fn count(path: &str, v: i64, min: u32) -> Result<u32, SettingsError> {
    u32::try_from(v).ok().filter(|n| *n >= min).ok_or_else(|| {
        SettingsError::invalid(
            path,
            Some(v.to_string()),
            format!("is not a whole number within {min}..={}", u32::MAX),
        )
    })
}

/// A list of statuses within `range`.
fn statuses(
    path: &str,
    list: &[i64],
    range: std::ops::RangeInclusive<u16>,
    what: &str,
) -> Result<Vec<u16>, SettingsError> {
    list.iter()
        .map(|s| {
            u16::try_from(*s)
                .ok()
                .filter(|s| range.contains(s))
                .ok_or_else(|| {
                    SettingsError::invalid(path, Some(s.to_string()), format!("is not {what}"))
                })
        })
        .collect()
}

fn fraction(path: &str, v: f64, max: f64) -> Result<f64, SettingsError> {
    if (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(SettingsError::invalid(
            path,
            Some(v.to_string()),
            format!("is not within 0.0..={max:.1}"),
        ))
    }
}

fn backoff(path: &str, s: &BackoffSettings, into: &mut Backoff) -> Result<(), SettingsError> {
    let at = |key: &str| format!("{path}.{key}");
    if let Some(v) = s.base_ms {
        into.base = ms(&at("base_ms"), v, false)?;
    }
    if let Some(v) = s.factor {
        if !(v.is_finite() && v >= 1.0) {
            return Err(SettingsError::invalid(
                &at("factor"),
                Some(v.to_string()),
                "is not a finite number >= 1".to_owned(),
            ));
        }
        into.factor = v;
    }
    if let Some(v) = s.cap_ms {
        into.cap = ms(&at("cap_ms"), v, false)?;
    }
    if let Some(v) = s.budget_ms {
        into.budget = ms(&at("budget_ms"), v, false)?;
    }
    if let Some(v) = s.jitter {
        into.jitter = v;
    }
    if into.base > into.cap {
        return Err(SettingsError::invalid(
            &at("base_ms"),
            Some(into.base.as_millis().to_string()),
            format!("is more than cap_ms ({})", into.cap.as_millis()),
        ));
    }
    Ok(())
}

impl Settings {
    /// The engine's configuration these settings describe (`Config::default()` for every key
    /// not set). Refuses out-of-range and contradictory values, naming the key and the value.
    pub fn config(&self) -> Result<Config, SettingsError> {
        let c = &self.client;
        let t = &c.token_refresh;
        let mut config = Config::default();
        let bools = [
            (t.enabled, &mut config.enabled),
            (t.retry_on_401, &mut config.retry_on_401),
            (t.proactive, &mut config.proactive),
            (t.refresh_ahead, &mut config.refresh_ahead),
            (
                t.reauth_on_refresh_rejected,
                &mut config.reauth_on_refresh_rejected,
            ),
            (
                c.retry_non_idempotent_gateway,
                &mut config.retry_non_idempotent_gateway,
            ),
            (c.auth.allow_insecure_http, &mut config.allow_insecure_http),
        ];
        for (v, field) in bools {
            if let Some(v) = v {
                *field = v;
            }
        }
        let tr = "client.token_refresh";
        if let Some(v) = c.max_retries {
            config.max_transient_resends = count("client.max_retries", v, 0)?;
        }
        if let Some(v) = t.max_refresh_attempts {
            config.max_refresh_attempts = count(&format!("{tr}.max_refresh_attempts"), v, 1)?;
        }
        if let Some(v) = t.max_auth_retries_per_exchange {
            config.max_auth_retries_per_exchange =
                count(&format!("{tr}.max_auth_retries_per_exchange"), v, 0)?;
        }
        if let Some(v) = t.max_stale_generation_resends {
            config.max_stale_generation_resends =
                count(&format!("{tr}.max_stale_generation_resends"), v, 0)?;
        }
        config.margin = margin(self)?;
        if let Some(v) = t.margin_jitter {
            config.margin_jitter = fraction(&format!("{tr}.margin_jitter"), v, 1.0)?;
        }
        if let Some(v) = t.expiry_floor_ms {
            config.expiry_floor = ms(&format!("{tr}.expiry_floor_ms"), v, false)?;
        }
        if let Some(v) = t.default_lifetime_seconds {
            config.default_lifetime = duration(
                &format!("{tr}.default_lifetime_seconds"),
                v,
                1.0,
                "seconds",
                true,
            )?;
        }
        if let Some(v) = t.auth_timeout_ms {
            config.auth_timeout = ms(&format!("{tr}.auth_timeout_ms"), v, true)?;
        }
        if let Some(v) = t.peer_wait_ms {
            config.peer_wait = ms(&format!("{tr}.peer_wait_ms"), v, false)?;
        }
        if let Some(v) = t.second_rejection {
            config.second_rejection = match v {
                SecondRejectionSetting::Deliver => SecondRejection::Deliver,
                SecondRejectionSetting::Fail => SecondRejection::Fail,
            };
        }
        if let Some(list) = &t.token_rejected_statuses {
            config.token_rejected_statuses = statuses(
                &format!("{tr}.token_rejected_statuses"),
                list,
                400..=499,
                "a 4xx status",
            )?;
        }
        if let Some(list) = &c.transient_statuses {
            config.transient_statuses = statuses(
                "client.transient_statuses",
                list,
                100..=599,
                "an HTTP status",
            )?;
        }
        if let Some(list) = &c.gateway_statuses {
            config.gateway_statuses =
                statuses("client.gateway_statuses", list, 100..=599, "an HTTP status")?;
        }
        backoff(
            "client.resend_backoff",
            &c.resend_backoff,
            &mut config.resend_backoff,
        )?;
        backoff(
            &format!("{tr}.auth_backoff"),
            &t.auth_backoff,
            &mut config.auth_backoff,
        )?;
        let cb = &t.circuit_breaker;
        let d = CircuitBreaker::default();
        config.circuit_breaker = CircuitBreaker {
            threshold: cb.threshold.map_or(Ok(d.threshold), |v| {
                count(&format!("{tr}.circuit_breaker.threshold"), v, 0)
            })?,
            cool_down: cb.cool_down_ms.map_or(Ok(d.cool_down), |v| {
                ms(&format!("{tr}.circuit_breaker.cool_down_ms"), v, false)
            })?,
        };
        config.validate().map_err(|e| engine_refusal(&e))?;
        Ok(config)
    }

    /// `client.timeout` as the per-attempt request timeout (`KeeperBuilder::request_timeout`).
    pub fn request_timeout(&self) -> Result<Option<Duration>, SettingsError> {
        self.client
            .timeout
            .map(|v| duration("client.timeout", v, 1.0, "seconds", true))
            .transpose()
    }
}

/// The fixed or proportional margin.
fn margin(s: &Settings) -> Result<Margin, SettingsError> {
    let t = &s.client.token_refresh;
    let tr = "client.token_refresh";
    let fixed = match (t.buffer_minutes, t.refresh_margin_ms) {
        (Some(_), Some(_)) => {
            return Err(SettingsError::invalid(
                &format!("{tr}.refresh_margin_ms"),
                None,
                "and buffer_minutes both set a fixed margin: keep one".to_owned(),
            ));
        }
        (Some(m), None) => Some(duration(
            &format!("{tr}.buffer_minutes"),
            m,
            60.0,
            "minutes",
            false,
        )?),
        (None, Some(v)) => Some(ms(&format!("{tr}.refresh_margin_ms"), v, false)?),
        (None, None) => None,
    };
    let proportional = [
        ("refresh_margin_fraction", t.refresh_margin_fraction),
        ("refresh_margin_min_ms", t.refresh_margin_min_ms),
        ("refresh_margin_max_ms", t.refresh_margin_max_ms),
    ];
    if let Some(d) = fixed {
        if let Some((key, _)) = proportional.iter().find(|(_, v)| v.is_some()) {
            return Err(SettingsError::invalid(
                &format!("{tr}.{key}"),
                None,
                "is for the proportional margin, but a fixed one is set (buffer_minutes or refresh_margin_ms): keep one".to_owned(),
            ));
        }
        return Ok(Margin::Fixed(d));
    }
    let Margin::Proportional {
        fraction: f,
        min,
        max,
    } = Margin::default()
    else {
        unreachable!("the default margin is proportional")
    };
    let fraction = t.refresh_margin_fraction.map_or(Ok(f), |v| {
        self::fraction(&format!("{tr}.refresh_margin_fraction"), v, 0.5)
    })?;
    let min = t.refresh_margin_min_ms.map_or(Ok(min), |v| {
        ms(&format!("{tr}.refresh_margin_min_ms"), v, false)
    })?;
    let max = t.refresh_margin_max_ms.map_or(Ok(max), |v| {
        ms(&format!("{tr}.refresh_margin_max_ms"), v, false)
    })?;
    if min > max {
        return Err(SettingsError::invalid(
            &format!("{tr}.refresh_margin_min_ms"),
            Some(min.as_millis().to_string()),
            format!("is more than refresh_margin_max_ms ({})", max.as_millis()),
        ));
    }
    Ok(Margin::Proportional { fraction, min, max })
}

/// An engine refusal the checks above did not catch, at the key it is about.
fn engine_refusal(e: &ConfigError) -> SettingsError {
    let path = match e {
        ConfigError::Invalid { field, .. } => match *field {
            "margin" | "margin.fraction" => "client.token_refresh.refresh_margin_fraction",
            "margin_jitter" => "client.token_refresh.margin_jitter",
            "default_lifetime" => "client.token_refresh.default_lifetime_seconds",
            "max_refresh_attempts" => "client.token_refresh.max_refresh_attempts",
            "auth_timeout" => "client.token_refresh.auth_timeout_ms",
            "auth_backoff" => "client.token_refresh.auth_backoff",
            "resend_backoff" => "client.resend_backoff",
            "token_rejected_statuses" => "client.token_refresh.token_rejected_statuses",
            _ => "client",
        },
        _ => "client",
    };
    at(path, e)
}

pub(super) fn at(path: &str, e: &ConfigError) -> SettingsError {
    SettingsError::invalid(path, None, e.to_string())
}
