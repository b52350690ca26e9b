//! HS256 JSON Web Tokens (RFC 7519), just what the server issues and checks.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenType {
    /// Accepted by the protected API.
    Access,
    /// Accepted by the refresh endpoints.
    Refresh,
}

/// The claims of every token this server issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// Subject: the username, or the client id for the client-credentials grant.
    pub(crate) sub: String,
    /// Token type.
    pub(crate) typ: TokenType,
    /// Family: every token descended from one login.
    pub(crate) fam: String,
    /// Unique token id.
    pub(crate) jti: String,
    /// Issued at, seconds since the Unix epoch (server clock).
    pub(crate) iat: u64,
    /// Expiry, seconds since the Unix epoch, rounded down; a scripted answer may shift it
    /// (even below zero) without changing `exp_ms`.
    pub(crate) exp: i64,
    /// Expiry in milliseconds: the value the server checks.
    pub(crate) exp_ms: u64,
}

/// Why a token could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three base64url parts of JSON, or not HS256.
    Malformed,
    /// The signature does not match.
    BadSignature,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Signs `claims` into a compact JWS.
pub(crate) fn encode(secret: &[u8], claims: &Claims) -> String {
    let header = Header {
        alg: "HS256".to_owned(),
        typ: "JWT".to_owned(),
    };
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes"));
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{h}.{c}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Checks the signature of `token` and returns its claims; expiry is the caller's business.
pub(crate) fn decode(secret: &[u8], token: &str) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if header.alg != "HS256" {
        return Err(JwtError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(c.as_bytes());
    m.verify_slice(&sig).map_err(|_| JwtError::BadSignature)?;
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "admin".into(),
            typ: TokenType::Access,
            fam: "f1".into(),
            jti: "t1".into(),
            iat: 10,
            exp: 20,
            exp_ms: 20_500,
        }
    }

    #[test]
    fn round_trip() {
        let t = encode(b"k", &claims());
        assert_eq!(decode(b"k", &t), Ok(claims()));
    }

    #[test]
    fn wrong_key_or_tampering_is_refused() {
        let t = encode(b"k", &claims());
        assert_eq!(decode(b"other", &t), Err(JwtError::BadSignature));
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"root"}"#);
        parts[1] = &forged;
        assert_eq!(decode(b"k", &parts.join(".")), Err(JwtError::BadSignature));
        assert_eq!(decode(b"k", "a.b"), Err(JwtError::Malformed));
        assert_eq!(decode(b"k", "not a token"), Err(JwtError::Malformed));
    }
}
