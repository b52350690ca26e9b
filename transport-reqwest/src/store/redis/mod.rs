//! [`RedisStore`]: tokens in Redis for a fleet of processes, a lock with an expiry and an owner
//! token, and new sets published so the others adopt them without a refresh of their own.
//!
//! Keys, for `key = "tokenkeeper"`: the set at `tokenkeeper:tokens` (JSON, absolute times),
//! the lock at `tokenkeeper:lock` (`SET NX PX` with a random owner token, renewed while held,
//! released by a compare-and-delete script), and new sets published on the channel
//! `tokenkeeper:tokens`. A save never replaces a newer set (by `issued_at`, in one script).

use std::fmt;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{AbortHandle, Abortable, BoxFuture};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, RedisError, Script};
use tokenkeeper_core::TokenSet;
use zeroize::Zeroizing;

use super::codec;
use super::{HeldLock, StoreError, StoreLock, TokenStore, TokenStream};

mod watch;

/// Settings of a [`RedisStore`]. Start from [`RedisOptions::new`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// `redis://[:password@]host[:port][/db]` or `unix:///path/to/redis.sock`. Tokens cross
    /// this connection in clear: a `redis://` URL to a host other than loopback is refused
    /// unless [`allow_insecure`](Self::allow_insecure) is set.
    pub url: String,
    /// The prefix of the keys and channel (default `tokenkeeper`): one per identity.
    pub key: String,
    /// The lock's expiry (default 5 s): a crashed holder delays the others at most this long.
    /// A live holder renews it every third of it until it releases it.
    pub lock_ttl: Duration,
    /// The bound on connecting and on each command (default 1 s): past it the keeper carries
    /// on alone.
    pub timeout: Duration,
    /// Accept a `redis://` URL to a host other than loopback (default off).
    pub allow_insecure: bool,
}

impl RedisOptions {
    /// The defaults, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            key: "tokenkeeper".to_owned(),
            lock_ttl: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            allow_insecure: false,
        }
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &"[redacted]")
            .field("key", &self.key)
            .field("lock_ttl", &self.lock_ttl)
            .field("timeout", &self.timeout)
            .field("allow_insecure", &self.allow_insecure)
            .finish()
    }
}

/// Tokens in Redis, shared by processes on any number of machines (see the module docs of
/// [`crate::store`]). Cheap to clone. When Redis cannot be reached, every operation fails
/// within [`RedisOptions::timeout`] (at once while a reconnection is pending) and the keeper
/// carries on alone; it reconnects by itself.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// `host:port` (or the socket path), for messages: never the password.
    label: String,
    tokens_key: String,
    lock_key: String,
    lock_ttl: Duration,
    timeout: Duration,
    conn: tokio::sync::Mutex<Conn>,
}

#[derive(Default)]
struct Conn {
    conn: Option<MultiplexedConnection>,
    /// After a failed connection, no new attempt before this.
    retry_at: Option<Instant>,
}

/// How long after a failed connection the next attempt waits.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.label)
            .field("key", &self.inner.tokens_key)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store with `options`. Nothing is sent yet; an unreachable server is not an error
    /// here (the keeper carries on alone until it answers).
    pub fn new(options: RedisOptions) -> Result<Self, StoreError> {
        let RedisOptions {
            url,
            key,
            lock_ttl,
            timeout,
            allow_insecure,
        } = options;
        let client = Client::open(url.as_str()).map_err(|_| StoreError::Config {
            field: "url",
            reason: "not a redis://, rediss:// or unix:// URL this build can use".to_owned(),
        })?;
        let label = match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) => {
                let loopback = host == "localhost"
                    || host
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback && !allow_insecure {
                    return Err(StoreError::Config {
                        field: "url",
                        reason: format!(
                            "redis://{host}:{port} would carry tokens in clear to another machine; use a loopback or unix:// address, or set allow_insecure"
                        ),
                    });
                }
                format!("{host}:{port}")
            }
            ConnectionAddr::Unix(path) => path.display().to_string(),
            other => format!("{other}"),
        };
        if lock_ttl < Duration::from_millis(100) || timeout.is_zero() {
            return Err(StoreError::Config {
                field: "lock_ttl",
                reason: "the lock's expiry must be at least 100 ms and the timeout above zero"
                    .to_owned(),
            });
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                label,
                tokens_key: format!("{key}:tokens"),
                lock_key: format!("{key}:lock"),
                lock_ttl,
                timeout,
                conn: tokio::sync::Mutex::new(Conn::default()),
            }),
        })
    }
}

/// Why a Redis operation failed, without the server's address or credentials.
fn reason(e: &RedisError) -> String {
    if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() {
        "connection lost".to_owned()
    } else if e.is_io_error() {
        "i/o error".to_owned()
    } else if let Some(code) = e.code() {
        format!("server error {code}")
    } else {
        e.category().to_owned()
    }
}

fn unavailable(op: &'static str, reason: String) -> StoreError {
    StoreError::Unavailable {
        store: "redis",
        op,
        reason,
    }
}

impl Inner {
    /// The shared connection, connecting if there is none (at most once per
    /// [`RECONNECT_PAUSE`] after a failure).
    async fn connection(&self, op: &'static str) -> Result<MultiplexedConnection, StoreError> {
        let mut c = self.conn.lock().await;
        if let Some(conn) = &c.conn {
            return Ok(conn.clone());
        }
        if c.retry_at.is_some_and(|t| Instant::now() < t) {
            return Err(unavailable(op, "reconnecting later".to_owned()));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connect = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(conn)) => {
                c.retry_at = None;
                c.conn = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => {
                c.retry_at = Some(Instant::now() + RECONNECT_PAUSE);
                Err(unavailable(op, reason(&e)))
            }
            Err(_) => {
                c.retry_at = Some(Instant::now() + RECONNECT_PAUSE);
                Err(unavailable(op, "no answer in time".to_owned()))
            }
        }
    }

    /// Runs `cmd` on the shared connection; a failure of the connection drops it, so the
    /// next operation reconnects.
    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: impl AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection(op).await?;
        match tokio::time::timeout(self.timeout, cmd(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.conn.lock().await.conn = None;
                }
                Err(unavailable(op, reason(&e)))
            }
            Err(_) => {
                self.conn.lock().await.conn = None;
                Err(unavailable(op, "no answer in time".to_owned()))
            }
        }
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.lock_ttl.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Stores ARGV[1] at KEYS[1] and publishes it on KEYS[2], unless the set stored was issued
/// after ARGV[2] (milliseconds).
const SAVE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, held = pcall(cjson.decode, cur)
  if ok and type(held) == 'table' and type(held.tokens) == 'table' then
    local at = tonumber(held.tokens.issued_at)
    if at and at > tonumber(ARGV[2]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
";

/// Deletes the lock KEYS[1] if its owner is still ARGV[1].
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Extends the lock KEYS[1] to ARGV[2] ms if its owner is still ARGV[1].
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// A random owner token, prefixed with the process id (which tells who holds the lock).
fn owner_token() -> String {
    let s = RandomState::new();
    let a = s.hash_one(Instant::now());
    let b = RandomState::new().hash_one(std::process::id());
    format!("{}:{a:016x}{b:016x}", std::process::id())
}

/// A held Redis lock: renewed by a task until released.
struct Held {
    inner: Arc<Inner>,
    owner: String,
    renewal: AbortHandle,
}

impl HeldLock for Held {
    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        self.renewal.abort();
        Box::pin(async move {
            let Held { inner, owner, .. } = *self;
            let key = inner.lock_key.clone();
            let r = inner
                .run("release the lock", async |c| {
                    Script::new(RELEASE)
                        .key(&key)
                        .arg(&owner)
                        .invoke_async::<i64>(c)
                        .await
                })
                .await;
            if let Err(e) = r {
                // It expires by itself.
                tracing::debug!(error = %e, "tokenkeeper: redis lock not released");
            }
        })
    }
}

/// Renews the lock every third of its expiry while it is ours.
async fn renew(inner: Arc<Inner>, owner: String) {
    let every = inner.lock_ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        let (key, ttl) = (inner.lock_key.clone(), inner.ttl_ms());
        let r = inner
            .run("renew the lock", async |c| {
                Script::new(RENEW)
                    .key(&key)
                    .arg(&owner)
                    .arg(ttl)
                    .invoke_async::<i64>(c)
                    .await
            })
            .await;
        match r {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(
                    "tokenkeeper: the redis lock expired while held (this process was paused longer than its expiry); another process may refresh too"
                );
                return;
            }
            Err(e) => tracing::debug!(error = %e, "tokenkeeper: redis lock not renewed"),
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for RedisStore {
    async fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        let key = self.inner.tokens_key.clone();
        let bytes: Option<Vec<u8>> = self
            .inner
            .run("load", async |c| {
                redis::cmd("GET").arg(&key).query_async(c).await
            })
            .await?;
        match bytes.map(Zeroizing::new) {
            Some(b) => codec::decode(&b).map(Some),
            None => Ok(None),
        }
    }

    async fn save(&self, tokens: Option<&TokenSet>) -> Result<(), StoreError> {
        let key = self.inner.tokens_key.clone();
        match tokens {
            Some(t) => {
                let json = codec::encode(t);
                let issued = t.issued_at.as_millis();
                self.inner
                    .run("save", async |c| {
                        Script::new(SAVE)
                            .key(&key)
                            .key(&key)
                            .arg(&json[..])
                            .arg(issued)
                            .invoke_async::<i64>(c)
                            .await
                    })
                    .await
                    .map(drop)
            }
            None => self
                .inner
                .run("clear", async |c| {
                    redis::cmd("DEL").arg(&key).query_async::<i64>(c).await
                })
                .await
                .map(drop),
        }
    }

    async fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        let owner = owner_token();
        let (key, ttl) = (self.inner.lock_key.clone(), self.inner.ttl_ms());
        let set: Option<String> = self
            .inner
            .run("take the lock", async |c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(c)
                    .await
            })
            .await?;
        if set.is_none() {
            return Ok(None);
        }
        let (renewal, registration) = AbortHandle::new_pair();
        tokio::spawn(Abortable::new(
            renew(Arc::clone(&self.inner), owner.clone()),
            registration,
        ));
        Ok(Some(StoreLock::new(Held {
            inner: Arc::clone(&self.inner),
            owner,
            renewal,
        })))
    }

    fn watch(&self) -> Option<TokenStream> {
        Some(watch::watch(Arc::clone(&self.inner)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_not_sent_in_clear_to_another_machine_unless_allowed() {
        let e =
            RedisStore::new(RedisOptions::new("redis://:pw-SECRET@10.1.2.3:6379/")).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(
            matches!(e, StoreError::Config { field: "url", .. }),
            "{text}"
        );
        assert!(!text.contains("SECRET"), "{text}");
        let mut o = RedisOptions::new("redis://:pw-SECRET@10.1.2.3:6379/");
        o.allow_insecure = true;
        let store = RedisStore::new(o.clone()).unwrap();
        for text in [format!("{store:?}"), format!("{o:?}")] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        for url in [
            "redis://127.0.0.1:1/",
            "redis://localhost/",
            "redis://[::1]:6379/",
            "unix:///run/redis.sock",
        ] {
            assert!(RedisStore::new(RedisOptions::new(url)).is_ok(), "{url}");
        }
        let e = RedisStore::new(RedisOptions::new("http://pw-SECRET@x/")).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_and_is_not_retried_at_once() {
        // A loopback port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            RedisStore::new(RedisOptions::new(format!("redis://127.0.0.1:{port}/"))).unwrap();
        let e = store.load().await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
        assert!(
            !e.to_string().contains(&port.to_string()),
            "no address in messages: {e}"
        );
        let e = store.try_lock().await.unwrap_err();
        assert!(e.to_string().contains("reconnecting later"), "{e}");
    }
}
