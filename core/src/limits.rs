//! Every bound the engine puts on what servers send it, in one place, each with the reason for
//! its value. `core/README.md` lists them in one table, with who enforces each.

use core::time::Duration;

/// The longest pause the auth endpoint can impose with `Retry-After` after a failed login or
/// refresh (1 hour, the most MSAL's throttling honours). Until it has passed, no login or
/// refresh is sent and a request that needs one fails at once with
/// [`Error::AuthUnavailable`](crate::Error::AuthUnavailable) `{ retry_at: Some(..) }`. A longer
/// `Retry-After` is cut to this: a misconfigured or hostile endpoint must not lock the client
/// out for the day the header parser allows.
pub const MAX_AUTH_RETRY_AFTER: Duration = Duration::from_hours(1);
