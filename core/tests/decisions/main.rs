//! One transcript test per row of the decision table in `core/README.md`, named after the
//! row. Each drives the engine with a fake clock and asserts the exact sequence of actions.
//! The rows are grouped as the table is: sending, responses, auth outcomes.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod responses;
mod sending;
