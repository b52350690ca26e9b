//! The documented treatment of server strings that are kept (error codes, descriptions,
//! challenge parameters), written from `parse/mod.rs`'s description rather than its code:
//! control characters removed (line breaks and tabs become spaces), bidirectional controls
//! removed, surrounding whitespace of every kind (Unicode `White_Space`) trimmed, at most `max`
//! characters (counted after the leading whitespace is gone).

/// A server string as the parsers keep it.
pub(crate) fn sanitized(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(' '),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let kept: String = cleaned.trim_start().chars().take(max).collect();
    kept.trim_end().to_owned()
}

/// A kept server string as documented for secrets (`Error`'s "Server text"): `[redacted]` when
/// it contains the first 8 characters of any of `secrets` (all of a shorter one), each taken as
/// `sanitized` keeps it; empty secrets count for nothing.
pub(crate) fn redacted(text: String, secrets: &[&str]) -> String {
    let held = secrets.iter().any(|s| {
        let start = sanitized(s, 8);
        !start.is_empty() && text.contains(&start)
    });
    if held { "[redacted]".to_owned() } else { text }
}
