//! `tokenkeeper-testserver`: the reference authorization server as a process, for the CLI
//! demo and JS/browser tests. Prints `tokenkeeper-testserver listening on <url>` on one line
//! of stdout once it accepts connections, then serves until killed.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokenkeeper_testserver::{ServerConfig, TestServer};

/// Reference authorization server (VitalGraph routes and an RFC 6749 token endpoint).
#[derive(Debug, Parser)]
#[command(name = "tokenkeeper-testserver", version)]
struct Args {
    /// Port to listen on (0: chosen by the system, see the printed URL).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Loopback address to listen on: any of 127.0.0.0/8 (`127.0.0.2` makes a second
    /// origin), `::1`, `localhost` (this server is for tests: no other address).
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    host: IpAddr,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 1800)]
    access_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    refresh_ttl_secs: u64,
    /// Rotate refresh tokens (with reuse detection).
    #[arg(long)]
    rotation: bool,
    /// Revoke the previous access token of a session on each refresh.
    #[arg(long)]
    revoke_access_on_rotation: bool,
    /// Refuse bad tokens on protected routes with a bare 403 (no WWW-Authenticate), as
    /// django-oauth-toolkit does.
    #[arg(long)]
    bare_403_refusals: bool,
    /// A user as `name:password` (repeatable; replaces the default admin:admin).
    #[arg(long = "user", value_name = "USER:PASS")]
    users: Vec<String>,
    /// An OAuth client as `id:secret` (repeatable; added to the default cli:cli-secret).
    #[arg(long = "client", value_name = "ID:SECRET")]
    clients: Vec<String>,
    /// Do not send CORS headers.
    #[arg(long)]
    no_cors: bool,
}

fn parse_host(s: &str) -> Result<IpAddr, String> {
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    s.parse().map_err(|e| format!("{e}"))
}

fn pair(s: &str, what: &str) -> Result<(String, String), String> {
    s.split_once(':')
        .filter(|(a, _)| !a.is_empty())
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| format!("{what} {s:?} must look like name:secret"))
}

fn config(args: &Args) -> Result<ServerConfig, String> {
    let mut c = ServerConfig::default()
        .with_access_ttl(Duration::from_secs(args.access_ttl_secs))
        .with_refresh_ttl(Duration::from_secs(args.refresh_ttl_secs))
        .with_rotation(args.rotation)
        .with_revoke_access_on_rotation(args.revoke_access_on_rotation)
        .with_bare_403_refusals(args.bare_403_refusals)
        .with_cors(!args.no_cors);
    if !args.users.is_empty() {
        c.users = args
            .users
            .iter()
            .map(|u| pair(u, "--user"))
            .collect::<Result<_, _>>()?;
    }
    for cl in &args.clients {
        c.clients.push(pair(cl, "--client")?);
    }
    Ok(c)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.host.is_loopback() {
        eprintln!(
            "tokenkeeper-testserver: --host must be a loopback address, not {}",
            args.host
        );
        return ExitCode::from(2);
    }
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tokenkeeper-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start_blocking(SocketAddr::new(args.host, args.port), config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tokenkeeper-testserver: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "tokenkeeper-testserver listening on {}", server.url());
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
