//! A [`TokenSet`] as the JSON a store or another tab keeps: the same text as its serde form
//! (`access_token`, `refresh_token`, `issued_at`, `expires_at`, `refresh_expires_at`, times as
//! whole epoch milliseconds), written and read with the engine's own JSON code, so a driver
//! without a JSON library (the browser build) can persist and share tokens.

use zeroize::{Zeroize, Zeroizing};

use crate::parse::is_header_token;
use crate::parse::json::{self, Value};
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::tokens::TokenSet;

impl TokenSet {
    /// The set as JSON (what `serde_json::to_string` writes for it). The text holds the tokens:
    /// it is wiped when dropped.
    #[must_use]
    pub fn to_json(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            self.access_token.expose().len()
                + self.refresh_token.as_ref().map_or(0, |r| r.expose().len())
                + 140,
        ));
        out.extend_from_slice(b"{\"access_token\":");
        json::write_str(&mut out, self.access_token.expose());
        if let Some(r) = &self.refresh_token {
            out.extend_from_slice(b",\"refresh_token\":");
            json::write_str(&mut out, r.expose());
        }
        let times = [
            ("issued_at", Some(self.issued_at)),
            ("expires_at", Some(self.expires_at)),
            ("refresh_expires_at", self.refresh_expires_at),
        ];
        for (name, t) in times {
            if let Some(t) = t {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                write_u64(&mut out, t.as_millis());
            }
        }
        out.push(b'}');
        // Only ASCII and the tokens' own UTF-8 went in.
        Zeroizing::new(String::from_utf8(core::mem::take(&mut *out)).unwrap_or_default())
    }

    /// Reads a set written by [`TokenSet::to_json`] (or by serde, or by a browser's
    /// `JSON.stringify` of the same fields). `None` for anything else: not JSON, a missing or
    /// mistyped field, a token that cannot go in a header, a time that is not a whole number
    /// of milliseconds. What was read is wiped.
    #[must_use]
    pub fn from_json(text: &[u8]) -> Option<TokenSet> {
        let mut value = json::parse(text).ok()?;
        let set = fields(&mut value);
        value.wipe();
        set
    }
}

fn fields(v: &mut Value) -> Option<TokenSet> {
    let access_token = secret(v.take("access_token")?)?;
    let refresh_token = match v.take("refresh_token") {
        None | Some(Value::Null) => None,
        Some(r) => Some(secret(r)?),
    };
    let time = |name| match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => read_u64(n)
            .map(|ms| Some(Timestamp::from_millis(ms)))
            .ok_or(()),
        Some(_) => Err(()),
    };
    Some(TokenSet {
        access_token,
        refresh_token,
        issued_at: time("issued_at").ok()??,
        expires_at: time("expires_at").ok()??,
        refresh_expires_at: time("refresh_expires_at").ok()?,
    })
}

fn secret(v: Value) -> Option<Secret> {
    match v {
        Value::String(s) if is_header_token(&s) => Some(Secret::new(s)),
        Value::String(mut s) => {
            s.zeroize();
            None
        }
        other => {
            other.wipe();
            None
        }
    }
}

/// Plain digits that fit a `u64`.
fn read_u64(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(refresh: Option<&str>, refresh_exp: Option<u64>) -> TokenSet {
        TokenSet {
            access_token: Secret::new("a.b-c_d~e+f/g="),
            refresh_token: refresh.map(Secret::new),
            issued_at: Timestamp::from_millis(1_700_000_000_123),
            expires_at: Timestamp::from_millis(u64::MAX),
            refresh_expires_at: refresh_exp.map(Timestamp::from_millis),
        }
    }

    #[test]
    fn writes_what_serde_writes_and_reads_it_back() {
        for s in [
            set(None, None),
            set(Some("r\"t\\x"), None),
            set(Some("rt"), Some(0)),
        ] {
            let ours = s.to_json();
            assert_eq!(*ours, serde_json::to_string(&s).unwrap());
            assert_eq!(TokenSet::from_json(ours.as_bytes()), Some(s));
        }
    }

    #[test]
    fn reads_what_serde_and_browsers_write() {
        let s = set(Some("rt"), Some(5));
        let by_serde = serde_json::to_string(&s).unwrap();
        assert_eq!(TokenSet::from_json(by_serde.as_bytes()), Some(s.clone()));
        // JSON.stringify of the same fields, in another order, with nulls.
        let js = r#"{"expires_at":18446744073709551615,"issued_at":1700000000123,
            "access_token":"a.b-c_d~e+f/g=","refresh_token":"rt","refresh_expires_at":5}"#;
        assert_eq!(TokenSet::from_json(js.as_bytes()), Some(s));
        let nulls = r#"{"access_token":"x","refresh_token":null,"issued_at":1,"expires_at":2,"refresh_expires_at":null}"#;
        let got = TokenSet::from_json(nulls.as_bytes()).unwrap();
        assert_eq!((got.refresh_token, got.refresh_expires_at), (None, None));
    }

    #[test]
    fn refuses_what_is_not_a_usable_set() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"access_token":"x","issued_at":1}"#,
            r#"{"issued_at":1,"expires_at":2}"#,
            r#"{"access_token":"x y","issued_at":1,"expires_at":2}"#,
            r#"{"access_token":"","issued_at":1,"expires_at":2}"#,
            r#"{"access_token":7,"issued_at":1,"expires_at":2}"#,
            r#"{"access_token":"x","refresh_token":"a\nb","issued_at":1,"expires_at":2}"#,
            r#"{"access_token":"x","issued_at":1.5,"expires_at":2}"#,
            r#"{"access_token":"x","issued_at":-1,"expires_at":2}"#,
            r#"{"access_token":"x","issued_at":1e3,"expires_at":2}"#,
            r#"{"access_token":"x","issued_at":"1","expires_at":2}"#,
            r#"{"access_token":"x","issued_at":1,"expires_at":18446744073709551616}"#,
            r#"{"access_token":"x","issued_at":1,"expires_at":2,"refresh_expires_at":true}"#,
        ] {
            assert_eq!(TokenSet::from_json(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn debug_of_what_was_read_shows_no_token() {
        let s = TokenSet::from_json(br#"{"access_token":"s3cret","issued_at":1,"expires_at":2}"#)
            .unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
