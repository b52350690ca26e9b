//! The demo's fault timeline: when to revoke every token, fail the auth endpoint, refuse
//! valid tokens at random and drop connections, as fractions of the run's length.

use std::time::Duration;

use tokenkeeper_testserver::{Control, RetryAfter, RouteKind};

/// One thing the server is told to do part-way through the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// Revoke every token; answer the next refreshes with 503 and the next login with 429,
    /// both with `Retry-After`. The client must wait, refresh, find the refresh token dead,
    /// and log in again.
    RevokeAndFailAuth {
        /// Refreshes answered 503.
        refreshes: u32,
        /// Logins answered 429.
        logins: u32,
        /// `Retry-After` seconds on both.
        retry_after_secs: u64,
    },
    /// Refuse this fraction of valid API requests with 401.
    Random401 {
        /// Fraction of requests (0..=1).
        rate: f64,
    },
    /// Stop refusing valid tokens.
    Random401Off,
    /// Close the connection of the next API requests without an answer.
    DropConnections(u32),
}

impl Fault {
    /// What the fault does, in one line for the log.
    pub(crate) fn describe(&self) -> String {
        match *self {
            Fault::RevokeAndFailAuth {
                refreshes,
                logins,
                retry_after_secs,
            } => format!(
                "server revokes every token; next {refreshes} refreshes → 503, next {logins} \
                 login → 429 (Retry-After: {retry_after_secs} s)"
            ),
            Fault::Random401 { rate } => {
                format!(
                    "server refuses {:.1} % of valid tokens with 401",
                    rate * 100.0
                )
            }
            Fault::Random401Off => "server stops refusing valid tokens".to_owned(),
            Fault::DropConnections(n) => {
                format!("server drops the connections of the next {n} API requests")
            }
        }
    }

    /// Tells the server.
    pub(crate) fn apply(&self, control: &Control) {
        match *self {
            Fault::RevokeAndFailAuth {
                refreshes,
                logins,
                retry_after_secs,
            } => {
                let ra = Some(RetryAfter::Seconds(retry_after_secs));
                control.fail_next_refreshes(refreshes, 503, ra);
                control.fail_next_logins(logins, 429, ra);
                control.revoke_all();
            }
            Fault::Random401 { rate } => control.set_random_401_rate(rate, 7),
            Fault::Random401Off => control.set_random_401_rate(0.0, 0),
            Fault::DropConnections(n) => control.drop_next_connections(n, RouteKind::Protected),
        }
    }
}

/// A fault and when it happens, from the start of the workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    /// When, from the start of the workload.
    pub(crate) at: Duration,
    /// What.
    pub(crate) fault: Fault,
}

/// The timeline for a run of `duration`: revoke-all with a failing auth endpoint at 20 %, a
/// burst of random 401s at 65 % (a tenth of the run, at most 1.5 s), dropped connections at
/// 85 %. Empty when `faults` is false.
pub(crate) fn timeline(duration: Duration, faults: bool) -> Vec<Step> {
    if !faults {
        return Vec::new();
    }
    let at = |fraction: f64| duration.mul_f64(fraction);
    let burst = duration.mul_f64(0.1).min(Duration::from_millis(1500));
    vec![
        Step {
            at: at(0.20),
            fault: Fault::RevokeAndFailAuth {
                refreshes: 2,
                logins: 1,
                retry_after_secs: 1,
            },
        },
        Step {
            at: at(0.65),
            fault: Fault::Random401 { rate: 0.01 },
        },
        Step {
            at: at(0.65) + burst,
            fault: Fault::Random401Off,
        },
        Step {
            at: at(0.85),
            fault: Fault::DropConnections(3),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_in_order_and_inside_the_run() {
        for secs in [1, 8, 20, 600] {
            let d = Duration::from_secs(secs);
            let steps = timeline(d, true);
            assert_eq!(steps.len(), 4);
            assert!(steps.windows(2).all(|w| w[0].at <= w[1].at), "{steps:?}");
            assert!(steps.iter().all(|s| s.at < d), "{steps:?}");
        }
        assert!(timeline(Duration::from_secs(20), false).is_empty());
    }

    #[test]
    fn descriptions_name_the_numbers() {
        let f = Fault::RevokeAndFailAuth {
            refreshes: 2,
            logins: 1,
            retry_after_secs: 1,
        };
        let text = f.describe();
        assert!(text.contains("503") && text.contains("429") && text.contains("Retry-After"));
        assert!(Fault::Random401 { rate: 0.01 }.describe().contains("1.0 %"));
    }
}
