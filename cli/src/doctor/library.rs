//! The library checks, through `tokenkeeper-reqwest` itself: a token it holds as expired
//! refreshed before sending, and a short-lived token refreshed before it expires (no 401 ever
//! seen). The 401 recovery check is in `recovery.rs`.

use std::time::Duration;

use tokenkeeper_core::dialect::Dialect;
use tokenkeeper_core::parse::{TokenResponse, parse_token_response};
use tokenkeeper_core::{Config, TokenSet};

use tokenkeeper_reqwest::Keeper;
use tokio::time::Instant;

use super::facts::{Facts, human, now};
use super::http::{self as wire_http, describe};
use super::refusal::with_statuses;
use super::report::{Report, Verdict};
use super::{Ctx, DialectKind};

/// Longest an OAuth 2.0 token may live for the proactive check to wait for its expiry.
pub(crate) const SHORT_ENOUGH: Duration = Duration::from_secs(30);

/// A keeper for the library checks: the doctor's timeouts, the token also sent to the probe's
/// origin.
pub(crate) fn keeper(ctx: &Ctx, dialect: Dialect, config: &Config) -> Result<Keeper, String> {
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
        .config(config.clone())
        .client(api)
        .auth_client(auth)
        .allow_origin(ctx.probe.origin().ascii_serialization())
        .build()
        .map_err(|e| format!("cannot set up the library: {e}"))
}

pub(crate) async fn raw_login(ctx: &Ctx, dialect: &Dialect) -> Result<TokenResponse, String> {
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

/// Checks `expired token`, the seed's third diagnostic step: the library is handed a token
/// it must consider expired (the server would still take it) and refreshes before sending.
pub(crate) async fn expired_token(ctx: &Ctx, report: &mut Report, lib: &Config) {
    const NAME: &str = "expired token";
    let tokens = match raw_login(ctx, &ctx.dialect).await {
        Ok(t) => t,
        Err(e) => {
            report.check(Verdict::Fail, NAME, &format!("could not log in: {e}"));
            return;
        }
    };
    let keeper = match keeper(ctx, ctx.dialect.clone(), lib) {
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
/// see a 401, because the library refreshes first (on a server that revokes the previous
/// access token on refresh, `revokes_previous`, a request sent as the refresh runs is refused
/// and resent: that is expected). The library runs with `lib`.
pub(crate) async fn proactive(
    ctx: &Ctx,
    report: &mut Report,
    facts: &Facts,
    lib: &Config,
    revokes_previous: bool,
) {
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
    let keeper = match keeper(ctx, dialect, lib) {
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
        "{} token: {sent} requests over {:.1} s ({:.1} lifetimes), {} refreshes{}",
        human(lifetime.max(Duration::from_secs(1))),
        span.as_secs_f64(),
        span.as_secs_f64() / lifetime.as_secs_f64().max(0.001),
        m.refresh_count,
        with_statuses(&ctx.config, lib)
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
    } else if m.unauthorized_resends > 0 && revokes_previous {
        report.check(
            Verdict::Pass,
            NAME,
            &format!(
                "{what}; all succeeded: the server refused a token superseded by a refresh {} \
                 time(s) (it revokes the previous one) and the library resent each",
                m.unauthorized_resends
            ),
        );
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
