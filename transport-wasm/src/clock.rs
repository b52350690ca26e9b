//! The keeper's clock: `now` for the engine, and sleeping until one of its timers.
//!
//! [`SystemClock`] (`Date.now()` and `setTimeout`) by default; tests give
//! [`Options::clock`](crate::Options::clock) a [`ManualClock`] and move time themselves, so no
//! test waits in real time for an expiry, a backoff or a deadline.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::Function;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

use tokenkeeper_core::Timestamp;

use crate::sys;

/// A sleep until a point in the clock's time; dropping it cancels it.
pub type Sleep = Pin<Box<dyn Future<Output = ()>>>;

/// Where the keeper reads the time and sleeps until the engine's timers.
///
/// `now` is wall-clock milliseconds since the Unix epoch (token lifetimes are wall-clock
/// facts).
pub trait Clock {
    /// The time now.
    fn now(&self) -> Timestamp;

    /// A future that completes once [`Clock::now`] has reached `at`. `keep_alive`: a caller
    /// waits on it (a host that can, Node, should not exit before it fires).
    fn sleep_until(&self, at: Timestamp, keep_alive: bool) -> Sleep;
}

/// `Date.now()` and the global `setTimeout` (cleared when the sleep is dropped; in Node, a
/// sleep no caller waits on does not keep the process alive).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        sys::now()
    }

    fn sleep_until(&self, at: Timestamp, keep_alive: bool) -> Sleep {
        let delay = at.as_millis().saturating_sub(sys::now().as_millis());
        Box::pin(Timeout::new(delay.min(i32::MAX as u64) as f64, keep_alive))
    }
}

/// One `setTimeout`.
struct Timeout {
    state: Rc<RefCell<(bool, Option<Waker>)>>,
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    fn new(ms: f64, keep_alive: bool) -> Timeout {
        let state = Rc::new(RefCell::new((false, None::<Waker>)));
        let fired = Rc::clone(&state);
        let callback = Closure::<dyn FnMut()>::new(move || {
            let waker = {
                let mut s = fired.borrow_mut();
                s.0 = true;
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        let handle = sys::set_timeout(callback.as_ref().unchecked_ref::<Function>(), ms);
        if !keep_alive {
            sys::unref_timer(&handle);
        }
        Timeout {
            state,
            handle,
            _callback: callback,
        }
    }
}

impl Future for Timeout {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.borrow_mut();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if !self.state.borrow().0 {
            sys::clear_timeout(&self.handle);
        }
    }
}

/// A clock that moves only when told, for tests. Cheap to clone; clones share the time.
#[derive(Clone)]
pub struct ManualClock(Rc<RefCell<Manual>>);

struct Manual {
    now: Timestamp,
    sleepers: Vec<(Timestamp, Waker)>,
}

impl core::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Rc::new(RefCell::new(Manual {
            now: start,
            sleepers: Vec::new(),
        })))
    }

    /// A clock standing at `Date.now()`.
    pub fn starting_now() -> Self {
        ManualClock::new(sys::now())
    }

    /// Moves the time forward by `ms` milliseconds and wakes every sleeper that is due (they
    /// run once the caller yields to the event loop).
    pub fn advance(&self, ms: u64) {
        let now = Timestamp::from_millis(self.now().as_millis().saturating_add(ms));
        let due: Vec<Waker> = {
            let mut m = self.0.borrow_mut();
            m.now = now;
            let (due, later): (Vec<_>, Vec<_>) = m.sleepers.drain(..).partition(|(t, _)| *t <= now);
            m.sleepers = later;
            due.into_iter().map(|(_, w)| w).collect()
        };
        for w in due {
            w.wake();
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.borrow().now
    }

    fn sleep_until(&self, at: Timestamp, _keep_alive: bool) -> Sleep {
        let clock = self.clone();
        Box::pin(std::future::poll_fn(move |cx| {
            let mut m = clock.0.borrow_mut();
            if m.now >= at {
                Poll::Ready(())
            } else {
                m.sleepers.push((at, cx.waker().clone()));
                Poll::Pending
            }
        }))
    }
}
