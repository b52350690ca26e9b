//! VitalGraph's auth routes: `POST /api/login` (form) and `POST /api/refresh` (JSON + Bearer).

use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::{
    bearer, content_type_is, detail, no_store, parse_form, policy, take_script, token_json,
    with_retry_after,
};
use crate::config::RouteKind;
use crate::counters::Counter;
use crate::faults::Injected;
use crate::jwt::TokenType;
use crate::script::Rewrite;
use crate::state::{AppState, ConnHandle};
use crate::tokens::{LoginGrant, TokenError};

/// Longest access lifetime a login may ask for, in seconds.
const MAX_EXPIRY_SECS: u64 = 1800;

/// A 401 with `WWW-Authenticate: Bearer` and a `detail`.
fn unauthorized(msg: &str) -> Response {
    let mut r = detail(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The answer to an injected failure, in VitalGraph's shape.
fn fault(f: Injected, kind: RouteKind) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let r = match f.status {
        503 => detail(status, "Authentication backend unavailable"),
        429 => detail(status, "Too many requests"),
        401 if kind == RouteKind::Login => unauthorized("Incorrect username or password"),
        401 => unauthorized("Invalid refresh token"),
        _ => detail(status, "Injected failure"),
    };
    no_store(with_retry_after(r, f.retry_after))
}

/// `POST /api/login`: credentials are checked before `token_expiry_seconds`.
pub(super) async fn login(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.gate(RouteKind::Login, &conn).await;
    let rewrite = match take_script(&state, &conn, RouteKind::Login, Counter::LoginsScripted).await
    {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if rewrite.is_none()
        && let Some(f) = state.faults.take_failure(RouteKind::Login)
    {
        state.counters.bump(Counter::LoginsFaulted);
        return fault(f, RouteKind::Login);
    }
    let outcome = login_inner(&state, &headers, &body, rewrite.as_deref());
    state.counters.bump(if outcome.is_ok() {
        Counter::LoginsOk
    } else {
        Counter::LoginsRejected
    });
    no_store(outcome.unwrap_or_else(|r| r))
}

fn login_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    rewrite: Option<&Rewrite>,
) -> Result<Response, Response> {
    if !content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected an application/x-www-form-urlencoded body",
        ));
    }
    let form =
        parse_form(body).ok_or_else(|| detail(StatusCode::BAD_REQUEST, "repeated form field"))?;
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(username), Some(password)) = (get("username"), get("password")) else {
        return Err(detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username and password are required",
        ));
    };
    if !state.check_user(username, password) {
        return Err(unauthorized("Incorrect username or password"));
    }
    let access_ttl = match get("token_expiry_seconds") {
        None => None,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_EXPIRY_SECS).contains(&n) => Some(Duration::from_secs(n)),
            _ => {
                return Err(detail(
                    StatusCode::BAD_REQUEST,
                    "token_expiry_seconds must be an integer between 1 and 1800",
                ));
            }
        },
    };
    let issued = state.tokens.login(
        state.now_ms(),
        &policy(state, rewrite),
        LoginGrant {
            subject: username.to_owned(),
            client_id: None,
            scope: None,
            access_ttl,
            with_refresh: true,
        },
    );
    let role = if username == "admin" { "admin" } else { "user" };
    let v = json!({
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "username": username,
        "full_name": format!("{username} (test user)"),
        "email": format!("{username}@example.invalid"),
        "profile_image": "/images/profile-default.png",
        "role": role,
    });
    Ok(token_json(v, rewrite))
}

/// `POST /api/refresh`: `Authorization: Bearer <refresh token>` and the same token in the
/// JSON body `{"refresh_token": ...}`.
pub(super) async fn refresh(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.gate(RouteKind::Refresh, &conn).await;
    let rewrite = match take_script(
        &state,
        &conn,
        RouteKind::Refresh,
        Counter::RefreshesScripted,
    )
    .await
    {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if rewrite.is_none()
        && let Some(f) = state.faults.take_failure(RouteKind::Refresh)
    {
        state.counters.bump(Counter::RefreshesFaulted);
        return fault(f, RouteKind::Refresh);
    }
    let outcome = refresh_inner(&state, &headers, &body, rewrite.as_deref());
    state.counters.bump(if outcome.is_ok() {
        Counter::RefreshesAccepted
    } else {
        Counter::RefreshesRejected
    });
    no_store(outcome.unwrap_or_else(|r| r))
}

fn refresh_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    rewrite: Option<&Rewrite>,
) -> Result<Response, Response> {
    let Some(presented) = bearer(headers) else {
        return Err(unauthorized("Not authenticated"));
    };
    if state.tokens.token_type(presented) == Some(TokenType::Access) {
        return Err(unauthorized(
            "Invalid token type: a refresh token is required",
        ));
    }
    if !content_type_is(headers, "application/json") {
        return Err(detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected an application/json body",
        ));
    }
    let in_body = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_owned))
        .ok_or_else(|| {
            detail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refresh_token is required",
            )
        })?;
    if in_body != presented {
        return Err(unauthorized("Invalid refresh token"));
    }
    match state
        .tokens
        .refresh(state.now_ms(), &policy(state, rewrite), presented, None)
    {
        Ok(issued) => {
            let mut body = json!({
                "access_token": issued.access_token,
                "token_type": "bearer",
                "expires_in": issued.expires_in,
            });
            if let Some(rt) = issued.refresh_token {
                body["refresh_token"] = json!(rt);
            }
            Ok(token_json(body, rewrite))
        }
        Err(e) => {
            if e == TokenError::Reused {
                state.counters.bump(Counter::ReuseDetections);
            }
            Err(unauthorized("Invalid refresh token"))
        }
    }
}
