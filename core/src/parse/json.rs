//! A small JSON reader and string writer (RFC 8259), enough for auth responses, JWT claims and
//! request bodies, so the engine needs no JSON library (it keeps the `.wasm` small).
//!
//! The reader is strict like `serde_json`: no trailing commas, comments, `NaN` or leading
//! zeros; strings must be UTF-8 without raw control characters, and `\u` escapes must pair
//! their surrogates. Numbers stay as their literal text (callers convert what they need), and
//! one that overflows an `f64` is refused. Nesting deeper than
//! [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH) is refused, so a hostile body cannot
//! exhaust the stack. A duplicate key's last value wins. Errors say what and where (line and
//! column), never which bytes. The reader is in `json/reader.rs`.

use zeroize::Zeroize;

#[cfg(feature = "host-json")]
mod host;
#[cfg_attr(all(feature = "host-json", target_arch = "wasm32"), allow(dead_code))]
mod reader;

#[cfg(feature = "host-json")]
pub use host::{HostJson, read_json_with};

/// A parsed JSON value (with the `host-json` feature, public as
/// [`JsonValue`](crate::parse::JsonValue): what a host's parser hands the engine).
#[cfg_attr(not(feature = "host-json"), allow(unreachable_pub))]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false` (which one is not needed).
    Bool,
    /// A number, as its literal text (valid JSON number syntax, finite as an `f64`).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members in document order (duplicates kept; lookups take the last).
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The member `key` of an object (the last one if repeated).
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|m| &m.1),
            _ => None,
        }
    }

    /// Takes the member `key` (the last one if repeated) out of an object.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        match self {
            Value::Object(members) => {
                let i = members.iter().rposition(|(k, _)| k == key)?;
                let (mut k, v) = members.remove(i);
                k.zeroize();
                Some(v)
            }
            _ => None,
        }
    }

    /// The JSON kind, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Wipes every string inside (tokens may sit in any field).
    pub(crate) fn wipe(self) {
        match self {
            Value::String(mut s) | Value::Number(mut s) => s.zeroize(),
            Value::Array(items) => items.into_iter().for_each(Value::wipe),
            Value::Object(members) => {
                for (mut k, v) in members {
                    k.zeroize();
                    v.wipe();
                }
            }
            Value::Null | Value::Bool => {}
        }
    }
}

/// A syntax error: what was wrong and where (1-based line and column); no input bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    /// What was expected or found.
    pub(crate) what: &'static str,
    /// Line of the error.
    pub(crate) line: usize,
    /// Column (in bytes) of the error.
    pub(crate) column: usize,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.line == 0 {
            // The host's parser refused it: no position.
            return f.write_str(self.what);
        }
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

/// Parses one JSON value; whitespace around it is allowed, anything else after it is not.
/// With the `host-json` feature and a host set for this thread ([`read_json_with`]), the host
/// reads it; on wasm32 that build has no reader of its own.
pub(crate) fn parse(input: &[u8]) -> Result<Value, Error> {
    #[cfg(feature = "host-json")]
    if let Some(read) = host::current() {
        return read(input).ok_or(host::REFUSED);
    }
    #[cfg(all(feature = "host-json", target_arch = "wasm32"))]
    return Err(host::REFUSED);
    #[cfg(not(all(feature = "host-json", target_arch = "wasm32")))]
    reader::parse(input)
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\t` ... or
/// `\u00XX` (as `serde_json` writes them), everything else as is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0C => b'f',
            0..0x20 => {
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xF)],
                ]);
                continue;
            }
            _ => {
                out.push(b);
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', short]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_JSON_DEPTH;

    fn ok(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn reads_every_kind() {
        let v = ok(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "a": "last"} "#);
        assert_eq!(v.get("a").and_then(Value::as_str), Some("last"));
        assert_eq!(
            v.get("b").and_then(|b| b.get("c")).and_then(Value::as_str),
            Some("d")
        );
        let Value::Object(members) = &v else { panic!() };
        let Value::Array(items) = &members[0].1 else {
            panic!()
        };
        let kinds: Vec<_> = items.iter().map(Value::kind).collect();
        assert_eq!(kinds, ["number", "number", "boolean", "boolean", "null"]);
        let Value::Number(n) = &items[1] else {
            panic!()
        };
        assert_eq!(n, "-2.5e3");
    }

    #[test]
    fn unescapes_strings() {
        let table = [
            (r#""a\"b\\c\/d""#, "a\"b\\c/d"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u0000""#, "é\0"),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""\uD83D\uDE00x""#, "😀x"),
            ("\"é😀\"", "é😀"),
        ];
        for (json, want) in table {
            assert_eq!(ok(json).as_str(), Some(want), "{json}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        let nested_ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse(nested_ok.as_bytes()).is_ok());
        let too_deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        let table: Vec<&[u8]> = vec![
            b"",
            b" ",
            b"{",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{a:1}",
            b"[1 2]",
            b"01",
            b"-",
            b"1.",
            b".5",
            b"1e",
            b"+1",
            b"1e400",
            b"-1e400",
            b"NaN",
            b"nul",
            b"truex",
            b"\"abc",
            b"\"a\nb\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\ud800\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\udc00\"",
            b"\"\xff\"",
            b"\xef\xbb\xbf{}",
            b"{} {}",
            b"[\"\x7f\x80\"]",
            too_deep.as_bytes(),
        ];
        for json in table {
            assert!(parse(json).is_err(), "{:?}", String::from_utf8_lossy(json));
        }
    }

    #[test]
    fn errors_say_where_not_what() {
        let Err(e) = parse(b"{\n  \"access_token\": \"SECRET\" x}") else {
            panic!("accepted")
        };
        assert_eq!((e.line, e.column), (2, 28));
        let text = e.to_string();
        assert!(text.ends_with("at line 2 column 28"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn writes_strings_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "q\"b\\s/",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "é😀",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
            assert_eq!(ok(core::str::from_utf8(&out).unwrap()).as_str(), Some(s));
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_serde_json_on_validity(s in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,40}") {
            let ours = parse(s.as_bytes()).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&s).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{}", s);
        }

        #[test]
        fn agrees_with_serde_json_on_escapes(
            s in "\"([a-z\u{e9}]|\\\\[\"\\\\/bfnrtux]|\\\\u[dD]?[0-9a-fA-F]{1,4}){0,6}\"",
        ) {
            let ours = parse(s.as_bytes()).ok().map(|v| v.as_str().map(str::to_owned));
            let theirs = serde_json::from_str::<serde_json::Value>(&s)
                .ok()
                .map(|v| v.as_str().map(str::to_owned));
            proptest::prop_assert_eq!(ours, theirs, "{}", s);
        }

        #[test]
        fn strings_round_trip(s in "\\PC{0,40}") {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            let back = parse(&out).unwrap();
            proptest::prop_assert_eq!(back.as_str(), Some(s.as_str()));
        }
    }
}
