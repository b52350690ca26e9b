//! The library checks, through `tokenkeeper-reqwest` itself: a short-lived token refreshed
//! before it expires (no 401 ever seen), and a 401 for a token the library believed valid,
//! recovered by one refresh and one resend.

use std::time::Duration;

use tokenkeeper_core::TokenSet;
use tokenkeeper_core::dialect::Dialect;
use tokenkeeper_core::parse::{TokenResponse, parse_token_response};
use tokenkeeper_core::secret::Secret;
use tokenkeeper_reqwest::Keeper;
use tokio::time::Instant;

use super::facts::{Facts, human, now};
use super::http::{self as wire_http, describe};
use super::report::{Report, Verdict};
use super::{Ctx, DialectKind};

/// Longest an OAuth 2.0 token may live for the proactive check to wait for its expiry.
const SHORT_ENOUGH: Duration = Duration::from_secs(30);

/// A token the server will refuse although it looks valid to a client: one that expired on
/// the server, or a copy with a damaged signature.
#[derive(Debug)]
pub(crate) struct Rejected {
    tokens: TokenResponse,
    /// How the token came to be refused, for the report.
    how: &'static str,
    /// When the server will refuse it.
    refused_from: Instant,
}

/// A keeper for the library checks: the doctor's timeouts, the token also sent to the probe's
/// origin.
fn keeper(ctx: &Ctx, dialect: Dialect) -> Result<Keeper, String> {
    let api = reqwest::Client::builder()
        .connect_timeout(ctx.timeout)
        .timeout(ctx.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let auth = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(ctx.timeout)
        .timeout(ctx.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    Keeper::builder(dialect)
        .credentials(ctx.credentials.clone())
        .config(ctx.config.clone())
        .client(api)
        .auth_client(auth)
        .allow_origin(ctx.probe.origin().ascii_serialization())
        .build()
        .map_err(|e| format!("cannot set up the library: {e}"))
}

/// Logs in (raw) for the 401 check: on VitalGraph with a short lifetime, so that the token
/// expires on the server while the proactive check runs; elsewhere, a copy of the token with
/// a damaged signature.
pub(crate) async fn prepare_rejected_token(ctx: &Ctx, facts: &Facts) -> Result<Rejected, String> {
    if ctx.kind == DialectKind::Vitalgraph
        && let Ok(short) = Dialect::vitalgraph_with_expiry(&ctx.server, ctx.short_secs)
        && let Ok(tokens) = raw_login(ctx, &short).await
        && let Some(life) = tokens.expires_in.filter(|l| *l <= SHORT_ENOUGH)
    {
        return Ok(Rejected {
            tokens,
            how: "it expired on the server",
            refused_from: Instant::now() + life + Duration::from_millis(300),
        });
    }
    if let Some(life) = facts.lifetime.filter(|l| *l <= Duration::from_secs(5)) {
        let tokens = raw_login(ctx, &ctx.dialect).await?;
        return Ok(Rejected {
            tokens,
            how: "it expired on the server",
            refused_from: Instant::now() + life + Duration::from_millis(300),
        });
    }
    let mut tokens = raw_login(ctx, &ctx.dialect).await?;
    tokens.access_token = damaged(&tokens.access_token);
    Ok(Rejected {
        tokens,
        how: "its signature was damaged, as a revoked or foreign token would be refused",
        refused_from: Instant::now(),
    })
}

async fn raw_login(ctx: &Ctx, dialect: &Dialect) -> Result<TokenResponse, String> {
    let request = dialect
        .login_request(&ctx.credentials)
        .ok_or("cannot build a login request")?;
    let answer = wire_http::send(&ctx.raw, request)
        .await
        .map_err(|e| format!("login: {}", describe(&e, ctx.timeout)))?;
    if !answer.status.is_success() {
        return Err(format!("login → {}", answer.status_and_reason()));
    }
    parse_token_response(&answer.headers, &answer.body).map_err(|e| format!("login: {e}"))
}

/// The token with one character of its last segment (a JWT's signature) changed.
fn damaged(token: &Secret) -> Secret {
    let t = token.expose();
    let start = t.rfind('.').map_or(0, |i| i + 1);
    let at = start + (t.len() - start) / 2;
    let mut out = String::with_capacity(t.len());
    for (i, c) in t.char_indices() {
        out.push(if i == at {
            if c == 'A' { 'B' } else { 'A' }
        } else {
            c
        });
    }
    Secret::new(out)
}

/// Checks `expired token`, the seed's third diagnostic step: the library is handed a token
/// it must consider expired (the server would still take it) and refreshes before sending.
pub(crate) async fn expired_token(ctx: &Ctx, report: &mut Report) {
    const NAME: &str = "expired token";
    let tokens = match raw_login(ctx, &ctx.dialect).await {
        Ok(t) => t,
        Err(e) => {
            report.check(Verdict::Fail, NAME, &format!("could not log in: {e}"));
            return;
        }
    };
    let keeper = match keeper(ctx, ctx.dialect.clone()) {
        Ok(k) => k,
        Err(e) => {
            report.check(Verdict::Fail, NAME, &e);
            return;
        }
    };
    let at = now();
    let set = TokenSet {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        issued_at: at.saturating_sub(Duration::from_secs(3600)),
        expires_at: at.saturating_sub(Duration::from_secs(60)),
        refresh_expires_at: None,
    };
    if let Err(e) = keeper.set_tokens(set) {
        report.check(
            Verdict::Fail,
            NAME,
            &format!("cannot hand the token over: {e}"),
        );
        return;
    }
    let outcome = keeper.client().get(ctx.probe.clone()).send().await;
    let m = keeper.metrics();
    let renewed = if m.refresh_count > 0 {
        "refreshed"
    } else {
        "logged in again"
    };
    match outcome {
        Ok(r) if r.status().is_success() && m.unauthorized_resends == 0 => report.check(
            Verdict::Pass,
            NAME,
            &format!(
                "a token marked expired a minute ago: the library {renewed} before sending → {}",
                r.status()
            ),
        ),
        Ok(r) if r.status().is_success() => report.check(
            Verdict::Warn,
            NAME,
            &format!(
                "→ {}, but only after {} 401(s)",
                r.status(),
                m.unauthorized_resends
            ),
        ),
        Ok(r) => report.check(
            Verdict::Fail,
            NAME,
            &format!(
                "the caller got {} ({} refreshes, {} re-logins)",
                r.status(),
                m.refresh_count,
                m.reauthentications
            ),
        ),
        Err(e) => report.check(Verdict::Fail, NAME, &format!("the request failed: {e}")),
    }
}

/// Checks `proactive refresh`: requests across several expiries of a short-lived token never
/// see a 401, because the library refreshes first.
pub(crate) async fn proactive(ctx: &Ctx, report: &mut Report, facts: &Facts) {
    const NAME: &str = "proactive refresh";
    let dialect = match ctx.kind {
        DialectKind::Vitalgraph => {
            match Dialect::vitalgraph_with_expiry(&ctx.server, ctx.short_secs) {
                Ok(d) => d,
                Err(e) => {
                    report.check(Verdict::Fail, NAME, &e.to_string());
                    return;
                }
            }
        }
        DialectKind::Oauth2 => match facts.lifetime {
            Some(l) if l <= SHORT_ENOUGH => ctx.dialect.clone(),
            _ => {
                report.check(
                    Verdict::Skip,
                    NAME,
                    "the access token lives long, and token_expiry_seconds is VitalGraph's",
                );
                report.advise("give the server a short access-token lifetime to watch this");
                return;
            }
        },
    };
    let keeper = match keeper(ctx, dialect) {
        Ok(k) => k,
        Err(e) => {
            report.check(Verdict::Fail, NAME, &e);
            return;
        }
    };
    if let Err(e) = keeper.login().await {
        report.check(
            Verdict::Fail,
            NAME,
            &format!("the library's login failed: {e}"),
        );
        if ctx.kind == DialectKind::Vitalgraph && e.is_invalid_credentials() {
            report.advise(&format!(
                "the server refuses token_expiry_seconds={} (the seed's \"Configurable Token \
                 Expiry for Testing\"); normal logins still work",
                ctx.short_secs
            ));
        }
        return;
    }
    let lifetime = keeper
        .metrics()
        .token_expires_at
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(now()));
    if ctx.kind == DialectKind::Vitalgraph && lifetime > Duration::from_secs(ctx.short_secs + 2) {
        report.check(
            Verdict::Warn,
            NAME,
            &format!(
                "the server ignored token_expiry_seconds={}: the token lives {}",
                ctx.short_secs,
                human(lifetime)
            ),
        );
        report.advise("the seed's short-token testing needs the server to honour it");
        return;
    }
    let run = lifetime
        .mul_f64(2.5)
        .saturating_add(Duration::from_secs(1))
        .clamp(Duration::from_secs(3), Duration::from_secs(80));
    let client = keeper.client();
    let started = Instant::now();
    let (mut sent, mut failed) = (0u32, Vec::new());
    while started.elapsed() < run {
        sent += 1;
        match client.get(ctx.probe.clone()).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => failed.push(format!("status {}", r.status())),
            Err(e) => failed.push(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let m = keeper.metrics();
    let span = started.elapsed();
    let what = format!(
        "{} token: {sent} requests over {:.1} s ({:.1} lifetimes), {} refreshes",
        human(lifetime.max(Duration::from_secs(1))),
        span.as_secs_f64(),
        span.as_secs_f64() / lifetime.as_secs_f64().max(0.001),
        m.refresh_count
    );
    if let Some(first) = failed.first() {
        report.check(
            Verdict::Fail,
            NAME,
            &format!("{what}; {} failed (first: {first})", failed.len()),
        );
    } else if m.refresh_count == 0 {
        report.check(
            Verdict::Fail,
            NAME,
            &format!("{what}, {} re-logins", m.reauthentications),
        );
        report.advise("the library could not refresh; see the refresh check above");
    } else if m.unauthorized_resends > 0 {
        report.check(
            Verdict::Warn,
            NAME,
            &format!(
                "{what}; all succeeded, but the server answered 401 {} time(s) first",
                m.unauthorized_resends
            ),
        );
        report.advise(
            "the server refuses tokens before the time expires_in gives (a slow clock, or \
             revocation?)",
        );
    } else {
        report.check(
            Verdict::Pass,
            NAME,
            &format!("{what} before expiry, no 401 seen"),
        );
    }
}

/// Checks `401 recovery`: the library, holding a token it believes valid that the server
/// refuses, refreshes and resends once, and the caller sees the 200.
pub(crate) async fn recovery(ctx: &Ctx, report: &mut Report, rejected: Result<Rejected, String>) {
    const NAME: &str = "401 recovery";
    let rejected = match rejected {
        Ok(r) => r,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("could not get a token to test with: {e}"),
            );
            return;
        }
    };
    tokio::time::sleep_until(rejected.refused_from).await;
    let access = rejected.tokens.access_token.expose();
    match wire_http::get(&ctx.raw, &ctx.probe, Some(access)).await {
        Ok(a) if a.status.as_u16() == 401 => {}
        Ok(a) => {
            report.check(
                Verdict::Skip,
                NAME,
                &format!(
                    "the server answered {} to a token it should refuse ({})",
                    a.status, rejected.how
                ),
            );
            return;
        }
        Err(e) => {
            report.check(Verdict::Fail, NAME, &describe(&e, ctx.timeout));
            return;
        }
    }
    let keeper = match keeper(ctx, ctx.dialect.clone()) {
        Ok(k) => k,
        Err(e) => {
            report.check(Verdict::Fail, NAME, &e);
            return;
        }
    };
    // The library is told the token is good for another hour, as a client whose clock runs
    // slow, or whose token was revoked, believes.
    let at = now();
    let tokens = TokenSet {
        access_token: rejected.tokens.access_token.clone(),
        refresh_token: rejected.tokens.refresh_token.clone(),
        issued_at: at,
        expires_at: at.saturating_add(Duration::from_secs(3600)),
        refresh_expires_at: None,
    };
    if let Err(e) = keeper.set_tokens(tokens) {
        report.check(
            Verdict::Fail,
            NAME,
            &format!("cannot hand the token over: {e}"),
        );
        return;
    }
    let outcome = keeper.client().get(ctx.probe.clone()).send().await;
    let m = keeper.metrics();
    let renewed = if m.refresh_count > 0 {
        "refreshed"
    } else {
        "logged in again"
    };
    match outcome {
        Ok(r) if r.status().is_success() && m.unauthorized_resends > 0 => report.check(
            Verdict::Pass,
            NAME,
            &format!(
                "the server answered 401 to a token the library believed valid ({}); the \
                 library {renewed} and resent once → {}",
                rejected.how,
                r.status()
            ),
        ),
        Ok(r) if r.status().is_success() => report.check(
            Verdict::Warn,
            NAME,
            &format!("{} without a 401: nothing to recover from", r.status()),
        ),
        Ok(r) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!(
                    "the caller got {} after {} resend(s) ({} refreshes, {} re-logins)",
                    r.status(),
                    m.unauthorized_resends,
                    m.refresh_count,
                    m.reauthentications
                ),
            );
            report.advise("the server refused the renewed token too; see the checks above");
        }
        Err(e) => report.check(Verdict::Fail, NAME, &format!("the request failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_token_differs_in_one_signature_character() {
        let t = Secret::new("aaa.bbb.cccAcc");
        let d = damaged(&t);
        assert_ne!(d.expose(), t.expose());
        assert_eq!(d.expose().len(), t.expose().len());
        assert!(d.expose().starts_with("aaa.bbb."));
        let diff = t
            .expose()
            .chars()
            .zip(d.expose().chars())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(diff, 1);
    }
}
