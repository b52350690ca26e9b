//! What the machine asks its skin to do: [`Intent`]s, taken one at a time with
//! [`Machine::poll`](super::Machine::poll), each carried out by the skin's I/O.

use http::HeaderValue;
use tokenkeeper_core::{AuthRequest, Error, Event, Timestamp};
use zeroize::Zeroizing;

use crate::crosstab::Message;

/// The handle of one exchange (a caller's `fetch` or `login`), as the machine hands it out.
pub type Handle = u32;

/// One thing for the skin to do. They come in the order they must be done.
#[derive(Debug)]
#[non_exhaustive]
pub enum Intent {
    /// Send exchange `x`'s request with this `Authorization` value, then report the outcome
    /// ([`Machine::response`](super::Machine::response), `foreign`, `send_error`).
    Send {
        /// The exchange.
        x: Handle,
        /// The header value (`Bearer …`).
        authorization: HeaderValue,
    },
    /// Exchange `x`'s attempt received no response headers within the per-attempt timeout:
    /// abort that request and report nothing more for it (the machine has already counted it
    /// as a transport failure; a `Send` for the next attempt may follow).
    Cut {
        /// The exchange.
        x: Handle,
    },
    /// Hand exchange `x`'s last response to its caller. The exchange has ended.
    Deliver {
        /// The exchange.
        x: Handle,
    },
    /// Fail exchange `x`'s caller with `error` (and the last send error, if any). Ended.
    Fail {
        /// The exchange.
        x: Handle,
        /// Why.
        error: Error,
    },
    /// Fail exchange `x`'s caller with what the credentials provider threw. Ended.
    Reject {
        /// The exchange.
        x: Handle,
    },
    /// Take the cross-tab lock (exclusive, named after the key), then call
    /// [`Machine::locked`](super::Machine::locked): at once with what the store holds and
    /// the epoch marker, or when the lock cannot be had within the lock timeout (going on
    /// without it).
    Lock,
    /// Release the cross-tab lock (if it is held).
    Unlock,
    /// Find out whether a keeper of this key lives in another tab, and tell
    /// [`Machine::peers`](super::Machine::peers).
    Peers,
    /// Perform this login or refresh request (no redirects, no cache), feed its answer's body
    /// to [`Machine::auth_chunk`](super::Machine::auth_chunk) as it arrives, then report
    /// [`Machine::auth_response`](super::Machine::auth_response) or
    /// [`Machine::auth_error`](super::Machine::auth_error). Its headers and body hold secrets
    /// (a password, a client secret, a refresh token): wipe them once sent.
    Authenticate(AuthRequest),
    /// Abort the auth request `op` (its deadline passed, or it is no longer wanted) and report
    /// nothing more for it.
    AbortAuth {
        /// The operation.
        op: u64,
    },
    /// Ask the credentials provider, then [`Machine::answer`](super::Machine::answer).
    Ask,
    /// Store this token set (the JSON of [`TokenSet`](tokenkeeper_core::TokenSet)) under
    /// the key.
    Save(Zeroizing<String>),
    /// Remove the stored set.
    Clear,
    /// Write (or, with `None`, remove) the epoch marker `<key>:epoch` in `localStorage`:
    /// the `issued_at` of the newest set, never the tokens.
    Mark(Option<Timestamp>),
    /// Post this message to the other tabs ([`Message::encode`]).
    Post(Message),
    /// Pass this event on to the user's handlers (the state it describes is in place).
    Event(Event),
    /// Call [`Machine::fire`](super::Machine::fire) at `at` (replacing the timer armed
    /// before; the same `at` again only changes `keep_alive`). `keep_alive`: a caller waits
    /// on it (a host that can, Node, may otherwise exit before it fires).
    Timer {
        /// When.
        at: Timestamp,
        /// Whether the host should stay alive for it.
        keep_alive: bool,
    },
}
