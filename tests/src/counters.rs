//! Exact event counters: one atomic per event, snapshotted into [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Declares the public snapshot struct, the private event enum and the snapshot function
/// from one list, so a counter is named once.
macro_rules! counters {
    ($($(#[doc = $doc:literal])+ $variant:ident => $field:ident,)+) => {
        /// A snapshot of what the server has seen since start (or the last reset).
        ///
        /// Every field is bumped with one atomic increment per request, so the numbers are
        /// exact under any concurrency: a test can assert "exactly one refresh" with 1,000
        /// clients. `GET /_control/counters` answers the same fields as a JSON object.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Counters {
            $($(#[doc = $doc])+ pub $field: u64,)+
        }

        /// One countable event; the index into [`AtomicCounters`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Counter {
            $($variant,)+
        }

        impl Counter {
            /// Every event, in declaration order.
            #[cfg(test)]
            const ALL: &[Counter] = &[$(Counter::$variant,)+];
        }

        const COUNT: usize = [$(Counter::$variant,)+].len();

        impl AtomicCounters {
            /// Reads every counter.
            pub(crate) fn snapshot(&self) -> Counters {
                let g = |c: Counter| self.0[c as usize].load(Ordering::SeqCst);
                Counters { $($field: g(Counter::$variant),)+ }
            }
        }

        #[cfg(test)]
        impl Counters {
            /// The fields in declaration order.
            fn values(&self) -> Vec<u64> {
                vec![$(self.$field,)+]
            }
        }
    };
}

counters! {
    /// Logins that issued tokens (`/api/login`, password and client-credentials grants).
    LoginsOk => logins_ok,
    /// Logins refused: bad credentials, bad client, bad parameters.
    LoginsRejected => logins_rejected,
    /// Logins answered with an injected failure (503, 429, ...).
    LoginsFaulted => logins_faulted,
    /// Refreshes that issued a new access token.
    RefreshesAccepted => refreshes_accepted,
    /// Refreshes refused: invalid, expired, revoked or reused refresh token, wrong token type.
    RefreshesRejected => refreshes_rejected,
    /// Refreshes answered with an injected failure (`fail_next_refreshes` or the random
    /// refresh 503).
    RefreshesFaulted => refreshes_faulted,
    /// Retired refresh tokens presented again (each revoked a family).
    ReuseDetections => reuse_detections,
    /// Protected requests answered 2xx.
    ProtectedOk => protected_ok,
    /// Protected requests answered 401 (missing, invalid, expired, revoked or randomly
    /// refused token).
    ProtectedUnauthorized => protected_unauthorized,
    /// Valid protected requests refused with 401 by the random-401 fault (also counted in
    /// `protected_unauthorized`).
    ProtectedInjected401 => protected_injected_401,
    /// Protected requests answered 503 by the random-503 fault.
    ProtectedInjected503 => protected_injected_503,
    /// Protected requests refused with a bare 403 (missing, invalid, expired or revoked
    /// token while `bare_403_refusals` is on).
    ProtectedForbidden => protected_forbidden,
    /// Connections closed without an answer (FIN) by an injected fault:
    /// `drop_next_connections` or the random protected drop.
    DroppedConnections => dropped_connections,
    /// Requests that reached `POST /oauth/token`, whatever their outcome.
    TokenEndpointCalls => token_endpoint_calls,
    /// Logins answered by a script (any kind, `real` ones included: those also count as
    /// `logins_ok` or `logins_rejected`).
    LoginsScripted => logins_scripted,
    /// Refreshes answered by a script (any kind, `real` ones included: those also count as
    /// `refreshes_accepted` or `refreshes_rejected`).
    RefreshesScripted => refreshes_scripted,
    /// Protected requests answered by a script.
    ProtectedScripted => protected_scripted,
    /// Connections reset (RST) by a `reset_after_request` script.
    ConnectionsReset => connections_reset,
    /// Requests answered by the recorder (fallback and `/_record/*`), including those past
    /// the recorder's capacity.
    RecordedRequests => recorded_requests,
}

/// The live counters shared by every request.
#[derive(Debug, Default)]
pub(crate) struct AtomicCounters([AtomicU64; COUNT]);

impl AtomicCounters {
    /// Counts one event.
    pub(crate) fn bump(&self, c: Counter) {
        self.0[c as usize].fetch_add(1, Ordering::SeqCst);
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset(&self) {
        for a in &self.0 {
            a.store(0, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_maps_to_its_own_field() {
        let c = AtomicCounters::default();
        for (i, k) in Counter::ALL.iter().enumerate() {
            for _ in 0..=i {
                c.bump(*k);
            }
        }
        let want: Vec<u64> = (1..=Counter::ALL.len() as u64).collect();
        assert_eq!(c.snapshot().values(), want);
        c.reset();
        assert_eq!(c.snapshot(), Counters::default());
    }

    #[test]
    fn json_field_names_are_the_rust_names() {
        let v = serde_json::to_value(Counters {
            recorded_requests: 3,
            ..Counters::default()
        })
        .unwrap();
        assert_eq!(v["recorded_requests"], 3);
        assert_eq!(v["logins_ok"], 0);
    }
}
