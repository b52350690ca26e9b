//! `parse_token_response` against a reading of the same body with `serde_json`, following the
//! rules its documentation states (checks in order: empty, too large, HTML, JSON, then the
//! fields; a refused `token_type` redacted when it holds the response's own tokens), plus the
//! secret check: the result's `Debug` and the error's `Debug`/`Display` never hold a known
//! token (see `secrets.rs`).
//!
//! Input: the body, optionally preceded by a line `Content-Type: <value>`; `$A` and `$R` in the
//! body become known secrets. Compared: the verdict, every field of a success, and the error;
//! the JSON error's message is not compared (`json.rs` checks the reader itself). `expires_in`
//! is read exactly, to the millisecond, from its text (`number.rs` says why not as an `f64`).

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use serde_json::Value;
use tokenkeeper_core::parse::{InvalidAuthResponse, MAX_AUTH_BODY, parse_token_response};

use super::number::{self, Reading, raw_member};
use super::secrets::{assert_hidden, known_secrets, with_secrets};
use super::shown;
use super::text::{redacted, sanitized};

/// The longest lifetime believed (10 years of 365 days), as documented.
const MAX_LIFETIME_SECS: u64 = 10 * 365 * 86_400;

/// A successful reading.
#[derive(Debug, PartialEq)]
struct Fields {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<Duration>,
    scope: Option<String>,
}

/// Splits an input into its headers (an optional first line `Content-Type: <value>`) and body.
pub(crate) fn split_input(data: &[u8]) -> (HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    let Some(rest) = data.strip_prefix(b"Content-Type:") else {
        return (headers, data);
    };
    let (line, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    if let Ok(v) = HeaderValue::from_bytes(line.trim_ascii()) {
        headers.insert(CONTENT_TYPE, v);
    }
    (headers, body)
}

/// `parse_token_response` reads `data` as documented, and shows no known token.
pub(crate) fn check_token_response(data: &[u8]) {
    let (headers, body) = split_input(data);
    let body = with_secrets(body, 0);
    let got = parse_token_response(&headers, &body);
    let want = expected(&headers, &body);
    let same = match (&got, &want) {
        (Ok(r), Ok(w)) => {
            let r = Fields {
                access_token: r.access_token.expose().to_owned(),
                refresh_token: r.refresh_token.as_ref().map(|s| s.expose().to_owned()),
                expires_in: r.expires_in,
                scope: r.scope.clone(),
            };
            r == *w
        }
        (Err(InvalidAuthResponse::NotJson { .. }), Err(InvalidAuthResponse::NotJson { .. })) => {
            true
        }
        (Err(e), Err(w)) => e == w,
        _ => false,
    };
    assert!(
        same,
        "parse_token_response gave {got:?}, the serde_json reading {want:?}\ninput: {}",
        shown(&body)
    );
    let mut texts = vec![format!("{got:?}")];
    if let Err(e) = &got {
        texts.push(e.to_string());
    }
    assert_hidden(&texts, &known_secrets(&body), &body);
}

/// The documented reading of a token response, with `serde_json` as the JSON reader.
fn expected(headers: &HeaderMap, body: &[u8]) -> Result<Fields, InvalidAuthResponse> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(InvalidAuthResponse::EmptyBody);
    }
    if body.len() > MAX_AUTH_BODY {
        return Err(InvalidAuthResponse::TooLarge {
            len: body.len(),
            limit: MAX_AUTH_BODY,
        });
    }
    let html_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| t == "text/html" || t == "application/xhtml+xml");
    if html_type || trimmed.starts_with(b"<") {
        return Err(InvalidAuthResponse::Html);
    }
    let json = trimmed.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(trimmed);
    let value: Value = serde_json::from_slice(json).map_err(|_| InvalidAuthResponse::NotJson {
        detail: String::new(),
    })?;
    let Value::Object(map) = value else {
        return Err(InvalidAuthResponse::NotAnObject);
    };
    let access_token = match map.get("access_token") {
        None | Some(Value::Null) => return Err(InvalidAuthResponse::MissingAccessToken),
        Some(v) => header_token(v).ok_or(InvalidAuthResponse::BadAccessToken)?,
    };
    match map.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(t)) => {
            // The response's own tokens are redacted from it.
            let refresh = map.get("refresh_token").and_then(Value::as_str);
            let own: Vec<&str> = [Some(access_token.as_str()), refresh]
                .into_iter()
                .flatten()
                .collect();
            return Err(InvalidAuthResponse::BadTokenType {
                token_type: redacted(sanitized(t, 40), &own),
            });
        }
        Some(other) => {
            return Err(InvalidAuthResponse::BadTokenType {
                token_type: format!("({})", kind(other)),
            });
        }
    }
    let expires_in = match map.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(lifetime(v, json).map_err(|reason| InvalidAuthResponse::BadExpiresIn { reason })?)
        }
    };
    let refresh_token = match map.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(v) => Some(header_token(v).ok_or(InvalidAuthResponse::BadRefreshToken)?),
    };
    let scope = match map.get("scope") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty());
    Ok(Fields {
        access_token,
        refresh_token,
        expires_in,
        scope,
    })
}

/// A token that can go into a header: a non-empty string of visible ASCII.
fn header_token(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

/// `expires_in`: a number or a numeric string (trimmed), in seconds, read exactly to the
/// millisecond; `json` is the document it is a member of (for a number's text as written).
fn lifetime(v: &Value, json: &[u8]) -> Result<Duration, &'static str> {
    let text = match v {
        Value::Number(_) => raw_member(json, "expires_in").expect("serde_json read the member"),
        Value::String(s) => s.trim().to_owned(),
        _ => return Err("not a number"),
    };
    match number::read(&text) {
        Reading::NotANumber => Err("not a number"),
        Reading::NotFinite => Err("not finite"),
        Reading::Number { negative: true, .. } => Err("negative"),
        Reading::Number { abs, .. } if abs.exceeds(MAX_LIFETIME_SECS) => Err("too large"),
        Reading::Number { abs, .. } => match abs.scaled(3) {
            0 => Err("zero"),
            ms => Ok(Duration::from_millis(ms)),
        },
    }
}

/// The JSON kind's name, as the parser writes it.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
