//! The protected API: routes that need a valid access token and answer 401 with an
//! RFC 6750 §3 challenge otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{bearer, detail, take_script, with_retry_after};
use crate::config::RouteKind;
use crate::counters::Counter;
use crate::faults::Random;
use crate::state::{AppState, ConnHandle};

/// Longest sleep `/api/slow` agrees to.
const MAX_SLOW_MS: u64 = 60_000;

/// A 401 with `WWW-Authenticate: Bearer` (no error: the request had no token) or
/// `Bearer error="invalid_token", error_description="..."`.
fn challenge(description: Option<&str>) -> Response {
    let (value, msg) = match description {
        None => ("Bearer".to_owned(), "Not authenticated"),
        Some(d) => (
            format!("Bearer error=\"invalid_token\", error_description=\"{d}\""),
            d,
        ),
    };
    let mut r = detail(StatusCode::UNAUTHORIZED, msg);
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// A refused token: the 401 challenge, or a bare 403 (django-oauth-toolkit's
/// `protected_resource`) when the server is set so. Counted here.
fn refuse(state: &AppState, description: Option<&str>) -> Response {
    if state.settings.bare_403_refusals() {
        state.counters.bump(Counter::ProtectedForbidden);
        return StatusCode::FORBIDDEN.into_response();
    }
    state.counters.bump(Counter::ProtectedUnauthorized);
    challenge(description)
}

/// Applies the protected-route faults and checks the access token; returns its subject or
/// the refusal to send (already counted).
async fn authorize(
    state: &AppState,
    conn: &ConnHandle,
    headers: &HeaderMap,
) -> Result<String, Response> {
    state.gate(RouteKind::Protected, conn).await;
    take_script(
        state,
        conn,
        RouteKind::Protected,
        Counter::ProtectedScripted,
    )
    .await?;
    if let Some(hit) = state.faults.roll(Random::Protected503) {
        state.counters.bump(Counter::ProtectedInjected503);
        let r = detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable (injected)",
        );
        return Err(with_retry_after(r, hit.retry_after));
    }
    match bearer(headers) {
        None => Err(refuse(state, None)),
        Some(token) => match state.tokens.check_access(state.now_ms(), token) {
            Err(e) => Err(refuse(state, Some(&e.to_string()))),
            Ok(_) if state.faults.roll(Random::Protected401).is_some() => {
                state.counters.bump(Counter::ProtectedInjected401);
                state.counters.bump(Counter::ProtectedUnauthorized);
                Err(challenge(Some("token rejected (injected)")))
            }
            Ok(claims) => Ok(claims.sub),
        },
    }
}

/// `GET` / `DELETE /api/echo`: `{"subject", "method", "query", "raw_query"}`.
pub(super) async fn echo_query(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let subject = match authorize(&state, &conn, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    state.counters.bump(Counter::ProtectedOk);
    axum::Json(json!({
        "subject": subject,
        "method": method.as_str(),
        "query": query,
        "raw_query": raw.unwrap_or_default(),
    }))
    .into_response()
}

/// `POST` / `PUT /api/echo`: answers with the request's body and `Content-Type` unchanged,
/// plus `X-Echo-Subject` and `X-Echo-Method` headers, so a test can check a replayed body.
pub(super) async fn echo_body(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let subject = match authorize(&state, &conn, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    state.counters.bump(Counter::ProtectedOk);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&subject) {
        h.insert("x-echo-subject", v);
    }
    if let Ok(v) = HeaderValue::from_str(method.as_str()) {
        h.insert("x-echo-method", v);
    }
    r
}

/// `GET /api/slow?ms=N`: checks the token, sleeps `N` ms (at most a minute), answers
/// `{"subject", "slept_ms"}`.
pub(super) async fn slow(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let subject = match authorize(&state, &conn, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ms = match query.get("ms").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(ms)) => ms.min(MAX_SLOW_MS),
        Some(Err(_)) => return detail(StatusCode::BAD_REQUEST, "ms must be an integer"),
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    state.counters.bump(Counter::ProtectedOk);
    axum::Json(json!({ "subject": subject, "slept_ms": ms })).into_response()
}

/// `GET /api/spaces`: a small VitalGraph-like list.
pub(super) async fn spaces(
    State(state): State<AppState>,
    Extension(conn): Extension<ConnHandle>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&state, &conn, &headers).await {
        return r;
    }
    state.counters.bump(Counter::ProtectedOk);
    axum::Json(json!({
        "spaces": [
            {"id": 1, "space": "space_test", "space_name": "Test Space",
             "space_description": "A space for tokenkeeper's tests", "tenant": "default"},
            {"id": 2, "space": "space_demo", "space_name": "Demo Space",
             "space_description": "Used by the CLI demo", "tenant": "default"},
        ],
        "total_count": 2,
        "page_size": 100,
        "offset": 0,
    }))
    .into_response()
}
