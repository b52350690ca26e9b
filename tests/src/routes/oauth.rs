//! The RFC 6749 token endpoint: `POST /oauth/token` with the password (§4.3), client
//! credentials (§4.4) and refresh token (§6) grants; client authentication per §2.3.1.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{
    content_type_is, field, no_store, parse_form, policy, take_script, token_json, with_retry_after,
};
use crate::config::RouteKind;
use crate::counters::Counter;
use crate::faults::Injected;
use crate::script::Rewrite;
use crate::state::{AppState, ConnHandle};
use crate::tokens::{Issued, LoginGrant, Policy, TokenError};

/// An RFC 6749 §5.2 error answer.
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tokenkeeper-testserver\""),
        );
    }
    r
}

fn invalid_request(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client(description: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

fn invalid_grant(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The answer to an injected failure, in RFC 6749's shape.
fn fault(f: Injected) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let r = match f.status {
        503 => error(
            status,
            "temporarily_unavailable",
            "Authentication backend unavailable",
        ),
        429 => error(status, "temporarily_unavailable", "Too many requests"),
        400 => invalid_grant("injected failure"),
        401 => invalid_client("injected failure"),
        _ => error(status, "server_error", "injected failure"),
    };
    with_retry_after(r, f.retry_after)
}

/// A §5.1 success answer, rewritten by the script if there is one.
fn success(issued: Issued, rewrite: Option<&Rewrite>) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    if let Some(rt) = issued.refresh_token {
        body["refresh_token"] = json!(rt);
    }
    if let Some(scope) = issued.scope {
        body["scope"] = json!(scope);
    }
    token_json(body, rewrite)
}

/// `POST /oauth/token`.
pub(super) async fn token(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.counters.bump(Counter::TokenEndpointCalls);
    if !content_type_is(&headers, "application/x-www-form-urlencoded") {
        return no_store(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let Some(form) = parse_form(&body) else {
        return no_store(invalid_request("a parameter is repeated"));
    };
    let Some(grant) = field(&form, "grant_type") else {
        return no_store(invalid_request("grant_type is required"));
    };
    let kind = match grant {
        "password" | "client_credentials" => RouteKind::Login,
        "refresh_token" => RouteKind::Refresh,
        other => {
            return no_store(error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            ));
        }
    };
    state.gate(kind, &conn).await;
    let (ok, rejected, faulted, scripted) = if kind == RouteKind::Login {
        (
            Counter::LoginsOk,
            Counter::LoginsRejected,
            Counter::LoginsFaulted,
            Counter::LoginsScripted,
        )
    } else {
        (
            Counter::RefreshesAccepted,
            Counter::RefreshesRejected,
            Counter::RefreshesFaulted,
            Counter::RefreshesScripted,
        )
    };
    let rewrite = match take_script(&state, &conn, kind, scripted).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if rewrite.is_none()
        && let Some(f) = state.faults.take_failure(kind)
    {
        state.counters.bump(faulted);
        return no_store(fault(f));
    }
    let policy = policy(&state, rewrite.as_deref());
    let outcome = authenticate_client(&state, &headers, &form).and_then(|client| match grant {
        "password" => password(&state, &policy, &form, client),
        "client_credentials" => client_credentials(&state, &policy, &form, client),
        _ => refresh(&state, &policy, &form, client.as_deref()),
    });
    state
        .counters
        .bump(if outcome.is_ok() { ok } else { rejected });
    no_store(outcome.map_or_else(|r| r, |i| success(i, rewrite.as_deref())))
}

/// Client authentication (§2.3.1): HTTP Basic with form-urlencoded id and secret, or
/// `client_id`/`client_secret` in the body, never both. `Ok(None)`: no client presented.
fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Option<String>, Response> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            Some(parse_basic(v).ok_or_else(|| invalid_client("malformed Basic credentials"))?)
        }
    };
    let body_id = field(form, "client_id");
    let body_secret = field(form, "client_secret");
    let (id, secret) = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(invalid_request(
                "more than one client authentication method",
            ));
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(invalid_request(
                    "client_id does not match the Basic credentials",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(id), secret) => (id.to_owned(), secret.map(str::to_owned)),
        (None, None, Some(_)) => return Err(invalid_request("client_secret without client_id")),
        (None, None, None) => return Ok(None),
    };
    match (state.client_secret(&id), secret) {
        (Some(expected), Some(given)) if expected == given => Ok(Some(id)),
        (Some(""), None) => Ok(Some(id)),
        _ => Err(invalid_client("client authentication failed")),
    }
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(v: &HeaderValue) -> Option<(String, String)> {
    let v = v.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn password(
    state: &AppState,
    policy: &Policy,
    form: &[(String, String)],
    client: Option<String>,
) -> Result<Issued, Response> {
    let (Some(username), Some(password)) = (field(form, "username"), field(form, "password"))
    else {
        return Err(invalid_request("username and password are required"));
    };
    if !state.check_user(username, password) {
        return Err(invalid_grant("invalid resource owner credentials"));
    }
    Ok(state.tokens.login(
        state.now_ms(),
        policy,
        LoginGrant {
            subject: username.to_owned(),
            client_id: client,
            scope: field(form, "scope").map(str::to_owned),
            access_ttl: None,
            with_refresh: true,
        },
    ))
}

fn client_credentials(
    state: &AppState,
    policy: &Policy,
    form: &[(String, String)],
    client: Option<String>,
) -> Result<Issued, Response> {
    let Some(client) = client else {
        return Err(invalid_client("client authentication is required"));
    };
    Ok(state.tokens.login(
        state.now_ms(),
        policy,
        LoginGrant {
            subject: client.clone(),
            client_id: Some(client),
            scope: field(form, "scope").map(str::to_owned),
            access_ttl: None,
            with_refresh: false,
        },
    ))
}

fn refresh(
    state: &AppState,
    policy: &Policy,
    form: &[(String, String)],
    client: Option<&str>,
) -> Result<Issued, Response> {
    let Some(token) = field(form, "refresh_token") else {
        return Err(invalid_request("refresh_token is required"));
    };
    state
        .tokens
        .refresh(state.now_ms(), policy, token, client)
        .map_err(|e| {
            if e == TokenError::Reused {
                state.counters.bump(Counter::ReuseDetections);
            }
            invalid_grant(&format!("refresh token rejected: {e}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let v = HeaderValue::from_str(&format!(
            "Basic {}",
            STANDARD.encode("my+client:s%3Acret%25")
        ))
        .unwrap();
        assert_eq!(
            parse_basic(&v),
            Some(("my client".to_owned(), "s:cret%".to_owned()))
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer x")), None);
        assert_eq!(form_decode("%zz"), None);
    }
}
