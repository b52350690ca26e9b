//! The `exp` claim of a JWT, read without verifying the signature (the client cannot verify it
//! and does not need to: it only wants to know when to refresh).

use super::base64::decode_url as base64url_decode;
use super::decimal::{self, Reading};
use super::json::{self, Value};

/// The `exp` claim (seconds since the Unix epoch) of a JWS-compact JWT, decoded WITHOUT
/// verification.
///
/// The token must have exactly three dot-separated segments whose second is base64url (padding
/// optional; the standard alphabet's `+` and `/` are tolerated) of a JSON object; `exp` must be
/// a non-negative integer or a non-negative finite number (the fraction is dropped, a huge value
/// saturates at `u64::MAX`), read exactly from its digits, never rounded through an `f64`
/// (`1700000000.99999999999999999` is 1700000000; `-1e-400` is negative). Anything else,
/// including an opaque token or an encrypted (five-segment) JWT, is `None`.
pub fn jwt_exp(token: &str) -> Option<u64> {
    let mut segments = token.split('.');
    let (_header, payload, _signature) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() || payload.is_empty() {
        return None;
    }
    let bytes = base64url_decode(payload)?;
    let claims = json::parse(&bytes).ok()?;
    let Some(Value::Number(exp)) = claims.get("exp") else {
        return None;
    };
    // A huge `exp` saturates at `u64::MAX` (the expiry is clamped later).
    match decimal::parse(exp)? {
        Reading::Number(d) if !d.is_negative() => Some(d.scaled(0)),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// base64url without padding (test helper, shared with the expiry tests).
    pub(crate) fn b64url(data: &[u8]) -> String {
        let mut out = Vec::new();
        super::super::base64::encode(data, &mut out);
        let standard = String::from_utf8(out).unwrap();
        standard
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect()
    }

    /// A JWT with this payload (header and signature are not checked).
    pub(crate) fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(payload.as_bytes())
        )
    }

    #[test]
    fn exp_table() {
        let table: Vec<(String, Option<u64>)> = vec![
            (
                jwt(r#"{"sub":"alice","exp":1700000000}"#),
                Some(1_700_000_000),
            ),
            (jwt(r#"{"exp":0}"#), Some(0)),
            (jwt(r#"{"exp":1700000000.9}"#), Some(1_700_000_000)),
            (jwt(r#"{"exp":1e9}"#), Some(1_000_000_000)),
            (jwt(r#"{"exp":18446744073709551615}"#), Some(u64::MAX)),
            (jwt(r#"{"exp":-1}"#), None),
            (jwt(r#"{"exp":-0.5}"#), None),
            (jwt(r#"{"exp":1e300}"#), Some(u64::MAX)),
            (jwt(r#"{"exp":"1700000000"}"#), None),
            (jwt(r#"{"exp":null}"#), None),
            (jwt(r#"{"exp":true}"#), None),
            (jwt(r#"{"sub":"alice"}"#), None),
            (jwt("[1700000000]"), None),
            (jwt("1700000000"), None),
            (jwt("not json"), None),
            (jwt(""), None),
            // Padding where none is due.
            (
                format!(
                    "{}.{}=.sig",
                    b64url(b"{}"),
                    b64url(br#"{"exp":1516239022}"#)
                ),
                None,
            ),
            ("opaque-token".into(), None),
            (String::new(), None),
            ("..".into(), None),
            ("a.b".into(), None),
            (format!("{}.", jwt(r#"{"exp":1}"#)), None),
            (format!("a.{}.c.d.e", b64url(br#"{"exp":1}"#)), None),
            (format!("a.{}!.c", b64url(br#"{"exp":1}"#)), None),
            (format!("a.{}.", b64url(br#"{"exp":5}"#)), Some(5)), // unsecured JWT: empty signature
        ];
        for (token, want) in table {
            assert_eq!(jwt_exp(&token), want, "{token}");
        }
    }

    #[test]
    fn padding_and_alphabets_are_tolerated() {
        // {"exp":1234567890,"x":"??>"} has '?' and '>' bytes that need the 62nd/63rd characters.
        let payload = br#"{"exp":1234567890,"x":"??>"}"#;
        let url = b64url(payload);
        assert!(url.contains('_') || url.contains('-'), "{url}");
        let std: String = url
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        let padded = format!("{url}{}", "=".repeat((4 - url.len() % 4) % 4));
        for p in [&url, &std, &padded] {
            assert_eq!(jwt_exp(&format!("h.{p}.s")), Some(1_234_567_890), "{p}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = jwt_exp(&s);
        }
    }
}
