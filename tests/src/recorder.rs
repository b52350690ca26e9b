//! The recorder: every request no route matches, and any request under `/_record/`, is
//! answered `200 {"recorded":true}` and remembered, so an origin-leak test can ask a second
//! server (another loopback origin) what reached it and whether it carried credentials.
//!
//! Only the method, the path with its query, whether an `Authorization` header came, its
//! scheme word and the `Origin` header are kept: never the credential itself.

use std::sync::Mutex;

use axum::http::{HeaderMap, Method, Uri, header};
use serde::{Deserialize, Serialize};

/// How many requests the recorder keeps; later ones are counted
/// ([`Counters::recorded_requests`](crate::Counters::recorded_requests)) but not kept.
pub const MAX_RECORDED: usize = 10_000;

/// Longest scheme word reported; a longer first word is not reported.
const MAX_SCHEME_LEN: usize = 32;

/// One request seen by the recorder (`GET /_control/recorded` lists them as JSON objects
/// with these field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recorded {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The path and query as received, e.g. `/steal?x=1`.
    pub path: String,
    /// Whether the request carried an `Authorization` header.
    pub authorization: bool,
    /// The header's scheme word (`Bearer`, `Basic`, ...) when the value is a word followed
    /// by whitespace and more; `None` for a single word, which might be a bare credential.
    pub scheme: Option<String>,
    /// The `Origin` header, if any (which page sent the request).
    pub origin: Option<String>,
}

/// The requests recorded since start (or the last reset), at most [`MAX_RECORDED`].
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Vec<Recorded>>);

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `r` unless the recorder is full.
    pub(crate) fn push(&self, r: Recorded) {
        let mut list = self.lock();
        if list.len() < MAX_RECORDED {
            list.push(r);
        }
    }

    /// A copy of what was recorded, oldest first.
    pub(crate) fn list(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// Forgets everything recorded.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

/// The scheme word of an `Authorization` value: a token (RFC 9110 §5.6.2) followed by
/// whitespace and something else. A lone word is not reported: it may be the credential.
fn scheme_word(value: &[u8]) -> Option<String> {
    let end = value.iter().position(|b| *b == b' ' || *b == b'\t')?;
    let (word, rest) = value.split_at(end);
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let has_more = rest.iter().any(|b| *b != b' ' && *b != b'\t');
    (has_more && !word.is_empty() && word.len() <= MAX_SCHEME_LEN && word.iter().all(is_tchar))
        .then(|| String::from_utf8_lossy(word).into_owned())
}

/// What the recorder keeps of a request: never the credential.
pub(crate) fn seen(method: &Method, uri: &Uri, headers: &HeaderMap) -> Recorded {
    let auth = headers.get(header::AUTHORIZATION);
    Recorded {
        method: method.as_str().to_owned(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        authorization: auth.is_some(),
        scheme: auth.and_then(|v| scheme_word(v.as_bytes())),
        origin: headers
            .get(header::ORIGIN)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_scheme_word_followed_by_more_is_reported() {
        assert_eq!(scheme_word(b"Bearer abc.def"), Some("Bearer".to_owned()));
        assert_eq!(scheme_word(b"Basic\tYWxp"), Some("Basic".to_owned()));
        assert_eq!(
            scheme_word(b"eyJhbGciOi.x.y"),
            None,
            "a lone word may be a token"
        );
        assert_eq!(scheme_word(b"Bearer   "), None);
        assert_eq!(scheme_word(b"Be:arer abc"), None);
        assert_eq!(
            scheme_word(&[b'a'; 40].iter().chain(b" x").copied().collect::<Vec<_>>()),
            None
        );
    }

    #[test]
    fn the_recorder_is_bounded() {
        let r = Recorder::default();
        for i in 0..=MAX_RECORDED {
            r.push(Recorded {
                method: "GET".into(),
                path: format!("/{i}"),
                authorization: false,
                scheme: None,
                origin: None,
            });
        }
        assert_eq!(r.list().len(), MAX_RECORDED);
        r.clear();
        assert!(r.list().is_empty());
    }
}
