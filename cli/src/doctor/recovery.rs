//! The `401 recovery` check, through `tokenkeeper-reqwest` itself: a token the library
//! believes valid that the server refuses (with a 401, or the status `refused token` found)
//! is recovered by one refresh and one resend.

use std::time::Duration;

use tokenkeeper_core::dialect::Dialect;
use tokenkeeper_core::parse::TokenResponse;
use tokenkeeper_core::secret::Secret;
use tokenkeeper_core::{Config, TokenSet};
use tokio::time::Instant;

use super::facts::{Facts, now};
use super::http::{self as wire_http, describe};
use super::library::{SHORT_ENOUGH, keeper, raw_login};
use super::refusal::{Refusal, advised, with_statuses};
use super::report::{Report, Verdict};
use super::{Ctx, DialectKind};

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

/// The token with one character of its last segment (a JWT's signature) changed.
pub(crate) fn damaged(token: &Secret) -> Secret {
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

/// Checks `401 recovery`: the library, holding a token it believes valid that the server
/// refuses, refreshes and resends once, and the caller sees the 200. The library runs with
/// `lib`, plus the refusing status when it is another 4xx (a bare 403), as the `refused token`
/// check advises; the check is named after the status.
pub(crate) async fn recovery(
    ctx: &Ctx,
    report: &mut Report,
    lib: &Config,
    rejected: Result<Rejected, String>,
) {
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
    let refusal = match wire_http::get(&ctx.raw, &ctx.probe, Some(access)).await {
        Ok(a) => Refusal::classify(a.status, &a.headers),
        Err(e) => {
            report.check(Verdict::Fail, NAME, &describe(&e, ctx.timeout));
            return;
        }
    };
    let status = refusal.status();
    let name = &format!("{status} recovery");
    if !refusal.refused() {
        report.check(
            Verdict::Skip,
            NAME,
            &format!(
                "the server answered {status} to a token it should refuse ({})",
                rejected.how
            ),
        );
        return;
    }
    let config = advised(lib, &refusal);
    if !config.token_rejected_statuses.contains(&status) {
        report.check(
            Verdict::Skip,
            name,
            &format!(
                "the server answered {} to a token it should refuse ({}): the library does not \
                 take it as a refused token",
                refusal.describe(),
                rejected.how
            ),
        );
        return;
    }
    let with = with_statuses(&ctx.config, &config);
    let keeper = match keeper(ctx, ctx.dialect.clone(), &config) {
        Ok(k) => k,
        Err(e) => {
            report.check(Verdict::Fail, name, &e);
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
            name,
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
            name,
            &format!(
                "the server answered {} to a token the library believed valid ({}); the \
                 library{with} {renewed} and resent once → {}",
                refusal.describe(),
                rejected.how,
                r.status()
            ),
        ),
        Ok(r) if r.status().is_success() => report.check(
            Verdict::Warn,
            name,
            &format!("{} without a refusal: nothing to recover from", r.status()),
        ),
        Ok(r) => {
            report.check(
                Verdict::Fail,
                name,
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
        Err(e) => report.check(Verdict::Fail, name, &format!("the request failed: {e}")),
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
