//! The driver's clock: `now` for the engine, and sleeping until one of its timers.
//!
//! The system clock by default; tests inject a [`ManualClock`] and move time themselves, so no
//! test waits in real time for an expiry, a backoff or a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenkeeper_core::Timestamp;

/// A sleep until a point in the clock's time.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the driver reads the time and sleeps until the engine's timers.
///
/// `now` is wall-clock milliseconds since the Unix epoch (token lifetimes are wall-clock
/// facts). Set one with [`KeeperBuilder::clock`](crate::KeeperBuilder::clock); the default is
/// [`SystemClock`].
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Timestamp;

    /// A future that completes once [`Clock::now`] has reached `at`.
    fn sleep_until(&self, at: Timestamp) -> Sleep;
}

/// The system's wall clock, with tokio's timers for sleeping (a tokio runtime is needed to
/// sleep, as for reqwest itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        system_now()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        // Rounded up by a millisecond so a timer never fires just before its time and spins.
        let wait = at.saturating_duration_since(system_now()) + Duration::from_millis(1);
        Box::pin(tokio::time::sleep(wait))
    }
}

fn system_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_millis(ms)
}

/// A clock that moves only when told: for tests that must see an expiry, a backoff or a
/// deadline without waiting for it. Cheap to clone; clones share the time.
///
/// ```
/// use std::time::Duration;
/// use tokenkeeper_reqwest::clock::{Clock, ManualClock};
/// use tokenkeeper_reqwest::core::Timestamp;
///
/// let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
/// clock.advance(Duration::from_secs(30)); // sleepers due by then wake up
/// assert_eq!(clock.now(), Timestamp::from_secs(1_800_000_030));
/// ```
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Manual>>);

struct Manual {
    now: Timestamp,
    sleepers: Vec<(Timestamp, Waker)>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(Manual {
            now: start,
            sleepers: Vec::new(),
        })))
    }

    /// A clock standing at the system's time now.
    pub fn starting_now() -> Self {
        ManualClock::new(system_now())
    }

    /// Moves the time forward by `by` and wakes every sleeper that is due.
    pub fn advance(&self, by: Duration) {
        let now = self.now().saturating_add(by);
        self.set(now);
    }

    /// Sets the time (forward or back) and wakes every sleeper that is due.
    pub fn set(&self, now: Timestamp) {
        let due: Vec<Waker> = {
            let mut m = self.lock();
            m.now = now;
            let (due, later): (Vec<_>, Vec<_>) = m.sleepers.drain(..).partition(|(t, _)| *t <= now);
            m.sleepers = later;
            due.into_iter().map(|(_, w)| w).collect()
        };
        for w in due {
            w.wake();
        }
    }

    /// The earliest time a sleeper waits for, if any (to jump straight to it).
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.lock().sleepers.iter().map(|(t, _)| *t).min()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manual> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.lock().now
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        Box::pin(ManualSleep {
            clock: self.clone(),
            at,
        })
    }
}

struct ManualSleep {
    clock: ManualClock,
    at: Timestamp,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut m = self.clock.lock();
        if m.now >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        match m
            .sleepers
            .iter_mut()
            .find(|(t, w)| *t == at && w.will_wake(cx.waker()))
        {
            Some(_) => {}
            None => m.sleepers.push((at, cx.waker().clone())),
        }
        Poll::Pending
    }
}

/// The clock a keeper uses: the system clock read directly (every request reads it), or
/// another one behind a pointer.
#[derive(Clone)]
pub(crate) enum ClockRef {
    System,
    Custom(Arc<dyn Clock>),
}

impl ClockRef {
    pub(crate) fn now(&self) -> Timestamp {
        match self {
            ClockRef::System => system_now(),
            ClockRef::Custom(c) => c.now(),
        }
    }

    pub(crate) fn sleep_until(&self, at: Timestamp) -> Sleep {
        match self {
            ClockRef::System => SystemClock.sleep_until(at),
            ClockRef::Custom(c) => c.sleep_until(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_is_moved_past_it() {
        let clock = ManualClock::new(Timestamp::from_secs(100));
        let sleep = clock.sleep_until(Timestamp::from_secs(130));
        let task = tokio::spawn(sleep);
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        assert_eq!(clock.next_wake(), Some(Timestamp::from_secs(130)));
        clock.advance(Duration::from_secs(29));
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        clock.advance(Duration::from_secs(1));
        task.await.unwrap();
        assert_eq!(clock.next_wake(), None);
    }
}
