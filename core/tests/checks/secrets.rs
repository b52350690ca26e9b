//! Known secrets in token responses, and the check that no `Debug` or `Display` text holds one.
//!
//! A corpus body says where a token goes with a placeholder (`$A` for an access token, `$R` for
//! a refresh token); [`with_secrets`] puts a distinctive secret there. A secret is checked when
//! the body, read by `serde_json`, holds it as the top-level `access_token` or `refresh_token`
//! string and nowhere else but in `token_type`: then no parser has a reason to show it (the
//! token type is kept in an error, but with the response's own tokens redacted; other server
//! strings, like `scope` or `error`, may hold anything, so a secret copied there is not
//! checked). The engine check (`engine.rs`) adds the secrets the session was given or sent
//! (password, client secret), which every text must hide whatever the server echoes.

use serde_json::Value;

/// Where a corpus body puts an access token.
pub(crate) const ACCESS: &[u8] = b"$A";
/// Where a corpus body puts a refresh token.
pub(crate) const REFRESH: &[u8] = b"$R";
/// Part of every known secret, and of no fixed message text.
pub(crate) const MARKER: &str = "-SECRET-";

/// `body` with each placeholder replaced by a secret made unique by `salt` (header-safe, so the
/// parsers accept it as a token).
pub(crate) fn with_secrets(body: &[u8], salt: usize) -> Vec<u8> {
    let access = format!("a{salt}{MARKER}k3y.Zm9v_bar~");
    let refresh = format!("r{salt}{MARKER}r0t-8c2+/=");
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(ACCESS) {
            out.extend_from_slice(access.as_bytes());
            i += ACCESS.len();
        } else if body[i..].starts_with(REFRESH) {
            out.extend_from_slice(refresh.as_bytes());
            i += REFRESH.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// The known secrets of a token-response body as `serde_json` reads it (after the parsers'
/// own trimming: ASCII whitespace and a UTF-8 byte order mark).
pub(crate) fn known_secrets(body: &[u8]) -> Vec<String> {
    let json = body.trim_ascii();
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    serde_json::from_slice(json)
        .map(|v| exclusive(&v))
        .unwrap_or_default()
}

/// The `access_token`/`refresh_token` strings holding [`MARKER`] that no other string of the
/// document (key or value, at any depth) contains, a `token_type` string aside. A string is
/// also looked at as `Debug` shows it: a kept string is shown escaped, and an escape can spell
/// a secret (a carriage return before `0-SECRET-…` shows as `\r0-SECRET-…`).
pub(crate) fn exclusive(value: &Value) -> Vec<String> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    let candidates: Vec<&str> = ["access_token", "refresh_token"]
        .iter()
        .filter_map(|k| map.get(*k).and_then(Value::as_str))
        .filter(|s| s.contains(MARKER))
        .collect();
    let mut others = Vec::new();
    for (k, v) in map {
        others.push(k.as_str());
        let own = ["access_token", "refresh_token", "token_type"].contains(&k.as_str());
        if !own || !v.is_string() {
            strings(v, &mut others);
        }
    }
    let shown: Vec<String> = others.iter().map(|o| format!("{o:?}")).collect();
    let held =
        |c: &str| others.iter().any(|o| o.contains(c)) || shown.iter().any(|o| o.contains(c));
    candidates
        .into_iter()
        .filter(|c| !held(c))
        .map(str::to_owned)
        .collect()
}

/// Every string (keys and values) inside `value`.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                strings(v, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Panics if any of `texts` holds any of `secrets`.
pub(crate) fn assert_hidden(texts: &[String], secrets: &[String], input: &[u8]) {
    for text in texts {
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a token reached a Debug/Display text: {text:?}\ninput: {}",
                super::shown(input)
            );
        }
    }
}
