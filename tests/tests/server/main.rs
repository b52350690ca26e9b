//! The reference server tested over real HTTP on loopback.

// Tests name the server `s`, the client `c`, a response `r`, its JSON `v`, counters `n`.
#![allow(clippy::many_single_char_names)]

mod binary;
mod common;
mod control_http;
mod faults;
mod oauth;
mod protected;
mod random_faults;
mod raw;
mod recorder;
mod refusals;
mod scripts_auth;
mod scripts_connection;
mod scripts_protected;
mod vitalgraph;
