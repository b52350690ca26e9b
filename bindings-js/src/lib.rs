//! wasm-bindgen exports behind the npm package tokenkeeper (in progress).
