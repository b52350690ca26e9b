//! Token responses (`parse_token_response`) against a `serde_json` reading of the documented rules; no known token in any `Debug`/`Display` text. Input: an optional `Content-Type:` line, then the body (`$A`/`$R` become tokens).
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::token::check_token_response(data));
