//! `WWW-Authenticate: Bearer ...` challenges from resource servers (RFC 6750 §3, RFC 9110 §11.6.1).

use super::sanitize;
use crate::headers::{ReadHeader, ResponseHeaders};
use crate::limits::{MAX_HEADER_VALUE, MAX_SERVER_TEXT};

/// The parameters of a `Bearer` challenge. Unknown parameters are ignored; values are
/// unquoted, truncated to 200 characters and stripped of control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BearerChallenge {
    /// `realm`: the protection space.
    pub realm: Option<String>,
    /// `scope`: the scope the resource needs (space-separated).
    pub scope: Option<String>,
    /// `error`: `invalid_request`, `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`: human-readable text.
    pub error_description: Option<String>,
}

/// Finds the first `Bearer` challenge in the response's `WWW-Authenticate` headers.
///
/// Handles several headers and several challenges per header (`Basic realm="x", Bearer
/// error="invalid_token"`), quoted strings with `\` escapes, token68 credentials of other
/// schemes, a bare `Bearer`, and any case of the scheme and parameter names. Returns `None` when
/// there is no `Bearer` challenge. Never panics, whatever the bytes.
pub fn parse_bearer_challenge(headers: &dyn ResponseHeaders) -> Option<BearerChallenge> {
    let mut found = None;
    headers.for_each(ReadHeader::WwwAuthenticate, &mut |v| {
        if v.len() <= MAX_HEADER_VALUE {
            found = parse_value(v);
        }
        found.is_none()
    });
    found
}

/// The first `Bearer` challenge in one header value.
fn parse_value(s: &[u8]) -> Option<BearerChallenge> {
    let mut p = Cursor { s, i: 0 };
    let mut bearer: Option<BearerChallenge> = None;
    loop {
        p.skip_while(|b| is_ows(b) || b == b',');
        if p.eof() {
            return bearer;
        }
        let name = p.take_while(is_tchar);
        if name.is_empty() {
            p.skip_element();
            continue;
        }
        p.skip_while(is_ows);
        if p.peek() == Some(b'=') {
            // `name = value`: a parameter of the current challenge.
            p.i += 1;
            p.skip_while(is_ows);
            let value = p.value();
            if let Some(c) = bearer.as_mut() {
                c.set(name, &value);
            }
            p.skip_element();
            continue;
        }
        // A scheme: a new challenge begins.
        if bearer.is_some() {
            return bearer;
        }
        if name.eq_ignore_ascii_case(b"bearer") {
            bearer = Some(BearerChallenge::default());
        }
        if p.eof() || p.peek() == Some(b',') {
            continue;
        }
        // token68 (ignored) or the challenge's first parameter.
        let start = p.i;
        let t68 = p.take_while(is_token68_char);
        p.skip_while(|b| b == b'=');
        p.skip_while(is_ows);
        if !t68.is_empty() && (p.eof() || p.peek() == Some(b',')) {
            continue;
        }
        p.i = start;
        let param = p.take_while(is_tchar);
        p.skip_while(is_ows);
        if !param.is_empty() && p.peek() == Some(b'=') {
            p.i += 1;
            p.skip_while(is_ows);
            let value = p.value();
            if let Some(c) = bearer.as_mut() {
                c.set(param, &value);
            }
        }
        p.skip_element();
    }
}

impl BearerChallenge {
    /// Records a parameter (names are case-insensitive; the first occurrence wins).
    fn set(&mut self, name: &[u8], value: &[u8]) {
        let slot = if name.eq_ignore_ascii_case(b"realm") {
            &mut self.realm
        } else if name.eq_ignore_ascii_case(b"scope") {
            &mut self.scope
        } else if name.eq_ignore_ascii_case(b"error") {
            &mut self.error
        } else if name.eq_ignore_ascii_case(b"error_description") {
            &mut self.error_description
        } else {
            return;
        };
        if slot.is_none() {
            *slot = Some(sanitize(&String::from_utf8_lossy(value), MAX_SERVER_TEXT));
        }
    }
}

/// A read position in a header value.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        self.skip_while(f);
        self.s.get(start..self.i).unwrap_or_default()
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    /// A parameter value: a quoted string (unescaped; an unterminated one runs to the end) or,
    /// leniently, anything up to the next comma or whitespace.
    fn value(&mut self) -> Vec<u8> {
        if self.peek() != Some(b'"') {
            return self.take_while(|b| b != b',' && !is_ows(b)).to_vec();
        }
        self.i += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                b => out.push(b),
            }
        }
        out
    }

    /// Skips to the next comma outside a quoted string (error recovery and trailing junk).
    fn skip_element(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => return,
                b'"' => {
                    let _ = self.value();
                }
                _ => self.i += 1,
            }
        }
    }
}

/// Optional whitespace (RFC 9110 OWS).
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `token68` characters (before the trailing `=` padding).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    fn ch(
        realm: Option<&str>,
        scope: Option<&str>,
        error: Option<&str>,
        desc: Option<&str>,
    ) -> BearerChallenge {
        BearerChallenge {
            realm: realm.map(Into::into),
            scope: scope.map(Into::into),
            error: error.map(Into::into),
            error_description: desc.map(Into::into),
        }
    }

    #[test]
    fn single_header_table() {
        let none = ch(None, None, None, None);
        let table: Vec<(&str, Option<BearerChallenge>)> = vec![
            ("Bearer", Some(none.clone())),
            ("bearer", Some(none.clone())),
            ("BEARER  ", Some(none.clone())),
            (
                r#"Bearer realm="example""#,
                Some(ch(Some("example"), None, None, None)),
            ),
            (
                r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
                Some(ch(
                    Some("example"),
                    None,
                    Some("invalid_token"),
                    Some("The access token expired"),
                )),
            ),
            (
                r#"Bearer error="insufficient_scope", scope="read write""#,
                Some(ch(
                    None,
                    Some("read write"),
                    Some("insufficient_scope"),
                    None,
                )),
            ),
            (
                "Bearer error=invalid_token",
                Some(ch(None, None, Some("invalid_token"), None)),
            ),
            (
                r#"Bearer ERROR = "invalid_token" , Realm="r""#,
                Some(ch(Some("r"), None, Some("invalid_token"), None)),
            ),
            (
                r#"Bearer realm="a \"quoted\" \\ name""#,
                Some(ch(Some(r#"a "quoted" \ name"#), None, None, None)),
            ),
            (
                r#"Bearer realm="with, comma", error="e""#,
                Some(ch(Some("with, comma"), None, Some("e"), None)),
            ),
            (
                r#"Basic realm="x", Bearer error="invalid_token""#,
                Some(ch(None, None, Some("invalid_token"), None)),
            ),
            (
                r#"Basic realm="x", charset="UTF-8", Bearer"#,
                Some(none.clone()),
            ),
            (
                r#"Bearer realm="api", Basic realm="x""#,
                Some(ch(Some("api"), None, None, None)),
            ),
            (
                r#"Negotiate YWJjZA==, Bearer realm="k""#,
                Some(ch(Some("k"), None, None, None)),
            ),
            ("Negotiate, Bearer", Some(none.clone())),
            (
                r#"Bearer realm="first", realm="second""#,
                Some(ch(Some("first"), None, None, None)),
            ),
            (
                r#"Bearer foo="bar", error="e""#,
                Some(ch(None, None, Some("e"), None)),
            ),
            (
                "Bearer realm=https://auth.example/x",
                Some(ch(Some("https://auth.example/x"), None, None, None)),
            ),
            (
                r#"Bearer realm="unterminated"#,
                Some(ch(Some("unterminated"), None, None, None)),
            ),
            (
                "Bearer error_description=\"line\\\ttab\"",
                Some(ch(None, None, None, Some("line tab"))),
            ),
            (
                r#"Bearer error="x" junk "y,z", scope="s""#,
                Some(ch(None, Some("s"), Some("x"), None)),
            ),
            (
                ",, Bearer ,, error=\"e\",,",
                Some(ch(None, None, Some("e"), None)),
            ),
            ("Basic realm=\"x\"", None),
            ("Bearerx realm=\"x\"", None),
            ("Digest realm=\"bearer\"", None),
            ("", None),
            (",,,", None),
            ("=\"\"", None),
            ("\"Bearer\"", None),
        ];
        for (value, want) in table {
            assert_eq!(
                parse_bearer_challenge(&headers(&[value.as_bytes()])),
                want,
                "{value}"
            );
        }
    }

    #[test]
    fn bearer_in_a_later_header() {
        let h = headers(&[b"Basic realm=\"x\"", b"Bearer error=\"invalid_token\""]);
        assert_eq!(
            parse_bearer_challenge(&h),
            Some(ch(None, None, Some("invalid_token"), None))
        );
        assert_eq!(parse_bearer_challenge(&http::HeaderMap::new()), None);
    }

    #[test]
    fn obs_text_and_long_values_are_made_safe() {
        let long = format!("Bearer realm=\"{}\"", "r".repeat(1000));
        let h = headers(&[b"Bearer realm=\"caf\xe9\"", long.as_bytes()]);
        assert_eq!(
            parse_bearer_challenge(&h).unwrap().realm.as_deref(),
            Some("caf\u{fffd}")
        );
        let c = parse_bearer_challenge(&headers(&[long.as_bytes()])).unwrap();
        assert_eq!(c.realm.unwrap().len(), MAX_SERVER_TEXT);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(v) = http::HeaderValue::from_bytes(&bytes) {
                let mut h = http::HeaderMap::new();
                h.insert(http::header::WWW_AUTHENTICATE, v);
                let _ = parse_bearer_challenge(&h);
            }
            let _ = parse_value(&bytes);
        }

        #[test]
        fn never_panics_on_challenge_like_input(s in r#"[ ,="\\A-Za-z=]{0,60}"#) {
            let _ = parse_value(s.as_bytes());
            let _ = parse_value(format!("Bearer {s}").as_bytes());
        }
    }
}
