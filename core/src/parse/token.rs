//! Successful token responses: RFC 6749 §5.1 and VitalGraph's `/api/login` and `/api/refresh`.

use core::time::Duration;

use super::decimal::{self, Reading};
use super::json::{self, Value};
use super::{InvalidAuthResponse, MAX_AUTH_BODY, MAX_LIFETIME, is_header_token, redact, sanitize};
use crate::headers::{self, ReadHeader, ResponseHeaders};
use crate::limits::MAX_TOKEN_TYPE;
use crate::secret::Secret;

/// A successful login or refresh response.
///
/// `Debug` redacts both tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The new access token.
    pub access_token: Secret,
    /// A new refresh token, if the server sent one (rotation); `None` means "keep the old one".
    pub refresh_token: Option<Secret>,
    /// The access token's lifetime as the server states it (`expires_in`), if it does.
    pub expires_in: Option<Duration>,
    /// The granted scope, if the server states it.
    pub scope: Option<String>,
}

/// Parses a login or refresh response body (status 2xx).
///
/// Accepts RFC 6749 §5.1 (`access_token`, `token_type`, `expires_in`, `refresh_token`,
/// `scope`) and VitalGraph's `{access_token, refresh_token, token_type, expires_in, username,
/// ...}`; unknown fields are ignored. The checks run in this order: empty body, too large
/// ([`MAX_AUTH_BODY`]), HTML page, JSON syntax, then the fields.
///
/// - `access_token`: required; a non-empty string of visible ASCII (it goes into a header).
/// - `token_type`: optional; when present it must be `bearer`, in any case.
/// - `expires_in`: optional (`null` counts as absent); a JSON number or a numeric string
///   (`"3600"`), in seconds, fractions allowed and read to the millisecond (later digits are
///   dropped). A string is trimmed and read with the grammar of Rust's `f64` parser: an
///   optional sign, `5`, `5.`, `.5`, an exponent (`"+60"`, `"1e3"` are 60 and 1000 seconds);
///   `inf`, `infinity` and `nan` are refused as not finite. The value is read exactly from the
///   digits, never rounded through an `f64` (`-1e-400` is negative, `1e-9` is zero).
///   Zero (or less than a millisecond) is refused (`"zero"`): a token that expires on
///   arrival would make every request refresh first. Negative, non-finite, non-numeric and more
///   than 10 years ([`MAX_LIFETIME`](crate::limits::MAX_LIFETIME), compared exactly) are
///   refused too.
/// - `refresh_token`: optional (`null` counts as absent); when present, like `access_token`.
/// - `scope`: optional; a string, or (non-standard) an array of strings joined with spaces.
pub fn parse_token_response(
    headers: &dyn ResponseHeaders,
    body: &[u8],
) -> Result<TokenResponse, InvalidAuthResponse> {
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
    if is_html(headers, trimmed) {
        return Err(InvalidAuthResponse::Html);
    }
    let json = trimmed.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(trimmed);
    let mut value = json::parse(json).map_err(|e| InvalidAuthResponse::NotJson {
        detail: e.to_string(),
    })?;
    if !matches!(value, Value::Object(_)) {
        value.wipe();
        return Err(InvalidAuthResponse::NotAnObject);
    }
    let result = fields(&mut value);
    value.wipe();
    result
}

/// Extracts and checks the fields, moving the token strings out of the object.
fn fields(map: &mut Value) -> Result<TokenResponse, InvalidAuthResponse> {
    let access_token = match map.take("access_token") {
        None | Some(Value::Null) => return Err(InvalidAuthResponse::MissingAccessToken),
        Some(v) => header_secret(v).ok_or(InvalidAuthResponse::BadAccessToken)?,
    };
    match map.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(t)) => {
            // The response's own tokens never show, even copied into the token type.
            let refresh = map.get("refresh_token").and_then(Value::as_str);
            let own = [access_token.expose(), refresh.unwrap_or("")];
            return Err(InvalidAuthResponse::BadTokenType {
                token_type: redact(sanitize(t, MAX_TOKEN_TYPE), &own),
            });
        }
        Some(other) => {
            return Err(InvalidAuthResponse::BadTokenType {
                token_type: super::join(&["(", other.kind(), ")"], ""),
            });
        }
    }
    let expires_in = match map.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(expires_in(v).map_err(|reason| InvalidAuthResponse::BadExpiresIn { reason })?)
        }
    };
    let refresh_token = match map.take("refresh_token") {
        None | Some(Value::Null) => None,
        Some(v) => Some(header_secret(v).ok_or(InvalidAuthResponse::BadRefreshToken)?),
    };
    let scope = match map.get("scope") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            Some(super::join(&parts, " "))
        }
        _ => None,
    }
    .filter(|s| !s.trim().is_empty());
    Ok(TokenResponse {
        access_token,
        refresh_token,
        expires_in,
        scope,
    })
}

/// A token value as a `Secret` if it is a header-safe string; a rejected string is wiped.
fn header_secret(v: Value) -> Option<Secret> {
    match v {
        Value::String(s) if is_header_token(&s) => Some(Secret::new(s)),
        other => {
            other.wipe();
            None
        }
    }
}

/// `expires_in` as a duration, or why it is unusable. Read to the millisecond (later digits
/// are dropped); the 10-year limit is compared exactly.
fn expires_in(v: &Value) -> Result<Duration, &'static str> {
    let text = match v {
        Value::Number(n) => n.as_str(),
        Value::String(s) => s.trim(),
        _ => return Err("not a number"),
    };
    let Reading::Number(secs) = decimal::parse(text).ok_or("not a number")? else {
        return Err("not finite");
    };
    if secs.is_negative() {
        return Err("negative");
    }
    if secs.exceeds(MAX_LIFETIME.as_secs()) {
        return Err("too large");
    }
    match secs.scaled(3) {
        0 => Err("zero"),
        ms => Ok(Duration::from_millis(ms)),
    }
}

/// Whether the response is an HTML page rather than JSON.
fn is_html(headers: &dyn ResponseHeaders, body: &[u8]) -> bool {
    let html_type = headers::text(headers, ReadHeader::ContentType)
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("text/html") || t.eq_ignore_ascii_case("application/xhtml+xml")
        });
    html_type || body.first() == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of the main table test.
    type Row<'a> = (String, Option<&'a str>, Option<Duration>, Option<&'a str>);

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig-SECRET";
    const REFRESH: &str = "refresh-SECRET-value";

    fn parse(body: &str) -> Result<TokenResponse, InvalidAuthResponse> {
        parse_token_response(&http::HeaderMap::new(), body.as_bytes())
    }

    fn with(extra: &str) -> String {
        format!(r#"{{"access_token":"{TOKEN}"{extra}}}"#)
    }

    #[test]
    fn accepts_rfc6749_and_vitalgraph_responses() {
        let secs = Duration::from_secs;
        // (body, refresh token, expires_in, scope)
        let table: Vec<Row> = vec![
            (with(""), None, None, None),
            (
                with(&format!(
                    r#","token_type":"Bearer","expires_in":3600,"refresh_token":"{REFRESH}","scope":"read write""#
                )),
                Some(REFRESH),
                Some(secs(3600)),
                Some("read write"),
            ),
            // VitalGraph login: extra fields ignored.
            (
                with(&format!(
                    r#","refresh_token":"{REFRESH}","token_type":"bearer","expires_in":1800,"username":"admin","full_name":"A","role":"admin""#
                )),
                Some(REFRESH),
                Some(secs(1800)),
                None,
            ),
            (with(r#","token_type":"BEARER""#), None, None, None),
            (with(r#","token_type":null"#), None, None, None),
            (
                with(r#","expires_in":null,"refresh_token":null"#),
                None,
                None,
                None,
            ),
            (
                with(r#","expires_in":"3600""#),
                None,
                Some(secs(3600)),
                None,
            ),
            (with(r#","expires_in":" 60 ""#), None, Some(secs(60)), None),
            (
                with(r#","expires_in":1.5"#),
                None,
                Some(Duration::from_millis(1500)),
                None,
            ),
            (
                with(r#","expires_in":"2.5""#),
                None,
                Some(Duration::from_millis(2500)),
                None,
            ),
            (
                with(r#","expires_in":3600.0"#),
                None,
                Some(secs(3600)),
                None,
            ),
            (
                with(r#","expires_in":315360000"#),
                None,
                Some(secs(315_360_000)),
                None,
            ),
            (with(r#","scope":["a","b"]"#), None, None, Some("a b")),
            (with(r#","scope":"""#), None, None, None),
            (with(r#","scope":7"#), None, None, None),
            (format!("\u{feff}{}", with("")), None, None, None),
            (format!("  \n{}\n", with("")), None, None, None),
        ];
        for (body, refresh, expires_in, scope) in table {
            let r = parse(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(r.access_token.expose(), TOKEN, "{body}");
            assert_eq!(
                r.refresh_token.as_ref().map(Secret::expose),
                refresh,
                "{body}"
            );
            assert_eq!(r.expires_in, expires_in, "{body}");
            assert_eq!(r.scope.as_deref(), scope, "{body}");
        }
    }

    #[test]
    fn refuses_malformed_responses() {
        use InvalidAuthResponse as E;
        let bad_exp = |reason| E::BadExpiresIn { reason };
        let table: Vec<(String, E)> = vec![
            (String::new(), E::EmptyBody),
            ("   \r\n ".into(), E::EmptyBody),
            ("<html><body>502 Bad Gateway</body></html>".into(), E::Html),
            ("  <!DOCTYPE html>".into(), E::Html),
            ("[1,2]".into(), E::NotAnObject),
            (r#""access_token""#.into(), E::NotAnObject),
            ("42".into(), E::NotAnObject),
            ("null".into(), E::NotAnObject),
            ("{}".into(), E::MissingAccessToken),
            (r#"{"access_token":null}"#.into(), E::MissingAccessToken),
            (r#"{"token":"abc"}"#.into(), E::MissingAccessToken),
            (r#"{"access_token":12345}"#.into(), E::BadAccessToken),
            (r#"{"access_token":""}"#.into(), E::BadAccessToken),
            (r#"{"access_token":["a"]}"#.into(), E::BadAccessToken),
            (r#"{"access_token":"has space"}"#.into(), E::BadAccessToken),
            (
                r#"{"access_token":"line\nbreak"}"#.into(),
                E::BadAccessToken,
            ),
            (r#"{"access_token":"ünïcode"}"#.into(), E::BadAccessToken),
            (
                with(r#","token_type":"mac""#),
                E::BadTokenType {
                    token_type: "mac".into(),
                },
            ),
            (
                with(r#","token_type":"DPoP""#),
                E::BadTokenType {
                    token_type: "DPoP".into(),
                },
            ),
            (
                with(r#","token_type":1"#),
                E::BadTokenType {
                    token_type: "(number)".into(),
                },
            ),
            (with(r#","expires_in":-1"#), bad_exp("negative")),
            (with(r#","expires_in":-0.5"#), bad_exp("negative")),
            (with(r#","expires_in":"-30""#), bad_exp("negative")),
            (with(r#","expires_in":0"#), bad_exp("zero")),
            (with(r#","expires_in":0.0"#), bad_exp("zero")),
            (with(r#","expires_in":"0""#), bad_exp("zero")),
            (with(r#","expires_in":315360001"#), bad_exp("too large")),
            (with(r#","expires_in":1e300"#), bad_exp("too large")),
            (
                with(r#","expires_in":18446744073709551615"#),
                bad_exp("too large"),
            ),
            (
                with(r#","expires_in":123456789012345678901234567890"#),
                bad_exp("too large"),
            ),
            (with(r#","expires_in":"soon""#), bad_exp("not a number")),
            (with(r#","expires_in":"""#), bad_exp("not a number")),
            (with(r#","expires_in":true"#), bad_exp("not a number")),
            (with(r#","expires_in":{}"#), bad_exp("not a number")),
            (with(r#","expires_in":"NaN""#), bad_exp("not finite")),
            (with(r#","expires_in":"inf""#), bad_exp("not finite")),
            (with(r#","expires_in":"-Infinity""#), bad_exp("not finite")),
            (with(r#","refresh_token":"""#), E::BadRefreshToken),
            (with(r#","refresh_token":42"#), E::BadRefreshToken),
            (with(r#","refresh_token":"a b""#), E::BadRefreshToken),
            (
                format!("x{}", "a".repeat(70 * 1024)),
                E::TooLarge {
                    len: 70 * 1024 + 1,
                    limit: MAX_AUTH_BODY,
                },
            ),
        ];
        for (body, want) in table {
            let got = parse(&body).unwrap_err();
            assert_eq!(got, want, "{}", &body[..body.len().min(80)]);
        }
    }

    #[test]
    fn not_json_reports_the_parser_message() {
        for body in [
            with("").trim_end_matches('}').to_string(),
            "{access_token: x}".into(),
            "NaN".into(),
            "abc".into(),
        ] {
            match parse(&body) {
                Err(InvalidAuthResponse::NotJson { detail }) => {
                    assert!(detail.contains("line 1"), "{detail}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn html_content_type_wins_even_for_json_looking_bodies() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "text/html; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(
            parse_token_response(&headers, with("").as_bytes()),
            Err(InvalidAuthResponse::Html)
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        assert!(parse_token_response(&headers, with("").as_bytes()).is_ok());
    }

    #[test]
    fn check_order_is_empty_size_html_json() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "text/html".parse().unwrap());
        assert_eq!(
            parse_token_response(&headers, b""),
            Err(InvalidAuthResponse::EmptyBody)
        );
        let big = vec![b'<'; MAX_AUTH_BODY + 1];
        assert!(matches!(
            parse_token_response(&headers, &big),
            Err(InvalidAuthResponse::TooLarge { .. })
        ));
        assert_eq!(
            parse_token_response(&headers, b"{"),
            Err(InvalidAuthResponse::Html)
        );
        let mut exact = with("");
        exact.push_str(&" ".repeat(MAX_AUTH_BODY - exact.len()));
        assert!(
            parse(&exact).is_ok(),
            "a body of exactly the limit is parsed"
        );
    }

    #[test]
    fn errors_and_debug_never_contain_token_text() {
        let bodies = [
            format!(r#"{{"access_token":"{TOKEN}","token_type":"mac"}}"#),
            format!(r#"{{"access_token":"{TOKEN}","expires_in":"never"}}"#),
            format!(r#"{{"access_token":"{TOKEN}","refresh_token":"{REFRESH} x"}}"#),
            format!(r#"{{"access_token":"{TOKEN} x","refresh_token":"{REFRESH}"}}"#),
            format!(r#"{{"access_token":"{TOKEN}","refresh_token":"{REFRESH}""#),
            format!(r#"{{"access_token":"{TOKEN}\u0000"}}"#),
            format!(r#"{{"access_token":"{TOKEN}" "refresh_token":"{REFRESH}"}}"#),
            format!(r#"["{TOKEN}"]"#),
            format!("<p>{TOKEN}</p>"),
            format!(r#"{{"access_token":"{TOKEN}","expires_in":{TOKEN}}}"#),
            // A token type that echoes the response's own tokens.
            format!(r#"{{"access_token":"{TOKEN}","token_type":"{TOKEN}"}}"#),
            format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer {TOKEN}"}}"#),
            format!(r#"{{"access_token":"{REFRESH}","token_type":"{REFRESH}"}}"#),
            format!(
                r#"{{"access_token":"{TOKEN}","refresh_token":"{REFRESH}","token_type":"x{REFRESH}"}}"#
            ),
            format!(
                r#"{{"token_type":"{REFRESH}","refresh_token":"{REFRESH}","access_token":"{TOKEN}"}}"#
            ),
        ];
        for body in &bodies {
            let err = parse(body).unwrap_err();
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains("SECRET"), "{text}");
            }
        }
        let ok = parse(&format!(
            r#"{{"access_token":"{TOKEN}","refresh_token":"{REFRESH}"}}"#
        ))
        .unwrap();
        assert!(!format!("{ok:?}").contains("SECRET"));
    }
}
