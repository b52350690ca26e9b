//! The JWT `exp` reader (`jwt_exp`) against `base64` + `serde_json`. Input: a token (text with a `.`), or a payload to wrap.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwt::check_jwt(data));
