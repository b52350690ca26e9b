//! The state a keeper's tasks share: the engine's [`Driver`] behind one short lock.
//!
//! Rules kept here:
//! - the lock is a `std::sync::Mutex`, held for one input at a time and never across an
//!   await;
//! - every input goes through [`Shared::locked`], which returns the [`Jobs`] the input left
//!   (tasks to wake, an auth request to perform, events...) for the caller to carry out with
//!   the lock released ([`crate::tasks::carry_out`]); nothing is spawned from here;
//! - with a token store, the tokens an input changed (`TokensChanged`, `SessionExpired`) are
//!   numbered under the lock and handed over as [`Jobs::persist`], so saves keep the engine's
//!   order;
//! - after every input the lease is republished ([`crate::stripes`]), auth requests whose
//!   deadline passed are aborted, and when the next timer moved earlier every waiting exchange
//!   is woken to sleep on it again (waiting exchanges sleep on the engine's timers
//!   themselves; with `Config::refresh_ahead` a background task does too).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use futures::future::AbortHandle;
use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::driver::{Driver, Work};
use tokenkeeper_core::{AuthId, Event, LeaseTerms, Metrics, Session, Timestamp};

use crate::clock::ClockRef;
use crate::store::handle::{Persist, StoreHandle};
use crate::stripes::Stripes;

/// A user hook called with every engine event, after the session lock is released.
pub(crate) type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// What a credentials provider returns: credentials, or `None` when there are none.
pub(crate) type CredentialsFuture = Pin<Box<dyn Future<Output = Option<Credentials>> + Send>>;

/// Asked for credentials when the engine says `NeedCredentials`.
pub(crate) type CredentialsProvider = Arc<dyn Fn() -> CredentialsFuture + Send + Sync>;

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) driver: Driver,
    /// The terms of the published lease.
    lease_terms: Option<LeaseTerms>,
    /// Whether the background timer task runs (`Config::refresh_ahead`).
    pub(crate) timer_task: bool,
    /// The background timer task's waker, woken when the next timer moves earlier.
    pub(crate) timer_waker: Option<Waker>,
    /// The auth request in flight and the handle that aborts its task.
    pub(crate) auth_abort: Option<(AuthId, AbortHandle)>,
    /// Numbers the token store's saves in the order the engine produced them.
    persist_seq: u64,
}

/// What an input left to do once the lock is released.
#[derive(Default)]
pub(crate) struct Jobs {
    pub(crate) work: Work,
    /// Start the background timer task.
    pub(crate) start_timer: bool,
    /// Tokens to save in the token store (with one configured).
    pub(crate) persist: Option<Persist>,
}

/// The state shared by a [`Keeper`](crate::Keeper), its clients, middleware and tasks.
///
/// Aligned to 128 bytes so that the `Arc`'s reference counts, which every request builder
/// updates, share no cache line with the fields the lock-free path reads.
#[repr(align(128))]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) clock: ClockRef,
    /// The client for API requests made through [`Client`](crate::Client).
    pub(crate) base: reqwest::Client,
    /// The client for login and refresh requests (does not follow redirects).
    pub(crate) auth_client: reqwest::Client,
    pub(crate) listeners: Vec<Listener>,
    /// Asked when the engine needs credentials (`Config::ask_for_credentials` is set with it).
    pub(crate) provider: Option<CredentialsProvider>,
    /// The published lease (`None` when the fast path is off).
    pub(crate) leases: Option<Stripes>,
    /// Run a background task for the engine's timers (`Config::refresh_ahead`).
    background_timer: bool,
    /// The token store shared with other processes or keepers, if any.
    pub(crate) store: Option<Arc<StoreHandle>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Let the background timer task see that the session is gone, and end.
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = st.timer_waker.take() {
            w.wake();
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Shared")
            .field("driver", &st.driver)
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

/// How a keeper is put together (see [`KeeperBuilder`](crate::KeeperBuilder)).
pub(crate) struct Parts {
    pub(crate) session: Session,
    pub(crate) clock: ClockRef,
    pub(crate) base: reqwest::Client,
    pub(crate) auth_client: reqwest::Client,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) provider: Option<CredentialsProvider>,
    pub(crate) fast_path: bool,
    pub(crate) store: Option<Arc<StoreHandle>>,
}

impl Shared {
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts {
            session,
            clock,
            base,
            auth_client,
            listeners,
            provider,
            fast_path,
            store,
        } = parts;
        let background_timer = session.config().refresh_ahead && session.config().enabled;
        Shared {
            background_timer,
            leases: fast_path.then(|| Stripes::new(&session.response_rules())),
            state: Mutex::new(State {
                driver: Driver::new(session),
                lease_terms: None,
                timer_task: false,
                timer_waker: None,
                auth_abort: None,
                persist_seq: 0,
            }),
            clock,
            base,
            auth_client,
            listeners,
            provider,
            store,
        }
    }

    /// The lock. A panic elsewhere (a user hook, say) must not wedge every request, and the
    /// engine's methods do not panic half-way, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the session without changing it.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(self.lock().driver.session())
    }

    /// The engine's metrics, leased requests included.
    pub(crate) fn metrics(&self) -> Metrics {
        let now = self.clock.now();
        let mut st = self.lock();
        let mut work = Work::default();
        if let Some(leases) = &self.leases {
            st.driver.input(now, &mut work, |s, _| leases.record(s));
        }
        st.driver.session().metrics(now)
    }

    /// Runs `f` under the lock (it feeds the engine through the driver, which collects what
    /// to do into the `Work`), then keeps the lease, the auth deadline and the timers in step,
    /// and returns `f`'s result with the jobs to carry out once the lock is released.
    pub(crate) fn locked<R>(
        &self,
        f: impl FnOnce(&mut State, Timestamp, &mut Work) -> R,
    ) -> (R, Jobs) {
        let now = self.clock.now();
        let mut jobs = Jobs::default();
        let r = {
            let mut st = self.lock();
            let r = f(&mut st, now, &mut jobs.work);
            self.settle(&mut st, now, &mut jobs);
            r
        };
        (r, jobs)
    }

    fn settle(&self, st: &mut State, now: Timestamp, jobs: &mut Jobs) {
        if let Some(leases) = &self.leases {
            let State {
                driver,
                lease_terms,
                ..
            } = st;
            leases.publish(driver.session(), now, lease_terms);
        }
        for op in &jobs.work.abort {
            if let Some((id, handle)) = &st.auth_abort
                && id == op
            {
                tracing::debug!(
                    op = op.as_u64(),
                    "tokenkeeper: auth request aborted (deadline)"
                );
                handle.abort();
                st.auth_abort = None;
            }
        }
        if jobs.work.timer.is_some_and(|m| m.earlier()) {
            st.driver.wake_all(&mut jobs.work);
            jobs.work.wakers.extend(st.timer_waker.take());
        }
        if self.store.is_some() {
            jobs.persist = Persist::from_events(&jobs.work.events, &mut st.persist_seq);
        }
        jobs.start_timer = self.background_timer
            && !st.timer_task
            && tokio::runtime::Handle::try_current().is_ok();
        st.timer_task |= jobs.start_timer;
    }
}
