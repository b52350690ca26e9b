//! Leases: requests sent without calling `start` while the answer is known in advance.

use bytes::Bytes;
use http::HeaderValue;
use zeroize::Zeroizing;

use super::{Freshness, Origin, Session};
use crate::action::{ExchangeId, RequestMeta};
use crate::time::Timestamp;

/// What identifies a lease: two leases with equal terms carry the same header and origins.
/// Cheap to compute under the driver's lock after every input, to notice when the published
/// lease must change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeaseTerms {
    generation: u64,
    until: Timestamp,
    origins: usize,
}

/// Permission to send requests with the current token without calling [`Session::start`],
/// until [`Lease::valid_until`].
///
/// The engine's answer to "what would `start` do right now?", handed out ahead of time
/// so that a multi-threaded driver can send most requests without taking its lock.
///
/// While the token is fresh and no timer is due, [`Session::start`] does the same thing for
/// every request: it sends it at once with the current `Authorization` value. A [`Lease`]
/// states exactly that, with the time it stops being true. A driver that publishes the
/// session's lease after every input (under the same lock, see [`Session::lease_terms`]) can
/// let a request that finds a valid lease go out with the lease's header instead of calling
/// `start`, then:
///
/// - hand the response over as it is when
///   [`ResponseRules::delivers_as_is`](super::ResponseRules::delivers_as_is) says so (a
///   success, or any status the engine would deliver without a decision), and report the
///   counts with [`Session::record_leased`];
/// - otherwise hand the exchange to the engine with [`Session::adopt`], then report the
///   response (or send error) as for any exchange: from there on it is an ordinary exchange
///   that was sent with the lease's token generation.
///
/// The engine's rules still hold: a lease ends before the token enters its refresh margin and
/// before the next timer, so a request that finds the lease expired goes through `start` and
/// its single-flight refresh; a 401 for a leased request is judged by the generation it was
/// sent with, like any herd member's.
#[derive(Clone)]
pub struct Lease {
    authorization: HeaderValue,
    terms: LeaseTerms,
    origins: Vec<Origin>,
}

impl core::fmt::Debug for Lease {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lease")
            .field("authorization", &"[redacted]")
            .field("generation", &self.terms.generation)
            .field("valid_until", &self.terms.until)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// The `Authorization` value to send (a secret: never log it).
    #[must_use]
    pub fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }

    /// A copy of [`Lease::authorization`] in a buffer of its own, on cache lines of its own,
    /// wiped when its last clone is dropped. Cloning a header value updates a reference count
    /// shared by every clone: a driver that gives each worker thread its own copy keeps the
    /// threads from contending for that count on every request.
    #[must_use]
    pub fn authorization_copy(&self) -> HeaderValue {
        let bytes = Zeroizing::new(self.authorization.as_bytes().to_vec());
        let copy = HeaderValue::from_maybe_shared(Bytes::from_owner(LineOwned(bytes)));
        match copy {
            Ok(mut copy) => {
                copy.set_sensitive(true);
                copy
            }
            // The bytes came from a valid header value.
            Err(_) => self.authorization.clone(),
        }
    }

    /// The token generation requests sent with this lease carry (pass it to
    /// [`Session::adopt`]).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.terms.generation
    }

    /// The lease may be used for requests starting before this time.
    #[must_use]
    pub fn valid_until(&self) -> Timestamp {
        self.terms.until
    }

    /// Whether a request starting at `now` may use the lease.
    #[must_use]
    pub fn is_valid(&self, now: Timestamp) -> bool {
        now < self.terms.until
    }

    /// The terms this lease was issued on.
    #[must_use]
    pub fn terms(&self) -> LeaseTerms {
        self.terms
    }

    /// [`Session::allows`], as of when the lease was issued: the lease's header may be sent to
    /// this origin.
    #[must_use]
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        Origin::any_allows(&self.origins, scheme, host, port)
    }
}

/// The owner of a header copy's bytes: aligned to 128 bytes so that the reference count
/// `Bytes` keeps next to it shares no cache line (nor an adjacent-line prefetch pair) with
/// another copy's.
#[repr(align(128))]
struct LineOwned(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for LineOwned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Session {
    /// The rules that sort responses (they depend only on the configuration).
    #[must_use]
    pub fn response_rules(&self) -> super::ResponseRules {
        self.rules
    }

    /// The terms of the lease [`Session::lease`] would issue at `now`, or `None` when a
    /// request must go through [`Session::start`] (no token, a token inside its refresh
    /// margin, expired or rejected, or a timer due).
    #[must_use]
    pub fn lease_terms(&self, now: Timestamp) -> Option<LeaseTerms> {
        let held = self.tokens.as_ref()?;
        if self.freshness(now) != Freshness::Fresh {
            return None;
        }
        let until = match self.poll_timeout() {
            Some((timer, _)) => held.stale_at.min(timer),
            None => held.stale_at,
        };
        (now < until).then_some(LeaseTerms {
            generation: self.generation,
            until,
            origins: self.origins.len(),
        })
    }

    /// A lease on the current token, valid from `now` until the token enters its refresh
    /// margin or the next timer is due, whichever comes first; `None` when requests must go
    /// through [`Session::start`]. A driver publishes it after every input and stops using it
    /// as soon as it publishes another.
    #[must_use]
    pub fn lease(&self, now: Timestamp) -> Option<Lease> {
        let terms = self.lease_terms(now)?;
        let held = self.tokens.as_ref()?;
        Some(Lease {
            authorization: held.header.clone(),
            terms,
            origins: self.origins.clone(),
        })
    }

    /// Takes over a request that was sent with a lease of token generation `generation` at
    /// `started`, whose response (or send error) needs the engine: report it next with
    /// [`Session::handle_response`], [`Session::handle_foreign_response`] or
    /// [`Session::handle_send_error`] under the returned id. The request was counted by
    /// [`Session::record_leased`], not here.
    pub fn adopt(&mut self, started: Timestamp, meta: RequestMeta, generation: u64) -> ExchangeId {
        self.exchanges.insert(super::Exchange {
            meta,
            state: super::ExState::InFlight {
                generation: generation.min(self.generation),
            },
            started,
            sends: 1,
            auth_retries: 0,
            stale_resends: 0,
            transient_resends: 0,
            login_only: false,
        })
    }

    /// Counts requests sent with a lease (`requests`), and those of them delivered as they were
    /// (`delivered`), into [`Session::metrics`].
    pub fn record_leased(&mut self, requests: u64, delivered: u64) {
        self.metrics.requests += requests;
        self.metrics.delivered += delivered;
    }
}
