//! The wire checks, with plain HTTP and the engine's parsers: login response shape, the
//! tokens it holds, refresh, rotation, and a protected endpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use tokenkeeper_core::Config;
use tokenkeeper_core::parse::{
    InvalidAuthResponse, TokenResponse, jwt_exp, parse_bearer_challenge, parse_http_date,
    parse_token_response,
};
use tokenkeeper_core::secret::Secret;
use tokenkeeper_core::time::Timestamp;
use tokenkeeper_core::tokens::refresh_margin;

use super::http::{self as wire_http, Answer, describe};
use super::report::{Report, Verdict};
use super::{Ctx, DialectKind};

/// A successful login: the parsed tokens and the answer's headers.
#[derive(Debug)]
pub(crate) struct Login {
    /// The tokens.
    pub(crate) tokens: TokenResponse,
    /// The answer's headers (`Date`, for the JWT's `exp`).
    pub(crate) headers: HeaderMap,
}

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

/// Checks `login` and `response shape`. `None` when the rest cannot run.
pub(crate) async fn login(ctx: &Ctx, report: &mut Report) -> Option<Login> {
    const NAME: &str = "login";
    let Some(request) = ctx.dialect.login_request(&ctx.credentials) else {
        report.check(Verdict::Fail, NAME, "cannot build a login request");
        return None;
    };
    let url = request.uri().to_string();
    let answer = match wire_http::send(&ctx.raw, request).await {
        Ok(a) => a,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!("POST {url}: {}", describe(&e, ctx.timeout)),
            );
            report.advise("is the server running, and is --server (or --token-url) right?");
            return None;
        }
    };
    if !refusal_checked(ctx, report, NAME, &url, &answer) {
        return None;
    }
    report.check(
        Verdict::Pass,
        NAME,
        &format!(
            "POST {url} → {} ({}, {} ms)",
            answer.status,
            answer.content_type(),
            answer.elapsed.as_millis()
        ),
    );
    shape(report, &answer).map(|tokens| Login {
        tokens,
        headers: answer.headers,
    })
}

/// Reports a login answer that is not a 2xx; `true` when it is one.
fn refusal_checked(ctx: &Ctx, report: &mut Report, name: &str, url: &str, a: &Answer) -> bool {
    let status = a.status;
    if status.is_success() {
        return true;
    }
    let (detail, advice) = if status.is_redirection() {
        let to = a
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        (
            format!("POST {url} → {status}, a redirect to {to}"),
            "point --server (or --token-url) at the final URL: credentials are never sent \
             across a redirect"
                .to_owned(),
        )
    } else if matches!(status.as_u16(), 400 | 401 | 403) {
        let reason = a.reason().unwrap_or_default();
        let client = reason.contains("client");
        (
            format!("login refused: {}", a.status_and_reason()),
            if client {
                "check --client-id, --client-auth and the client secret".to_owned()
            } else {
                "check --username and the password in the variable named by --password-env"
                    .to_owned()
            },
        )
    } else if matches!(status.as_u16(), 404 | 405) {
        (
            format!(
                "POST {url} → {}: no login endpoint here",
                a.status_and_reason()
            ),
            match ctx.kind {
                DialectKind::Vitalgraph => {
                    "check --server; for an OAuth 2.0 token endpoint use --dialect oauth2"
                }
                DialectKind::Oauth2 => "check --token-url (or --server)",
            }
            .to_owned(),
        )
    } else if status == StatusCode::UNPROCESSABLE_ENTITY {
        (
            format!(
                "the server refused the login form: {}",
                a.status_and_reason()
            ),
            "is --dialect right for this server?".to_owned(),
        )
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let retry = a
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(", Retry-After: {v}"))
            .unwrap_or_default();
        (
            format!("server unavailable: {}{retry}", a.status_and_reason()),
            "the library backs off and retries this; run the doctor again later".to_owned(),
        )
    } else {
        (
            format!("POST {url} → unexpected {}", a.status_and_reason()),
            "the library expects 200 with a JSON token response".to_owned(),
        )
    };
    report.check(Verdict::Fail, name, &detail);
    report.advise(&advice);
    false
}

/// Checks `response shape`: the token response parses as the library will parse it.
fn shape(report: &mut Report, a: &Answer) -> Option<TokenResponse> {
    const NAME: &str = "response shape";
    match parse_token_response(&a.headers, &a.body) {
        Ok(tokens) => {
            let fields = field_names(&a.body);
            let json_type = a.content_type().to_ascii_lowercase().contains("json");
            let verdict = if json_type {
                Verdict::Pass
            } else {
                Verdict::Warn
            };
            report.check(verdict, NAME, &format!("JSON object with {fields}"));
            if !json_type {
                report.advise(&format!(
                    "Content-Type is {}; the library reads the JSON anyway",
                    a.content_type()
                ));
            }
            Some(tokens)
        }
        Err(e) => {
            report.check(Verdict::Fail, NAME, &format!("login answer unusable: {e}"));
            report.advise(match e {
                InvalidAuthResponse::Html => {
                    "a web page answered, not the auth API: a proxy, a login portal or a wrong URL"
                }
                InvalidAuthResponse::NotJson { .. } | InvalidAuthResponse::EmptyBody => {
                    "the library needs a JSON token response (RFC 6749 §5.1); check the URL"
                }
                InvalidAuthResponse::MissingAccessToken | InvalidAuthResponse::NotAnObject => {
                    "the library needs an object with access_token; is --dialect right?"
                }
                _ => "the library refuses this answer and keeps no token from it",
            });
            if let Some(fields) = Some(field_names(&a.body)).filter(|f| f != "no fields") {
                report.advise(&format!("fields present: {fields}"));
            }
            None
        }
    }
}

/// The top-level field names of a JSON object body (never their values), token fields first.
fn field_names(body: &[u8]) -> String {
    const KNOWN: [&str; 5] = [
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "scope",
    ];
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body.trim_ascii()) else {
        return "no fields".to_owned();
    };
    let known: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .collect();
    let others: Vec<String> = map
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .take(10)
        .map(|k| {
            k.chars()
                .filter(char::is_ascii_graphic)
                .take(40)
                .collect::<String>()
        })
        .collect();
    let mut text = if known.is_empty() {
        "no token fields".to_owned()
    } else {
        known.join(", ")
    };
    if !others.is_empty() {
        text = format!("{text} (also: {})", others.join(", "));
    }
    text
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

/// Checks `refresh` and `rotation`; the refreshed tokens when the refresh worked.
pub(crate) async fn refresh(
    ctx: &Ctx,
    report: &mut Report,
    first: &TokenResponse,
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
    let url = request.uri().to_string();
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
    let tokens = match parse_token_response(&answer.headers, &answer.body) {
        Ok(t) => t,
        Err(e) => {
            report.check(
                Verdict::Fail,
                NAME,
                &format!(
                    "POST {url} → {}, but the answer is unusable: {e}",
                    answer.status
                ),
            );
            report.check(Verdict::Skip, "rotation", "the refresh did not work");
            return None;
        }
    };
    let same_access = tokens.access_token == first.access_token;
    let expires = tokens
        .expires_in
        .map(|e| format!(", expires_in {}", human(e)))
        .unwrap_or_default();
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
    fn field_names_list_token_fields_first_and_never_values() {
        let body =
            br#"{"username":"admin","access_token":"SECRET","expires_in":3,"refresh_token":"R"}"#;
        let text = field_names(body);
        assert_eq!(
            text,
            "access_token, refresh_token, expires_in (also: username)"
        );
        assert!(!text.contains("SECRET"));
        assert_eq!(field_names(b"<html>"), "no fields");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_secs(2)), "2.0 s");
        assert_eq!(human(Duration::from_secs(1800)), "30 min");
        assert_eq!(human(Duration::from_secs(7 * 86400)), "7.0 d");
    }
}
