//! How a keeper is configured beyond the engine: [`Options`], the credentials provider's
//! type, the default key, and the origins the engine is told the token may go to.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::JsValue;

#[cfg(feature = "test-clock")]
use tokenkeeper_core::Timestamp;
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::{ConfigError, Session};

use crate::store::Storage;
use crate::sys;

/// What a credentials provider returns: the credentials, or the JS value it failed with.
pub type CredentialsFuture = Pin<Box<dyn Future<Output = Result<Credentials, JsValue>>>>;

/// Supplies credentials when the keeper needs them (a login form, a secrets store).
pub type CredentialsProvider = Rc<dyn Fn() -> CredentialsFuture>;

/// How a keeper stores tokens and cooperates with other tabs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Where tokens are kept (memory by default).
    pub storage: Storage,
    /// Cross-tab single flight (Web Locks + `BroadcastChannel`) where the page has them.
    /// On by default; without those APIs (Node) single flight is per keeper.
    pub cross_tab: bool,
    /// The storage key, lock name and channel name. Default: derived from the dialect, the
    /// token URL and the username or client id, so two identities never share tokens.
    pub key: Option<String>,
    /// How long to wait for another tab's login or refresh before going ahead without the lock.
    pub lock_timeout: Duration,
    /// More origins (`https://api.example.com`) that may receive the access token; the token
    /// endpoint's origin always may. Each is read with the platform's URL parser, as request
    /// URLs are (`http://127.1:8080` means `http://127.0.0.1:8080`; a path is ignored).
    /// Requests to other origins are plain `fetch` calls.
    pub allowed_origins: Vec<String>,
    /// Seed for the engine's jitter (default: `Math.random()`).
    pub seed: Option<u64>,
    /// Test hook: the engine's clock, instead of `Date.now()`. The `setTimeout` still runs in
    /// real time; a test that moves this clock fires the engine's timers with
    /// [`Keeper::fire_timer`](crate::Keeper::fire_timer).
    #[cfg(feature = "test-clock")]
    pub clock: Option<fn() -> Timestamp>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: Storage::Memory,
            cross_tab: true,
            key: None,
            lock_timeout: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            seed: None,
            #[cfg(feature = "test-clock")]
            clock: None,
        }
    }
}

/// The storage key, lock name and channel name of a keeper.
pub(crate) fn key(options: &Options, dialect: &Dialect, credentials: &Credentials) -> String {
    options
        .key
        .clone()
        .unwrap_or_else(|| default_key(dialect, &identity(dialect, credentials)))
}

/// Tells the engine where the token may go, in the words of the platform's URL parser: the
/// driver checks each request with the origin that parser reads from the URL it sends, so the
/// origins the engine compares with are written by the same parser (`http://127.1:8080` is
/// `http://127.0.0.1:8080`). That is every allowed origin, and the token endpoint's origin as
/// `fetch` reaches it (the engine read its own with `http::Uri`).
pub(crate) fn allow_origins(
    session: &mut Session,
    token_origin: Option<&str>,
    options: &Options,
) -> Result<(), ConfigError> {
    if let Some(normal) = token_origin.and_then(|o| sys::normalised_origin(o).filter(|n| n != o)) {
        session.allow_origin(&normal)?;
    }
    for origin in &options.allowed_origins {
        let normal = sys::normalised_origin(origin).ok_or_else(|| ConfigError::InvalidUrl {
            url: origin.clone(),
        })?;
        session.allow_origin(&normal)?;
    }
    Ok(())
}

/// A keeper's identity for storage, locks and channels: a short hash of what identifies it.
fn default_key(dialect: &Dialect, who: &str) -> String {
    let url = dialect
        .login
        .as_ref()
        .or(dialect.refresh.as_ref())
        .map(|e| e.url.to_string())
        .unwrap_or_default();
    // FNV-1a: stable across builds and tabs; the key is a name, not a secret.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dialect
        .name
        .bytes()
        .chain([0])
        .chain(url.bytes())
        .chain([0])
        .chain(who.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("tokenkeeper:{h:016x}")
}

/// Who the credentials identify, for the default key: the username, else the client id.
fn identity(dialect: &Dialect, credentials: &Credentials) -> String {
    if let Some(u) = &credentials.username {
        return u.clone();
    }
    match dialect.login.as_ref().map(|e| &e.client_auth) {
        Some(ClientAuth::Basic { client_id, .. } | ClientAuth::Body { client_id, .. }) => {
            client_id.clone()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vg(url: &str) -> Dialect {
        Dialect::vitalgraph(url).unwrap()
    }

    #[test]
    fn default_keys_separate_identities_and_are_stable() {
        let a = default_key(&vg("https://vg.example.com"), "alice");
        assert_eq!(
            a,
            default_key(&vg("https://vg.example.com/"), "alice"),
            "same identity, same key"
        );
        assert_ne!(a, default_key(&vg("https://vg.example.com"), "bob"));
        assert_ne!(a, default_key(&vg("https://other.example.com"), "alice"));
        assert!(a.starts_with("tokenkeeper:") && a.len() == "tokenkeeper:".len() + 16);
        assert!(
            !a.contains("alice"),
            "the key does not spell out the username"
        );
    }

    #[test]
    fn identity_is_the_username_else_the_client_id() {
        let d = Dialect::oauth2_client_credentials(
            "https://auth.example.com/token",
            ClientAuth::Body {
                client_id: "app".into(),
                client_secret: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(identity(&d, &Credentials::none()), "app");
        assert_eq!(identity(&d, &Credentials::password("u", "p")), "u");
    }
}
