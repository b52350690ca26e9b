//! Transcript harness: drives a `Session` with a fake clock and records every action by name.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{
    Action, AuthKind, AuthRequest, Config, Error, Event, ExchangeId, RequestMeta, Session,
    Timestamp,
};

/// The base URL of the fake VitalGraph server.
pub const BASE: &str = "http://127.0.0.1:8001";
/// The start of fake time.
pub const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

/// A session plus a fake clock and a transcript of what it asked for.
pub struct Harness {
    pub session: Session,
    pub now: Timestamp,
    /// Action names since the last `take()`.
    pub log: Vec<String>,
    /// The `Authenticate` the driver is performing, if any.
    pub auth: Option<AuthRequest>,
    /// The Authorization header each exchange was last sent with.
    pub sent_with: HashMap<ExchangeId, HeaderValue>,
    /// Errors that failed exchanges.
    pub errors: HashMap<ExchangeId, Error>,
    /// Events seen, in order.
    pub events: Vec<Event>,
    labels: HashMap<ExchangeId, String>,
    next_label: usize,
}

impl Harness {
    /// VitalGraph dialect, admin/admin, default config.
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Self::build(
            config,
            Dialect::vitalgraph(BASE).unwrap(),
            Credentials::password("admin", "admin"),
        )
    }

    pub fn build(config: Config, dialect: Dialect, credentials: Credentials) -> Self {
        Harness {
            session: Session::new(config, dialect, credentials, 7).unwrap(),
            now: T0,
            log: Vec::new(),
            auth: None,
            sent_with: HashMap::new(),
            errors: HashMap::new(),
            events: Vec::new(),
            labels: HashMap::new(),
            next_label: 1,
        }
    }

    /// A harness that is already logged in with a token of `lifetime_secs` (and a refresh
    /// token), transcript cleared.
    pub fn logged_in(config: Config, lifetime_secs: u64) -> Self {
        let mut h = Self::with_config(config);
        let id = h.session.login(h.now);
        h.drain();
        h.auth_ok(&token_body("A1", Some("R1"), Some(lifetime_secs)));
        assert!(
            matches!(h.log.last().map(String::as_str), Some(s) if s.starts_with("Deliver")),
            "{:?}",
            h.log
        );
        let _ = id;
        h.log.clear();
        h.events.clear();
        h
    }

    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
    }

    pub fn advance_secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    /// Starts a GET (idempotent, replayable) exchange; returns its id.
    pub fn get(&mut self) -> ExchangeId {
        self.start(RequestMeta::new(&Method::GET, true))
    }

    /// Starts a POST with a buffered body.
    pub fn post(&mut self) -> ExchangeId {
        self.start(RequestMeta::new(&Method::POST, true))
    }

    /// Starts a POST with a streaming (non-replayable) body.
    pub fn post_stream(&mut self) -> ExchangeId {
        self.start(RequestMeta::new(&Method::POST, false))
    }

    pub fn start(&mut self, meta: RequestMeta) -> ExchangeId {
        let id = self.session.start(self.now, meta);
        self.labels.insert(id, format!("e{}", self.next_label));
        self.next_label += 1;
        self.drain();
        id
    }

    /// Hands the engine a request that went out with a lease of `generation` at `started`.
    pub fn adopt(&mut self, started: Timestamp, meta: RequestMeta, generation: u64) -> ExchangeId {
        let id = self.session.adopt(started, meta, generation);
        self.labels.insert(id, format!("e{}", self.next_label));
        self.next_label += 1;
        id
    }

    pub fn label(&self, id: ExchangeId) -> String {
        self.labels
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "login".to_owned())
    }

    /// Drains every action into the transcript.
    pub fn drain(&mut self) {
        while let Some(a) = self.session.poll_action() {
            let name = match a {
                Action::Send { id, authorization } => {
                    let tok = authorization
                        .to_str()
                        .unwrap()
                        .trim_start_matches("Bearer ")
                        .to_owned();
                    self.sent_with.insert(id, authorization);
                    format!("Send({},{})", self.label(id), tok)
                }
                Action::Authenticate(req) => {
                    let kind = match req.kind {
                        AuthKind::Login => "login",
                        AuthKind::Refresh => "refresh",
                    };
                    assert!(self.auth.is_none() || self.auth.as_ref().unwrap().id != req.id);
                    self.auth = Some(req);
                    format!("Authenticate({kind})")
                }
                Action::Deliver { id } => format!("Deliver({})", self.label(id)),
                Action::Fail { id, error } => {
                    let s = format!("Fail({},{})", self.label(id), error_name(&error));
                    self.errors.insert(id, error);
                    s
                }
                Action::Event(e) => {
                    let s = format!("Event({})", event_name(&e));
                    self.events.push(e);
                    s
                }
                other => format!("{other:?}"),
            };
            self.log.push(name);
        }
    }

    /// The transcript since the last call, without events.
    pub fn take(&mut self) -> Vec<String> {
        let log = std::mem::take(&mut self.log);
        log.into_iter()
            .filter(|s| !s.starts_with("Event("))
            .collect()
    }

    /// The transcript since the last call, events included.
    pub fn take_all(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    /// Answers the pending auth request.
    pub fn auth_reply(&mut self, status: u16, headers: &HeaderMap, body: &str) {
        let req = self.auth.take().expect("an Authenticate is pending");
        self.session.handle_auth_response(
            self.now,
            req.id,
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.as_bytes(),
        );
        self.drain();
    }

    pub fn auth_ok(&mut self, body: &str) {
        self.auth_reply(200, &HeaderMap::new(), body);
    }

    pub fn auth_error(&mut self, failure: SendFailure) {
        let req = self.auth.take().expect("an Authenticate is pending");
        self.session.handle_auth_error(self.now, req.id, failure);
        self.drain();
    }

    pub fn respond(&mut self, id: ExchangeId, status: u16) {
        self.respond_with(id, status, &HeaderMap::new());
    }

    pub fn respond_with(&mut self, id: ExchangeId, status: u16, headers: &HeaderMap) {
        self.session
            .handle_response(self.now, id, StatusCode::from_u16(status).unwrap(), headers);
        self.drain();
    }

    pub fn send_error(&mut self, id: ExchangeId, failure: SendFailure) {
        self.session.handle_send_error(self.now, id, failure);
        self.drain();
    }

    /// Jumps the clock to the next timer and fires it; returns the timer kind.
    pub fn fire_timer(&mut self) -> tokenkeeper_core::TimerKind {
        let (at, kind) = self.session.poll_timeout().expect("a timer is armed");
        if at > self.now {
            self.now = at;
        }
        self.session.handle_timeout(self.now);
        self.drain();
        kind
    }
}

/// A token response body.
pub fn token_body(access: &str, refresh: Option<&str>, expires_in: Option<u64>) -> String {
    let mut v = serde_json::json!({ "access_token": access, "token_type": "bearer" });
    if let Some(r) = refresh {
        v["refresh_token"] = r.into();
    }
    if let Some(e) = expires_in {
        v["expires_in"] = e.into();
    }
    v.to_string()
}

pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

pub fn error_name(e: &Error) -> &'static str {
    match e {
        Error::SessionExpired => "SessionExpired",
        Error::InvalidCredentials { .. } => "InvalidCredentials",
        Error::AuthRejected { .. } => "AuthRejected",
        Error::InvalidAuthResponse(_) => "InvalidAuthResponse",
        Error::AuthUnavailable { .. } => "AuthUnavailable",
        Error::Transport { .. } => "Transport",
        Error::Unauthorized { .. } => "Unauthorized",
        _ => "Other",
    }
}

pub fn event_name(e: &Event) -> &'static str {
    match e {
        Event::TokensChanged(_) => "TokensChanged",
        Event::Refreshed { .. } => "Refreshed",
        Event::LoggedIn { .. } => "LoggedIn",
        Event::SessionExpired => "SessionExpired",
        Event::CircuitOpened { .. } => "CircuitOpened",
        Event::CircuitHalfOpen { .. } => "CircuitHalfOpen",
        Event::Resend { .. } => "Resend",
        Event::Backoff { .. } => "Backoff",
        Event::AuthBackoff { .. } => "AuthBackoff",
        Event::AuthAborted { .. } => "AuthAborted",
        Event::AuthFailed { .. } => "AuthFailed",
        _ => "Other",
    }
}
