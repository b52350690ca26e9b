//! The `tokenkeeper` command, run as a user would: the built binary, real HTTP on loopback.

mod common;
mod demo;
mod doctor;
