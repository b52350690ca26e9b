//! Drives a whole refresh cycle through the core, so that the produced `.wasm` contains the
//! engine, its parsers and its dialects, and `tools/check-wasm-imports.sh` can check that none
//! of it imports anything from `env` (no clock, no randomness, no I/O).
#![allow(unsafe_code)] // `no_mangle` only: the export the check links against.

use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Action, Config, RequestMeta, Session, Timestamp};

/// Runs login → send → 401 → refresh → resend → deliver at time `now_ms`; returns the number
/// of actions seen (0 if the session could not be built).
#[unsafe(no_mangle)]
pub extern "C" fn tokenkeeper_check(now_ms: u64, seed: u64) -> u32 {
    let Ok(dialect) = Dialect::vitalgraph("http://127.0.0.1:8001") else {
        return 0;
    };
    let Ok(mut s) = Session::new(
        Config::default(),
        dialect,
        Credentials::password("u", "p"),
        seed,
    ) else {
        return 0;
    };
    let now = Timestamp::from_millis(now_ms);
    let id = s.start(now, RequestMeta::new(&Method::GET, true));
    let mut seen = 0;
    let mut rejected = false;
    while let Some(action) = s.poll_action() {
        seen += 1;
        match action {
            Action::Authenticate(a) => {
                let body = br#"{"access_token":"a.b.c","refresh_token":"r","token_type":"bearer","expires_in":60}"#;
                let mut h = HeaderMap::new();
                h.insert(
                    "date",
                    "Sun, 06 Nov 1994 08:49:37 GMT"
                        .parse()
                        .expect("static header"),
                );
                s.handle_auth_response(now, a.id, StatusCode::OK, &h, body);
            }
            Action::Send { id: sent, .. } => {
                let status = if rejected {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                };
                rejected = true;
                s.handle_response(now, sent, status, &HeaderMap::new());
            }
            _ => {}
        }
        let _ = s.poll_timeout();
    }
    let _ = id;
    seen
}
