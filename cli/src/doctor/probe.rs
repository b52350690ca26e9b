//! The `protected probe` check: the endpoint the library checks use refuses a request
//! without a token and accepts the token just issued.

use tokenkeeper_core::parse::parse_bearer_challenge;
use tokenkeeper_core::secret::Secret;

use super::Ctx;
use super::http::{self as wire_http, describe};
use super::report::{Report, Verdict};

/// Checks `protected probe`: the endpoint refuses no token and accepts the current one.
/// `true` when the library checks can use it.
pub(crate) async fn probe(ctx: &Ctx, report: &mut Report, access: &Secret) -> bool {
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
