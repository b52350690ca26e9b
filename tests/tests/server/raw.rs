//! Raw TCP helpers for the connection-level scripts: what bytes arrive, and how the
//! connection ends (EOF, reset, nothing yet).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A VitalGraph login request for admin, complete with its body.
pub(crate) fn login_request() -> Vec<u8> {
    let body = "username=admin&password=admin";
    format!(
        "POST /api/login HTTP/1.1\r\nhost: test\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Connects to `addr` and sends `request` whole.
pub(crate) async fn send(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    s
}

/// How reading from a connection ended.
#[derive(Debug)]
pub(crate) enum End {
    /// The peer closed cleanly (FIN) after these bytes.
    Eof(Vec<u8>),
    /// The peer reset the connection (RST) after these bytes.
    Reset(Vec<u8>),
    /// Nothing more arrived within the wait, after these bytes.
    Quiet(Vec<u8>),
}

/// Reads until EOF, reset, or `quiet` without a byte.
pub(crate) async fn read_until_end(s: &mut TcpStream, quiet: Duration) -> End {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Err(_) => return End::Quiet(got),
            Ok(Ok(0)) => return End::Eof(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => return End::Reset(got),
            Ok(Err(e)) => panic!("unexpected read error {e}"),
        }
    }
}

/// A GET of `path` with a bearer token.
pub(crate) fn get_request(path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}
