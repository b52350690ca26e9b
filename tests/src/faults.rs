//! Injected faults: failing auth answers, latency, dropped connections, random 401s, and
//! the queues of scripted answers.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::{RetryAfter, RouteKind};
use crate::script::{Prepared, Times};

/// An injected failure to answer instead of doing the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injected {
    /// The HTTP status to answer with.
    pub(crate) status: u16,
    /// The `Retry-After` header to add, if any.
    pub(crate) retry_after: Option<RetryAfter>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    remaining: u32,
    what: Injected,
}

/// SplitMix64: a tiny seeded generator, enough for reproducible random faults.
#[derive(Debug, Clone, Copy)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A fault given to a random fraction of requests, reproducibly for a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Random {
    /// A valid protected request refused with 401 and a challenge.
    Protected401,
    /// A protected request answered 503 (with `Retry-After` if set).
    Protected503,
    /// A protected request's connection closed without an answer.
    ProtectedDrop,
    /// A refresh answered 503 (with `Retry-After` if set).
    Refresh503,
}

/// A random fault drawn for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The `Retry-After` to send with it, if any.
    pub(crate) retry_after: Option<RetryAfter>,
}

/// One random fault's rate, generator and `Retry-After`.
#[derive(Debug, Clone, Copy)]
struct Draw {
    rate: f64,
    rng: SplitMix64,
    retry_after: Option<RetryAfter>,
}

#[derive(Debug, Default)]
struct State {
    logins: Option<Pending>,
    refreshes: Option<Pending>,
    latency_login: Duration,
    latency_refresh: Duration,
    latency_protected: Duration,
    drops: Option<(u32, RouteKind)>,
    random: [Option<Draw>; 4],
    /// Scripts queued for login, refresh and protected requests, in that order.
    scripts: [VecDeque<(Times, Prepared)>; 3],
}

/// The script queue of route kind `kind` (`Any` has none of its own).
fn queue_index(kind: RouteKind) -> Option<usize> {
    match kind {
        RouteKind::Login => Some(0),
        RouteKind::Refresh => Some(1),
        RouteKind::Protected => Some(2),
        RouteKind::Any => None,
    }
}

/// The fault plan, shared by every request; each decision is taken under one short lock so
/// "the next N" means exactly N under any concurrency.
#[derive(Debug, Default)]
pub(crate) struct Faults(Mutex<State>);

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Clears every fault.
    pub(crate) fn reset(&self) {
        *self.lock() = State::default();
    }

    /// Answers the next `count` requests of `kind` (login or refresh) with `what`.
    pub(crate) fn fail_next(&self, kind: RouteKind, count: u32, what: Injected) {
        let p = (count > 0).then_some(Pending {
            remaining: count,
            what,
        });
        let mut s = self.lock();
        match kind {
            RouteKind::Login => s.logins = p,
            RouteKind::Refresh => s.refreshes = p,
            RouteKind::Any => {
                s.logins = p;
                s.refreshes = p;
            }
            RouteKind::Protected => {}
        }
    }

    /// Takes one pending injected failure for a request of `kind`, if any is left; for a
    /// refresh without one, draws the random refresh 503.
    pub(crate) fn take_failure(&self, kind: RouteKind) -> Option<Injected> {
        let mut s = self.lock();
        let s = &mut *s;
        let slot = match kind {
            RouteKind::Login => &mut s.logins,
            RouteKind::Refresh => &mut s.refreshes,
            RouteKind::Any | RouteKind::Protected => return None,
        };
        let Some(p) = slot.as_mut() else {
            let r = s.random[Random::Refresh503 as usize].as_mut();
            return r
                .filter(|_| kind == RouteKind::Refresh)
                .and_then(|r| (r.rng.next_f64() < r.rate).then_some(r.retry_after))
                .map(|retry_after| Injected {
                    status: 503,
                    retry_after,
                });
        };
        p.remaining -= 1;
        let what = p.what;
        if p.remaining == 0 {
            *slot = None;
        }
        Some(what)
    }

    /// Queues `script` for the requests of `kind` (`Any`: login, refresh and protected each
    /// get it, counted separately), after the scripts already queued there.
    pub(crate) fn push_script(&self, kind: RouteKind, times: Times, script: &Prepared) {
        if times == Times::Next(0) {
            return;
        }
        let mut s = self.lock();
        for k in [RouteKind::Login, RouteKind::Refresh, RouteKind::Protected] {
            if kind.covers(k)
                && let Some(i) = queue_index(k)
            {
                s.scripts[i].push_back((times, script.clone()));
            }
        }
    }

    /// Takes the script that answers this request of `kind`, if one is queued.
    pub(crate) fn take_script(&self, kind: RouteKind) -> Option<Prepared> {
        let i = queue_index(kind)?;
        let mut s = self.lock();
        let q = &mut s.scripts[i];
        let (times, script) = q.front_mut()?;
        let script = script.clone();
        if let Times::Next(n) = times {
            *n -= 1;
            if *n == 0 {
                q.pop_front();
            }
        }
        Some(script)
    }

    /// Sets the delay added before answering requests of `kind` (`Any`: all kinds).
    pub(crate) fn set_latency(&self, kind: RouteKind, d: Duration) {
        let mut s = self.lock();
        if RouteKind::Login.covers_from(kind) {
            s.latency_login = d;
        }
        if RouteKind::Refresh.covers_from(kind) {
            s.latency_refresh = d;
        }
        if RouteKind::Protected.covers_from(kind) {
            s.latency_protected = d;
        }
    }

    /// The delay before answering a request of `kind`.
    pub(crate) fn latency(&self, kind: RouteKind) -> Duration {
        let s = self.lock();
        match kind {
            RouteKind::Login => s.latency_login,
            RouteKind::Refresh => s.latency_refresh,
            RouteKind::Protected => s.latency_protected,
            RouteKind::Any => Duration::ZERO,
        }
    }

    /// Closes the connections of the next `count` requests of `kind` without answering
    /// (replaces any earlier setting).
    pub(crate) fn drop_next(&self, count: u32, kind: RouteKind) {
        self.lock().drops = (count > 0).then_some((count, kind));
    }

    /// Whether to drop the connection of this request of `kind` (consumes one drop).
    pub(crate) fn take_drop(&self, kind: RouteKind) -> bool {
        let mut s = self.lock();
        match &mut s.drops {
            Some((n, k)) if k.covers(kind) => {
                *n -= 1;
                if *n == 0 {
                    s.drops = None;
                }
                true
            }
            _ => false,
        }
    }

    /// Gives random fault `which` to a fraction `rate` (0..=1) of the requests it applies
    /// to, drawn from a generator seeded with `seed` (each fault draws from its own, so
    /// equal seeds do not make them fire together). A rate of 0 turns it off.
    pub(crate) fn set_random(
        &self,
        which: Random,
        rate: f64,
        seed: u64,
        retry_after: Option<RetryAfter>,
    ) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        // Random401 keeps the plain seed: its sequence predates the others.
        let stream = (which as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        self.lock().random[which as usize] = (rate > 0.0).then_some(Draw {
            rate,
            rng: SplitMix64(seed ^ stream),
            retry_after,
        });
    }

    /// Draws whether this request gets random fault `which`.
    pub(crate) fn roll(&self, which: Random) -> Option<Hit> {
        let mut s = self.lock();
        let r = s.random[which as usize].as_mut()?;
        (r.rng.next_f64() < r.rate).then_some(Hit {
            retry_after: r.retry_after,
        })
    }
}

impl RouteKind {
    /// Whether setting a fault for `set` applies to requests of kind `self`.
    fn covers_from(self, set: RouteKind) -> bool {
        set.covers(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_taken_exactly_count_times() {
        let f = Faults::default();
        let what = Injected {
            status: 503,
            retry_after: Some(RetryAfter::Seconds(1)),
        };
        f.fail_next(RouteKind::Refresh, 2, what);
        assert_eq!(f.take_failure(RouteKind::Login), None);
        assert_eq!(f.take_failure(RouteKind::Refresh), Some(what));
        assert_eq!(f.take_failure(RouteKind::Refresh), Some(what));
        assert_eq!(f.take_failure(RouteKind::Refresh), None);
    }

    #[test]
    fn scripts_are_taken_in_order_and_always_stays() {
        let f = Faults::default();
        f.push_script(RouteKind::Refresh, Times::Next(2), &Prepared::Never);
        f.push_script(RouteKind::Refresh, Times::Next(0), &Prepared::Never);
        f.push_script(RouteKind::Refresh, Times::Always, &Prepared::Reset);
        f.push_script(RouteKind::Any, Times::Next(1), &Prepared::Never);
        assert!(matches!(
            f.take_script(RouteKind::Login),
            Some(Prepared::Never)
        ));
        assert!(f.take_script(RouteKind::Login).is_none());
        assert!(matches!(
            f.take_script(RouteKind::Protected),
            Some(Prepared::Never)
        ));
        assert!(f.take_script(RouteKind::Any).is_none());
        for _ in 0..2 {
            assert!(matches!(
                f.take_script(RouteKind::Refresh),
                Some(Prepared::Never)
            ));
        }
        for _ in 0..5 {
            assert!(matches!(
                f.take_script(RouteKind::Refresh),
                Some(Prepared::Reset)
            ));
        }
        f.reset();
        assert!(f.take_script(RouteKind::Refresh).is_none());
    }

    #[test]
    fn drops_match_their_kind() {
        let f = Faults::default();
        f.drop_next(1, RouteKind::Refresh);
        assert!(!f.take_drop(RouteKind::Protected));
        assert!(f.take_drop(RouteKind::Refresh));
        assert!(!f.take_drop(RouteKind::Refresh));
    }

    #[test]
    fn random_faults_draw_independently_and_carry_their_retry_after() {
        let f = Faults::default();
        let ra = Some(RetryAfter::Seconds(2));
        f.set_random(Random::Protected503, 0.5, 1, ra);
        f.set_random(Random::Refresh503, 0.5, 1, None);
        let mut both = 0;
        let mut hits = 0;
        for _ in 0..4000 {
            let a = f.roll(Random::Protected503);
            let b = f.roll(Random::Refresh503);
            if let Some(r) = a {
                assert_eq!(r.retry_after, ra);
                hits += 1;
            }
            both += usize::from(a.is_some() && b.is_some());
        }
        assert!((1800..2200).contains(&hits), "{hits}");
        assert!((800..1200).contains(&both), "independent draws: {both}");
        assert_eq!(f.roll(Random::ProtectedDrop), None);
        f.set_random(Random::Protected503, 0.0, 1, ra);
        assert_eq!(f.roll(Random::Protected503), None);
    }

    #[test]
    fn random_401s_are_reproducible_and_near_the_rate() {
        let draw = || {
            let f = Faults::default();
            f.set_random(Random::Protected401, 0.25, 7, None);
            (0..4000)
                .map(|_| f.roll(Random::Protected401).is_some())
                .collect::<Vec<_>>()
        };
        let a = draw();
        assert_eq!(a, draw());
        let hits = a.iter().filter(|b| **b).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
