//! When a freshly received token expires, on the local clock (the expiry rule in
//! `core/README.md`).

use core::time::Duration;

use super::{MAX_LIFETIME, jwt_exp, parse_http_date};
use crate::headers::{self, ReadHeader, ResponseHeaders};
use crate::time::Timestamp;

/// Where a token's expiry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirySource {
    /// The response's `expires_in`, measured from receipt on the local clock.
    ExpiresIn,
    /// The access token's JWT `exp` claim (corrected by the response's `Date` header when it
    /// has one).
    JwtExp,
    /// Neither was available: the configured default lifetime.
    Default,
}

/// A token's expiry on the local clock, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// When the token expires (local wall clock).
    pub expires_at: Timestamp,
    /// Which rule produced it.
    pub source: ExpirySource,
}

/// When an access token received at `now` expires, in order of preference:
///
/// 1. `expires_in`: `now + expires_in` (immune to clock skew);
/// 2. the token's JWT `exp` claim: `now + (exp - Date)` when the response has a parseable
///    `Date` header (the server's clock against itself, so skew cancels out), else `exp` as an
///    absolute time;
/// 3. `now + default_lifetime`.
///
/// Server-given times are clamped: an `exp` already past gives `expires_at = now`, and a
/// lifetime above 10 years is cut to 10 years.
pub fn resolve_expiry(
    now: Timestamp,
    expires_in: Option<Duration>,
    access_token: &str,
    headers: &dyn ResponseHeaders,
    default_lifetime: Duration,
) -> Expiry {
    if let Some(lifetime) = expires_in {
        return Expiry {
            expires_at: now.saturating_add(lifetime.min(MAX_LIFETIME)),
            source: ExpirySource::ExpiresIn,
        };
    }
    if let Some(exp) = jwt_exp(access_token) {
        return Expiry {
            expires_at: exp_to_local(now, exp, headers),
            source: ExpirySource::JwtExp,
        };
    }
    Expiry {
        expires_at: now.saturating_add(default_lifetime),
        source: ExpirySource::Default,
    }
}

/// When a refresh token received at `now` expires, from its JWT `exp` claim (with the same
/// `Date` correction and clamping as [`resolve_expiry`]); `None` for an opaque refresh token.
pub fn resolve_refresh_expiry(
    now: Timestamp,
    refresh_token: &str,
    headers: &dyn ResponseHeaders,
) -> Option<Timestamp> {
    jwt_exp(refresh_token).map(|exp| exp_to_local(now, exp, headers))
}

/// A server `exp` (seconds) on the local clock: its distance from the server's `Date` (or from
/// `now` without one), clamped to `0..=10 years`, added to `now`.
fn exp_to_local(now: Timestamp, exp_secs: u64, headers: &dyn ResponseHeaders) -> Timestamp {
    let exp = Timestamp::from_secs(exp_secs);
    let reference = headers::text(headers, ReadHeader::Date)
        .and_then(parse_http_date)
        .unwrap_or(now);
    let lifetime = exp.saturating_duration_since(reference).min(MAX_LIFETIME);
    now.saturating_add(lifetime)
}

#[cfg(test)]
mod tests {
    use super::super::format_http_date;
    use super::super::jwt::tests::jwt;
    use super::*;

    /// One row of the main table test.
    type Row = (
        Option<Duration>,
        String,
        Option<String>,
        Duration,
        ExpirySource,
    );

    const NOW: u64 = 1_700_000_000; // seconds
    const HOUR: u64 = 3600;
    const TEN_YEARS: u64 = 10 * 365 * 86_400;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn token_exp(exp: u64) -> String {
        jwt(&format!(r#"{{"sub":"alice","exp":{exp}}}"#))
    }

    fn date(secs: u64) -> String {
        format_http_date(Timestamp::from_secs(secs))
    }

    fn headers(date: Option<&str>) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Some(d) = date {
            h.insert(http::header::DATE, d.parse().unwrap());
        }
        h
    }

    #[test]
    fn resolve_expiry_table() {
        use ExpirySource::{Default, ExpiresIn, JwtExp};
        let ms = Duration::from_millis;
        let jwt_no_exp = jwt(r#"{"sub":"no exp"}"#);
        let jwt_string_exp = jwt(r#"{"exp":"1700000600"}"#);
        let rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
        let bad_hour = "Sun, 06 Nov 1994 25:00:00 GMT";
        // (expires_in, access token, Date header, expected expiry minus now, source)
        let table: Vec<Row> = vec![
            // expires_in wins over everything, measured from now.
            (
                Some(secs(1800)),
                token_exp(NOW + 60),
                Some(date(NOW + HOUR)),
                secs(1800),
                ExpiresIn,
            ),
            (Some(ms(1500)), "opaque".into(), None, ms(1500), ExpiresIn),
            (
                Some(secs(TEN_YEARS + 1)),
                "opaque".into(),
                None,
                secs(TEN_YEARS),
                ExpiresIn,
            ),
            // JWT exp, no Date header: absolute, clamped to 0..=10 years.
            (None, token_exp(NOW + 600), None, secs(600), JwtExp),
            (None, token_exp(NOW - 600), None, secs(0), JwtExp),
            (None, token_exp(NOW), None, secs(0), JwtExp),
            (None, token_exp(0), None, secs(0), JwtExp),
            (
                None,
                token_exp(NOW + TEN_YEARS + 5),
                None,
                secs(TEN_YEARS),
                JwtExp,
            ),
            (None, token_exp(u64::MAX), None, secs(TEN_YEARS), JwtExp),
            // JWT exp with Date, clocks agree.
            (
                None,
                token_exp(NOW + 600),
                Some(date(NOW)),
                secs(600),
                JwtExp,
            ),
            // Server clock 1 h ahead: exp looks 70 min away locally, but the token lives 10 min.
            (
                None,
                token_exp(NOW + HOUR + 600),
                Some(date(NOW + HOUR)),
                secs(600),
                JwtExp,
            ),
            // Server clock 1 h behind: exp looks past locally, but the token lives 10 min.
            (
                None,
                token_exp(NOW - HOUR + 600),
                Some(date(NOW - HOUR)),
                secs(600),
                JwtExp,
            ),
            // Already expired by the server's own clock.
            (
                None,
                token_exp(NOW + HOUR - 60),
                Some(date(NOW + HOUR)),
                secs(0),
                JwtExp,
            ),
            (
                None,
                token_exp(NOW + 2 * TEN_YEARS),
                Some(date(NOW)),
                secs(TEN_YEARS),
                JwtExp,
            ),
            // Garbage or empty Date: exp taken as absolute.
            (
                None,
                token_exp(NOW + 600),
                Some("yesterday".into()),
                secs(600),
                JwtExp,
            ),
            (
                None,
                token_exp(NOW + 600),
                Some(String::new()),
                secs(600),
                JwtExp,
            ),
            (
                None,
                token_exp(NOW + 600),
                Some(bad_hour.into()),
                secs(600),
                JwtExp,
            ),
            // Obsolete Date formats are honoured.
            (
                None,
                token_exp(784_111_777 + 300),
                Some(rfc850.into()),
                secs(300),
                JwtExp,
            ),
            // Neither: the default lifetime.
            (None, "opaque-token".into(), None, secs(900), Default),
            (None, jwt_no_exp, Some(date(NOW)), secs(900), Default),
            (None, jwt_string_exp, None, secs(900), Default),
            (None, String::new(), None, secs(900), Default),
        ];
        let now = Timestamp::from_secs(NOW);
        for (expires_in, token, date_header, lifetime, source) in table {
            let h = headers(date_header.as_deref());
            let got = resolve_expiry(now, expires_in, &token, &h, secs(900));
            let what = format!("{expires_in:?} {date_header:?} {token}");
            assert_eq!(got.source, source, "{what}");
            assert_eq!(got.expires_at, now.saturating_add(lifetime), "{what}");
        }
    }

    #[test]
    fn expiry_keeps_millisecond_precision_of_now() {
        let now = Timestamp::from_millis(NOW * 1000 + 250);
        let got = resolve_expiry(
            now,
            None,
            &token_exp(NOW + 60),
            &headers(Some(&date(NOW))),
            secs(1),
        );
        assert_eq!(
            got.expires_at,
            Timestamp::from_millis((NOW + 60) * 1000 + 250)
        );
        let got = resolve_expiry(now, Some(secs(60)), "x", &http::HeaderMap::new(), secs(1));
        assert_eq!(
            got.expires_at,
            Timestamp::from_millis((NOW + 60) * 1000 + 250)
        );
    }

    #[test]
    fn saturates_at_the_far_future() {
        let end = Timestamp::from_millis(u64::MAX);
        let h = http::HeaderMap::new();
        assert_eq!(
            resolve_expiry(end, Some(secs(60)), "x", &h, secs(1)).expires_at,
            end
        );
        assert_eq!(
            resolve_expiry(end, None, "x", &h, Duration::MAX).expires_at,
            end
        );
        assert_eq!(
            resolve_expiry(end, None, &token_exp(u64::MAX), &h, secs(1)).expires_at,
            end
        );
    }

    #[test]
    fn resolve_refresh_expiry_table() {
        let now = Timestamp::from_secs(NOW);
        let at = |offset: u64| Some(Timestamp::from_secs(NOW + offset));
        let table: Vec<(String, Option<String>, Option<Timestamp>)> = vec![
            (token_exp(NOW + 86_400), None, at(86_400)),
            (token_exp(NOW - 10), None, at(0)),
            (
                token_exp(NOW + HOUR + 86_400),
                Some(date(NOW + HOUR)),
                at(86_400),
            ),
            (
                token_exp(NOW - HOUR + 86_400),
                Some(date(NOW - HOUR)),
                at(86_400),
            ),
            (token_exp(NOW + 86_400), Some("garbage".into()), at(86_400)),
            (token_exp(NOW + 3 * TEN_YEARS), None, at(TEN_YEARS)),
            ("opaque-refresh-token".into(), None, None),
            (jwt(r#"{"sub":"x"}"#), Some(date(NOW)), None),
        ];
        for (token, date_header, want) in table {
            assert_eq!(
                resolve_refresh_expiry(now, &token, &headers(date_header.as_deref())),
                want,
                "{token} {date_header:?}"
            );
        }
    }
}
