//! The `refresh` and `rotation` checks: the refresh token renews the access token, and
//! whether the server rotates refresh tokens.

use http::StatusCode;
use tokenkeeper_core::TokenSet;
use tokenkeeper_core::parse::{TokenResponse, parse_token_response};

use super::Ctx;
use super::facts::{human, now};
use super::http::{self as wire_http, describe};
use super::judge::{Judgement, judge, source_text};
use super::report::{Report, Verdict};

/// Checks `refresh` and `rotation`; the refreshed tokens when the refresh worked. `held` is
/// what the library holds after the login whose answer was `first`.
pub(crate) async fn refresh(
    ctx: &Ctx,
    report: &mut Report,
    first: &TokenResponse,
    held: &TokenSet,
) -> Option<TokenResponse> {
    const NAME: &str = "refresh";
    let Some(old) = first.refresh_token.as_ref() else {
        report.check(Verdict::Skip, NAME, "no refresh token to refresh with");
        report.check(Verdict::Skip, "rotation", "no refresh token");
        return None;
    };
    let Some(request) = ctx.dialect.refresh_request(old) else {
        report.check(
            Verdict::Fail,
            NAME,
            "cannot build a refresh request with this refresh token",
        );
        return None;
    };
    let url = request.url().to_owned();
    let answer = match wire_http::send(&ctx.raw, request).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("POST {url}: {}", describe(&e, ctx.timeout)),
            );
            return None;
        }
    };
    let received = now();
    let status = answer.status;
    if !status.is_success() {
        let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        let verdict = if transient {
            Verdict::Warn
        } else {
            Verdict::Fail
        };
        report.check(
            verdict,
            NAME,
            &format!("POST {url} → {}", answer.status_and_reason()),
        );
        report.advise(if transient {
            "the auth backend is unavailable right now; the library would back off and retry"
        } else {
            "the server refuses its own refresh token: the library would log in again with the \
             password at every expiry"
        });
        report.check(Verdict::Skip, "rotation", "the refresh did not work");
        return None;
    }
    let unusable = |report: &mut Report, why: &str| {
        report.check(
            Verdict::Fail,
            NAME,
            &format!(
                "POST {url} → {}, but the library refuses the answer: {why}",
                answer.status
            ),
        );
        report.check(Verdict::Skip, "rotation", "the refresh did not work");
    };
    let tokens = match parse_token_response(&answer.headers, &answer.body) {
        Ok(t) => t,
        Err(e) => {
            unusable(report, &e.to_string());
            return None;
        }
    };
    let judged = match judge(
        &ctx.config,
        &ctx.dialect,
        &ctx.credentials,
        Some(held),
        received,
        (answer.status, &answer.headers, &answer.body),
    ) {
        Ok(Judgement::Kept(j)) => j,
        Ok(Judgement::Refused(e)) => {
            unusable(report, &e.to_string());
            return None;
        }
        Err(e) => {
            unusable(report, &e);
            return None;
        }
    };
    let same_access = tokens.access_token == first.access_token;
    let expires = format!(
        ", held {} ({})",
        human(judged.lifetime()),
        source_text(judged.source, &answer.headers)
    );
    report.check(
        if same_access {
            Verdict::Warn
        } else {
            Verdict::Pass
        },
        NAME,
        &format!(
            "POST {url} → {} ({} ms): {} access token{expires}",
            answer.status,
            answer.elapsed.as_millis(),
            if same_access { "the SAME" } else { "a new" }
        ),
    );
    if same_access {
        report.advise("a refresh that returns the old access token does not extend anything");
    }
    let rotation = match &tokens.refresh_token {
        Some(new) if new != old => "seen: the refresh returned a new refresh token; the library \
                                    stores it and never sends the old one again"
            .to_owned(),
        Some(_) => "not seen: the refresh returned the same refresh token".to_owned(),
        None => {
            "not seen: no refresh token in the answer; the library keeps the old one".to_owned()
        }
    };
    report.check(Verdict::Pass, "rotation", &rotation);
    Some(tokens)
}
