//! The driver that plays transport and auth server, and its model of what the engine may do:
//! the invariants are checked here, after every step.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::parse::{format_http_date, parse_bearer_challenge, parse_token_response};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::tokens::refresh_margin;
use tokenkeeper_core::{
    Action, AuthId, AuthKind, Config, ExchangeId, RequestMeta, Secret, Session, Timestamp, TokenSet,
};

use crate::inputs::*;

/// The start of fake time.
pub(crate) const T0: Timestamp = Timestamp::from_secs(1_800_000_000);
/// Upper bound on finishing-phase steps; far above what 60 random steps can leave behind.
pub(crate) const FINISH_STEPS: usize = 1_000;

// ---- the driver and its model ----------------------------------------------------------------

/// Which invariants a run asserts (the bookkeeping is always done).
#[derive(Clone, Copy, Default)]
pub(crate) struct Checks {
    /// (a) at most one auth operation outstanding.
    pub(crate) single_flight: bool,
    /// (b) every exchange ends exactly once, gets nothing after ending, and none is stranded.
    pub(crate) endings: bool,
    /// (c) resends within the configured limits.
    pub(crate) limits: bool,
    /// (e) no token sent that the engine knows to be expired (or rejected).
    pub(crate) expiry: bool,
    /// (f) no timer fires in a loop without progress.
    pub(crate) timers: bool,
    /// (g) credentials asked for only with `ask_for_credentials`, only while someone waits,
    /// once per wait, never while an auth operation is outstanding.
    pub(crate) asking: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Life {
    Live,
    Ended,
    Cancelled,
}

/// Why the next `Send` of an exchange is a resend.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Cause {
    /// A token-rejected status (401): stale-generation resend or refresh-and-resend.
    Rejected,
    /// A transient status or a send error: backoff and resend.
    Transient,
}

/// What the driver knows about one exchange.
#[derive(Debug)]
pub(crate) struct Ex {
    login: bool,
    meta: RequestMeta,
    life: Life,
    in_flight: bool,
    has_response: bool,
    sends: u32,
    cause: Option<Cause>,
    rejected_resends: u32,
    transient_resends: u32,
    /// 401s for the current token generation (the engine's `auth_retries`).
    current_rejections: u32,
    sent_token: Option<String>,
}

/// A request sent with a lease, which the engine does not know about until it is adopted.
#[derive(Debug)]
pub(crate) struct Leased {
    meta: RequestMeta,
    token: String,
    generation: u64,
    started: Timestamp,
}

/// What the driver knows about a token it handed to the engine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenInfo {
    issued_at: Timestamp,
    expires_at: Timestamp,
}

pub(crate) struct Driver {
    session: Session,
    cfg: Config,
    checks: Checks,
    now: Timestamp,
    pub(crate) transcript: Vec<String>,
    exchanges: BTreeMap<ExchangeId, Ex>,
    /// Requests in flight with a lease, in the order they started.
    leased: Vec<Leased>,
    /// Exchanges in the order they started (for picking by index).
    order: Vec<ExchangeId>,
    /// The auth operation the engine considers outstanding.
    auth: Option<(AuthId, AuthKind)>,
    /// `NeedCredentials` was emitted and not yet answered (nor ended by `set_tokens`/`logout`).
    asked: bool,
    /// Operations made obsolete by `set_tokens`/`logout`, never answered.
    superseded: Vec<AuthId>,
    auth_ids: HashSet<AuthId>,
    tokens: HashMap<String, TokenInfo>,
    /// The token of the engine's current generation (`None` after `logout`).
    current: Option<String>,
    /// Tokens the engine has marked as rejected by the server.
    rejected: HashSet<String>,
    next_token: u32,
    /// The first invariant violation seen.
    pub(crate) failure: Option<String>,
    /// Tokens that no `Debug` or `Display` text of an action or of the session may hold (set
    /// by the fuzz target, whose raw auth answers carry them).
    pub(crate) secrets: Vec<String>,
}

impl Driver {
    pub(crate) fn new(case: &Case, checks: Checks) -> Self {
        let cfg = Config {
            ask_for_credentials: case.ask,
            ..policy(case.policy)
        };
        let (dialect, credentials) = dialect(case.dialect);
        Driver {
            session: Session::new(cfg.clone(), dialect, credentials, case.seed).unwrap(),
            cfg,
            checks,
            now: T0,
            transcript: Vec::new(),
            exchanges: BTreeMap::new(),
            leased: Vec::new(),
            order: Vec::new(),
            auth: None,
            asked: false,
            superseded: Vec::new(),
            auth_ids: HashSet::new(),
            tokens: HashMap::new(),
            current: None,
            rejected: HashSet::new(),
            next_token: 0,
            failure: None,
            secrets: Vec::new(),
        }
    }

    /// The last lines of the transcript, for failure messages.
    fn tail(&self) -> String {
        let from = self.transcript.len().saturating_sub(30);
        self.transcript[from..].join("\n  ")
    }

    /// Records the first violation (with the transcript's tail); the run stops after the step.
    fn violation(&mut self, invariant: &str, what: &str) {
        if self.failure.is_none() {
            self.failure = Some(format!(
                "invariant {invariant} violated at {:?}: {what}\n  ...\n  {}",
                self.now,
                self.tail()
            ));
        }
    }

    fn live(&self) -> Vec<ExchangeId> {
        self.order
            .iter()
            .copied()
            .filter(|id| self.exchanges[id].life == Life::Live)
            .collect()
    }

    fn in_flight(&self) -> Vec<ExchangeId> {
        self.order
            .iter()
            .copied()
            .filter(|id| self.exchanges[id].in_flight)
            .collect()
    }

    fn register(&mut self, id: ExchangeId, login: bool, meta: RequestMeta) {
        if self.exchanges.contains_key(&id) && self.checks.endings {
            self.violation("endings", &format!("exchange id {id:?} reused"));
        }
        self.exchanges.insert(
            id,
            Ex {
                login,
                meta,
                life: Life::Live,
                in_flight: false,
                has_response: false,
                sends: 0,
                cause: None,
                rejected_resends: 0,
                transient_resends: 0,
                current_rejections: 0,
                sent_token: None,
            },
        );
        self.order.push(id);
    }

    fn new_token(&mut self, prefix: &str, info: TokenInfo) -> String {
        self.next_token += 1;
        let mut name = format!("{prefix}{}", self.next_token);
        while self.tokens.contains_key(&name) {
            // A raw auth answer (`Op::AuthRaw`) installed this name already.
            self.next_token += 1;
            name = format!("{prefix}{}", self.next_token);
        }
        self.tokens.insert(name.clone(), info);
        name
    }

    /// Drains every action, checking each; returns how many there were.
    fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Some(action) = self.session.poll_action() {
            n += 1;
            self.on_action(action);
        }
        n
    }

    fn on_action(&mut self, action: Action) {
        self.check_secrets(&action);
        match action {
            Action::Send { id, authorization } => {
                let token = authorization
                    .to_str()
                    .unwrap()
                    .trim_start_matches("Bearer ")
                    .to_owned();
                self.transcript
                    .push(format!("  Send({}, {token})", id.as_u64()));
                self.on_send(id, token);
            }
            Action::Authenticate(req) => {
                let mut line = format!(
                    "  Authenticate({}, {:?}, {} {}",
                    req.id.as_u64(),
                    req.kind,
                    req.request.method(),
                    req.request.uri()
                );
                for (k, v) in req.request.headers() {
                    let _ = write!(line, ", {k}: {}", String::from_utf8_lossy(v.as_bytes()));
                }
                let _ = write!(line, ", {})", String::from_utf8_lossy(req.request.body()));
                self.transcript.push(line);
                if self.checks.single_flight {
                    if let Some((prev, _)) = self.auth {
                        self.violation(
                            "single_flight",
                            &format!("Authenticate {:?} while {prev:?} is outstanding", req.id),
                        );
                    }
                    if self.auth_ids.contains(&req.id) {
                        self.violation("single_flight", &format!("auth id {:?} reused", req.id));
                    }
                }
                if self.checks.single_flight && self.asked {
                    self.violation(
                        "single_flight",
                        &format!("Authenticate {:?} while credentials are asked for", req.id),
                    );
                }
                self.auth_ids.insert(req.id);
                self.auth = Some((req.id, req.kind));
            }
            Action::Deliver { id } => {
                self.transcript.push(format!("  Deliver({})", id.as_u64()));
                self.on_end(id, true);
            }
            Action::Fail { id, error } => {
                self.transcript
                    .push(format!("  Fail({}, {error:?})", id.as_u64()));
                self.on_end(id, false);
            }
            Action::Event(e) => self.transcript.push(format!("  Event({e:?})")),
            Action::NeedCredentials => {
                self.transcript.push("  NeedCredentials".to_owned());
                if self.checks.asking {
                    if !self.cfg.ask_for_credentials {
                        self.violation("asking", "NeedCredentials without ask_for_credentials");
                    }
                    if self.asked {
                        self.violation("asking", "NeedCredentials twice in one wait");
                    }
                    let waiting = self.live().iter().any(|id| !self.exchanges[id].in_flight);
                    if !waiting {
                        self.violation("asking", "NeedCredentials while nobody waits");
                    }
                    if let Some((prev, _)) = self.auth {
                        self.violation(
                            "asking",
                            &format!("NeedCredentials while {prev:?} is outstanding"),
                        );
                    }
                }
                self.asked = true;
            }
            Action::AbortAuth { id } => {
                self.transcript
                    .push(format!("  AbortAuth({})", id.as_u64()));
                match self.auth {
                    Some((op, _)) if op == id => self.auth = None,
                    _ if self.checks.single_flight => self.violation(
                        "single_flight",
                        &format!("AbortAuth {id:?}, which is not outstanding"),
                    ),
                    _ => {}
                }
                // A late answer to it must change nothing.
                self.superseded.push(id);
            }
            other => self.transcript.push(format!("  {other:?}")),
        }
    }

    /// No known secret in the action's `Debug`, a failure's `Display` or the session's `Debug`.
    fn check_secrets(&mut self, action: &Action) {
        if self.secrets.is_empty() {
            return;
        }
        let mut texts = vec![format!("{action:?}"), format!("{:?}", self.session)];
        if let Action::Fail { error, .. } = action {
            texts.push(error.to_string());
        }
        let leaked = texts
            .iter()
            .find(|t| self.secrets.iter().any(|s| t.contains(s.as_str())));
        if let Some(text) = leaked {
            let what = format!("a token in a Debug/Display text: {text}");
            self.violation("secrets", &what);
        }
    }

    fn on_send(&mut self, id: ExchangeId, token: String) {
        let checks = self.checks;
        let Some(ex) = self.exchanges.get(&id) else {
            if checks.endings {
                self.violation("endings", &format!("Send for unknown exchange {id:?}"));
            }
            return;
        };
        let (life, in_flight, login, sends, replayable, cause) = (
            ex.life,
            ex.in_flight,
            ex.login,
            ex.sends,
            ex.meta.replayable,
            ex.cause,
        );
        let (rejected, transient) = match cause {
            Some(Cause::Rejected) => (ex.rejected_resends + 1, ex.transient_resends),
            Some(Cause::Transient) => (ex.rejected_resends, ex.transient_resends + 1),
            None => (ex.rejected_resends, ex.transient_resends),
        };
        if checks.endings {
            if life != Life::Live {
                self.violation(
                    "endings",
                    &format!("Send for exchange {id:?} after it {life:?}"),
                );
            }
            if in_flight {
                self.violation(
                    "endings",
                    &format!("Send for exchange {id:?} whose previous Send is unanswered"),
                );
            }
            if login {
                self.violation("endings", &format!("Send for login exchange {id:?}"));
            }
        }
        if checks.limits && sends > 0 {
            let max_rejected =
                self.cfg.max_auth_retries_per_exchange + self.cfg.max_stale_generation_resends;
            let max_transient = self.cfg.max_transient_resends;
            if !replayable {
                self.violation(
                    "limits",
                    &format!("resend of {id:?} whose body cannot be replayed"),
                );
            }
            if cause.is_none() {
                self.violation(
                    "limits",
                    &format!("resend of {id:?} with no 401 or transient outcome"),
                );
            }
            if rejected > max_rejected {
                self.violation(
                    "limits",
                    &format!("{id:?}: {rejected} resends after 401 > {max_rejected}"),
                );
            }
            if transient > max_transient {
                self.violation(
                    "limits",
                    &format!("{id:?}: {transient} transient resends > {max_transient}"),
                );
            }
        }
        if checks.expiry {
            self.check_token(&token);
        }
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.cause = None;
        (ex.rejected_resends, ex.transient_resends) = (rejected, transient);
        ex.sends += 1;
        ex.in_flight = true;
        ex.has_response = false;
        ex.sent_token = Some(token);
    }

    /// (e): the token sent is the current one, not rejected, and not within the engine's hard
    /// floor of its expiry.
    fn check_token(&mut self, token: &str) {
        let Some(info) = self.tokens.get(token).copied() else {
            return self.violation("expiry", &format!("sent a token nobody issued: {token}"));
        };
        if self.current.as_deref() != Some(token) {
            let current = self.current.clone();
            self.violation(
                "expiry",
                &format!("sent {token}, not the current token {current:?}"),
            );
        }
        if self.rejected.contains(token) {
            self.violation(
                "expiry",
                &format!("sent {token}, which the server rejected"),
            );
        }
        // The engine's floor is min(expiry_floor, margin / 2); its margin is at least the
        // jitter-free one, so this bound is exact without margin jitter and weaker with it.
        let lifetime = info.expires_at.saturating_duration_since(info.issued_at);
        let floor = self
            .cfg
            .expiry_floor
            .min(refresh_margin(lifetime, &self.cfg, 0.0) / 2);
        if self.now >= info.expires_at.saturating_sub(floor) {
            let what = format!(
                "sent {token} expiring at {:?} (floor {floor:?}) at {:?}",
                info.expires_at, self.now
            );
            self.violation("expiry", &what);
        }
    }

    fn on_end(&mut self, id: ExchangeId, delivered: bool) {
        let Some(ex) = self.exchanges.get(&id) else {
            if self.checks.endings {
                self.violation("endings", &format!("ending for unknown exchange {id:?}"));
            }
            return;
        };
        let (life, in_flight, login, has_response) =
            (ex.life, ex.in_flight, ex.login, ex.has_response);
        if self.checks.endings {
            if life != Life::Live {
                self.violation(
                    "endings",
                    &format!("second ending for {id:?}, which {life:?}"),
                );
            }
            if in_flight {
                self.violation(
                    "endings",
                    &format!("{id:?} ended while its request is in flight"),
                );
            }
            if delivered && !login && !has_response {
                self.violation(
                    "endings",
                    &format!("Deliver for {id:?}, which has no response to deliver"),
                );
            }
            if delivered && login && self.session.tokens().is_none() {
                self.violation(
                    "endings",
                    &format!("login exchange {id:?} delivered without tokens"),
                );
            }
        }
        self.exchanges.get_mut(&id).unwrap().life = Life::Ended;
    }

    /// After a step: the engine's count of live exchanges matches the model's.
    fn after_step(&mut self) {
        let timer = self.session.poll_timeout();
        self.transcript.push(format!("  timer {timer:?}"));
        if self.checks.endings {
            let model = self
                .exchanges
                .values()
                .filter(|e| e.life == Life::Live)
                .count();
            let engine = self.session.live_exchanges();
            if model != engine {
                self.violation(
                    "endings",
                    &format!("engine has {engine} live exchanges, the driver {model}"),
                );
            }
        }
    }

    fn must_end_now(&mut self, id: ExchangeId, why: &str) {
        if self.checks.endings && self.exchanges[&id].life == Life::Live {
            self.violation("endings", &format!("{id:?} not ended at once after {why}"));
        }
    }

    fn headers(&self, retry_after: Option<RetryAfter>) -> HeaderMap {
        let mut h = HeaderMap::new();
        match retry_after {
            None => {}
            Some(RetryAfter::Secs(s)) => {
                h.insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from_str(&s.to_string()).unwrap(),
                );
            }
            Some(RetryAfter::Date(s)) => {
                let date = format_http_date(self.now.saturating_add(Duration::from_secs(s)));
                h.insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from_str(&date).unwrap(),
                );
            }
        }
        h
    }

    pub(crate) fn step(&mut self, op: &Op) {
        self.transcript.push(format!("{:?} {op:?}", self.now));
        match *op {
            Op::Start {
                post,
                replayable,
                leased,
            } => {
                let method = if post { Method::POST } else { Method::GET };
                let meta = RequestMeta::new(&method, replayable);
                if leased && let Some(lease) = self.session.lease(self.now) {
                    return self.start_leased(&lease, meta);
                }
                let id = self.session.start(self.now, meta);
                self.register(id, false, meta);
                self.drain();
            }
            Op::Respond {
                pick,
                status,
                retry_after,
                insufficient_scope,
            } => {
                let headers = self.headers(retry_after);
                self.respond_pick(pick, status, headers, insufficient_scope);
            }
            Op::RespondRaw {
                pick,
                status,
                ref headers,
            } => self.respond_pick(pick, status, headers.clone(), false),
            Op::AuthRaw {
                status,
                ref headers,
                ref body,
                superseded,
            } => self.auth_raw(status, headers, body, superseded),
            Op::RespondAll { status } => {
                for id in self.in_flight() {
                    self.respond(id, status, HeaderMap::new(), false);
                }
                for leased in core::mem::take(&mut self.leased) {
                    self.respond_leased(leased, status, HeaderMap::new(), false);
                }
            }
            Op::SendError { pick, maybe_sent } => {
                let flying = self.in_flight();
                let n = flying.len() + self.leased.len();
                if n == 0 {
                    return self.after_step();
                }
                let id = if let Some(&id) = flying.get(pick % n) {
                    id
                } else {
                    let leased = self.leased.remove(pick % n - flying.len());
                    self.adopt(leased)
                };
                self.send_error(id, maybe_sent);
            }
            Op::Auth { reply, superseded } => {
                if superseded && !self.superseded.is_empty() {
                    let op_id = self.superseded.remove(0);
                    self.auth_reply(op_id, AuthKind::Login, reply, false);
                    let n = self.drain();
                    if n > 0 && self.checks.single_flight {
                        self.violation(
                            "single_flight",
                            "an answer to a superseded auth operation was acted on",
                        );
                    }
                } else if let Some((op_id, kind)) = self.auth.take() {
                    self.auth_reply(op_id, kind, reply, true);
                    self.drain();
                }
            }
            Op::Cancel { pick } => {
                let live = self.live();
                if pick % (live.len() + 1) == live.len() && !self.leased.is_empty() {
                    // A leased request's caller goes away: the engine never knew it.
                    let leased = self.leased.remove(pick % self.leased.len());
                    self.transcript
                        .push(format!("  dropped leased {}", leased.token));
                } else if !live.is_empty() {
                    let id = live[pick % live.len()];
                    self.session.cancel(id);
                    let ex = self.exchanges.get_mut(&id).unwrap();
                    ex.life = Life::Cancelled;
                    ex.in_flight = false;
                    self.drain();
                }
            }
            Op::Spurious { pick, status } => {
                let idle: Vec<_> = self
                    .order
                    .iter()
                    .copied()
                    .filter(|id| !self.exchanges[id].in_flight)
                    .collect();
                if !idle.is_empty() {
                    let id = idle[pick % idle.len()];
                    self.session.handle_response(
                        self.now,
                        id,
                        StatusCode::from_u16(status).unwrap(),
                        &HeaderMap::new(),
                    );
                    self.session
                        .handle_send_error(self.now, id, SendFailure::NotSent);
                    if self.drain() > 0 && self.checks.endings {
                        self.violation(
                            "endings",
                            &format!("an outcome for {id:?}, not in flight, was acted on"),
                        );
                    }
                }
            }
            Op::Advance { ms } => self.now = self.now.saturating_add(Duration::from_millis(ms)),
            Op::FireTimer => {
                self.fire_timer();
            }
            Op::Tick => {
                let due = self
                    .session
                    .poll_timeout()
                    .is_some_and(|(t, _)| t <= self.now);
                self.session.handle_timeout(self.now);
                let n = self.drain();
                if due {
                    self.check_timer_progress(n);
                } else if n > 0 && self.checks.timers {
                    self.violation("timers", "handle_timeout acted although no timer was due");
                }
            }
            Op::Login => {
                let id = self.session.login(self.now);
                self.register(
                    id,
                    true,
                    RequestMeta {
                        idempotent: true,
                        replayable: true,
                    },
                );
                self.drain();
            }
            Op::SetTokens {
                refresh,
                issued_ago,
                expires_in,
                refresh_expires_in,
            } => {
                let issued_at = self.now.saturating_sub(Duration::from_secs(issued_ago));
                let expires_at = offset(self.now, expires_in);
                let name = self.new_token(
                    "S",
                    TokenInfo {
                        issued_at,
                        expires_at,
                    },
                );
                let refresh_token = match refresh {
                    RefreshKind::None => None,
                    RefreshKind::Valid => Some(Secret::new(format!("R{name}"))),
                    RefreshKind::HeaderUnsafe => Some(Secret::new("bad\nrefresh")),
                };
                let set = TokenSet {
                    access_token: Secret::new(name.clone()),
                    refresh_token,
                    issued_at,
                    expires_at,
                    refresh_expires_at: refresh_expires_in.map(|s| offset(self.now, s)),
                };
                if matches!(refresh, RefreshKind::HeaderUnsafe) {
                    // Refused as a whole; nothing changes (the engine's auth op carries on).
                    assert!(self.session.set_tokens(self.now, set).is_err());
                    self.drain();
                } else {
                    self.supersede_auth();
                    self.asked = false;
                    self.current = Some(name);
                    self.session.set_tokens(self.now, set).unwrap();
                    self.drain();
                }
            }
            Op::Logout => {
                self.supersede_auth();
                self.asked = false;
                self.current = None;
                self.session.logout();
                self.drain();
            }
            Op::Provide { answer } => self.provide(answer),
        }
        self.after_step();
    }

    /// Answers `NeedCredentials` (or gives credentials unasked, which only keeps them).
    fn provide(&mut self, answer: Answer) {
        let credentials = match answer {
            Answer::Good => Some(Credentials::password("u", "p")),
            Answer::Incomplete => Some(Credentials {
                username: Some("u".to_owned()),
                password: None,
            }),
            Answer::Nothing => None,
        };
        self.asked = false;
        self.session.provide_credentials(self.now, credentials);
        self.drain();
    }

    fn supersede_auth(&mut self) {
        if let Some((id, _)) = self.auth.take() {
            self.superseded.push(id);
        }
    }

    /// A request goes out with the lease instead of `start`: the token must be one `start`
    /// would send now.
    fn start_leased(&mut self, lease: &tokenkeeper_core::Lease, meta: RequestMeta) {
        let token = lease
            .authorization()
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_owned();
        self.transcript.push(format!(
            "  leased({token}, until {:?})",
            lease.valid_until()
        ));
        if !lease.is_valid(self.now) {
            self.violation("expiry", "the session issued a lease that is not valid now");
        }
        if self.checks.expiry {
            self.check_token(&token);
        }
        self.session.record_leased(1, 0);
        self.leased.push(Leased {
            meta,
            token,
            generation: lease.generation(),
            started: self.now,
        });
        self.after_step();
    }

    /// Hands a leased request to the engine, as the driver does when its outcome needs it.
    fn adopt(&mut self, leased: Leased) -> ExchangeId {
        let id = self
            .session
            .adopt(leased.started, leased.meta, leased.generation);
        self.transcript
            .push(format!("  adopted({}, {})", id.as_u64(), leased.token));
        self.register(id, false, leased.meta);
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.sends = 1;
        ex.in_flight = true;
        ex.sent_token = Some(leased.token);
        id
    }

    /// A response to a leased request: delivered as it is when the rules say so (and the model
    /// agrees that the engine would have ended the exchange with it), else adopted.
    fn respond_leased(
        &mut self,
        leased: Leased,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let code = StatusCode::from_u16(status).unwrap();
        if self
            .session
            .response_rules()
            .delivers_as_is(code, leased.meta)
        {
            let cfg = &self.cfg;
            let judged = (cfg.enabled && cfg.token_rejected_statuses.contains(&status))
                || (leased.meta.replayable
                    && (cfg.transient_statuses.contains(&status)
                        || (cfg.gateway_statuses.contains(&status)
                            && (leased.meta.idempotent || cfg.retry_non_idempotent_gateway))));
            if judged {
                self.violation(
                    "endings",
                    &format!("a leased request's {status} delivered without the engine"),
                );
            }
            self.transcript
                .push(format!("  leased {} delivered {status}", leased.token));
            self.session.record_leased(0, 1);
            return;
        }
        let id = self.adopt(leased);
        self.respond(id, status, headers, insufficient_scope);
    }

    /// A request in flight (started or leased), picked by index, gets a response.
    fn respond_pick(
        &mut self,
        pick: usize,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let flying = self.in_flight();
        let n = flying.len() + self.leased.len();
        if n == 0 {
            return;
        }
        if let Some(&id) = flying.get(pick % n) {
            self.respond(id, status, headers, insufficient_scope);
        } else {
            let leased = self.leased.remove(pick % n - flying.len());
            self.respond_leased(leased, status, headers, insufficient_scope);
        }
    }

    fn respond(
        &mut self,
        id: ExchangeId,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let mut headers = headers;
        if insufficient_scope {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="insufficient_scope", scope="admin""#),
            );
        }
        // The engine reads the challenge with the public parser (checked on its own in
        // `tests/differential.rs`); raw headers (`Op::RespondRaw`) may hold any challenge.
        let insufficient_scope = parse_bearer_challenge(&headers)
            .is_some_and(|c| c.error.as_deref() == Some("insufficient_scope"));
        let must_end = self.classify(id, status, insufficient_scope);
        self.session.handle_response(
            self.now,
            id,
            StatusCode::from_u16(status).unwrap(),
            &headers,
        );
        self.drain();
        if must_end {
            self.must_end_now(id, &format!("a final status {status}"));
        }
    }

    /// Records a response in the model, predicting what the engine will do with the token and
    /// the exchange; returns whether the exchange must end at once.
    fn classify(&mut self, id: ExchangeId, status: u16, insufficient_scope: bool) -> bool {
        let cfg = &self.cfg;
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.in_flight = false;
        ex.has_response = true;
        let current = ex.sent_token.is_some() && ex.sent_token == self.current;
        if cfg.enabled && cfg.token_rejected_statuses.contains(&status) {
            if !cfg.retry_on_401 || insufficient_scope {
                return true;
            }
            if !ex.meta.replayable {
                if current {
                    self.rejected.extend(ex.sent_token.clone());
                }
                return true;
            }
            if !current {
                ex.cause = Some(Cause::Rejected);
                return false;
            }
            if ex.current_rejections >= cfg.max_auth_retries_per_exchange {
                return true;
            }
            ex.current_rejections += 1;
            ex.cause = Some(Cause::Rejected);
            self.rejected.extend(ex.sent_token.clone());
            return false;
        }
        let transient = ex.meta.replayable
            && (cfg.transient_statuses.contains(&status)
                || (cfg.gateway_statuses.contains(&status)
                    && (ex.meta.idempotent || cfg.retry_non_idempotent_gateway)));
        if transient {
            ex.cause = Some(Cause::Transient);
        }
        !transient
    }

    fn send_error(&mut self, id: ExchangeId, maybe_sent: bool) {
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.in_flight = false;
        let must_end = maybe_sent && !ex.meta.idempotent;
        if !must_end {
            ex.cause = Some(Cause::Transient);
        }
        let failure = if maybe_sent {
            SendFailure::MaybeSent
        } else {
            SendFailure::NotSent
        };
        self.session.handle_send_error(self.now, id, failure);
        self.drain();
        if must_end {
            self.must_end_now(id, "an error after a non-idempotent request may have run");
        }
    }

    /// Answers auth operation `op`; `live` when it is the one the engine considers current.
    fn auth_reply(&mut self, op: AuthId, kind: AuthKind, reply: AuthReply, live: bool) {
        let now = self.now;
        let json = |status: u16, body: &str| (status, HeaderMap::new(), body.to_owned());
        let (status, headers, body) = match reply {
            AuthReply::Ok {
                refresh_token,
                expires_in,
            } => {
                let expires_at = match expires_in {
                    Some(s) => now.saturating_add(Duration::from_secs(s)),
                    None => now.saturating_add(self.cfg.default_lifetime),
                };
                let prefix = if kind == AuthKind::Login { "L" } else { "F" };
                let name = self.new_token(
                    prefix,
                    TokenInfo {
                        issued_at: now,
                        expires_at,
                    },
                );
                let mut v = serde_json::json!({ "access_token": name, "token_type": "Bearer" });
                if refresh_token {
                    v["refresh_token"] = format!("R{name}").into();
                }
                if let Some(s) = expires_in {
                    v["expires_in"] = s.into();
                }
                if live {
                    // The answer to the live operation installs the token.
                    self.current = Some(name);
                }
                json(200, &v.to_string())
            }
            AuthReply::InvalidGrant => json(
                400,
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
            ),
            AuthReply::Unauthorized => json(401, r#"{"detail":"Invalid refresh token"}"#),
            AuthReply::TooMany(ra) => (429, self.headers(ra), String::new()),
            AuthReply::Unavailable(ra) => (
                503,
                self.headers(ra),
                r#"{"detail":"Authentication backend unavailable"}"#.into(),
            ),
            AuthReply::NotFound => json(404, "Not Found"),
            AuthReply::Malformed(i) => json(200, MALFORMED[i]),
            AuthReply::Transport(maybe) => {
                let failure = if maybe {
                    SendFailure::MaybeSent
                } else {
                    SendFailure::NotSent
                };
                self.session.handle_auth_error(now, op, failure);
                return;
            }
            AuthReply::Abandon => {
                self.session.handle_auth_abandoned(now, op);
                return;
            }
        };
        self.session.handle_auth_response(
            now,
            op,
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
        );
    }

    /// Answers the auth operation in flight (or, with `superseded`, an obsolete one) with a raw
    /// response. Tokens the engine installs from it are learned from `Session::tokens`; an
    /// answer whose access token the model already knows is not given (the model tells token
    /// generations apart by their strings).
    fn auth_raw(&mut self, status: u16, headers: &HeaderMap, body: &[u8], superseded: bool) {
        let code = StatusCode::from_u16(status).unwrap();
        if superseded && !self.superseded.is_empty() {
            let op = self.superseded.remove(0);
            self.session
                .handle_auth_response(self.now, op, code, headers, body);
            if self.drain() > 0 && self.checks.single_flight {
                self.violation(
                    "single_flight",
                    "an answer to a superseded auth operation was acted on",
                );
            }
            return;
        }
        let Some((op, _)) = self.auth else {
            return;
        };
        if code.is_success()
            && let Ok(resp) = parse_token_response(headers, body)
            && self.tokens.contains_key(resp.access_token.expose())
        {
            self.transcript
                .push("  (not given: a token the model knows)".to_owned());
            return;
        }
        self.auth = None;
        let before = self.session.tokens().map(|t| t.access_token.clone());
        self.session
            .handle_auth_response(self.now, op, code, headers, body);
        if let Some(set) = self.session.tokens()
            && before.as_ref() != Some(&set.access_token)
        {
            let name = set.access_token.expose().to_owned();
            let info = TokenInfo {
                issued_at: set.issued_at,
                expires_at: set.expires_at,
            };
            self.tokens.insert(name.clone(), info);
            self.current = Some(name);
        }
        self.drain();
    }

    fn fire_timer(&mut self) -> bool {
        let Some((at, kind)) = self.session.poll_timeout() else {
            return false;
        };
        self.now = self.now.max(at);
        self.transcript
            .push(format!("  fire {kind:?} at {:?}", self.now));
        self.session.handle_timeout(self.now);
        let n = self.drain();
        self.check_timer_progress(n);
        true
    }

    /// (f): after `handle_timeout(now)` for a due timer, either something happened or the next
    /// timer is later than `now`.
    fn check_timer_progress(&mut self, emitted: usize) {
        if !self.checks.timers || emitted > 0 {
            return;
        }
        if let Some((t, kind)) = self.session.poll_timeout()
            && t <= self.now
        {
            self.violation(
                "timers",
                &format!("{kind:?} timer at {t:?} still due after firing, nothing done"),
            );
        }
    }

    /// Answers everything with success and fires timers until every exchange has ended.
    pub(crate) fn finish(&mut self) {
        self.transcript.push("finish".to_owned());
        for _ in 0..FINISH_STEPS {
            if self.asked {
                self.transcript
                    .push(format!("{:?} finish: credentials given", self.now));
                self.provide(Answer::Good);
            } else if let Some((op, kind)) = self.auth.take() {
                self.transcript
                    .push(format!("{:?} finish: auth ok", self.now));
                self.auth_reply(
                    op,
                    kind,
                    AuthReply::Ok {
                        refresh_token: true,
                        expires_in: Some(3600),
                    },
                    true,
                );
                self.drain();
            } else if !self.leased.is_empty() {
                let leased = self.leased.remove(0);
                self.transcript.push(format!(
                    "{:?} finish: 200 for leased {}",
                    self.now, leased.token
                ));
                self.respond_leased(leased, 200, HeaderMap::new(), false);
            } else if let Some(&id) = self.in_flight().first() {
                self.transcript
                    .push(format!("{:?} finish: 200 for {}", self.now, id.as_u64()));
                self.respond(id, 200, HeaderMap::new(), false);
            } else if self.live().is_empty() || !self.fire_timer() {
                // Done, or stranded: nothing left to answer and no timer (checked below).
                break;
            }
            self.after_step();
        }
        if self.checks.endings {
            let stranded: Vec<_> = self.live();
            if !stranded.is_empty() {
                let states: Vec<_> = stranded
                    .iter()
                    .map(|id| (id.as_u64(), &self.exchanges[id]))
                    .collect();
                let what = format!("exchanges stranded after the finishing phase: {states:?}");
                self.violation("endings", &what);
            }
            if self.session.live_exchanges() != 0 {
                self.violation(
                    "endings",
                    "the engine still holds exchanges after the finishing phase",
                );
            }
        }
    }
}

/// `now` plus (or minus) `secs` seconds.
pub(crate) fn offset(now: Timestamp, secs: i64) -> Timestamp {
    if secs >= 0 {
        now.saturating_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        now.saturating_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}
