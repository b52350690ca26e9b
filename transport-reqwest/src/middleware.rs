//! [`Middleware`]: the same token keeping as one `reqwest-middleware` layer.

use std::fmt;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Next, Result};

use crate::error::Error;
use crate::exchange::{Outcome, Transport};
use crate::fast;
use crate::keeper::Keeper;

/// A [`reqwest_middleware::Middleware`] that attaches the keeper's token, renews it and
/// resends after a 401, for users of `reqwest-middleware`:
///
/// ```no_run
/// # fn demo(keeper: tokenkeeper_reqwest::Keeper) {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(tokenkeeper_reqwest::Middleware::new(keeper))
///     .build();
/// # }
/// ```
///
/// Each attempt runs the rest of the stack (`next`). A request is replayable when
/// `Request::try_clone` works (buffered body); a streaming body is sent once. Engine failures
/// come back as `reqwest_middleware::Error::Middleware` holding an [`Error`]; a transport
/// failure keeps its reqwest error as the source.
#[derive(Clone)]
pub struct Middleware {
    keeper: Keeper,
}

impl fmt::Debug for Middleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Middleware").finish_non_exhaustive()
    }
}

impl Middleware {
    /// The layer for this keeper (several layers and clients may share one keeper).
    pub fn new(keeper: Keeper) -> Self {
        Middleware { keeper }
    }
}

/// Sends through the rest of the middleware stack.
struct Rest<'a> {
    next: Next<'a>,
    extensions: &'a mut Extensions,
}

impl Transport for Rest<'_> {
    type Error = reqwest_middleware::Error;

    fn send(&mut self, request: Request) -> impl Future<Output = Result<Response>> + Send {
        self.next.clone().run(request, self.extensions)
    }

    fn is_connect(error: &reqwest_middleware::Error) -> bool {
        matches!(error, reqwest_middleware::Error::Reqwest(e) if e.is_connect())
    }

    /// Later layers may read any extension: keep the whole request.
    type Kept = Request;

    fn keep(request: &Request) -> Option<Request> {
        request.try_clone()
    }

    fn rebuild(kept: &Request, url: reqwest::Url) -> Option<Request> {
        let mut copy = kept.try_clone()?;
        *copy.url_mut() = url;
        Some(copy)
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Middleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let shared = &self.keeper.shared;
        let mut rest = Rest { next, extensions };
        match fast::run(shared, req, &mut rest).await {
            Outcome::Response(r) => Ok(r),
            Outcome::PassThrough(r) => r,
            Outcome::Failed { engine, last_error } => Err(match (engine, last_error) {
                (
                    engine @ tokenkeeper_core::Error::Transport { .. },
                    Some(reqwest_middleware::Error::Reqwest(source)),
                ) => reqwest_middleware::Error::middleware(Error::Transport { engine, source }),
                // A later layer's own error says more than the engine's verdict.
                (tokenkeeper_core::Error::Transport { .. }, Some(other)) => other,
                (engine, _) => reqwest_middleware::Error::middleware(Error::Engine(engine)),
            }),
            Outcome::Internal(what) => {
                Err(reqwest_middleware::Error::middleware(Error::Internal(what)))
            }
        }
    }
}
