//! The live exchanges: the handle each is known by outside, its id in the engine, the waker
//! that tells the machine its mailbox has a step, and the deadline of its attempt in flight.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

use tokenkeeper_core::{ExchangeId, Timestamp};

use super::intent::Handle;

/// One exchange.
pub(crate) struct Ex {
    pub(crate) h: Handle,
    pub(crate) id: ExchangeId,
    /// Parked in the kit's mailbox while the exchange waits for a step; waking it queues `h`.
    pub(crate) waker: Waker,
    /// Whether an attempt is in flight (sent, not reported yet).
    pub(crate) sending: bool,
    /// When the attempt in flight times out (per-attempt timeout).
    pub(crate) deadline: Option<Timestamp>,
}

/// Queues its exchange's handle when woken.
struct Ready {
    h: Handle,
    queue: Arc<Mutex<Vec<Handle>>>,
}

impl Wake for Ready {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.h);
    }
}

/// The live exchanges. A short vector: a page has a few exchanges in flight, a herd a few
/// hundred.
#[derive(Default)]
pub(crate) struct Exchanges {
    list: Vec<Ex>,
    ready: Arc<Mutex<Vec<Handle>>>,
    last: Handle,
}

impl Exchanges {
    /// Adds an exchange; its handle (never 0).
    pub(crate) fn open(&mut self, id: ExchangeId) -> Handle {
        self.last = self.last.wrapping_add(1).max(1);
        let h = self.last;
        let waker = Waker::from(Arc::new(Ready {
            h,
            queue: Arc::clone(&self.ready),
        }));
        self.list.push(Ex {
            h,
            id,
            waker,
            sending: false,
            deadline: None,
        });
        h
    }

    pub(crate) fn get_mut(&mut self, h: Handle) -> Option<&mut Ex> {
        self.list.iter_mut().rev().find(|e| e.h == h)
    }

    pub(crate) fn close(&mut self, h: Handle) -> Option<Ex> {
        let at = self.list.iter().rposition(|e| e.h == h)?;
        Some(self.list.swap_remove(at))
    }

    /// Whether an exchange waits for a step (it is not sending).
    pub(crate) fn waiting(&self) -> bool {
        self.list.iter().any(|e| !e.sending)
    }

    /// The handles woken since the last call, in the order they were woken.
    pub(crate) fn take_ready(&self) -> Vec<Handle> {
        core::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The earliest attempt deadline.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.list.iter().filter_map(|e| e.deadline).min()
    }

    /// The exchanges whose attempt deadline has passed at `now`.
    pub(crate) fn due(&self, now: Timestamp) -> Vec<Handle> {
        self.list
            .iter()
            .filter(|e| e.deadline.is_some_and(|d| d <= now))
            .map(|e| e.h)
            .collect()
    }
}
