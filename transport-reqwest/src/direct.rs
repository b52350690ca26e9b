//! [`Direct`]: sending an exchange's attempts through the keeper's base `reqwest::Client`.

use std::future::Future;

use reqwest::{Request, Response};

use crate::exchange::Transport;

/// Sends through the keeper's base client.
pub(crate) struct Direct<'a>(pub(crate) &'a reqwest::Client);

impl Transport for Direct<'_> {
    type Error = reqwest::Error;

    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, reqwest::Error>> + Send {
        self.0.execute(request)
    }

    fn is_connect(error: &reqwest::Error) -> bool {
        error.is_connect()
    }

    type Kept = Kept;

    /// `Request::try_clone` also copies the request's extensions, after inserting a timeout
    /// entry into the copy that it then overwrites: three allocations and frees. Of the
    /// extensions, `reqwest::Client::execute` reads only that timeout, so a request without a
    /// body keeps its parts instead (one with a body keeps a `try_clone`, the only way to
    /// share its buffered bytes).
    fn keep(request: &Request) -> Option<Kept> {
        if request.body().is_some() {
            return request.try_clone().map(|r| Kept::Request(Box::new(r)));
        }
        Some(Kept::Parts {
            method: request.method().clone(),
            headers: (!request.headers().is_empty()).then(|| request.headers().clone()),
            version: request.version(),
            timeout: request.timeout().copied(),
        })
    }

    fn rebuild(kept: &Kept, url: reqwest::Url) -> Option<Request> {
        match kept {
            Kept::Request(r) => {
                let mut copy = r.try_clone()?;
                *copy.url_mut() = url;
                Some(copy)
            }
            Kept::Parts {
                method,
                headers,
                version,
                timeout,
            } => {
                let mut copy = Request::new(method.clone(), url);
                if let Some(headers) = headers {
                    *copy.headers_mut() = headers.clone();
                }
                *copy.version_mut() = *version;
                // Setting `None` would still add an (empty) extension entry.
                if let Some(t) = timeout {
                    *copy.timeout_mut() = Some(*t);
                }
                Some(copy)
            }
        }
    }
}

/// What [`Direct`] keeps of a request to send it again.
pub(crate) enum Kept {
    /// A request with a buffered body (boxed: the common request has none, and every
    /// request's future carries this enum).
    Request(Box<Request>),
    /// A request without a body: everything `reqwest::Client::execute` reads but the URL.
    Parts {
        method: reqwest::Method,
        /// `None` when there are none (most requests: reqwest adds its defaults later).
        headers: Option<reqwest::header::HeaderMap>,
        version: reqwest::Version,
        timeout: Option<std::time::Duration>,
    },
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Direct, Transport as _};

    /// What `Client::execute` gets from a request: everything but the extensions it ignores.
    fn parts(r: reqwest::Request) -> (String, usize, Option<Duration>) {
        let timeout = r.timeout().copied();
        let http = http::Request::<reqwest::Body>::try_from(r).unwrap();
        let (head, _) = http.into_parts();
        (format!("{head:?}"), head.extensions.len(), timeout)
    }

    #[test]
    fn the_direct_rebuild_equals_try_clone_for_every_builder_option() {
        let client = reqwest::Client::new();
        let builders = [
            client.get("http://127.0.0.1:1/a"),
            client
                .delete("http://127.0.0.1:1/a?x=1#f")
                .query(&[("y", "2")]),
            client
                .head("http://127.0.0.1:1/a")
                .header("x-one", "1")
                .header("x-one", "2")
                .timeout(Duration::from_millis(1500))
                .version(reqwest::Version::HTTP_11),
        ];
        for b in builders {
            let request = b.build().unwrap();
            let kept = Direct::keep(&request).unwrap();
            let copy = Direct::rebuild(&kept, request.url().clone()).unwrap();
            let cloned = request.try_clone().unwrap();
            assert!(copy.body().is_none());
            assert_eq!(parts(copy), parts(cloned));
        }
    }
}
