//! The driver's clocks: wall-clock `now` for the engine, and the tokio deadline for a timer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenkeeper_core::Timestamp;

/// Wall-clock milliseconds since the Unix epoch, as the engine wants them.
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_millis(ms)
}

/// The tokio instant at which the wall-clock time `at` is reached (rounded up by a
/// millisecond, so a timer never fires just before its time and spins).
pub(crate) fn deadline(at: Timestamp) -> tokio::time::Instant {
    let wait = at.saturating_duration_since(now()) + Duration::from_millis(1);
    tokio::time::Instant::now() + wait
}
