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
/// The property model, whose modules expect `inputs` and `model` at the crate root. (An inline
/// module with a `#[path]` directory, so that `model.rs` finds its own `model/` files.)
#[path = "../../core/tests/properties"]
mod properties {
    #[allow(dead_code)]
    pub(crate) mod inputs;
    #[allow(dead_code)]
    pub(crate) mod model;
}
use properties::{inputs, model};

libfuzzer_sys::fuzz_target!(|data: &[u8]| engine::check_engine(data));
