//! The engine under arbitrary inputs, checked by the property model (`tests/properties/`):
//! bytes become a case (a policy, a dialect, a jitter seed and up to 200 operations) and the
//! model's `Driver` runs it with every invariant on, then runs it again and compares the
//! transcripts (same seed and inputs, same transcript).
//!
//! Beyond the property tests' strategies, the operations here carry any status, raw response
//! headers (`Retry-After`, `WWW-Authenticate`, `Date`, `Content-Type`) and raw auth answers
//! (any status, headers and body, a token response whose access token may be a JWT, or an
//! error body echoing what the session was given or holds). Every token an auth answer carries
//! in its `access_token`/`refresh_token` only (see `secrets.rs`), the passwords and the client
//! secret must stay out of every action's `Debug`, every failure's `Display` and the session's
//! `Debug`, whatever the server echoes (`$P`, `$C`, `$a`, `$r` in a body: the model fills them
//! in, `model/server.rs`).
//!
//! Included with `#[path]` by a crate that also has the model's `inputs` and `model` modules
//! at its root (`tests/fuzz_corpus.rs`, `fuzz/fuzz_targets/engine.rs`).

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{CONTENT_TYPE, DATE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::checks::secrets::{known_secrets, with_secrets};
use crate::inputs::{
    Answer, AuthReply, CLIENT_SECRET, Case, DIALECTS, GIVEN_PASSWORD, LIFETIMES, MALFORMED, Op,
    POLICIES, RefreshKind, RetryAfter, STATUSES, dialect,
};
use crate::model::{Checks, Driver, T0};

/// Operations per case at most (longer inputs are cut).
const MAX_OPS: usize = 200;

/// What a case is run with (its operations follow, as many as the bytes make).
#[derive(Arbitrary, Debug)]
struct Setup {
    policy: u8,
    dialect: u8,
    ask: bool,
    seed: u64,
}

#[derive(Arbitrary, Debug)]
enum FuzzOp {
    Start {
        post: bool,
        replayable: bool,
        leased: bool,
    },
    Respond {
        pick: u8,
        status: Status,
        retry_after: Option<Wait>,
        insufficient_scope: bool,
    },
    RespondRaw {
        pick: u8,
        status: Status,
        headers: Vec<Header>,
    },
    RespondAll {
        status: Status,
    },
    SendError {
        pick: u8,
        maybe_sent: bool,
    },
    Auth {
        reply: Reply,
        superseded: bool,
    },
    AuthRaw {
        status: Status,
        headers: Vec<Header>,
        body: Body,
        superseded: bool,
    },
    Cancel {
        pick: u8,
    },
    Spurious {
        pick: u8,
        status: Status,
    },
    Advance(Millis),
    FireTimer,
    Tick,
    Login,
    SetTokens {
        refresh: u8,
        issued_ago: u16,
        expires_in: i32,
        refresh_expires_in: Option<i32>,
    },
    Logout,
    Provide {
        answer: u8,
    },
    Offer {
        refresh: u8,
        issued_ago: u16,
        expires_in: i32,
        refresh_expires_in: Option<i32>,
    },
}

/// A status: one of the property tests' list, or any valid one.
#[derive(Arbitrary, Debug)]
enum Status {
    Listed(u8),
    Any(u16),
}

impl Status {
    fn code(&self) -> u16 {
        match *self {
            Status::Listed(i) => STATUSES[usize::from(i) % STATUSES.len()],
            Status::Any(c) => 100 + c % 900,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Wait {
    Secs(u32),
    Date(u32),
}

impl Wait {
    fn retry_after(&self) -> RetryAfter {
        match *self {
            Wait::Secs(s) => RetryAfter::Secs(u64::from(s)),
            Wait::Date(s) => RetryAfter::Date(u64::from(s)),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Millis {
    Small(u16),
    Large(u32),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum Reply {
    Ok {
        refresh_token: bool,
        expires_in: Option<u8>,
    },
    InvalidGrant,
    Unauthorized,
    TooMany(Option<Wait>),
    Unavailable(Option<Wait>),
    NotFound,
    Malformed(u8),
    Transport(bool),
    Abandon,
}

#[derive(Arbitrary, Debug)]
struct Header {
    name: HeaderKind,
    value: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum HeaderKind {
    RetryAfter,
    WwwAuthenticate,
    Date,
    ContentType,
    Other,
}

/// A raw auth answer's body.
#[derive(Arbitrary, Debug)]
enum Body {
    /// Any bytes; `$A` and `$R` become new tokens, `$P`, `$C`, `$a` and `$r` what the session
    /// was given or holds (the password, the client secret, the access and refresh token).
    Raw(Vec<u8>),
    /// An error body (or a token type) that echoes one of those (`ECHOES`), in one of the shapes
    /// the engine keeps text from (`ECHO_SHAPES`).
    Echo { shape: u8, what: u8 },
    /// A token response; the access token is a JWT expiring `jwt_exp` s after the start of
    /// fake time, if given.
    Token {
        refresh: bool,
        expires_in: Option<i32>,
        jwt_exp: Option<i32>,
    },
}

/// The engine keeps every invariant of the property model on the case `data` decodes to.
pub(crate) fn check_engine(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        match FuzzOp::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    let (case, secrets) = case(&setup, ops);
    let first = run(&case, &secrets);
    let second = run(&case, &secrets);
    assert!(
        first == second,
        "same seed and inputs, different transcripts\n{case:?}"
    );
}

/// Runs the case with every check on; panics at the first violation.
pub(crate) fn run(case: &Case, secrets: &[String]) -> Vec<String> {
    let checks = Checks {
        single_flight: true,
        endings: true,
        limits: true,
        expiry: true,
        timers: true,
        asking: true,
        retry_after: true,
        offers: true,
    };
    let mut d = Driver::new(case, checks);
    d.secrets = secrets.to_vec();
    // What the session is given: whatever the server echoes, no text shows it.
    let (_, credentials) = dialect(case.dialect);
    d.secrets
        .extend(credentials.password.map(|p| p.expose().to_owned()));
    d.secrets
        .extend([CLIENT_SECRET, GIVEN_PASSWORD].map(str::to_owned));
    for op in &case.ops {
        d.step(op);
        if let Some(failure) = &d.failure {
            panic!("{failure}\n{case:?}");
        }
    }
    d.finish();
    if let Some(failure) = &d.failure {
        panic!("{failure}\n{case:?}");
    }
    d.transcript
}

/// The model's case, and the known secrets its raw auth answers carry.
fn case(setup: &Setup, ops: Vec<FuzzOp>) -> (Case, Vec<String>) {
    let mut secrets = Vec::new();
    let ops = ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| self::op(i, op, &mut secrets))
        .collect();
    let case = Case {
        policy: usize::from(setup.policy) % POLICIES,
        dialect: usize::from(setup.dialect) % DIALECTS,
        ask: setup.ask,
        seed: setup.seed,
        ops,
    };
    (case, secrets)
}

fn op(i: usize, op: FuzzOp, secrets: &mut Vec<String>) -> Op {
    let pick = usize::from;
    match op {
        FuzzOp::Start {
            post,
            replayable,
            leased,
        } => Op::Start {
            post,
            replayable,
            leased,
        },
        FuzzOp::Respond {
            pick: p,
            status,
            retry_after,
            insufficient_scope,
        } => Op::Respond {
            pick: pick(p),
            status: status.code(),
            retry_after: retry_after.as_ref().map(Wait::retry_after),
            insufficient_scope,
        },
        FuzzOp::RespondRaw {
            pick: p,
            status,
            headers: h,
        } => Op::RespondRaw {
            pick: pick(p),
            status: status.code(),
            headers: headers(&h),
        },
        FuzzOp::RespondAll { status } => Op::RespondAll {
            status: status.code(),
        },
        FuzzOp::SendError {
            pick: p,
            maybe_sent,
        } => Op::SendError {
            pick: pick(p),
            maybe_sent,
        },
        FuzzOp::Auth { reply, superseded } => Op::Auth {
            reply: auth_reply(&reply),
            superseded,
        },
        FuzzOp::AuthRaw {
            status,
            headers: h,
            body,
            superseded,
        } => {
            let body = match body {
                Body::Raw(bytes) => with_secrets(&bytes, i),
                Body::Echo { shape, what } => echo_body(i, shape, what),
                Body::Token {
                    refresh,
                    expires_in,
                    jwt_exp,
                } => token_body(i, refresh, expires_in, jwt_exp),
            };
            secrets.extend(known_secrets(&body));
            Op::AuthRaw {
                status: status.code(),
                headers: headers(&h),
                body,
                superseded,
            }
        }
        FuzzOp::Cancel { pick: p } => Op::Cancel { pick: pick(p) },
        FuzzOp::Spurious { pick: p, status } => Op::Spurious {
            pick: pick(p),
            status: status.code(),
        },
        FuzzOp::Advance(ms) => Op::Advance {
            ms: match ms {
                Millis::Small(ms) => u64::from(ms),
                Millis::Large(ms) => u64::from(ms),
                Millis::Any(ms) => ms,
            },
        },
        FuzzOp::FireTimer => Op::FireTimer,
        FuzzOp::Tick => Op::Tick,
        FuzzOp::Login => Op::Login,
        FuzzOp::SetTokens {
            refresh,
            issued_ago,
            expires_in,
            refresh_expires_in,
        } => Op::SetTokens {
            refresh: refresh_kind(refresh),
            issued_ago: u64::from(issued_ago),
            expires_in: i64::from(expires_in),
            refresh_expires_in: refresh_expires_in.map(i64::from),
        },
        FuzzOp::Offer {
            refresh,
            issued_ago,
            expires_in,
            refresh_expires_in,
        } => Op::Offer {
            refresh: refresh_kind(refresh),
            issued_ago: u64::from(issued_ago),
            expires_in: i64::from(expires_in),
            refresh_expires_in: refresh_expires_in.map(i64::from),
        },
        FuzzOp::Logout => Op::Logout,
        FuzzOp::Provide { answer } => Op::Provide {
            answer: match answer % 3 {
                0 => Answer::Good,
                1 => Answer::Incomplete,
                _ => Answer::Nothing,
            },
        },
    }
}

fn refresh_kind(refresh: u8) -> RefreshKind {
    match refresh % 3 {
        0 => RefreshKind::None,
        1 => RefreshKind::Valid,
        _ => RefreshKind::HeaderUnsafe,
    }
}

fn auth_reply(reply: &Reply) -> AuthReply {
    let wait = |w: &Option<Wait>| w.as_ref().map(Wait::retry_after);
    match reply {
        Reply::Ok {
            refresh_token,
            expires_in,
        } => AuthReply::Ok {
            refresh_token: *refresh_token,
            expires_in: expires_in.map(|i| LIFETIMES[usize::from(i) % LIFETIMES.len()]),
        },
        Reply::InvalidGrant => AuthReply::InvalidGrant,
        Reply::Unauthorized => AuthReply::Unauthorized,
        Reply::TooMany(w) => AuthReply::TooMany(wait(w)),
        Reply::Unavailable(w) => AuthReply::Unavailable(wait(w)),
        Reply::NotFound => AuthReply::NotFound,
        Reply::Malformed(i) => AuthReply::Malformed(usize::from(*i) % MALFORMED.len()),
        Reply::Transport(maybe) => AuthReply::Transport(*maybe),
        Reply::Abandon => AuthReply::Abandon,
    }
}

/// Headers from raw values (values a header cannot hold are dropped).
fn headers(raw: &[Header]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for h in raw {
        let name = match h.name {
            HeaderKind::RetryAfter => RETRY_AFTER,
            HeaderKind::WwwAuthenticate => WWW_AUTHENTICATE,
            HeaderKind::Date => DATE,
            HeaderKind::ContentType => CONTENT_TYPE,
            HeaderKind::Other => HeaderName::from_static("x-other"),
        };
        if let Ok(v) = HeaderValue::from_bytes(&h.value) {
            map.append(name, v);
        }
    }
    map
}

/// What an echo body repeats: placeholders for the password, the client secret, the access
/// and refresh token held, a new access and refresh token.
const ECHOES: [&str; 6] = ["$P", "$C", "$a", "$r", "$A", "$R"];

/// Where an echo goes (`{X}`): the `detail` and `error` the engine keeps, a validation list, a
/// nested detail, a token type, and a detail cut by the length limit inside the echo.
const ECHO_SHAPES: [&str; 6] = [
    r#"{"detail":"bad password {X}"}"#,
    r#"{"error":"{X}","error_description":"{X}"}"#,
    r#"{"detail":[{"loc":["body","password"],"msg":"{X} is wrong"}]}"#,
    r#"{"detail":{"error":"invalid_client: {X}"}}"#,
    r#"{"access_token":"$A","token_type":"Bearer {X}"}"#,
    r#"{"detail":"{CUT} {X}"}"#,
];

/// An echo body with new tokens made unique by `i`.
fn echo_body(i: usize, shape: u8, what: u8) -> Vec<u8> {
    let x = ECHOES[usize::from(what) % ECHOES.len()];
    let body = ECHO_SHAPES[usize::from(shape) % ECHO_SHAPES.len()]
        .replace("{X}", x)
        .replace("{CUT}", &"x".repeat(190));
    with_secrets(body.as_bytes(), i)
}

/// A token response with secret tokens made unique by `i`.
fn token_body(i: usize, refresh: bool, expires_in: Option<i32>, jwt_exp: Option<i32>) -> Vec<u8> {
    let secret = String::from_utf8(with_secrets(b"$A", i)).unwrap();
    let access = match jwt_exp {
        Some(offset) => {
            let exp = T0.as_millis() / 1000;
            let exp = exp.saturating_add_signed(i64::from(offset));
            let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"u","exp":{exp}}}"#));
            format!("eyJhbGciOiJIUzI1NiJ9.{payload}.{secret}")
        }
        None => secret,
    };
    let mut v = serde_json::json!({ "access_token": access, "token_type": "Bearer" });
    if refresh {
        v["refresh_token"] = String::from_utf8(with_secrets(b"$R", i)).unwrap().into();
    }
    if let Some(s) = expires_in {
        v["expires_in"] = s.into();
    }
    v.to_string().into_bytes()
}
