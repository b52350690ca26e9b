//! Sans-IO backoff: delays computed from the attempt number and a seeded generator.

use core::time::Duration;

use crate::config::Backoff;
use crate::time::Timestamp;

/// A small deterministic generator (SplitMix64) seeded at construction: the engine has no
/// randomness source of its own, so the same seed and inputs give the same transcript.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Backoff {
    /// The delay before attempt `attempt + 1`, after `attempt` failures (`attempt >= 1`):
    /// `base × factor^(attempt-1)` capped at `cap`, jittered into `[d/2, d]` when enabled.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.base.as_secs_f64() * self.factor.powi(exp);
        let d = if raw.is_finite() {
            Duration::from_secs_f64(raw.min(self.cap.as_secs_f64()))
        } else {
            self.cap
        };
        if self.jitter {
            d.mul_f64(0.5 + 0.5 * rng.next_f64())
        } else {
            d
        }
    }

    /// When to try again after `attempt` failures, given an optional server `Retry-After` floor,
    /// or `None` when that would exceed the budget counted from `started`.
    pub(crate) fn next_attempt(
        &self,
        now: Timestamp,
        started: Timestamp,
        attempt: u32,
        retry_after: Option<Timestamp>,
        rng: &mut Rng,
    ) -> Option<Timestamp> {
        let at = now
            .saturating_add(self.delay(attempt, rng))
            .max(retry_after.unwrap_or(now));
        (at.saturating_duration_since(started) <= self.budget).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let b = Backoff {
            jitter: false,
            ..Backoff::default()
        };
        let mut rng = Rng::new(1);
        let ms: Vec<u128> = (1..=8).map(|n| b.delay(n, &mut rng).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        let b = Backoff::default();
        let mut rng = Rng::new(7);
        for n in 1..20 {
            let full = Backoff { jitter: false, ..b }.delay(n, &mut rng);
            let d = b.delay(n, &mut rng);
            assert!(d >= full / 2 && d <= full, "{d:?} vs {full:?}");
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_budget_bounds_it() {
        let b = Backoff {
            jitter: false,
            ..Backoff::default()
        };
        let mut rng = Rng::new(1);
        let t0 = Timestamp::from_secs(1000);
        assert_eq!(
            b.next_attempt(t0, t0, 1, None, &mut rng),
            Some(Timestamp::from_millis(1_000_200))
        );
        let floor = Timestamp::from_secs(1005);
        assert_eq!(
            b.next_attempt(t0, t0, 1, Some(floor), &mut rng),
            Some(floor)
        );
        assert_eq!(
            b.next_attempt(t0, t0, 1, Some(Timestamp::from_secs(1061)), &mut rng),
            None
        );
    }

    #[test]
    fn same_seed_same_draws() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let x = Rng::new(3).next_f64();
        assert!((0.0..1.0).contains(&x));
    }
}
