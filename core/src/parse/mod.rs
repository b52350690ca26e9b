//! Parsers for what auth servers and resource servers send back: token responses, error bodies,
//! `WWW-Authenticate` challenges, `Retry-After`, JWT expiry claims, and the token expiry that
//! follows from them.
//!
//! Every parser takes untrusted input and never panics on it. Errors name the problem without
//! echoing the body (it may hold a token); server strings that are kept (error codes,
//! descriptions, challenge parameters) are truncated and stripped of control characters.

use core::fmt;

pub(crate) mod base64;
mod challenge;
mod decimal;
mod error_body;
mod expiry;
pub(crate) mod json;
mod jwt;
mod retry_after;
mod token;

pub use challenge::{BearerChallenge, parse_bearer_challenge};
pub use error_body::{AuthErrorBody, parse_auth_error};
pub use expiry::{Expiry, ExpirySource, resolve_expiry, resolve_refresh_expiry};
#[cfg(feature = "host-json")]
pub use json::{HostJson, Value as JsonValue, read_json_with};
pub use jwt::jwt_exp;
pub use retry_after::{format_http_date, parse_http_date, parse_retry_after};
pub use token::{TokenResponse, parse_token_response};

/// The largest auth response body parsed (the limit lives in [`crate::limits`]).
pub use crate::limits::MAX_AUTH_BODY;
pub(crate) use crate::limits::MAX_LIFETIME;

/// Why a login or refresh response is not a usable token response.
///
/// The server (or a proxy in front of it) misbehaved: the tokens that worked are kept, and the
/// auth operation counts as failed. No variant carries body bytes, so none can leak a token.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidAuthResponse {
    /// The body is empty (or only whitespace).
    EmptyBody,
    /// The body is longer than the limit ([`MAX_AUTH_BODY`]); it is not parsed.
    TooLarge {
        /// Length of the body in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An HTML page (`Content-Type: text/html`, or a body starting with `<`): usually a proxy,
    /// a captive portal or a wrong URL.
    Html,
    /// The body is not valid JSON.
    NotJson {
        /// The JSON parser's message (position and kind of error; never body bytes).
        detail: String,
    },
    /// The body is JSON but not an object.
    NotAnObject,
    /// The object has no `access_token` (or it is `null`).
    MissingAccessToken,
    /// `access_token` is empty, not a string, or holds characters that cannot be sent in an
    /// `Authorization` header.
    BadAccessToken,
    /// `token_type` is present and is not `bearer` (case-insensitive).
    BadTokenType {
        /// The server's token type (sanitized and truncated), or `(number)` etc. when it is not
        /// a string; `[redacted]` when it holds the response's own access or refresh token
        /// (and, in an engine error, any secret the session knows: see
        /// [`Error`](crate::Error)).
        token_type: String,
    },
    /// `expires_in` is unusable.
    BadExpiresIn {
        /// What is wrong: `"negative"`, `"zero"`, `"not a number"`, `"not finite"` or
        /// `"too large"` (more than 10 years).
        reason: &'static str,
    },
    /// `refresh_token` is present but empty, not a string, or not sendable in a header.
    BadRefreshToken,
}

impl fmt::Display for InvalidAuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidAuthResponse::EmptyBody => f.write_str("empty response body"),
            InvalidAuthResponse::TooLarge { len, limit } => {
                write!(f, "response body too large ({len} bytes, limit {limit})")
            }
            InvalidAuthResponse::Html => {
                f.write_str("response is an html page, not json (proxy, portal or wrong url?)")
            }
            InvalidAuthResponse::NotJson { detail } => {
                write!(f, "response body is not json: {detail}")
            }
            InvalidAuthResponse::NotAnObject => f.write_str("response json is not an object"),
            InvalidAuthResponse::MissingAccessToken => f.write_str("response has no access_token"),
            InvalidAuthResponse::BadAccessToken => {
                f.write_str("access_token is empty, not a string, or not valid in an http header")
            }
            InvalidAuthResponse::BadTokenType { token_type } => {
                write!(
                    f,
                    "unsupported token_type {} (expected bearer)",
                    crate::quote::Quoted(token_type)
                )
            }
            InvalidAuthResponse::BadExpiresIn { reason } => {
                write!(f, "unusable expires_in: {reason}")
            }
            InvalidAuthResponse::BadRefreshToken => {
                f.write_str("refresh_token is empty, not a string, or not valid in an http header")
            }
        }
    }
}

impl core::error::Error for InvalidAuthResponse {}

/// Makes a server string safe to keep in errors and logs: control characters removed (line
/// breaks and tabs become spaces), bidirectional overrides removed, surrounding whitespace of
/// every kind (Unicode `White_Space`: spaces, U+00A0, U+3000...) trimmed, at most `max`
/// characters ([`MAX_SERVER_TEXT`](crate::limits::MAX_SERVER_TEXT) or
/// [`MAX_TOKEN_TYPE`](crate::limits::MAX_TOKEN_TYPE)).
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut count = 0;
    for c in s.chars() {
        let c = match c {
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() => continue,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => continue,
            c => c,
        };
        if count == 0 && c.is_whitespace() {
            continue;
        }
        if count == max {
            break;
        }
        out.push(c);
        count += 1;
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// What replaces a kept server string that holds a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// How much of a secret's start counts as the secret in a kept server string: enough to find
/// an echo cut by the length limit or shortened by the server, few enough to be rare by chance.
const SECRET_START: usize = 8;

/// Whether `text`, a server string as [`sanitize`] keeps it, holds `secret`: it contains the
/// secret's first [`SECRET_START`] characters (all of a shorter one), taken from the secret as
/// `sanitize` would keep it (same character mapping, trimmed). An empty secret is held by
/// nothing.
pub(crate) fn holds_secret(text: &str, secret: &str) -> bool {
    let needle = sanitize(secret, SECRET_START);
    // A plain window search: the needle is at most 8 characters, and `str::contains` would
    // bring std's two-way searcher (a few kB of `.wasm`).
    !needle.is_empty()
        && text
            .as_bytes()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// `text`, or [`REDACTED`] in its place (the text wiped) when it holds any of `secrets`
/// ([`holds_secret`]). The whole text goes, not just the secret: where a short secret sat in
/// it would tell what it is.
pub(crate) fn redact(mut text: String, secrets: &[&str]) -> String {
    if secrets.iter().any(|s| holds_secret(&text, s)) {
        zeroize::Zeroize::zeroize(&mut text);
        return REDACTED.to_owned();
    }
    text
}

/// Whether `s` can be sent as a bearer credential: non-empty visible ASCII (no spaces, no
/// control characters), so `Bearer <s>` is always a valid header value.
pub(crate) fn is_header_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

/// `parts.join(sep)`, written out: std's `join` and `concat` are about a kilobyte of `.wasm`
/// for each element type.
pub(crate) fn join<S: AsRef<str>>(parts: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(part.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_table() {
        // (input, max, expected)
        let table: &[(&str, usize, &str)] = &[
            ("invalid_grant", 200, "invalid_grant"),
            ("  padded  ", 200, "padded"),
            ("line1\nline2\r\nline3", 200, "line1 line2  line3"),
            ("bell\u{7}esc\u{1b}[31mred", 200, "bellesc[31mred"),
            ("del\u{7f}c1\u{85}", 200, "delc1"),
            ("rtl\u{202e}txt", 200, "rtltxt"),
            ("abcdef", 3, "abc"),
            ("héllo wörld", 4, "héll"),
            ("", 200, ""),
            ("\n\n", 200, ""),
            ("\u{3000}invalid_grant", 200, "invalid_grant"),
            ("\u{a0}\u{2003} both \u{a0}\u{3000}", 200, "both"),
            ("\u{3000}\u{3000}abcdef", 3, "abc"),
            ("a\u{3000}b", 200, "a\u{3000}b"),
        ];
        for (input, max, want) in table {
            assert_eq!(sanitize(input, *max), *want, "input {input:?}");
        }
    }

    #[test]
    fn holds_secret_table() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";
        // (text as kept, secret, held)
        let table: &[(&str, &str, bool)] = &[
            ("bad password hunter2", "hunter2", true),
            ("bad password", "hunter2", false),
            ("invalid_grant", "", false),
            ("invalid_grant", " \t", false),
            // The secret as sanitize keeps it: a tab becomes a space, controls go.
            ("bad password pass word", "pass\tword", true),
            ("bad password pw1", "pw\u{7}1", true),
            ("bad password pw", " pw ", true),
            // An echo cut by the length limit, or shortened: the secret's first 8 characters.
            ("token eyJhbGciOiJI", jwt, true),
            ("token eyJhbGci... revoked", jwt, true),
            ("token eyJhbGc", jwt, false),
            ("token ...c2lnbmF0dXJl", jwt, false),
            ("x", "x", true),
        ];
        for (text, secret, want) in table {
            assert_eq!(holds_secret(text, secret), *want, "{text:?} {secret:?}");
        }
        assert_eq!(redact("bad password pw".into(), &["other", "pw"]), REDACTED);
        assert_eq!(
            redact("invalid_client".into(), &["pw-long-1"]),
            "invalid_client"
        );
    }

    #[test]
    fn header_token_table() {
        let table: &[(&str, bool)] = &[
            ("abc.def-ghi_jkl~mno+pqr/stu=", true),
            ("", false),
            ("has space", false),
            ("tab\there", false),
            ("new\nline", false),
            ("nul\0", false),
            ("ünïcode", false),
        ];
        for (input, want) in table {
            assert_eq!(is_header_token(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn display_is_lower_case_and_names_the_problem() {
        let table = [
            (InvalidAuthResponse::EmptyBody, "empty"),
            (
                InvalidAuthResponse::TooLarge {
                    len: 70_000,
                    limit: 65_536,
                },
                "70000",
            ),
            (InvalidAuthResponse::Html, "html"),
            (
                InvalidAuthResponse::NotJson {
                    detail: "expected value at line 1 column 1".into(),
                },
                "not json",
            ),
            (InvalidAuthResponse::NotAnObject, "not an object"),
            (InvalidAuthResponse::MissingAccessToken, "no access_token"),
            (InvalidAuthResponse::BadAccessToken, "access_token"),
            (
                InvalidAuthResponse::BadTokenType {
                    token_type: "mac".into(),
                },
                "\"mac\"",
            ),
            (
                InvalidAuthResponse::BadExpiresIn { reason: "negative" },
                "negative",
            ),
            (InvalidAuthResponse::BadRefreshToken, "refresh_token"),
        ];
        for (err, needle) in table {
            let text = err.to_string();
            assert!(text.contains(needle), "{text:?} should contain {needle:?}");
            let first = text.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{text:?} should start lower-case");
        }
    }
}
