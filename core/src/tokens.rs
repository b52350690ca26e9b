//! The token set a session holds, and how its refresh margin is computed.

use core::time::Duration;

use crate::config::{Config, Margin};
use crate::secret::Secret;
use crate::time::Timestamp;

/// The tokens of one identity, with absolute times so they can be persisted or shared between
/// tabs and processes. `Debug` redacts the tokens; `Serialize` writes them (it is for stores).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct TokenSet {
    /// The access token (sent as `Authorization: Bearer …`).
    pub access_token: Secret,
    /// The refresh token, if the server issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token was received.
    pub issued_at: Timestamp,
    /// When the access token expires (local clock).
    pub expires_at: Timestamp,
    /// When the refresh token expires, if known (from its JWT `exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<Timestamp>,
}

impl TokenSet {
    /// The access token's whole lifetime.
    #[must_use]
    pub fn lifetime(&self) -> Duration {
        self.expires_at.saturating_duration_since(self.issued_at)
    }
}

/// The refresh margin for a token of this lifetime: the policy's margin plus `jitter × margin_jitter`
/// of it, never more than half the lifetime. `jitter` is a uniform draw in `[0, 1)`.
#[must_use]
pub fn refresh_margin(lifetime: Duration, config: &Config, jitter: f64) -> Duration {
    let base = match config.margin {
        Margin::Proportional { fraction, min, max } => lifetime.mul_f64(fraction).clamp(min, max),
        Margin::Fixed(d) => d,
    };
    let extra = base.mul_f64((config.margin_jitter * jitter).clamp(0.0, 1.0));
    (base + extra).min(lifetime / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn margin_table() {
        let c = Config::default();
        // (lifetime, expected margin)
        let table = [
            (s(3600), s(300)),                    // 10 % = 360 s, clamped to 300 s
            (s(1800), s(180)),                    // VitalGraph default: 10 %
            (s(600), s(60)),                      // 10 %
            (s(30), s(5)),                        // 3 s raised to the 5 s floor
            (s(15), Duration::from_millis(5000)), // 5 s floor, under half (7.5 s)
            (s(5), Duration::from_millis(2500)),  // 5 s floor capped at half the lifetime
            (s(2), s(1)),                         // half the lifetime
            (s(0), s(0)),
        ];
        for (lifetime, want) in table {
            assert_eq!(
                refresh_margin(lifetime, &c, 0.0),
                want,
                "lifetime {lifetime:?}"
            );
        }
    }

    #[test]
    fn fixed_margin_is_capped_at_half_the_lifetime() {
        let c = Config {
            margin: Margin::Fixed(s(120)),
            ..Config::default()
        };
        assert_eq!(refresh_margin(s(3600), &c, 0.0), s(120));
        assert_eq!(refresh_margin(s(60), &c, 0.0), s(30));
    }

    #[test]
    fn jitter_adds_up_to_the_fraction_and_respects_the_cap() {
        let c = Config {
            margin_jitter: 0.5,
            ..Config::default()
        };
        assert_eq!(refresh_margin(s(600), &c, 0.0), s(60));
        assert_eq!(refresh_margin(s(600), &c, 0.999_999).as_secs(), 89);
        assert_eq!(refresh_margin(s(10), &c, 0.999_999), s(5));
    }
}
