//! Secrets: tokens, passwords and client secrets that never reach `Debug`, logs or errors.

use core::fmt;

use bytes::Bytes;
use http::HeaderValue;
use zeroize::{Zeroize, Zeroizing};

/// A secret string (access token, refresh token, password, client secret).
///
/// `Debug` and `Display` print `[redacted]`; the memory is zeroized on drop. Read the value
/// with [`Secret::expose`] only where it must go on the wire or into a store.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret value. Call this only to put it on the wire or into a token store.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Bearer <secret>` as a sensitive header value whose bytes are zeroized when the last
    /// clone is dropped. Cloning the returned value does not allocate.
    ///
    /// Returns `None` when the secret contains bytes that are not allowed in a header.
    #[must_use]
    pub fn bearer_header(&self) -> Option<HeaderValue> {
        let mut buf = Zeroizing::new(Vec::with_capacity(7 + self.0.len()));
        buf.extend_from_slice(b"Bearer ");
        buf.extend_from_slice(self.0.as_bytes());
        let mut value = HeaderValue::from_maybe_shared(Bytes::from_owner(ZeroOnDrop(buf))).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let secret = Secret::new(s.as_str());
        s.zeroize();
        Ok(secret)
    }
}

/// Owner of a header's bytes that wipes them when the last `Bytes` handle is dropped.
pub(crate) struct ZeroOnDrop(pub(crate) Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for ZeroOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn bearer_header_is_sensitive_and_redacted() {
        let h = Secret::new("abc.def").bearer_header().unwrap();
        assert_eq!(h.as_bytes(), b"Bearer abc.def");
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("abc"));
        assert!(Secret::new("bad\nvalue").bearer_header().is_none());
    }
}
