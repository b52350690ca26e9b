//! `Retry-After` (`parse_retry_after`): the documented arithmetic, and its dates against `httpdate`. Input: the value, then optionally a `Date` line and a `now` (ms) line.
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::date::check_retry_after(data));
