//! The engine's outcome of login answers read by its own JSON reader, for the differential test
//! of the npm package's host JSON (`js-tests/test/host-json.test.mjs`, which runs the same
//! answers through the package, where `JSON.parse` reads them): the same driver
//! (`tokenkeeper_wasm::machine`, as the package builds it for the `oauth2-password` dialect),
//! natively, with no host set, so the engine's reader reads.
//!
//! Reads JSON lines `{"status": 200, "body": "<hex>"}` from stdin; writes one JSON line per
//! answer: `{"tokens": {"access", "refresh", "lifetime"}}` (lifetime in ms, the clock standing
//! at `NOW`) or `{"error": {"code", "message", "reason", "status"}}` (the npm error's fields).

use std::io::{BufRead, Write};

use serde_json::{Value, json};
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{Config, Error, Event, Timestamp};
use tokenkeeper_wasm::machine::{Intent, Machine, Setup};

/// The clock of both sides (js-tests/test/host-json.test.mjs).
const NOW: u64 = 1_700_000_000_000;

fn main() {
    let out = std::io::stdout();
    let mut out = out.lock();
    for line in std::io::stdin().lock().lines() {
        let case: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let status = case["status"].as_u64().unwrap() as u16;
        let body = hex(case["body"].as_str().unwrap());
        writeln!(out, "{}", outcome(status, &body)).unwrap();
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn outcome(status: u16, body: &[u8]) -> Value {
    let dialect =
        Dialect::oauth2_password("http://127.0.0.1:9/token", ClientAuth::None, None).unwrap();
    let setup = Setup::new(
        Config::default(),
        dialect,
        Credentials::password("u", "p"),
        1,
    );
    let mut m = Machine::new(setup).unwrap();
    let now = Timestamp::from_millis(NOW);
    m.login(now);
    let op = std::iter::from_fn(|| m.poll())
        .find_map(|i| match i {
            Intent::Authenticate(a) => Some(a.id.as_u64()),
            _ => None,
        })
        .unwrap();
    for piece in body.chunks(65_536) {
        if !m.auth_chunk(op, piece) {
            break;
        }
    }
    m.auth_response(now, op, status, Some("application/json"), None, None);
    let mut tokens = None;
    while let Some(intent) = m.poll() {
        match intent {
            Intent::Event(Event::TokensChanged(t)) => {
                tokens = Some(json!({
                    "access": t.access_token.expose(),
                    "refresh": t.refresh_token.as_ref().map(|r| r.expose().to_owned()),
                    "lifetime": t.expires_at.as_millis() - t.issued_at.as_millis(),
                }));
            }
            Intent::Fail { error, .. } => return json!({ "error": error_fields(&error) }),
            _ => {}
        }
    }
    json!({ "tokens": tokens })
}

/// The npm error's `code`, `message`, `reason` and `status`.
fn error_fields(e: &Error) -> Value {
    let (code, reason, status) = match e {
        Error::SessionExpired => ("SESSION_EXPIRED", None, None),
        Error::InvalidCredentials { status, reason } => {
            ("INVALID_CREDENTIALS", reason.clone(), Some(*status))
        }
        Error::AuthRejected { status, reason } => ("AUTH_REJECTED", reason.clone(), Some(*status)),
        Error::InvalidAuthResponse(_) => ("INVALID_AUTH_RESPONSE", None, None),
        Error::AuthUnavailable { status, .. } => ("AUTH_UNAVAILABLE", None, *status),
        Error::Transport { .. } => ("TRANSPORT", None, None),
        Error::Unauthorized { status } => ("UNAUTHORIZED", None, Some(*status)),
        _ => ("INTERNAL", None, None),
    };
    json!({ "code": code, "message": e.to_string(), "reason": reason, "status": status })
}
