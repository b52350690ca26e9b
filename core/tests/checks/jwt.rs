//! `jwt_exp` against decoding the payload with `base64` and `serde_json`.
//!
//! Input: a token (UTF-8 text with a `.`), or else a payload, which is checked inside
//! `h.<payload>.s` twice: base64url without padding and standard base64 with padding.
//!
//! The reading compared, as documented: exactly three segments, a non-empty second one that is
//! base64url with optional padding (the standard alphabet's `+` and `/` tolerated: the oracle
//! maps them to `-` and `_` first; non-zero trailing bits tolerated), holding a JSON object
//! whose `exp` is a non-negative integer, or a non-negative finite number whose fraction is
//! dropped (saturating at `u64::MAX`), read exactly from its text (`number.rs`: `-1e-400` is
//! negative, `1700000000.99999999999999999` is 1700000000). No deliberate difference is
//! excluded.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use serde_json::Value;
use tokenkeeper_core::parse::jwt_exp;

use super::number::{self, Reading, raw_member};

/// base64url, padding optional, trailing bits tolerated.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `jwt_exp` reads `data` (a token, or a payload to wrap) as `base64` + `serde_json` do.
pub(crate) fn check_jwt(data: &[u8]) {
    match core::str::from_utf8(data) {
        Ok(token) if token.contains('.') => check_token(token),
        _ => {
            check_token(&format!("h.{}.s", URL_SAFE_NO_PAD.encode(data)));
            check_token(&format!("h.{}.s", STANDARD.encode(data)));
        }
    }
}

fn check_token(token: &str) {
    let got = jwt_exp(token);
    let want = expected(token);
    assert_eq!(
        got, want,
        "jwt_exp differs from base64 + serde_json on {token:?}"
    );
}

fn expected(token: &str) -> Option<u64> {
    let segments: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = segments[..] else {
        return None;
    };
    if payload.is_empty() {
        return None;
    }
    let url: String = payload
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = LENIENT.decode(url).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.as_object()?.get("exp")?.as_number()?;
    let text = raw_member(&bytes, "exp").expect("serde_json read the member");
    match number::read(&text) {
        Reading::Number {
            negative: false,
            abs,
        } => Some(abs.scaled(0)),
        _ => None,
    }
}
