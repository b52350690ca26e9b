//! `parse_auth_error` against a reading of the same body with `serde_json`, following the two
//! documented shapes (RFC 6749 `{"error", "error_description"}` and FastAPI `{"detail"}`, a
//! validation list becoming `msg (loc); msg (loc)`), plus the secret check.
//!
//! Input: the body (`$A`/`$R` become known secrets). Deliberate difference, excluded: a
//! validation error's `loc` may hold numbers, which the parser writes as their literal text;
//! `serde_json` keeps only the value, so when a `loc` holds a non-integer number (or zero,
//! which could be `-0`) only the kind of result is compared, not the text.

use serde_json::{Map, Value};
use tokenkeeper_core::parse::{AuthErrorBody, MAX_AUTH_BODY, parse_auth_error};

use super::secrets::{assert_hidden, known_secrets, with_secrets};
use super::shown;
use super::text::sanitized;

/// Longest server string kept, as documented.
const MAX_TEXT: usize = 200;

/// `parse_auth_error` reads `data` as documented, and shows no known token.
pub(crate) fn check_auth_error(data: &[u8]) {
    let body = with_secrets(data, 0);
    let got = parse_auth_error(&body);
    let mut exact = true;
    let want = expected(&body, &mut exact);
    let same = if exact {
        got == want
    } else {
        core::mem::discriminant(&got) == core::mem::discriminant(&want)
    };
    assert!(
        same,
        "parse_auth_error gave {got:?}, the serde_json reading {want:?}\ninput: {}",
        shown(&body)
    );
    // What is kept is safe to show: no control characters, at most 200 characters.
    let kept = match &got {
        AuthErrorBody::OAuth { error, description } => vec![Some(error), description.as_ref()],
        AuthErrorBody::Detail(d) => vec![Some(d)],
        AuthErrorBody::Unrecognized => vec![],
    };
    for s in kept.into_iter().flatten() {
        assert!(
            !s.is_empty() && s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control),
            "unsafe kept text {s:?}\ninput: {}",
            shown(&body)
        );
    }
    let texts = [format!("{got:?}")];
    assert_hidden(&texts, &known_secrets(&body), &body);
}

/// The documented reading; `exact` is cleared when only the kind of result can be predicted.
fn expected(body: &[u8], exact: &mut bool) -> AuthErrorBody {
    if body.len() > MAX_AUTH_BODY {
        return AuthErrorBody::Unrecognized;
    }
    let json = body.trim_ascii();
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    match serde_json::from_slice(json) {
        Ok(Value::Object(map)) => from_object(&map, exact),
        _ => AuthErrorBody::Unrecognized,
    }
}

fn from_object(map: &Map<String, Value>, exact: &mut bool) -> AuthErrorBody {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| sanitized(s, MAX_TEXT))
            .filter(|s| !s.is_empty())
    };
    if let Some(error) = text(map.get("error")) {
        return AuthErrorBody::OAuth {
            error,
            description: text(map.get("error_description")),
        };
    }
    match map.get("detail") {
        Some(Value::String(s)) => detail(sanitized(s, MAX_TEXT)),
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| validation_item(item, exact))
                .collect();
            detail(sanitized(&parts.join("; "), MAX_TEXT))
        }
        Some(Value::Object(inner)) => {
            if inner.get("error").is_some_and(Value::is_string) {
                return from_object(inner, exact);
            }
            ["msg", "message", "detail"]
                .iter()
                .find_map(|k| inner.get(*k).and_then(Value::as_str))
                .map_or(AuthErrorBody::Unrecognized, |m| {
                    detail(sanitized(m, MAX_TEXT))
                })
        }
        _ => AuthErrorBody::Unrecognized,
    }
}

/// One FastAPI validation error as `msg (loc.loc)`, or a plain string item as itself.
fn validation_item(item: &Value, exact: &mut bool) -> Option<String> {
    match item {
        Value::String(s) => Some(s.clone()),
        Value::Object(obj) => {
            // `msg`, or `message` when there is no `msg` at all.
            let msg = obj.get("msg").or_else(|| obj.get("message"))?.as_str()?;
            let loc: Vec<String> = match obj.get("loc") {
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| match p {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => {
                            if n.is_f64() || n.as_u64() == Some(0) {
                                *exact = false;
                            }
                            Some(n.to_string())
                        }
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if loc.is_empty() {
                Some(msg.to_owned())
            } else {
                Some(format!("{msg} ({})", loc.join(".")))
            }
        }
        _ => None,
    }
}

fn detail(s: String) -> AuthErrorBody {
    if s.is_empty() {
        AuthErrorBody::Unrecognized
    } else {
        AuthErrorBody::Detail(s)
    }
}
