//! The JSON reader: a recursive descent over the bytes, strict like `serde_json`, depth-bounded
//! ([`MAX_JSON_DEPTH`]), wiping whatever it read when it fails (the input may hold tokens).

use zeroize::Zeroize;

use super::{Error, Value};
use crate::limits::MAX_JSON_DEPTH;
use crate::parse::decimal::{self, Reading};

/// Parses one JSON value; whitespace around it is allowed, anything else after it is not.
pub(super) fn parse(input: &[u8]) -> Result<Value, Error> {
    let mut r = Reader { input, pos: 0 };
    let value = r.value(0)?;
    r.skip_ws();
    if r.pos < input.len() {
        value.wipe();
        return Err(r.error("trailing characters"));
    }
    Ok(value)
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
        if !matches!(decimal::parse(text), Some(Reading::Number(d)) if !d.overflows_f64()) {
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
