//! JSON read by the shell's `JSON.parse` (the engine's `host-json` seam: the module has no JSON
//! reader of its own). Before an input that makes the engine read JSON (an auth answer, the
//! JWT payloads of the tokens in it, a stored or shared token set) the shell offers each text
//! it read with the value `JSON.parse` made of it ([`offer`], op 24 of `call`); while the input
//! runs, the engine's reads find the value offered for exactly their text ([`host`]); a text
//! nobody offered (the shell offers only what `JSON.parse` and its checks accept) is not JSON.
//! The offers are wiped at the end of the input ([`clear`]). What still reads differently
//! from the engine's reader is in `bindings-js/README.md` ("Host JSON").
//!
//! An offer's value comes as text (`jsonTree` in `bindings-js/js/json.js`): `n` null, `b` a
//! boolean, `#len:text` a number (JavaScript's `String(n)`), `slen:text` a string, `[len:`
//! and its items an array, `{len:` and its members (`len:key` and a value) an object; every
//! `len` in decimal, of a text in UTF-8 bytes.

use std::sync::{Mutex, PoisonError};

use tokenkeeper_core::limits::MAX_JSON_DEPTH;
use tokenkeeper_core::parse::JsonValue as Value;
use zeroize::Zeroizing;

/// An offered text and its value.
type Offer = (Zeroizing<Vec<u8>>, Zeroizing<String>);

/// The offers for the next input. Not in the module's `State`, which is held while the engine
/// reads.
static OFFERS: Mutex<Vec<Offer>> = Mutex::new(Vec::new());

/// Offers `text` read as `tree` for the next input.
pub(crate) fn offer(text: &str, tree: &str) {
    OFFERS.lock().unwrap_or_else(PoisonError::into_inner).push((
        Zeroizing::new(text.as_bytes().to_vec()),
        Zeroizing::new(tree.to_owned()),
    ));
}

/// Wipes the offers (after every input).
pub(crate) fn clear() {
    OFFERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// The engine's JSON reader in this module ([`read_json_with`]): the value offered for
/// exactly `input` (taken: an offer is read once), or `None`.
///
/// [`read_json_with`]: tokenkeeper_core::parse::read_json_with
pub(crate) fn host(input: &[u8]) -> Option<Value> {
    let mut offers = OFFERS.lock().unwrap_or_else(PoisonError::into_inner);
    let i = offers.iter().position(|(text, _)| text[..] == *input)?;
    let (_, tree) = offers.swap_remove(i);
    let mut rest = tree.as_bytes();
    value(&mut rest, 0).filter(|_| rest.is_empty())
}

/// A decimal length, up to its `:`.
fn len(b: &mut &[u8]) -> Option<usize> {
    let mut n = 0usize;
    loop {
        let (&d, rest) = b.split_first()?;
        *b = rest;
        if d == b':' {
            return Some(n);
        }
        if !d.is_ascii_digit() || n > u32::MAX as usize {
            return None;
        }
        n = n * 10 + usize::from(d - b'0');
    }
}

/// `len:text`.
fn text(b: &mut &[u8]) -> Option<String> {
    let n = len(b)?;
    let (s, rest) = b.split_at_checked(n)?;
    *b = rest;
    String::from_utf8(s.to_vec()).ok()
}

fn value(b: &mut &[u8], depth: usize) -> Option<Value> {
    let (&tag, rest) = b.split_first()?;
    *b = rest;
    Some(match tag {
        b'n' => Value::Null,
        b'b' => Value::Bool,
        b'#' => Value::Number(text(b)?),
        b's' => Value::String(text(b)?),
        b'[' | b'{' if depth >= MAX_JSON_DEPTH => return None,
        b'[' => {
            let mut items = Vec::new();
            for _ in 0..len(b)? {
                items.push(value(b, depth + 1)?);
            }
            Value::Array(items)
        }
        b'{' => {
            let mut members = Vec::new();
            for _ in 0..len(b)? {
                let key = text(b)?;
                members.push((key, value(b, depth + 1)?));
            }
            Value::Object(members)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenkeeper_core::parse::{parse_token_response, read_json_with};

    /// The form `jsonTree` writes, for the tests.
    enum T<'a> {
        Null,
        Num(&'a str),
        Str(&'a str),
        Arr(Vec<T<'a>>),
        Obj(Vec<(&'a str, T<'a>)>),
    }

    fn tree(t: &T<'_>) -> String {
        let str = |s: &str| format!("{}:{s}", s.len());
        match t {
            T::Null => "n".into(),
            T::Num(n) => format!("#{}", str(n)),
            T::Str(s) => format!("s{}", str(s)),
            T::Arr(items) => format!(
                "[{}:{}",
                items.len(),
                items.iter().map(tree).collect::<String>()
            ),
            T::Obj(members) => format!(
                "{{{}:{}",
                members.len(),
                members
                    .iter()
                    .map(|(k, v)| str(k) + &tree(v))
                    .collect::<String>()
            ),
        }
    }

    fn offered(text: &str, t: &T<'_>) {
        offer(text, &tree(t));
    }

    // One test: the offers are one global list (as in the module).
    #[test]
    fn offered_values_are_read_once_for_exactly_their_text_then_wiped() {
        read_json_with(Some(host));
        let body = r#"{"access_token":"a.b.c","expires_in":60,"scope":["x","y"]}"#;
        let value = T::Obj(vec![
            ("access_token", T::Str("from-the-offer")),
            ("expires_in", T::Num("1e+2")),
            ("scope", T::Arr(vec![T::Str("x"), T::Null, T::Str("y")])),
        ]);
        offered("something else", &T::Null);
        offered(body, &value);
        let r = parse_token_response(&http::HeaderMap::new(), body.as_bytes()).unwrap();
        assert_eq!(r.access_token.expose(), "from-the-offer");
        assert_eq!(r.expires_in, Some(core::time::Duration::from_secs(100)));
        assert_eq!(r.scope.as_deref(), Some("x y"));
        // Read once: the same text again is not JSON.
        assert!(parse_token_response(&http::HeaderMap::new(), body.as_bytes()).is_err());
        // Trimmed as the engine trims it before reading.
        offered(body, &value);
        let padded = format!(" \n{body}\t");
        assert!(parse_token_response(&http::HeaderMap::new(), padded.as_bytes()).is_ok());
        // Cleared: gone.
        offered(body, &value);
        clear();
        assert!(parse_token_response(&http::HeaderMap::new(), body.as_bytes()).is_err());
        // A malformed form, or one with bytes left over, or too deep, reads as not JSON.
        for bad in [
            "x",
            "s9:a",
            "nn",
            "s1a",
            "[2:n",
            "s-1:a",
            "s99999999999999999999999:a",
        ] {
            offer("x", bad);
            assert!(host(b"x").is_none(), "{bad:?}");
        }
        // Lengths count UTF-8 bytes.
        offered("u", &T::Str("é😀x"));
        assert_eq!(
            host(b"u")
                .and_then(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .as_deref(),
            Some("é😀x")
        );
        let mut deep = T::Null;
        for _ in 0..=MAX_JSON_DEPTH {
            deep = T::Arr(vec![deep]);
        }
        offered("d", &deep);
        assert!(host(b"d").is_none());
        let T::Arr(mut inner) = deep else { panic!() };
        offered("d", &inner.pop().unwrap());
        assert!(host(b"d").is_some());
        read_json_with(None);
    }
}
