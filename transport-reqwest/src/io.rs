//! Performing one login or refresh request: send it exactly as the engine built it, read the
//! answer as a stream into an [`AuthBody`] (which stops at the engine's size limit).
//!
//! What is wiped: the request body (a password, a client secret or a refresh token) is handed
//! to reqwest as a buffer that is zeroed when reqwest and hyper drop it, and the answer (the
//! new tokens) is read into buffers that are zeroed. What is not, because the bytes leave this
//! crate's hands: copies hyper makes into its own write buffer, TLS buffers (rustls), the
//! kernel's socket buffers, and header values (the VitalGraph refresh sends the refresh token
//! in `Authorization`; `http::HeaderValue` is not zeroed).

use bytes::Bytes;
use tokenkeeper_core::dialect::{AuthHttpRequest, Dialect, EndpointUrl};
use tokenkeeper_core::driver::AuthBody;
use tokenkeeper_core::{AuthRequest, ConfigError, SendFailure};
use zeroize::Zeroizing;

/// How an auth request ended.
pub(crate) enum AuthAnswer {
    /// The endpoint answered.
    Response {
        status: http::StatusCode,
        headers: http::HeaderMap,
        body: AuthBody,
    },
    /// No (complete) answer.
    Failed(SendFailure),
}

/// The owner of a request body's bytes: zeroed when the last `Bytes` pointing at it is dropped.
struct Wiped(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A login or refresh request as reqwest sends it: a `POST` to the URL reqwest reads, with
/// the engine's headers and a body whose bytes are wiped when reqwest drops it. `None` when
/// reqwest cannot read the URL (not after [`read_endpoint_urls`], which the keeper's
/// `build()` runs: the URL is then reqwest's own reading, and this parse gives it back).
#[must_use]
pub fn reqwest_request(request: AuthHttpRequest) -> Option<reqwest::Request> {
    let url = reqwest::Url::parse(request.url()).ok()?;
    let mut out = reqwest::Request::new(reqwest::Method::POST, url);
    *out.headers_mut() = request.headers();
    let body = request.into_body();
    *out.body_mut() = Some(reqwest::Body::from(Bytes::from_owner(Wiped(body))));
    Some(out)
}

/// Reads a dialect's endpoint URLs again with `reqwest::Url`, the parser that sends them, so
/// that the origin the engine judges is the one reqwest connects to (`http://127.1` is
/// `http://127.0.0.1`). `KeeperBuilder::build` does it; a tool that sends a dialect's
/// requests itself (`tokenkeeper doctor`) does it too.
pub fn read_endpoint_urls(dialect: &mut Dialect) -> Result<(), ConfigError> {
    dialect.reread_urls(|given| {
        let given = given.as_str();
        let url = reqwest::Url::parse(given).map_err(|_| ConfigError::invalid_url(given))?;
        let host = url.host_str().unwrap_or_default();
        EndpointUrl::from_parsed(url.as_str(), url.scheme(), host, url.port())
    })
}

/// Sends the auth request and reads its answer. Never logs the body, the headers or the
/// answer.
pub(crate) async fn perform(client: &reqwest::Client, auth: AuthRequest) -> AuthAnswer {
    let Some(request) = reqwest_request(auth.request) else {
        // The engine builds valid requests; report it as a failure that never left.
        return AuthAnswer::Failed(SendFailure::NotSent);
    };
    let mut response = match client.execute(request).await {
        Ok(r) => r,
        Err(e) => {
            let failure = if e.is_connect() {
                SendFailure::NotSent
            } else {
                SendFailure::MaybeSent
            };
            tracing::debug!(?failure, error = %e, "tokenkeeper: auth request failed");
            return AuthAnswer::Failed(failure);
        }
    };
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let mut body = AuthBody::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.push(&chunk).is_break() {
                    // Over the limit: stop reading; dropping the response closes the stream.
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "tokenkeeper: auth response body failed");
                return AuthAnswer::Failed(SendFailure::MaybeSent);
            }
        }
    }
    AuthAnswer::Response {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use tokenkeeper_core::Secret;

    use super::*;

    /// The URLs the engine judges become reqwest's reading, and the request reqwest sends is
    /// the engine's: method, URL, headers (the refresh token's marked sensitive) and body.
    #[test]
    fn a_dialect_read_by_reqwest_and_its_refresh_request() {
        let mut d = Dialect::vitalgraph("http://127.1:8080//").unwrap();
        assert_eq!(d.origin().as_deref(), Some("http://127.1:8080"));
        read_endpoint_urls(&mut d).unwrap();
        assert_eq!(d.origin().as_deref(), Some("http://127.0.0.1:8080"));
        let refresh = d.refresh_request(&Secret::new("rt-SECRET")).unwrap();
        assert_eq!(refresh.url(), "http://127.0.0.1:8080/api/refresh");
        let (headers, body) = (refresh.headers(), refresh.body().to_vec());
        let r = reqwest_request(refresh).unwrap();
        assert_eq!(r.method(), reqwest::Method::POST);
        assert_eq!(r.url().as_str(), "http://127.0.0.1:8080/api/refresh");
        assert_eq!(*r.headers(), headers);
        assert!(r.headers()["authorization"].is_sensitive());
        assert_eq!(r.body().and_then(reqwest::Body::as_bytes), Some(&body[..]));
    }
}
