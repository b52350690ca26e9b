//! The `login` and `response shape` checks: the seed's first diagnostic step, with plain HTTP
//! and the engine's own parser, so the answer is judged exactly as the library will judge it.

use http::{HeaderMap, StatusCode};
use tokenkeeper_core::Timestamp;
use tokenkeeper_core::parse::{InvalidAuthResponse, TokenResponse, parse_token_response};

use super::facts::now;
use super::http::{self as wire_http, Answer, describe};
use super::judge::{Judgement, judge};
use super::report::{Report, Verdict};
use super::{Ctx, DialectKind};

/// A successful login: the parsed tokens, the answer's headers, and what the library makes of
/// the answer.
#[derive(Debug)]
pub(crate) struct Login {
    /// The tokens as the server sent them.
    pub(crate) tokens: TokenResponse,
    /// The answer's headers (`Date`, for the JWT's `exp`).
    pub(crate) headers: HeaderMap,
    /// When the answer arrived (local clock).
    pub(crate) received: Timestamp,
    /// The engine's judgement of the answer (`Err`: it could not be replayed).
    pub(crate) judgement: Result<Judgement, String>,
}
/// Checks `login` and `response shape`. `None` when the rest cannot run.
pub(crate) async fn login(ctx: &Ctx, report: &mut Report) -> Option<Login> {
    const NAME: &str = "login";
    let Some(request) = ctx.dialect.login_request(&ctx.credentials) else {
        report.check(Verdict::Fail, NAME, "cannot build a login request");
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
            report.advise("is the server running, and is --server (or --token-url) right?");
            return None;
        }
    };
    let received = now();
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
    let tokens = shape(report, &answer)?;
    let judgement = judge(
        &ctx.config,
        &ctx.dialect,
        &ctx.credentials,
        None,
        received,
        (answer.status, &answer.headers, &answer.body),
    );
    Some(Login {
        tokens,
        headers: answer.headers,
        received,
        judgement,
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
}
