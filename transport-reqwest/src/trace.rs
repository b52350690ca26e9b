//! The engine's decisions as `tracing` events, and a span around each login or refresh.
//!
//! The engine decides and says why, as data: each `Authenticate` carries its reason and
//! attempt, and the other decisions are [`Event`]s with the token generation. This module
//! turns them into `tracing` output in one place: [`event`] for every engine event (called
//! where events reach the listeners), [`auth_span`] for the task that performs a login or
//! refresh (its success or failure is logged inside the span, so the line names the reason).
//! Nothing here formats a token, a refresh token, a password or a client secret.
//!
//! Levels (`transport-reqwest/README.md` lists them): `info` for a login, a refresh, a
//! session that expired and the circuit breaker (one line per refresh in steady state);
//! `warn` for a login or refresh that failed for good (its waiting requests fail); `debug`
//! for the start of each auth attempt, resends of refused requests, backoffs and aborts;
//! `trace` for token changes (without the tokens).

use tokenkeeper_core::{AuthRequest, Event, Timestamp};

use crate::state::Shared;

/// Seconds since the Unix epoch, for log fields.
fn secs(t: Timestamp) -> f64 {
    t.as_millis() as f64 / 1000.0
}

/// Logs one engine event (see the module docs for the levels).
pub(crate) fn event(shared: &Shared, e: &Event) {
    match e {
        Event::LoggedIn {
            expires_at,
            reauthenticated,
        } => {
            let generation = shared.read(tokenkeeper_core::Session::generation);
            if *reauthenticated {
                tracing::info!(
                    generation,
                    expires_at = secs(*expires_at),
                    "tokenkeeper: logged in again"
                );
            } else {
                tracing::info!(
                    generation,
                    expires_at = secs(*expires_at),
                    "tokenkeeper: logged in"
                );
            }
        }
        Event::Refreshed { expires_at } => {
            let generation = shared.read(tokenkeeper_core::Session::generation);
            tracing::info!(
                generation,
                expires_at = secs(*expires_at),
                "tokenkeeper: token refreshed"
            );
        }
        Event::SessionExpired => {
            let generation = shared.read(tokenkeeper_core::Session::generation);
            tracing::info!(
                generation,
                "tokenkeeper: session expired: no usable token, refresh token or credentials"
            );
        }
        Event::CircuitOpened { until } => {
            let generation = shared.read(tokenkeeper_core::Session::generation);
            tracing::info!(
                generation,
                until = secs(*until),
                "tokenkeeper: circuit breaker opened: logins and refreshes refused until the cool-down ends"
            );
        }
        Event::CircuitHalfOpen { generation } => {
            tracing::info!(
                generation,
                "tokenkeeper: circuit breaker half-open: one probe"
            );
        }
        Event::AuthFailed {
            kind,
            error,
            generation,
        } => {
            tracing::warn!(
                kind = kind.as_str(),
                generation,
                error = %error,
                "tokenkeeper: {} failed; the requests waiting for it fail",
                kind.as_str()
            );
        }
        Event::Resend {
            reason,
            status,
            generation,
        } => {
            tracing::debug!(
                reason = reason.as_str(),
                status,
                generation,
                "tokenkeeper: resending a refused request"
            );
        }
        Event::Backoff {
            status,
            delay,
            resend,
            generation,
        } => {
            tracing::debug!(
                status,
                delay_ms = delay.as_millis() as u64,
                resend,
                generation,
                "tokenkeeper: request backing off before a resend"
            );
        }
        Event::AuthBackoff {
            kind,
            status,
            delay,
            attempt,
            generation,
        } => {
            tracing::debug!(
                kind = kind.as_str(),
                status,
                delay_ms = delay.as_millis() as u64,
                attempt,
                generation,
                "tokenkeeper: {} attempt failed; backing off before the next",
                kind.as_str()
            );
        }
        Event::AuthAborted {
            kind,
            attempt,
            generation,
        } => {
            tracing::debug!(
                kind = kind.as_str(),
                attempt,
                generation,
                "tokenkeeper: {} aborted at its deadline",
                kind.as_str()
            );
        }
        Event::TokensChanged(set) => {
            tracing::trace!(
                refresh_token = set.refresh_token.is_some(),
                expires_at = secs(set.expires_at),
                "tokenkeeper: tokens changed"
            );
        }
        _ => {}
    }
}

/// The span of the task performing `auth` (its reason, attempt and the generation it
/// renews), with a `debug` line for its start. What the task logs, the login's or refresh's
/// success or failure included, is inside it.
pub(crate) fn auth_span(shared: &Shared, auth: &AuthRequest) -> tracing::Span {
    let generation = shared.read(tokenkeeper_core::Session::generation);
    // No parent: a login started from inside another operation's task (a re-login after a
    // rejected refresh) is an operation of its own.
    let span = tracing::info_span!(
        parent: None,
        "tokenkeeper_auth",
        op = auth.id.as_u64(),
        kind = auth.kind.as_str(),
        reason = %auth.reason,
        attempt = auth.attempt,
        generation,
    );
    span.in_scope(|| {
        tracing::debug!(
            url = auth.request.url(),
            "tokenkeeper: {} started",
            auth.kind.as_str()
        );
    });
    span
}
