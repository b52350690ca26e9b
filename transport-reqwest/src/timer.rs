//! The background timer task, for `Config::refresh_ahead`: sleeps until the engine's next
//! timer and fires it even when no request is waiting, so an idle session is refreshed
//! before the next request arrives (and an auth retry or circuit cool-down ends on time).
//!
//! Without `refresh_ahead` there is no such task: waiting exchanges sleep on the timers they
//! need, and a timer that came due while nobody waited fires at the next request.
//!
//! The task holds only a `Weak` reference: it ends once the keeper is gone (the session's
//! destructor wakes it). If its runtime shuts down, the next input starts a new one.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use tokenkeeper_core::{Session, Timestamp};

use crate::clock;
use crate::shared::Shared;

/// Spawns the task on the current runtime (the caller checked there is one).
pub(crate) fn spawn(shared: &Arc<Shared>) {
    let task = TimerTask {
        shared: Arc::downgrade(shared),
        sleep: None,
    };
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        tracing::debug!("tokenkeeper: background timer started");
        handle.spawn(task);
    }
}

struct TimerTask {
    shared: Weak<Shared>,
    sleep: Option<(Timestamp, Pin<Box<tokio::time::Sleep>>)>,
}

impl Drop for TimerTask {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let mut st = shared.lock();
            st.timer_task = false;
            st.timer_waker = None;
        }
    }
}

impl Future for TimerTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            // Never keep the session alive while pending: upgrade on every poll.
            let Some(shared) = this.shared.upgrade() else {
                return Poll::Ready(());
            };
            let timer = {
                let mut st = shared.lock();
                st.timer_waker = Some(cx.waker().clone());
                st.session.poll_timeout().map(|(at, _)| at)
            };
            let Some(at) = timer else {
                this.sleep = None;
                return Poll::Pending;
            };
            let sleep = match &mut this.sleep {
                Some((armed, sleep)) if *armed == at => sleep,
                other => {
                    let sleep = Box::pin(tokio::time::sleep_until(clock::deadline(at)));
                    &mut other.insert((at, sleep)).1
                }
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            let ((), _) = shared.input(None, Session::handle_timeout);
        }
    }
}
