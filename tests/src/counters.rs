//! Exact event counters: one atomic per event, snapshotted into [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of what the server has seen since start (or the last reset).
///
/// Every field is bumped with one atomic increment per request, so the numbers are exact
/// under any concurrency: a test can assert "exactly one refresh" with 1,000 clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Logins that issued tokens (`/api/login`, password and client-credentials grants).
    pub logins_ok: u64,
    /// Logins refused: bad credentials, bad client, bad parameters.
    pub logins_rejected: u64,
    /// Logins answered with an injected failure (503, 429, ...).
    pub logins_faulted: u64,
    /// Refreshes that issued a new access token.
    pub refreshes_accepted: u64,
    /// Refreshes refused: invalid, expired, revoked or reused refresh token, wrong token type.
    pub refreshes_rejected: u64,
    /// Refreshes answered with an injected failure.
    pub refreshes_faulted: u64,
    /// Retired refresh tokens presented again (each revoked a family).
    pub reuse_detections: u64,
    /// Protected requests answered 2xx.
    pub protected_ok: u64,
    /// Protected requests answered 401 (missing, invalid, expired, revoked or randomly
    /// refused token).
    pub protected_unauthorized: u64,
    /// Connections closed without an answer by an injected fault.
    pub dropped_connections: u64,
    /// Requests that reached `POST /oauth/token`, whatever their outcome.
    pub token_endpoint_calls: u64,
}

/// One countable event; the index into [`AtomicCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    LoginsOk,
    LoginsRejected,
    LoginsFaulted,
    RefreshesAccepted,
    RefreshesRejected,
    RefreshesFaulted,
    ReuseDetections,
    ProtectedOk,
    ProtectedUnauthorized,
    DroppedConnections,
    TokenEndpointCalls,
}

const COUNT: usize = 11;

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

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> Counters {
        let g = |c: Counter| self.0[c as usize].load(Ordering::SeqCst);
        Counters {
            logins_ok: g(Counter::LoginsOk),
            logins_rejected: g(Counter::LoginsRejected),
            logins_faulted: g(Counter::LoginsFaulted),
            refreshes_accepted: g(Counter::RefreshesAccepted),
            refreshes_rejected: g(Counter::RefreshesRejected),
            refreshes_faulted: g(Counter::RefreshesFaulted),
            reuse_detections: g(Counter::ReuseDetections),
            protected_ok: g(Counter::ProtectedOk),
            protected_unauthorized: g(Counter::ProtectedUnauthorized),
            dropped_connections: g(Counter::DroppedConnections),
            token_endpoint_calls: g(Counter::TokenEndpointCalls),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_maps_to_its_own_field() {
        let all = [
            Counter::LoginsOk,
            Counter::LoginsRejected,
            Counter::LoginsFaulted,
            Counter::RefreshesAccepted,
            Counter::RefreshesRejected,
            Counter::RefreshesFaulted,
            Counter::ReuseDetections,
            Counter::ProtectedOk,
            Counter::ProtectedUnauthorized,
            Counter::DroppedConnections,
            Counter::TokenEndpointCalls,
        ];
        let c = AtomicCounters::default();
        for (i, k) in all.iter().enumerate() {
            for _ in 0..=i {
                c.bump(*k);
            }
        }
        let s = c.snapshot();
        let got = [
            s.logins_ok,
            s.logins_rejected,
            s.logins_faulted,
            s.refreshes_accepted,
            s.refreshes_rejected,
            s.refreshes_faulted,
            s.reuse_detections,
            s.protected_ok,
            s.protected_unauthorized,
            s.dropped_connections,
            s.token_endpoint_calls,
        ];
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        c.reset();
        assert_eq!(c.snapshot(), Counters::default());
    }
}
