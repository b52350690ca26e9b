//! Gauges: how many connections are open and how many scripted answers are still running,
//! so a test can see that a server task ended when its client went away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// What the server is doing right now (`GET /_control/gauges` answers the same fields).
///
/// Unlike [`Counters`](crate::Counters) these go up and down and are not reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gauges {
    /// TCP connections accepted and not yet closed.
    pub open_connections: u64,
    /// Scripted answers still running: a delayed or never-sent answer, a body still
    /// streaming, a connection about to be reset. Back to zero once every client that
    /// received one has read it all or gone away.
    pub scripts_in_progress: u64,
}

/// One gauge: a count and a wakeup for whoever waits for it to fall.
#[derive(Debug, Default)]
struct Gauge {
    value: AtomicU64,
    fell: Notify,
}

/// The live gauges shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct LiveGauges {
    connections: Arc<Gauge>,
    scripts: Arc<Gauge>,
}

/// Holds one unit of a gauge; dropping it gives the unit back.
#[derive(Debug)]
pub(crate) struct Held(Arc<Gauge>);

impl Held {
    fn take(g: &Arc<Gauge>) -> Held {
        g.value.fetch_add(1, Ordering::SeqCst);
        Held(g.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.value.fetch_sub(1, Ordering::SeqCst);
        self.0.fell.notify_waiters();
    }
}

impl LiveGauges {
    /// Counts an open connection until the returned value is dropped.
    pub(crate) fn connection(&self) -> Held {
        Held::take(&self.connections)
    }

    /// Counts a scripted answer in progress until the returned value is dropped.
    pub(crate) fn script(&self) -> Held {
        Held::take(&self.scripts)
    }

    /// Reads both gauges.
    pub(crate) fn snapshot(&self) -> Gauges {
        Gauges {
            open_connections: self.connections.value.load(Ordering::SeqCst),
            scripts_in_progress: self.scripts.value.load(Ordering::SeqCst),
        }
    }

    /// Waits until no scripted answer is in progress; `false` if `timeout` passed first.
    pub(crate) async fn scripts_idle(&self, timeout: Duration) -> bool {
        let g = &self.scripts;
        let wait = async {
            loop {
                let fell = g.fell.notified();
                tokio::pin!(fell);
                fell.as_mut().enable();
                if g.value.load(Ordering::SeqCst) == 0 {
                    return;
                }
                fell.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_units_come_back_and_wake_the_waiter() {
        let g = Arc::new(LiveGauges::default());
        let a = g.script();
        let b = g.connection();
        assert_eq!(
            g.snapshot(),
            Gauges {
                open_connections: 1,
                scripts_in_progress: 1
            }
        );
        assert!(!g.scripts_idle(Duration::ZERO).await);
        let waiter = tokio::spawn({
            let g = g.clone();
            async move { g.scripts_idle(Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        drop(a);
        assert!(waiter.await.unwrap());
        drop(b);
        assert_eq!(g.snapshot(), Gauges::default());
    }
}
