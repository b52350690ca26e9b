//! The engine (`Session`) under arbitrary sequences of inputs, with the property model's
//! invariants (`core/tests/properties/model.rs`) checked after every step, determinism, and no
//! known token in any action's or the session's `Debug`. Input: bytes decoded with `arbitrary`
//! (see `core/tests/checks/engine.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../../core/tests/checks/mod.rs"]
mod checks;
#[path = "../../core/tests/checks/engine.rs"]
mod engine;
#[allow(dead_code)]
#[path = "../../core/tests/properties/inputs.rs"]
mod inputs;
#[allow(dead_code)]
#[path = "../../core/tests/properties/model.rs"]
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| engine::check_engine(data));
