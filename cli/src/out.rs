//! Writing to stdout without panicking when it is closed (`tokenkeeper demo | head`).

use std::io::Write as _;

/// Prints a line to stdout at once (a pipe would otherwise hold it back); a closed stdout is
/// ignored.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
