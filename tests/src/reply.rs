//! Answers shared by the routes and the control surface.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A JSON answer `{"detail": ...}` (the FastAPI error shape VitalGraph uses).
pub(crate) fn detail(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "detail": msg }))).into_response()
}
