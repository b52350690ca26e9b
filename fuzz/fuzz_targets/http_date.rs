//! HTTP dates (`parse_http_date`) against `httpdate`, both ways (see `core/tests/checks/date.rs`). Input: the text.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::date::check_http_date(data));
