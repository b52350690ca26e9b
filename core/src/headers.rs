//! The response headers the engine reads, behind one small trait.
//!
//! The engine looks at four headers of a response (`Content-Type`, `Date`, `Retry-After`,
//! `WWW-Authenticate`) and at nothing else. [`ResponseHeaders`] is how a driver shows them:
//! `http::HeaderMap` implements it, so a native driver passes the map it received; a driver
//! without `http` types (the npm package) implements it over the few header values it copied
//! out of its platform's response, and keeps the `http` header map out of its build.

/// A response header the engine reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadHeader {
    /// `Content-Type` (an HTML page instead of a token answer).
    ContentType,
    /// `Date` (the server's clock, against which `exp` and HTTP-date `Retry-After` are read).
    Date,
    /// `Retry-After`.
    RetryAfter,
    /// `WWW-Authenticate` (the `Bearer` challenge).
    WwwAuthenticate,
}

impl ReadHeader {
    /// Every header the engine reads.
    pub const ALL: [ReadHeader; 4] = [
        ReadHeader::ContentType,
        ReadHeader::Date,
        ReadHeader::RetryAfter,
        ReadHeader::WwwAuthenticate,
    ];

    /// The header's name, lower-case (`"retry-after"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ReadHeader::ContentType => "content-type",
            ReadHeader::Date => "date",
            ReadHeader::RetryAfter => "retry-after",
            ReadHeader::WwwAuthenticate => "www-authenticate",
        }
    }
}

/// A response's headers as the engine reads them (see the module's documentation).
///
/// Values are bytes as received; the engine ignores a value longer than
/// [`MAX_HEADER_VALUE`](crate::limits::MAX_HEADER_VALUE) or one with a byte that is not
/// visible ASCII, a space or a tab, as if it were absent.
pub trait ResponseHeaders {
    /// The first value of `header`, if the response has one.
    fn first(&self, header: ReadHeader) -> Option<&[u8]>;

    /// Calls `each` with every value of `header`, in the order received, until it returns
    /// `false`. The default offers [`ResponseHeaders::first`] only, for a driver whose platform
    /// joins repeated headers into one value (as `fetch`'s `Headers` does).
    fn for_each(&self, header: ReadHeader, each: &mut dyn FnMut(&[u8]) -> bool) {
        if let Some(value) = self.first(header) {
            each(value);
        }
    }
}

/// Names the headers present, not their values (a server's text may repeat a secret).
impl core::fmt::Debug for dyn ResponseHeaders + '_ {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let present = ReadHeader::ALL
            .into_iter()
            .filter(|&h| self.first(h).is_some());
        f.debug_set()
            .entries(present.map(ReadHeader::as_str))
            .finish()
    }
}

impl ResponseHeaders for http::HeaderMap {
    fn first(&self, header: ReadHeader) -> Option<&[u8]> {
        self.get(http_name(header)).map(http::HeaderValue::as_bytes)
    }

    fn for_each(&self, header: ReadHeader, each: &mut dyn FnMut(&[u8]) -> bool) {
        for value in self.get_all(http_name(header)) {
            if !each(value.as_bytes()) {
                return;
            }
        }
    }
}

/// The headers the engine reads, one value each: what a driver without a header map (the npm
/// package) copies out of its platform's response. A header the platform joins from repeated
/// fields (as `fetch`'s `Headers` does) is one value here.
#[derive(Clone, Copy, Default)]
pub struct HeaderValues<'a> {
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `Date`.
    pub date: Option<&'a str>,
    /// `Retry-After`.
    pub retry_after: Option<&'a str>,
    /// `WWW-Authenticate`.
    pub www_authenticate: Option<&'a str>,
}

impl ResponseHeaders for HeaderValues<'_> {
    fn first(&self, header: ReadHeader) -> Option<&[u8]> {
        match header {
            ReadHeader::ContentType => self.content_type,
            ReadHeader::Date => self.date,
            ReadHeader::RetryAfter => self.retry_after,
            ReadHeader::WwwAuthenticate => self.www_authenticate,
        }
        .map(str::as_bytes)
    }
}

/// Names the headers present, as `dyn ResponseHeaders` does.
impl core::fmt::Debug for HeaderValues<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (self as &dyn ResponseHeaders).fmt(f)
    }
}

/// `http`'s constant for a header the engine reads.
fn http_name(header: ReadHeader) -> http::HeaderName {
    match header {
        ReadHeader::ContentType => http::header::CONTENT_TYPE,
        ReadHeader::Date => http::header::DATE,
        ReadHeader::RetryAfter => http::header::RETRY_AFTER,
        ReadHeader::WwwAuthenticate => http::header::WWW_AUTHENTICATE,
    }
}

/// The first value of `header` as text, if it is visible ASCII (spaces and tabs allowed) and at
/// most [`MAX_HEADER_VALUE`](crate::limits::MAX_HEADER_VALUE) bytes; `None` otherwise (such a
/// value is ignored, as if absent).
pub(crate) fn text(headers: &dyn ResponseHeaders, header: ReadHeader) -> Option<&str> {
    headers.first(header).and_then(value_text)
}

/// One header value as text, on the terms of [`text`].
pub(crate) fn value_text(value: &[u8]) -> Option<&str> {
    if value.len() > crate::limits::MAX_HEADER_VALUE
        || !value
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    core::str::from_utf8(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &[u8])]) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        for (name, value) in pairs {
            m.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        m
    }

    /// The names agree with `http`'s, and a map shows the first value and every value.
    #[test]
    fn header_map_shows_first_and_every_value() {
        for h in ReadHeader::ALL {
            assert_eq!(http_name(h).as_str(), h.as_str());
        }
        let m = map(&[
            ("WWW-Authenticate", b"Basic realm=x"),
            ("www-authenticate", b"Bearer"),
            ("retry-after", b"5"),
        ]);
        let h: &dyn ResponseHeaders = &m;
        assert_eq!(
            h.first(ReadHeader::WwwAuthenticate),
            Some(&b"Basic realm=x"[..])
        );
        assert_eq!(h.first(ReadHeader::Date), None);
        let mut seen = Vec::new();
        h.for_each(ReadHeader::WwwAuthenticate, &mut |v| {
            seen.push(v.to_vec());
            true
        });
        assert_eq!(seen, [b"Basic realm=x".to_vec(), b"Bearer".to_vec()]);
        let mut calls = 0;
        h.for_each(ReadHeader::WwwAuthenticate, &mut |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1, "stops when told");
        assert_eq!(text(h, ReadHeader::RetryAfter), Some("5"));
    }

    /// `HeaderValues` shows each field as its header and nothing else; `Debug` names the
    /// headers present, not their values.
    #[test]
    fn header_values_show_their_fields() {
        let v = HeaderValues {
            content_type: Some("text/html"),
            retry_after: Some("7"),
            ..HeaderValues::default()
        };
        assert_eq!(v.first(ReadHeader::ContentType), Some(&b"text/html"[..]));
        assert_eq!(v.first(ReadHeader::RetryAfter), Some(&b"7"[..]));
        assert_eq!(v.first(ReadHeader::Date), None);
        assert_eq!(v.first(ReadHeader::WwwAuthenticate), None);
        let shown = format!("{v:?}");
        assert_eq!(shown, r#"{"content-type", "retry-after"}"#);
        let secret = HeaderValues {
            www_authenticate: Some("Bearer error=\"s3cret\""),
            ..HeaderValues::default()
        };
        assert!(!format!("{secret:?}").contains("s3cret"));
    }

    /// `value_text` accepts what `HeaderValue::to_str` accepts, within the length limit.
    #[test]
    fn value_text_agrees_with_header_value_to_str() {
        for b in 0..=255u8 {
            let bytes = [b'a', b, b'z'];
            let expected = http::HeaderValue::from_bytes(&bytes)
                .ok()
                .and_then(|v| v.to_str().ok().map(str::to_owned));
            assert_eq!(value_text(&bytes).map(str::to_owned), expected, "byte {b}");
        }
        let long = vec![b'a'; crate::limits::MAX_HEADER_VALUE + 1];
        assert_eq!(value_text(&long), None);
        assert!(value_text(&long[1..]).is_some());
    }
}
