//! Auth error bodies (`parse_auth_error`) against a `serde_json` reading of the documented shapes; kept text is safe to show; no known token in `Debug`. Input: the body.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::error_body::check_auth_error(data));
