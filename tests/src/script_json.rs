//! The JSON form of a script, as `POST /_control/faults` takes it under `"script"`:
//!
//! ```json
//! {"route": "refresh", "count": 1, "status": 302,
//!  "headers": {"location": "http://127.0.0.2:9/x"}, "body": {"text": "moved"}}
//! ```
//!
//! The fields, and how they map onto [`Script`], are listed in the crate docs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::body::Body;
use crate::config::RouteKind;
use crate::script::{Answer, Rewrite, Script, Times};

/// One script: where, how many times, and what.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScriptSpec {
    route: RouteKind,
    #[serde(default)]
    count: CountSpec,
    status: Option<u16>,
    headers: Option<HeadersSpec>,
    body: Option<Body>,
    #[serde(default)]
    chunked: bool,
    truncate_at: Option<u64>,
    slow: Option<SlowSpec>,
    delay_ms: Option<u64>,
    connection: Option<ConnectionSpec>,
    real: Option<RealSpec>,
    raw: Option<String>,
    #[serde(default, deserialize_with = "crate::body::from_base64_opt")]
    raw_base64: Option<Vec<u8>>,
}

/// `N` (the next N requests; default 1) or `"always"` (until reset).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CountSpec {
    Next(u32),
    Word(Always),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Always {
    Always,
}

impl Default for CountSpec {
    fn default() -> Self {
        CountSpec::Next(1)
    }
}

/// `{"name": "value" | null}` or `[["name", "value" | null], ...]` (repeated names).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeadersSpec {
    Map(BTreeMap<String, Option<String>>),
    List(Vec<(String, Option<String>)>),
}

/// `{"chunk_bytes": k, "every_ms": d}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlowSpec {
    chunk_bytes: u32,
    every_ms: u64,
}

/// `"never"` or `"reset_after_request"`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ConnectionSpec {
    Never,
    ResetAfterRequest,
}

/// `{"set": {...}, "remove": [...], "exp_offset_secs": n}`, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RealSpec {
    #[serde(default)]
    set: Map<String, Value>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    exp_offset_secs: i64,
}

impl ScriptSpec {
    /// The route kind, how many requests, and the script; an error names a conflict.
    pub(crate) fn into_parts(self) -> Result<(RouteKind, Times, Script), String> {
        let times = match self.count {
            CountSpec::Next(n) => Times::Next(n),
            CountSpec::Word(Always::Always) => Times::Always,
        };
        let answer_fields = self.status.is_some()
            || self.headers.is_some()
            || self.body.is_some()
            || self.chunked
            || self.truncate_at.is_some()
            || self.slow.is_some()
            || self.delay_ms.is_some();
        let raw = match (self.raw, self.raw_base64) {
            (Some(_), Some(_)) => return Err("a script has raw or raw_base64, not both".into()),
            (Some(t), None) => Some(t.into_bytes()),
            (None, b) => b,
        };
        let kinds = usize::from(self.connection.is_some())
            + usize::from(self.real.is_some())
            + usize::from(raw.is_some());
        if kinds > 1 {
            return Err("a script has at most one of connection, real, raw".into());
        }
        if kinds == 1 && answer_fields {
            return Err(
                "connection, real and raw scripts take no status, headers or body fields".into(),
            );
        }
        if let Some(bytes) = raw {
            return Ok((self.route, times, Script::Raw(bytes)));
        }
        let script = match (self.connection, self.real) {
            // Both at once was refused above.
            (Some(ConnectionSpec::Never), _) => Script::Never,
            (Some(ConnectionSpec::ResetAfterRequest), _) => Script::ResetAfterRequest,
            (None, Some(r)) => Script::Real(Rewrite {
                set: r.set,
                remove: r.remove,
                exp_offset_secs: r.exp_offset_secs,
            }),
            (None, None) => {
                let mut a = Answer::new(self.status.unwrap_or(200))
                    .body(self.body.unwrap_or_default())
                    .delay(Duration::from_millis(self.delay_ms.unwrap_or(0)));
                let headers = match self.headers {
                    None => Vec::new(),
                    Some(HeadersSpec::Map(m)) => m.into_iter().collect(),
                    Some(HeadersSpec::List(l)) => l,
                };
                for (name, value) in headers {
                    a = match value {
                        Some(v) => a.header(&name, &v),
                        None => a.without_header(&name),
                    };
                }
                if self.chunked {
                    a = a.chunked();
                }
                if let Some(n) = self.truncate_at {
                    a = a.truncate_at(n);
                }
                if let Some(s) = self.slow {
                    a = a.slow(s.chunk_bytes, Duration::from_millis(s.every_ms));
                }
                Script::Answer(a)
            }
        };
        Ok((self.route, times, script))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<(RouteKind, Times, Script), String> {
        serde_json::from_value::<ScriptSpec>(v)
            .map_err(|e| e.to_string())?
            .into_parts()
    }

    #[test]
    fn counts_default_to_one_and_take_always() {
        let (k, t, _) = parse(json!({"route": "login", "status": 503})).unwrap();
        assert_eq!((k, t), (RouteKind::Login, Times::Next(1)));
        let (_, t, s) = parse(json!({"route": "protected", "count": "always",
                                     "connection": "never"}))
        .unwrap();
        assert_eq!(t, Times::Always);
        assert!(matches!(s, Script::Never));
        let (_, t, _) = parse(json!({"route": "any", "count": 3})).unwrap();
        assert_eq!(t, Times::Next(3));
    }

    #[test]
    fn bodies_and_real_rewrites_parse() {
        for body in [
            json!("endless"),
            json!("empty"),
            json!({"text": "x"}),
            json!({"base64": "AAEC"}),
            json!({"json": {"a": [1]}}),
            json!({"huge": 10}),
            json!({"huge_token": 10}),
            json!({"deep_json": 10}),
        ] {
            parse(json!({"route": "refresh", "body": body})).unwrap();
        }
        let (_, _, s) = parse(json!({"route": "refresh", "real": {
            "set": {"expires_in": "soon"}, "remove": ["refresh_token"], "exp_offset_secs": -5}}))
        .unwrap();
        let Script::Real(r) = s else { panic!() };
        let (_, _, s) = parse(json!({"route": "login", "raw_base64": "SFRUUA=="})).unwrap();
        assert!(matches!(s, Script::Raw(b) if b == b"HTTP"));
        assert_eq!(
            r,
            Rewrite::new()
                .set("expires_in", json!("soon"))
                .remove("refresh_token")
                .exp_offset(-5)
        );
    }

    #[test]
    fn conflicts_and_unknown_fields_are_refused() {
        for bad in [
            json!({"route": "login", "connection": "never", "status": 200}),
            json!({"route": "login", "real": {}, "body": "empty"}),
            json!({"route": "login", "real": {}, "connection": "never"}),
            json!({"route": "login", "raw": "x", "connection": "never"}),
            json!({"route": "login", "raw": "x", "raw_base64": "eA=="}),
            json!({"route": "login", "raw": "x", "status": 200}),
            json!({"route": "login", "count": "sometimes"}),
            json!({"route": "login", "body": {"base64": "!!"}}),
            json!({"route": "login", "bdy": "empty"}),
            json!({"status": 200}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
