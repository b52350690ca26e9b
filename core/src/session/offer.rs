//! Tokens from outside: sets offered by other tabs, processes or a shared store, and the
//! question a driver asks before it sends an auth request while peers may hold newer tokens.
//!
//! # Sharing one identity between tabs, processes or machines
//!
//! Each participant runs its own [`Session`]; they share a store (`localStorage`, a file, Redis)
//! and an exclusive lock around the auth operation, and may broadcast new sets. The rule that
//! decides which set wins lives here, so every driver applies the same one:
//! [`Session::offer_tokens`] adopts a set only if it was issued after the one held (a later
//! login or refresh wins) and can be used. Around an `Action::Authenticate` a driver does:
//!
//! 1. take the shared lock;
//! 2. load the store and [`Session::offer_tokens`] what it holds;
//! 3. if it keeps an epoch marker (the `issued_at` of the newest set any peer obtained), pass
//!    it to [`Session::note_peer_tokens`] when a peer that could answer is alive;
//! 4. ask [`Session::auth_gate`]: `Drop` (the offered set made the operation unnecessary:
//!    release the lock, report nothing), `AskPeer { until }` (a peer holds newer tokens this
//!    session has not seen: ask for them, wait for an answer to offer, or for `until`, then ask
//!    the gate again), or `Send`: perform the request and report the outcome;
//! 5. the new tokens come out as [`Event::TokensChanged`](crate::Event::TokensChanged): store
//!    (and broadcast) them, then release the lock.
//!
//! Sets received outside that sequence (a broadcast) are offered too. `issued_at` is the wall
//! clock of the participant that received the set: across machines, their clocks must agree
//! to within the time between two refreshes.

use super::{AuthState, Session};
use crate::action::AuthId;
use crate::error::ConfigError;
use crate::time::Timestamp;
use crate::tokens::TokenSet;

/// What a driver does with the auth request it is about to perform (see
/// [`Session::auth_gate`]).
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthGate {
    /// Perform it and report the outcome.
    Send,
    /// It is no longer wanted (tokens were adopted or installed, it was aborted or
    /// superseded): drop it and report nothing.
    Drop,
    /// A peer holds tokens newer than this session's: ask the peers for them, offer what
    /// arrives with [`Session::offer_tokens`], and ask again no later than `until` (from then
    /// on the answer is `Send`: peers that do not answer do not hold up the operation).
    AskPeer {
        /// When to stop waiting for the peers.
        until: Timestamp,
    },
}

/// A peer's newest `issued_at`, and when this session first heard of it.
#[derive(Clone, Copy, Debug)]
pub(super) struct PeerNote {
    issued_at: Timestamp,
    noted_at: Timestamp,
}

impl Session {
    /// Tokens offered from outside (another tab's broadcast, a store read under a shared lock):
    /// adopted only if they were issued after the tokens held (or, with none held, after the
    /// last ones held) and can be used: the access token has not expired, or a refresh token
    /// (unexpired, with a dialect that refreshes) can renew it. Returns whether they were
    /// adopted.
    ///
    /// Adopting ends the auth operation in flight or waiting to be retried (its outcome is then
    /// ignored: a driver must not report it), ends a wait for credentials, and resumes the
    /// waiting exchanges with the adopted token; when it is expired, the next refresh uses the
    /// adopted refresh token (with rotation the one held before is retired: refreshing with it
    /// would trip reuse detection). A set that cannot be sent in a header is refused.
    pub fn offer_tokens(&mut self, now: Timestamp, set: TokenSet) -> bool {
        let newer = self.last_issued.is_none_or(|held| set.issued_at > held);
        if !(newer && self.usable(now, &set)) {
            return false;
        }
        self.install(now, set).is_ok()
    }

    /// A peer holds tokens issued at `issued_at` (an epoch marker in a shared store), which
    /// may not have been offered to this session yet. Note it only when a peer that can answer
    /// is alive; [`Session::auth_gate`] then says whether to ask it before authenticating.
    /// Noting an epoch already noted (or an older one) changes nothing.
    pub fn note_peer_tokens(&mut self, now: Timestamp, issued_at: Timestamp) {
        if self.peer.is_none_or(|p| issued_at > p.issued_at) {
            self.peer = Some(PeerNote {
                issued_at,
                noted_at: now,
            });
        }
    }

    /// Whether to perform the auth request `op` now. Ask it holding the shared lock, after
    /// offering the store's tokens (see the [module docs](self)).
    #[must_use]
    pub fn auth_gate(&self, now: Timestamp, op: AuthId) -> AuthGate {
        if self.auth_in_flight().is_none_or(|(id, _)| id != op) {
            return AuthGate::Drop;
        }
        match self.peer {
            Some(p) if self.last_issued.is_none_or(|held| p.issued_at > held) => {
                let until = p.noted_at.saturating_add(self.config.peer_wait);
                if now < until {
                    AuthGate::AskPeer { until }
                } else {
                    AuthGate::Send
                }
            }
            _ => AuthGate::Send,
        }
    }

    /// Installs tokens obtained elsewhere (a persisted store, another tab or process),
    /// whatever the tokens held: an auth operation in flight is dropped (its outcome will be
    /// ignored) and waiting exchanges resume. Tokens that cannot be sent in a header are
    /// refused, and nothing changes. To adopt tokens only when they are newer, use
    /// [`Session::offer_tokens`].
    pub fn set_tokens(&mut self, now: Timestamp, tokens: TokenSet) -> Result<(), ConfigError> {
        self.install(now, tokens)
    }

    /// Whether a set from outside can be used at `now`.
    fn usable(&self, now: Timestamp, set: &TokenSet) -> bool {
        let access = now < set.expires_at;
        let refresh = self.dialect.can_refresh()
            && set.refresh_token.is_some()
            && set.refresh_expires_at.is_none_or(|t| now < t);
        access || refresh
    }

    fn install(&mut self, now: Timestamp, tokens: TokenSet) -> Result<(), ConfigError> {
        let header =
            tokens
                .access_token
                .bearer_header()
                .ok_or(ConfigError::InvalidHeaderValue {
                    field: "access_token",
                })?;
        if tokens
            .refresh_token
            .as_ref()
            .is_some_and(|rt| rt.bearer_header().is_none())
        {
            return Err(ConfigError::InvalidHeaderValue {
                field: "refresh_token",
            });
        }
        self.auth = AuthState::Idle;
        self.force_login = false;
        self.hold(tokens, header);
        self.resume_waiters(now);
        Ok(())
    }
}
