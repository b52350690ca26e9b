//! JSON read by the driver's host (the `host-json` feature). A driver whose platform has its
//! own JSON parser (the npm package: `JSON.parse`) sets a function that hands the engine the
//! value of a JSON text; every JSON text the engine reads (token answers, error bodies, JWT
//! claims, stored and shared token sets) then goes to it instead of the engine's reader. Only
//! the tokenizer differs: the engine checks the body (empty, too large, HTML) before, and reads
//! and checks the fields of the value after, with the same code as with its own reader. On
//! wasm32 a build with this feature has no reader at all, which is what the feature is for
//! (the package's size).
//!
//! To read as the engine's reader does, a host refuses (answers `None` for) what the reader
//! refuses: bytes that are not UTF-8, lone surrogates (`"\ud800"`), nesting deeper than
//! [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH), and numbers that round to infinity as an
//! `f64`; it keeps every member of an object (the engine reads the last of repeated keys,
//! `JSON.parse` keeps only the last: the same), and writes each number as text that reads as a
//! decimal number (what JavaScript's `String(n)` writes does). What still differs is listed in
//! `bindings-js/README.md` ("Host JSON").

use core::cell::Cell;

use super::{Error, Value};

/// Reads one JSON text (the engine's input as it is, whitespace around the value allowed):
/// its value, or `None` when it is not JSON.
pub type HostJson = fn(&[u8]) -> Option<Value>;

std::thread_local! {
    static HOST: Cell<Option<HostJson>> = const { Cell::new(None) };
}

/// From now on, on this thread, every JSON text the engine reads is read by `host`; `None`
/// gives the engine's own reader back (in a wasm32 build with the `host-json` feature, which
/// has none, every JSON text is then refused).
pub fn read_json_with(host: Option<HostJson>) {
    HOST.with(|h| h.set(host));
}

/// The host set on this thread, if any.
pub(super) fn current() -> Option<HostJson> {
    HOST.with(Cell::get)
}

/// What a text the host refused is, as a syntax error (no position: the host's parser may
/// not give one, and its message may quote the text).
pub(super) const REFUSED: Error = Error {
    what: "refused by the host's json parser",
    line: 0,
    column: 0,
};
