//! Property tests: random sequences of inputs and time against the engine, with invariants
//! checked after every step (model-vs-engine fuzzing in the style of firezone's `tests/fuzz`).
//!
//! A `Driver` plays both the transport and the auth server. It feeds the session one `Op`
//! at a time (start an exchange, answer one in flight, answer or abandon the auth operation,
//! cancel, move the clock, fire timers, log in, install or drop tokens), drains
//! `poll_action` after each, and checks what comes out against a small model of what the
//! driver has seen. After the random part, a finishing phase answers everything with success
//! and fires timers until every exchange has ended, in a bounded number of steps.
//!
//! Each test is named after the invariant it checks and enables only that check, so a failure
//! names the rule that broke; the model's bookkeeping is the same for all. Cases: 256 per test,
//! up to 60 steps each, from a fixed proptest seed (set `PROPTEST_RNG_SEED` to explore others).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::parse::format_http_date;
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::tokens::refresh_margin;
use tokenkeeper_core::{
    Action, AuthId, AuthKind, Backoff, CircuitBreaker, Config, ExchangeId, Margin, RequestMeta,
    SecondRejection, Secret, Session, Timestamp, TokenSet,
};

/// The start of fake time.
const T0: Timestamp = Timestamp::from_secs(1_800_000_000);
/// Loopback base URL (plain http is allowed there).
const BASE: &str = "http://127.0.0.1:8001";
/// Upper bound on finishing-phase steps; far above what 60 random steps can leave behind.
const FINISH_STEPS: usize = 1_000;
/// Statuses an API response is drawn from.
const STATUSES: [u16; 8] = [200, 401, 403, 429, 500, 502, 503, 504];
/// `expires_in` values (seconds) a successful auth reply is drawn from.
const LIFETIMES: [u64; 5] = [1, 5, 30, 600, 3600];

// ---- inputs --------------------------------------------------------------------------------

/// A `Retry-After` header.
#[derive(Clone, Copy, Debug)]
enum RetryAfter {
    /// Delta-seconds.
    Secs(u64),
    /// An HTTP date this many seconds from now.
    Date(u64),
}

/// What the auth server (or the driver performing the auth request) does.
#[derive(Clone, Copy, Debug)]
enum AuthReply {
    /// 200 with a valid token body.
    Ok {
        refresh_token: bool,
        expires_in: Option<u64>,
    },
    /// 400 `invalid_grant`.
    InvalidGrant,
    /// 401 with a VitalGraph `detail`.
    Unauthorized,
    /// 429, maybe with `Retry-After`.
    TooMany(Option<RetryAfter>),
    /// 503, maybe with `Retry-After`.
    Unavailable(Option<RetryAfter>),
    /// 404: neither a token nor a known error.
    NotFound,
    /// 200 with one of `MALFORMED`.
    Malformed(usize),
    /// No response (`true`: it may have reached the server).
    Transport(bool),
    /// The driver gave up on the request without an outcome.
    Abandon,
}

/// Bodies a 200 auth reply can have that are not usable token responses.
const MALFORMED: [&str; 7] = [
    "",
    "<html><body>502 Bad Gateway</body></html>",
    "not json",
    "{}",
    "[1, 2]",
    r#"{"access_token": "x", "expires_in": -5}"#,
    r#"{"access_token": "x", "token_type": "mac"}"#,
];

/// What the driver answers to `NeedCredentials` (`Op::Provide`).
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// A username and password.
    Good,
    /// A username without a password (cannot make a login).
    Incomplete,
    /// None (the user cancelled).
    Nothing,
}

/// Where `set_tokens` gets its refresh token.
#[derive(Clone, Copy, Debug)]
enum RefreshKind {
    None,
    Valid,
    /// Cannot go into a header (a corrupt store): `set_tokens` must refuse the whole set.
    HeaderUnsafe,
}

/// One step of a random sequence.
#[derive(Clone, Debug)]
enum Op {
    /// A caller's request starts; with `leased`, through the session's lease when it has one
    /// (the multi-threaded driver's lock-free path), else through `start`.
    Start {
        post: bool,
        replayable: bool,
        leased: bool,
    },
    /// An exchange in flight (picked by index) gets a response.
    Respond {
        pick: usize,
        status: u16,
        retry_after: Option<RetryAfter>,
        insufficient_scope: bool,
    },
    /// Every exchange in flight gets the same response (the herd: a revoked token, an outage).
    RespondAll { status: u16 },
    /// An exchange in flight fails without a response.
    SendError { pick: usize, maybe_sent: bool },
    /// The auth operation in flight is answered (or, with `superseded`, one that `set_tokens`
    /// or `logout` made obsolete).
    Auth { reply: AuthReply, superseded: bool },
    /// A live exchange (picked by index) is cancelled.
    Cancel { pick: usize },
    /// A response for an exchange that is not in flight (ended, cancelled or waiting): ignored.
    Spurious { pick: usize, status: u16 },
    /// The clock moves without the engine being told (a late driver).
    Advance { ms: u64 },
    /// Jump to `poll_timeout` and fire it.
    FireTimer,
    /// `handle_timeout(now)` whether or not anything is due (a spurious wake-up).
    Tick,
    /// Explicit `login()`.
    Login,
    /// Tokens from outside: issued `issued_ago` s ago, expiring `expires_in` s from now
    /// (negative: already expired).
    SetTokens {
        refresh: RefreshKind,
        issued_ago: u64,
        expires_in: i64,
        refresh_expires_in: Option<i64>,
    },
    /// `logout()`.
    Logout,
    /// `provide_credentials` with this answer (asked for or not).
    Provide { answer: Answer },
}

/// A random case: a configuration, a dialect, the session's jitter seed and the steps.
#[derive(Clone, Debug)]
struct Case {
    policy: usize,
    dialect: usize,
    /// `ask_for_credentials` on top of the policy (the driver answers with `Op::Provide`).
    ask: bool,
    seed: u64,
    ops: Vec<Op>,
}

const POLICIES: usize = 10;
const DIALECTS: usize = 5;

/// The configurations under test.
fn policy(i: usize) -> Config {
    let d = Config::default();
    match i {
        1 => Config {
            enabled: false,
            ..d
        },
        2 => Config {
            refresh_ahead: true,
            ..d
        },
        3 => Config {
            max_refresh_attempts: 1,
            max_transient_resends: 1,
            max_stale_generation_resends: 1,
            ..d
        },
        4 => Config {
            max_auth_retries_per_exchange: 0,
            max_stale_generation_resends: 0,
            max_transient_resends: 0,
            ..d
        },
        5 => Config {
            circuit_breaker: CircuitBreaker {
                threshold: 2,
                cool_down: Duration::from_secs(5),
            },
            ..d
        },
        6 => Config {
            circuit_breaker: CircuitBreaker {
                threshold: 1,
                cool_down: Duration::from_secs(20),
            },
            refresh_ahead: true,
            ..d
        },
        7 => Config {
            token_rejected_statuses: vec![401, 403],
            second_rejection: SecondRejection::Fail,
            retry_non_idempotent_gateway: true,
            margin_jitter: 0.5,
            max_auth_retries_per_exchange: 2,
            proactive: false,
            resend_backoff: Backoff {
                jitter: false,
                ..Backoff::default()
            },
            ..d
        },
        8 => Config {
            retry_on_401: false,
            reauth_on_refresh_rejected: false,
            margin: Margin::Fixed(Duration::from_secs(60)),
            ..d
        },
        9 => Config {
            auth_backoff: Backoff {
                budget: Duration::from_secs(1),
                ..Backoff::default()
            },
            resend_backoff: Backoff {
                budget: Duration::from_millis(300),
                ..Backoff::default()
            },
            max_refresh_attempts: 10,
            max_transient_resends: 10,
            ..d
        },
        _ => d,
    }
}

/// The dialects (with their credentials) under test.
fn dialect(i: usize) -> (Dialect, Credentials) {
    let token_url = format!("{BASE}/oauth/token");
    match i {
        1 => (Dialect::vitalgraph(BASE).unwrap(), Credentials::none()),
        2 => (
            Dialect::oauth2_password(
                &token_url,
                ClientAuth::Basic {
                    client_id: "app".into(),
                    client_secret: "s3cret".into(),
                },
                Some("read"),
            )
            .unwrap(),
            Credentials::password("alice", "pw"),
        ),
        3 => (
            Dialect::oauth2_client_credentials(
                &token_url,
                ClientAuth::Body {
                    client_id: "svc".into(),
                    client_secret: Some("s3cret".into()),
                },
                None,
            )
            .unwrap(),
            Credentials::none(),
        ),
        4 => (
            Dialect::vitalgraph_with_expiry(BASE, 60).unwrap(),
            Credentials::password("admin", "admin"),
        ),
        _ => (
            Dialect::vitalgraph(BASE).unwrap(),
            Credentials::password("admin", "admin"),
        ),
    }
}

// ---- strategies ----------------------------------------------------------------------------

fn retry_after() -> impl Strategy<Value = Option<RetryAfter>> {
    prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec![0u64, 1, 5, 120]).prop_map(|s| Some(RetryAfter::Secs(s))),
        1 => prop::sample::select(vec![0u64, 2, 30, 3600]).prop_map(|s| Some(RetryAfter::Date(s))),
    ]
}

fn auth_reply() -> impl Strategy<Value = AuthReply> {
    prop_oneof![
        14 => (
            any::<bool>(),
            prop::option::weighted(0.8, prop::sample::select(LIFETIMES.to_vec())),
        )
            .prop_map(|(refresh_token, expires_in)| AuthReply::Ok { refresh_token, expires_in }),
        1 => Just(AuthReply::InvalidGrant),
        1 => Just(AuthReply::Unauthorized),
        1 => retry_after().prop_map(AuthReply::TooMany),
        2 => retry_after().prop_map(AuthReply::Unavailable),
        1 => Just(AuthReply::NotFound),
        1 => (0..MALFORMED.len()).prop_map(AuthReply::Malformed),
        2 => any::<bool>().prop_map(AuthReply::Transport),
        1 => Just(AuthReply::Abandon),
    ]
}

fn set_tokens() -> impl Strategy<Value = Op> {
    let refresh = prop_oneof![
        2 => Just(RefreshKind::None),
        3 => Just(RefreshKind::Valid),
        1 => Just(RefreshKind::HeaderUnsafe),
    ];
    (
        refresh,
        0..600u64,
        -60..3600i64,
        prop::option::weighted(0.2, -60..3600i64),
    )
        .prop_map(
            |(refresh, issued_ago, expires_in, refresh_expires_in)| Op::SetTokens {
                refresh,
                issued_ago,
                expires_in,
                refresh_expires_in,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(STATUSES.to_vec());
    prop_oneof![
        10 => (any::<bool>(), prop::bool::weighted(0.8), any::<bool>())
            .prop_map(|(post, replayable, leased)| Op::Start { post, replayable, leased }),
        12 => (0..64usize, status.clone(), retry_after(), prop::bool::weighted(0.1)).prop_map(
            |(pick, status, retry_after, insufficient_scope)| Op::Respond {
                pick,
                status,
                retry_after,
                insufficient_scope,
            }
        ),
        2 => prop::sample::select(vec![401u16, 429, 503])
            .prop_map(|status| Op::RespondAll { status }),
        2 => (0..64usize, any::<bool>())
            .prop_map(|(pick, maybe_sent)| Op::SendError { pick, maybe_sent }),
        7 => (auth_reply(), prop::bool::weighted(0.1))
            .prop_map(|(reply, superseded)| Op::Auth { reply, superseded }),
        1 => (0..64usize).prop_map(|pick| Op::Cancel { pick }),
        1 => (0..64usize, status).prop_map(|(pick, status)| Op::Spurious { pick, status }),
        3 => prop_oneof![3 => 0..2_000u64, 2 => 2_000..120_000u64, 1 => 120_000..4_000_000u64]
            .prop_map(|ms| Op::Advance { ms }),
        5 => Just(Op::FireTimer),
        1 => Just(Op::Tick),
        1 => Just(Op::Login),
        2 => set_tokens(),
        1 => Just(Op::Logout),
        2 => prop::sample::select(vec![Answer::Good, Answer::Good, Answer::Incomplete, Answer::Nothing])
            .prop_map(|answer| Op::Provide { answer }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..POLICIES,
        0..DIALECTS,
        prop::bool::weighted(0.35),
        any::<u64>(),
        prop::collection::vec(op(), 1..60),
    )
        .prop_map(|(policy, dialect, ask, seed, ops)| Case {
            policy,
            dialect,
            ask,
            seed,
            ops,
        })
}

// ---- the driver and its model ----------------------------------------------------------------

/// Which invariants a run asserts (the bookkeeping is always done).
#[derive(Clone, Copy, Default)]
struct Checks {
    /// (a) at most one auth operation outstanding.
    single_flight: bool,
    /// (b) every exchange ends exactly once, gets nothing after ending, and none is stranded.
    endings: bool,
    /// (c) resends within the configured limits.
    limits: bool,
    /// (e) no token sent that the engine knows to be expired (or rejected).
    expiry: bool,
    /// (f) no timer fires in a loop without progress.
    timers: bool,
    /// (g) credentials asked for only with `ask_for_credentials`, only while someone waits,
    /// once per wait, never while an auth operation is outstanding.
    asking: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Life {
    Live,
    Ended,
    Cancelled,
}

/// Why the next `Send` of an exchange is a resend.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cause {
    /// A token-rejected status (401): stale-generation resend or refresh-and-resend.
    Rejected,
    /// A transient status or a send error: backoff and resend.
    Transient,
}

/// What the driver knows about one exchange.
#[derive(Debug)]
struct Ex {
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
struct Leased {
    meta: RequestMeta,
    token: String,
    generation: u64,
    started: Timestamp,
}

/// What the driver knows about a token it handed to the engine.
#[derive(Clone, Copy, Debug)]
struct TokenInfo {
    issued_at: Timestamp,
    expires_at: Timestamp,
}

struct Driver {
    session: Session,
    cfg: Config,
    checks: Checks,
    now: Timestamp,
    transcript: Vec<String>,
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
    failure: Option<String>,
}

impl Driver {
    fn new(case: &Case, checks: Checks) -> Self {
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
        let name = format!("{prefix}{}", self.next_token);
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
            other => self.transcript.push(format!("  {other:?}")),
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

    fn step(&mut self, op: &Op) {
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
                let flying = self.in_flight();
                let n = flying.len() + self.leased.len();
                if n == 0 {
                    return self.after_step();
                }
                let headers = self.headers(retry_after);
                if let Some(&id) = flying.get(pick % n) {
                    self.respond(id, status, headers, insufficient_scope);
                } else {
                    let leased = self.leased.remove(pick % n - flying.len());
                    self.respond_leased(leased, status, headers, insufficient_scope);
                }
            }
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
    fn finish(&mut self) {
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
fn offset(now: Timestamp, secs: i64) -> Timestamp {
    if secs >= 0 {
        now.saturating_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        now.saturating_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// Runs a case (random steps, then the finishing phase); returns its transcript, or the first
/// invariant violation.
fn run(case: &Case, checks: Checks) -> Result<Vec<String>, TestCaseError> {
    let mut d = Driver::new(case, checks);
    for op in &case.ops {
        d.step(op);
        if let Some(failure) = d.failure {
            return Err(TestCaseError::fail(failure));
        }
    }
    d.finish();
    match d.failure {
        Some(failure) => Err(TestCaseError::fail(failure)),
        None => Ok(d.transcript),
    }
}

/// A fixed configuration: 256 cases and a fixed seed per test (`PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` override them, to explore further), no regression files, bounded
/// shrinking.
fn config(salt: u64) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: std::env::var_os("PROPTEST_CASES").map_or(256, |_| base.cases),
        rng_seed: match base.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x746f_6b65_6e6b_6565 ^ salt),
            fixed @ RngSeed::Fixed(_) => fixed,
        },
        failure_persistence: None,
        max_shrink_iters: 4_096,
        max_shrink_time: 60_000,
        ..base
    }
}

proptest! {
    #![proptest_config(config(1))]
    /// (a) An `Authenticate` is never emitted while the previous one has not been answered,
    /// errored, abandoned or superseded (`set_tokens`/`logout`); answers to superseded ones are
    /// ignored.
    #[test]
    fn at_most_one_auth_operation_outstanding(case in case()) {
        run(&case, Checks { single_flight: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(2))]
    /// (b) Every exchange ends exactly once (`Deliver` or `Fail`), gets no action after ending
    /// or cancellation, is delivered only with a response to deliver, and after the finishing
    /// phase none is left.
    #[test]
    fn every_exchange_ends_exactly_once_and_none_is_stranded(case in case()) {
        run(&case, Checks { endings: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(3))]
    /// (c) Resends after 401 ≤ `max_auth_retries_per_exchange + max_stale_generation_resends`,
    /// transient resends ≤ `max_transient_resends`, and a body that cannot be replayed is never
    /// resent.
    #[test]
    fn resends_never_exceed_configured_limits(case in case()) {
        run(&case, Checks { limits: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(4))]
    /// (d) The same seed and inputs give the same transcript.
    #[test]
    fn same_seed_and_inputs_give_same_transcript(case in case()) {
        let first = run(&case, Checks::default())?;
        let second = run(&case, Checks::default())?;
        prop_assert_eq!(first, second);
    }
}

proptest! {
    #![proptest_config(config(5))]
    /// (e) Every `Send` carries the current token, which is neither rejected by the server nor
    /// within the engine's hard floor of its expiry.
    #[test]
    fn no_known_expired_token_is_sent(case in case()) {
        run(&case, Checks { expiry: true, ..Checks::default() })?;
    }
}

proptest! {
    #![proptest_config(config(6))]
    /// (f) After `handle_timeout(t)` for a due timer, something happened or the next timer is
    /// after `t`; a wake-up with nothing due does nothing.
    #[test]
    fn timers_never_busy_loop(case in case()) {
        run(&case, Checks { timers: true, ..Checks::default() })?;
    }
}

/// Cases where credentials must be asked for: no credentials held (VitalGraph without them),
/// `ask_for_credentials` on, any policy.
fn asking_case() -> impl Strategy<Value = Case> {
    case().prop_map(|case| Case {
        dialect: 1,
        ask: true,
        ..case
    })
}

proptest! {
    #![proptest_config(config(7))]
    /// (g) With `ask_for_credentials`, `NeedCredentials` comes only while an exchange waits,
    /// once per wait, never beside an auth operation, and every exchange still ends.
    #[test]
    fn credentials_are_asked_for_once_per_wait_and_only_while_someone_waits(case in asking_case()) {
        run(&case, Checks { asking: true, single_flight: true, endings: true, ..Checks::default() })?;
    }
}
