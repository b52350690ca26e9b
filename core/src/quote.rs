//! Quoting server and user strings in messages, as `{:?}` does, without its tables on wasm32.

use core::fmt;

/// A string in a message, quoted and escaped as `{:?}` writes it.
///
/// On `wasm32` the escaping is done here rather than by `str`'s `Debug`, whose tables of
/// printable and combining characters cost about 3 kB of the npm package (gzipped). The output
/// is the same for everything but the rare characters that are neither printable nor control
/// characters (format characters, unassigned code points, a leading combining mark): `Debug`
/// writes those as `\u{..}`, this writes them as they are. Native builds use `Debug` itself.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    #[cfg(not(target_arch = "wasm32"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }

    #[cfg(target_arch = "wasm32")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(f, self.0)
    }
}

/// The table-free escaping behind [`Quoted`] on `wasm32`.
#[cfg(any(target_arch = "wasm32", test))]
fn write_quoted(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\0' => out.write_str("\\0")?,
            c if c.is_control() => {
                for e in c.escape_unicode() {
                    out.write_char(e)?;
                }
            }
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::write_quoted;

    #[test]
    fn light_quoting_matches_debug_for_urls_and_control_characters() {
        let table = [
            "",
            "https://example.com/token?x=1",
            "http://[redacted]@host/a b",
            "quote \" and backslash \\",
            "tab\tcr\rlf\nnul\0",
            "\u{1b}[31m\u{7f}\u{85}\u{9f}",
            "caf\u{e9} \u{65e5}\u{672c} \u{1f600}",
            "'single'",
        ];
        for s in table {
            let mut light = String::new();
            write_quoted(&mut light, s).unwrap();
            assert_eq!(light, format!("{s:?}"), "{s}");
        }
    }
}
