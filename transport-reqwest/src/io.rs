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
use tokenkeeper_core::driver::AuthBody;
use tokenkeeper_core::{AuthRequest, SendFailure};
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

/// Sends the auth request and reads its answer. Never logs the body, the headers or the
/// answer.
pub(crate) async fn perform(client: &reqwest::Client, auth: AuthRequest) -> AuthAnswer {
    // The endpoint URL is reqwest's own reading already (`KeeperBuilder::build`), so this
    // parse gives back the URL whose origin the engine judged.
    let Ok(url) = reqwest::Url::parse(auth.request.url()) else {
        // The engine builds valid requests; report it as a failure that never left.
        return AuthAnswer::Failed(SendFailure::NotSent);
    };
    let mut request = reqwest::Request::new(reqwest::Method::POST, url);
    *request.headers_mut() = auth.request.headers();
    let body = auth.request.into_body();
    *request.body_mut() = Some(reqwest::Body::from(Bytes::from_owner(Wiped(body))));
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
