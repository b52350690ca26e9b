//! Helpers for the doctor's unit tests: JWTs with a chosen `exp`, login answers, a clock.

use http::{HeaderMap, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::parse::{format_http_date, parse_token_response};
use tokenkeeper_core::{Config, Timestamp};

use super::judge::judge;
use super::login::Login;

/// A fixed "now" (seconds since the epoch).
pub(crate) const NOW: u64 = 1_750_000_000;

/// The password the tests log in with; it must never be printed.
pub(crate) const PASSWORD: &str = "unit-s3cret-pw";

/// base64url without padding (a test helper; the engine's reader is what is under test).
fn b64url(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A JWT (unsigned for our purpose: the client never verifies) with this `exp`.
pub(crate) fn jwt(exp: u64) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJlLW9mLXRoZS10ZXN0",
        b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(format!(r#"{{"sub":"admin","exp":{exp}}}"#).as_bytes())
    )
}

/// Headers with a `Date` of `secs`, or none.
pub(crate) fn headers(date: Option<u64>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(d) = date {
        let value = format_http_date(Timestamp::from_secs(d));
        h.insert(http::header::DATE, value.parse().expect("a date header"));
    }
    h
}

/// The dialect and credentials the tests judge with.
pub(crate) fn identity() -> (Dialect, Credentials) {
    (
        Dialect::vitalgraph("https://vg.example.com").expect("a dialect"),
        Credentials::password("admin", PASSWORD),
    )
}

/// A 200 login answer with this body and headers, received at [`NOW`], judged by the engine.
pub(crate) fn login(config: &Config, body: &str, headers: HeaderMap) -> Login {
    let (dialect, credentials) = identity();
    let received = Timestamp::from_secs(NOW);
    let tokens = parse_token_response(&headers, body.as_bytes()).expect("a token response");
    let judgement = judge(
        config,
        &dialect,
        &credentials,
        None,
        received,
        (StatusCode::OK, &headers, body.as_bytes()),
    );
    Login {
        tokens,
        headers,
        received,
        judgement,
    }
}
