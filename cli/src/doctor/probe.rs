//! The `protected probe`, `refused token` and `previous token` checks: the endpoint the
//! library checks use refuses a request without a token and accepts the token just issued;
//! how it refuses a token (the status the library must know as "refused"); and whether a
//! refresh revokes the access token it replaced.

use std::time::Duration;

use tokenkeeper_core::parse::{TokenResponse, parse_bearer_challenge};
use tokenkeeper_core::secret::Secret;

use super::Ctx;
use super::facts::{Facts, now};
use super::http::{self as wire_http, describe};
use super::recovery::damaged;
use super::refusal::{Refusal, advise_statuses, list};
use super::report::{Report, Verdict};

/// Checks `protected probe`, then `refused token`. How the endpoint refuses a token when the
/// library checks can use it; `None` when they cannot.
pub(crate) async fn probe(ctx: &Ctx, report: &mut Report, access: &Secret) -> Option<Refusal> {
    if !protected(ctx, report, access).await {
        return None;
    }
    refused_token(ctx, report, access).await
}

/// Checks `protected probe`: the endpoint refuses no token and accepts the current one.
/// `true` when the library checks can use it.
async fn protected(ctx: &Ctx, report: &mut Report, access: &Secret) -> bool {
    const NAME: &str = "protected probe";
    let url = &ctx.probe;
    let bare = match wire_http::get(&ctx.raw, url, None).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("GET {url}: {}", describe(&e, ctx.timeout)),
            );
            return false;
        }
    };
    let without = match bare.status.as_u16() {
        401 => match parse_bearer_challenge(&bare.headers) {
            Some(_) => "401 with a Bearer challenge without a token".to_owned(),
            None => "401 without a token (no WWW-Authenticate: Bearer)".to_owned(),
        },
        403 => "403 without a token".to_owned(),
        404 | 405 => {
            report.check(
                Verdict::Warn,
                NAME,
                &format!("GET {url} → {}", bare.status_and_reason()),
            );
            report.advise("pass --probe-url with a protected GET endpoint of this server");
            return false;
        }
        s if (200..300).contains(&s) => {
            report.check(
                Verdict::Warn,
                NAME,
                &format!("GET {url} → {} without a token: not protected", bare.status),
            );
            report.advise("pass --probe-url with an endpoint that needs the token");
            return false;
        }
        _ => format!("{} without a token", bare.status_and_reason()),
    };
    let with = match wire_http::get(&ctx.raw, url, Some(access.expose())).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("GET {url}: {}", describe(&e, ctx.timeout)),
            );
            return false;
        }
    };
    if with.status.is_success() {
        report.check(
            Verdict::Pass,
            NAME,
            &format!("GET {url}: {without}, {} with the token", with.status),
        );
        true
    } else {
        let why = parse_bearer_challenge(&with.headers)
            .and_then(|c| c.error_description.or(c.error))
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        report.check(
            Verdict::Fail,
            NAME,
            &format!(
                "GET {url} → {}{why} with a token the server has just issued",
                with.status_and_reason()
            ),
        );
        report.advise("is --probe-url served by the same server that issued the token?");
        false
    }
}

/// Checks `refused token`: a copy of the current token with a damaged signature (as a revoked,
/// expired or foreign token is refused) is refused, and how: a 401 is what the library knows
/// by default; a 403 needs `token_rejected_statuses`.
async fn refused_token(ctx: &Ctx, report: &mut Report, access: &Secret) -> Option<Refusal> {
    const NAME: &str = "refused token";
    let url = &ctx.probe;
    let answer = match wire_http::get(&ctx.raw, url, Some(damaged(access).expose())).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("GET {url}: {}", describe(&e, ctx.timeout)),
            );
            return None;
        }
    };
    let refusal = Refusal::classify(answer.status, &answer.headers);
    let seen = format!(
        "GET {url} with a damaged copy of the token → {}",
        refusal.describe()
    );
    if !refusal.refused() {
        report.check(Verdict::Warn, NAME, &seen);
        report.advise(
            "the server accepted a token whose signature was changed: does it check tokens?",
        );
    } else if let Some(statuses) = refusal.statuses_needed(&ctx.config) {
        report.check(
            Verdict::Warn,
            NAME,
            &format!(
                "{seen}: by default the library takes only {} as a refused token, and would hand \
                 this {} to the caller instead of refreshing and resending",
                list(&ctx.config.token_rejected_statuses),
                refusal.status()
            ),
        );
        advise_statuses(report, &statuses);
    } else if ctx
        .config
        .token_rejected_statuses
        .contains(&refusal.status())
    {
        report.check(Verdict::Pass, NAME, &seen);
    } else if matches!(&refusal, Refusal::Challenge403(Some(e)) if e == "insufficient_scope") {
        report.check(Verdict::Warn, NAME, &seen);
        report.advise(
            "the route wants a scope the token lacks, which no refresh cures: pass --scope, or \
             another --probe-url",
        );
    } else {
        report.check(Verdict::Warn, NAME, &seen);
        report.advise(&format!(
            "the library would hand this {} to the caller without refreshing; is --probe-url an \
             API route that refuses bad tokens with 401?",
            refusal.status()
        ));
    }
    Some(refusal)
}

/// Checks `previous token`: after a refresh, whether the access token it replaced still works.
/// A server that revokes it (django-oauth-toolkit does by default) refuses requests that were
/// sent with it while the refresh ran; the library resends those. `true` when it revokes.
pub(crate) async fn previous_token(
    ctx: &Ctx,
    report: &mut Report,
    facts: &Facts,
    refreshed: Option<&TokenResponse>,
    refusal: &Refusal,
) -> bool {
    const NAME: &str = "previous token";
    let previous = &facts.held.access_token;
    if !refreshed.is_some_and(|r| r.access_token != *previous) {
        report.check(Verdict::Skip, NAME, "no refresh gave a new access token");
        return false;
    }
    // A token near its expiry would be refused for that reason, not for the refresh.
    if facts.held.expires_at.saturating_duration_since(now()) < Duration::from_secs(3) {
        report.check(
            Verdict::Skip,
            NAME,
            "the token from before the refresh is about to expire anyway",
        );
        return false;
    }
    let url = &ctx.probe;
    let answer = match wire_http::get(&ctx.raw, url, Some(previous.expose())).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("GET {url}: {}", describe(&e, ctx.timeout)),
            );
            return false;
        }
    };
    let seen = Refusal::classify(answer.status, &answer.headers);
    if let Refusal::Other(status) = seen {
        report.check(
            Verdict::Skip,
            NAME,
            &format!(
                "the server answered {status} to the access token from before the refresh: \
                 not a refusal the doctor can read"
            ),
        );
        return false;
    }
    if !seen.refused() {
        report.check(
            Verdict::Pass,
            NAME,
            &format!(
                "the access token from before the refresh is still accepted ({})",
                answer.status
            ),
        );
        return false;
    }
    let detail = format!(
        "the access token from before the refresh is now refused, {}: the server revokes the \
         previous access token on refresh",
        seen.describe()
    );
    match seen.statuses_needed(&ctx.config) {
        Some(statuses) => {
            report.check(Verdict::Warn, NAME, &detail);
            if refusal.statuses_needed(&ctx.config).as_ref() == Some(&statuses) {
                report.advise(&format!(
                    "set token_rejected_statuses to [{}] as shown above",
                    list(&statuses)
                ));
            } else {
                advise_statuses(report, &statuses);
            }
        }
        None => report.check(Verdict::Info, NAME, &detail),
    }
    report.check(
        Verdict::Info,
        "superseded token",
        "the library resends a request whose token was superseded by a refresh (a 401, or a \
         bare 403, for an older token generation is resent with the new token), so revocation \
         on refresh costs no failed requests once the statuses are right",
    );
    true
}
