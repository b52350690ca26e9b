//! What `fetch` and `login` fail with.

use core::fmt;

use wasm_bindgen::JsValue;

/// Why a keeper call failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum KeeperError {
    /// The engine failed the request: no usable session, refused credentials, auth endpoint
    /// down or answering nonsense, the network, a fresh token rejected. See
    /// [`tokenkeeper_core::Error`] for what each means and what to do.
    Engine {
        /// The engine's reason.
        error: tokenkeeper_core::Error,
        /// The last JS error from `fetch` (a `TypeError`), for transport failures.
        cause: Option<JsValue>,
    },
    /// A JavaScript error passed through unchanged, as `fetch` would throw it: a `TypeError`
    /// for a request `fetch` refuses, the caller's `AbortSignal` reason, or what the
    /// credentials provider threw.
    Js(JsValue),
}

impl fmt::Display for KeeperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeeperError::Engine { error, .. } => fmt::Display::fmt(error, f),
            KeeperError::Js(_) => f.write_str("javascript error"),
        }
    }
}

impl core::error::Error for KeeperError {}

impl From<tokenkeeper_core::Error> for KeeperError {
    fn from(error: tokenkeeper_core::Error) -> Self {
        KeeperError::Engine { error, cause: None }
    }
}
