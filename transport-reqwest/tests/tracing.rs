//! What the keeper logs through `tracing`, captured from a scripted scenario against the
//! reference server: every decision appears with its reason and token generation, `info` is
//! one line per refresh in steady state, and no token, refresh token, password or client
//! secret appears anywhere in the output (every level, every target).
//!
//! Time is a `ManualClock` moved by hand, and backoffs are zero: nothing here waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenkeeper_reqwest::clock::ManualClock;
use tokenkeeper_reqwest::core::dialect::ClientAuth;
use tokenkeeper_reqwest::core::{Backoff, Secret};
use tokenkeeper_reqwest::{Config, Credentials, Dialect, Event, Keeper};
use tokenkeeper_testserver::{RouteKind, ServerConfig, TestServer};
use tracing::Level;

const USER: &str = "tracer";
const PASSWORD: &str = "pw-3b8f0e-never-logged";
const CLIENT: &str = "tracer-app";
const CLIENT_SECRET: &str = "cs-91d2aa-never-logged";

/// A buffer the subscriber writes to.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

/// A subscriber for this thread writing `level` and above, of every target, to a buffer.
fn capture(level: Level) -> (Buf, tracing::subscriber::DefaultGuard) {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

/// No backoff waits; the rest is the default.
fn config() -> Config {
    let zero = Backoff {
        base: Duration::ZERO,
        cap: Duration::ZERO,
        ..Backoff::default()
    };
    Config {
        auth_backoff: zero,
        resend_backoff: zero,
        ..Config::default()
    }
}

struct Setup {
    server: TestServer,
    clock: ManualClock,
    keeper: Keeper,
    /// Every access and refresh token the keeper held.
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn setup() -> Setup {
    let server = TestServer::start(
        ServerConfig::default()
            .with_user(USER, PASSWORD)
            .with_client(CLIENT, CLIENT_SECRET),
    )
    .await
    .unwrap();
    let clock = ManualClock::starting_now();
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let dialect = Dialect::oauth2_password(
        &format!("{}/oauth/token", server.url()),
        ClientAuth::Basic {
            client_id: CLIENT.to_owned(),
            client_secret: Secret::new(CLIENT_SECRET),
        },
        None,
    )
    .unwrap();
    let keeper = Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .config(config())
        .allow_origin(server.url())
        .clock(clock.clone())
        .seed(7)
        .on_event(move |e| {
            if let Event::TokensChanged(set) = e {
                let mut seen = seen.lock().unwrap();
                seen.push(set.access_token.expose().to_owned());
                if let Some(r) = &set.refresh_token {
                    seen.push(r.expose().to_owned());
                }
            }
        })
        .build()
        .unwrap();
    Setup {
        server,
        clock,
        keeper,
        tokens,
    }
}

async fn get(s: &Setup) -> Result<u16, tokenkeeper_reqwest::Error> {
    let url = format!("{}/api/echo", s.server.url());
    Ok(s.keeper.client().get(url).send().await?.status().as_u16())
}

/// Waits (for the network, never for a timeout) until no login or refresh is under way: a
/// proactive refresh runs on a task of its own while its request goes out with the old token.
async fn settle(s: &Setup) {
    for _ in 0..2000 {
        if !s.keeper.metrics().auth_in_progress {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("an auth operation never ended: {:?}", s.keeper.metrics());
}

/// The lines of `text` that contain every one of `parts`.
fn lines_with<'a>(text: &'a str, parts: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// One test, so that no other test of this file installs a subscriber at the same time
/// (`tracing` caches which call sites are enabled across threads).
#[tokio::test(flavor = "current_thread")]
async fn what_the_keeper_logs() {
    every_decision_is_logged_with_its_reason_and_generation_and_no_secret().await;
    info_is_one_line_per_refresh_in_steady_state().await;
}

async fn every_decision_is_logged_with_its_reason_and_generation_and_no_secret() {
    let (buf, _guard) = capture(Level::TRACE);
    let s = setup().await;
    let control = s.server.control();

    // The first login.
    assert_eq!(get(&s).await.unwrap(), 200);
    // Inside the margin (30-minute tokens, 180 s margin): a proactive refresh.
    s.clock.advance(Duration::from_secs(1700));
    assert_eq!(get(&s).await.unwrap(), 200);
    settle(&s).await;
    // The server revokes everything: the 401 is resent after a renewal, the refresh token
    // is rejected, and the keeper logs in again.
    control.revoke_all();
    assert_eq!(get(&s).await.unwrap(), 200);
    // Expired, and the first refresh attempt answers 503: backoff, then a retry.
    control.fail_next_refreshes(1, 503, None);
    s.clock.advance(Duration::from_secs(1800));
    assert_eq!(get(&s).await.unwrap(), 200);
    // A dropped connection: the GET backs off and is resent.
    control.drop_next_connections(1, RouteKind::Protected);
    assert_eq!(get(&s).await.unwrap(), 200);
    // Logout, then a refused password: the session expired, then the login failed.
    s.keeper.logout();
    s.keeper
        .set_credentials(Credentials::password(USER, "wrong-pw-5e1d-never-logged"));
    assert!(get(&s).await.unwrap_err().is_invalid_credentials());

    let out = buf.take();
    if std::env::var_os("TOKENKEEPER_SHOW_LOG").is_some() {
        eprintln!("{out}");
    }
    let expect = [
        (
            vec![
                "INFO",
                "reason=no token held",
                "kind=\"login\"",
                "tokenkeeper: logged in",
                "generation=1",
            ],
            "the first login",
        ),
        (
            vec![
                "INFO",
                "reason=token inside its refresh margin",
                "tokenkeeper: token refreshed",
                "generation=2",
            ],
            "the proactive refresh",
        ),
        (
            vec![
                "DEBUG",
                "tokenkeeper: resending a refused request",
                "reason=\"the current token was refused; renewing it\"",
                "status=401",
                "generation=2",
            ],
            "the 401 resent after a renewal",
        ),
        (
            vec![
                "DEBUG",
                "reason=token refused by the server (401)",
                "tokenkeeper: refresh started",
            ],
            "the refresh for the refused token",
        ),
        (
            vec![
                "INFO",
                "tokenkeeper_auth{op=4 kind=\"login\" reason=refresh token rejected",
                "tokenkeeper: logged in again",
                "generation=3",
            ],
            "the re-login, in a span of its own",
        ),
        (
            vec![
                "DEBUG",
                "tokenkeeper: refresh attempt failed; backing off",
                "status=503",
                "attempt=1",
            ],
            "the auth backoff",
        ),
        (
            vec![
                "INFO",
                "reason=retry after a failed attempt",
                "attempt=2",
                "tokenkeeper: token refreshed",
                "generation=4",
            ],
            "the retried refresh",
        ),
        (
            vec![
                "DEBUG",
                "tokenkeeper: request backing off before a resend",
                "resend=1",
                "generation=4",
            ],
            "the transient backoff",
        ),
        (vec!["INFO", "tokenkeeper: session expired"], "the logout"),
        (
            vec![
                "WARN",
                "tokenkeeper: login failed",
                "error=login refused with status 400",
            ],
            "the refused password",
        ),
    ];
    for (parts, what) in &expect {
        assert!(
            !lines_with(&out, parts).is_empty(),
            "no line for {what} with {parts:?} in\n{out}"
        );
    }
    let tokens = s.tokens.lock().unwrap().clone();
    assert!(tokens.len() >= 6, "{tokens:?}");
    for secret in tokens.iter().map(String::as_str).chain([
        PASSWORD,
        CLIENT_SECRET,
        "wrong-pw-5e1d-never-logged",
    ]) {
        assert!(!out.contains(secret), "a secret is in the log:\n{out}");
    }
    // Not even a piece of one (a token's signature, say).
    for token in &tokens {
        for part in token.split('.').filter(|p| p.len() >= 16) {
            assert!(!out.contains(part), "part of a token is in the log:\n{out}");
        }
    }
}

async fn info_is_one_line_per_refresh_in_steady_state() {
    let s = setup().await;
    assert_eq!(get(&s).await.unwrap(), 200); // the login, before the capture
    let (buf, _guard) = capture(Level::INFO);
    for _ in 0..4 {
        for _ in 0..10 {
            assert_eq!(get(&s).await.unwrap(), 200);
        }
        s.clock.advance(Duration::from_secs(1700)); // into the margin: the next one refreshes
        assert_eq!(get(&s).await.unwrap(), 200);
        settle(&s).await;
        s.clock.advance(Duration::from_secs(10));
    }
    let out = buf.take();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}\n{:?}", s.keeper.metrics());
    assert!(
        lines
            .iter()
            .all(|l| l.contains("tokenkeeper: token refreshed")
                && l.contains("reason=token inside its refresh margin")),
        "{out}"
    );
    assert_eq!(s.keeper.metrics().refresh_count, 4);
}
