//! The inputs: the operations a case is made of, the configurations and dialects under test,
//! and the proptest strategies that draw them.

use std::time::Duration;

use http::HeaderMap;
use proptest::prelude::*;
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{Backoff, CircuitBreaker, Config, Margin, SecondRejection};

/// Loopback base URL (plain http is allowed there).
pub(crate) const BASE: &str = "http://127.0.0.1:8001";
/// Statuses an API response is drawn from.
pub(crate) const STATUSES: [u16; 8] = [200, 401, 403, 429, 500, 502, 503, 504];
/// `expires_in` values (seconds) a successful auth reply is drawn from.
pub(crate) const LIFETIMES: [u64; 5] = [1, 5, 30, 600, 3600];

// ---- inputs --------------------------------------------------------------------------------

/// A `Retry-After` header.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RetryAfter {
    /// Delta-seconds.
    Secs(u64),
    /// An HTTP date this many seconds from now.
    Date(u64),
}

/// What the auth server (or the driver performing the auth request) does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AuthReply {
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
pub(crate) const MALFORMED: [&str; 7] = [
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
pub(crate) enum Answer {
    /// A username and password.
    Good,
    /// A username without a password (cannot make a login).
    Incomplete,
    /// None (the user cancelled).
    Nothing,
}

/// Where `set_tokens` gets its refresh token.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RefreshKind {
    None,
    Valid,
    /// Cannot go into a header (a corrupt store): `set_tokens` must refuse the whole set.
    HeaderUnsafe,
}

/// One step of a random sequence.
#[derive(Clone, Debug)]
pub(crate) enum Op {
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
    /// `offer_tokens` of a set from outside, like `SetTokens`.
    Offer {
        refresh: RefreshKind,
        issued_ago: u64,
        expires_in: i64,
        refresh_expires_in: Option<i64>,
    },
    /// `logout()`.
    Logout,
    /// `provide_credentials` with this answer (asked for or not).
    Provide { answer: Answer },
    /// Like `Respond`, with any status and these headers (drawn by the fuzz target, `fuzz/`;
    /// the strategies here do not draw it).
    #[allow(dead_code)]
    RespondRaw {
        pick: usize,
        status: u16,
        headers: HeaderMap,
    },
    /// Like `Auth`, with any status, headers and body (drawn by the fuzz target, `fuzz/`; the
    /// strategies here do not draw it).
    #[allow(dead_code)]
    AuthRaw {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
        superseded: bool,
    },
}

/// A random case: a configuration, a dialect, the session's jitter seed and the steps.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) policy: usize,
    pub(crate) dialect: usize,
    /// `ask_for_credentials` on top of the policy (the driver answers with `Op::Provide`).
    pub(crate) ask: bool,
    pub(crate) seed: u64,
    pub(crate) ops: Vec<Op>,
}

pub(crate) const POLICIES: usize = 10;
pub(crate) const DIALECTS: usize = 5;

/// The configurations under test.
pub(crate) fn policy(i: usize) -> Config {
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
/// The client secret of the OAuth 2 dialects. The secrets here hold `-SECRET-` so that the fuzz
/// target's leak check (`tests/checks/engine.rs`) can look for them in every text.
pub(crate) const CLIENT_SECRET: &str = "s3cret-SECRET-app";
/// The password `Op::Provide` gives (`Answer::Good`).
pub(crate) const GIVEN_PASSWORD: &str = "p-SECRET-given";

pub(crate) fn dialect(i: usize) -> (Dialect, Credentials) {
    let token_url = format!("{BASE}/oauth/token");
    match i {
        1 => (Dialect::vitalgraph(BASE).unwrap(), Credentials::none()),
        2 => (
            Dialect::oauth2_password(
                &token_url,
                ClientAuth::Basic {
                    client_id: "app".into(),
                    client_secret: CLIENT_SECRET.into(),
                },
                Some("read"),
            )
            .unwrap(),
            Credentials::password("alice", "pw-SECRET-alice"),
        ),
        3 => (
            Dialect::oauth2_client_credentials(
                &token_url,
                ClientAuth::Body {
                    client_id: "svc".into(),
                    client_secret: Some(CLIENT_SECRET.into()),
                },
                None,
            )
            .unwrap(),
            Credentials::none(),
        ),
        4 => (
            Dialect::vitalgraph_with_expiry(BASE, 60).unwrap(),
            Credentials::password("admin", "admin-SECRET-pw"),
        ),
        _ => (
            Dialect::vitalgraph(BASE).unwrap(),
            Credentials::password("admin", "admin-SECRET-pw"),
        ),
    }
}

// ---- strategies ----------------------------------------------------------------------------

pub(crate) fn retry_after() -> impl Strategy<Value = Option<RetryAfter>> {
    prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec![0u64, 1, 5, 120]).prop_map(|s| Some(RetryAfter::Secs(s))),
        1 => prop::sample::select(vec![0u64, 2, 30, 3600]).prop_map(|s| Some(RetryAfter::Date(s))),
    ]
}

pub(crate) fn auth_reply() -> impl Strategy<Value = AuthReply> {
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

pub(crate) fn set_tokens() -> impl Strategy<Value = Op> {
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

pub(crate) fn offer() -> impl Strategy<Value = Op> {
    let refresh = prop_oneof![
        2 => Just(RefreshKind::None),
        4 => Just(RefreshKind::Valid),
        1 => Just(RefreshKind::HeaderUnsafe),
    ];
    (
        refresh,
        prop::sample::select(vec![0u64, 0, 1, 5, 60, 600]),
        -60..3600i64,
        prop::option::weighted(0.2, -60..3600i64),
    )
        .prop_map(
            |(refresh, issued_ago, expires_in, refresh_expires_in)| Op::Offer {
                refresh,
                issued_ago,
                expires_in,
                refresh_expires_in,
            },
        )
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
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
        2 => offer(),
        1 => Just(Op::Logout),
        2 => prop::sample::select(vec![Answer::Good, Answer::Good, Answer::Incomplete, Answer::Nothing])
            .prop_map(|answer| Op::Provide { answer }),
    ]
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
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

/// Cases where credentials must be asked for: no credentials held (VitalGraph without them),
/// `ask_for_credentials` on, any policy.
pub(crate) fn asking_case() -> impl Strategy<Value = Case> {
    case().prop_map(|case| Case {
        dialect: 1,
        ask: true,
        ..case
    })
}
