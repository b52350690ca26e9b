//! Scripted answers: what a login, refresh or protected request gets instead of the server
//! doing its work (or on top of it), for hostile-answer tests. [`Control::script`] queues
//! them; `POST /_control/faults` takes the same thing as JSON (see the crate docs).
//!
//! [`Control::script`]: crate::Control::script

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use crate::body::{self, Body, Segment};
use crate::config::RouteKind;

/// How many requests a script answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// The next `n` requests of its route kind (0: none).
    Next(u32),
    /// Every request of its route kind until the faults are reset.
    Always,
}

/// What a scripted request gets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Script {
    /// This answer, instead of doing the work.
    Answer(Answer),
    /// The work done as usual (a real login or refresh whose tokens the protected routes
    /// accept), its JSON answer rewritten when it succeeds. Login and refresh routes only.
    Real(Rewrite),
    /// Read the request, never answer; the connection stays open until the client closes
    /// it (then the server forgets it).
    Never,
    /// Read the whole request, then reset the connection: a TCP RST (`SO_LINGER` 0), not a
    /// clean FIN.
    ResetAfterRequest,
    /// Read the request, write these bytes on the socket as they are (anything: a broken
    /// status line, two `Content-Length`s, a bare LF, a 1xx before the answer, not HTTP at
    /// all), then close the connection (FIN).
    Raw(Vec<u8>),
}

/// A scripted HTTP answer: status, headers, body, and how the body is sent.
///
/// `Content-Type` defaults to what suits the body (`application/json` for JSON-like
/// bodies, `text/plain; charset=utf-8` for text and `huge`, `application/octet-stream` for
/// bytes, none when empty); any header named here replaces the server's own of that name.
/// `Content-Length` is declared for every finite body unless [`Answer::chunked`]; `Date` is
/// added by the server unless given.
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    headers: Vec<(String, Option<String>)>,
    body: Body,
    chunked: bool,
    truncate_at: Option<u64>,
    slow: Option<(u32, Duration)>,
    delay: Duration,
}

/// How to rewrite the JSON answer of a real login or refresh (a [`Script::Real`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rewrite {
    pub(crate) set: Map<String, Value>,
    pub(crate) remove: Vec<String>,
    pub(crate) exp_offset_secs: i64,
}

impl Rewrite {
    /// No change yet.
    pub fn new() -> Self {
        Rewrite::default()
    }

    /// Sets top-level field `name` to `value` (any JSON: `expires_in` as `-5`, `"3600"`,
    /// `1e30`, `null`; `token_type` as `"mac"`; an `access_token` with CR/LF...). A token
    /// replaced so is of course not accepted later.
    #[must_use]
    pub fn set(mut self, name: &str, value: Value) -> Self {
        self.set.insert(name.to_owned(), value);
        self
    }

    /// Removes top-level field `name` (e.g. `expires_in`, `refresh_token`).
    #[must_use]
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }

    /// Shifts the `exp` claim of the issued access token by `secs` (negative: the past),
    /// while the server keeps honouring the token's real lifetime.
    #[must_use]
    pub fn exp_offset(mut self, secs: i64) -> Self {
        self.exp_offset_secs = secs;
        self
    }
}

impl Answer {
    /// An answer with `status` (200..=999), no extra headers and an empty body.
    pub fn new(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            chunked: false,
            truncate_at: None,
            slow: None,
            delay: Duration::ZERO,
        }
    }

    /// Adds header `name: value`; several of one name are all sent, in order.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), Some(value.to_owned())));
        self
    }

    /// Sends no `name` header at all (e.g. no `Content-Type`).
    #[must_use]
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.push((name.to_owned(), None));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Sends the body chunked, without `Content-Length`.
    #[must_use]
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    /// Declares the whole body's length but sends only its first `n` bytes, then closes the
    /// connection.
    #[must_use]
    pub fn truncate_at(mut self, n: u64) -> Self {
        self.truncate_at = Some(n);
        self
    }

    /// Sends the body `chunk_bytes` at a time, waiting `every` before each chunk after the
    /// first.
    #[must_use]
    pub fn slow(mut self, chunk_bytes: u32, every: Duration) -> Self {
        self.slow = Some((chunk_bytes, every));
        self
    }

    /// Reads the request, waits `d`, then sends the head (slow headers).
    #[must_use]
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

impl From<Answer> for Script {
    fn from(a: Answer) -> Script {
        Script::Answer(a)
    }
}

impl From<Rewrite> for Script {
    fn from(r: Rewrite) -> Script {
        Script::Real(r)
    }
}

/// Why a script was refused (nothing was queued).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptError {
    /// The status is not between 200 and 999.
    Status(u16),
    /// A header name is not a valid HTTP field name.
    HeaderName(String),
    /// The value of this header is not a valid field value (CR, LF, NUL...).
    HeaderValue(String),
    /// `Content-Length` or `Transfer-Encoding` was given; the server frames the body.
    Framing(String),
    /// `truncate_at` is not shorter than the body, or the body is endless.
    Truncate,
    /// `slow` with zero bytes per chunk.
    SlowChunk,
    /// A [`Script::Real`] for the protected routes, which have nothing to rewrite.
    RealOnProtected,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Status(s) => write!(f, "status {s} is not between 200 and 999"),
            ScriptError::HeaderName(n) => write!(f, "{n:?} is not a valid header name"),
            ScriptError::HeaderValue(n) => write!(f, "the value of header {n:?} is not valid"),
            ScriptError::Framing(n) => write!(
                f,
                "header {n:?} is set by the server; use chunked or truncate_at instead"
            ),
            ScriptError::Truncate => f.write_str("truncate_at must be shorter than a finite body"),
            ScriptError::SlowChunk => f.write_str("slow needs at least one byte per chunk"),
            ScriptError::RealOnProtected => {
                f.write_str("a real answer can only be scripted for login and refresh routes")
            }
        }
    }
}

impl std::error::Error for ScriptError {}

/// A validated script, cheap to clone into each request it answers.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    Answer(Arc<Prepped>),
    Real(Arc<Rewrite>),
    Never,
    Reset,
    Raw(axum::body::Bytes),
}

/// A validated [`Answer`]: everything computed once, when it is queued.
#[derive(Debug)]
pub(crate) struct Prepped {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) segments: Vec<Segment>,
    /// Bytes to send before ending the body (`None`: all of it).
    pub(crate) send_limit: Option<u64>,
    pub(crate) chunk_bytes: usize,
    pub(crate) every: Option<Duration>,
    pub(crate) delay: Duration,
}

/// Checks `script` for routes of `kind` and computes what each answer needs.
pub(crate) fn prepare(kind: RouteKind, script: Script) -> Result<Prepared, ScriptError> {
    Ok(match script {
        Script::Never => Prepared::Never,
        Script::ResetAfterRequest => Prepared::Reset,
        Script::Raw(b) => Prepared::Raw(b.into()),
        Script::Real(_) if kind.covers(RouteKind::Protected) => {
            return Err(ScriptError::RealOnProtected);
        }
        Script::Real(r) => Prepared::Real(Arc::new(r)),
        Script::Answer(a) => Prepared::Answer(Arc::new(prep_answer(&a)?)),
    })
}

fn prep_answer(a: &Answer) -> Result<Prepped, ScriptError> {
    let status = (200..=999)
        .contains(&a.status)
        .then(|| StatusCode::from_u16(a.status).ok())
        .flatten()
        .ok_or(ScriptError::Status(a.status))?;
    let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let (segments, content_type) = if no_body {
        (Vec::new(), None)
    } else {
        body::segments(&a.body)
    };
    let total = body::total_len(&segments);
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    let mut named: Vec<HeaderName> = Vec::new();
    for (name, value) in &a.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ScriptError::HeaderName(name.clone()))?;
        if n == header::CONTENT_LENGTH || n == header::TRANSFER_ENCODING {
            return Err(ScriptError::Framing(name.clone()));
        }
        if !named.contains(&n) {
            headers.remove(&n);
            named.push(n.clone());
        }
        if let Some(v) = value {
            let v = HeaderValue::from_bytes(v.as_bytes())
                .map_err(|_| ScriptError::HeaderValue(name.clone()))?;
            headers.append(n, v);
        }
    }
    if let Some(at) = a.truncate_at
        && total.is_none_or(|t| at >= t)
    {
        return Err(ScriptError::Truncate);
    }
    if !no_body
        && !a.chunked
        && let Some(t) = total
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(t));
    }
    let (chunk_bytes, every) = match a.slow {
        None => (body::CHUNK, None),
        Some((0, _)) => return Err(ScriptError::SlowChunk),
        Some((k, d)) => ((k as usize).min(body::CHUNK), Some(d)),
    };
    Ok(Prepped {
        status,
        headers,
        segments,
        send_limit: a.truncate_at,
        chunk_bytes,
        every,
        delay: a.delay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepped(a: Answer) -> Prepped {
        match prepare(RouteKind::Login, a.into()).unwrap() {
            Prepared::Answer(p) => Arc::into_inner(p).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers_replace_the_defaults_and_repeat_in_order() {
        let p = prepped(
            Answer::new(200)
                .body(Body::Json(serde_json::json!({"a": 1})))
                .header("content-type", "text/html")
                .header("x-a", "1")
                .header("X-A", "2"),
        );
        assert_eq!(p.headers["content-type"], "text/html");
        let xa: Vec<_> = p.headers.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(p.headers["content-length"], "7");
        let p = prepped(
            Answer::new(200)
                .body(Body::Text("x".into()))
                .without_header("content-type"),
        );
        assert!(p.headers.get("content-type").is_none());
        let p = prepped(Answer::new(200).body(Body::Huge(10)).chunked());
        assert!(p.headers.get("content-length").is_none());
    }

    #[test]
    fn bad_scripts_are_refused() {
        let refused = |kind, s: Script| prepare(kind, s).unwrap_err();
        let l = RouteKind::Login;
        assert_eq!(refused(l, Answer::new(99).into()), ScriptError::Status(99));
        assert_eq!(
            refused(l, Answer::new(101).into()),
            ScriptError::Status(101)
        );
        assert!(matches!(
            refused(l, Answer::new(200).header("bad name", "x").into()),
            ScriptError::HeaderName(_)
        ));
        assert!(matches!(
            refused(l, Answer::new(200).header("x", "a\r\nb").into()),
            ScriptError::HeaderValue(_)
        ));
        assert!(matches!(
            refused(l, Answer::new(200).header("content-length", "5").into()),
            ScriptError::Framing(_)
        ));
        let t = Answer::new(200).body(Body::Text("abc".into()));
        assert_eq!(
            refused(l, t.clone().truncate_at(3).into()),
            ScriptError::Truncate
        );
        assert_eq!(
            refused(
                l,
                Answer::new(200).body(Body::Endless).truncate_at(3).into()
            ),
            ScriptError::Truncate
        );
        assert_eq!(
            refused(l, t.slow(0, Duration::ZERO).into()),
            ScriptError::SlowChunk
        );
        assert_eq!(
            refused(RouteKind::Protected, Rewrite::new().into()),
            ScriptError::RealOnProtected
        );
        assert_eq!(
            refused(RouteKind::Any, Rewrite::new().into()),
            ScriptError::RealOnProtected
        );
    }
}
