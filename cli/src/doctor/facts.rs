//! The `access token`, `refresh token` and `expiry` checks: what the login answer says about
//! the tokens' lifetimes, told by lengths and by the expiry the library itself resolves
//! (never the tokens).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenkeeper_core::parse::{ExpirySource, jwt_exp, parse_http_date, resolve_expiry};
use tokenkeeper_core::time::Timestamp;
use tokenkeeper_core::tokens::refresh_margin;
use tokenkeeper_core::{Config, Error, TokenSet};

use super::judge::{Judged, Judgement, lifetime_cap, source_text};
use super::login::Login;
use super::report::{Report, Verdict};

/// What the login told about the tokens, as the library holds them.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// The access token's lifetime as the server gave it (`expires_in` or the JWT `exp`);
    /// `None` when the library falls back on its default lifetime.
    pub(crate) lifetime: Option<Duration>,
    /// The tokens the library would hold after this login.
    pub(crate) held: TokenSet,
}
/// The local wall clock as the engine sees it.
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Timestamp::from_millis(ms)
}
/// Checks `access token`, `refresh token` and `expiry`. `None` when the library refuses the
/// login answer (the rest cannot run).
pub(crate) fn token_facts(config: &Config, report: &mut Report, login: &Login) -> Option<Facts> {
    let t = &login.tokens;
    let access = t.access_token.expose();
    report.check(
        Verdict::Pass,
        "access token",
        &if jwt_exp(access).is_some() {
            format!("a JWT of {} characters, with an exp claim", access.len())
        } else {
            format!(
                "{} characters, not a JWT with an exp the library can read",
                access.len()
            )
        },
    );
    let judged = match &login.judgement {
        Ok(Judgement::Kept(j)) => j,
        Ok(Judgement::Refused(e)) => {
            refused(report, login, e);
            return None;
        }
        Err(e) => {
            report.check(Verdict::Fail, "expiry", e);
            return None;
        }
    };
    refresh_token(report, login, judged);
    expiry(config, report, login, judged);
    clock(report, login);
    Some(Facts {
        lifetime: (judged.source != ExpirySource::Default).then(|| judged.lifetime()),
        held: judged.tokens.clone(),
    })
}

/// The library refuses the login answer: FAIL with its own error.
fn refused(report: &mut Report, login: &Login, e: &Error) {
    let t = &login.tokens;
    let source = resolve_expiry(
        login.received,
        t.expires_in,
        t.access_token.expose(),
        &login.headers,
        // Only the source is wanted here, never this lifetime.
        Duration::ZERO,
    )
    .source;
    report.check(
        Verdict::Fail,
        "expiry",
        &format!(
            "the library refuses this login answer: {e} (expiry {})",
            source_text(source, &login.headers)
        ),
    );
    report.advise(if matches!(source, ExpirySource::JwtExp) {
        "the server issues tokens whose exp has already passed (by its own Date when it sends \
         one): check its clock and its token lifetime settings"
    } else {
        "the library keeps no token from this answer; fix the server's token response"
    });
}

fn refresh_token(report: &mut Report, login: &Login, judged: &Judged) {
    let Some(rt) = &login.tokens.refresh_token else {
        report.check(
            Verdict::Warn,
            "refresh token",
            "absent from the login answer",
        );
        report.advise(
            "the library will log in again with the stored password at every expiry; \
             the seed expects /api/login to return refresh_token",
        );
        return;
    };
    let life = judged
        .tokens
        .refresh_expires_at
        .map(|at| {
            format!(
                "; the library reads its exp as {} from now",
                human(at.saturating_duration_since(login.received))
            )
        })
        .unwrap_or_default();
    report.check(
        Verdict::Pass,
        "refresh token",
        &format!("present, {} characters{life}", rt.expose().len()),
    );
}

/// The expiry the library uses (clamped), where it came from, and when it refreshes.
fn expiry(config: &Config, report: &mut Report, login: &Login, judged: &Judged) {
    const NAME: &str = "expiry";
    let life = judged.lifetime();
    let margin = refresh_margin(life, config, 0.0);
    let cap = lifetime_cap();
    let capped = if life >= cap {
        format!(
            ", capped: the library believes no lifetime over {}",
            human(cap)
        )
    } else {
        String::new()
    };
    let detail = format!(
        "the library holds the access token {} ({}{capped}) and refreshes it {} before expiry",
        human(life),
        source_text(judged.source, &login.headers),
        human(margin)
    );
    match judged.source {
        ExpirySource::ExpiresIn => {
            // What the library would make of the JWT's exp alone, to compare.
            let by_exp = resolve_expiry(
                login.received,
                None,
                login.tokens.access_token.expose(),
                &login.headers,
                config.default_lifetime,
            );
            let exp_life = by_exp.expires_at.saturating_duration_since(login.received);
            if by_exp.source == ExpirySource::JwtExp
                && exp_life.abs_diff(life) > Duration::from_secs(2)
            {
                report.check(Verdict::Warn, NAME, &detail);
                report.advise(&format!(
                    "the JWT's exp says {} instead; the library believes expires_in",
                    human(exp_life)
                ));
            } else {
                report.check(Verdict::Pass, NAME, &detail);
            }
        }
        ExpirySource::JwtExp => {
            report.check(Verdict::Warn, NAME, &detail);
            report.advise("expires_in is absent: send it (RFC 6749 §5.1 recommends it)");
            if life >= cap {
                report.advise(
                    "a token that never expires: the library relies on 401 recovery when the \
                     server revokes it",
                );
            }
        }
        ExpirySource::Default => {
            report.check(Verdict::Warn, NAME, &detail);
            report.advise(
                "expires_in is absent and the token is opaque: the library relies on 401 \
                 recovery; send expires_in, or set Config::default_lifetime to the real lifetime",
            );
        }
    }
}

fn clock(report: &mut Report, login: &Login) {
    let Some(date) = login
        .headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
    else {
        return;
    };
    let skew = date.as_millis().abs_diff(login.received.as_millis()) / 1000;
    if skew > 30 {
        report.check(
            Verdict::Warn,
            "clock",
            &format!("the server's Date differs from this machine's clock by {skew} s"),
        );
        report.advise(
            "harmless for the library (expires_in is measured on the local clock, a JWT's exp \
             against the server's Date); fix NTP on one side",
        );
    }
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
    } else if s < 365.0 * 86400.0 {
        format!("{:.1} d", s / 86400.0)
    } else {
        format!("{:.1} years", s / (365.0 * 86400.0))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::{self, NOW, PASSWORD, headers, jwt};

    const HOUR: u64 = 3600;

    /// The lines `token_facts` prints for this login answer, and what it returned.
    fn facts(body: &str, date: Option<u64>) -> (String, Option<Facts>) {
        let config = Config::default();
        let login = testing::login(&config, body, headers(date));
        let mut report = Report::capturing();
        let facts = token_facts(&config, &mut report, &login);
        let text = report.text();
        assert!(!text.contains("eyJ"), "a token was printed\n{text}");
        assert!(!text.contains(PASSWORD), "the password was printed\n{text}");
        assert!(
            !text.contains("refresh-secret"),
            "a token was printed\n{text}"
        );
        (text, facts)
    }

    fn line<'a>(text: &'a str, verdict_and_name: &str) -> &'a str {
        text.lines()
            .find(|l| l.trim_start().starts_with(verdict_and_name))
            .unwrap_or_else(|| panic!("no {verdict_and_name:?} line\n{text}"))
    }

    fn answer(access: &str) -> String {
        format!(r#"{{"access_token":"{access}","refresh_token":"refresh-secret"}}"#)
    }

    #[test]
    fn an_expired_jwt_fails_with_the_librarys_reason() {
        let (text, facts) = facts(&answer(&jwt(NOW - 60)), Some(NOW));
        assert!(facts.is_none(), "{text}");
        let fail = line(&text, "FAIL  expiry");
        assert!(
            fail.contains(
                "the library refuses this login answer: invalid auth response: unusable \
                 expires_in: the token is already expired (expiry from the JWT's exp, corrected \
                 by the answer's Date)"
            ),
            "{text}"
        );
        assert!(!text.contains("PASS  expiry"), "{text}");
    }

    #[test]
    fn a_jwt_behind_a_slow_server_clock_is_judged_by_its_date() {
        let (text, facts) = facts(&answer(&jwt(NOW - HOUR + 600)), Some(NOW - HOUR));
        let warn = line(&text, "WARN  expiry");
        assert!(
            warn.contains(
                "the library holds the access token 10 min (from the JWT's exp, corrected by \
                 the answer's Date)"
            ),
            "{text}"
        );
        assert_eq!(
            facts.and_then(|f| f.lifetime),
            Some(Duration::from_secs(600))
        );
    }

    #[test]
    fn a_far_future_exp_is_printed_clamped() {
        let (text, facts) = facts(&answer(&jwt(NOW + 200 * 365 * 86_400)), Some(NOW));
        let warn = line(&text, "WARN  expiry");
        assert!(
            warn.contains(
                "the library holds the access token 10.0 years (from the JWT's exp, corrected \
                 by the answer's Date, capped: the library believes no lifetime over 10.0 years)"
            ),
            "{text}"
        );
        assert!(!text.contains("200.0 years"), "{text}");
        assert!(text.contains("never expires"), "{text}");
        assert!(facts.is_some());
    }

    #[test]
    fn expires_in_is_believed_and_a_disagreeing_exp_is_named() {
        let body = format!(
            r#"{{"access_token":"{}","expires_in":1800,"refresh_token":"refresh-secret"}}"#,
            jwt(NOW + 600)
        );
        let (text, _) = facts(&body, Some(NOW));
        let warn = line(&text, "WARN  expiry");
        assert!(
            warn.contains("holds the access token 30 min (from expires_in)"),
            "{text}"
        );
        assert!(
            text.contains("the JWT's exp says 10 min instead; the library believes expires_in"),
            "{text}"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_secs(2)), "2.0 s");
        assert_eq!(human(Duration::from_secs(1800)), "30 min");
        assert_eq!(human(Duration::from_secs(7 * 86400)), "7.0 d");
        assert_eq!(human(Duration::from_secs(10 * 365 * 86400)), "10.0 years");
    }
}
