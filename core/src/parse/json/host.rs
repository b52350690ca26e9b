//! JSON read by the driver's host (the `host-json` feature). A driver whose platform has its
//! own JSON parser (the npm package: `JSON.parse`) sets a function that hands the engine the
//! value of a JSON text; every JSON text the engine reads (token answers, error bodies, JWT
//! claims, stored and shared token sets) then goes to it instead of the engine's reader. Only
//! the tokenizer differs: the engine checks the body (empty, too large, HTML) before, and reads
//! and checks the fields of the value after, with the same code as with its own reader. On
//! wasm32 a build with this feature has no reader at all, which is what the feature is for
//! (the package's size).
//!
//! To read as the engine's reader does, a host refuses (answers `None` for) what the reader
//! refuses: bytes that are not UTF-8, lone surrogates (`"\ud800"`), nesting deeper than
//! [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH), and numbers that round to infinity as an
//! `f64`; it keeps every member of an object (the engine reads the last of repeated keys,
//! `JSON.parse` keeps only the last: the same), and writes each number as text that reads as a
//! decimal number (what JavaScript's `String(n)` writes does). What still differs is listed in
//! `bindings-js/README.md` ("Host JSON").

use core::cell::Cell;

use super::{Error, Value};

/// Reads one JSON text (the engine's input as it is, whitespace around the value allowed):
/// its value, or `None` when it is not JSON.
pub type HostJson = fn(&[u8]) -> Option<Value>;

std::thread_local! {
    static HOST: Cell<Option<HostJson>> = const { Cell::new(None) };
}

/// From now on, on this thread, every JSON text the engine reads is read by `host`; `None`
/// gives the engine's own reader back (in a wasm32 build with the `host-json` feature, which
/// has none, every JSON text is then refused).
pub fn read_json_with(host: Option<HostJson>) {
    HOST.with(|h| h.set(host));
}

/// The host set on this thread, if any.
pub(super) fn current() -> Option<HostJson> {
    HOST.with(Cell::get)
}

/// What a text the host refused is, as a syntax error (no position: the host's parser may
/// not give one, and its message may quote the text).
pub(super) const REFUSED: Error = Error {
    what: "refused by the host's json parser",
    line: 0,
    column: 0,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{MAX_JSON_DEPTH, MAX_LIFETIME};
    use crate::parse::{
        AuthErrorBody, InvalidAuthResponse, jwt_exp, parse_auth_error, parse_token_response,
    };
    use crate::tokens::TokenSet;

    /// `JSON.parse` as the npm package's shell uses it, emulated with serde_json: refuses what
    /// the shell refuses (serde_json already refuses invalid UTF-8, lone surrogates and numbers
    /// out of range; the depth is checked here), numbers written back from their `f64`.
    fn js(input: &[u8]) -> Option<Value> {
        fn convert(v: serde_json::Value, depth: usize) -> Option<Value> {
            Some(match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(_) => Value::Bool,
                serde_json::Value::Number(n) => Value::Number(n.as_f64()?.to_string()),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Array(_) | serde_json::Value::Object(_)
                    if depth >= MAX_JSON_DEPTH =>
                {
                    return None;
                }
                serde_json::Value::Array(items) => Value::Array(
                    items
                        .into_iter()
                        .map(|v| convert(v, depth + 1))
                        .collect::<Option<_>>()?,
                ),
                serde_json::Value::Object(members) => Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| Some((k, convert(v, depth + 1)?)))
                        .collect::<Option<_>>()?,
                ),
            })
        }
        // (serde_json's own nesting limit, 128, is above the one checked here.)
        convert(serde_json::from_slice(input).ok()?, 0)
    }

    /// The outcomes of one body, read by whoever is set.
    fn outcomes(body: &[u8]) -> (String, String, String, Option<TokenSet>) {
        let token = match parse_token_response(&http::HeaderMap::new(), body) {
            Ok(r) => format!(
                "ok {} {:?} {:?} {:?}",
                r.access_token.expose(),
                r.refresh_token.as_ref().map(crate::Secret::expose),
                r.expires_in,
                r.scope
            ),
            // The reader's syntax errors say where; the host's do not.
            Err(InvalidAuthResponse::NotJson { .. }) => "not json".into(),
            Err(e) => e.to_string(),
        };
        let error = format!("{:?}", parse_auth_error(body));
        let jwt = core::str::from_utf8(body)
            .ok()
            .map(|t| format!("{:?}", jwt_exp(t)))
            .unwrap_or_default();
        (token, error, jwt, TokenSet::from_json(body))
    }

    fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
            .collect()
    }

    #[test]
    fn a_host_reads_for_the_engine_on_its_thread_and_can_be_unset() {
        fn fixed(input: &[u8]) -> Option<Value> {
            (input == b"x").then(|| {
                Value::Object(vec![(
                    "access_token".into(),
                    Value::String("from-the-host".into()),
                )])
            })
        }
        read_json_with(Some(fixed));
        let got = parse_token_response(&http::HeaderMap::new(), b"x").unwrap();
        assert_eq!(got.access_token.expose(), "from-the-host");
        // What the host refuses is not JSON, whatever the engine's reader would say.
        let refused = parse_token_response(&http::HeaderMap::new(), br#"{"access_token":"a"}"#);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "response body is not json: refused by the host's json parser"
        );
        // Another thread has its own (none).
        let other = std::thread::spawn(|| {
            parse_token_response(&http::HeaderMap::new(), br#"{"access_token":"a"}"#).is_ok()
        });
        assert!(other.join().unwrap());
        read_json_with(None);
        assert!(parse_token_response(&http::HeaderMap::new(), br#"{"access_token":"a"}"#).is_ok());
    }

    /// Every body of the token_response, auth_error and jwt_exp fuzz corpora (and JWTs made
    /// of the json corpus) read by the engine's reader and by the emulated `JSON.parse`: the
    /// same outcomes, but for the differences `bindings-js/README.md` lists (here: numbers
    /// with more digits than an `f64` keeps; none of the corpus has one where it matters).
    /// The npm package's own path runs in js-tests/test/host-json.test.mjs.
    #[test]
    fn the_fuzz_corpora_read_the_same_by_the_reader_and_by_an_emulated_json_parse() {
        let mut bodies = Vec::new();
        for target in ["token_response", "auth_error", "jwt_exp", "json"] {
            bodies.extend(corpus(target));
        }
        for (name, body) in corpus("json") {
            let mut payload = Vec::new();
            crate::parse::base64::encode(&body, &mut payload);
            let token = [b"h.".as_slice(), &payload, b".s"].concat();
            bodies.push((format!("{name} as a JWT payload"), token));
        }
        assert!(bodies.len() > 600, "{} bodies", bodies.len());
        let mut different = 0;
        for (name, body) in &bodies {
            read_json_with(None);
            let reader = outcomes(body);
            read_json_with(Some(js));
            let host = outcomes(body);
            read_json_with(None);
            if reader != host {
                different += 1;
                eprintln!("{name}:\n  reader {reader:?}\n  host   {host:?}");
            }
        }
        assert_eq!(different, 0);
    }

    /// The one difference in what is decided (bindings-js/README.md, "Host JSON"): a number
    /// with more digits than an `f64` keeps is read as its nearest `f64`.
    #[test]
    fn numbers_past_an_f64_s_digits_round_with_the_host() {
        let ten_years = MAX_LIFETIME.as_secs();
        assert_eq!(ten_years, 315_360_000);
        let body = br#"{"access_token":"a","expires_in":315360000.00000001}"#;
        read_json_with(Some(js));
        let host = parse_token_response(&http::HeaderMap::new(), body).map(|r| r.expires_in);
        read_json_with(None);
        let reader = parse_token_response(&http::HeaderMap::new(), body).map(|r| r.expires_in);
        assert_eq!(host.unwrap(), Some(MAX_LIFETIME));
        assert!(reader.unwrap_err().to_string().contains("too large"));
        // Digits an f64 keeps read the same.
        for n in [
            "3600",
            "3600.5",
            "1e3",
            "0.0001",
            "315360000",
            "315360000.001",
        ] {
            let body = format!(r#"{{"access_token":"a","expires_in":{n}}}"#);
            read_json_with(Some(js));
            let host = format!(
                "{:?}",
                parse_token_response(&http::HeaderMap::new(), body.as_bytes())
                    .map(|r| r.expires_in)
            );
            read_json_with(None);
            let reader = format!(
                "{:?}",
                parse_token_response(&http::HeaderMap::new(), body.as_bytes())
                    .map(|r| r.expires_in)
            );
            assert_eq!(host, reader, "{n}");
        }
    }

    #[test]
    fn what_the_host_refuses_is_what_the_reader_refuses() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for (body, json) in [
            (deep(MAX_JSON_DEPTH), true),
            (deep(MAX_JSON_DEPTH + 1), false),
            (r#"{"a":"\ud800"}"#.into(), false),
            (r#"{"a":"\ud83d\ude00"}"#.into(), true),
            (r#"{"a":1e400}"#.into(), false),
            (r#"{"a":-1e400}"#.into(), false),
            (r#"{"a":1e308}"#.into(), true),
            ("\u{feff}{}".into(), false),
            ("{} x".into(), false),
        ] {
            read_json_with(Some(js));
            let host = super::super::parse(body.as_bytes()).is_ok();
            read_json_with(None);
            let reader = super::super::parse(body.as_bytes()).is_ok();
            assert_eq!((reader, host), (json, json), "{body:.40}");
        }
        assert!(matches!(
            parse_auth_error(b"\xff"),
            AuthErrorBody::Unrecognized
        ));
    }
}
