//! Scripted bodies: what a body is ([`Body`]) and how it is produced, lazily, in bounded
//! chunks ([`segments`], [`Chunks`]), so no body is ever built whole in memory.

use axum::body::Bytes;
use serde::Deserialize;
use serde_json::Value;

/// A scripted body. Every body is produced in chunks as it is sent: none is built whole in
/// memory, however large.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// No body. JSON: `"empty"`.
    #[default]
    Empty,
    /// These UTF-8 bytes. JSON: `{"text": "..."}`.
    Text(String),
    /// These bytes. JSON: `{"base64": "..."}` (standard alphabet, padded).
    #[serde(rename = "base64", deserialize_with = "from_base64")]
    Bytes(Vec<u8>),
    /// This JSON value, serialized. JSON: `{"json": <any value>}`.
    Json(Value),
    /// `n` bytes of `a`. JSON: `{"huge": n}`.
    Huge(u64),
    /// `{"access_token":"aaa…","token_type":"Bearer","expires_in":3600}` whose access
    /// token is `n` bytes long. JSON: `{"huge_token": n}`.
    HugeToken(u64),
    /// `{"access_token":"aaa…` without end: chunks until the client goes away (always
    /// chunked). JSON: `"endless"`.
    Endless,
    /// `[` nested `n` deep, then as many `]`. JSON: `{"deep_json": n}`.
    DeepJson(u64),
}

fn from_base64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use base64::Engine as _;
    let s = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(serde::de::Error::custom)
}

/// [`from_base64`] for an optional field.
pub(crate) fn from_base64_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<u8>>, D::Error> {
    from_base64(d).map(Some)
}

/// Largest chunk a body is sent in: the most a streaming answer holds in memory.
pub(crate) const CHUNK: usize = 16 * 1024;

static FILL_A: [u8; CHUNK] = [b'a'; CHUNK];
static FILL_OPEN: [u8; CHUNK] = [b'['; CHUNK];
static FILL_CLOSE: [u8; CHUNK] = [b']'; CHUNK];

/// Filler bytes the bodies are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// `a`
    A,
    /// `[`
    Open,
    /// `]`
    Close,
}

impl Fill {
    fn bytes(self, n: usize) -> Bytes {
        let all: &'static [u8; CHUNK] = match self {
            Fill::A => &FILL_A,
            Fill::Open => &FILL_OPEN,
            Fill::Close => &FILL_CLOSE,
        };
        Bytes::from_static(&all[..n])
    }
}

/// A piece of a body: literal bytes, or a run of one filler byte (`None`: endless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Lit(Bytes),
    Fill(Fill, Option<u64>),
}

const TOKEN_HEAD: &[u8] = br#"{"access_token":""#;
const TOKEN_TAIL: &[u8] = br#"","token_type":"Bearer","expires_in":3600}"#;

/// The segments of `body` and the `Content-Type` that suits it.
pub(crate) fn segments(body: &Body) -> (Vec<Segment>, Option<&'static str>) {
    const JSON: Option<&str> = Some("application/json");
    const TEXT: Option<&str> = Some("text/plain; charset=utf-8");
    let lit = |b: Vec<u8>| Segment::Lit(Bytes::from(b));
    match body {
        Body::Empty => (Vec::new(), None),
        Body::Text(t) => (vec![lit(t.clone().into_bytes())], TEXT),
        Body::Bytes(b) => (vec![lit(b.clone())], Some("application/octet-stream")),
        Body::Json(v) => (vec![lit(serde_json::to_vec(v).unwrap_or_default())], JSON),
        Body::Huge(n) => (vec![Segment::Fill(Fill::A, Some(*n))], TEXT),
        Body::HugeToken(n) => (
            vec![
                Segment::Lit(Bytes::from_static(TOKEN_HEAD)),
                Segment::Fill(Fill::A, Some(*n)),
                Segment::Lit(Bytes::from_static(TOKEN_TAIL)),
            ],
            JSON,
        ),
        Body::Endless => (
            vec![
                Segment::Lit(Bytes::from_static(TOKEN_HEAD)),
                Segment::Fill(Fill::A, None),
            ],
            JSON,
        ),
        Body::DeepJson(n) => (
            vec![
                Segment::Fill(Fill::Open, Some(*n)),
                Segment::Fill(Fill::Close, Some(*n)),
            ],
            JSON,
        ),
    }
}

/// The length of a body made of `segments`; `None` if endless (or beyond `u64`).
pub(crate) fn total_len(segments: &[Segment]) -> Option<u64> {
    segments.iter().try_fold(0u64, |sum, s| match s {
        Segment::Lit(b) => sum.checked_add(b.len() as u64),
        Segment::Fill(_, n) => sum.checked_add((*n)?),
    })
}

/// Produces a body's chunks one at a time: never more than one chunk in memory.
#[derive(Debug)]
pub(crate) struct Chunks {
    segments: Vec<Segment>,
    index: usize,
    offset: u64,
    left: Option<u64>,
    chunk: usize,
}

impl Chunks {
    /// Chunks of at most `chunk` bytes, stopping after `limit` bytes if given.
    pub(crate) fn new(segments: Vec<Segment>, chunk: usize, limit: Option<u64>) -> Chunks {
        Chunks {
            segments,
            index: 0,
            offset: 0,
            left: limit,
            chunk: chunk.clamp(1, CHUNK),
        }
    }
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        loop {
            let seg = self.segments.get(self.index)?;
            let seg_len = match seg {
                Segment::Lit(b) => Some(b.len() as u64),
                Segment::Fill(_, n) => *n,
            };
            let rest = seg_len.map_or(u64::MAX, |l| l - self.offset);
            if rest == 0 {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let mut n = rest.min(self.chunk as u64);
            if let Some(left) = self.left {
                n = n.min(left);
                if n == 0 {
                    return None;
                }
                self.left = Some(left - n);
            }
            let out = match seg {
                Segment::Lit(b) => b.slice(self.offset as usize..(self.offset + n) as usize),
                Segment::Fill(f, _) => f.bytes(n as usize),
            };
            self.offset += n;
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(body: &Body, chunk: usize, limit: Option<u64>) -> (Vec<u8>, usize) {
        let (segs, _) = segments(body);
        let mut out = Vec::new();
        let mut n = 0;
        for c in Chunks::new(segs, chunk, limit) {
            assert!(c.len() <= chunk);
            out.extend_from_slice(&c);
            n += 1;
        }
        (out, n)
    }

    #[test]
    fn bodies_are_what_they_say() {
        let (b, _) = collect(&Body::HugeToken(40_000), CHUNK, None);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["access_token"].as_str().unwrap().len(), 40_000);
        assert_eq!(
            total_len(&segments(&Body::HugeToken(40_000)).0),
            Some(b.len() as u64)
        );
        let (b, _) = collect(&Body::DeepJson(3), CHUNK, None);
        assert_eq!(b, b"[[[]]]");
        let (b, n) = collect(&Body::Text("hello".into()), 2, None);
        assert_eq!((b.as_slice(), n), (&b"hello"[..], 3));
        let (b, _) = collect(&Body::Huge(100_000), CHUNK, Some(70_000));
        assert_eq!(b.len(), 70_000);
        assert!(collect(&Body::Empty, CHUNK, None).0.is_empty());
    }

    #[test]
    fn endless_bodies_keep_going_in_bounded_chunks() {
        let (segs, ct) = segments(&Body::Endless);
        assert_eq!((total_len(&segs), ct), (None, Some("application/json")));
        let mut c = Chunks::new(segs, CHUNK, None);
        assert_eq!(c.next().unwrap().as_ref(), TOKEN_HEAD);
        for _ in 0..1000 {
            assert_eq!(c.next().unwrap().len(), CHUNK);
        }
    }

    #[test]
    fn a_huge_length_does_not_overflow() {
        let segs = segments(&Body::HugeToken(u64::MAX)).0;
        assert_eq!(total_len(&segs), None);
        let mut c = Chunks::new(segs, CHUNK, None);
        assert_eq!(c.nth(3).unwrap().len(), CHUNK);
    }
}
