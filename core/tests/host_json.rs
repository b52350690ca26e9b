//! The engine reading JSON through a host's parser (the `host-json` feature, used by the npm
//! package: bindings-js/README.md, "Host JSON") against its own reader: what the host is
//! given, what it refuses, and the one difference in what is decided. `JSON.parse` is
//! emulated with serde_json here; the npm package's own path runs in
//! js-tests/test/host-json.test.mjs.

use tokenkeeper_core::TokenSet;
use tokenkeeper_core::fuzz_api::parse_json;
use tokenkeeper_core::limits::{MAX_JSON_DEPTH, MAX_LIFETIME};
use tokenkeeper_core::parse::{
    AuthErrorBody, InvalidAuthResponse, JsonValue as Value, jwt_exp, parse_auth_error,
    parse_token_response, read_json_with,
};

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
            r.refresh_token
                .as_ref()
                .map(tokenkeeper_core::Secret::expose),
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
    assert_eq!(base64url(br#"{"exp":1}"#), b"eyJleHAiOjF9");
    assert_eq!(base64url(b"ab"), b"YWI");
    for (name, body) in corpus("json") {
        let payload = base64url(&body);
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
            parse_token_response(&http::HeaderMap::new(), body.as_bytes()).map(|r| r.expires_in)
        );
        read_json_with(None);
        let reader = format!(
            "{:?}",
            parse_token_response(&http::HeaderMap::new(), body.as_bytes()).map(|r| r.expires_in)
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
        let host = parse_json(body.as_bytes()).is_ok();
        read_json_with(None);
        let reader = parse_json(body.as_bytes()).is_ok();
        assert_eq!((reader, host), (json, json), "{body:.40}");
    }
    assert!(matches!(
        parse_auth_error(b"\xff"),
        AuthErrorBody::Unrecognized
    ));
}

/// Base64url without padding (a JWT's parts).
fn base64url(bytes: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize]);
        }
    }
    out
}
