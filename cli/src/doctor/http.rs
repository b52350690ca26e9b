//! Plain HTTP for the doctor's wire checks (no token keeping): send a request built by the
//! engine's dialect, keep the answer, and say in one line what went wrong.

use std::error::Error as _;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use tokenkeeper_core::parse::parse_auth_error;

/// The most of a body the doctor reads (token answers are a few KiB).
const MAX_BODY: usize = 1024 * 1024;

/// A server's answer, body included.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: StatusCode,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body (at most 1 MiB of it).
    pub(crate) body: Vec<u8>,
    /// How long the exchange took.
    pub(crate) elapsed: Duration,
}

impl Answer {
    /// What kind of body this is, for messages: "JSON", "an HTML page", "empty", "text".
    pub(crate) fn body_kind(&self) -> &'static str {
        body_kind(&self.headers, &self.body)
    }

    /// The server's reason for a refusal (`error` or `detail`), sanitized, if it gave one.
    pub(crate) fn reason(&self) -> Option<String> {
        parse_auth_error(&self.body).code().map(str::to_owned)
    }

    /// `status` plus the server's reason in parentheses, or the body kind when it gave none.
    pub(crate) fn status_and_reason(&self) -> String {
        match self.reason() {
            Some(r) => format!("{} ({r})", self.status),
            None => format!("{} ({})", self.status, self.body_kind()),
        }
    }

    /// The `Content-Type` without parameters, or `none`.
    pub(crate) fn content_type(&self) -> String {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map_or_else(|| "no content-type".to_owned(), |v| v.trim().to_owned())
    }
}

/// What kind of body this is, for messages.
pub(crate) fn body_kind(headers: &HeaderMap, body: &[u8]) -> &'static str {
    let body = body.trim_ascii();
    let html_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    if body.is_empty() {
        "empty body"
    } else if html_type || body.starts_with(b"<") {
        "an HTML page"
    } else if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        "JSON"
    } else {
        "text, not JSON"
    }
}

/// Sends a request as built by the engine (login, refresh) and reads the answer.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: tokenkeeper_core::dialect::AuthHttpRequest,
) -> Result<Answer, reqwest::Error> {
    let url = request.url().to_owned();
    let request = match tokenkeeper_reqwest::reqwest_request(request) {
        Some(r) => r,
        // reqwest cannot read the URL: let it say why.
        None => client.post(url).build()?,
    };
    execute(client, request).await
}

/// Sends a `GET` with an optional `Authorization` value and reads the answer.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &reqwest::Url,
    authorization: Option<&str>,
) -> Result<Answer, reqwest::Error> {
    let mut builder = client.get(url.clone());
    if let Some(token) = authorization {
        builder = builder.bearer_auth(token);
    }
    execute(client, builder.build()?).await
}

async fn execute(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<Answer, reqwest::Error> {
    let started = Instant::now();
    let mut response = client.execute(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

/// One line saying why a request got no answer: connection refused, name not resolved,
/// timeout, connection closed, TLS... with the deepest cause the system gave.
pub(crate) fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let target = e.url().map_or_else(
        || "the server".to_owned(),
        |u| {
            let host = u.host_str().unwrap_or("?");
            match u.port_or_known_default() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            }
        },
    );
    let mut cause: Option<String> = None;
    let mut source = e.source();
    while let Some(s) = source {
        cause = Some(s.to_string());
        source = s.source();
    }
    let cause = cause.unwrap_or_else(|| e.to_string());
    if e.is_timeout() {
        format!("no answer from {target} within {} s", timeout.as_secs())
    } else if e.is_connect() {
        format!("cannot connect to {target}: {cause}")
    } else if e.is_redirect() {
        format!("too many redirects from {target}")
    } else if e.is_body() || e.is_decode() {
        format!("{target} broke off its answer: {cause}")
    } else {
        format!("no usable answer from {target}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_kinds() {
        let none = HeaderMap::new();
        let mut html = HeaderMap::new();
        html.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        assert_eq!(body_kind(&none, b"  "), "empty body");
        assert_eq!(body_kind(&none, b"<!doctype html>"), "an HTML page");
        assert_eq!(body_kind(&html, b"hello"), "an HTML page");
        assert_eq!(body_kind(&none, b"{\"a\":1}"), "JSON");
        assert_eq!(body_kind(&none, b"hello"), "text, not JSON");
    }
}
