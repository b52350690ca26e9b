//! Playing a scripted answer: the body produced lazily in bounded chunks, slow sending,
//! truncation, and the connection behaviours (never answer, reset).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::response::Response;
use futures_util::stream;

use crate::body::Chunks;
use crate::gauges::Held;
use crate::script::{Prepared, Prepped};
use crate::state::{AppState, ConnHandle};

/// How long a truncated body waits after its last byte before it ends (which makes the
/// server close the connection), so that byte leaves the server's buffers first.
const TRUNCATE_LINGER: Duration = Duration::from_millis(25);

/// The HTTP body of a scripted answer: `chunks`, one every `every` after the first, holding
/// `held` (the in-progress gauge) until it ends or the client goes away. A `truncated`
/// body lingers before it ends: hyper flushes what it holds while the body is pending, and
/// would drop it if the body ended short at once.
fn streamed(chunks: Chunks, every: Option<Duration>, truncated: bool, held: Held) -> HttpBody {
    let s = stream::unfold(
        (chunks, true, held),
        move |(mut chunks, first, held)| async move {
            if let (Some(d), false) = (every, first) {
                tokio::time::sleep(d).await;
            }
            let Some(c) = chunks.next() else {
                if truncated {
                    tokio::task::yield_now().await;
                    tokio::time::sleep(TRUNCATE_LINGER).await;
                }
                return None;
            };
            Some((Ok::<_, Infallible>(c), (chunks, false, held)))
        },
    );
    HttpBody::from_stream(s)
}

/// Answers with `p` (a [`Prepared::Answer`]); never returns for [`Prepared::Never`],
/// [`Prepared::Reset`] and [`Prepared::Raw`] (the connection task ends the request). `Real` answers are the
/// routes' business and must not come here.
pub(crate) async fn play(state: &AppState, conn: &ConnHandle, p: Prepared) -> Response {
    let held = state.gauges.script();
    match p {
        Prepared::Answer(a) => respond(&a, held).await,
        Prepared::Reset => {
            state
                .counters
                .bump(crate::counters::Counter::ConnectionsReset);
            conn.reset();
            std::future::pending().await
        }
        Prepared::Raw(bytes) => {
            conn.write_raw(bytes);
            std::future::pending().await
        }
        Prepared::Never | Prepared::Real(_) => std::future::pending().await,
    }
}

async fn respond(a: &Prepped, held: Held) -> Response {
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    let chunks = Chunks::new(a.segments.clone(), a.chunk_bytes, a.send_limit);
    let mut r = Response::new(streamed(chunks, a.every, a.send_limit.is_some(), held));
    *r.status_mut() = a.status;
    *r.headers_mut() = a.headers.clone();
    r
}
