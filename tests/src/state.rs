//! State shared by every request: live settings, the clock, counters, faults, tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use crate::config::{RouteKind, ServerConfig};
use crate::counters::{AtomicCounters, Counter};
use crate::faults::{Faults, Random};
use crate::gauges::LiveGauges;
use crate::recorder::Recorder;
use crate::tokens::{Policy, Tokens};

/// Settings that tests may change while the server runs.
#[derive(Debug)]
pub(crate) struct Settings {
    access_ttl_ms: AtomicU64,
    refresh_ttl_ms: AtomicU64,
    rotation: AtomicBool,
    reuse_detection: AtomicBool,
    revoke_access_on_rotation: AtomicBool,
    bare_403_refusals: AtomicBool,
}

impl Settings {
    fn from_config(c: &ServerConfig) -> Self {
        Settings {
            access_ttl_ms: AtomicU64::new(c.access_ttl.as_millis() as u64),
            refresh_ttl_ms: AtomicU64::new(c.refresh_ttl.as_millis() as u64),
            rotation: AtomicBool::new(c.rotation),
            reuse_detection: AtomicBool::new(c.reuse_detection),
            revoke_access_on_rotation: AtomicBool::new(c.revoke_access_on_rotation),
            bare_403_refusals: AtomicBool::new(c.bare_403_refusals),
        }
    }

    fn load_from(&self, other: &Settings) {
        let r = Ordering::SeqCst;
        self.access_ttl_ms.store(other.access_ttl_ms.load(r), r);
        self.refresh_ttl_ms.store(other.refresh_ttl_ms.load(r), r);
        self.rotation.store(other.rotation.load(r), r);
        self.reuse_detection.store(other.reuse_detection.load(r), r);
        self.revoke_access_on_rotation
            .store(other.revoke_access_on_rotation.load(r), r);
        self.bare_403_refusals
            .store(other.bare_403_refusals.load(r), r);
    }

    pub(crate) fn set_access_ttl(&self, d: Duration) {
        self.access_ttl_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub(crate) fn set_refresh_ttl(&self, d: Duration) {
        self.refresh_ttl_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub(crate) fn set_rotation(&self, on: bool) {
        self.rotation.store(on, Ordering::SeqCst);
    }

    pub(crate) fn set_reuse_detection(&self, on: bool) {
        self.reuse_detection.store(on, Ordering::SeqCst);
    }

    pub(crate) fn set_revoke_access_on_rotation(&self, on: bool) {
        self.revoke_access_on_rotation.store(on, Ordering::SeqCst);
    }

    pub(crate) fn set_bare_403_refusals(&self, on: bool) {
        self.bare_403_refusals.store(on, Ordering::SeqCst);
    }

    /// Whether protected routes refuse with a bare 403 right now.
    pub(crate) fn bare_403_refusals(&self) -> bool {
        self.bare_403_refusals.load(Ordering::SeqCst)
    }

    /// The policy in force right now.
    pub(crate) fn policy(&self) -> Policy {
        let r = Ordering::SeqCst;
        Policy {
            access_ttl: Duration::from_millis(self.access_ttl_ms.load(r)),
            refresh_ttl: Duration::from_millis(self.refresh_ttl_ms.load(r)),
            rotation: self.rotation.load(r),
            reuse_detection: self.reuse_detection.load(r),
            revoke_access_on_rotation: self.revoke_access_on_rotation.load(r),
            access_exp_offset_secs: 0,
        }
    }
}

/// Everything a request handler can see.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    initial: Settings,
    pub(crate) settings: Settings,
    clock_offset_ms: AtomicI64,
    /// The wall-clock time the server's clock stopped at, or -1 while it follows the wall.
    frozen_ms: AtomicI64,
    pub(crate) counters: AtomicCounters,
    pub(crate) faults: Faults,
    pub(crate) tokens: Tokens,
    pub(crate) recorder: Recorder,
    pub(crate) gauges: LiveGauges,
}

/// The axum state: one `Arc` per server.
pub(crate) type AppState = Arc<Shared>;

impl Shared {
    /// Fresh state for `config`.
    pub(crate) fn new(config: ServerConfig) -> AppState {
        Arc::new(Shared {
            initial: Settings::from_config(&config),
            settings: Settings::from_config(&config),
            clock_offset_ms: AtomicI64::new(0),
            frozen_ms: AtomicI64::new(-1),
            counters: AtomicCounters::default(),
            faults: Faults::default(),
            tokens: Tokens::new(config.secret.clone()),
            recorder: Recorder::default(),
            gauges: LiveGauges::default(),
            config,
        })
    }

    /// The server's notion of now, in milliseconds since the Unix epoch: the wall clock (or
    /// the time it was frozen at, see [`Shared::freeze_clock`]) shifted by
    /// [`Shared::advance_clock`].
    pub(crate) fn now_ms(&self) -> u64 {
        let frozen = self.frozen_ms.load(Ordering::SeqCst);
        let base = if frozen >= 0 { frozen } else { wall_ms() };
        base.saturating_add(self.clock_offset_ms.load(Ordering::SeqCst))
            .max(0) as u64
    }

    /// Moves the server's clock forward by `d` (tokens expire without real waiting).
    pub(crate) fn advance_clock(&self, d: Duration) {
        self.clock_offset_ms
            .fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }

    /// Stops the server's clock where it is: from now on it moves only with
    /// [`Shared::advance_clock`], so a test can keep a client's manual clock in step with it.
    /// Returns the time it stopped at (ms since the Unix epoch).
    pub(crate) fn freeze_clock(&self) -> u64 {
        let now = self.now_ms();
        self.clock_offset_ms.store(0, Ordering::SeqCst);
        self.frozen_ms.store(now as i64, Ordering::SeqCst);
        now
    }

    /// Restores the settings and the clock to what the server started with.
    pub(crate) fn reset_settings(&self) {
        self.settings.load_from(&self.initial);
        self.clock_offset_ms.store(0, Ordering::SeqCst);
        self.frozen_ms.store(-1, Ordering::SeqCst);
    }

    /// Whether `username`/`password` is a known resource owner.
    pub(crate) fn check_user(&self, username: &str, password: &str) -> bool {
        self.config
            .users
            .iter()
            .any(|(u, p)| u == username && p == password)
    }

    /// The configured secret of `client_id`, if the client exists.
    pub(crate) fn client_secret(&self, client_id: &str) -> Option<&str> {
        self.config
            .clients
            .iter()
            .find(|(c, _)| c == client_id)
            .map(|(_, s)| s.as_str())
    }

    /// Applies the latency and dropped-connection faults (counted, random ones too) for a
    /// request of `kind`. When the
    /// connection is to be dropped this never returns: the connection task closes the
    /// socket and cancels the request.
    pub(crate) async fn gate(&self, kind: RouteKind, conn: &ConnHandle) {
        let delay = self.faults.latency(kind);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let drop = self.faults.take_drop(kind)
            || (kind == RouteKind::Protected && self.faults.roll(Random::ProtectedDrop).is_some());
        if drop {
            self.counters.bump(Counter::DroppedConnections);
            conn.kill();
            std::future::pending::<()>().await;
        }
    }
}

/// A handle on the connection a request arrived on, put in the request's extensions by the
/// accept loop so a handler can have the connection closed (or reset) without an answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnHandle(Arc<ConnInner>);

#[derive(Debug, Default)]
struct ConnInner {
    killed: Notify,
    reset: AtomicBool,
    raw: std::sync::Mutex<Option<axum::body::Bytes>>,
}

impl ConnHandle {
    /// Asks the connection task to close the socket now (a FIN).
    pub(crate) fn kill(&self) {
        self.0.killed.notify_one();
    }

    /// Asks the connection task to reset the connection now (an RST).
    pub(crate) fn reset(&self) {
        self.0.reset.store(true, Ordering::SeqCst);
        self.0.killed.notify_one();
    }

    /// Asks the connection task to write `bytes` on the socket as they are, then close it.
    pub(crate) fn write_raw(&self, bytes: axum::body::Bytes) {
        *self
            .0
            .raw
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bytes);
        self.0.killed.notify_one();
    }

    /// The bytes [`ConnHandle::write_raw`] asked to write, if any.
    pub(crate) fn take_raw(&self) -> Option<axum::body::Bytes> {
        self.0
            .raw
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Whether [`ConnHandle::reset`] was asked for.
    pub(crate) fn wants_reset(&self) -> bool {
        self.0.reset.load(Ordering::SeqCst)
    }

    /// Resolves once [`ConnHandle::kill`], [`ConnHandle::reset`] or
    /// [`ConnHandle::write_raw`] has been called.
    pub(crate) async fn killed(&self) {
        self.0.killed.notified().await;
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}
