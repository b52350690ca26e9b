//! The `access token`, `refresh token` and `expires_in` checks: what the login answer says
//! about the tokens' lifetimes, told by lengths and JWT claims only (never the tokens).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenkeeper_core::Config;
use tokenkeeper_core::parse::{jwt_exp, parse_http_date};
use tokenkeeper_core::time::Timestamp;
use tokenkeeper_core::tokens::refresh_margin;

use super::login::Login;
use super::report::{Report, Verdict};

/// What the login told about the tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// The access token's lifetime, from `expires_in` or else the JWT `exp`.
    pub(crate) lifetime: Option<Duration>,
}
/// The local wall clock as the engine sees it.
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Timestamp::from_millis(ms)
}
/// Checks `access token`, `refresh token` and `expires_in`.
pub(crate) fn token_facts(report: &mut Report, login: &Login) -> Facts {
    let t = &login.tokens;
    let received = now();
    let server_date = login
        .headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let reference = server_date.unwrap_or(received);
    let jwt_life = |token: &str| {
        jwt_exp(token).map(|exp| Timestamp::from_secs(exp).saturating_duration_since(reference))
    };

    let access = t.access_token.expose();
    let access_jwt = jwt_life(access);
    report.check(
        Verdict::Pass,
        "access token",
        &match access_jwt {
            Some(life) => format!(
                "a JWT of {} characters; its exp is {} from now",
                access.len(),
                human(life)
            ),
            None => format!(
                "{} characters, not a JWT the library can read",
                access.len()
            ),
        },
    );

    if let Some(rt) = &t.refresh_token {
        let life = jwt_life(rt.expose())
            .map(|l| format!("; its exp is {} from now", human(l)))
            .unwrap_or_default();
        report.check(
            Verdict::Pass,
            "refresh token",
            &format!("present, {} characters{life}", rt.expose().len()),
        );
    } else {
        report.check(
            Verdict::Warn,
            "refresh token",
            "absent from the login answer",
        );
        report.advise(
            "the library will log in again with the stored password at every expiry; \
             the seed expects /api/login to return refresh_token",
        );
    }

    let lifetime = t.expires_in.or(access_jwt);
    let config = Config::default();
    match (t.expires_in, access_jwt) {
        (Some(e), jwt) => {
            let margin = refresh_margin(e, &config, 0.0);
            let detail = format!(
                "{}; the library refreshes {} before expiry",
                human(e),
                human(margin)
            );
            let off = jwt
                .map(|j| j.abs_diff(e))
                .filter(|d| *d > Duration::from_secs(2));
            if let (Some(_), Some(j)) = (off, jwt) {
                report.check(Verdict::Warn, "expires_in", &detail);
                report.advise(&format!(
                    "the JWT's exp says {} instead; the library believes expires_in",
                    human(j)
                ));
            } else {
                report.check(Verdict::Pass, "expires_in", &detail);
            }
        }
        (None, Some(j)) => {
            report.check(
                Verdict::Warn,
                "expires_in",
                &format!("absent; the library uses the JWT's exp ({})", human(j)),
            );
            report.advise("send expires_in (RFC 6749 §5.1 recommends it)");
        }
        (None, None) => {
            report.check(
                Verdict::Warn,
                "expires_in",
                &format!(
                    "absent and the token is opaque: the library assumes {} and relies on 401 \
                     recovery",
                    human(config.default_lifetime)
                ),
            );
            report.advise("send expires_in, or set Config::default_lifetime to the real lifetime");
        }
    }
    if let Some(date) = server_date {
        let skew = date.as_millis().abs_diff(received.as_millis()) / 1000;
        if skew > 30 {
            report.check(
                Verdict::Warn,
                "clock",
                &format!("the server's Date differs from this machine's clock by {skew} s"),
            );
            report.advise(
                "harmless with expires_in (measured on the local clock); fix NTP on one side",
            );
        }
    }
    Facts { lifetime }
}
/// A duration for people: `850 ms`, `2.0 s`, `30 min`, `7.0 d`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 2.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86400.0)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_secs(2)), "2.0 s");
        assert_eq!(human(Duration::from_secs(1800)), "30 min");
        assert_eq!(human(Duration::from_secs(7 * 86400)), "7.0 d");
    }
}
