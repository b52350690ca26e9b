//! `tokenkeeper`: watch the library keep a bearer token valid (`demo`), or check that a server
//! behaves the way the library needs (`doctor`).
//!
//! `tokenkeeper demo` starts the reference authorization server in-process with tokens that
//! live a few seconds, runs a concurrent workload through `tokenkeeper-reqwest` while it revokes
//! every token and makes the auth endpoint fail, and ends with the client's and the server's
//! counts side by side. `tokenkeeper doctor` runs the seed plan's diagnostic steps against any
//! VitalGraph or OAuth 2.0 server and prints PASS/WARN/FAIL per check.
//!
//! Exit codes: 0 success, 1 a failed check or a failed request, 2 a usage error.

#![forbid(unsafe_code)]

mod demo;
mod doctor;
mod out;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps an HTTP client's bearer token valid: demo and diagnostics.
#[derive(Debug, Parser)]
#[command(name = "tokenkeeper", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Watch the library keep tokens valid against an in-process server that misbehaves.
    ///
    /// Runs a concurrent workload against the reference server with short-lived tokens,
    /// revokes every token and makes the auth endpoint fail part-way, and prints what the
    /// client and the server counted. Exits 0 only if no request failed.
    Demo(demo::DemoArgs),
    /// Check a server the way the library will use it.
    ///
    /// Login response shape, refresh token, expiry, refresh, rotation, a protected endpoint,
    /// proactive refresh of a short-lived token, and 401 recovery. Exits 1 if a check fails.
    Doctor(doctor::DoctorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokenkeeper: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
        }
    });
    // Worker tasks that outlived their deadline must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
