//! The HTTP surface: route table, CORS, and helpers shared by the handlers.

// Handlers build their refusal as the `Err` of a `Result<_, Response>`; one allocation-free
// `Response` per request is what we want, so the size lint does not apply.
#![allow(clippy::result_large_err)]

mod oauth;
mod protected;
mod vitalgraph;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use std::sync::Arc;

use serde_json::Value;

use crate::answer;
use crate::config::RouteKind;
use crate::control_http;
use crate::counters::Counter;
use crate::recorder;
use crate::script::{Prepared, Rewrite};
use crate::state::{AppState, ConnHandle};
use crate::tokens::Policy;

/// Builds the router for one server.
pub(crate) fn router(state: AppState) -> Router {
    let cors = state.config.cors;
    let r = Router::new()
        .route("/api/login", post(vitalgraph::login))
        .route("/api/refresh", post(vitalgraph::refresh))
        .route("/oauth/token", post(oauth::token))
        .route(
            "/api/echo",
            get(protected::echo_query)
                .delete(protected::echo_query)
                .post(protected::echo_body)
                .put(protected::echo_body),
        )
        .route("/api/slow", get(protected::slow))
        .route("/api/spaces", get(protected::spaces))
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/_record", any(record))
        .route("/_record/{*rest}", any(record))
        .merge(control_http::routes())
        .fallback(record)
        .with_state(state);
    if cors { r.layer(cors_layer()) } else { r }
}

fn cors_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
        ])
        // Whatever the page asks to send (Authorization, Content-Type, custom headers):
        // without credentials mode, mirroring is as open as `*` but also admits
        // `Authorization`, which `*` does not.
        .allow_headers(AllowHeaders::mirror_request())
        .allow_private_network(true)
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            header::LOCATION,
            header::DATE,
            header::HeaderName::from_static("x-echo-subject"),
            header::HeaderName::from_static("x-echo-method"),
        ])
}

pub(crate) use crate::reply::detail;

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether the request body is declared as `mime` (parameters such as charset ignored).
pub(crate) fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

/// Adds `Retry-After` when the injected failure has one.
pub(crate) fn with_retry_after(
    mut resp: Response,
    retry_after: Option<crate::RetryAfter>,
) -> Response {
    if let Some(ra) = retry_after
        && let Ok(v) = HeaderValue::from_str(&ra.header_value())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) to a token answer.
pub(crate) fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Parses an `application/x-www-form-urlencoded` body; `None` if a parameter repeats
/// (RFC 6749 §3.2 forbids it).
pub(crate) fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.iter().any(|(seen, _)| *seen == k) {
            return None;
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Some(out)
}

/// The value of form field `name`, if present and not empty.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Takes the script queued for this request of `kind`, counting it as `counter`. A script
/// that answers by itself is played and its answer returned as `Err`; `Ok(Some(..))` asks
/// the route to do its work and rewrite the answer; `Ok(None)`: no script.
pub(crate) async fn take_script(
    state: &AppState,
    conn: &ConnHandle,
    kind: RouteKind,
    counter: Counter,
) -> Result<Option<Arc<Rewrite>>, Response> {
    let Some(p) = state.faults.take_script(kind) else {
        return Ok(None);
    };
    state.counters.bump(counter);
    match p {
        Prepared::Real(r) => Ok(Some(r)),
        other => Err(answer::play(state, conn, other).await),
    }
}

/// The policy for this issuance: the live settings, plus the `exp` shift of a rewrite.
pub(crate) fn policy(state: &AppState, rewrite: Option<&Rewrite>) -> Policy {
    let mut p = state.settings.policy();
    if let Some(r) = rewrite {
        p.access_exp_offset_secs = r.exp_offset_secs;
    }
    p
}

/// A successful token answer as JSON, rewritten by the script if there is one.
pub(crate) fn token_json(mut v: Value, rewrite: Option<&Rewrite>) -> Response {
    if let (Some(r), Some(obj)) = (rewrite, v.as_object_mut()) {
        for name in &r.remove {
            obj.remove(name);
        }
        for (k, val) in &r.set {
            obj.insert(k.clone(), val.clone());
        }
    }
    axum::Json(v).into_response()
}

/// The recorder's handler: records the request and answers `200 {"recorded":true}`.
async fn record(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    state.counters.bump(Counter::RecordedRequests);
    state.recorder.push(recorder::seen(&method, &uri, &headers));
    axum::Json(json!({ "recorded": true })).into_response()
}
