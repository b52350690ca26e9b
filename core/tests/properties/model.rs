//! The driver that plays transport and auth server, and its model of what the engine may do:
//! the invariants are checked here, after every step. This file holds the driver's state and
//! the finishing phase; `model/steps.rs` applies each `Op`, `model/server.rs` answers requests
//! and auth operations (predicting what the engine does with each answer), and
//! `model/checks.rs` checks every action the engine emits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use tokenkeeper_core::parse::format_http_date;
use tokenkeeper_core::{AuthId, AuthKind, Config, ExchangeId, RequestMeta, Session, Timestamp};

use crate::inputs::*;

mod checks;
mod server;
mod steps;

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
    /// (h) no login or refresh is sent before the auth endpoint's last `Retry-After`
    /// (clamped to `limits::MAX_AUTH_RETRY_AFTER`) has passed.
    pub(crate) retry_after: bool,
    /// (i) `offer_tokens` adopts exactly the sets issued after the last one held that can be
    /// used, and after an adopted offer no refresh uses a refresh token older than the
    /// adopted set.
    pub(crate) offers: bool,
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
    /// Resends because the token sent had been replaced meanwhile (401s, and bare 403s, for an
    /// older token: the engine's `stale_resends`).
    stale_resends: u32,
    sent_token: Option<String>,
    /// Ended with `Deliver`.
    delivered: bool,
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
    /// The auth endpoint's last `Retry-After` on a live operation's 429/503, clamped.
    auth_floor: Option<Timestamp>,
    /// `issued_at` of the last set the engine held.
    last_issued: Option<Timestamp>,
    /// The sequence number of the last adopted offer: no refresh token older may be used.
    offer_floor: Option<u32>,
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
    /// Secrets that no `Debug` or `Display` text of an action or of the session may hold (set
    /// by the fuzz target, whose raw auth answers carry them).
    pub(crate) secrets: Vec<String>,
    /// The password the session holds (for `$P` in raw auth answers).
    password: Option<String>,
}

impl Driver {
    pub(crate) fn new(case: &Case, checks: Checks) -> Self {
        let cfg = Config {
            ask_for_credentials: case.ask,
            ..policy(case.policy)
        };
        let (dialect, credentials) = dialect(case.dialect);
        let password = credentials.password.as_ref().map(|p| p.expose().to_owned());
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
            auth_floor: None,
            last_issued: None,
            offer_floor: None,
            superseded: Vec::new(),
            auth_ids: HashSet::new(),
            tokens: HashMap::new(),
            current: None,
            rejected: HashSet::new(),
            next_token: 0,
            failure: None,
            secrets: Vec::new(),
            password,
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
                stale_resends: 0,
                sent_token: None,
                delivered: false,
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

/// The sequence number of a token the driver named (`L3`, `F4`, `S5`, their refresh tokens
/// `RL3`...).
pub(crate) fn token_seq(name: &str) -> Option<u32> {
    name.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

/// The sequence number of the refresh token an `Authenticate` line carries (in a header or
/// the body).
pub(crate) fn refresh_token_seq(line: &str) -> Option<u32> {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() > 2 && w.starts_with('R') && w[1..2].chars().all(|c| "LFS".contains(c)))
        .and_then(token_seq)
}
