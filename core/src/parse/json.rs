//! A small JSON reader and string writer (RFC 8259), enough for auth responses, JWT claims and
//! request bodies, so the engine needs no JSON library (it keeps the `.wasm` small).
//!
//! The reader is strict like `serde_json`: no trailing commas, comments, `NaN` or leading
//! zeros; strings must be UTF-8 without raw control characters, and `\u` escapes must pair
//! their surrogates. Numbers stay as their literal text (callers convert what they need), and
//! one that overflows an `f64` is refused. Nesting deeper than [`MAX_JSON_DEPTH`] is refused, so a
//! hostile body cannot exhaust the stack. A duplicate key's last value wins. Errors say what
//! and where (line and column), never which bytes.

use zeroize::Zeroize;

use super::decimal::Reading;
use crate::limits::MAX_JSON_DEPTH;

/// A parsed JSON value.
pub(crate) enum Value {
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
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

/// Parses one JSON value; whitespace around it is allowed, anything else after it is not.
pub(crate) fn parse(input: &[u8]) -> Result<Value, Error> {
    let mut r = Reader { input, pos: 0 };
    let value = r.value(0)?;
    r.skip_ws();
    if r.pos < input.len() {
        value.wipe();
        return Err(r.error("trailing characters"));
    }
    Ok(value)
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

/// The reader's position in its input.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, what: &'static str) -> Error {
        let before = &self.input[..self.pos.min(self.input.len())];
        #[allow(clippy::naive_bytecount)] // an error path, once per body
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Error {
            what,
            line,
            column: before.len() - line_start + 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `word` (after its first byte was seen).
    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, Error> {
        for &b in word {
            match self.peek() {
                Some(c) if c == b => self.pos += 1,
                Some(_) => return Err(self.error("expected ident")),
                None => return Err(self.error("EOF while parsing a value")),
            }
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool),
            Some(b'f') => self.literal(b"false", Value::Bool),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[' | b'{') if depth >= MAX_JSON_DEPTH => {
                Err(self.error("recursion limit exceeded"))
            }
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(_) => Err(self.error("expected value")),
        }
    }

    /// After a value in an array or object: `true` at `close`, `false` after a `,`.
    fn end_or_comma(&mut self, close: u8, what: &'static str) -> Result<bool, Error> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.error(what)),
            None => Err(self.error("EOF while parsing a value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            match self.value(depth) {
                Ok(v) => items.push(v),
                Err(e) => return Err(wiped(Value::Array(items), e)),
            }
            match self.end_or_comma(b']', "expected `,` or `]`") {
                Ok(true) => return Ok(Value::Array(items)),
                Ok(false) => {}
                Err(e) => return Err(wiped(Value::Array(items), e)),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            match self.member(depth) {
                Ok(m) => members.push(m),
                Err(e) => return Err(wiped(Value::Object(members), e)),
            }
            match self.end_or_comma(b'}', "expected `,` or `}`") {
                Ok(true) => return Ok(Value::Object(members)),
                Ok(false) => {}
                Err(e) => return Err(wiped(Value::Object(members), e)),
            }
        }
    }

    /// `"key": value`.
    fn member(&mut self, depth: usize) -> Result<(String, Value), Error> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return Err(self.error("key must be a string")),
            None => return Err(self.error("EOF while parsing an object")),
        }
        let mut key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            key.zeroize();
            return Err(self.error(if self.peek().is_some() {
                "expected `:`"
            } else {
                "EOF while parsing an object"
            }));
        }
        self.pos += 1;
        match self.value(depth) {
            Ok(v) => Ok((key, v)),
            Err(e) => {
                key.zeroize();
                Err(e)
            }
        }
    }

    /// A string, from its opening quote; what was read is wiped on error.
    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let mut out = Vec::new();
        match self.string_into(&mut out) {
            Ok(()) => String::from_utf8(out).map_err(|e| {
                e.into_bytes().zeroize();
                self.error("invalid unicode code point")
            }),
            Err(what) => {
                out.zeroize();
                Err(self.error(what))
            }
        }
    }

    /// The string's bytes, unescaped, up to and past its closing quote.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        loop {
            let b = self.peek().ok_or(EOF_STRING)?;
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0..0x20 => {
                    return Err("control character (\\u0000-\\u001F) found while parsing a string");
                }
                b => {
                    self.pos += 1;
                    out.push(b);
                }
            }
        }
    }

    /// One escape, after its `\`.
    fn escape(&mut self) -> Result<char, &'static str> {
        const SURROGATE: &str = "lone surrogate in \\u escape";
        let b = self.peek().ok_or(EOF_STRING)?;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.pos += 1;
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(SURROGATE);
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(SURROGATE);
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(SURROGATE),
                    c => c,
                };
                return char::from_u32(code).ok_or(SURROGATE);
            }
            _ => return Err("invalid escape"),
        })
        .inspect(|_| self.pos += 1)
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, &'static str> {
        let mut code = 0;
        for _ in 0..4 {
            let b = self.peek().ok_or(EOF_STRING)?;
            let digit = char::from(b).to_digit(16).ok_or("invalid \\u escape")?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        // Only ASCII digits, signs, `.` and `e` were consumed.
        let text = core::str::from_utf8(&self.input[start..self.pos]).unwrap_or_default();
        if !matches!(super::decimal::parse(text), Some(Reading::Number(d)) if !d.overflows_f64()) {
            return Err(self.error("number out of range"));
        }
        Ok(Value::Number(text.into()))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

/// The message for a string cut short.
const EOF_STRING: &str = "EOF while parsing a string";

/// Wipes a partly read container and passes the error on.
fn wiped(partial: Value, e: Error) -> Error {
    partial.wipe();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

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
