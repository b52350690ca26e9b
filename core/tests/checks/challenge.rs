//! `parse_bearer_challenge` against `http-auth`'s challenge parser (a strict RFC 7235 parser,
//! itself fuzzed against a grammar-derived one).
//!
//! Input: one `WWW-Authenticate` value per line. When `http-auth` parses every value, ours must
//! find the same first `Bearer` challenge (scheme in any case) with the same `realm`, `scope`,
//! `error` and `error_description` (parameter names in any case, the first occurrence of each,
//! values unescaped and kept as documented). Deliberate differences, excluded by comparing only
//! when `http-auth` accepts the whole input: ours also reads what `http-auth` refuses
//! (`token68` credentials, non-ASCII bytes, junk between challenges), skipping what it cannot
//! read. On every input, ours must not panic and what it keeps must be safe to show.

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use tokenkeeper_core::parse::{BearerChallenge, parse_bearer_challenge};

use super::shown;
use super::text::sanitized;

/// Longest parameter value kept, as documented.
const MAX_PARAM: usize = 200;

/// `parse_bearer_challenge` agrees with `http-auth` on `data` (see the module docs).
pub(crate) fn check_www_authenticate(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(WWW_AUTHENTICATE, v);
        }
    }
    let got = parse_bearer_challenge(&headers);
    if let Some(c) = &got {
        for v in [&c.realm, &c.scope, &c.error, &c.error_description]
            .into_iter()
            .flatten()
        {
            assert!(
                v.chars().count() <= MAX_PARAM && !v.chars().any(char::is_control),
                "unsafe kept parameter {v:?}\ninput: {}",
                shown(data)
            );
        }
    }
    if comparable(&headers) {
        assert_eq!(got, expected(&headers), "input: {}", shown(data));
    }
}

/// Whether `http-auth` parses every value.
fn comparable(headers: &HeaderMap) -> bool {
    headers.get_all(WWW_AUTHENTICATE).iter().all(|v| {
        v.to_str()
            .is_ok_and(|s| http_auth::parse_challenges(s).is_ok())
    })
}

/// `http-auth`'s reading (when [`comparable`]).
fn expected(headers: &HeaderMap) -> Option<BearerChallenge> {
    headers.get_all(WWW_AUTHENTICATE).iter().find_map(|value| {
        let challenges = http_auth::parse_challenges(value.to_str().ok()?).ok()?;
        challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
            .map(|c| {
                let param = |name: &str| {
                    c.params
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| sanitized(&v.to_unescaped(), MAX_PARAM))
                };
                BearerChallenge {
                    realm: param("realm"),
                    scope: param("scope"),
                    error: param("error"),
                    error_description: param("error_description"),
                }
            })
    })
}
