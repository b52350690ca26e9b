//! The checks behind the fuzz targets (`fuzz/fuzz_targets/`), the corpus replay
//! (`tests/fuzz_corpus.rs`) and the differential tests (`tests/differential.rs`), written once
//! and included by all three with `#[path]`.
//!
//! Each check takes one input as bytes, runs one of the core's parsers on it, reads the same
//! input with a well-kept crate (`serde_json`, `httpdate`, `base64`, `http-auth`), and panics
//! when the two disagree beyond the differences each module documents, or when a known secret
//! shows up in a `Debug` or `Display` text. `engine.rs` (the engine's inputs, checked by the
//! property model) sits beside these but is included on its own: it needs the model's modules
//! at the crate root.

pub(crate) mod challenge;
pub(crate) mod date;
pub(crate) mod error_body;
pub(crate) mod json;
pub(crate) mod jwt;
pub(crate) mod number;
pub(crate) mod secrets;
pub(crate) mod text;
pub(crate) mod token;

/// The input as text for a panic message (invalid UTF-8 shown lossily, long inputs cut).
pub(crate) fn shown(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut out: String = text.chars().take(400).collect();
    if out.len() < text.len() {
        out.push_str("...");
    }
    format!("{out:?}")
}
