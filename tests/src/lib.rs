#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod answer;
mod body;
mod config;
mod control;
mod control_http;
mod counters;
mod faults;
mod gauges;
mod jwt;
mod recorder;
mod reply;
mod routes;
mod script;
mod script_json;
mod server;
mod state;
mod tokens;

pub use body::Body;
pub use config::{RetryAfter, RouteKind, ServerConfig};
pub use control::Control;
pub use counters::Counters;
pub use gauges::Gauges;
pub use recorder::{MAX_RECORDED, Recorded};
pub use script::{Answer, Rewrite, Script, ScriptError, Times};
pub use server::TestServer;
