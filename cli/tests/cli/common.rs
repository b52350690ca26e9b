//! Running the binary and small servers that misbehave.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tokenkeeper_testserver::{ServerConfig, TestServer};

/// What a run of the binary printed, and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) took: Duration,
}

impl Run {
    /// Everything printed, for assertion messages.
    pub(crate) fn all(&self) -> String {
        format!(
            "exit code {:?} after {:.1} s\n--- stdout\n{}--- stderr\n{}",
            self.code,
            self.took.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `tokenkeeper` with `args` and the environment changes in `env` (`None` removes).
pub(crate) fn tokenkeeper(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenkeeper"));
    cmd.args(args);
    // Loopback servers only: a proxy from the environment must not get in the way.
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env_remove("TOKENKEEPER_PASSWORD");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the tokenkeeper binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// A reference server on a loopback port, from a plain test thread.
pub(crate) fn reference_server(config: ServerConfig) -> TestServer {
    TestServer::start_blocking(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config)
        .expect("the reference server starts")
}

/// A loopback port that nothing listens on.
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A server that answers every request with `200 OK` and this body and content type, as a
/// web server, a proxy or a captive portal would. Returns its base URL.
pub(crate) fn canned_server(content_type: &'static str, body: &'static str) -> String {
    canned_answer(content_type, body.to_owned(), String::new())
}

/// A server that answers every request with `200 OK`, this body and content type, and the
/// header lines in `extra` (each ending in `\r\n`). Returns its base URL.
pub(crate) fn canned_answer(content_type: &'static str, body: String, extra: String) -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            // Read the request head (and whatever part of the body came with it).
            let mut buf = [0u8; 8192];
            let mut seen = Vec::new();
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 {extra}Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

/// A JWT with this `exp` claim (the signature is never checked by a client).
pub(crate) fn jwt_with_exp(exp: u64) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(format!(r#"{{"sub":"doctor","exp":{exp}}}"#).as_bytes())
    )
}

/// base64url without padding.
fn b64url(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The cells of the demo table's row `label`: the client column, and the server column when
/// it holds a number.
pub(crate) fn table_row(stdout: &str, label: &str) -> Option<(u64, Option<u64>)> {
    for line in stdout.lines() {
        let Some(rest) = line.trim_start().strip_prefix(label) else {
            continue;
        };
        if !rest.starts_with("  ") {
            continue;
        }
        let cells: Vec<&str> = rest.split_whitespace().collect();
        let client = cells.first()?.parse().ok()?;
        let server = cells.get(1).and_then(|s| s.parse().ok());
        return Some((client, server));
    }
    None
}
