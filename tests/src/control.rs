//! Steering a running server: the [`Control`] handle for Rust tests, and the same
//! operations over HTTP under `/_control/` for JS and browser tests.

use std::fmt;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::config::{RetryAfter, RouteKind};
use crate::counters::Counters;
use crate::faults::Injected;
use crate::recorder::Recorded;
use crate::routes::detail;
use crate::state::AppState;

/// A cheap, clonable handle that changes a running server's behaviour.
///
/// Faults (`fail_next_*`, latency, dropped connections, random 401s) are cleared by
/// [`Control::reset_faults`]; settings (rotation, lifetimes, clock) by
/// [`Control::reset_settings`].
#[derive(Clone)]
pub struct Control(pub(crate) AppState);

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.0.counters.snapshot()
    }

    /// Revokes every token issued so far (access and refresh); new logins still work.
    pub fn revoke_all(&self) {
        self.0.tokens.revoke_all();
    }

    /// Answers the next `n` refresh requests (VitalGraph and the `refresh_token` grant)
    /// with `status`, plus `Retry-After` when given; they count as `refreshes_faulted`.
    pub fn fail_next_refreshes(&self, n: u32, status: u16, retry_after: Option<RetryAfter>) {
        self.0.faults.fail_next(
            RouteKind::Refresh,
            n,
            Injected {
                status,
                retry_after,
            },
        );
    }

    /// Answers the next `n` logins (VitalGraph, password and client-credentials grants)
    /// with `status`, plus `Retry-After` when given; they count as `logins_faulted`.
    pub fn fail_next_logins(&self, n: u32, status: u16, retry_after: Option<RetryAfter>) {
        self.0.faults.fail_next(
            RouteKind::Login,
            n,
            Injected {
                status,
                retry_after,
            },
        );
    }

    /// Delays every answer on routes of `kind` by `delay` (zero turns it off).
    pub fn set_latency(&self, kind: RouteKind, delay: Duration) {
        self.0.faults.set_latency(kind, delay);
    }

    /// Closes the TCP connection of the next `n` requests on routes of `kind` without
    /// answering (the client sees an incomplete message). Replaces any earlier setting.
    pub fn drop_next_connections(&self, n: u32, kind: RouteKind) {
        self.0.faults.drop_next(n, kind);
    }

    /// Refuses a fraction `rate` (0..=1) of otherwise valid protected requests with a 401,
    /// reproducibly for a given `seed`; 0 turns it off.
    pub fn set_random_401_rate(&self, rate: f64, seed: u64) {
        self.0.faults.set_random_401(rate, seed);
    }

    /// Turns refresh-token rotation on or off for later refreshes.
    pub fn set_rotation(&self, on: bool) {
        self.0.settings.set_rotation(on);
    }

    /// Turns reuse detection on or off for later refreshes.
    pub fn set_reuse_detection(&self, on: bool) {
        self.0.settings.set_reuse_detection(on);
    }

    /// Revokes (or stops revoking) the family's previous access token on each refresh.
    pub fn set_revoke_access_on_rotation(&self, on: bool) {
        self.0.settings.set_revoke_access_on_rotation(on);
    }

    /// Sets the access lifetime of later logins, and of refreshes in families whose login
    /// did not ask for a lifetime.
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.0.settings.set_access_ttl(ttl);
    }

    /// Sets the lifetime of refresh tokens issued from now on.
    pub fn set_refresh_ttl(&self, ttl: Duration) {
        self.0.settings.set_refresh_ttl(ttl);
    }

    /// Moves the server's clock forward: tokens expire without the test sleeping.
    pub fn advance_clock(&self, by: Duration) {
        self.0.advance_clock(by);
    }

    /// The requests the recorder answered (fallback and `/_record/*`), oldest first, at
    /// most [`MAX_RECORDED`](crate::MAX_RECORDED).
    pub fn recorded(&self) -> Vec<Recorded> {
        self.0.recorder.list()
    }

    /// Forgets the recorded requests.
    pub fn reset_recorded(&self) {
        self.0.recorder.clear();
    }

    /// Sets every counter to zero.
    pub fn reset_counters(&self) {
        self.0.counters.reset();
    }

    /// Clears every injected fault.
    pub fn reset_faults(&self) {
        self.0.faults.reset();
    }

    /// Restores rotation, reuse detection, lifetimes and the clock to the start-up values.
    pub fn reset_settings(&self) {
        self.0.reset_settings();
    }

    /// Counters, faults, settings and the recorder all back to their start-up state (tokens
    /// stay valid unless the clock had been advanced past them).
    pub fn reset(&self) {
        self.reset_counters();
        self.reset_recorded();
        self.reset_faults();
        self.reset_settings();
    }
}

/// The `/_control` routes and `GET /health`'s sibling endpoints.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_control/counters", get(counters))
        .route("/_control/recorded", get(recorded))
        .route("/_control/reset", post(reset))
        .route("/_control/revoke-all", post(revoke_all))
        .route("/_control/faults", post(faults))
}

async fn counters(State(s): State<AppState>) -> Json<Counters> {
    Json(s.counters.snapshot())
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
    rotation: Option<bool>,
    reuse_detection: Option<bool>,
    revoke_access_on_rotation: Option<bool>,
    access_ttl_secs: Option<u64>,
    access_ttl_ms: Option<u64>,
    refresh_ttl_secs: Option<u64>,
    advance_clock_ms: Option<u64>,
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
    if let Some(rate) = req.random_401_rate
        && !(0.0..=1.0).contains(&rate)
    {
        return Err("random_401_rate must be between 0 and 1".to_owned());
    }
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
    if let Some(on) = req.rotation {
        c.set_rotation(on);
    }
    if let Some(on) = req.reuse_detection {
        c.set_reuse_detection(on);
    }
    if let Some(on) = req.revoke_access_on_rotation {
        c.set_revoke_access_on_rotation(on);
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
    Ok(())
}
