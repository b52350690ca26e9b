//! Just enough base64 (RFC 4648): standard encoding for HTTP Basic credentials, lenient
//! base64url decoding for JWT payloads.

use zeroize::Zeroizing;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard base64 encoding of `data`, with `=` padding (RFC 4648 §4), to `out`.
pub(crate) fn encode(data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(3) {
        let byte = |i: usize| chunk.get(i).copied().unwrap_or(0);
        let n = u32::from_be_bytes([0, byte(0), byte(1), byte(2)]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(STANDARD[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

/// Decodes base64url (RFC 4648 §5) or standard base64, with or without `=` padding; the buffer
/// is wiped on drop. `None` on any other character, misplaced padding or an impossible length.
/// Non-zero trailing bits are tolerated.
pub(crate) fn decode_url(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let data = s
        .strip_suffix("==")
        .or_else(|| s.strip_suffix('='))
        .unwrap_or(s)
        .as_bytes();
    let padded = data.len() != s.len();
    if data.len() % 4 == 1 || (padded && !s.len().is_multiple_of(4)) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() / 4 * 3 + 2));
    for chunk in data.chunks(4) {
        let mut acc: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(sextet(c)?) << (18 - 6 * i);
        }
        let [_, b0, b1, b2] = acc.to_be_bytes();
        out.push(b0);
        if chunk.len() > 2 {
            out.push(b1);
        }
        if chunk.len() > 3 {
            out.push(b2);
        }
    }
    Some(out)
}

/// The 6-bit value of a base64 or base64url character.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(data: &[u8]) -> String {
        let mut out = Vec::new();
        encode(data, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encode_rfc4648_vectors() {
        let table: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "+/+/"),
            (&[0, 0, 0], "AAAA"),
        ];
        for (data, want) in table {
            assert_eq!(encoded(data), *want, "{data:?}");
        }
    }

    #[test]
    fn decode_table() {
        let table: &[(&str, Option<&[u8]>)] = &[
            ("", Some(b"")),
            ("Zg", Some(b"f")),
            ("Zg==", Some(b"f")),
            ("Zm8", Some(b"fo")),
            ("Zm8=", Some(b"fo")),
            ("Zm9v", Some(b"foo")),
            ("Zm9vYg", Some(b"foob")),
            ("Zm9vYmE", Some(b"fooba")),
            ("Zm9vYmFy", Some(b"foobar")),
            ("-_-_", Some(&[0xfb, 0xff, 0xbf])),
            ("+/+/", Some(&[0xfb, 0xff, 0xbf])),
            ("Zh", Some(b"f")), // non-zero trailing bits tolerated
            ("Z", None),
            ("Zm9vY", None),
            ("Zg=", None),
            ("Zm8==", None),
            ("Zg===", None),
            ("=", None),
            ("==", None),
            ("Zm 9v", None),
            ("Zm9v\n", None),
            ("Z=g=", None),
            ("Zm9v!", None),
            ("Zm9vé", None),
        ];
        for (input, want) in table {
            assert_eq!(
                decode_url(input).as_deref().map(Vec::as_slice),
                *want,
                "{input:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_inverts_encode(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let standard = encoded(&data);
            let url: String = standard.trim_end_matches('=').chars().map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            }).collect();
            for s in [&standard, &url] {
                let decoded = decode_url(s);
                proptest::prop_assert_eq!(decoded.as_deref(), Some(&data));
            }
        }

        #[test]
        fn decode_never_panics(s in "\\PC{0,40}") {
            let _ = decode_url(&s);
        }
    }
}
