//! The Redis store's subscription: sets published on the channel, offered as they arrive,
//! and the stored set after each (re)connection.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use redis::RedisError;
use tokenkeeper_core::TokenSet;

use super::{Inner, RECONNECT_PAUSE, RedisStore, reason, unavailable};
use crate::store::codec;
use crate::store::{StoreError, TokenStore, TokenStream};

/// Where the subscription stands.
enum Watch {
    /// Not subscribed: connect (after `pause`), then read the set stored (to catch up).
    Connect {
        pause: Duration,
    },
    Subscribed(redis::aio::PubSubStream),
}

/// The sets published on the channel, as they arrive, with the stored set after each
/// (re)connection; an `Err` when the subscription broke (it reconnects, every 500 ms at most).
pub(super) fn watch(inner: Arc<Inner>) -> TokenStream {
    let start = Watch::Connect {
        pause: Duration::ZERO,
    };
    Box::pin(futures::stream::unfold(
        (inner, start),
        |(inner, state)| async move {
            match state {
                Watch::Connect { pause } => {
                    tokio::time::sleep(pause).await;
                    match subscribe(&inner).await {
                        Ok(stream) => {
                            // Catch up with what was saved while unsubscribed.
                            let caught_up = TokenStore::load(&RedisStore {
                                inner: Arc::clone(&inner),
                            })
                            .await;
                            let item = match caught_up {
                                Ok(Some(set)) => Ok(set),
                                Ok(None) => return next_message(inner, stream).await,
                                Err(e) => Err(e),
                            };
                            Some((item, (inner, Watch::Subscribed(stream))))
                        }
                        Err(e) => Some((
                            Err(e),
                            (
                                inner,
                                Watch::Connect {
                                    pause: RECONNECT_PAUSE,
                                },
                            ),
                        )),
                    }
                }
                Watch::Subscribed(stream) => next_message(inner, stream).await,
            }
        },
    ))
}

type WatchStep = Option<(Result<TokenSet, StoreError>, (Arc<Inner>, Watch))>;

/// The next published set (a message that is not a set is reported as corrupt).
async fn next_message(inner: Arc<Inner>, mut stream: redis::aio::PubSubStream) -> WatchStep {
    match stream.next().await {
        Some(msg) => {
            let item = codec::decode(msg.get_payload_bytes());
            Some((item, (inner, Watch::Subscribed(stream))))
        }
        None => Some((
            Err(unavailable("watch", "subscription lost".to_owned())),
            (
                inner,
                Watch::Connect {
                    pause: RECONNECT_PAUSE,
                },
            ),
        )),
    }
}

async fn subscribe(inner: &Inner) -> Result<redis::aio::PubSubStream, StoreError> {
    let connect = async {
        let mut pubsub = inner.client.get_async_pubsub().await?;
        pubsub.subscribe(&inner.tokens_key).await?;
        Ok::<_, RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(inner.timeout, connect).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(unavailable("watch", reason(&e))),
        Err(_) => Err(unavailable("watch", "no answer in time".to_owned())),
    }
}
