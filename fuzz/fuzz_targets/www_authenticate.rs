//! `WWW-Authenticate` Bearer challenges (`parse_bearer_challenge`) against `http-auth`, where it parses the input. Input: one header value per line.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::challenge::check_www_authenticate(data));
