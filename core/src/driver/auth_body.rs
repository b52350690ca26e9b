//! The answer of a token endpoint, read as a stream and stopped at the engine's limit.

use core::ops::ControlFlow;

use zeroize::Zeroizing;

use crate::parse::MAX_AUTH_BODY;

/// A login or refresh answer's body, collected chunk by chunk as it arrives, never more than
/// [`MAX_AUTH_BODY`] + 1 bytes: the driver stops reading (and closes the stream) as soon as
/// [`AuthBody::push`] says so, and the engine then sees a body over the limit and reports
/// `InvalidAuthResponse::TooLarge`, keeping the tokens that work. A hostile endpoint's
/// endless or gigabyte answer costs 64 KiB.
///
/// The bytes may hold tokens: every buffer they pass through here is wiped when it is
/// replaced or dropped.
#[derive(Default)]
pub struct AuthBody {
    bytes: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for AuthBody {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthBody")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl AuthBody {
    /// The most bytes kept: one past the limit, so the engine can tell the body was too large.
    pub const CAP: usize = MAX_AUTH_BODY + 1;

    /// An empty body.
    pub fn new() -> Self {
        AuthBody::default()
    }

    /// Adds the next chunk (what fits under [`AuthBody::CAP`]). `Break` means: stop reading
    /// and close the stream, the body is already over the limit.
    pub fn push(&mut self, chunk: &[u8]) -> ControlFlow<()> {
        let room = Self::CAP - self.bytes.len();
        let take = &chunk[..chunk.len().min(room)];
        self.reserve(take.len());
        self.bytes.extend_from_slice(take);
        if self.bytes.len() >= Self::CAP {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// The bytes read so far (at most [`AuthBody::CAP`]).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of bytes read so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Grows the buffer without leaving an unwiped copy behind (a plain `Vec` reallocation
    /// frees the old buffer as it is).
    fn reserve(&mut self, additional: usize) {
        if self.bytes.capacity() - self.bytes.len() < additional {
            let want = (self.bytes.len() + additional)
                .max(self.bytes.len() * 2)
                .min(Self::CAP);
            let mut bigger = Zeroizing::new(Vec::with_capacity(want));
            bigger.extend_from_slice(&self.bytes);
            self.bytes = bigger;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_one_byte_past_the_limit_whatever_the_chunking() {
        for chunk in [
            1,
            1000,
            MAX_AUTH_BODY,
            MAX_AUTH_BODY + 1,
            10 * MAX_AUTH_BODY,
        ] {
            let mut body = AuthBody::new();
            let data = vec![b'a'; chunk];
            let mut pushes = 0;
            while body.push(&data).is_continue() {
                pushes += 1;
                assert!(pushes < 1_000_000);
            }
            assert_eq!(body.len(), AuthBody::CAP, "chunk {chunk}");
        }
    }

    #[test]
    fn a_body_at_the_limit_is_read_whole_and_not_stopped() {
        let mut body = AuthBody::new();
        assert!(body.push(&vec![b'x'; MAX_AUTH_BODY]).is_continue());
        assert_eq!(body.len(), MAX_AUTH_BODY);
        assert!(body.push(b"").is_continue());
        assert!(body.push(b"y").is_break());
    }

    #[test]
    fn the_engine_reports_a_capped_body_as_too_large() {
        let mut body = AuthBody::new();
        let _ = body.push(&vec![b'{'; 3 * MAX_AUTH_BODY]);
        let err = crate::parse::parse_token_response(&http::HeaderMap::new(), body.as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, crate::parse::InvalidAuthResponse::TooLarge { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn debug_shows_no_bytes() {
        let mut body = AuthBody::new();
        let _ = body.push(b"{\"access_token\":\"s3cret\"}");
        assert!(!format!("{body:?}").contains("s3cret"));
    }
}
