//! tokenkeeper-core: a deterministic state machine that keeps a bearer token valid, with no
//! networking, no clock and no runtime.
//!
//! (crate docs are completed with the engine)

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
pub mod config;
pub mod dialect;
pub mod error;
pub mod parse;
pub mod secret;
pub mod time;
pub mod tokens;

pub use action::{Action, AuthId, AuthKind, AuthRequest, Event, ExchangeId, RequestMeta, TimerKind};
pub use config::{Backoff, CircuitBreaker, Config, Margin, SecondRejection};
pub use error::{ConfigError, Error};
pub use secret::Secret;
pub use time::Timestamp;
pub use tokens::TokenSet;
