//! Error bodies from auth endpoints: RFC 6749 §5.2 and FastAPI/VitalGraph `{"detail": ...}`.

use super::json::{self, Value};
use super::{MAX_AUTH_BODY, sanitize};
use crate::limits::MAX_SERVER_TEXT;

/// What an auth endpoint said when it refused a request.
///
/// Server strings are truncated to 200 characters and stripped of control characters, so they
/// are safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthErrorBody {
    /// RFC 6749 §5.2: `{"error": "invalid_grant", "error_description": "..."}`.
    OAuth {
        /// The error code (`invalid_grant`, `invalid_client`, ...).
        error: String,
        /// The human-readable description, if any.
        description: Option<String>,
    },
    /// FastAPI/VitalGraph: `{"detail": "Invalid refresh token"}`. A validation error list
    /// (`[{"loc": [...], "msg": "..."}]`) becomes `msg (loc); msg (loc)`.
    Detail(String),
    /// Not JSON, or JSON in neither shape.
    Unrecognized,
}

impl AuthErrorBody {
    /// The server's reason in one string: the OAuth error code or the detail text.
    pub fn code(&self) -> Option<&str> {
        match self {
            AuthErrorBody::OAuth { error, .. } => Some(error),
            AuthErrorBody::Detail(detail) => Some(detail),
            AuthErrorBody::Unrecognized => None,
        }
    }

    /// Whether the server says the grant (refresh token, password) is invalid or expired:
    /// OAuth `invalid_grant`, or a detail that is exactly `invalid_grant` (any case).
    pub fn is_invalid_grant(&self) -> bool {
        self.code()
            .is_some_and(|c| c.eq_ignore_ascii_case("invalid_grant"))
    }
}

/// Parses an auth endpoint's error body (status 4xx/5xx). Never fails: a body in no known
/// shape, or longer than [`MAX_AUTH_BODY`], is [`AuthErrorBody::Unrecognized`].
pub fn parse_auth_error(body: &[u8]) -> AuthErrorBody {
    if body.len() > MAX_AUTH_BODY {
        return AuthErrorBody::Unrecognized;
    }
    let body = body.trim_ascii();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match json::parse(body) {
        Ok(value) => {
            let parsed = if matches!(value, Value::Object(_)) {
                from_object(&value)
            } else {
                AuthErrorBody::Unrecognized
            };
            value.wipe();
            parsed
        }
        Err(_) => AuthErrorBody::Unrecognized,
    }
}

/// Reads either shape from a JSON object.
fn from_object(map: &Value) -> AuthErrorBody {
    if let Some(error) = map
        .get("error")
        .and_then(Value::as_str)
        .map(text)
        .filter(|e| !e.is_empty())
    {
        let description = map
            .get("error_description")
            .and_then(Value::as_str)
            .map(text)
            .filter(|d| !d.is_empty());
        return AuthErrorBody::OAuth { error, description };
    }
    match map.get("detail") {
        Some(Value::String(s)) => detail(text(s)),
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items.iter().filter_map(validation_item).collect();
            detail(text(&super::join(&parts, "; ")))
        }
        Some(inner @ Value::Object(_)) => {
            if inner.get("error").and_then(Value::as_str).is_some() {
                return from_object(inner);
            }
            let msg = ["msg", "message", "detail"]
                .iter()
                .find_map(|k| inner.get(k).and_then(Value::as_str));
            msg.map_or(AuthErrorBody::Unrecognized, |m| detail(text(m)))
        }
        _ => AuthErrorBody::Unrecognized,
    }
}

/// One FastAPI validation error (`{"loc": ["body", "username"], "msg": "field required"}`) as
/// `field required (body.username)`; a plain string item as itself.
fn validation_item(item: &Value) -> Option<String> {
    match item {
        Value::String(s) => Some(s.clone()),
        obj @ Value::Object(_) => {
            let msg = obj
                .get("msg")
                .or_else(|| obj.get("message"))
                .and_then(Value::as_str)?;
            let loc: Vec<String> = obj
                .get("loc")
                .and_then(|l| match l {
                    Value::Array(parts) => Some(parts),
                    _ => None,
                })
                .map(|parts| {
                    parts
                        .iter()
                        .filter_map(|p| match p {
                            // A number as written (FastAPI sends list indices: `0`, `1`).
                            Value::String(s) | Value::Number(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            if loc.is_empty() {
                Some(msg.to_owned())
            } else {
                let mut item = msg.to_owned();
                item.push_str(" (");
                item.push_str(&super::join(&loc, "."));
                item.push(')');
                Some(item)
            }
        }
        _ => None,
    }
}

/// A `Detail`, or `Unrecognized` when the text is empty.
fn detail(s: String) -> AuthErrorBody {
    if s.is_empty() {
        AuthErrorBody::Unrecognized
    } else {
        AuthErrorBody::Detail(s)
    }
}

/// A server string made safe to keep.
fn text(s: &str) -> String {
    sanitize(s, MAX_SERVER_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(error: &str, description: Option<&str>) -> AuthErrorBody {
        AuthErrorBody::OAuth {
            error: error.into(),
            description: description.map(Into::into),
        }
    }

    fn detail(s: &str) -> AuthErrorBody {
        AuthErrorBody::Detail(s.into())
    }

    #[test]
    fn parse_table() {
        let long = "x".repeat(500);
        let long_body = format!(r#"{{"detail":"{long}"}}"#);
        let table: Vec<(&str, AuthErrorBody)> = vec![
            (r#"{"error":"invalid_grant"}"#, oauth("invalid_grant", None)),
            (
                r#"{"error":"invalid_grant","error_description":"Refresh token expired"}"#,
                oauth("invalid_grant", Some("Refresh token expired")),
            ),
            (
                r#"{"error":"invalid_client","error_description":""}"#,
                oauth("invalid_client", None),
            ),
            (
                r#"{"error":"invalid_request","error_description":5}"#,
                oauth("invalid_request", None),
            ),
            (r#"{"error":"x\u001b[31m\nred"}"#, oauth("x[31m red", None)),
            (r#"{"error":"","detail":"fallback"}"#, detail("fallback")),
            (
                r#"{"detail":"Invalid refresh token"}"#,
                detail("Invalid refresh token"),
            ),
            (
                r#"{"detail":"Authentication backend unavailable"}"#,
                detail("Authentication backend unavailable"),
            ),
            (r#"  {"detail":"padded"}  "#, detail("padded")),
            (
                r#"{"detail":[{"loc":["body","username"],"msg":"field required","type":"value_error.missing"},{"loc":["body","password"],"msg":"field required"}]}"#,
                detail("field required (body.username); field required (body.password)"),
            ),
            (
                r#"{"detail":[{"loc":["query",0],"msg":"bad"}]}"#,
                detail("bad (query.0)"),
            ),
            (
                r#"{"detail":[{"msg":"no location"}]}"#,
                detail("no location"),
            ),
            (
                r#"{"detail":["plain","strings"]}"#,
                detail("plain; strings"),
            ),
            (r#"{"detail":[]}"#, AuthErrorBody::Unrecognized),
            (r#"{"detail":[1,2]}"#, AuthErrorBody::Unrecognized),
            (
                r#"{"detail":{"error":"invalid_grant","error_description":"gone"}}"#,
                oauth("invalid_grant", Some("gone")),
            ),
            (r#"{"detail":{"message":"nested"}}"#, detail("nested")),
            (r#"{"detail":{"code":7}}"#, AuthErrorBody::Unrecognized),
            (r#"{"detail":""}"#, AuthErrorBody::Unrecognized),
            (r#"{"detail":null}"#, AuthErrorBody::Unrecognized),
            (r#"{"detail":42}"#, AuthErrorBody::Unrecognized),
            (r#"{"error":{"code":401}}"#, AuthErrorBody::Unrecognized),
            (r#"{"message":"nope"}"#, AuthErrorBody::Unrecognized),
            ("[]", AuthErrorBody::Unrecognized),
            ("", AuthErrorBody::Unrecognized),
            ("Unauthorized", AuthErrorBody::Unrecognized),
            ("<html>502</html>", AuthErrorBody::Unrecognized),
            ("{\"detail\":", AuthErrorBody::Unrecognized),
            (&long_body, detail(&long[..200])),
        ];
        for (body, want) in table {
            assert_eq!(parse_auth_error(body.as_bytes()), want, "{body}");
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let body = format!(r#"{{"error":"{}"}}"#, "é".repeat(300));
        let AuthErrorBody::OAuth { error, .. } = parse_auth_error(body.as_bytes()) else {
            panic!()
        };
        assert_eq!(error.chars().count(), 200);
    }

    #[test]
    fn oversized_and_invalid_utf8_bodies_are_unrecognized() {
        let big = format!(
            r#"{{"error":"invalid_grant","pad":"{}"}}"#,
            "a".repeat(MAX_AUTH_BODY)
        );
        assert_eq!(
            parse_auth_error(big.as_bytes()),
            AuthErrorBody::Unrecognized
        );
        assert_eq!(
            parse_auth_error(b"{\"error\":\"\xff\xfe\"}"),
            AuthErrorBody::Unrecognized
        );
    }

    #[test]
    fn code_and_invalid_grant_table() {
        let table = [
            (
                oauth("invalid_grant", Some("expired")),
                Some("invalid_grant"),
                true,
            ),
            (oauth("INVALID_GRANT", None), Some("INVALID_GRANT"), true),
            (oauth("invalid_client", None), Some("invalid_client"), false),
            (detail("invalid_grant"), Some("invalid_grant"), true),
            (
                detail("Invalid refresh token"),
                Some("Invalid refresh token"),
                false,
            ),
            (AuthErrorBody::Unrecognized, None, false),
        ];
        for (body, code, invalid_grant) in table {
            assert_eq!(body.code(), code, "{body:?}");
            assert_eq!(body.is_invalid_grant(), invalid_grant, "{body:?}");
        }
    }
}
