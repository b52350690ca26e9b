//! The JSON reader (through `fuzz_api::parse_json`) against `serde_json`: same verdict, same values. Input: the document.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::json::check_json(data));
