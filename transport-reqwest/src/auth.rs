//! Performing one `Authenticate` action: send the engine's login or refresh request exactly as
//! given, read the answer (at most `MAX_AUTH_BODY` + 1 bytes) and report it.

use std::sync::Arc;

use tokenkeeper_core::parse::MAX_AUTH_BODY;
use tokenkeeper_core::{AuthId, AuthRequest, SendFailure};
use zeroize::Zeroizing;

use crate::shared::Shared;

/// Gives the engine no credentials if the task asking the provider is dropped (the runtime
/// shuts down, the provider panicked) before it answered, so the waiting exchanges end.
pub(crate) struct AskGuard {
    shared: Arc<Shared>,
    answered: bool,
}

impl AskGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        AskGuard {
            shared,
            answered: false,
        }
    }
}

impl Drop for AskGuard {
    fn drop(&mut self) {
        if !self.answered {
            tracing::debug!("tokenkeeper: credentials provider gave no answer");
            self.shared
                .input_from_drop_with(|st, now, out| st.answer(now, None, out));
        }
    }
}

/// Asks the credentials provider (the engine said `NeedCredentials`) and gives the engine its
/// answer. The credentials are never logged.
pub(crate) async fn ask(mut guard: AskGuard) {
    let Some(provider) = guard.shared.provider.clone() else {
        return; // the guard answers none
    };
    let answer = provider().await;
    guard.answered = true;
    guard
        .shared
        .locked(|st, now, out| st.answer(now, answer, out));
}

/// Reports `handle_auth_abandoned` if the task performing the operation is dropped before it
/// reported an outcome, so the engine re-issues it for the exchanges still waiting.
pub(crate) struct AuthGuard {
    shared: Arc<Shared>,
    op: AuthId,
    reported: bool,
}

impl AuthGuard {
    pub(crate) fn new(shared: Arc<Shared>, op: AuthId) -> Self {
        AuthGuard {
            shared,
            op,
            reported: false,
        }
    }
}

impl Drop for AuthGuard {
    fn drop(&mut self) {
        if !self.reported {
            let op = self.op;
            tracing::debug!(op = op.as_u64(), "tokenkeeper: auth request abandoned");
            self.shared
                .input_from_drop(|s, now| s.handle_auth_abandoned(now, op));
        }
    }
}

/// Sends the auth request and reports the outcome to the engine. Secrets (the body, the
/// `Authorization` header, the answer) are never logged, and the answer is zeroized.
pub(crate) async fn perform(mut guard: AuthGuard, auth: AuthRequest) {
    let op = auth.id;
    let kind = auth.kind;
    let shared = Arc::clone(&guard.shared);
    tracing::debug!(op = op.as_u64(), ?kind, uri = %auth.request.uri(), "tokenkeeper: auth request");
    let Ok(request) = reqwest::Request::try_from(auth.request) else {
        // The engine builds valid requests; report it as a failure that never left.
        guard.reported = true;
        shared.input(None, |s, now| {
            s.handle_auth_error(now, op, SendFailure::NotSent);
        });
        return;
    };
    let outcome = shared.auth_client.execute(request).await;
    match outcome {
        Ok(mut response) => {
            let status = response.status();
            let headers = response.headers().clone();
            match read_capped(&mut response).await {
                Ok(body) => {
                    tracing::debug!(
                        op = op.as_u64(),
                        ?kind,
                        status = status.as_u16(),
                        "tokenkeeper: auth response"
                    );
                    guard.reported = true;
                    shared.input(None, |s, now| {
                        s.handle_auth_response(now, op, status, &headers, &body);
                    });
                }
                Err(e) => {
                    tracing::debug!(op = op.as_u64(), ?kind, error = %e, "tokenkeeper: auth response body failed");
                    guard.reported = true;
                    shared.input(None, |s, now| {
                        s.handle_auth_error(now, op, SendFailure::MaybeSent);
                    });
                }
            }
        }
        Err(e) => {
            let failure = if e.is_connect() {
                SendFailure::NotSent
            } else {
                SendFailure::MaybeSent
            };
            tracing::debug!(op = op.as_u64(), ?kind, ?failure, error = %e, "tokenkeeper: auth request failed");
            guard.reported = true;
            shared.input(None, |s, now| s.handle_auth_error(now, op, failure));
        }
    }
}

/// Reads the body, stopping after `MAX_AUTH_BODY + 1` bytes (enough for the engine to see it
/// is too large without buffering an unbounded answer).
async fn read_capped(
    response: &mut reqwest::Response,
) -> Result<Zeroizing<Vec<u8>>, reqwest::Error> {
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await? {
        let room = (MAX_AUTH_BODY + 1).saturating_sub(body.len());
        let take = &chunk[..chunk.len().min(room)];
        grow(&mut body, take.len());
        body.extend_from_slice(take);
        if body.len() > MAX_AUTH_BODY {
            break;
        }
    }
    Ok(body)
}

/// Makes room for `additional` bytes without leaving an unzeroized copy behind (a plain
/// `Vec` reallocation would free the old buffer as it is).
fn grow(body: &mut Zeroizing<Vec<u8>>, additional: usize) {
    if body.capacity() - body.len() < additional {
        let mut bigger = Zeroizing::new(Vec::with_capacity(
            (body.len() + additional).max(body.len() * 2),
        ));
        bigger.extend_from_slice(body);
        *body = bigger;
    }
}
