//! The `/_control/*` routes: the [`Control`] operations over HTTP for JS and browser tests.
//! The JSON shapes are documented in the crate docs.

use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::config::{RetryAfter, RouteKind};
use crate::control::Control;
use crate::counters::Counters;
use crate::gauges::Gauges;
use crate::recorder::Recorded;
use crate::reply::detail;
use crate::script;
use crate::script_json::ScriptSpec;
use crate::state::AppState;

/// The `/_control` routes and `GET /health`'s sibling endpoints.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_control/counters", get(counters))
        .route("/_control/recorded", get(recorded))
        .route("/_control/gauges", get(gauges))
        .route("/_control/reset", post(reset))
        .route("/_control/revoke-all", post(revoke_all))
        .route("/_control/freeze-clock", post(freeze_clock))
        .route("/_control/faults", post(faults))
}

async fn counters(State(s): State<AppState>) -> Json<Counters> {
    Json(s.counters.snapshot())
}

async fn gauges(State(s): State<AppState>) -> Json<Gauges> {
    Json(s.gauges.snapshot())
}

async fn recorded(State(s): State<AppState>) -> Json<Vec<Recorded>> {
    Json(s.recorder.list())
}

async fn reset(State(s): State<AppState>) -> Json<serde_json::Value> {
    Control(s).reset();
    Json(json!({ "ok": true }))
}

async fn revoke_all(State(s): State<AppState>) -> Json<serde_json::Value> {
    s.tokens.revoke_all();
    Json(json!({ "ok": true }))
}

async fn freeze_clock(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "ok": true, "now_ms": s.freeze_clock() }))
}

/// Body of `POST /_control/faults`; every field is optional and only present ones change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsRequest {
    fail_next_refreshes: Option<FailSpec>,
    fail_next_logins: Option<FailSpec>,
    latency_ms: Option<LatencySpec>,
    drop_next_connections: Option<DropSpec>,
    random_401_rate: Option<f64>,
    random_401_seed: Option<u64>,
    random_401: Option<RandomSpec>,
    random_503: Option<RandomSpec>,
    random_drop: Option<RandomSpec>,
    random_refresh_503: Option<RandomSpec>,
    rotation: Option<bool>,
    reuse_detection: Option<bool>,
    revoke_access_on_rotation: Option<bool>,
    bare_403_refusals: Option<bool>,
    access_ttl_secs: Option<u64>,
    access_ttl_ms: Option<u64>,
    refresh_ttl_secs: Option<u64>,
    advance_clock_ms: Option<u64>,
    script: Option<OneOrMany<ScriptSpec>>,
}

/// `{"rate": 0.05, "seed": 7, "retry_after": 1}`: `seed` defaults to 0, `retry_after`
/// (503 faults only) takes the same forms as in `fail_next_*`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomSpec {
    rate: f64,
    #[serde(default)]
    seed: u64,
    retry_after: Option<RetryAfterSpec>,
}

type RandomArgs = (f64, u64, Option<RetryAfter>);

impl RandomSpec {
    /// Checks the rate and resolves `Retry-After` (refused where it means nothing).
    fn resolve(self, name: &str, takes_retry_after: bool) -> Result<RandomArgs, String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("{name}.rate must be between 0 and 1"));
        }
        if self.retry_after.is_some() && !takes_retry_after {
            return Err(format!("{name} takes no retry_after"));
        }
        let ra = self.retry_after.map(RetryAfterSpec::resolve).transpose()?;
        Ok((self.rate, self.seed, ra))
    }
}

/// One value or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `{"count": N, "status": 503, "retry_after": 1 | "<http-date>" | {"http_date_in_secs": N}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailSpec {
    count: u32,
    #[serde(default = "default_status")]
    status: u16,
    retry_after: Option<RetryAfterSpec>,
}

fn default_status() -> u16 {
    503
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RetryAfterSpec {
    Seconds(u64),
    Date(String),
    In { http_date_in_secs: u64 },
}

impl RetryAfterSpec {
    fn resolve(self) -> Result<RetryAfter, String> {
        match self {
            RetryAfterSpec::Seconds(s) => Ok(RetryAfter::Seconds(s)),
            RetryAfterSpec::Date(d) => httpdate::parse_http_date(&d)
                .map(RetryAfter::HttpDate)
                .map_err(|_| format!("retry_after {d:?} is not an HTTP date")),
            RetryAfterSpec::In { http_date_in_secs } => Ok(RetryAfter::HttpDate(
                SystemTime::now() + Duration::from_secs(http_date_in_secs),
            )),
        }
    }
}

/// A number (every route kind) or `{"login": ms, "refresh": ms, "protected": ms}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LatencySpec {
    All(u64),
    PerKind {
        login: Option<u64>,
        refresh: Option<u64>,
        protected: Option<u64>,
    },
}

/// A number (any route) or `{"count": N, "route": "login"|"refresh"|"protected"|"any"}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DropSpec {
    Count(u32),
    Spec {
        count: u32,
        #[serde(default)]
        route: RouteKind,
    },
}

async fn faults(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let req: FaultsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return detail(StatusCode::BAD_REQUEST, &format!("bad faults request: {e}")),
    };
    match apply(&Control(s), req) {
        Ok(()) => Json(json!({ "ok": true })).into_response(),
        Err(e) => detail(StatusCode::BAD_REQUEST, &e),
    }
}

fn fail_args(spec: FailSpec) -> Result<(u32, u16, Option<RetryAfter>), String> {
    if StatusCode::from_u16(spec.status).is_err() {
        return Err(format!("status {} is not an HTTP status", spec.status));
    }
    let ra = spec.retry_after.map(RetryAfterSpec::resolve).transpose()?;
    Ok((spec.count, spec.status, ra))
}

fn apply(c: &Control, req: FaultsRequest) -> Result<(), String> {
    // Validate everything before changing anything.
    let refreshes = req.fail_next_refreshes.map(fail_args).transpose()?;
    let logins = req.fail_next_logins.map(fail_args).transpose()?;
    let scripts = req
        .script
        .map_or_else(Vec::new, OneOrMany::into_vec)
        .into_iter()
        .map(|spec| {
            let (kind, times, s) = spec.into_parts()?;
            let p = script::prepare(kind, s).map_err(|e| e.to_string())?;
            Ok((kind, times, p))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(rate) = req.random_401_rate
        && !(0.0..=1.0).contains(&rate)
    {
        return Err("random_401_rate must be between 0 and 1".to_owned());
    }
    let r401 = req
        .random_401
        .map(|r| r.resolve("random_401", false))
        .transpose()?;
    let r503 = req
        .random_503
        .map(|r| r.resolve("random_503", true))
        .transpose()?;
    let rdrop = req
        .random_drop
        .map(|r| r.resolve("random_drop", false))
        .transpose()?;
    let rrefresh = req
        .random_refresh_503
        .map(|r| r.resolve("random_refresh_503", true))
        .transpose()?;
    if let Some((n, status, ra)) = refreshes {
        c.fail_next_refreshes(n, status, ra);
    }
    if let Some((n, status, ra)) = logins {
        c.fail_next_logins(n, status, ra);
    }
    match req.latency_ms {
        None => {}
        Some(LatencySpec::All(ms)) => c.set_latency(RouteKind::Any, Duration::from_millis(ms)),
        Some(LatencySpec::PerKind {
            login,
            refresh,
            protected,
        }) => {
            for (kind, ms) in [
                (RouteKind::Login, login),
                (RouteKind::Refresh, refresh),
                (RouteKind::Protected, protected),
            ] {
                if let Some(ms) = ms {
                    c.set_latency(kind, Duration::from_millis(ms));
                }
            }
        }
    }
    match req.drop_next_connections {
        None => {}
        Some(DropSpec::Count(n)) => c.drop_next_connections(n, RouteKind::Any),
        Some(DropSpec::Spec { count, route }) => c.drop_next_connections(count, route),
    }
    if let Some(rate) = req.random_401_rate {
        c.set_random_401_rate(rate, req.random_401_seed.unwrap_or(0));
    }
    if let Some((rate, seed, _)) = r401 {
        c.set_random_401_rate(rate, seed);
    }
    if let Some((rate, seed, ra)) = r503 {
        c.set_random_503_rate(rate, seed, ra);
    }
    if let Some((rate, seed, _)) = rdrop {
        c.set_random_drop_rate(rate, seed);
    }
    if let Some((rate, seed, ra)) = rrefresh {
        c.set_random_refresh_503_rate(rate, seed, ra);
    }
    if let Some(on) = req.rotation {
        c.set_rotation(on);
    }
    if let Some(on) = req.reuse_detection {
        c.set_reuse_detection(on);
    }
    if let Some(on) = req.revoke_access_on_rotation {
        c.set_revoke_access_on_rotation(on);
    }
    if let Some(on) = req.bare_403_refusals {
        c.set_bare_403_refusals(on);
    }
    if let Some(s) = req.access_ttl_secs {
        c.set_access_ttl(Duration::from_secs(s));
    }
    if let Some(ms) = req.access_ttl_ms {
        c.set_access_ttl(Duration::from_millis(ms));
    }
    if let Some(s) = req.refresh_ttl_secs {
        c.set_refresh_ttl(Duration::from_secs(s));
    }
    if let Some(ms) = req.advance_clock_ms {
        c.advance_clock(Duration::from_millis(ms));
    }
    for (kind, times, p) in scripts {
        c.0.faults.push_script(kind, times, &p);
    }
    Ok(())
}
