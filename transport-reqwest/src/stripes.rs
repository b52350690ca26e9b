//! The engine's lease, published per thread stripe for the lock-free fast path (see
//! [`crate::fast`]).
//!
//! While the engine has a [`Lease`] (a fresh token, no timer due), a request does not take the
//! session lock: it reads the lease from its thread's stripe (a lock only that stripe's
//! threads and the publisher take), sends with the stripe's copy of the header, and hands a
//! response the engine's [`ResponseRules`] call final straight to its caller, counting both in
//! the stripe; the counts reach the engine's metrics when they are read. The lease is
//! republished into every stripe under the session lock after every input, so a request that
//! reads it is ordered before or after that input as a whole.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use http::HeaderValue;
use tokenkeeper_core::{Lease, LeaseTerms, RequestMeta, ResponseRules, Session, Timestamp};

/// A lock, counter or reference count that every worker thread updated would cost a cache-line
/// transfer per request, so the lease is kept once per stripe of threads.
const STRIPES: usize = 8;

/// This thread's stripe.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|i| *i)
}

/// What the published lease says of a request (see [`Stripes::route`]).
pub(crate) enum LeaseRoute {
    /// Send it with this `Authorization` value; requests carry this token generation.
    Valid(HeaderValue, u64),
    /// The token is not sent to this origin.
    Elsewhere,
    /// No valid lease: the engine decides.
    None,
}

/// One stripe: its copy of the published lease (with a header copy of its own), and the
/// counts of its leased requests since the engine was last told.
#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    lease: Mutex<Option<(Lease, HeaderValue)>>,
    sent: AtomicU64,
    delivered: AtomicU64,
}

impl Stripe {
    fn lease(&self) -> MutexGuard<'_, Option<(Lease, HeaderValue)>> {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The published lease, one copy per stripe, and the response rules it is settled by.
pub(crate) struct Stripes {
    stripes: [Stripe; STRIPES],
    rules: ResponseRules,
}

impl Stripes {
    pub(crate) fn new(rules: &ResponseRules) -> Self {
        Stripes {
            stripes: Default::default(),
            rules: *rules,
        }
    }

    /// Republishes the lease if the engine's changed (`terms` holds the published terms).
    /// Called under the session lock after every input.
    pub(crate) fn publish(
        &self,
        session: &Session,
        now: Timestamp,
        terms: &mut Option<LeaseTerms>,
    ) {
        let current = session.lease_terms(now);
        if current != *terms {
            *terms = current;
            let lease = session.lease(now);
            for s in &self.stripes {
                *s.lease() = lease.as_ref().map(|l| (l.clone(), l.authorization_copy()));
            }
        }
    }

    /// What the published lease says of a request to `url` starting at `now`: send it with
    /// this `Authorization` value (counted as a leased request), send it untouched (the lease
    /// does not cover its origin), or ask the engine. Takes no session lock.
    pub(crate) fn route(&self, url: &reqwest::Url, now: Timestamp) -> LeaseRoute {
        let stripe = &self.stripes[stripe()];
        let route = {
            let slot = stripe.lease();
            let Some((lease, header)) = slot.as_ref().filter(|(l, _)| l.is_valid(now)) else {
                return LeaseRoute::None;
            };
            let allowed = url
                .host_str()
                .is_some_and(|h| lease.allows(url.scheme(), h, url.port_or_known_default()));
            if !allowed {
                return LeaseRoute::Elsewhere;
            }
            LeaseRoute::Valid(header.clone(), lease.generation())
        };
        stripe.sent.fetch_add(1, Ordering::Relaxed);
        route
    }

    /// Whether the response to a leased request is the caller's as it is (counted as
    /// delivered), or needs the engine.
    pub(crate) fn settles(&self, status: http::StatusCode, meta: RequestMeta) -> bool {
        let settles = self.rules.delivers_as_is(status, meta);
        if settles {
            self.stripes[stripe()]
                .delivered
                .fetch_add(1, Ordering::Relaxed);
        }
        settles
    }

    /// Hands the counts of leased requests to the engine's metrics (under the session lock).
    pub(crate) fn record(&self, session: &mut Session) {
        let (mut sent, mut delivered) = (0, 0);
        for s in &self.stripes {
            sent += s.sent.swap(0, Ordering::Relaxed);
            delivered += s.delivered.swap(0, Ordering::Relaxed);
        }
        session.record_leased(sent, delivered);
    }
}
