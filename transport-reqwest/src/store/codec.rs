//! How the file and Redis stores write a token set: JSON with absolute times, in a buffer that
//! is zeroed when dropped.
//!
//! ```json
//! {"version":1,"tokens":{"access_token":"…","refresh_token":"…","issued_at":1764860000000,
//!  "expires_at":1764861800000}}
//! ```
//!
//! Times are milliseconds since the Unix epoch (the engine's `Timestamp`): a reader never
//! needs to know when the set was written.

use serde::{Deserialize, Serialize};
use tokenkeeper_core::TokenSet;
use zeroize::Zeroizing;

use super::StoreError;

/// The format's version; a reader refuses any other.
const VERSION: u32 = 1;

/// The largest stored set read: far above any token set (the engine refuses auth answers
/// over 64 KiB), small enough that a stray large file is not read into memory.
pub(crate) const MAX_STORED: usize = 256 * 1024;

#[derive(Serialize)]
struct Out<'a> {
    version: u32,
    tokens: &'a TokenSet,
}

#[derive(Deserialize)]
struct In {
    version: u32,
    tokens: TokenSet,
}

/// The set as stored.
pub(crate) fn encode(tokens: &TokenSet) -> Zeroizing<Vec<u8>> {
    // Room for the usual set, so the buffer is not reallocated (leaving copies behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    // Writing into a Vec cannot fail, and a TokenSet has nothing serde_json refuses.
    serde_json::to_writer(
        &mut *buf,
        &Out {
            version: VERSION,
            tokens,
        },
    )
    .expect("a token set serializes");
    buf
}

/// A stored set read back.
pub(crate) fn decode(bytes: &[u8]) -> Result<TokenSet, StoreError> {
    if bytes.len() > MAX_STORED {
        return Err(StoreError::Corrupt {
            reason: format!("larger than {MAX_STORED} bytes"),
        });
    }
    let stored: In = serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt_json(&e))?;
    if stored.version != VERSION {
        return Err(StoreError::Corrupt {
            reason: format!(
                "format version {} (this library reads {VERSION})",
                stored.version
            ),
        });
    }
    Ok(stored.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenkeeper_core::Timestamp;

    fn set() -> TokenSet {
        TokenSet {
            access_token: "acc-1".into(),
            refresh_token: Some("ref-1".into()),
            issued_at: Timestamp::from_millis(1_000),
            expires_at: Timestamp::from_millis(61_000),
            refresh_expires_at: None,
        }
    }

    #[test]
    fn a_set_round_trips_with_absolute_times() {
        let bytes = encode(&set());
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains("\"expires_at\":61000"), "{text}");
        assert!(!text.contains("expires_in"));
        assert_eq!(decode(&bytes).unwrap(), set());
    }

    #[test]
    fn damaged_content_is_refused_without_quoting_it() {
        let cases: [&[u8]; 4] = [
            b"{\"version\":1,\"tokens\":{\"access_token\":\"SECRET-x\",\"issued_at\":\"SECRET-y\"}}",
            b"{\"version\":1,\"tok",
            b"SECRET-z not json",
            b"{\"version\":2,\"tokens\":{\"access_token\":\"SECRET-w\",\"issued_at\":1,\"expires_at\":2}}",
        ];
        for bytes in cases {
            let e = decode(bytes).unwrap_err();
            let text = format!("{e} {e:?}");
            assert!(matches!(e, StoreError::Corrupt { .. }), "{text}");
            assert!(!text.contains("SECRET"), "{text}");
        }
        let big = vec![b' '; MAX_STORED + 1];
        assert!(matches!(decode(&big), Err(StoreError::Corrupt { .. })));
    }
}
